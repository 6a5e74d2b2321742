package app

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/org"
)

func runCLI(t *testing.T, stdin string, env []string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, env: env}
	code := c.run(args)
	return code, out.String(), errb.String()
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("http = \"127.0.0.1:9\"\nhttp_port = 80\n"), 0o600)
	typo := filepath.Join(dir, "typo.toml")
	os.WriteFile(typo, []byte("demo = \"yes\"\n"), 0o600)
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"serve", "--htpp", ":1"}, "htpp"},
		{"unknown config key", nil, []string{"serve", "--config", bad}, "unknown key http_port"},
		{"wrong type in config", nil, []string{"serve", "--config", typo}, "demo"},
		{"missing config file", nil, []string{"serve", "--config", filepath.Join(dir, "nope.toml")}, "nope.toml"},
		{"bad env value", []string{"YIWANG_DEMO=maybe"}, []string{"serve", "--data", dir}, "YIWANG_DEMO"},
		{"join without secret", nil, []string{"serve", "--data", dir, "--join", "http://x", "--raft", "127.0.0.1:0"}, "cluster_secret"},
		{"unknown command", nil, []string{"frobnicate"}, "frobnicate"},
		{"admin create without stdin flag", nil, []string{"admin", "create", "--user", "a"}, "--password-stdin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, "", tt.env, tt.args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q, want mention of %q", code, stderr, tt.want)
			}
		})
	}
}

func TestConfigPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "yiwang.toml")
	os.WriteFile(file, []byte("http = \"127.0.0.1:1111\"\nmqtt = \":2222\"\ndemo = true\n"), 0o600)
	var cf configFlags
	fs := (&cli{stderr: &bytes.Buffer{}}).flags("serve")
	cf.bind(fs)
	if err := fs.Parse([]string{"--config", file, "--http", "127.0.0.1:3333"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := cf.load([]string{"YIWANG_MQTT=:4444", "YIWANG_HTTP=127.0.0.1:5555", "YIWANG_CLUSTER_SECRET=s3"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP != "127.0.0.1:3333" || cfg.MQTT != ":4444" || !cfg.Demo || cfg.ClusterSecret != "s3" {
		t.Fatalf("precedence wrong: %+v", cfg)
	}
}

// TestOfflineCommands: admin create before the first serve, token create,
// backup, restore and audit verify on a stopped data dir.
func TestOfflineCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	code, out, errs := runCLI(t, "Very-secret-pw9\n", nil, "admin", "create", "--data", data, "--user", "chief", "--password-stdin", "--county", "示范县")
	if code != 0 {
		t.Fatalf("admin create: %d %s %s", code, out, errs)
	}
	code, _, errs = runCLI(t, "short\n", nil, "admin", "create", "--data", data, "--user", "chief2", "--password-stdin")
	if code == 0 || !strings.Contains(errs, "password") {
		t.Fatalf("weak password accepted: %s", errs)
	}
	code, out, errs = runCLI(t, "", nil, "token", "create", "--data", data, "--user", "chief", "--name", "ci", "--scope", "org.read")
	if code != 0 || !strings.HasPrefix(out, "ywt_") {
		t.Fatalf("token create: %d %q %s", code, out, errs)
	}
	token := strings.TrimSpace(out)
	backup := filepath.Join(t.TempDir(), "b.yiwang")
	if code, out, errs = runCLI(t, "", nil, "backup", "--data", data, "--out", backup); code != 0 {
		t.Fatalf("backup: %s %s", out, errs)
	}
	if code, out, errs = runCLI(t, "", nil, "audit", "verify", "--data", data); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("audit verify: %s %s", out, errs)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	if code, out, errs = runCLI(t, "", nil, "restore", backup, "--data", restored); code != 0 {
		t.Fatalf("restore: %s %s", out, errs)
	}
	if code, _, errs = runCLI(t, "", nil, "restore", backup, "--data", restored); code == 0 {
		t.Fatalf("restore over existing data succeeded: %s", errs)
	}
	// The restored node serves the administrator and the token.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg := DefaultConfig()
	cfg.Data = restored
	cfg.MQTT = "127.0.0.1:0"
	a, err := New(cfg, Options{Logf: t.Logf, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := &testServer{t: t, a: a, url: a.URL()}
	s.must("POST", "/api/v1/auth/login", "", org.LoginInput{Username: "chief", Password: "Very-secret-pw9"}, 200, nil)
	s.must("GET", "/api/v1/departments", token, nil, 200, nil)
	// While it runs, the CLI goes through its API (the data dir is locked).
	if code, out, errs = runCLI(t, "", nil, "backup", "--data", restored, "--out", filepath.Join(t.TempDir(), "online.yiwang")); code != 0 || !strings.Contains(out, "online") {
		t.Fatalf("online backup: %s %s", out, errs)
	}
	if code, out, errs = runCLI(t, "", nil, "token", "create", "--data", restored, "--user", "chief", "--name", "online"); code != 0 || !strings.HasPrefix(out, "ywt_") {
		t.Fatalf("online token: %s %s", out, errs)
	}
	if code, out, errs = runCLI(t, "", nil, "audit", "verify", "--data", restored); code != 0 {
		t.Fatalf("online verify: %s %s", out, errs)
	}
	if _, err := New(cfg, Options{Logf: t.Logf}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second process on the same data dir: %v", err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestServeDemoIdempotent runs serve twice on one data dir: the second run
// creates nothing and prints no password.
func TestServeDemoIdempotent(t *testing.T) {
	data := t.TempDir()
	serve := func() string {
		ctx, cancel := context.WithCancel(context.Background())
		var out, errb bytes.Buffer
		c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, ctx: ctx}
		done := make(chan int)
		go func() {
			done <- c.run([]string{"serve", "--data", data, "--demo", "--http", "127.0.0.1:0", "--mqtt", "127.0.0.1:0"})
		}()
		deadline := time.Now().Add(60 * time.Second)
		for {
			if _, _, ok := LocalServer(data); ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("server did not start: %s", errb.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		cancel()
		if code := <-done; code != 0 {
			t.Fatalf("serve exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	first := serve()
	if !strings.Contains(first, "commander") || !strings.Contains(first, "ywt_") {
		t.Fatalf("first run printed no accounts:\n%s", first)
	}
	if second := serve(); strings.Contains(second, "commander") {
		t.Fatalf("second run printed accounts again:\n%s", second)
	}
	cfg := DefaultConfig()
	cfg.Data = data
	cfg.MQTT = "127.0.0.1:0"
	a, err := New(cfg, Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.StartStore(context.Background()); err != nil {
		t.Fatal(err)
	}
	var users, grids int
	a.Store().DB().QueryRow(`SELECT count(*) FROM org_user`).Scan(&users)
	a.Store().DB().QueryRow(`SELECT count(*) FROM org_grid WHERE level = 4`).Scan(&grids)
	if users != 9 || grids != 8*6*8 {
		t.Fatalf("after two demo runs: %d users, %d unit grids", users, grids)
	}
}

func TestVersionCommand(t *testing.T) {
	code, out, _ := runCLI(t, "", nil, "version")
	if code != 0 || !strings.HasPrefix(out, "yiwang ") {
		t.Fatalf("%d %q", code, out)
	}
}
