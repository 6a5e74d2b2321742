// Package desktop is the Wails desktop shell of yiwang (build tag desktop
// for the window; the logic here builds and is tested without it).
//
// Why it is built this way:
//
//   - The window never holds its own copy of the console. A Wails
//     AssetServer handler reverse-proxies every request (index.html, the
//     hashed bundles, /api/...) to a yiwang HTTP server: the one embedded
//     in this process (standalone mode, app.New/Start on 127.0.0.1) or the
//     county server whose URL the user entered (client mode). Login, the
//     API, permissions and the bearer token in localStorage work exactly as
//     in a browser.
//   - The Wails asset server cannot carry WebSocket or streamed responses,
//     so the shell itself reads the server's /api/v1/events SSE stream
//     (Forwarder) and re-emits every message as the Wails runtime event
//     "yw:event", plus "yw:connection" {"state":"open"|"down"} for the
//     console's red "server unreachable" banner. The stream is opened with
//     the user's own token, which the proxy learns from the login answer or
//     from the Authorization header the console sends, so the user sees
//     only events of their data scope.
//   - The mode is chosen on first start on a small page served by the shell
//     itself (/__yw/desktop/), remembered in the user's config dir
//     (Settings), and can be overridden by flags or YIWANG_DESKTOP_*
//     variables so tests never meet the chooser.
//   - Native notifications for new alarms and 督办/催办 go through the
//     freedesktop D-Bus notification service on Linux (Wails v2 has no
//     notification API) and a PowerShell toast on Windows.
//
// The server binary never imports this package; deps_test.go checks that
// `go list -deps .` of the server contains no github.com/wailsapp package.
package desktop
