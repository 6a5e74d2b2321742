package org

import "github.com/yiwang/yiwang/store"

// migrations of the org module, applied once each, in order.
var migrations = []store.Migration{
	`CREATE TABLE org_setting (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);
	CREATE TABLE org_department (
		id         INTEGER PRIMARY KEY,
		parent_id  INTEGER REFERENCES org_department(id),
		name       TEXT NOT NULL,
		kind       TEXT NOT NULL,
		code       TEXT NOT NULL DEFAULT '',
		phone      TEXT NOT NULL DEFAULT '',
		sort       INTEGER NOT NULL DEFAULT 0,
		path       TEXT NOT NULL,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	);
	CREATE UNIQUE INDEX org_department_sibling_name ON org_department(coalesce(parent_id, 0), name);
	CREATE INDEX org_department_path ON org_department(path);
	CREATE TABLE org_grid (
		id          INTEGER PRIMARY KEY,
		code        TEXT NOT NULL UNIQUE,
		parent_code TEXT NOT NULL DEFAULT '',
		level       INTEGER NOT NULL,
		name        TEXT NOT NULL,
		dept_id     INTEGER REFERENCES org_department(id),
		geometry    TEXT NOT NULL DEFAULT '',
		created_at  TEXT NOT NULL,
		updated_at  TEXT NOT NULL
	);
	CREATE INDEX org_grid_parent ON org_grid(parent_code);
	CREATE INDEX org_grid_dept ON org_grid(dept_id);
	CREATE TABLE org_user (
		id                   INTEGER PRIMARY KEY,
		username             TEXT NOT NULL COLLATE NOCASE UNIQUE,
		name                 TEXT NOT NULL,
		phone                TEXT NOT NULL DEFAULT '',
		email                TEXT NOT NULL DEFAULT '',
		dept_id              INTEGER REFERENCES org_department(id),
		grid_code            TEXT NOT NULL DEFAULT '',
		roles                TEXT NOT NULL,
		data_scope           TEXT NOT NULL DEFAULT '',
		password_hash        TEXT NOT NULL DEFAULT '',
		must_change_password INTEGER NOT NULL DEFAULT 0,
		disabled             INTEGER NOT NULL DEFAULT 0,
		failed_logins        INTEGER NOT NULL DEFAULT 0,
		locked_until         TEXT NOT NULL DEFAULT '',
		last_login_at        TEXT NOT NULL DEFAULT '',
		created_at           TEXT NOT NULL,
		updated_at           TEXT NOT NULL
	);
	CREATE INDEX org_user_dept ON org_user(dept_id, id);
	CREATE INDEX org_user_grid ON org_user(grid_code);
	CREATE INDEX org_user_name ON org_user(name, id);
	CREATE TABLE org_token (
		id          INTEGER PRIMARY KEY,
		hash        TEXT NOT NULL UNIQUE,
		user_id     INTEGER NOT NULL REFERENCES org_user(id) ON DELETE CASCADE,
		kind        TEXT NOT NULL,
		name        TEXT NOT NULL DEFAULT '',
		permissions TEXT NOT NULL DEFAULT '',
		ip          TEXT NOT NULL DEFAULT '',
		created_at  TEXT NOT NULL,
		expires_at  TEXT NOT NULL DEFAULT '',
		revoked_at  TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX org_token_user ON org_token(user_id, kind);
	-- Row counts kept by the handlers so unfiltered lists of large tables
	-- answer their total without a full scan.
	CREATE TABLE org_count (
		name  TEXT PRIMARY KEY,
		n     INTEGER NOT NULL
	);
	INSERT INTO org_count(name, n) VALUES ('user', 0), ('grid', 0), ('department', 0);`,
	// 2: sorting users by last login stays an index walk at a million rows.
	`CREATE INDEX org_user_last_login ON org_user(last_login_at, id);`,
	// 3: every user list filter and sort is backed by an index at a million
	// accounts (docs/bench-app.md):
	//  - org_user_id is a narrow ordered copy of the ids: the deferred join
	//    of the list (httpapi.ListQuery.DeferredSQL) skips a deep OFFSET
	//    over ~10 MB of index instead of the whole table;
	//  - org_user_disabled serves the disabled filter;
	//  - org_user_role holds one row per (role, user), kept by triggers, for
	//    the role filter and the last-admin check (a LIKE over the
	//    comma-separated roles column scanned every account). Roles are
	//    names from the fixed catalogue, so the JSON array built from the
	//    column is always valid.
	`CREATE INDEX org_user_id ON org_user(id);
	CREATE INDEX org_user_disabled ON org_user(disabled, id);
	CREATE TABLE org_user_role (
		role    TEXT NOT NULL,
		user_id INTEGER NOT NULL,
		PRIMARY KEY (role, user_id)
	) WITHOUT ROWID;
	INSERT INTO org_user_role(role, user_id)
		SELECT j.value, u.id FROM org_user u, json_each('["' || replace(u.roles, ',', '","') || '"]') j WHERE u.roles != '';
	CREATE TRIGGER org_user_role_ins AFTER INSERT ON org_user WHEN NEW.roles != '' BEGIN
		INSERT INTO org_user_role(role, user_id) SELECT value, NEW.id FROM json_each('["' || replace(NEW.roles, ',', '","') || '"]');
	END;
	CREATE TRIGGER org_user_role_upd AFTER UPDATE OF roles ON org_user BEGIN
		DELETE FROM org_user_role WHERE user_id = OLD.id AND role IN (SELECT value FROM json_each('["' || replace(OLD.roles, ',', '","') || '"]'));
		INSERT INTO org_user_role(role, user_id) SELECT value, NEW.id FROM json_each('["' || replace(NEW.roles, ',', '","') || '"]') WHERE NEW.roles != '';
	END;
	CREATE TRIGGER org_user_role_del AFTER DELETE ON org_user BEGIN
		DELETE FROM org_user_role WHERE user_id = OLD.id AND role IN (SELECT value FROM json_each('["' || replace(OLD.roles, ',', '","') || '"]'));
	END;`,
	// 4: a search (q) sorted by last login walks that index (the broad
	// form, see crud.go) and tests username and name on each entry: with
	// both in the index it never reads the table (~5,000 row reads a page
	// at 1 M accounts before).
	// org_user_name stays narrow: a wider one doubled the cost of deep
	// offsets sorted by name.
	`DROP INDEX org_user_last_login;
	CREATE INDEX org_user_last_login ON org_user(last_login_at, id, username, name);`,
}
