package app

import (
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/kb"
)

func init() {
	registerModule("kb", func(a *App) httpapi.Module {
		return kb.New(kb.Options{DataDir: a.Config().Data, Logf: a.Logf})
	})
}

// KB is the knowledge-base module (nil if not registered).
func (a *App) KB() *kb.Module {
	for _, m := range a.modules {
		if k, ok := m.(*kb.Module); ok {
			return k
		}
	}
	return nil
}
