//go:build windows

package ops

import "golang.org/x/sys/windows"

// statDisk returns the size of the volume holding path and the bytes
// available to this process.
func statDisk(path string) (total, free uint64, err error) {
	p, err := windows.UTF16PtrFromString(path)
	if err != nil {
		return 0, 0, err
	}
	var avail, tot, totFree uint64
	if err := windows.GetDiskFreeSpaceEx(p, &avail, &tot, &totFree); err != nil {
		return 0, 0, err
	}
	return tot, avail, nil
}
