//go:build !unix

package app

import (
	"fmt"
	"os"
	"path/filepath"
)

// dirLock uses an exclusively created file where flock is unavailable
// (Windows): a stale lock from a crashed process must be removed by hand,
// which the error message says.
type dirLock struct{ path string }

var errLocked = fmt.Errorf("the data directory is in use by another yiwang process (a running server?)")

func lockDataDir(dir string) (*dirLock, error) {
	p := filepath.Join(dir, "yiwang.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if os.IsExist(err) {
			return nil, fmt.Errorf("%s: %w (if no yiwang is running, delete %s)", dir, errLocked, p)
		}
		return nil, err
	}
	fmt.Fprintf(f, "%d\n", os.Getpid())
	f.Close()
	return &dirLock{path: p}, nil
}

func (l *dirLock) release() {
	if l != nil && l.path != "" {
		os.Remove(l.path)
		l.path = ""
	}
}
