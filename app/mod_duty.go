package app

import (
	"github.com/yiwang/yiwang/app/duty"
	"github.com/yiwang/yiwang/app/httpapi"
)

// 值班值守: roster, handovers, group messages (app/duty).
func init() {
	registerModule("duty", func(a *App) httpapi.Module {
		return duty.New(duty.Options{Org: a.Org(), Cases: a.Cases(), IoT: a.IoT(), Hub: a.Hub(), Logf: a.Logf})
	})
}
