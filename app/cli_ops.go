package app

import (
	"errors"
	"fmt"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// ExitDowngrade is the exit status of `yiwang serve` on a data directory
// written by a newer yiwang. The systemd unit does not restart on it
// (RestartPreventExitStatus): restarting cannot help.
const ExitDowngrade = 3

// exitCode maps errors that deserve their own exit status (0: the default).
func exitCode(err error) int {
	var de *store.DowngradeError
	if errors.As(err, &de) {
		return ExitDowngrade
	}
	return 0
}

// backupVerify is `yiwang backup verify FILE...`: header, size, SHA-256,
// SQLite integrity_check and the store index of each file. Any bad file
// makes the command fail.
func (c *cli) backupVerify(args []string) error {
	fs := c.flags("backup verify")
	var files []string
	// Files may come before or after flags.
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		files, args = append(files, args[0]), args[1:]
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	files = append(files, fs.Args()...)
	if len(files) == 0 {
		return usageError("backup verify: usage: yiwang backup verify FILE...")
	}
	bad := 0
	for _, f := range files {
		info, err := store.VerifyBackup(f)
		if err != nil {
			bad++
			fmt.Fprintf(c.stdout, "BAD  %s: %v\n", f, err)
			continue
		}
		ver := info.Version
		if ver == "" {
			ver = "unknown"
		}
		fmt.Fprintf(c.stdout, "OK   %s: store index %d from node %s, taken %s (China time), written by yiwang %s, %d bytes of database, sha256 %s\n",
			f, info.Index, info.NodeID, info.Time.In(httpapi.ChinaTime).Format("2006-01-02 15:04:05"), ver, info.Size, info.SHA256)
	}
	if bad > 0 {
		return fmt.Errorf("%d of %d backup file(s) failed verification: do not restore from them", bad, len(files))
	}
	return nil
}
