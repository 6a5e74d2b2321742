package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/audit"
	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/demo"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/investment"
	"github.com/yiwang/yiwang/app/iot"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/app/projects"
	"github.com/yiwang/yiwang/frontend"
	"github.com/yiwang/yiwang/store"
)

// Console serves the embedded web console at "/". It is a variable so the
// server builds whatever state the frontend package is in, and tests can
// replace it.
var Console func() http.Handler = frontend.Handler

// App is one running yiwang node: store, modules, HTTP server.
type App struct {
	cfg  Config
	logf func(string, ...any)
	out  io.Writer // where one-time demo passwords are printed

	lock     *dirLock
	st       *store.Store
	router   *httpapi.Router
	org      *org.Module
	hub      *live.Hub
	demo     *demo.Module
	modules  []httpapi.Module
	localKey string

	cases      *cases.Module
	iot        *iot.Module
	projects   *projects.Module
	investment *investment.Module

	srv    *http.Server
	ln     net.Listener
	cancel context.CancelFunc
	done   chan struct{}
}

// Options tune New beyond Config (mostly for tests).
type Options struct {
	Logf func(string, ...any)
	// Out receives the demo accounts (default os.Stdout).
	Out io.Writer
	// Listener, when set, is used instead of listening on Config.HTTP.
	Listener net.Listener
}

// New wires a node. Nothing listens and the store is not started until
// Start. The sequence is linear on purpose: read it top to bottom.
func New(cfg Config, opts Options) (*App, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	a := &App{cfg: cfg, logf: opts.Logf, out: opts.Out, ln: opts.Listener}
	if a.logf == nil {
		l := log.New(os.Stderr, "", log.LstdFlags)
		a.logf = l.Printf
	}
	if a.out == nil {
		a.out = os.Stdout
	}

	// 1. Own the data directory: one process at a time.
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	lock, err := lockDataDir(cfg.Data)
	if err != nil {
		return nil, err
	}
	a.lock = lock

	// 2. The store (not started yet).
	raftTLS, err := cfg.raftTLS()
	if err != nil {
		lock.release()
		return nil, err
	}
	st, err := store.New(store.Config{
		RaftTLS: raftTLS,
		DataDir: cfg.Data, NodeID: cfg.NodeID,
		RaftAddr: cfg.Raft, RaftAdvertise: cfg.RaftAdvertise,
		HTTPAdvertise: a.httpAdvertise(), JoinURL: cfg.Join, Secret: cfg.ClusterSecret,
		Logf: a.logf,
	})
	if err != nil {
		lock.release()
		return nil, err
	}
	a.st = st

	// 3. The local admin key lets `yiwang backup|token` on this machine talk
	// to this server without a user account.
	a.localKey = "ywl_" + randomString(32)

	// 4. Modules: org first (it authenticates everyone), then the others.
	a.org = org.New(org.Options{Logf: a.logf, LocalKey: a.localKey})
	a.hub = live.New(st, a.logf)
	a.demo = demo.New()
	a.modules = []httpapi.Module{
		a.org,
		audit.New(a.actorNames),
		a.demo,
	}
	a.modules = append(a.modules, domainModules(a)...)
	for _, m := range a.modules {
		m.Register(st)
	}

	// 5. The router: every module's routes, the live stream, system routes,
	// the cluster internals and the console.
	accessLog := func(string, ...any) {}
	if cfg.AccessLog {
		accessLog = a.logf
	}
	a.router = httpapi.NewRouter(httpapi.Options{Title: "yiwang 一网统管 API", Version: Version(), Logf: a.logf, AccessLog: accessLog})
	for _, m := range a.modules {
		m.Routes(a.router)
	}
	a.hub.Routes(a.router)
	a.org.LiveClassifiers(a.hub)
	a.systemRoutes(a.router)
	a.globalSearchRoute(a.router)
	a.router.Mount("/api/internal/cluster/", st.HTTPHandler())
	a.router.Mount("/", Console())
	return a, nil
}

// domainModules lists the domain modules beyond org and audit. Add new
// modules here (one line each); they get what they need from a.
func domainModules(a *App) []httpapi.Module {
	a.cases = cases.New(cases.Options{Org: a.org, Hub: a.hub, Logf: a.logf})
	a.projects = projects.New(projects.Options{Org: a.org, SLA: a.cases.SLA(), Logf: a.logf}) // problem list on the cases module's shared sla scheduler
	a.iot = iot.New(iot.Options{MQTT: a.cfg.MQTT, MQTTTLS: a.cfg.mqttTLSAddr(), Hub: a.hub, Sessions: a.org, Cases: caseAdapter{a.cases}, ClearSettle: iotClearSettle, Logf: a.logf})
	a.investment = investment.New(investment.Options{Org: a.org, Projects: a.projects, Logf: a.logf})
	mods := []httpapi.Module{a.iot, a.cases, a.projects, a.investment}
	for _, e := range extraModules {
		mods = append(mods, e.new(a))
	}
	return mods
}

// Store, Org, Hub, Cases, IoT, Projects and Investment give extra modules
// (registerModule) the core pieces they build on.
func (a *App) Cases() *cases.Module            { return a.cases }
func (a *App) IoT() *iot.Module                { return a.iot }
func (a *App) Projects() *projects.Module      { return a.projects }
func (a *App) Investment() *investment.Module  { return a.investment }
func (a *App) Config() Config                  { return a.cfg }
func (a *App) Logf(format string, args ...any) { a.logf(format, args...) }

func (a *App) httpAdvertise() string {
	if a.cfg.HTTPAdvertise != "" {
		return a.cfg.HTTPAdvertise
	}
	scheme := "http"
	if a.cfg.TLSCert != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(a.cfg.HTTP)
	if err != nil {
		return ""
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Handler is the full HTTP handler (for tests and the desktop shell).
func (a *App) Handler() http.Handler { return a.router }

// Router exposes the route table (OpenAPI tests).
func (a *App) Router() *httpapi.Router { return a.router }

// Store is the node's store.
func (a *App) Store() *store.Store { return a.st }

// Org is the org module.
func (a *App) Org() *org.Module { return a.org }

// Hub is the live event hub.
func (a *App) Hub() *live.Hub { return a.hub }

// LocalKey is the secret of the local admin key.
func (a *App) LocalKey() string { return a.localKey }

// StartStore starts the store and the modules without serving HTTP (used
// by offline commands and by Start).
func (a *App) StartStore(ctx context.Context) error {
	if err := a.st.Start(ctx); err != nil {
		return fmt.Errorf("start store: %w", err)
	}
	mctx, cancel := context.WithCancel(context.Background())
	a.cancel = cancel
	for _, m := range a.modules {
		if s, ok := m.(httpapi.Starter); ok {
			if err := s.Start(mctx); err != nil {
				return fmt.Errorf("start %s: %w", m.Name(), err)
			}
		}
	}
	return a.hub.Start(mctx)
}

// Start starts the store, the modules and the HTTP server, seeds the demo
// county when asked, and returns once the server listens.
func (a *App) Start(ctx context.Context) error {
	if err := a.StartStore(ctx); err != nil {
		return err
	}
	if a.cfg.Demo {
		if err := a.seedDemo(ctx); err != nil {
			return err
		}
	}
	ln := a.ln
	if ln == nil {
		var err error
		ln, err = net.Listen("tcp", a.cfg.HTTP)
		if err != nil {
			return fmt.Errorf("listen on %s: %w", a.cfg.HTTP, err)
		}
		a.ln = ln
	}
	a.srv = &http.Server{
		Handler:           a.router,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(logWriter{a.logf}, "http: ", 0),
	}
	a.srv.RegisterOnShutdown(a.hub.Close)
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		var err error
		if a.cfg.TLSCert != "" {
			err = a.srv.ServeTLS(ln, a.cfg.TLSCert, a.cfg.TLSKey)
		} else {
			err = a.srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.logf("http: %v", err)
		}
	}()
	if err := a.writeRunFiles(); err != nil {
		a.logf("warning: %v", err)
	}
	return nil
}

type logWriter struct{ logf func(string, ...any) }

func (w logWriter) Write(p []byte) (int, error) {
	w.logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// URL is the base URL the server answers on.
func (a *App) URL() string {
	if a.ln == nil {
		return ""
	}
	scheme := "http"
	if a.cfg.TLSCert != "" {
		scheme = "https"
	}
	addr := a.ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Close shuts down gracefully: streams end, in-flight requests finish (up to
// 10 s), modules stop, the store closes, the data dir is released.
func (a *App) Close() error {
	var errs []error
	a.removeRunFiles()
	if a.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		a.hub.Close()
		if err := a.srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = a.srv.Close()
		}
		cancel()
		<-a.done
	}
	if a.cancel != nil {
		a.cancel()
	}
	for i := len(a.modules) - 1; i >= 0; i-- {
		if s, ok := a.modules[i].(httpapi.Stopper); ok {
			if err := s.Stop(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if a.st != nil {
		if err := a.st.Close(); err != nil && !strings.Contains(err.Error(), "not started") {
			errs = append(errs, err)
		}
	}
	if a.lock != nil {
		a.lock.release()
	}
	return errors.Join(errs...)
}

// actorNames resolves "user:N" actors for the audit log.
func (a *App) actorNames(ctx context.Context, actors []string) map[string]string {
	return a.org.ActorNames(ctx, actors)
}

// Run files let the yiwang command find a running server on this machine.
const (
	runDir     = "run"
	runURLFile = "http-url"
	runKeyFile = "local-key"
)

func (a *App) writeRunFiles() error {
	dir := filepath.Join(a.cfg.Data, runDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, runKeyFile), []byte(a.localKey), 0o600); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, runURLFile), []byte(a.URL()), 0o600)
}

func (a *App) removeRunFiles() {
	dir := filepath.Join(a.cfg.Data, runDir)
	os.Remove(filepath.Join(dir, runKeyFile))
	os.Remove(filepath.Join(dir, runURLFile))
}

func (a *App) seedDemo(ctx context.Context) error {
	return a.demo.Seed(ctx, demo.Deps{Store: a.st, Org: a.org, Out: a.out, Logf: a.logf})
}
