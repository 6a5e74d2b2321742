//go:build !windows

package service

import "context"

// IsService reports whether the process was started by the Windows service
// control manager. It is always false outside Windows.
func IsService() bool { return false }

func runService(_ string, fn func(ctx context.Context) error) error {
	return runInteractive(fn)
}
