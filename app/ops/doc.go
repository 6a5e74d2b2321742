// Package ops is the operations side of a yiwang node: the figures an
// administrator watches (GET /metrics in the Prometheus text format and
// GET /api/v1/admin/ops for the console's operations page), warnings before
// the data disk fills, and scheduled, verified backups with retention.
//
// # Why it is built this way
//
// Figures are read when asked. Nothing is sampled in the background except
// the disk check: a scrape or a page load reads the store's raft status, the
// broker's counters and the sizes on disk at that moment, so the numbers
// cannot go stale and an idle node does no work. The Prometheus text format
// is written by hand (metrics.go): it is a few lines per family and saves a
// dependency tree.
//
// /metrics is authenticated like every route: it needs the permission
// system.metrics (administrators and integrators hold it). A scraper uses an
// API token limited to that one permission (yiwang token create --scope
// system.metrics), so a leaked scrape credential reads figures and nothing
// else, and can be revoked like any token.
//
// Disk warnings are edge-triggered: crossing the threshold (used percent or
// free bytes) logs once, publishes a transient live event "ops.disk_warning"
// to administrators and keeps the warning in the ops overview until the disk
// is back under the threshold ("ops.disk_ok"). While it lasts the log repeats
// hourly so a journal reader cannot miss it.
//
// Scheduled backups run on the leader only. Whether one is due is decided
// from the replicated backup history (table ops_backup, command
// ops.backup.record), so after a leader change the new leader neither
// repeats a backup nor forgets one. Each file is written as NAME.partial,
// checked with store.VerifyBackup (header, size, SHA-256, integrity_check,
// index) and only then renamed; a failure is recorded with its message and
// logged, so the console shows it. Retention keeps the newest backup_keep
// files named yiwang-*.backup in the backup directory of the node that
// wrote them and deletes older ones; files of other names are never touched.
package ops
