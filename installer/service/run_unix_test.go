//go:build !windows

package service

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestRunStopsOnSIGTERM(t *testing.T) {
	errStopped := errors.New("stopped")
	done := make(chan error, 1)
	go func() {
		done <- Run("yiwang-test", func(ctx context.Context) error {
			if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return errStopped
			case <-time.After(10 * time.Second):
				return errors.New("context not cancelled by SIGTERM")
			}
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, errStopped) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return")
	}
}
