package app

import (
	"net/http"
	"runtime/debug"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// version is set at build time:
// go build -ldflags "-X github.com/yiwang/yiwang/app.version=1.2.3"
var version = ""

// Version is the build's version (module version or VCS revision when not
// set at build time).
func Version() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			return bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return "dev"
}

// Health is GET /api/health.
type Health struct {
	store.Status
	Version    string `json:"version"`
	NeedsSetup bool   `json:"needs_setup"`
}

func (a *App) systemRoutes(r *httpapi.Router) {
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/health", Public: true, Tags: []string{"system"},
		Summary: "Node health: raft state, leader, applied index (no authentication)", Response: Health{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			h := Health{Status: a.st.Status(), Version: Version()}
			h.Nodes = nil // membership is for administrators
			h.NeedsSetup, _ = a.org.NeedsSetup(r.Context())
			status := http.StatusOK
			if h.Halted != "" || h.State == "shutdown" {
				status = http.StatusServiceUnavailable
			}
			return httpapi.JSON(w, status, h)
		}})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/admin/backup", Perm: httpapi.PermSystemAdmin, Tags: []string{"system"},
		Summary: "Stream an online, consistent backup of the database", ResponseContentType: "application/octet-stream",
		NoTimeout: true, Handler: func(w http.ResponseWriter, r *http.Request) error {
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Disposition", `attachment; filename="yiwang.backup"`)
			_, err := a.st.Backup(r.Context(), w)
			return err
		}})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/admin/cluster", Perm: httpapi.PermSystemAdmin, Tags: []string{"system"},
		Summary: "Cluster status with members", Response: store.Status{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			return httpapi.JSON(w, http.StatusOK, a.st.Status())
		}})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/admin/cluster/nodes/{id}", Perm: httpapi.PermSystemAdmin, Tags: []string{"system"},
		Summary: "Remove a member from the cluster", Status: http.StatusNoContent,
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			id := r.PathValue("id")
			var v httpapi.Validator
			v.Text("id", id, 1, 64)
			if err := v.Err(); err != nil {
				return err
			}
			if err := a.st.RemoveNode(r.Context(), id); err != nil {
				return err
			}
			return httpapi.NoContent(w)
		}})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/permissions", Tags: []string{"system"},
		Summary: "The permission catalogue", Response: []httpapi.Permission{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			return httpapi.JSON(w, http.StatusOK, httpapi.Permissions())
		}})
}
