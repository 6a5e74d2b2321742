//go:build !no_ui

package frontend

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed all:dist
var distFS embed.FS

// Included reports whether the console is built into this binary.
const Included = true

// Handler serves the embedded console.
func Handler() http.Handler {
	sub, err := fs.Sub(distFS, "dist")
	if err != nil {
		panic("frontend: " + err.Error())
	}
	return newHandler(sub)
}
