// Package dashboard serves the command-centre screen (一屏观全域) and its
// configurable city vital-sign indicators (城市体征).
//
// # Why it is built this way
//
// The screen is one GET (/api/v1/dashboard/screen) the console refetches on
// live events and every 30 s, so it must be cheap and it must not own data:
// every figure is read through the other modules' Go APIs (iot: metric
// aggregates, hourly trends, device counts, recent alarms; cases: open cases
// by township, funnel, overdue list, counts; projects: status board; org:
// township polygons and names). The module never reads their tables.
//
// Only the indicator configuration is the module's own state: a row per
// indicator (metric, aggregation, window, threshold, unit), changed through
// store commands (dashboard.indicator_create/update/delete) so every node
// agrees and the command log audits who changed a threshold.
//
// A metric is either a telemetry metric name (water_level, pm25, ...),
// aggregated across devices (optionally of one device type) from their
// latest values or from the readings of a window, or a built-in count:
// alarms.active, cases.open, cases.overdue, cases.today, cases.closed_today,
// devices.online_ratio, devices.online. Indicators are county-wide vital
// signs; the rest of the screen (alarms, map counts, funnel, overdue list,
// projects, devices) follows the caller's data scope.
//
// Live: a store subscriber notes which indicators a committed command may
// have changed (a telemetry batch carrying their metric, a case or alarm
// command) and a single worker recomputes those and publishes
// indicator.updated {key,value,status} through the live hub at once, so a
// reading shows on the wall within a fraction of a second instead of
// waiting for iot's telemetry.latest round.
package dashboard
