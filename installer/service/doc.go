// Package service installs, removes, starts, stops and queries yiwang as an
// operating-system service, and runs `yiwang serve` under a service manager.
//
// Two back ends share one API (Manager):
//
//   - systemd on Linux: Install writes NAME.service into /etc/systemd/system,
//     creates the service account and the data directory when asked, then runs
//     `systemctl daemon-reload` and `systemctl enable`. The unit text comes from
//     SystemdUnit, the same renderer that produced installer/linux/yiwang.service
//     shipped in the .deb and .rpm (a test keeps the two identical), so a
//     bare-binary install and a package install run under the same hardening.
//   - the Windows service control manager (golang.org/x/sys/windows/svc/mgr):
//     an automatic-start service running as LocalSystem with restart-on-failure
//     recovery actions.
//
// Any other system gets ErrUnsupported from New.
//
// The CLI (`yiwang service install|uninstall|start|stop|status`) builds a Config,
// calls New and one method. `yiwang serve` wraps its lifetime in Run, which
// speaks the Windows service protocol when started by the service control
// manager and otherwise stops on SIGINT/SIGTERM:
//
//	err := service.Run("yiwang", func(ctx context.Context) error {
//		a, err := app.New(cfg)
//		if err != nil {
//			return err
//		}
//		if err := a.Start(); err != nil {
//			return err
//		}
//		<-ctx.Done()
//		return a.Close()
//	})
//
// The CLI contract the packages rely on (the NSIS setup runs these):
//
//	yiwang service install [--data DIR]   → New(Config{DataDir: DIR, ...}).Install()
//	yiwang service start|stop|uninstall   → Start / Stop / Uninstall
//	yiwang service status                 → Status, printed; exit 0 when running
//
// The CLI should build the Config with BareConfig(DIR): the running
// executable, and on Linux the system user "yiwang" (created if missing) so a
// bare-binary install runs unprivileged like the packaged one. PackageConfig
// describes the .deb/.rpm service (/usr/bin/yiwang) and is not for bare
// installs; Install refuses to shadow a unit the package installed.
// ErrNotInstalled should map to a clear message and a non-zero exit.
//
// Everything here is pure Go (CGO_ENABLED=0); the rendering and argument
// building are plain functions so they are tested on Linux, while the Windows
// back end is at least cross-compiled and vetted (GOOS=windows go vet).
package service
