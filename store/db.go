package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"runtime"
	"strconv"

	_ "modernc.org/sqlite" // registers the "sqlite" driver (pure Go)
)

const dbFile = "yiwang.db"

// The store's own tables. _meta holds the raft index the database has applied
// (so replays after a restart skip what is already there) and the offset that
// maps raft indexes to store indexes (non-zero after a restore from backup
// into a fresh cluster). _log is the command log and hash-chained audit
// trail; its idem column makes client retries exactly-once.
var internalSchema = []string{
	`CREATE TABLE IF NOT EXISTS _meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS _log (
		idx          INTEGER PRIMARY KEY,
		cmd_id       TEXT NOT NULL,
		type         TEXT NOT NULL,
		v            INTEGER NOT NULL,
		actor        TEXT NOT NULL DEFAULT '',
		ts           INTEGER NOT NULL,
		idem         TEXT,
		payload      BLOB,
		payload_hash TEXT NOT NULL,
		result       BLOB,
		error        TEXT,
		prev_hash    TEXT NOT NULL,
		hash         TEXT NOT NULL
	)`,
	`CREATE UNIQUE INDEX IF NOT EXISTS _log_idem ON _log(idem) WHERE idem IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS _log_actor ON _log(actor, idx)`,
	`CREATE INDEX IF NOT EXISTS _log_type ON _log(type, idx)`,
	`CREATE INDEX IF NOT EXISTS _log_ts ON _log(ts)`,
	`CREATE TABLE IF NOT EXISTS _migrations (module TEXT PRIMARY KEY, version INTEGER NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS _nodes (
		id        TEXT PRIMARY KEY,
		raft_addr TEXT NOT NULL DEFAULT '',
		http_addr TEXT NOT NULL DEFAULT '',
		version   TEXT NOT NULL DEFAULT '',
		commands  TEXT NOT NULL DEFAULT '[]'
	)`,
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(1)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		q.Add("_pragma", "journal_mode(WAL)")
		// The raft log is the durable record: after a power loss the FSM
		// re-applies whatever the WAL lost, so NORMAL is safe and fast.
		q.Add("_pragma", "synchronous(NORMAL)")
		// Checkpoints run in the background (checkpoint.go), never in
		// the FSM's commits.
		q.Add("_pragma", "wal_autocheckpoint(0)")
		q.Add("_txlock", "immediate")
	}
	q.Add("_pragma", "cache_size(-32000)")
	q.Add("_pragma", "temp_store(MEMORY)")
	return "file:" + path + "?" + q.Encode()
}

// openDBs opens the single writer connection (used only by the FSM) and the
// read-only pool.
func openDBs(dir string) (writer, reader *sql.DB, err error) {
	path := filepath.Join(dir, dbFile)
	writer, err = sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return nil, nil, err
	}
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	if err := writer.Ping(); err != nil {
		writer.Close()
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	for _, stmt := range internalSchema {
		if _, err := writer.Exec(stmt); err != nil {
			writer.Close()
			return nil, nil, fmt.Errorf("create store schema: %w", err)
		}
	}
	reader, err = sql.Open("sqlite", dsn(path, true))
	if err != nil {
		writer.Close()
		return nil, nil, err
	}
	n := 2*runtime.NumCPU() + 2
	reader.SetMaxOpenConns(n)
	reader.SetMaxIdleConns(n)
	return writer, reader, nil
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getMetaUint(ctx context.Context, q execer, key string) (uint64, error) {
	var s string
	err := q.QueryRowContext(ctx, `SELECT value FROM _meta WHERE key=?`, key).Scan(&s)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(s, 10, 64)
}

func setMeta(ctx context.Context, q execer, key string, v any) error {
	_, err := q.ExecContext(ctx, `INSERT INTO _meta(key,value) VALUES(?,?)
		ON CONFLICT(key) DO UPDATE SET value=excluded.value`, key, fmt.Sprint(v))
	return err
}

const (
	metaRaftApplied = "raft_applied" // last raft index applied to this database
	metaOffset      = "index_offset" // store index = raft index + offset
	metaLastHash    = "audit_head"   // hash of the newest _log row
)
