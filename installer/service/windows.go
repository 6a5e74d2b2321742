//go:build windows

package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/mgr"
)

// Windows is the Manager for the Windows service control manager.
type Windows struct {
	cfg Config
}

var _ Manager = (*Windows)(nil)

func newManager(cfg Config) (Manager, error) {
	c, err := cfg.withDefaults("windows")
	if err != nil {
		return nil, err
	}
	return &Windows{cfg: c}, nil
}

func (w *Windows) open() (*mgr.Mgr, *mgr.Service, error) {
	m, err := mgr.Connect()
	if err != nil {
		return nil, nil, fmt.Errorf("service: connect to the service manager (run as administrator): %w", err)
	}
	s, err := m.OpenService(w.cfg.Name)
	if err != nil {
		m.Disconnect()
		if errors.Is(err, windows.ERROR_SERVICE_DOES_NOT_EXIST) {
			return nil, nil, ErrNotInstalled
		}
		return nil, nil, fmt.Errorf("service: open %s: %w", w.cfg.Name, err)
	}
	return m, s, nil
}

// Install creates an automatic-start service that restarts on failure, or
// updates the existing one's command line.
func (w *Windows) Install() error {
	if err := os.MkdirAll(w.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("service: data directory: %w", err)
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("service: connect to the service manager (run as administrator): %w", err)
	}
	defer m.Disconnect()
	conf := windowsConfig(w.cfg)
	s, err := m.OpenService(w.cfg.Name)
	if err == nil {
		old, err := s.Config()
		if err == nil {
			conf.BinaryPathName = windowsCommandLine(w.cfg.Executable, w.cfg.Args)
			conf.ServiceType = old.ServiceType
			err = s.UpdateConfig(conf)
		}
		if err != nil {
			s.Close()
			return fmt.Errorf("service: update %s: %w", w.cfg.Name, err)
		}
	} else {
		s, err = m.CreateService(w.cfg.Name, w.cfg.Executable, conf, w.cfg.Args...)
		if err != nil {
			return fmt.Errorf("service: create %s: %w", w.cfg.Name, err)
		}
	}
	defer s.Close()
	if err := s.SetRecoveryActions(windowsRecovery(), 24*60*60); err != nil {
		return fmt.Errorf("service: recovery actions: %w", err)
	}
	return nil
}

// Uninstall stops the service and deletes it. Data is kept.
func (w *Windows) Uninstall() error {
	m, s, err := w.open()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	if err := stopAndWait(s, time.Minute); err != nil {
		return err
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("service: delete %s: %w", w.cfg.Name, err)
	}
	return nil
}

// Start starts the service.
func (w *Windows) Start() error {
	m, s, err := w.open()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	st, err := s.Query()
	if err == nil && (st.State == svc.Running || st.State == svc.StartPending) {
		return nil
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("service: start %s: %w", w.cfg.Name, err)
	}
	return nil
}

// Stop stops the service and waits up to a minute for it to exit.
func (w *Windows) Stop() error {
	m, s, err := w.open()
	if err != nil {
		return err
	}
	defer m.Disconnect()
	defer s.Close()
	return stopAndWait(s, time.Minute)
}

func stopAndWait(s *mgr.Service, timeout time.Duration) error {
	st, err := s.Query()
	if err != nil {
		return fmt.Errorf("service: query: %w", err)
	}
	if st.State == svc.Stopped {
		return nil
	}
	if st.State != svc.StopPending {
		if st, err = s.Control(svc.Stop); err != nil {
			return fmt.Errorf("service: stop: %w", err)
		}
	}
	deadline := time.Now().Add(timeout)
	for st.State != svc.Stopped {
		if time.Now().After(deadline) {
			return fmt.Errorf("service: did not stop within %s", timeout)
		}
		time.Sleep(300 * time.Millisecond)
		if st, err = s.Query(); err != nil {
			return fmt.Errorf("service: query: %w", err)
		}
	}
	return nil
}

// Status queries the service's state.
func (w *Windows) Status() (State, error) {
	m, s, err := w.open()
	if errors.Is(err, ErrNotInstalled) {
		return StateNotInstalled, nil
	}
	if err != nil {
		return StateUnknown, err
	}
	defer m.Disconnect()
	defer s.Close()
	st, err := s.Query()
	if err != nil {
		return StateUnknown, fmt.Errorf("service: query: %w", err)
	}
	return windowsState(st.State), nil
}

func windowsState(s svc.State) State {
	switch s {
	case svc.Stopped:
		return StateStopped
	case svc.StartPending, svc.ContinuePending:
		return StateStarting
	case svc.Running:
		return StateRunning
	case svc.StopPending:
		return StateStopping
	}
	return StateUnknown
}

func windowsConfig(c Config) mgr.Config {
	return mgr.Config{
		DisplayName:      c.DisplayName,
		Description:      c.Description,
		StartType:        mgr.StartAutomatic,
		DelayedAutoStart: true,
		ErrorControl:     mgr.ErrorNormal,
	}
}

func windowsRecovery() []mgr.RecoveryAction {
	return []mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 2 * time.Minute},
	}
}

// IsService reports whether the process was started by the Windows service
// control manager.
func IsService() bool {
	ok, err := svc.IsWindowsService()
	return err == nil && ok
}

func runService(name string, fn func(ctx context.Context) error) error {
	h := &handler{fn: fn}
	if err := svc.Run(name, h); err != nil {
		return err
	}
	return h.err
}

type handler struct {
	fn  func(ctx context.Context) error
	err error
}

// Execute implements svc.Handler: it runs fn, reports Running, and cancels
// fn's context on Stop or Shutdown.
func (h *handler) Execute(_ []string, r <-chan svc.ChangeRequest, changes chan<- svc.Status) (bool, uint32) {
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	changes <- svc.Status{State: svc.StartPending}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- h.fn(ctx) }()
	changes <- svc.Status{State: svc.Running, Accepts: accepts}
	for {
		select {
		case err := <-done:
			h.err = err
			if err != nil {
				// A non-zero exit code makes the recovery actions restart us.
				return false, 1
			}
			return false, 0
		case req := <-r:
			switch req.Cmd {
			case svc.Interrogate:
				changes <- req.CurrentStatus
			case svc.Stop, svc.Shutdown:
				changes <- svc.Status{State: svc.StopPending, WaitHint: 90000}
				cancel()
				h.err = <-done
				return false, 0
			}
		}
	}
}
