package service

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Run runs fn until it returns, cancelling fn's context when the process is
// asked to stop: by the Windows service control manager when the process was
// started as a Windows service (see IsService), otherwise by SIGINT or SIGTERM
// (which is how systemd stops a unit). Run returns fn's error. name is the
// service name registered with the control manager.
func Run(name string, fn func(ctx context.Context) error) error {
	if IsService() {
		return runService(name, fn)
	}
	return runInteractive(fn)
}

func runInteractive(fn func(ctx context.Context) error) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return fn(ctx)
}
