package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Systemd is the systemd Manager. New returns one on Linux; NewSystemd is
// exported so tests and tools can point it at another unit directory or
// command runner.
type Systemd struct {
	cfg Config
	// Exec runs a command and returns its combined output. Default: run it
	// with os/exec and a one-minute timeout.
	Exec func(name string, args ...string) ([]byte, error)
	// PackageUnitDirs are searched for a unit installed by the .deb/.rpm;
	// Install refuses to shadow it. Default /usr/lib/systemd/system and
	// /lib/systemd/system.
	PackageUnitDirs []string
	// Booted reports whether systemd runs as the init system (sd_booted:
	// /run/systemd/system exists). Without it Install and Uninstall still
	// write the unit and the enable symlinks, for the next boot; Start, Stop
	// and Status return ErrNoSystemd.
	Booted func() bool
}

// ErrNoSystemd is returned by Start, Stop and Status when systemd is not the
// running init system (a container, a chroot).
var ErrNoSystemd = errors.New("service: systemd is not running on this system")

func sdBooted() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

var _ Manager = (*Systemd)(nil)

// NewSystemd returns a systemd Manager for cfg.
func NewSystemd(cfg Config) (*Systemd, error) {
	c, err := cfg.withDefaults("linux")
	if err != nil {
		return nil, err
	}
	return &Systemd{
		cfg:             c,
		Exec:            runCommand,
		PackageUnitDirs: []string{"/usr/lib/systemd/system", "/lib/systemd/system"},
		Booted:          sdBooted,
	}, nil
}

func runCommand(name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// UnitPath is the file Install writes.
func (s *Systemd) UnitPath() string {
	return filepath.Join(s.cfg.UnitDir, s.cfg.Name+".service")
}

func (s *Systemd) unitName() string { return s.cfg.Name + ".service" }

// Install writes the unit, creates the user and data directory when
// configured, reloads systemd and enables the unit.
func (s *Systemd) Install() error {
	for _, dir := range s.PackageUnitDirs {
		p := filepath.Join(dir, s.unitName())
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("service: %s is already installed by the yiwang package (%s); use systemctl", s.unitName(), p)
		}
	}
	unit, err := SystemdUnit(s.cfg)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(s.cfg.Executable); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return fmt.Errorf("service: %s is not an executable file", s.cfg.Executable)
	}
	if s.cfg.User != "" {
		if _, err := user.Lookup(s.cfg.User); err != nil {
			if !s.cfg.CreateUser {
				return fmt.Errorf("service: user %q does not exist (create it or set CreateUser)", s.cfg.User)
			}
			if _, err := s.Exec("useradd", useraddArgs(s.cfg.User, s.cfg.DataDir)...); err != nil {
				return fmt.Errorf("service: create user: %w", err)
			}
		}
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("service: data directory: %w", err)
	}
	if s.cfg.User != "" {
		u, err := user.Lookup(s.cfg.User)
		if err != nil {
			return fmt.Errorf("service: user %q: %w", s.cfg.User, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(s.cfg.DataDir, uid, gid); err != nil {
			return fmt.Errorf("service: data directory owner: %w", err)
		}
	}
	if err := os.MkdirAll(s.cfg.UnitDir, 0o755); err != nil {
		return fmt.Errorf("service: unit directory: %w", err)
	}
	tmp := s.UnitPath() + ".tmp"
	if err := os.WriteFile(tmp, []byte(unit), 0o644); err != nil {
		return fmt.Errorf("service: write unit: %w", err)
	}
	if err := os.Rename(tmp, s.UnitPath()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("service: write unit: %w", err)
	}
	if s.Booted() {
		if _, err := s.Exec("systemctl", "daemon-reload"); err != nil {
			return err
		}
	}
	// enable only creates symlinks, so it works without a running systemd.
	_, err = s.Exec("systemctl", "enable", s.unitName())
	return err
}

// useraddArgs builds the useradd arguments for a system account with no
// login shell whose home is the data directory.
func useraddArgs(name, home string) []string {
	shell := "/usr/sbin/nologin"
	if _, err := os.Stat(shell); err != nil {
		shell = "/sbin/nologin"
	}
	return []string{"--system", "--user-group", "--home-dir", home, "--no-create-home",
		"--shell", shell, "--comment", "yiwang service", name}
}

// Uninstall disables and stops the unit and removes the unit file. The data
// directory and the user are kept.
func (s *Systemd) Uninstall() error {
	if _, err := os.Stat(s.UnitPath()); errors.Is(err, os.ErrNotExist) {
		return ErrNotInstalled
	}
	if !s.Booted() {
		if _, err := s.Exec("systemctl", "disable", s.unitName()); err != nil {
			return err
		}
		if err := os.Remove(s.UnitPath()); err != nil {
			return fmt.Errorf("service: remove unit: %w", err)
		}
		return nil
	}
	// disable --now fails when systemd does not know the unit (e.g. it was
	// never reloaded); removing the file is what matters.
	_, disableErr := s.Exec("systemctl", "disable", "--now", s.unitName())
	if err := os.Remove(s.UnitPath()); err != nil {
		return fmt.Errorf("service: remove unit: %w", err)
	}
	if _, err := s.Exec("systemctl", "daemon-reload"); err != nil {
		return err
	}
	if disableErr != nil {
		if _, err := s.Exec("systemctl", "reset-failed", s.unitName()); err != nil {
			return disableErr
		}
	}
	return nil
}

// Start starts the unit.
func (s *Systemd) Start() error {
	if err := s.requireInstalled(); err != nil {
		return err
	}
	_, err := s.Exec("systemctl", "start", s.unitName())
	return err
}

// Stop stops the unit; systemctl waits for the process to exit.
func (s *Systemd) Stop() error {
	if err := s.requireInstalled(); err != nil {
		return err
	}
	_, err := s.Exec("systemctl", "stop", s.unitName())
	return err
}

func (s *Systemd) requireInstalled() error {
	st, err := s.Status()
	if err != nil {
		return err
	}
	if st == StateNotInstalled {
		return ErrNotInstalled
	}
	return nil
}

// Status asks systemd for the unit's load and active state.
func (s *Systemd) Status() (State, error) {
	if !s.Booted() {
		return StateUnknown, ErrNoSystemd
	}
	out, err := s.Exec("systemctl", "show", s.unitName(), "--property=LoadState,ActiveState")
	if err != nil {
		return StateUnknown, err
	}
	return parseSystemdShow(string(out)), nil
}

// parseSystemdShow maps `systemctl show --property=LoadState,ActiveState`.
func parseSystemdShow(out string) State {
	var load, active string
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		switch k {
		case "LoadState":
			load = v
		case "ActiveState":
			active = v
		}
	}
	if load == "not-found" {
		return StateNotInstalled
	}
	switch active {
	case "active", "reloading":
		return StateRunning
	case "inactive", "failed":
		return StateStopped
	case "activating":
		return StateStarting
	case "deactivating":
		return StateStopping
	}
	return StateUnknown
}
