package httpapi

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/yiwang/yiwang/store"
)

// HandlerFunc handles a request; a returned error is written as the error
// envelope (if nothing was written yet).
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Param documents a query parameter a handler reads itself.
type Param struct {
	Name        string
	Description string
	Type        string // "string" (default), "integer", "boolean"
	Required    bool
}

// Route is one entry of the route table.
type Route struct {
	Method      string // GET, POST, PATCH, PUT, DELETE
	Path        string // ServeMux path pattern, e.g. /api/v1/users/{id}
	Summary     string
	Description string
	Tags        []string
	// Perm is the permission required. Empty on a non-Public route means
	// any authenticated principal.
	Perm string
	// Public routes need no authentication (the principal is still set
	// when credentials are given).
	Public bool
	// Request and Response are zero values of the body types, for the
	// OpenAPI document. Nil means no body / no JSON response.
	Request  any
	Response any
	// Status is the success status (200 by default).
	Status int
	// Query documents extra query parameters; List documents the list ones.
	Query []Param
	List  *ListSpec
	// RequestContentType / ResponseContentType for non-JSON bodies (e.g.
	// an .xlsx upload or text/event-stream).
	RequestContentType  string
	ResponseContentType string
	// MaxBody overrides DefaultMaxBody (bytes).
	MaxBody int64
	// NoTimeout marks streaming routes (SSE, downloads) that must not be
	// cut by the server's write timeout.
	NoTimeout bool
	Handler   HandlerFunc
}

// Authenticator resolves the credentials of a request. It returns (nil, nil)
// when the request carries none, and an error (e.g. ErrUnauthorized) when it
// carries invalid ones.
type Authenticator interface {
	Authenticate(r *http.Request) (*Principal, error)
}

// AuthenticatorFunc adapts a function.
type AuthenticatorFunc func(r *http.Request) (*Principal, error)

// Authenticate implements Authenticator.
func (f AuthenticatorFunc) Authenticate(r *http.Request) (*Principal, error) { return f(r) }

// Options configure a Router.
type Options struct {
	Title   string
	Version string
	Logf    func(format string, args ...any)
	// AccessLog, when set, receives one line per API request.
	AccessLog func(format string, args ...any)
}

// Router is the HTTP front of yiwang: the route table, the ServeMux built
// from it and raw mounts (console, cluster internals).
type Router struct {
	opts   Options
	mux    *http.ServeMux
	mu     sync.RWMutex
	routes []Route
	mounts map[string]bool
	auth   Authenticator
}

// NewRouter returns an empty router. It serves /api/openapi.json itself.
func NewRouter(opts Options) *Router {
	if opts.Title == "" {
		opts.Title = "yiwang API"
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	rt := &Router{opts: opts, mux: http.NewServeMux(), mounts: map[string]bool{}}
	rt.Handle(Route{
		Method: "GET", Path: "/api/openapi.json", Public: true, Tags: []string{"meta"},
		Summary: "OpenAPI 3 description of this API", Response: map[string]any{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Cache-Control", "no-cache")
			return JSON(w, http.StatusOK, rt.OpenAPI())
		},
	})
	return rt
}

// SetAuthenticator installs the authenticator (package org provides it).
func (rt *Router) SetAuthenticator(a Authenticator) {
	rt.mu.Lock()
	rt.auth = a
	rt.mu.Unlock()
}

// Logf logs through the router's logger.
func (rt *Router) Logf(format string, args ...any) { rt.opts.Logf(format, args...) }

// Handle adds a route. It panics on a malformed route (a programming error).
func (rt *Router) Handle(r Route) {
	if r.Handler == nil || r.Method == "" || !strings.HasPrefix(r.Path, "/") || r.Summary == "" {
		panic(fmt.Sprintf("httpapi: incomplete route %s %s", r.Method, r.Path))
	}
	if r.Perm != "" && !IsPermission(r.Perm) {
		panic(fmt.Sprintf("httpapi: route %s %s uses undefined permission %q", r.Method, r.Path, r.Perm))
	}
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	rt.mu.Lock()
	rt.routes = append(rt.routes, r)
	rt.mu.Unlock()
	route := r
	rt.mux.Handle(r.Method+" "+r.Path, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rt.serveRoute(w, req, &route)
	}))
}

// Mount serves a raw handler under a path prefix (e.g. "/" for the console,
// "/api/internal/cluster/" for the store). Mounted handlers are not in the
// OpenAPI document and do their own authentication.
func (rt *Router) Mount(prefix string, h http.Handler) {
	rt.mu.Lock()
	rt.mounts[prefix] = true
	rt.mu.Unlock()
	rt.mux.Handle(prefix, h)
}

// Routes returns a copy of the route table, sorted by path then method.
func (rt *Router) Routes() []Route {
	rt.mu.RLock()
	out := append([]Route(nil), rt.routes...)
	rt.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Path != out[j].Path {
			return out[i].Path < out[j].Path
		}
		return out[i].Method < out[j].Method
	})
	return out
}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// ServeHTTP dispatches a request.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := rt.mux.Handler(r)
	isAPI := strings.HasPrefix(r.URL.Path, "/api/")
	rt.mu.RLock()
	mounted := rt.mounts[pattern]
	rt.mu.RUnlock()
	if isAPI && (pattern == "" || (mounted && pattern == "/")) {
		rt.notFound(w, r)
		return
	}
	rt.mux.ServeHTTP(w, r)
}

// notFound answers 404 or 405 (with Allow) as JSON for API paths.
func (rt *Router) notFound(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range methods {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := rt.mux.Handler(r2); p != "" && p != "/" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		WriteError(w, &store.Error{Code: CodeMethodNotAllowed, Message: "method " + r.Method + " not allowed"}, nil)
		return
	}
	WriteError(w, &store.Error{Code: CodeNotFound, Message: "no such endpoint: " + r.URL.Path}, nil)
}

// statusWriter records the status for the access log and whether a
// response was started.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.n += int64(n)
	return n, err
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		if s.status == 0 {
			s.status = http.StatusOK
		}
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (rt *Router) serveRoute(w http.ResponseWriter, r *http.Request, route *Route) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	h := sw.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			rt.opts.Logf("httpapi: panic in %s %s: %v\n%s", r.Method, r.URL.Path, v, debug.Stack())
			if sw.status == 0 {
				WriteError(sw, fmt.Errorf("panic: %v", v), nil)
			}
		}
		if rt.opts.AccessLog != nil {
			rt.opts.AccessLog("%s %s %d %dB %s", r.Method, r.URL.RequestURI(), sw.status, sw.n, time.Since(start).Round(time.Microsecond))
		}
	}()
	if route.NoTimeout {
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{})
	}
	limit := route.MaxBody
	if limit == 0 {
		limit = DefaultMaxBody
	}
	if r.Body != nil {
		if r.ContentLength > limit {
			WriteError(sw, &store.Error{Code: CodeTooLarge, Message: fmt.Sprintf("request body larger than %d bytes", limit)}, nil)
			return
		}
		r.Body = http.MaxBytesReader(sw, r.Body, limit)
	}

	rt.mu.RLock()
	auth := rt.auth
	rt.mu.RUnlock()
	var p *Principal
	if auth != nil {
		var err error
		p, err = auth.Authenticate(r)
		if err != nil && !route.Public {
			WriteError(sw, err, rt.opts.Logf)
			return
		}
	}
	if !route.Public {
		if p == nil {
			WriteError(sw, ErrUnauthorized, nil)
			return
		}
		if route.Perm != "" && !p.Can(route.Perm) {
			WriteError(sw, &store.Error{Code: CodeForbidden, Message: "permission " + route.Perm + " required"}, nil)
			return
		}
		if p.ViaCookie && !safeMethod(r.Method) && !sameOrigin(r) {
			WriteError(sw, &store.Error{Code: CodeForbidden, Message: "cross-origin request refused"}, nil)
			return
		}
	}
	if p != nil {
		r = r.WithContext(WithPrincipal(r.Context(), p))
	}
	if err := route.Handler(sw, r); err != nil {
		if sw.status != 0 {
			rt.opts.Logf("httpapi: %s %s: error after response started: %v", r.Method, r.URL.Path, err)
			return
		}
		WriteError(sw, err, rt.opts.Logf)
	}
}

func safeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// sameOrigin accepts requests without Origin (same-origin navigations and
// non-browser clients) and those whose Origin host equals Host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	if err != nil {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// IsLoopback tells whether the request's peer is on this machine (for
// first-run setup). It uses the TCP peer, never forwarded headers.
func IsLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// PathInt64 parses a positive integer path value.
func PathInt64(r *http.Request, name string) (int64, error) {
	s := r.PathValue(name)
	var n int64
	if s == "" || len(s) > 18 {
		return 0, FieldError(name, "must be a positive integer")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, FieldError(name, "must be a positive integer")
		}
		n = n*10 + int64(c-'0')
	}
	if n <= 0 {
		return 0, FieldError(name, "must be a positive integer")
	}
	return n, nil
}
