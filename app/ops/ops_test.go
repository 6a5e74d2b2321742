package ops

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// newOps starts a real store with the ops module and a small table of test
// data, so backups hold something to check.
func newOps(t *testing.T, opts Options) (*Module, *store.Store) {
	t.Helper()
	m := New(opts)
	st := storetest.New(t, m.Register, func(s *store.Store) {
		s.AddMigrations("t", `CREATE TABLE t_kv(k TEXT PRIMARY KEY, v TEXT NOT NULL)`)
		s.Register("t.put", 1, func(tx *store.Tx, cmd *store.Command) (any, error) {
			var kv [2]string
			if err := json.Unmarshal(cmd.Payload, &kv); err != nil {
				return nil, err
			}
			_, err := tx.Exec(`INSERT INTO t_kv(k,v) VALUES(?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, kv[0], kv[1])
			return nil, err
		})
	})
	if m.opts.DataDir == "" || m.opts.DataDir != st.DataDir() {
		t.Fatalf("data dir %q, store %q", m.opts.DataDir, st.DataDir())
	}
	put(t, st, "hello", "世界")
	return m, st
}

func put(t *testing.T, st *store.Store, k, v string) {
	t.Helper()
	cmd, _ := store.NewCommand("t.put", 1, [2]string{k, v})
	if _, err := st.Apply(context.Background(), cmd); err != nil {
		t.Fatal(err)
	}
}

func backupNames(t *testing.T, dir string) []string {
	t.Helper()
	files, err := ListBackupFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		out = append(out, f.Name)
	}
	return out
}

func TestScheduledBackupsRunVerifyAndRetain(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "backups")
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	var logs logBuf
	m, st := newOps(t, Options{Backup: BackupConfig{Dir: dir, Every: 6 * time.Hour, Keep: 2}, Now: clk.now, Logf: logs.logf})
	// A stranger's file in the backup directory is never touched.
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("keep me"), 0o600)

	m.Tick(ctx) // nothing recorded yet: due now
	first := backupNames(t, dir)
	if len(first) != 1 {
		t.Fatalf("after the first tick: %v", first)
	}
	info, err := store.VerifyBackup(filepath.Join(dir, first[0]))
	if err != nil {
		t.Fatalf("scheduled backup does not verify: %v", err)
	}
	if info.Index == 0 || info.Size == 0 {
		t.Fatalf("backup info %+v", info)
	}
	clk.add(5 * time.Hour)
	m.Tick(ctx)
	if n := backupNames(t, dir); len(n) != 1 {
		t.Fatalf("a backup ran before it was due: %v", n)
	}
	for i := 0; i < 3; i++ {
		put(t, st, "k"+strconv.Itoa(i), "v")
		clk.add(6 * time.Hour)
		m.Tick(ctx)
	}
	names := backupNames(t, dir)
	if len(names) != 2 {
		t.Fatalf("retention keep 2: %v", names)
	}
	for _, n := range names {
		if n == first[0] {
			t.Fatalf("retention kept the oldest backup %s: %v", first[0], names)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Fatalf("retention touched a foreign file: %v", err)
	}
	if p, _ := filepath.Glob(filepath.Join(dir, "*.partial")); len(p) > 0 {
		t.Fatalf("partial files left: %v", p)
	}
	// The replicated history: 4 successful attempts, the 2 oldest deleted.
	var ok, deleted int
	st.DB().QueryRow(`SELECT count(*), sum(deleted<>'') FROM ops_backup WHERE ok=1`).Scan(&ok, &deleted)
	if ok != 4 || deleted != 2 {
		t.Fatalf("history: %d ok, %d deleted; want 4, 2", ok, deleted)
	}
	// The newest backup holds the newest data.
	newest := filepath.Join(dir, names[0])
	restored := filepath.Join(t.TempDir(), "restored")
	if _, err := store.RestoreBackup(newest, restored); err != nil {
		t.Fatal(err)
	}
	ov := m.Collect(ctx)
	if !ov.Backup.Enabled || !ov.Backup.OnThisNode || ov.Backup.LastOK == nil || ov.Backup.LastOK.File != names[0] || len(ov.Backup.Files) != 2 {
		t.Fatalf("overview backup state: %+v", ov.Backup)
	}
	if ov.Backup.NextDue == nil || !ov.Backup.NextDue.Equal(ov.Backup.Last.StartedAt.Add(6*time.Hour)) {
		t.Fatalf("next due %v, last %v", ov.Backup.NextDue, ov.Backup.Last.StartedAt)
	}
	if !logs.contains("written and verified") || !logs.contains("retention deleted backup") {
		t.Fatalf("log lacks the backup lines:\n%s", logs.String())
	}
}

func TestBackupFailureIsRecordedWarnedAndRetried(t *testing.T) {
	ctx := context.Background()
	// The backup "directory" is a file: every attempt fails.
	bad := filepath.Join(t.TempDir(), "not-a-dir")
	os.WriteFile(bad, []byte("x"), 0o600)
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	var logs logBuf
	m, st := newOps(t, Options{Backup: BackupConfig{Dir: bad, Every: 24 * time.Hour, Keep: 3}, Now: clk.now, Logf: logs.logf})
	m.Tick(ctx)
	var n, failed int
	var msg string
	st.DB().QueryRow(`SELECT count(*), sum(ok=0), max(error) FROM ops_backup`).Scan(&n, &failed, &msg)
	if n != 1 || failed != 1 || msg == "" {
		t.Fatalf("history after a failure: %d rows, %d failed, %q", n, failed, msg)
	}
	if !logs.contains("ERROR: scheduled backup failed") {
		t.Fatalf("failure not logged:\n%s", logs.String())
	}
	ov := m.Collect(ctx)
	if ov.Backup.Last == nil || ov.Backup.Last.OK || !hasWarning(ov, "backup") {
		t.Fatalf("failure not visible: %+v warnings %+v", ov.Backup.Last, ov.Warnings)
	}
	if !strings.Contains(string(ov.Prometheus()), "yiwang_backup_last_failed 1\n") {
		t.Fatal("metrics do not show the failed backup")
	}
	// Retried after 15 minutes, not at the next tick.
	clk.add(time.Minute)
	m.Tick(ctx)
	st.DB().QueryRow(`SELECT count(*) FROM ops_backup`).Scan(&n)
	if n != 1 {
		t.Fatalf("retried too soon: %d attempts", n)
	}
	clk.add(15 * time.Minute)
	m.Tick(ctx)
	st.DB().QueryRow(`SELECT count(*) FROM ops_backup`).Scan(&n)
	if n != 2 {
		t.Fatalf("not retried after 15 min: %d attempts", n)
	}
	// Fixed: the next attempt succeeds and the warning goes.
	os.Remove(bad)
	clk.add(16 * time.Minute)
	m.Tick(ctx)
	ov = m.Collect(ctx)
	if ov.Backup.Last == nil || !ov.Backup.Last.OK || hasWarning(ov, "backup") {
		t.Fatalf("after the fix: %+v warnings %+v", ov.Backup.Last, ov.Warnings)
	}
}

func TestDailyScheduleAt(t *testing.T) {
	c := BackupConfig{Dir: "x", At: "02:30"}
	// Last backup 2026-03-01 03:00 China time → next 2026-03-02 02:30.
	last := &BackupRecord{OK: true, StartedAt: time.Date(2026, 3, 1, 3, 0, 0, 0, httpapi.ChinaTime)}
	want := time.Date(2026, 3, 2, 2, 30, 0, 0, httpapi.ChinaTime)
	if got := c.nextDue(last, time.Now()); !got.Equal(want) {
		t.Fatalf("next %v, want %v", got, want)
	}
	// Last at 01:00 → same day 02:30.
	last.StartedAt = time.Date(2026, 3, 1, 1, 0, 0, 0, httpapi.ChinaTime)
	if got := c.nextDue(last, time.Now()); !got.Equal(time.Date(2026, 3, 1, 2, 30, 0, 0, httpapi.ChinaTime)) {
		t.Fatalf("next %v", got)
	}
	for _, bad := range [][4]string{{"", "24h", "", "1"}, {"d", "10s", "", "1"}, {"d", "", "25:00", "1"}, {"d", "", "", "-1"}} {
		k, _ := strconv.Atoi(bad[3])
		if ValidateBackupConfig(bad[0], bad[1], bad[2], k) == nil {
			t.Errorf("ValidateBackupConfig%v accepted", bad)
		}
	}
	if err := ValidateBackupConfig("d", "6h", "", 7); err != nil {
		t.Error(err)
	}
}

func TestRetainOrdersByTimeThenIndex(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"yiwang-20260301-100000-9.backup", "yiwang-20260301-100000-10.backup", "yiwang-20260228-235959-99.backup", "other.backup"} {
		os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o600)
	}
	deleted, err := Retain(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 1 || deleted[0] != "yiwang-20260228-235959-99.backup" {
		t.Fatalf("deleted %v", deleted)
	}
	if got := backupNames(t, dir); strings.Join(got, ",") != "yiwang-20260301-100000-10.backup,yiwang-20260301-100000-9.backup" {
		t.Fatalf("left %v", got)
	}
}

// promLine matches one sample line of the text exposition format.
var promLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*")*\})? [-+0-9.eEInfa]+$`)

func TestMetricsEndpoint(t *testing.T) {
	scraper := &httpapi.Principal{Username: "monitor", Permissions: []string{PermMetrics}, TokenKind: "api"}
	viewer := &httpapi.Principal{Username: "viewer", Permissions: []string{"case.read"}}
	m, st := newOps(t, Options{Version: "1.2.3",
		Broker: func() BrokerStatus {
			return BrokerStatus{Running: true, Connections: 3, MessagesIn: 120, MessagesInPerS: 4.5}
		},
		Checks: func() map[string]string {
			return map[string]string{"plugins.decoder": "", "plugins.bad": "trap: out of fuel"}
		}})
	// Something in the search index directory.
	os.MkdirAll(filepath.Join(st.DataDir(), "kb-index"), 0o750)
	os.WriteFile(filepath.Join(st.DataDir(), "kb-index", "seg"), make([]byte, 4096), 0o600)
	r := httpapi.NewRouter(httpapi.Options{})
	r.SetAuthenticator(httpapi.AuthenticatorFunc(func(req *http.Request) (*httpapi.Principal, error) {
		switch req.Header.Get("Authorization") {
		case "Bearer scrape-token":
			return scraper, nil
		case "Bearer viewer":
			return viewer, nil
		case "":
			return nil, nil
		}
		return nil, httpapi.ErrUnauthorized
	}))
	m.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	get := func(auth string) (int, string) {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var sb strings.Builder
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			sb.WriteString(sc.Text() + "\n")
		}
		if resp.StatusCode == 200 && !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
			t.Errorf("content type %q", resp.Header.Get("Content-Type"))
		}
		return resp.StatusCode, sb.String()
	}
	for who, want := range map[string]int{"": 401, "wrong-token": 401, "viewer": 403} {
		if code, _ := get(who); code != want {
			t.Errorf("/metrics as %q: %d, want %d", who, code, want)
		}
	}
	code, body := get("scrape-token")
	if code != 200 {
		t.Fatalf("token: %d %s", code, body)
	}
	values := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if strings.HasPrefix(line, "# HELP ") || strings.HasPrefix(line, "# TYPE ") {
			continue
		}
		if !promLine.MatchString(line) {
			t.Errorf("not a valid sample line: %q", line)
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, _ := strconv.ParseFloat(line[i+1:], 64)
		values[line[:i]] = v
	}
	want := map[string]func(float64) bool{
		`yiwang_raft_state{state="leader"}`:             func(v float64) bool { return v == 1 },
		`yiwang_raft_state{state="follower"}`:           func(v float64) bool { return v == 0 },
		`yiwang_raft_peers`:                             func(v float64) bool { return v == 1 },
		`yiwang_raft_applied_index`:                     func(v float64) bool { return v >= 1 },
		`yiwang_raft_term`:                              func(v float64) bool { return v >= 1 },
		`yiwang_database_bytes`:                         func(v float64) bool { return v > 0 },
		`yiwang_search_index_bytes`:                     func(v float64) bool { return v == 4096 },
		`yiwang_disk_free_bytes{dir="data"}`:            func(v float64) bool { return v > 0 },
		`yiwang_disk_total_bytes{dir="data"}`:           func(v float64) bool { return v > 0 },
		`yiwang_mqtt_connections`:                       func(v float64) bool { return v == 3 },
		`yiwang_mqtt_messages_received_total`:           func(v float64) bool { return v == 120 },
		`yiwang_mqtt_messages_received_per_second`:      func(v float64) bool { return v == 4.5 },
		`yiwang_health_ok{component="plugins.bad"}`:     func(v float64) bool { return v == 0 },
		`yiwang_health_ok{component="plugins.decoder"}`: func(v float64) bool { return v == 1 },
		`yiwang_health_ok{component="store"}`:           func(v float64) bool { return v == 1 },
		`process_resident_memory_bytes`:                 func(v float64) bool { return v > 1<<20 },
		`go_goroutines`:                                 func(v float64) bool { return v > 1 },
		`yiwang_backup_enabled`:                         func(v float64) bool { return v == 0 },
	}
	for k, ok := range want {
		v, present := values[k]
		if !present || !ok(v) {
			t.Errorf("%s = %v (present %v)", k, v, present)
		}
	}
	if !strings.Contains(body, `yiwang_build_info{version="1.2.3",node="test1"`) {
		t.Errorf("build info missing:\n%s", body)
	}
}

func TestDiskWarningLoggedAndPublished(t *testing.T) {
	var logs logBuf
	m := New(Options{Logf: logs.logf, DiskWarnPercent: 0.001})
	st := storetest.New(t, m.Register)
	hub := live.New(st, nil)
	m.opts.Hub = hub
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := hub.Start(ctx); err != nil {
		t.Fatal(err)
	}
	admin := &httpapi.Principal{Username: "admin", Permissions: []string{httpapi.PermSystemAdmin, httpapi.PermLive}, Scope: httpapi.Scope{Kind: httpapi.ScopeAll}}
	r := httpapi.NewRouter(httpapi.Options{})
	r.SetAuthenticator(httpapi.AuthenticatorFunc(func(*http.Request) (*httpapi.Principal, error) { return admin, nil }))
	hub.Routes(r)
	srv := httptest.NewServer(r)
	defer srv.Close()
	defer hub.Close()
	resp, err := http.Get(srv.URL + "/api/v1/events?types=ops.")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	waitFor(t, func() bool { return hub.Connections() == 1 })

	m.checkDisks()
	ev := next(t, events)
	if !strings.Contains(ev, `"type":"ops.warning"`) || !strings.Contains(ev, `"kind":"disk"`) || !strings.Contains(ev, "full") ||
		!strings.Contains(ev, `"title":"`+st.DataDir()+" ") || !strings.Contains(ev, `"used_percent":`) {
		t.Fatalf("warning event %s", ev)
	}
	if !logs.contains("ops: WARNING: the disk of the data directory") {
		t.Fatalf("warning not logged:\n%s", logs.String())
	}
	m.checkDisks() // still full: no second event, no second log line
	if n := strings.Count(logs.String(), "WARNING"); n != 1 {
		t.Fatalf("logged %d times", n)
	}
	ov := m.Collect(ctx)
	if !hasWarning(ov, "disk") {
		t.Fatalf("overview warnings %+v", ov.Warnings)
	}
	m.opts.DiskWarnPercent, m.opts.DiskWarnFree = 100.1, -1
	m.checkDisks()
	ev = next(t, events)
	if !strings.Contains(ev, `"type":"ops.warning_cleared"`) {
		t.Fatalf("cleared event %s", ev)
	}
	if hasWarning(m.Collect(ctx), "disk") {
		t.Fatal("warning still shown")
	}
	// Free-space threshold: more than the disk can have.
	m.opts.DiskWarnFree = 1 << 62
	m.checkDisks()
	if ev = next(t, events); !strings.Contains(ev, "free (warning below") {
		t.Fatalf("free-space warning %s", ev)
	}
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s, ok := <-ch:
		if !ok {
			t.Fatal("event stream ended")
		}
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return ""
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not met within 10s")
}

func hasWarning(ov Overview, kind string) bool {
	for _, w := range ov.Warnings {
		if w.Kind == kind {
			return true
		}
	}
	return false
}

type logBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuf) logf(f string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.WriteString(strings.TrimSpace(sprintf(f, a...)) + "\n")
}

func (l *logBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func (l *logBuf) contains(s string) bool { return strings.Contains(l.String(), s) }

var sprintf = fmt.Sprintf
