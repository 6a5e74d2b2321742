package app

import (
	"github.com/yiwang/yiwang/app/dashboard"
	"github.com/yiwang/yiwang/app/httpapi"
)

// The command-centre screen and its indicators (app/dashboard).
func init() {
	registerModule("dashboard", func(a *App) httpapi.Module {
		return dashboard.New(dashboard.Options{Org: a.Org(), IoT: a.IoT(), Cases: a.Cases(), Projects: a.Projects(), Hub: a.Hub(), Logf: a.Logf})
	})
}
