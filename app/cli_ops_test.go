package app

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/ops"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/plugins"
)

// offlineData creates a data dir with an administrator (through the CLI).
func offlineData(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if code, out, errs := runCLI(t, "Very-secret-pw9\n", nil, "admin", "create", "--data", data, "--user", "chief", "--password-stdin", "--county", "示范县"); code != 0 {
		t.Fatalf("admin create: %d %s %s", code, out, errs)
	}
	return data
}

func TestBackupVerifyCommand(t *testing.T) {
	data := offlineData(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.backup")
	if code, out, errs := runCLI(t, "", nil, "backup", "--data", data, "--out", good); code != 0 {
		t.Fatalf("backup: %s %s", out, errs)
	}
	code, out, errs := runCLI(t, "", nil, "backup", "verify", good)
	if code != 0 || !strings.HasPrefix(out, "OK   "+good) || !strings.Contains(out, "store index") {
		t.Fatalf("verify good: %d %q %q", code, out, errs)
	}
	b, _ := os.ReadFile(good)
	damaged := map[string]struct {
		data []byte
		want string
	}{
		"truncated.backup": {b[:len(b)-4096], "truncated"},
		"altered.backup":   {flip(b, len(b)-100), "checksum mismatch"},
		"header.backup":    {append([]byte("YIWANG-BACKUP 1\n{\"index\":"), b[40:]...), "damaged"},
		"notabackup.txt":   {[]byte("hello\n"), "not a yiwang backup"},
	}
	for name, d := range damaged {
		p := filepath.Join(dir, name)
		os.WriteFile(p, d.data, 0o600)
		code, out, errs := runCLI(t, "", nil, "backup", "verify", p)
		if code != 1 || !strings.HasPrefix(out, "BAD  "+p) || !strings.Contains(out, d.want) || !strings.Contains(errs, "failed verification") {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 and %q", name, code, out, errs, d.want)
		}
	}
	// Several files: one bad one fails the command, every file is reported.
	code, out, _ = runCLI(t, "", nil, "backup", "verify", good, filepath.Join(dir, "altered.backup"))
	if code != 1 || strings.Count(out, "\n") != 2 || !strings.Contains(out, "OK ") || !strings.Contains(out, "BAD ") {
		t.Fatalf("two files: %d %q", code, out)
	}
	if code, _, errs = runCLI(t, "", nil, "backup", "verify"); code != 2 || !strings.Contains(errs, "usage") {
		t.Fatalf("no file: %d %q", code, errs)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

// TestServeRefusesNewerDataDir: a data dir whose schema is newer than this
// binary knows is refused with a clear message and exit status 3 (which the
// systemd unit does not restart on).
func TestServeRefusesNewerDataDir(t *testing.T) {
	data := offlineData(t)
	db, err := sql.Open("sqlite", "file:"+filepath.Join(data, "yiwang.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE _migrations SET version=version+1 WHERE module='org'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, ctx: ctx}
	code := c.run([]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--mqtt", "-"})
	if ctx.Err() != nil {
		t.Fatal("serve started on a newer data dir")
	}
	msg := errb.String()
	if code != ExitDowngrade || !strings.Contains(msg, "written by a newer yiwang") || !strings.Contains(msg, "downgrade is not supported") || !strings.Contains(msg, `"org"`) {
		t.Fatalf("exit %d, stderr %q", code, msg)
	}
	// Offline commands refuse it too, and the data is left as it was.
	if code, _, errs := runCLI(t, "", nil, "backup", "--data", data, "--out", filepath.Join(t.TempDir(), "b")); code != ExitDowngrade || !strings.Contains(errs, "newer yiwang") {
		t.Fatalf("offline backup: %d %q", code, errs)
	}
}

// TestOperationsEndToEnd runs a node with scheduled backups: the first one
// is written and verified at start, the console's overview and /metrics
// (with an API token limited to system.metrics) report the node.
func TestOperationsEndToEnd(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.MQTT = "127.0.0.1:0"
	cfg.BackupDir = filepath.Join(t.TempDir(), "backups")
	cfg.BackupEvery = "6h"
	cfg.BackupKeep = 3
	a, err := New(cfg, Options{Logf: t.Logf, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	u, err := a.Org().CreateAdmin(ctx, "system:test", "chief", "Very-secret-pw9")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := a.Org().CreateToken(ctx, "system:test", org.TokenInput{UserID: u.ID, Name: "console"})
	if err != nil {
		t.Fatal(err)
	}
	scrape, err := a.Org().CreateToken(ctx, "system:test", org.TokenInput{UserID: u.ID, Name: "prometheus", Permissions: []string{ops.PermMetrics}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path, token string) (int, []byte) {
		req, _ := http.NewRequest("GET", a.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	var ov ops.Overview
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, b := get("/api/v1/admin/ops", admin.Secret)
		if code != 200 {
			t.Fatalf("ops overview: %d %s", code, b)
		}
		if err := json.Unmarshal(b, &ov); err != nil {
			t.Fatal(err)
		}
		if ov.Backup.LastOK != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if ov.Backup.LastOK == nil || len(ov.Backup.Files) != 1 || !ov.Backup.OnThisNode || ov.Backup.Every != "6h0m0s" {
		t.Fatalf("backup state %+v", ov.Backup)
	}
	if code, out, errs := runCLI(t, "", nil, "backup", "verify", filepath.Join(cfg.BackupDir, ov.Backup.Files[0].Name)); code != 0 {
		t.Fatalf("scheduled backup does not verify: %s %s", out, errs)
	}
	if ov.Raft.State != "leader" || len(ov.Raft.Nodes) != 1 || ov.DatabaseBytes == 0 || ov.Disk.TotalBytes == 0 || ov.Broker == nil || !ov.Broker.Running {
		t.Fatalf("overview %+v", ov)
	}
	code, b := get("/metrics", scrape.Secret)
	if code != 200 || !strings.Contains(string(b), `yiwang_raft_state{state="leader"} 1`) || !strings.Contains(string(b), "yiwang_mqtt_up 1") ||
		!strings.Contains(string(b), "yiwang_backup_enabled 1") {
		t.Fatalf("metrics: %d\n%s", code, b)
	}
	// The scrape token reads nothing else.
	if code, _ := get("/api/v1/admin/ops", scrape.Secret); code != 403 {
		t.Fatalf("scrape token on the overview: %d", code)
	}
	// yiwang cluster status through the running server.
	if code, out, errs := runCLI(t, "", nil, "cluster", "status", "--data", cfg.Data); code != 0 || !strings.Contains(out, "leader") || !strings.Contains(out, a.Store().NodeID()) {
		t.Fatalf("cluster status: %d %q %q", code, out, errs)
	}
	if code, _, errs := runCLI(t, "", nil, "cluster", "remove", "--data", cfg.Data, "no-such-node"); code == 0 {
		t.Fatalf("removing an unknown node succeeded: %s", errs)
	}
	// A manual backup from the console goes into the same directory.
	req, _ := http.NewRequest("POST", a.URL()+"/api/v1/admin/backups", nil)
	req.Header.Set("Authorization", "Bearer "+admin.Secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var rec ops.BackupRecord
	json.NewDecoder(resp.Body).Decode(&rec)
	resp.Body.Close()
	if resp.StatusCode != 201 || !rec.OK || rec.Trigger != "manual" {
		t.Fatalf("manual backup: %d %+v", resp.StatusCode, rec)
	}
	code, b = get("/api/v1/admin/backups", admin.Secret)
	var page struct {
		Items []ops.BackupRecord `json:"items"`
		Total int                `json:"total"`
	}
	json.Unmarshal(b, &page)
	if code != 200 || page.Total != 2 || page.Items[0].Trigger != "manual" {
		t.Fatalf("backup history: %d %s", code, b)
	}
}

func TestOpsConfig(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "y.toml")
	os.WriteFile(conf, []byte("backup_dir = \"/mnt/usb/yiwang\"\nbackup_keep = 14\ndisk_warn_percent = 85\n"), 0o600)
	var cf configFlags
	fs := (&cli{stderr: io.Discard}).flags("serve")
	cf.bind(fs)
	if err := fs.Parse([]string{"--config", conf, "--data", dir}); err != nil {
		t.Fatal(err)
	}
	cfg, err := cf.load(nil)
	if err != nil {
		t.Fatal(err)
	}
	bc := cfg.backupConfig()
	if bc.Dir != "/mnt/usb/yiwang" || bc.Keep != 14 || bc.At != defaultBackupAt || cfg.DiskWarnPercent != 85 {
		t.Fatalf("config %+v backup %+v", cfg, bc)
	}
	for _, bad := range [][]string{
		{"YIWANG_BACKUP_EVERY=soon", "YIWANG_BACKUP_DIR=/b"},
		{"YIWANG_BACKUP_AT=3pm", "YIWANG_BACKUP_DIR=/b"},
		{"YIWANG_BACKUP_EVERY=6h"},
		{"YIWANG_BACKUP_EVERY=6h", "YIWANG_BACKUP_AT=03:00", "YIWANG_BACKUP_DIR=/b"},
		{"YIWANG_BACKUP_KEEP=many"},
		{"YIWANG_DISK_WARN_PERCENT=120"},
	} {
		if code, _, errs := runCLI(t, "", append(bad, "YIWANG_DATA="+dir), "serve"); code == 0 || errs == "" {
			t.Errorf("%v accepted: %d %s", bad, code, errs)
		}
	}
}

func TestPluginHealth(t *testing.T) {
	got := pluginHealth([]plugins.Info{
		{Name: "decoder", Enabled: true},
		{Name: "flaky", Enabled: true, Metrics: plugins.Metrics{ConsecutiveFailures: 2}},
		{Name: "broken", DisabledReason: "5 consecutive failures (trap: out of fuel)"},
		{Name: "parked", DisabledReason: "disabled by admin"},
	})
	want := map[string]string{"plugin.decoder": "", "plugin.flaky": "2 consecutive failures",
		"plugin.broken": "disabled: 5 consecutive failures (trap: out of fuel)", "plugin.parked": ""}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
