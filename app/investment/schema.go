package investment

var migrations = []string{
	`CREATE TABLE investment_enterprise (
		id INTEGER PRIMARY KEY,
		credit_code TEXT NOT NULL UNIQUE,
		name TEXT NOT NULL,
		industry TEXT NOT NULL DEFAULT '',
		scale TEXT NOT NULL DEFAULT '',
		region TEXT NOT NULL DEFAULT '',
		local INTEGER NOT NULL DEFAULT 0,
		address TEXT NOT NULL DEFAULT '',
		contact_name TEXT NOT NULL DEFAULT '',
		contact_phone TEXT NOT NULL DEFAULT '',
		tags TEXT NOT NULL DEFAULT '',
		profile TEXT NOT NULL DEFAULT '',
		chain_id INTEGER NOT NULL DEFAULT 0,
		created_by INTEGER NOT NULL DEFAULT 0,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	)`,
	`CREATE TABLE investment_chain (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		description TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL
	)`,
	`CREATE TABLE investment_node (
		id INTEGER PRIMARY KEY,
		chain_id INTEGER NOT NULL,
		name TEXT NOT NULL,
		tier TEXT NOT NULL,
		weight REAL NOT NULL DEFAULT 5,
		extension INTEGER NOT NULL DEFAULT 0,
		UNIQUE (chain_id, name)
	)`,
	`CREATE TABLE investment_node_ent (
		node_id INTEGER NOT NULL,
		enterprise_id INTEGER NOT NULL,
		role TEXT NOT NULL,
		chain_leader INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (node_id, enterprise_id)
	)`,
	`CREATE INDEX investment_node_ent_ent ON investment_node_ent(enterprise_id)`,
	`CREATE TABLE investment_park (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL UNIQUE,
		kind TEXT NOT NULL,
		address TEXT NOT NULL DEFAULT '',
		total_area REAL NOT NULL DEFAULT 0,
		vacant_area REAL NOT NULL DEFAULT 0,
		price REAL NOT NULL DEFAULT 0,
		price_unit TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL
	)`,
	`CREATE TABLE investment_space (
		id INTEGER PRIMARY KEY,
		park_id INTEGER NOT NULL,
		name TEXT NOT NULL,
		kind TEXT NOT NULL,
		area REAL NOT NULL DEFAULT 0,
		vacant_area REAL NOT NULL DEFAULT 0,
		price REAL NOT NULL DEFAULT 0
	)`,
	`CREATE TABLE investment_lead (
		id INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		enterprise_id INTEGER NOT NULL DEFAULT 0,
		company TEXT NOT NULL DEFAULT '',
		industry TEXT NOT NULL DEFAULT '',
		chain_id INTEGER NOT NULL DEFAULT 0,
		node_id INTEGER NOT NULL DEFAULT 0,
		park_id INTEGER NOT NULL DEFAULT 0,
		source TEXT NOT NULL DEFAULT '',
		stage TEXT NOT NULL,
		lost INTEGER NOT NULL DEFAULT 0,
		lost_reason TEXT NOT NULL DEFAULT '',
		owner_id INTEGER NOT NULL DEFAULT 0,
		dept_id INTEGER NOT NULL DEFAULT 0,
		probability INTEGER NOT NULL DEFAULT 0,
		expected_investment REAL NOT NULL DEFAULT 0,
		note TEXT NOT NULL DEFAULT '',
		project_id INTEGER NOT NULL DEFAULT 0,
		signed_at TEXT NOT NULL DEFAULT '',
		landed_at TEXT NOT NULL DEFAULT '',
		created_by INTEGER NOT NULL DEFAULT 0,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL
	)`,
	`CREATE INDEX investment_lead_stage ON investment_lead(stage)`,
	`CREATE INDEX investment_lead_park ON investment_lead(park_id)`,
	`CREATE TABLE investment_lead_log (
		id INTEGER PRIMARY KEY,
		lead_id INTEGER NOT NULL,
		from_stage TEXT NOT NULL,
		to_stage TEXT NOT NULL,
		note TEXT NOT NULL DEFAULT '',
		actor TEXT NOT NULL,
		at TEXT NOT NULL
	)`,
	`CREATE TABLE investment_visit (
		id INTEGER PRIMARY KEY,
		lead_id INTEGER NOT NULL,
		kind TEXT NOT NULL,
		date TEXT NOT NULL,
		summary TEXT NOT NULL,
		next_action TEXT NOT NULL DEFAULT '',
		remind_at TEXT NOT NULL DEFAULT '',
		done INTEGER NOT NULL DEFAULT 0,
		actor TEXT NOT NULL,
		created_at TEXT NOT NULL
	)`,
	`CREATE INDEX investment_visit_lead ON investment_visit(lead_id)`,
	`CREATE INDEX investment_visit_remind ON investment_visit(done, remind_at)`,
	`CREATE TABLE investment_settings (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		gap_weights TEXT NOT NULL
	)`,
}
