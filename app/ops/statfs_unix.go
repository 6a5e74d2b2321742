//go:build unix

package ops

import "golang.org/x/sys/unix"

// statDisk returns the size of the file system holding path and the bytes
// available to an unprivileged process.
func statDisk(path string) (total, free uint64, err error) {
	var s unix.Statfs_t
	if err := unix.Statfs(path, &s); err != nil {
		return 0, 0, err
	}
	bs := uint64(s.Bsize) //nolint:unconvert // int64 on linux, uint32 elsewhere
	return uint64(s.Blocks) * bs, uint64(s.Bavail) * bs, nil
}
