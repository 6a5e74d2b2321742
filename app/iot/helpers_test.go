package iot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
	"github.com/yiwang/yiwang/store"
)

// needTool skips when an external tool is absent locally and fails in CI.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// recordingOpener is a small real CaseOpener: it numbers cases, is
// idempotent per alarm id like the cases module, and records every call.
type recordingOpener struct {
	mu      sync.Mutex
	next    int64
	byAlarm map[string]int64
	opened  []AlarmCase
	cleared []clearNote
	fail    bool
}

type clearNote struct {
	CaseID    int64
	AlarmID   string
	ClearedAt time.Time
	Note      string
}

func newRecordingOpener() *recordingOpener {
	return &recordingOpener{next: 1000, byAlarm: map[string]int64{}}
}

func (o *recordingOpener) OpenFromAlarm(_ context.Context, a AlarmCase) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail {
		return 0, io.ErrUnexpectedEOF
	}
	if id, ok := o.byAlarm[a.AlarmID]; ok {
		return id, nil
	}
	o.next++
	o.byAlarm[a.AlarmID] = o.next
	o.opened = append(o.opened, a)
	return o.next, nil
}

func (o *recordingOpener) NoteAlarmCleared(_ context.Context, caseID int64, alarmID string, at time.Time, note string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cleared = append(o.cleared, clearNote{caseID, alarmID, at, note})
	return nil
}

func (o *recordingOpener) snapshot() ([]AlarmCase, []clearNote) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]AlarmCase(nil), o.opened...), append([]clearNote(nil), o.cleared...)
}

var adminPrincipal = (&httpapi.Principal{
	UserID: 1, Username: "admin", Name: "管理员", Roles: []string{httpapi.RoleAdmin},
	Permissions: httpapi.PermissionsOf(httpapi.RoleAdmin), Scope: httpapi.Scope{Kind: httpapi.ScopeAll}, TokenKind: "session",
}).Freeze()

// tokenAuth maps bearer tokens to principals (the org module's role in the
// real app).
type tokenAuth map[string]*httpapi.Principal

func (a tokenAuth) Authenticate(r *http.Request) (*httpapi.Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	p, ok := a[strings.TrimPrefix(h, "Bearer ")]
	if !ok {
		return nil, httpapi.ErrUnauthorized
	}
	return p, nil
}

type env struct {
	t      testing.TB
	dir    string
	st     *store.Store
	m      *Module
	hub    *live.Hub
	srv    *httptest.Server
	cases  *recordingOpener
	tokens tokenAuth
	events chan live.Message
}

type envOpts struct {
	dir    string
	mqtt   bool
	cases  *recordingOpener
	tune   func(*Options)
	broker func(*mqtt.Options)
}

// newEnv starts a real store (SQLite files in a temp dir), the module with
// its real broker on 127.0.0.1:0, the live hub and the HTTP API.
func newEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	if o.dir == "" {
		o.dir = t.TempDir()
	}
	if o.cases == nil {
		o.cases = newRecordingOpener()
	}
	st, err := store.New(store.Config{DataDir: o.dir, NodeID: "test1"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: o.dir, st: st, cases: o.cases, tokens: tokenAuth{"admin-token": adminPrincipal}, events: make(chan live.Message, 10000)}
	e.hub = live.New(st, t.Logf)
	e.hub.Heartbeat = time.Second
	opts := Options{
		Hub: e.hub, Sessions: e.tokens, Cases: o.cases, Logf: t.Logf,
		ReconcileInterval: 50 * time.Millisecond, ConnDebounce: 50 * time.Millisecond, LatestInterval: 200 * time.Millisecond,
		ClearSettle: time.Millisecond, TickInterval: time.Hour, PruneInterval: time.Hour,
		OnEvent: func(msg live.Message, _ live.Audience) {
			select {
			case e.events <- msg:
			default:
			}
		},
		Broker: func(bo *mqtt.Options) {
			bo.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
			if o.broker != nil {
				o.broker(bo)
			}
		},
	}
	if o.mqtt {
		opts.MQTT = "127.0.0.1:0"
	}
	if o.tune != nil {
		o.tune(&opts)
	}
	e.m = New(opts)
	e.m.Register(st)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := st.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	r := httpapi.NewRouter(httpapi.Options{Logf: t.Logf})
	r.SetAuthenticator(e.tokens)
	e.m.Routes(r)
	e.hub.Routes(r)
	e.srv = httptest.NewServer(r)
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.srv == nil {
		return
	}
	e.hub.Close()
	e.srv.Close()
	if err := e.m.Stop(); err != nil {
		e.t.Logf("stop: %v", err)
	}
	_ = e.st.Close()
	e.srv = nil
}

func (e *env) addr() string { return e.m.Broker().TCPAddr() }

// call does an API request as admin and decodes the answer into out.
func (e *env) call(method, path string, body any, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer admin-token")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		e.t.Logf("%s %s → %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (e *env) mustCall(method, path string, body any, out any, want int) {
	e.t.Helper()
	if got := e.call(method, path, body, out); got != want {
		e.t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// sse subscribes to the live hub's event stream over HTTP and delivers
// messages on the returned channel.
func (e *env) sse(types string) <-chan live.Message {
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/events?types="+types, nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		e.t.Fatalf("events: %d", resp.StatusCode)
	}
	ch := make(chan live.Message, 10000)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<22)
		for sc.Scan() {
			line := sc.Text()
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				var msg live.Message
				if json.Unmarshal([]byte(d), &msg) == nil {
					ch <- msg
				}
			}
		}
	}()
	return ch
}

func (e *env) createDevice(in DeviceInput) *DeviceCreated {
	e.t.Helper()
	var out DeviceCreated
	e.mustCall("POST", "/api/v1/devices", in, &out, http.StatusCreated)
	return &out
}

func (e *env) alarms(query string) []Alarm {
	e.t.Helper()
	var page httpapi.Page[Alarm]
	e.mustCall("GET", "/api/v1/alarms"+query, nil, &page, 200)
	return page.Items
}

func f64(v float64) *float64 { return &v }
