package cases

import (
	"fmt"
	"strings"
)

// Schema. Times are TEXT in httpapi.DBTime (UTC, fixed width) so text order
// is time order. dept_id 0 means "no department yet" (the dispatch
// centre's queue). open is 1 while the case needs work; the partial indexes
// on open=1 keep the queue and overdue lists small however many closed
// cases accumulate. cases_agg holds the monthly evaluation figures,
// maintained by the same command transactions that change cases.
var migrations = []string{
	`CREATE TABLE cases_category (
		code TEXT PRIMARY KEY,
		parent_code TEXT NOT NULL DEFAULT '',
		kind TEXT NOT NULL,
		level INTEGER NOT NULL,
		name TEXT NOT NULL,
		sort INTEGER NOT NULL DEFAULT 0,
		disabled INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE cases_condition (
		id INTEGER PRIMARY KEY,
		category_code TEXT NOT NULL,
		text TEXT NOT NULL,
		limit_value REAL NOT NULL,
		limit_unit TEXT NOT NULL,
		close_text TEXT NOT NULL,
		sort INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX cases_condition_cat ON cases_condition(category_code, sort);
	CREATE TABLE cases_case (
		id INTEGER PRIMARY KEY,
		title TEXT NOT NULL,
		description TEXT NOT NULL DEFAULT '',
		source TEXT NOT NULL,
		external_id TEXT NOT NULL DEFAULT '',
		category_code TEXT NOT NULL DEFAULT '',
		condition_id INTEGER NOT NULL DEFAULT 0,
		state TEXT NOT NULL,
		open INTEGER NOT NULL DEFAULT 1,
		dept_id INTEGER NOT NULL DEFAULT 0,
		grid_code TEXT NOT NULL DEFAULT '',
		township_code TEXT NOT NULL DEFAULT '',
		address TEXT NOT NULL DEFAULT '',
		lat REAL NOT NULL DEFAULT 0,
		lng REAL NOT NULL DEFAULT 0,
		severity TEXT NOT NULL DEFAULT '',
		reporter TEXT NOT NULL DEFAULT '',
		reporter_phone TEXT NOT NULL DEFAULT '',
		created_by INTEGER NOT NULL DEFAULT 0,
		created_at TEXT NOT NULL,
		updated_at TEXT NOT NULL,
		registered_at TEXT NOT NULL DEFAULT '',
		dispatched_at TEXT NOT NULL DEFAULT '',
		feedback_at TEXT NOT NULL DEFAULT '',
		closed_at TEXT NOT NULL DEFAULT '',
		handle_deadline TEXT NOT NULL DEFAULT '',
		limit_value REAL NOT NULL DEFAULT 0,
		limit_unit TEXT NOT NULL DEFAULT '',
		stage TEXT NOT NULL DEFAULT '',
		stage_round INTEGER NOT NULL DEFAULT 0,
		stage_started_at TEXT NOT NULL DEFAULT '',
		stage_deadline TEXT NOT NULL DEFAULT '',
		stage_unit TEXT NOT NULL DEFAULT '',
		urge_at TEXT NOT NULL DEFAULT '',
		urged INTEGER NOT NULL DEFAULT 0,
		supervised INTEGER NOT NULL DEFAULT 0,
		next_esc_at TEXT,
		extension TEXT NOT NULL DEFAULT '',
		returns INTEGER NOT NULL DEFAULT 0,
		reworks INTEGER NOT NULL DEFAULT 0,
		reassigns INTEGER NOT NULL DEFAULT 0,
		overdue_stages INTEGER NOT NULL DEFAULT 0,
		merged_into INTEGER NOT NULL DEFAULT 0,
		score INTEGER NOT NULL DEFAULT 0,
		steps INTEGER NOT NULL DEFAULT 0
	);
	CREATE INDEX cases_case_open_dept ON cases_case(dept_id, state, stage_deadline) WHERE open = 1;
	CREATE INDEX cases_case_open_dept_dl ON cases_case(dept_id, stage_deadline) WHERE open = 1;
	CREATE INDEX cases_case_open_state ON cases_case(state, stage_deadline) WHERE open = 1;
	CREATE INDEX cases_case_open_deadline ON cases_case(stage_deadline) WHERE open = 1;
	CREATE INDEX cases_case_open_grid ON cases_case(grid_code, state, stage_deadline) WHERE open = 1;
	CREATE INDEX cases_case_open_cat ON cases_case(category_code, lat) WHERE open = 1;
	CREATE INDEX cases_case_dept ON cases_case(dept_id, id);
	CREATE INDEX cases_case_grid ON cases_case(grid_code, id);
	CREATE INDEX cases_case_creator ON cases_case(created_by, id);
	CREATE INDEX cases_case_esc ON cases_case(next_esc_at) WHERE next_esc_at IS NOT NULL;
	CREATE TABLE cases_step (
		id INTEGER PRIMARY KEY,
		case_id INTEGER NOT NULL,
		seq INTEGER NOT NULL,
		action TEXT NOT NULL,
		from_state TEXT NOT NULL,
		to_state TEXT NOT NULL,
		actor TEXT NOT NULL,
		actor_role TEXT NOT NULL DEFAULT '',
		at TEXT NOT NULL,
		note TEXT NOT NULL DEFAULT '',
		reason TEXT NOT NULL DEFAULT '',
		dept_id INTEGER NOT NULL DEFAULT 0,
		data TEXT NOT NULL DEFAULT '',
		UNIQUE(case_id, seq)
	);
	CREATE TABLE cases_blob (
		sha256 TEXT PRIMARY KEY,
		mime TEXT NOT NULL,
		size INTEGER NOT NULL,
		data BLOB NOT NULL
	);
	CREATE TABLE cases_attachment (
		id INTEGER PRIMARY KEY,
		case_id INTEGER NOT NULL DEFAULT 0,
		step_id INTEGER NOT NULL DEFAULT 0,
		sha256 TEXT NOT NULL,
		mime TEXT NOT NULL,
		size INTEGER NOT NULL,
		name TEXT NOT NULL DEFAULT '',
		phase TEXT NOT NULL DEFAULT '',
		uploaded_by TEXT NOT NULL,
		created_at TEXT NOT NULL
	);
	CREATE INDEX cases_attachment_case ON cases_attachment(case_id, id);
	CREATE TABLE cases_rule (
		id INTEGER PRIMARY KEY,
		category_code TEXT NOT NULL DEFAULT '',
		grid_prefix TEXT NOT NULL DEFAULT '',
		dept_id INTEGER NOT NULL,
		note TEXT NOT NULL DEFAULT '',
		UNIQUE(category_code, grid_prefix)
	);
	CREATE TABLE cases_setting (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
	CREATE TABLE cases_agg (
		month TEXT NOT NULL,
		dim TEXT NOT NULL,
		key TEXT NOT NULL,
		registered INTEGER NOT NULL DEFAULT 0,
		dispatched INTEGER NOT NULL DEFAULT 0,
		handled INTEGER NOT NULL DEFAULT 0,
		handled_ontime INTEGER NOT NULL DEFAULT 0,
		closed INTEGER NOT NULL DEFAULT 0,
		closed_ontime INTEGER NOT NULL DEFAULT 0,
		reworked INTEGER NOT NULL DEFAULT 0,
		returned INTEGER NOT NULL DEFAULT 0,
		handle_secs INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY(month, dim, key)
	) WITHOUT ROWID;
	CREATE TABLE cases_escalation (
		id INTEGER PRIMARY KEY,
		case_id INTEGER NOT NULL,
		level TEXT NOT NULL,
		stage TEXT NOT NULL,
		round INTEGER NOT NULL,
		at TEXT NOT NULL,
		deadline TEXT NOT NULL,
		dept_id INTEGER NOT NULL DEFAULT 0,
		actor TEXT NOT NULL,
		note TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX cases_escalation_case ON cases_escalation(case_id, id);
	CREATE TABLE cases_alarm (
		alarm_id TEXT PRIMARY KEY,
		case_id INTEGER NOT NULL,
		cleared_at TEXT NOT NULL DEFAULT ''
	);`,
	seedCategoriesSQL(),
	// Open cases per day of their stage deadline, maintained by triggers in
	// the command transactions, so the county-wide overdue total is a sum
	// over a few hundred days plus today's slice of the index, not a count
	// of every overdue case.
	`CREATE TABLE cases_open_day (day TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
	CREATE TRIGGER cases_open_day_ins AFTER INSERT ON cases_case WHEN NEW.open = 1 AND NEW.stage_deadline != '' BEGIN
		INSERT INTO cases_open_day(day, n) VALUES(substr(NEW.stage_deadline, 1, 10), 1) ON CONFLICT(day) DO UPDATE SET n = n + 1;
	END;
	CREATE TRIGGER cases_open_day_upd AFTER UPDATE OF open, stage_deadline ON cases_case BEGIN
		UPDATE cases_open_day SET n = n - 1 WHERE OLD.open = 1 AND OLD.stage_deadline != '' AND day = substr(OLD.stage_deadline, 1, 10);
		INSERT INTO cases_open_day(day, n) SELECT substr(NEW.stage_deadline, 1, 10), 1 WHERE NEW.open = 1 AND NEW.stage_deadline != ''
			ON CONFLICT(day) DO UPDATE SET n = n + 1;
	END;
	CREATE TRIGGER cases_open_day_del AFTER DELETE ON cases_case WHEN OLD.open = 1 AND OLD.stage_deadline != '' BEGIN
		UPDATE cases_open_day SET n = n - 1 WHERE day = substr(OLD.stage_deadline, 1, 10);
	END;
	INSERT INTO cases_open_day(day, n) SELECT substr(stage_deadline, 1, 10), count(*) FROM cases_case
		WHERE open = 1 AND stage_deadline != '' GROUP BY 1;`,
	// The number of cases, for the total of the unfiltered county-wide list.
	`CREATE TABLE cases_total (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL);
	INSERT INTO cases_total(id, n) SELECT 1, count(*) FROM cases_case;
	CREATE TRIGGER cases_total_ins AFTER INSERT ON cases_case BEGIN UPDATE cases_total SET n = n + 1 WHERE id = 1; END;
	CREATE TRIGGER cases_total_del AFTER DELETE ON cases_case BEGIN UPDATE cases_total SET n = n - 1 WHERE id = 1; END;`,
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// seedCategoriesSQL renders the standard category set as a migration step
// (identical on every node; edits later go through commands).
func seedCategoriesSQL() string {
	var b strings.Builder
	condID := 0
	for i, mj := range seedCategories {
		fmt.Fprintf(&b, "INSERT INTO cases_category(code, parent_code, kind, level, name, sort) VALUES(%s, '', %s, 1, %s, %d);\n",
			sqlQuote(mj.Code), sqlQuote(mj.Kind), sqlQuote(mj.Name), i)
		for j, mn := range mj.Subs {
			fmt.Fprintf(&b, "INSERT INTO cases_category(code, parent_code, kind, level, name, sort) VALUES(%s, %s, %s, 2, %s, %d);\n",
				sqlQuote(mn.Code), sqlQuote(mj.Code), sqlQuote(mj.Kind), sqlQuote(mn.Name), j)
			for k, c := range mn.conditions(mj.Kind) {
				condID++
				fmt.Fprintf(&b, "INSERT INTO cases_condition(id, category_code, text, limit_value, limit_unit, close_text, sort) VALUES(%d, %s, %s, %g, %s, %s, %d);\n",
					condID, sqlQuote(mn.Code), sqlQuote(c.Text), c.Limit.Value, sqlQuote(string(c.Limit.Unit)), sqlQuote(c.CloseText), k)
			}
		}
	}
	return b.String()
}
