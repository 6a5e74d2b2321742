//go:build !unix && !windows

package ops

import "errors"

func statDisk(string) (uint64, uint64, error) {
	return 0, 0, errors.New("disk space is not available on this platform")
}
