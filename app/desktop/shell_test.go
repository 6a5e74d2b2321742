package desktop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// do sends one request through the window's handler, as the webview would
// (origin wails://wails).
func do(t *testing.T, h http.Handler, method, path, token, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, "wails://wails"+path, rd)
	req.Header.Set("Origin", "wails://wails")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if !strings.HasPrefix(path, "/api") {
		req.Header.Set("Accept", "text/html")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

type notes struct {
	mu  sync.Mutex
	got []string
}

func (n *notes) Notify(title, body string) error {
	n.mu.Lock()
	n.got = append(n.got, title)
	n.mu.Unlock()
	return nil
}

// TestStandaloneShell runs the real embedded server (app.New/Start) in a
// temp data dir behind the shell's handler: first-run setup and login go
// through the proxy, the proxy learns the token, and a write made through
// the API comes back as a "yw:event" runtime event from the SSE stream.
func TestStandaloneShell(t *testing.T) {
	dir := t.TempDir()
	rec := newRecorder()
	sh, err := NewShell(Options{
		SettingsPath: filepath.Join(dir, "desktop.json"),
		Env:          []string{"YIWANG_DESKTOP_MODE=standalone", "YIWANG_DESKTOP_DATA=" + filepath.Join(dir, "data"), "YIWANG_DESKTOP_MQTT=127.0.0.1:0"},
		Logf:         t.Logf,
		Out:          io.Discard,
		Notifier:     &notes{},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sh.Close()
	sh.SetEmitter(rec.emit)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sh.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sh.BaseURL(), "http://127.0.0.1:") {
		t.Fatalf("standalone server at %q, want loopback", sh.BaseURL())
	}
	h := sh.Handler()

	// The console: "/" is index.html as served (Wails injects its runtime
	// there); a client route gets the runtime injected by the proxy.
	resp, body := do(t, h, "GET", "/", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `<div id="app"`) || strings.Contains(body, "/wails/runtime.js") {
		t.Fatalf("GET /: %d %.300s", resp.StatusCode, body)
	}
	resp, body = do(t, h, "GET", "/login", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `<script src="/wails/runtime.js"></script>`) {
		t.Fatalf("GET /login: %d %.300s", resp.StatusCode, body)
	}

	// First-run setup through the proxy (the server sees 127.0.0.1, and
	// the wails:// Origin does not trip its CSRF check).
	resp, body = do(t, h, "POST", "/api/setup", "", `{"county_name":"测试县","username":"admin","password":"Desk-top-2026!"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("setup: %d %s", resp.StatusCode, body)
	}
	var login struct{ Token string }
	if err := json.Unmarshal([]byte(body), &login); err != nil || login.Token == "" {
		t.Fatalf("setup answer %s", body)
	}
	if got := sh.Forwarder().Token(); got != login.Token {
		t.Fatalf("the forwarder has token %q, want the login's", got)
	}
	// Log in again: the new token replaces the old one.
	resp, body = do(t, h, "POST", "/api/v1/auth/login", "", `{"username":"admin","password":"Desk-top-2026!"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	_ = json.Unmarshal([]byte(body), &login)
	if sh.Forwarder().Token() != login.Token {
		t.Fatal("the token of the second login was not picked up")
	}
	resp, body = do(t, h, "GET", "/api/v1/me", login.Token, "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"admin"`) {
		t.Fatalf("me: %d %s", resp.StatusCode, body)
	}

	// Live: the forwarder opens /api/v1/events with the token; a write
	// comes back as yw:event.
	if s := connState(t, rec.next(t, EventConnection)); s != "open" {
		t.Fatalf("link %q", s)
	}
	time.Sleep(300 * time.Millisecond) // let the stream subscribe
	resp, body = do(t, h, "POST", "/api/v1/departments", login.Token, `{"name":"县应急管理局","kind":"bureau"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create department: %d %s", resp.StatusCode, body)
	}
	ev := rec.next(t, EventLive).(liveEvent)
	if ev.Type == "" || ev.Index == 0 {
		t.Fatalf("live event %+v", ev)
	}
	t.Logf("live event through the shell: %s index %d %s", ev.Type, ev.Index, ev.Data)

	// Logout clears the token: no stream without a user.
	do(t, h, "POST", "/api/v1/auth/logout", login.Token, "")
	if sh.Forwarder().Token() != "" {
		t.Fatal("token kept after logout")
	}
	// A refused token (the old one, still in localStorage) is not taken.
	if resp, _ := do(t, h, "GET", "/api/v1/me", login.Token, ""); resp.StatusCode != 401 {
		t.Fatalf("old token: %d", resp.StatusCode)
	}
	if sh.Forwarder().Token() != "" {
		t.Fatal("a token the server refused was given to the forwarder")
	}
	// An accepted one from the console's requests is (a reload after the
	// forwarder dropped its token).
	_, body = do(t, h, "POST", "/api/v1/auth/login", "", `{"username":"admin","password":"Desk-top-2026!"}`)
	_ = json.Unmarshal([]byte(body), &login)
	sh.Forwarder().SetToken("")
	if resp, _ := do(t, h, "GET", "/api/v1/me", login.Token, ""); resp.StatusCode != 200 || sh.Forwarder().Token() != login.Token {
		t.Fatalf("accepted token not picked up: %d", resp.StatusCode)
	}
}

// TestChooserRemembersClientMode: without a mode the window shows the
// chooser; choosing client mode with a reachable server saves it, and the
// next start goes straight to that server.
func TestChooserRemembersClientMode(t *testing.T) {
	var hits sync.Map
	county := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		switch r.URL.Path {
		case "/api/health":
			w.Write([]byte(`{"state":"leader"}`))
		default:
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte(`<!doctype html><html><head><title>county</title></head><body><div id="app"></div></body></html>`))
		}
	}))
	defer county.Close()
	path := filepath.Join(t.TempDir(), "desktop.json")
	sh, err := NewShell(Options{SettingsPath: path, Logf: t.Logf, Notifier: &notes{}, Env: []string{"YIWANG_DESKTOP_MQTT=127.0.0.1:0"}})
	if err != nil {
		t.Fatal(err)
	}
	h := sh.Handler()
	resp, body := do(t, h, "GET", "/", "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `action="/__yw/desktop/choose"`) {
		t.Fatalf("first start: %d %.200s", resp.StatusCode, body)
	}
	if resp, _ := do(t, h, "GET", "/api/v1/me", "", ""); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("API before a mode: %d", resp.StatusCode)
	}

	form := func(v string) *http.Request {
		r := httptest.NewRequest("POST", "wails://wails/__yw/desktop/choose", strings.NewReader(v))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, form("mode=client&server_url=127.0.0.1:1"))
	if w.Code != 400 || !strings.Contains(w.Body.String(), "无法连接") {
		t.Fatalf("unreachable server accepted: %d %.300s", w.Code, w.Body.String())
	}
	w = httptest.NewRecorder()
	h.ServeHTTP(w, form("mode=client&server_url="+county.URL+"/"))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `url=/`) {
		t.Fatalf("choose: %d %s", w.Code, w.Body.String())
	}
	if err := sh.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, body := do(t, h, "GET", "/cases", "", ""); !strings.Contains(body, "<title>county</title>") || !strings.Contains(body, "/wails/runtime.js") {
		t.Fatalf("client mode page: %s", body)
	}
	sh.Close()

	saved, err := LoadSettings(path)
	if err != nil || saved.Mode != ModeClient || saved.ServerURL != county.URL || saved.MQTT != "" {
		t.Fatalf("saved %+v, %v", saved, err)
	}
	sh2, err := NewShell(Options{SettingsPath: path, Logf: t.Logf, Notifier: &notes{}})
	if err != nil {
		t.Fatal(err)
	}
	defer sh2.Close()
	if err := sh2.WaitReady(context.Background()); err != nil || sh2.BaseURL() != county.URL {
		t.Fatalf("second start: %q, %v", sh2.BaseURL(), err)
	}

	// The server goes away: navigations get the retrying page, the API a
	// JSON 503 the console understands.
	county.Close()
	resp, body = do(t, sh2.Handler(), "GET", "/screen", "", "")
	if resp.StatusCode != 503 || !strings.Contains(body, "正在重连") || !strings.Contains(body, `http-equiv="refresh"`) {
		t.Fatalf("server away page: %d %.300s", resp.StatusCode, body)
	}
	resp, body = do(t, sh2.Handler(), "GET", "/api/v1/me", "x", "")
	if resp.StatusCode != 503 || !strings.Contains(body, `"unavailable"`) {
		t.Fatalf("server away API: %d %s", resp.StatusCode, body)
	}
}

func TestInjectRuntime(t *testing.T) {
	got := string(InjectRuntime([]byte(`<!doctype html><html><HEAD><title>x</title></head></html>`)))
	if !strings.Contains(got, `<HEAD><script src="/wails/runtime.js"></script><script src="/wails/ipc.js"></script><title>`) {
		t.Fatal(got)
	}
	if again := string(InjectRuntime([]byte(got))); again != got {
		t.Fatal("injected twice")
	}
}
