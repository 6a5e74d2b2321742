package frontend

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

var testFS = fstest.MapFS{
	"index.html":              {Data: []byte("<!doctype html><div id=app></div>")},
	"favicon.svg":             {Data: []byte("<svg/>")},
	"assets/index-AbC123.js":  {Data: []byte(strings.Repeat("console.log('yiwang');\n", 200))},
	"assets/index-Xyz789.css": {Data: []byte("body{margin:0}")},
}

func get(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestSPAHandler(t *testing.T) {
	h := newHandler(testFS)
	tests := []struct {
		name        string
		method      string
		path        string
		status      int
		ctype       string
		cache       string
		bodyContain string
	}{
		{"root serves index", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", "id=app"},
		{"index.html itself", "GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache", "id=app"},
		{"hashed js asset", "GET", "/assets/index-AbC123.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "yiwang"},
		{"hashed css asset", "GET", "/assets/index-Xyz789.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "margin"},
		{"public file not hashed", "GET", "/favicon.svg", 200, "image/svg+xml", "no-cache", "<svg/>"},
		{"client route falls back", "GET", "/cases/overdue", 200, "text/html; charset=utf-8", "no-cache", "id=app"},
		{"screen route falls back", "GET", "/screen?x=1", 200, "text/html; charset=utf-8", "no-cache", "id=app"},
		{"deep route with dots in query", "GET", "/system/users?q=a.b", 200, "text/html; charset=utf-8", "no-cache", "id=app"},
		{"missing asset is 404", "GET", "/assets/index-old.js", 404, "", "", ""},
		{"missing file with extension is 404", "GET", "/robots.txt", 404, "", "", ""},
		{"api not swallowed", "GET", "/api/v1/cases", 404, "", "", ""},
		{"api root not swallowed", "GET", "/api", 404, "", "", ""},
		{"api health not swallowed", "GET", "/api/health", 404, "", "", ""},
		{"path traversal stays inside", "GET", "/../../etc/passwd", 200, "text/html; charset=utf-8", "no-cache", "id=app"},
		{"head works", "HEAD", "/assets/index-AbC123.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", ""},
		{"post refused", "POST", "/", 405, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := get(t, h, tc.method, tc.path, nil)
			if rec.Code != tc.status {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tc.status, rec.Body.String())
			}
			if tc.ctype != "" && rec.Header().Get("Content-Type") != tc.ctype {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), tc.ctype)
			}
			if tc.cache != "" && rec.Header().Get("Cache-Control") != tc.cache {
				t.Errorf("Cache-Control = %q, want %q", rec.Header().Get("Cache-Control"), tc.cache)
			}
			if tc.bodyContain != "" && !strings.Contains(rec.Body.String(), tc.bodyContain) {
				t.Errorf("body %q does not contain %q", rec.Body.String(), tc.bodyContain)
			}
			if tc.method == "HEAD" && rec.Body.Len() != 0 {
				t.Errorf("HEAD returned a body")
			}
		})
	}
}

func TestSPAGzipAndETag(t *testing.T) {
	h := newHandler(testFS)
	rec := get(t, h, "GET", "/assets/index-AbC123.js", map[string]string{"Accept-Encoding": "gzip, br"})
	if rec.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("want gzip encoding, got %q", rec.Header().Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if string(plain) != string(testFS["assets/index-AbC123.js"].Data) {
		t.Fatal("gzip body does not decode to the asset")
	}
	if rec := get(t, h, "GET", "/assets/index-AbC123.js", map[string]string{"Accept-Encoding": "gzip;q=0"}); rec.Header().Get("Content-Encoding") != "" {
		t.Fatal("gzip;q=0 must not get gzip")
	}
	etag := rec.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if rec := get(t, h, "GET", "/assets/index-AbC123.js", map[string]string{"If-None-Match": etag}); rec.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", rec.Code)
	}
}

// TestEmbeddedDist checks the committed build: index.html is there, the
// assets it references are served with long caching, and routes fall back.
func TestEmbeddedDist(t *testing.T) {
	if !Included {
		t.Skip("built with no_ui")
	}
	h := Handler()
	rec := get(t, h, "GET", "/", nil)
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `<div id="app">`) {
		t.Fatalf("index: %d %q", rec.Code, rec.Body.String())
	}
	body := rec.Body.String()
	i := strings.Index(body, `src="/assets/`)
	if i < 0 {
		t.Fatal("index.html references no /assets/ script")
	}
	src := body[i+5:]
	src = src[:strings.IndexByte(src, '"')]
	a := get(t, h, "GET", src, nil)
	if a.Code != 200 || a.Header().Get("Content-Type") != "text/javascript; charset=utf-8" || !strings.Contains(a.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("asset %s: %d %q %q", src, a.Code, a.Header().Get("Content-Type"), a.Header().Get("Cache-Control"))
	}
	if r := get(t, h, "GET", "/screen", nil); r.Code != 200 || r.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("/screen fallback: %d", r.Code)
	}
	if r := get(t, h, "GET", "/api/v1/me", nil); r.Code != 404 {
		t.Fatalf("/api/v1/me: %d, want 404", r.Code)
	}
}

func TestSPAConcurrentGzip(t *testing.T) {
	h := newHandler(testFS)
	done := make(chan int, 8)
	for i := 0; i < 8; i++ {
		go func() {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/assets/index-AbC123.js", nil)
			req.Header.Set("Accept-Encoding", "gzip")
			h.ServeHTTP(rec, req)
			done <- rec.Body.Len()
		}()
	}
	first := <-done
	for i := 1; i < 8; i++ {
		if n := <-done; n != first || n == 0 {
			t.Fatalf("concurrent gzip bodies differ: %d vs %d", n, first)
		}
	}
}
