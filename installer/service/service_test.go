package service

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite installer/linux/yiwang.service from PackageConfig")

const packagedUnit = "../linux/yiwang.service"

// The unit shipped in the .deb/.rpm must be exactly what the renderer makes
// of PackageConfig, so bare-binary and package installs behave the same.
func TestPackagedUnitMatchesRenderer(t *testing.T) {
	want, err := SystemdUnit(PackageConfig())
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(packagedUnit, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(packagedUnit)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is stale; run: go test ./installer/service -run TestPackagedUnit -update\n--- file\n%s\n--- renderer\n%s", packagedUnit, got, want)
	}
}

func TestSystemdUnitHardening(t *testing.T) {
	unit, err := SystemdUnit(PackageConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"User=yiwang",
		"Group=yiwang",
		"ExecStart=/usr/bin/yiwang serve --config /etc/yiwang/yiwang.toml --data /var/lib/yiwang",
		"WorkingDirectory=/var/lib/yiwang",
		"Restart=on-failure",
		"NoNewPrivileges=yes",
		"ProtectSystem=strict",
		"ReadWritePaths=/var/lib/yiwang",
		"PrivateTmp=yes",
		"ProtectHome=yes",
		"CapabilityBoundingSet=",
		"AmbientCapabilities=",
		"WantedBy=multi-user.target",
	} {
		if !hasLine(unit, line) {
			t.Errorf("unit lacks %q:\n%s", line, unit)
		}
	}
	if strings.Contains(unit, "CAP_NET_BIND_SERVICE") {
		t.Errorf("default unit grants CAP_NET_BIND_SERVICE")
	}

	cfg := PackageConfig()
	cfg.BindLowPorts = true
	cfg.WritePaths = []string{"/mnt/yiwang backup"}
	cfg.Env = []string{"TZ=Asia/Shanghai"}
	unit, err = SystemdUnit(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"AmbientCapabilities=CAP_NET_BIND_SERVICE",
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		`ReadWritePaths=/var/lib/yiwang "/mnt/yiwang backup"`,
		"Environment=TZ=Asia/Shanghai",
	} {
		if !hasLine(unit, line) {
			t.Errorf("unit lacks %q:\n%s", line, unit)
		}
	}
}

func TestSystemdUnitRoot(t *testing.T) {
	unit, err := SystemdUnit(Config{Executable: "/opt/yiwang/yiwang", User: "root"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(unit, "User=") || strings.Contains(unit, "AmbientCapabilities") {
		t.Errorf("root unit sets a user or capabilities:\n%s", unit)
	}
	if !hasLine(unit, "ExecStart=/opt/yiwang/yiwang serve --data /var/lib/yiwang") {
		t.Errorf("default args wrong:\n%s", unit)
	}
}

func TestSystemdQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/yiwang":  "/usr/bin/yiwang",
		"/opt/my app/bin":  `"/opt/my app/bin"`,
		"50%":              "50%%",
		"$HOME":            "$$HOME",
		`a"b`:              `"a\"b"`,
		`C:\x`:             `"C:\\x"`,
		"":                 `""`,
		"--http=:8080":     "--http=:8080",
		"数据 目录":            `"数据 目录"`,
		"semi;colon":       `"semi;colon"`,
		"tab\there":        `"tab\there"`,
		"line\nbreak":      `"line\nbreak"`,
		"--name=示范县":       "--name=示范县",
		"/var/lib/yiwang/": "/var/lib/yiwang/",
	} {
		if got := systemdQuote(in); got != want {
			t.Errorf("systemdQuote(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	for name, cfg := range map[string]Config{
		"relative exe":  {Executable: "yiwang"},
		"relative data": {Executable: "/usr/bin/yiwang", DataDir: "data"},
		"bad name":      {Name: "yi wang", Executable: "/usr/bin/yiwang"},
		"bad env":       {Executable: "/usr/bin/yiwang", Env: []string{"NOEQUALS"}},
		"relative path": {Executable: "/usr/bin/yiwang", WritePaths: []string{"backup"}},
	} {
		if _, err := SystemdUnit(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// systemd-analyze checks the packaged unit's syntax and directives.
func TestSystemdAnalyzeVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		needTool(t, "systemd-analyze")
	}
	dir := t.TempDir()
	cfg := PackageConfig()
	cfg.Executable = "/bin/sh" // must exist for verify
	cfg.User = ""
	unit, err := SystemdUnit(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "yiwang.service")
	if err := os.WriteFile(p, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", p).CombinedOutput()
	// Without systemd as PID 1, verify still parses the unit and reports
	// unknown or invalid directives on stderr.
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "yiwang.service") && (strings.Contains(line, "Unknown") || strings.Contains(line, "nvalid") || strings.Contains(line, "Failed to parse")) {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
	if err != nil {
		t.Logf("systemd-analyze verify exited with %v (expected without systemd running):\n%s", err, out)
	}
}

type recorder struct {
	calls [][]string
	show  string
}

func (r *recorder) exec(name string, args ...string) ([]byte, error) {
	r.calls = append(r.calls, append([]string{name}, args...))
	if len(args) > 0 && args[0] == "show" {
		return []byte(r.show), nil
	}
	return nil, nil
}

func newTestSystemd(t *testing.T) (*Systemd, *recorder) {
	t.Helper()
	dir := t.TempDir()
	exe := filepath.Join(dir, "yiwang")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := NewSystemd(Config{
		Executable: exe,
		DataDir:    filepath.Join(dir, "data"),
		UnitDir:    filepath.Join(dir, "units"),
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{show: "LoadState=not-found\nActiveState=inactive\n"}
	s.Exec = rec.exec
	s.Booted = func() bool { return true }
	s.PackageUnitDirs = []string{filepath.Join(dir, "pkg")}
	return s, rec
}

func TestSystemdInstallUninstall(t *testing.T) {
	s, rec := newTestSystemd(t)
	if err := s.Start(); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Start before install: %v", err)
	}
	if err := s.Uninstall(); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Uninstall before install: %v", err)
	}
	rec.calls = nil
	if err := s.Install(); err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(s.UnitPath())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := SystemdUnit(s.cfg)
	if string(unit) != want {
		t.Errorf("installed unit differs from renderer")
	}
	if fi, err := os.Stat(s.cfg.DataDir); err != nil || !fi.IsDir() {
		t.Errorf("data dir not created: %v", err)
	}
	wantCalls := [][]string{
		{"systemctl", "daemon-reload"},
		{"systemctl", "enable", "yiwang.service"},
	}
	if !reflect.DeepEqual(rec.calls, wantCalls) {
		t.Errorf("install ran %q, want %q", rec.calls, wantCalls)
	}
	// Install again is fine (rewrites).
	if err := s.Install(); err != nil {
		t.Fatal(err)
	}

	rec.show = "LoadState=loaded\nActiveState=inactive\n"
	rec.calls = nil
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	wantCalls = [][]string{
		{"systemctl", "show", "yiwang.service", "--property=LoadState,ActiveState"},
		{"systemctl", "start", "yiwang.service"},
		{"systemctl", "show", "yiwang.service", "--property=LoadState,ActiveState"},
		{"systemctl", "stop", "yiwang.service"},
	}
	if !reflect.DeepEqual(rec.calls, wantCalls) {
		t.Errorf("start/stop ran %q, want %q", rec.calls, wantCalls)
	}

	rec.calls = nil
	if err := s.Uninstall(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.UnitPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still present after uninstall: %v", err)
	}
	wantCalls = [][]string{
		{"systemctl", "disable", "--now", "yiwang.service"},
		{"systemctl", "daemon-reload"},
	}
	if !reflect.DeepEqual(rec.calls, wantCalls) {
		t.Errorf("uninstall ran %q, want %q", rec.calls, wantCalls)
	}
	if _, err := os.Stat(s.cfg.DataDir); err != nil {
		t.Errorf("uninstall removed data: %v", err)
	}
}

// Without systemd as init (containers, chroots) the unit is written and
// enabled for the next boot; what needs a running systemd says so.
func TestSystemdNotBooted(t *testing.T) {
	s, rec := newTestSystemd(t)
	s.Booted = func() bool { return false }
	if err := s.Install(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"systemctl", "enable", "yiwang.service"}}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("install ran %q, want %q", rec.calls, want)
	}
	for name, f := range map[string]func() error{"Start": s.Start, "Stop": s.Stop} {
		if err := f(); !errors.Is(err, ErrNoSystemd) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := s.Status(); !errors.Is(err, ErrNoSystemd) {
		t.Errorf("Status: %v", err)
	}
	rec.calls = nil
	if err := s.Uninstall(); err != nil {
		t.Fatal(err)
	}
	want = [][]string{{"systemctl", "disable", "yiwang.service"}}
	if !reflect.DeepEqual(rec.calls, want) {
		t.Errorf("uninstall ran %q, want %q", rec.calls, want)
	}
	if _, err := os.Stat(s.UnitPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit still present")
	}
}

func TestSystemdInstallNeedsExecutable(t *testing.T) {
	s, _ := newTestSystemd(t)
	s.cfg.Executable = filepath.Join(t.TempDir(), "missing")
	if err := s.Install(); err == nil || !strings.Contains(err.Error(), "not an executable") {
		t.Fatalf("Install with a missing executable: %v", err)
	}
}

func TestSystemdInstallRefusesPackagedUnit(t *testing.T) {
	s, _ := newTestSystemd(t)
	pkg := s.PackageUnitDirs[0]
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "yiwang.service"), []byte("[Unit]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := s.Install()
	if err == nil || !strings.Contains(err.Error(), "package") {
		t.Fatalf("Install over packaged unit: %v", err)
	}
	if _, err := os.Stat(s.UnitPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unit written despite refusal")
	}
}

func TestSystemdInstallMissingUser(t *testing.T) {
	s, rec := newTestSystemd(t)
	s.cfg.User = "yiwang-test-no-such-user"
	if err := s.Install(); err == nil {
		t.Fatal("Install with a missing user and CreateUser=false succeeded")
	}
	s.cfg.CreateUser = true
	rec.calls = nil
	// The recorder does not create the user, so Install fails after trying.
	if err := s.Install(); err == nil {
		t.Fatal("Install succeeded though the user still does not exist")
	}
	if len(rec.calls) == 0 || rec.calls[0][0] != "useradd" || rec.calls[0][len(rec.calls[0])-1] != "yiwang-test-no-such-user" {
		t.Fatalf("useradd not called: %q", rec.calls)
	}
	args := strings.Join(rec.calls[0], " ")
	for _, want := range []string{"--system", "--user-group", "--home-dir " + s.cfg.DataDir, "--no-create-home", "nologin"} {
		if !strings.Contains(args, want) {
			t.Errorf("useradd args %q lack %q", args, want)
		}
	}
}

func TestParseSystemdShow(t *testing.T) {
	for in, want := range map[string]State{
		"LoadState=not-found\nActiveState=inactive\n": StateNotInstalled,
		"LoadState=loaded\nActiveState=active\n":      StateRunning,
		"ActiveState=failed\nLoadState=loaded":        StateStopped,
		"LoadState=loaded\nActiveState=activating\n":  StateStarting,
		"LoadState=loaded\nActiveState=deactivating":  StateStopping,
		"LoadState=loaded\nActiveState=inactive\n":    StateStopped,
		"": StateUnknown,
	} {
		if got := parseSystemdShow(in); got != want {
			t.Errorf("parseSystemdShow(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestWindowsCommandLine(t *testing.T) {
	got := windowsCommandLine(`C:\Program Files\yiwang\yiwang.exe`, []string{"serve", "--data", `C:\ProgramData\yiwang`, `say "hi"`, "", `trail\ `})
	want := `"C:\Program Files\yiwang\yiwang.exe" serve --data C:\ProgramData\yiwang "say \"hi\"" "" "trail\ "`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got := windowsQuote(`C:\dir with space\`); got != `"C:\dir with space\\"` {
		t.Errorf("trailing backslash: %s", got)
	}
}

func TestWindowsDefaults(t *testing.T) {
	t.Setenv("ProgramData", `D:\PD`)
	c, err := Config{Executable: `C:\yiwang\yiwang.exe`}.withDefaults("windows")
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != `D:\PD\yiwang` {
		t.Errorf("DataDir = %s", c.DataDir)
	}
	if !reflect.DeepEqual(c.Args, []string{"serve", "--data", `D:\PD\yiwang`}) {
		t.Errorf("Args = %q", c.Args)
	}
}

func TestNewOnLinux(t *testing.T) {
	if currentGOOS != "linux" {
		t.Skip("linux only")
	}
	m, err := New(Config{Executable: "/usr/bin/yiwang"})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.(*Systemd); !ok {
		t.Fatalf("New returned %T", m)
	}
}

func hasLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if l == line {
			return true
		}
	}
	return false
}

// needTool skips when a tool is absent locally and fails under CI.
func needTool(t *testing.T, name string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI but not installed", name)
	}
	t.Skipf("%s not installed", name)
}

func TestBareConfig(t *testing.T) {
	c := BareConfig("/srv/yiwang")
	if currentGOOS == "linux" {
		if c.User != "yiwang" || !c.CreateUser {
			t.Errorf("bare config runs as %q (create %t)", c.User, c.CreateUser)
		}
	}
	if c.DataDir != "/srv/yiwang" || c.Args[0] != "serve" || c.Args[len(c.Args)-1] != "/srv/yiwang" {
		t.Errorf("bare config %+v", c)
	}
	unit, err := SystemdUnit(c)
	if err != nil {
		t.Fatal(err)
	}
	if !hasLine(unit, "ReadWritePaths=/srv/yiwang") {
		t.Errorf("unit:\n%s", unit)
	}
	if d := BareConfig("").DataDir; d != "/var/lib/yiwang" && currentGOOS == "linux" {
		t.Errorf("default data dir %s", d)
	}
}
