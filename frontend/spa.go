package frontend

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// file is one asset held in memory with its precomputed headers.
type file struct {
	data  []byte
	ctype string
	etag  string
	cache string

	// The gzip copy is made on first demand, not at start-up, so that
	// serving the console adds nothing to the server's cold start.
	gzOnce sync.Once
	gz     []byte // gzip-compressed copy when worthwhile, else nil
}

func (f *file) gzipped() []byte {
	f.gzOnce.Do(func() {
		if len(f.data) <= 1024 || !compressible(f.ctype) {
			return
		}
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(f.data)
		_ = zw.Close()
		if b.Len() < len(f.data)*9/10 {
			f.gz = b.Bytes()
		}
	})
	return f.gz
}

type spa struct {
	files map[string]*file // by clean path without leading slash
	index *file
}

var contentTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".ico":         "image/x-icon",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".wasm":        "application/wasm",
	".txt":         "text/plain; charset=utf-8",
	".geojson":     "application/geo+json",
	".webmanifest": "application/manifest+json",
	".mp3":         "audio/mpeg",
	".wav":         "audio/wav",
}

func contentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	if ct, ok := contentTypes[ext]; ok {
		return ct
	}
	if ct := mime.TypeByExtension(ext); ct != "" {
		return ct
	}
	return "application/octet-stream"
}

func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.Contains(ct, "json") || strings.Contains(ct, "svg") || strings.Contains(ct, "javascript") || ct == "application/wasm"
}

// newHandler indexes every file of fsys (an embed FS is already in memory)
// so that headers are computed once.
func newHandler(fsys fs.FS) http.Handler {
	s := &spa{files: map[string]*file{}}
	_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(data)
		f := &file{data: data, ctype: contentType(p), etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		if strings.HasPrefix(p, "assets/") {
			// Vite puts a content hash in every file name under assets/.
			f.cache = "public, max-age=31536000, immutable"
		} else {
			f.cache = "no-cache"
		}
		s.files[p] = f
		return nil
	})
	s.index = s.files["index.html"]
	return s
}

// isAPIPath reports paths that belong to the server, never to the SPA.
func isAPIPath(p string) bool {
	return p == "/api" || strings.HasPrefix(p, "/api/")
}

func (s *spa) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if isAPIPath(r.URL.Path) {
		http.NotFound(w, r)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	f, ok := s.files[name]
	if !ok || name == "" {
		// Client-side routes (no file extension) get index.html; a missing
		// file (an old hashed asset, a typo) is a real 404 so the browser
		// does not parse HTML as JavaScript.
		if path.Ext(name) != "" && name != "index.html" {
			http.NotFound(w, r)
			return
		}
		f = s.index
	}
	if f == nil {
		http.Error(w, "console not built: run `make frontend`", http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", f.cache)
	h.Set("ETag", f.etag)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	if f == s.index {
		h.Set("X-Frame-Options", "SAMEORIGIN")
		h.Set("Referrer-Policy", "same-origin")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && etagMatch(match, f.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.data
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz := f.gzipped(); gz != nil {
			body = gz
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func etagMatch(header, etag string) bool {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		if part == "*" || part == etag || strings.TrimPrefix(part, "W/") == etag {
			return true
		}
	}
	return false
}

func acceptsGzip(ae string) bool {
	for _, part := range strings.Split(ae, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			continue
		}
		params = strings.TrimSpace(params)
		if q, ok := strings.CutPrefix(params, "q="); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(q), 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}
