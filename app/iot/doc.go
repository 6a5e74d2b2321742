// Package iot is the sensors module (物联感知): the device registry with
// per-device credentials, the telemetry store with rollups and retention,
// alarm rules and the alarm lifecycle, online/offline tracking, downlink
// commands, and the embedded MQTT broker's authenticator and sink.
//
// # Why it is built this way
//
// Telemetry is the one high-volume write in yiwang. The broker batches
// readings (up to 1000, or 5 ms) and Module.WriteBatch turns each batch into
// one telemetry.batch command, registered with store.NoLogPayload so the
// command log keeps only its hash. The payload is columnar (names once,
// parallel arrays). The handler inserts readings with multi-row INSERTs
// (100 rows per statement; per-statement overhead dominates single-row
// inserts) into a WITHOUT ROWID table keyed (device, metric, ts), whose
// primary key is also the order every query wants. In the same transaction
// it updates the latest value per device and metric, marks devices seen and
// evaluates alarm rules. A QoS 1 redelivery is ignored (ON CONFLICT DO
// NOTHING … RETURNING tells which rows are new).
//
// Rollups (1 minute, 1 hour) are derived state with a watermark
// (iot_meta.rollup_wm): the leader's telemetry.rollup command (every second)
// folds the raw readings in [watermark, 10 s ago) into iot_rollup, series by
// series through the primary key, and moves the watermark. Readings that
// arrive late (before the watermark) are folded in by telemetry.batch
// itself, so rollups stay exact; queries take buckets before the watermark
// from iot_rollup and aggregate the rest from the raw table. This keeps the
// hot path at two row writes per reading instead of four. Retention is per
// metric (raw N days, rollups longer); telemetry.prune carries cut-offs the
// leader computed, and always runs after a rollup.
//
// Alarm state lives in SQLite (iot_rule_state: pending-since for duration
// rules, last value for rate rules, the open alarm) and changes in the
// transaction of the readings that caused it, so it is identical on every
// node and survives restarts and leader changes. Rules: threshold (gt, ge,
// lt, le, with hysteresis or an explicit clear threshold), range, rate of
// change per minute, duration ("above 3.0 m for 5 min": the condition must
// hold in reading time), and no-data (evaluated by the leader's iot.tick).
// Lifecycle active → acknowledged → cleared. A rule re-triggering within its
// debounce of clearing re-opens the same alarm (flaps counted), so a
// flapping sensor keeps one alarm and one case.
//
// Cases are opened through the CaseOpener interface (the composition root
// adapts the cases module); this package never touches cases tables. It is
// an outbox: an alarm whose rule names a case category keeps case_id NULL
// until a leader-only reconciler has called OpenFromAlarm (idempotent per
// alarm id) and recorded the link with alarm.link_case; a cleared alarm that
// stayed cleared for ClearSettle has the clear noted with NoteAlarmCleared
// and alarm.case_noted. A new leader simply continues with what is pending.
//
// Handlers are deterministic: times are the command's (tx.Now), ids come
// from tx.NewID, and the in-memory caches of devices and rules the handler
// uses are keyed by the store index of the last registry / rule change
// (unique per command, so a cache loaded in a rolled-back transaction can
// never pass for another state).
//
// Connection events from the broker are collected for ConnDebounce and
// recorded as one device.conn command with the last state per device. The
// leader issues iot.tick (inactivity per device type → offline + offline
// alarm; no-data rules), telemetry.rollup and telemetry.prune (per-series
// cut-offs computed from the retention settings at the leader's clock, so
// every node deletes the same rows).
//
// Secrets are random, shown once, stored as argon2id; verified credentials
// are cached (HMAC of the secret under a per-process key, bound to the
// stored hash) so CONNECT storms do not burn CPU. Console sessions connect
// over MQTT/WebSocket with the org module's token validation and see only
// the devices in their data scope.
//
// Events for consoles (alarm.raised, alarm.acknowledged, alarm.cleared,
// device.status, device.updated, device.command, telemetry.latest) are
// published on the live hub with the device's department and grid as
// audience; see events.go for why they are not hub classifiers.
package iot
