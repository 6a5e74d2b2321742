package service

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Config describes the service to install. Zero fields take the defaults
// documented on each field.
type Config struct {
	// Name is the service name (systemd unit NAME.service, Windows service
	// key). Default "yiwang".
	Name string
	// DisplayName is the human-readable name. Default "yiwang 一网统管".
	DisplayName string
	// Description is one line for `systemctl status` and services.msc.
	Description string
	// Executable is the absolute path of the yiwang binary. Default: the
	// running executable (os.Executable).
	Executable string
	// Args are the arguments the service manager passes to Executable.
	// Default: serve --data DataDir.
	Args []string
	// DataDir is the data directory, the only place the Linux unit may write
	// (ReadWritePaths) and its working directory. Default /var/lib/yiwang on
	// Linux, %ProgramData%\yiwang on Windows.
	DataDir string
	// WritePaths are further writable directories for the Linux unit, e.g. a
	// backup target such as /mnt/backup.
	WritePaths []string
	// User is the Linux account the service runs as; "" or "root" runs as
	// root. Ignored on Windows (the service runs as LocalSystem).
	User string
	// CreateUser makes Install create User as a system account (useradd
	// --system) when it does not exist and give it DataDir.
	CreateUser bool
	// Env holds KEY=VALUE pairs for the service's environment (Linux).
	Env []string
	// BindLowPorts grants CAP_NET_BIND_SERVICE so a non-root service can
	// listen below port 1024 (e.g. HTTP on :80). Off by default: yiwang's
	// default ports (8080, 1883, 8883) do not need it.
	BindLowPorts bool
	// UnitDir is where Install writes the systemd unit. Default
	// /etc/systemd/system. Tests point it at a temporary directory.
	UnitDir string
}

// State is the coarse state of an installed service.
type State string

// States reported by Manager.Status.
const (
	StateNotInstalled State = "not-installed"
	StateStopped      State = "stopped"
	StateStarting     State = "starting"
	StateRunning      State = "running"
	StateStopping     State = "stopping"
	StateUnknown      State = "unknown"
)

// Manager controls one service. Every method is safe to call again: Install
// over an existing installation rewrites it, Start on a running service and
// Stop on a stopped one succeed.
type Manager interface {
	// Install registers the service to start at boot. It does not start it.
	Install() error
	// Uninstall stops the service and removes its registration. Data is
	// never removed. It returns ErrNotInstalled when there is nothing to do.
	Uninstall() error
	// Start starts the service now.
	Start() error
	// Stop stops the service and waits for it to exit.
	Stop() error
	// Status reports the service's state.
	Status() (State, error)
}

var (
	// ErrUnsupported is returned by New on systems without a supported
	// service manager.
	ErrUnsupported = errors.New("service: no supported service manager on this system")
	// ErrNotInstalled is returned by Uninstall, Start and Stop when the
	// service is not installed.
	ErrNotInstalled = errors.New("service: not installed")
)

// New returns the Manager for this system: systemd on Linux, the service
// control manager on Windows.
func New(cfg Config) (Manager, error) {
	return newManager(cfg)
}

// DefaultName is the service name used when Config.Name is empty.
const DefaultName = "yiwang"

// Package layout, shared by the .deb/.rpm and PackageConfig.
const (
	PackageBinary  = "/usr/bin/yiwang"
	PackageConfDir = "/etc/yiwang"
	PackageConf    = "/etc/yiwang/yiwang.toml"
	PackageDataDir = "/var/lib/yiwang"
	PackageUser    = "yiwang"
)

// PackageConfig is the configuration of the service shipped in the .deb and
// .rpm packages; installer/linux/yiwang.service is SystemdUnit(PackageConfig()).
func PackageConfig() Config {
	return Config{
		Name:        DefaultName,
		DisplayName: "yiwang 一网统管",
		Description: "yiwang 一网统管 county platform (MQTT broker, replicated store, console)",
		Executable:  PackageBinary,
		Args:        []string{"serve", "--config", PackageConf, "--data", PackageDataDir},
		DataDir:     PackageDataDir,
		User:        PackageUser,
	}
}

// withDefaults fills the zero fields of c for goos.
func (c Config) withDefaults(goos string) (Config, error) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if strings.ContainsAny(c.Name, "/\\ \t\n\"'") {
		return c, fmt.Errorf("service: invalid name %q", c.Name)
	}
	if c.DisplayName == "" {
		c.DisplayName = "yiwang 一网统管"
	}
	if c.Description == "" {
		c.Description = "yiwang 一网统管 county platform"
	}
	if c.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("service: find executable: %w", err)
		}
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		c.Executable = exe
	}
	if c.DataDir == "" {
		c.DataDir = defaultDataDir(goos)
	}
	if c.Args == nil {
		c.Args = []string{"serve", "--data", c.DataDir}
	}
	if c.UnitDir == "" {
		c.UnitDir = "/etc/systemd/system"
	}
	if goos != "windows" {
		if !strings.HasPrefix(c.Executable, "/") {
			return c, fmt.Errorf("service: executable %q is not an absolute path", c.Executable)
		}
		if !strings.HasPrefix(c.DataDir, "/") {
			return c, fmt.Errorf("service: data directory %q is not an absolute path", c.DataDir)
		}
		for _, p := range c.WritePaths {
			if !strings.HasPrefix(p, "/") {
				return c, fmt.Errorf("service: write path %q is not an absolute path", p)
			}
		}
	}
	for _, kv := range c.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return c, fmt.Errorf("service: environment entry %q is not KEY=VALUE", kv)
		}
	}
	if c.User == "root" {
		c.User = ""
	}
	return c, nil
}

func defaultDataDir(goos string) string {
	if goos == "windows" {
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return pd + `\yiwang`
	}
	return PackageDataDir
}

// currentGOOS is a variable so tests can exercise other systems' defaults.
var currentGOOS = runtime.GOOS

// BareConfig is the configuration `yiwang service install [--data DIR]`
// should use for a binary installed by hand: the running executable, DataDir
// (default /var/lib/yiwang or %ProgramData%\yiwang), and on Linux the
// unprivileged system user "yiwang", created if missing, plus
// --config /etc/yiwang/yiwang.toml when that file exists.
func BareConfig(dataDir string) Config {
	c := Config{DataDir: dataDir}
	if c.DataDir == "" {
		c.DataDir = defaultDataDir(currentGOOS)
	}
	c.Args = []string{"serve", "--data", c.DataDir}
	if currentGOOS != "windows" {
		c.User, c.CreateUser = PackageUser, true
		if _, err := os.Stat(PackageConf); err == nil {
			c.Args = []string{"serve", "--config", PackageConf, "--data", c.DataDir}
		}
	}
	return c
}
