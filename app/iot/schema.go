package iot

// Schema. Times of readings are Unix milliseconds (INTEGER): the telemetry
// tables are the hot path and integer keys are smaller and faster than text.
// Registry times use the same representation so comparisons are uniform.
var migrations = []string{
	`CREATE TABLE iot_meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
	INSERT INTO iot_meta(key, value) VALUES ('devices_version', 0), ('rules_version', 0);

	CREATE TABLE iot_device(
		id TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		type TEXT NOT NULL,
		model TEXT NOT NULL DEFAULT '',
		supplier TEXT NOT NULL DEFAULT '',
		implementer TEXT NOT NULL DEFAULT '',
		owner_dept_id INTEGER,
		grid_code TEXT NOT NULL DEFAULT '',
		address TEXT NOT NULL DEFAULT '',
		lat REAL, lng REAL,
		component_id TEXT NOT NULL DEFAULT '',
		gateway_id TEXT NOT NULL DEFAULT '',
		is_gateway INTEGER NOT NULL DEFAULT 0,
		status TEXT NOT NULL DEFAULT 'offline',
		connected INTEGER NOT NULL DEFAULT 0,
		last_seen INTEGER,
		status_at INTEGER,
		offline_alarm TEXT NOT NULL DEFAULT '',
		secret_hash TEXT NOT NULL,
		secret_rotated_at INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		created_by TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX iot_device_grid ON iot_device(grid_code);
	CREATE INDEX iot_device_dept ON iot_device(owner_dept_id);
	CREATE INDEX iot_device_gateway ON iot_device(gateway_id) WHERE gateway_id != '';

	CREATE TABLE iot_device_type(
		type TEXT PRIMARY KEY,
		name TEXT NOT NULL DEFAULT '',
		offline_after_s INTEGER NOT NULL
	);
	INSERT INTO iot_device_type(type, name, offline_after_s) VALUES
		('water_level', '水位计', 900), ('air_quality', '空气质量监测', 900),
		('manhole', '智能井盖', 3600), ('smoke', '烟感', 3600), ('gateway', '网关', 600);

	CREATE TABLE iot_maintenance(
		id INTEGER PRIMARY KEY,
		device_id TEXT NOT NULL,
		at INTEGER NOT NULL,
		kind TEXT NOT NULL,
		note TEXT NOT NULL DEFAULT '',
		by_name TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		created_by TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX iot_maintenance_device ON iot_maintenance(device_id, at);

	CREATE TABLE iot_conn_log(
		id INTEGER PRIMARY KEY,
		device_id TEXT NOT NULL,
		connected INTEGER NOT NULL,
		at INTEGER NOT NULL,
		remote TEXT NOT NULL DEFAULT '',
		reason TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX iot_conn_log_device ON iot_conn_log(device_id, at);

	CREATE TABLE iot_reading(
		device TEXT NOT NULL, metric TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL,
		PRIMARY KEY(device, metric, ts)
	) WITHOUT ROWID;

	CREATE TABLE iot_rollup(
		device TEXT NOT NULL, metric TEXT NOT NULL, res INTEGER NOT NULL, bucket INTEGER NOT NULL,
		n INTEGER NOT NULL, sum REAL NOT NULL, min REAL NOT NULL, max REAL NOT NULL,
		PRIMARY KEY(device, metric, res, bucket)
	) WITHOUT ROWID;

	CREATE TABLE iot_latest(
		device TEXT NOT NULL, metric TEXT NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, idx INTEGER NOT NULL,
		PRIMARY KEY(device, metric)
	) WITHOUT ROWID;
	CREATE INDEX iot_latest_idx ON iot_latest(idx);

	CREATE TABLE iot_retention(
		metric TEXT PRIMARY KEY,
		raw_days INTEGER NOT NULL,
		minute_days INTEGER NOT NULL,
		hour_days INTEGER NOT NULL
	);
	INSERT INTO iot_retention(metric, raw_days, minute_days, hour_days) VALUES ('*', 30, 180, 3650);

	CREATE TABLE iot_rule(
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		device_type TEXT NOT NULL DEFAULT '',
		device_id TEXT NOT NULL DEFAULT '',
		metric TEXT NOT NULL,
		kind TEXT NOT NULL,
		op TEXT NOT NULL DEFAULT '',
		threshold REAL NOT NULL DEFAULT 0,
		low REAL NOT NULL DEFAULT 0,
		high REAL NOT NULL DEFAULT 0,
		clear_threshold REAL,
		hysteresis REAL NOT NULL DEFAULT 0,
		duration_s INTEGER NOT NULL DEFAULT 0,
		debounce_s INTEGER NOT NULL DEFAULT 300,
		severity TEXT NOT NULL,
		case_category TEXT NOT NULL DEFAULT '',
		enabled INTEGER NOT NULL DEFAULT 1,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL
	);

	CREATE TABLE iot_rule_state(
		rule_id INTEGER NOT NULL,
		device_id TEXT NOT NULL,
		pending_since INTEGER NOT NULL DEFAULT 0,
		last_value REAL NOT NULL DEFAULT 0,
		last_ts INTEGER NOT NULL DEFAULT 0,
		alarm_id TEXT NOT NULL DEFAULT '',
		PRIMARY KEY(rule_id, device_id)
	) WITHOUT ROWID;

	CREATE TABLE iot_alarm(
		id TEXT PRIMARY KEY,
		kind TEXT NOT NULL,
		rule_id INTEGER,
		device_id TEXT NOT NULL,
		metric TEXT NOT NULL DEFAULT '',
		severity TEXT NOT NULL,
		status TEXT NOT NULL,
		title TEXT NOT NULL,
		value REAL,
		raised_at INTEGER NOT NULL,
		acked_at INTEGER,
		acked_by TEXT NOT NULL DEFAULT '',
		cleared_at INTEGER,
		clear_note TEXT NOT NULL DEFAULT '',
		flaps INTEGER NOT NULL DEFAULT 0,
		dept_id INTEGER,
		grid_code TEXT NOT NULL DEFAULT '',
		case_category TEXT NOT NULL DEFAULT '',
		case_id INTEGER,
		case_error TEXT NOT NULL DEFAULT '',
		case_noted INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX iot_alarm_device ON iot_alarm(device_id, rule_id, status);
	CREATE INDEX iot_alarm_status ON iot_alarm(status, raised_at);
	CREATE INDEX iot_alarm_outbox ON iot_alarm(case_id) WHERE case_category != '' AND case_noted = 0;

	CREATE TABLE iot_command(
		id TEXT PRIMARY KEY,
		device_id TEXT NOT NULL,
		name TEXT NOT NULL,
		params TEXT NOT NULL DEFAULT '{}',
		state TEXT NOT NULL,
		error TEXT NOT NULL DEFAULT '',
		reply TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		created_by TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX iot_command_device ON iot_command(device_id, created_at);`,
	// The latest-value push scans iot_latest (one row per series) instead:
	// a secondary index on idx doubled the cost of the hottest upsert.
	`DROP INDEX iot_latest_idx`,
}
