package app

import (
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/pluginhost"
)

// The plugin host module: installed WebAssembly plugins (decoders, event
// hooks, cron jobs), replicated through the store. YIWANG_PLUGIN_CACHE
// overrides the compilation cache directory (default DATA/plugins-cache;
// tests share one across servers so a module is compiled once).
func init() {
	registerModule("plugins", func(a *App) httpapi.Module {
		m, err := pluginhost.New(pluginhost.Options{IoT: a.IoT(), Cases: a.Cases(), CacheDir: envValue(nil, "YIWANG_PLUGIN_CACHE"), Logf: a.logf})
		if err != nil {
			panic("app: plugins module: " + err.Error()) // only when wired after the iot module registered: a programming error
		}
		return m
	})
}
