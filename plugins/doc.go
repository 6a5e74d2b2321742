// Package plugins is yiwang's plugin host: sandboxed WebAssembly plugins
// that integrators build with the standard Go toolchain (GOOS=wasip1,
// package plugins/sdk) and that extend a county's yiwang without rebuilding
// it and without being able to harm it.
//
// # Why it is built this way
//
//   - wazero (pure Go, no cgo) runs the modules. Each plugin gets its own
//     wazero.Runtime so its memory limit (WithMemoryLimitPages) is its own;
//     all runtimes share one compilation cache (NewCompilationCacheWithDir),
//     so a module is compiled once per content and wazero version, even
//     across restarts.
//   - WASI gets nothing: no preopened directories (os.Open fails with
//     EBADF), no sockets, no args or env, stdout/stderr go to the plugin's
//     log ring. The clock is wazero's fake one (a fixed instant) unless the
//     plugin holds the "clock" permission. Anything else a plugin can do
//     goes through the "yiwang" host module, and each capability is a
//     manifest permission the admin approved.
//   - Every call runs under a deadline. wazero's WithCloseOnContextDone
//     would do it, but it leaves native code for Go at every loop header,
//     and Go-compiled wasm enters a loop at every function call: it made
//     the example decoder 5-10x slower. So the host rewrites the module at
//     load (instrument.go): every 1024 loop headers the guest calls its own
//     WASI sched_yield import, which the host implements per instance and
//     which aborts the call once the watchdog (context.AfterFunc on the
//     call's deadline) has fired. That also keeps the Go runtime able to
//     stop the world for GC while a guest computes. Modules the rewriter
//     cannot handle fall back to WithCloseOnContextDone.
//   - A call that traps, panics (a Go panic prints to stderr and executes
//     "unreachable"), calls proc_exit, runs out of memory or times out is a
//     failure: the instance is thrown away (its state may be corrupt), the
//     failure is counted and logged with the first stderr lines, and after
//     Config.MaxFailures consecutive failures the plugin is disabled
//     (Config.OnDisable tells the app). Errors a plugin reports itself (a
//     malformed frame) are counted separately and do not disable it.
//   - Concurrency: instance pooling. A Go guest is single-threaded, so one
//     instance serves one call at a time; a plugin has up to
//     Config.MaxInstances (default GOMAXPROCS) instances created on demand
//     and reused, so decoders scale with cores while a slow plugin can only
//     block its own calls. Guest globals are per instance and may vanish
//     when an instance is recycled: durable state belongs in the KV store.
//   - Install is split for replication. Validate (leader) parses the
//     package, checks the signature against Config.TrustedKeys or the
//     explicit unsigned override, the ABI, the permissions against the
//     admin's Approval and compiles the module, changing nothing. The app
//     stores a Record (package bytes + approval + enabled) through a
//     replicated store command; every node then calls Load(Record), which
//     re-checks and loads it. Upgrade is Load of a newer Record of the same
//     name; KV data is keyed by plugin name, so it survives.
//   - The package never imports app or store: it declares KVStore,
//     Publisher, Cases, AuditSink and EventSource, which app implements.
//
// # Wiring (app)
//
//	host, err := plugins.New(plugins.Config{
//		CacheDir:    filepath.Join(dataDir, "plugins-cache"),
//		TrustedKeys: cfg.PluginKeys,
//		KV:          pluginKV{store},      // replicated: commands plugin.kv_set / kv_delete
//		Publisher:   brokerPublisher{mqtt}, // topic already checked by the host
//		Cases:       caseActions{cases},    // actor "plugin:NAME"
//		Audit:       auditHTTP{audit},
//		IsLeader:    store.IsLeader,        // hooks and cron once per cluster
//		OnDisable:   func(name, why string) { /* apply plugin.disable */ },
//	})
//	// start-up and the plugin.install/upgrade command handler's post-commit event, on every node:
//	host.Load(ctx, rec)
//	host.Attach(eventSource, nil) // post-commit domain events → hooks
//	host.Start()                  // cron
//	// broker ingest, for a device whose type has a decoder:
//	tel, err := host.Decode(ctx, device.Type, payload)
//	// admin API: host.Validate (leader, before storing the Record), List, Get,
//	// Logs, Enable, Disable, Remove, RunJob; Close on shutdown.
//
// See ABI.md for the guest/host calling convention and docs/plugins.md for
// the integrator's guide.
package plugins
