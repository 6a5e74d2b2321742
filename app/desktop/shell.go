package desktop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yiwang/yiwang/app"
)

// Options configure a Shell.
type Options struct {
	// SettingsPath is the remembered settings file (DefaultSettingsPath()).
	SettingsPath string
	// Env overrides settings (YIWANG_DESKTOP_*), normally os.Environ().
	Env []string
	// Override, applied after Env, e.g. from command-line flags.
	Override func(*Settings)
	Logf     func(string, ...any)
	// Out receives the demo accounts of a demo standalone server.
	Out io.Writer
	// SmokeReport, when set, is the file the DOM probe posted by the
	// window is written to (scripts/desktop-smoke.sh).
	SmokeReport string
	// Notifier shows native notifications (default: the platform's).
	Notifier Notifier
}

// Shell is the desktop app without its window: settings, the embedded or
// remote server, the proxy the window loads through, the event forwarder.
type Shell struct {
	opts     Options
	logf     func(string, ...any)
	proxy    *Proxy
	fwd      *Forwarder
	notifier Notifier

	mu       sync.Mutex
	settings Settings
	saved    Settings // as in the file, without env and flag overrides
	emit     Emitter
	app      *app.App
	ready    chan struct{} // closed when the backend started (or failed)
	startErr error
	cancel   context.CancelFunc
	// lastProbe is the last DOM probe (logged when it changes).
	lastProbe string
}

// NewShell loads the settings and, when a mode is known, starts the
// backend in the background.
func NewShell(opts Options) (*Shell, error) {
	if opts.SettingsPath == "" {
		opts.SettingsPath = DefaultSettingsPath()
	}
	s := &Shell{opts: opts, logf: opts.Logf, notifier: opts.Notifier}
	if s.logf == nil {
		s.logf = log.New(os.Stderr, "", log.LstdFlags).Printf
	}
	if s.notifier == nil {
		s.notifier = platformNotifier(s.logf)
	}
	st, err := LoadSettings(opts.SettingsPath)
	if err != nil {
		s.logf("desktop: %v (starting with the mode chooser)", err)
	}
	s.saved = st
	st.ApplyEnv(opts.Env)
	if opts.Override != nil {
		opts.Override(&st)
	}
	s.settings = st
	s.fwd = &Forwarder{Emit: s.emitEvent, OnEvent: s.onEvent, Logf: s.logf, Verbose: opts.SmokeReport != ""}
	s.proxy = &Proxy{OnToken: s.fwd.SetToken, Logf: s.logf}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.fwd.Run(ctx)
	if st.Mode != "" {
		if err := st.Validate(); err != nil {
			s.logf("desktop: settings: %v (starting with the mode chooser)", err)
			s.settings.Mode = ""
		} else {
			s.startBackend(st)
		}
	}
	return s, nil
}

// SetEmitter connects the shell to the window's runtime events.
func (s *Shell) SetEmitter(e Emitter) {
	s.mu.Lock()
	s.emit = e
	s.mu.Unlock()
}

func (s *Shell) emitEvent(name string, data any) {
	s.mu.Lock()
	e := s.emit
	s.mu.Unlock()
	if e != nil {
		e(name, data)
	}
}

func (s *Shell) onEvent(typ string, data json.RawMessage) {
	if title, body, ok := NotificationFor(typ, data); ok {
		if err := s.notifier.Notify(title, body); err != nil {
			s.logf("desktop: notification: %v", err)
		}
	}
}

// Settings returns the settings in use.
func (s *Shell) Settings() Settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// Forwarder is the live-event forwarder (tests).
func (s *Shell) Forwarder() *Forwarder { return s.fwd }

// BaseURL is the server the window talks to ("" before a mode is chosen).
func (s *Shell) BaseURL() string {
	if t := s.proxy.Target(); t != nil {
		return t.String()
	}
	return ""
}

// WaitReady waits until the backend has started; it returns its error.
func (s *Shell) WaitReady(ctx context.Context) error {
	s.mu.Lock()
	ready := s.ready
	s.mu.Unlock()
	if ready == nil {
		return errors.New("desktop: no mode chosen yet")
	}
	select {
	case <-ready:
	case <-ctx.Done():
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.startErr
}

func (s *Shell) startBackend(st Settings) {
	ready := make(chan struct{})
	s.mu.Lock()
	s.ready, s.startErr = ready, nil
	s.mu.Unlock()
	go func() {
		defer close(ready)
		base, a, err := s.openBackend(st)
		s.mu.Lock()
		s.app, s.startErr = a, err
		s.mu.Unlock()
		if err != nil {
			s.logf("desktop: %v", err)
			return
		}
		_ = s.proxy.SetTarget(base)
		s.fwd.SetBase(base)
		s.logf("desktop: %s mode, server %s", st.Mode, base)
	}()
}

func (s *Shell) openBackend(st Settings) (string, *app.App, error) {
	if st.Mode == ModeClient {
		return st.ServerURL, nil, nil
	}
	cfg := app.DefaultConfig()
	cfg.Data = st.DataDir
	if cfg.Data == "" {
		cfg.Data = DefaultDataDir()
	}
	cfg.HTTP = "127.0.0.1:0"
	if st.HTTP != "" {
		cfg.HTTP = st.HTTP
	}
	if st.MQTT != "" {
		cfg.MQTT = st.MQTT
	}
	cfg.Demo = st.Demo
	a, err := app.New(cfg, app.Options{Logf: s.logf, Out: s.opts.Out})
	if err != nil {
		return "", nil, fmt.Errorf("standalone server (data %s): %w", cfg.Data, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		_ = a.Close()
		return "", nil, fmt.Errorf("standalone server (data %s): %w", cfg.Data, err)
	}
	s.logf("desktop: standalone server on %s, data %s, MQTT %s", a.URL(), cfg.Data, cfg.MQTT)
	return a.URL(), a, nil
}

func (s *Shell) stopBackend() {
	s.mu.Lock()
	a, ready := s.app, s.ready
	s.mu.Unlock()
	if ready != nil {
		<-ready
	}
	s.mu.Lock()
	a = s.app
	s.app, s.ready, s.startErr = nil, nil, nil
	s.mu.Unlock()
	s.fwd.SetToken("")
	s.fwd.SetBase("")
	s.proxy.mu.Lock()
	s.proxy.target, s.proxy.token = nil, ""
	s.proxy.mu.Unlock()
	if a != nil {
		if err := a.Close(); err != nil {
			s.logf("desktop: closing the standalone server: %v", err)
		}
	}
}

// Close stops the forwarder and the embedded server.
func (s *Shell) Close() error {
	s.cancel()
	s.stopBackend()
	return nil
}

// Handler is what the window loads: the shell's own pages under
// /__yw/desktop/, everything else proxied to the server.
func (s *Shell) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /__yw/desktop/{$}", s.serveChooser)
	mux.HandleFunc("POST /__yw/desktop/choose", s.serveChoose)
	mux.HandleFunc("GET /__yw/desktop/reset", s.serveReset)
	mux.HandleFunc("POST /__yw/desktop/probe", s.serveProbe)
	mux.HandleFunc("/", s.serveProxy)
	return mux
}

func (s *Shell) serveChooser(w http.ResponseWriter, r *http.Request) {
	st := s.Settings()
	s.renderChooser(w, http.StatusOK, st, "")
}

func (s *Shell) renderChooser(w http.ResponseWriter, code int, st Settings, msg string) {
	if st.DataDir == "" {
		st.DataDir = DefaultDataDir()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	renderPage(w, choosePage, map[string]string{"Mode": st.Mode, "ServerURL": st.ServerURL, "DataDir": st.DataDir, "Error": msg})
}

func (s *Shell) serveChoose(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	st := s.Settings()
	st.Mode = r.PostFormValue("mode")
	st.ServerURL = r.PostFormValue("server_url")
	if err := st.Validate(); err != nil {
		s.renderChooser(w, http.StatusBadRequest, st, err.Error())
		return
	}
	if st.Mode == ModeClient {
		f := &Forwarder{}
		if !f.probe(r.Context(), st.ServerURL) {
			s.renderChooser(w, http.StatusBadRequest, st, "无法连接 "+st.ServerURL+"，请检查地址。Cannot reach "+st.ServerURL+"/api/health: check the address.")
			return
		}
	}
	s.stopBackend()
	s.mu.Lock()
	s.settings = st
	// Remember the choice, not this run's overrides.
	s.saved.Mode, s.saved.ServerURL = st.Mode, st.ServerURL
	save := s.saved
	s.mu.Unlock()
	if err := SaveSettings(s.opts.SettingsPath, save); err != nil {
		s.logf("desktop: saving settings: %v", err)
	}
	s.startBackend(st)
	goHome(w)
}

func (s *Shell) serveReset(w http.ResponseWriter, r *http.Request) {
	s.stopBackend()
	s.mu.Lock()
	s.settings.Mode = ""
	s.saved.Mode = ""
	st, save := s.settings, s.saved
	s.mu.Unlock()
	if err := SaveSettings(s.opts.SettingsPath, save); err != nil {
		s.logf("desktop: saving settings: %v", err)
	}
	s.renderChooser(w, http.StatusOK, st, "")
}

func goHome(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `<!doctype html><html><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"></head><body></body></html>`)
}

func (s *Shell) serveProxy(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	mode, ready := s.settings.Mode, s.ready
	s.mu.Unlock()
	if mode == "" || ready == nil {
		if strings.HasPrefix(r.URL.Path, "/api") {
			serverAway(w, r, errors.New("no mode chosen yet"))
			return
		}
		s.serveChooser(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
	err := s.WaitReady(ctx)
	cancel()
	if err != nil {
		serverAway(w, r, err)
		return
	}
	s.proxy.ServeHTTP(w, r)
}

// SmokeProbeJS is run in the window by the smoke mode: it reports what the
// page shows to /__yw/desktop/probe.
// It also counts the "yw:event" runtime events the page receives (the
// smoke mode emits a "desktop.smoke" event every second), which proves the
// Go→page event path of the live updates.
const SmokeProbeJS = `(function(){try{if(window.runtime&&window.runtime.EventsOn&&!window.__ywSmoke){window.__ywSmoke={n:0,live:0};` +
	`window.runtime.EventsOn('yw:event',function(e){window.__ywSmoke.n++;window.__ywSmoke.last=JSON.stringify(e).slice(0,200);if(e&&e.type!=='desktop.smoke')window.__ywSmoke.live++})}` +
	`var r={path:location.pathname,title:document.title,events:(window.__ywSmoke&&window.__ywSmoke.n)||0,live:(window.__ywSmoke&&window.__ywSmoke.live)||0,` +
	`last:(window.__ywSmoke&&window.__ywSmoke.last)||'',banner:!!document.querySelector('[data-testid=connection-banner]'),` +
	`password:!!document.querySelector('input[type=password]'),inputs:document.querySelectorAll('input').length,` +
	`buttons:document.querySelectorAll('button').length,runtime:!!(window.runtime&&window.runtime.EventsOn),` +
	`text:((document.body&&document.body.innerText)||'').slice(0,400)};` +
	`fetch('/__yw/desktop/probe',{method:'POST',headers:{'Content-Type':'application/json'},body:JSON.stringify(r)})}catch(e){}})()`

func (s *Shell) serveProbe(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	s.mu.Lock()
	changed := !sameProbe(string(b), s.lastProbe)
	s.lastProbe = string(b)
	s.mu.Unlock()
	if changed {
		s.logf("desktop: dom %s", b)
	}
	if s.opts.SmokeReport != "" {
		if err := os.WriteFile(s.opts.SmokeReport+".tmp", b, 0o644); err == nil {
			_ = os.Rename(s.opts.SmokeReport+".tmp", s.opts.SmokeReport)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

// ProbePath is the page path of the last DOM probe ("" before one).
func (s *Shell) ProbePath() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p struct{ Path string }
	_ = json.Unmarshal([]byte(s.lastProbe), &p)
	return p.Path
}

// SmokeLoginJS logs in through the API as the console would and opens the
// workbench (smoke tests of a logged-in window).
func SmokeLoginJS(user, password string) string {
	body, _ := json.Marshal(map[string]string{"username": user, "password": password})
	return `fetch('/api/v1/auth/login',{method:'POST',headers:{'Content-Type':'application/json'},body:` + strconv.Quote(string(body)) + `})` +
		`.then(function(r){return r.json()}).then(function(j){if(j.token){localStorage.setItem('yw_token',j.token);location.href='/'}})`
}

// SmokeChooseJS fills and submits the first-start chooser: "standalone"
// or "client=URL".
func SmokeChooseJS(choice string) string {
	mode, server, _ := strings.Cut(choice, "=")
	return `(function(){var f=document.querySelector('form[action="/__yw/desktop/choose"]');if(!f)return;` +
		`f.querySelector('input[value=` + strconv.Quote(mode) + `]').checked=true;` +
		`f.querySelector('input[name=server_url]').value=` + strconv.Quote(server) + `;f.submit()})()`
}

// sameProbe compares two DOM probes ignoring the event counter.
func sameProbe(a, b string) bool {
	strip := func(s string) string {
		var m map[string]any
		if json.Unmarshal([]byte(s), &m) != nil {
			return s
		}
		delete(m, "events")
		delete(m, "live")
		delete(m, "last")
		out, _ := json.Marshal(m)
		return string(out)
	}
	return strip(a) == strip(b)
}
