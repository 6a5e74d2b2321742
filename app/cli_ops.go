package app

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"

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

func init() {
	registerCommand("cluster", `  yiwang cluster status [--server URL --token T | --data DIR]
                                           members, leader, versions and applied index of the cluster
  yiwang cluster remove NODE_ID [--server URL --token T | --data DIR]
                                           remove a member (decommissioned or dead) from the cluster
`, (*cli).cluster)
}

// cluster is `yiwang cluster status|remove`, through a running server.
func (c *cli) cluster(args []string) error {
	if len(args) == 0 || (args[0] != "status" && args[0] != "remove") {
		return usageError("cluster: expected 'cluster status' or 'cluster remove NODE_ID'")
	}
	verb, args := args[0], args[1:]
	var node string
	if verb == "remove" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		node, args = args[0], args[1:]
	}
	fs := c.flags("cluster " + verb)
	rf := c.remoteFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if node == "" && fs.NArg() == 1 {
		node = fs.Arg(0)
	}
	if verb == "remove" && node == "" {
		return usageError("cluster remove: usage: yiwang cluster remove NODE_ID")
	}
	call, err := rf.call(c)
	if err != nil {
		return err
	}
	var st store.Status
	if err := call("GET", "/api/v1/admin/cluster", nil, &st); err != nil {
		return err
	}
	if verb == "remove" {
		var ids []string
		for _, n := range st.Nodes {
			ids = append(ids, n.ID)
		}
		if !slices.Contains(ids, node) {
			return fmt.Errorf("%s is not a member of the cluster (members: %s)", node, strings.Join(ids, ", "))
		}
		if err := call("DELETE", "/api/v1/admin/cluster/nodes/"+url.PathEscape(node), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "node %s removed from the cluster; stop its yiwang and keep or wipe its data dir (it cannot rejoin with it)\n", node)
		return nil
	}
	fmt.Fprintf(c.stdout, "this node %s: %s, term %d, applied %d, commit %d, lag %d\n", st.NodeID, st.State, st.Term, st.AppliedIndex, st.CommitIndex, st.Lag)
	if st.Halted != "" {
		fmt.Fprintf(c.stdout, "HALTED: %s\n", st.Halted)
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tROLE\tRAFT\tHTTP\tVERSION\tSUFFRAGE")
	for _, n := range st.Nodes {
		role := "follower"
		if n.ID == st.Leader {
			role = "leader"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.ID, role, n.RaftAddr, n.HTTPAddr, n.Version, n.Suffrage)
	}
	return tw.Flush()
}
