// Package frontend embeds the built web console (frontend/dist, committed so
// that `go build` never needs Node) and serves it as a single-page app.
//
// Handler serves hashed assets under /assets/ with a one-year immutable cache,
// index.html (and any client-side route without a file extension) with
// no-cache so a new release is picked up at once, and answers 404 for /api
// paths so the application's mux, not the SPA fallback, decides about them.
// Build with `-tags no_ui` to leave the console out (embed_noui.go).
package frontend
