//go:build !linux && !windows

package service

func newManager(Config) (Manager, error) {
	return nil, ErrUnsupported
}
