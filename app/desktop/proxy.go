package desktop

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// Proxy forwards the window's requests to a yiwang server and learns the
// user's token on the way (from the login/setup answer and from the
// Authorization header the console sends after a reload).
type Proxy struct {
	// OnToken is called when the token changes ("" after logout).
	OnToken func(string)
	// Logf logs every request ("desktop: proxy GET /path 200").
	Logf func(string, ...any)

	mu     sync.RWMutex
	target *url.URL
	token  string
	rp     *httputil.ReverseProxy
	once   sync.Once
}

// SetTarget sets the server's base URL.
func (p *Proxy) SetTarget(base string) error {
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.target = u
	p.mu.Unlock()
	return nil
}

// Target is the server's base URL, nil before SetTarget.
func (p *Proxy) Target() *url.URL {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return p.target
}

// setToken passes the token on; OnToken (Forwarder.SetToken) ignores a
// token it already has, and takes back one it dropped after a 401.
func (p *Proxy) setToken(tok string) {
	p.mu.Lock()
	p.token = tok
	p.mu.Unlock()
	if p.OnToken != nil {
		p.OnToken(tok)
	}
}

func (p *Proxy) init() {
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			t := pr.In.Context().Value(targetKey{}).(*url.URL)
			pr.SetURL(t)
			pr.Out.Host = t.Host
			// The window's origin is wails://wails; the server's CSRF
			// check compares Origin with Host. The request is the user's
			// own (bearer token), so present it as same-origin.
			pr.Out.Header.Del("Origin")
			pr.Out.Header.Del("Referer")
			// Let the transport negotiate gzip and hand us plain bodies:
			// Wails injects its runtime into index.html.
			pr.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: p.modifyResponse,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.logf("desktop: proxy %s %s: %v", r.Method, r.URL.Path, err)
			serverAway(w, r, err)
		},
		FlushInterval: -1,
	}
}

type targetKey struct{}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.once.Do(p.init)
	t := p.Target()
	if t == nil {
		serverAway(w, r, nil)
		return
	}
	rec := &statusRecorder{ResponseWriter: w, code: 200}
	ctx := r.Context()
	r = r.WithContext(contextWith(ctx, targetKey{}, t))
	p.rp.ServeHTTP(rec, r)
	p.logf("desktop: proxy %s %s %d", r.Method, r.URL.Path, rec.code)
	// A token the server accepted (the console sends it from localStorage
	// after a reload) is the user's: the event stream uses it too.
	if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok && tok != "" &&
		rec.code < 400 && strings.HasPrefix(r.URL.Path, "/api/v1/") && !strings.HasSuffix(r.URL.Path, "/auth/logout") {
		p.setToken(tok)
	}
}

func (p *Proxy) logf(format string, args ...any) {
	if p.Logf != nil {
		p.Logf(format, args...)
	}
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	req := resp.Request
	path := req.URL.Path
	switch {
	case req.Method == "POST" && (strings.HasSuffix(path, "/api/v1/auth/login") || strings.HasSuffix(path, "/api/setup")) && resp.StatusCode/100 == 2:
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		var out struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(b, &out) == nil && out.Token != "" {
			p.setToken(out.Token)
		}
	case req.Method == "POST" && strings.HasSuffix(path, "/api/v1/auth/logout"):
		p.setToken("")
	}
	// Client routes (/login, /cases...) answer index.html too; Wails
	// injects its runtime only into "/" and "*/index.html", so a reload on
	// a client route would lose window.runtime: inject it here.
	if req.Method == "GET" && resp.StatusCode == 200 && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") &&
		!strings.HasSuffix(path, "/") && !strings.HasSuffix(path, "/index.html") {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		b = InjectRuntime(b)
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		resp.Header.Del("ETag")
	}
	return nil
}

// InjectRuntime adds the Wails runtime scripts after <head> unless present.
func InjectRuntime(html []byte) []byte {
	if bytes.Contains(html, []byte("/wails/runtime.js")) {
		return html
	}
	const tags = `<script src="/wails/runtime.js"></script><script src="/wails/ipc.js"></script>`
	i := bytes.Index(bytes.ToLower(html), []byte("<head>"))
	if i < 0 {
		return html
	}
	i += len("<head>")
	out := make([]byte, 0, len(html)+len(tags))
	out = append(out, html[:i]...)
	out = append(out, tags...)
	return append(out, html[i:]...)
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// serverAway answers when the server cannot be reached: JSON for the API
// (the console shows its banner), a retrying page for navigations.
func serverAway(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/api") || !acceptsHTML(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"the yiwang server cannot be reached"}}`))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	renderPage(w, awayPage, map[string]string{"Error": msg})
}

func acceptsHTML(r *http.Request) bool {
	a := r.Header.Get("Accept")
	return a == "" || strings.Contains(a, "text/html") || r.URL.Path == "/" || !strings.Contains(r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], ".")
}
