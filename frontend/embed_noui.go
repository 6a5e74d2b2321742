//go:build no_ui

package frontend

import "net/http"

// Included reports whether the console is built into this binary.
const Included = false

const noUIPage = `<!doctype html><html lang="zh-CN"><meta charset="utf-8"><title>yiwang</title>
<body style="font-family:sans-serif;margin:3em">
<h1>控制台未包含在此版本中</h1><p>This yiwang binary was built with the <code>no_ui</code> tag: the web console was left out. The API is available under <code>/api/</code>.</p>
</body></html>`

// Handler answers every non-API path with a short page saying the console
// was left out of this build; /api paths get 404 so the app's mux decides.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPIPath(r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(noUIPage))
	})
}
