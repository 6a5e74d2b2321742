package store

import (
	"context"
	"database/sql"
	"fmt"
)

type moduleMigrations struct {
	module string
	steps  []Migration
}

// AddMigrations declares a module's schema steps (step 1 first). Steps are
// append-only: never edit a released step, add a new one. Steps must be
// additive (new tables, new nullable columns, new indexes) so that during a
// rolling upgrade nodes still on the old version keep applying commands.
func (s *Store) AddMigrations(module string, steps ...Migration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("store: AddMigrations after Start")
	}
	for i := range s.migrations {
		if s.migrations[i].module == module {
			s.migrations[i].steps = append(s.migrations[i].steps, steps...)
			return
		}
	}
	s.migrations = append(s.migrations, moduleMigrations{module: module, steps: steps})
}

// DowngradeError is returned by Start when the database was written by a
// newer yiwang than this binary.
type DowngradeError struct {
	Module        string
	HaveVersion   int
	KnownVersions int
}

func (e *DowngradeError) Error() string {
	if e.KnownVersions == 0 {
		return fmt.Sprintf("database holds module %q (schema version %d) that this yiwang does not know: the data was written by a newer yiwang; downgrade is not supported (install the newer version again or restore a backup taken with this version)",
			e.Module, e.HaveVersion)
	}
	return fmt.Sprintf("database schema of module %q is at version %d but this yiwang knows only %d: the data was written by a newer yiwang; downgrade is not supported (install the newer version again or restore a backup taken with this version)",
		e.Module, e.HaveVersion, e.KnownVersions)
}

// migrate brings every module's schema up to date. It runs before raft starts
// and after a snapshot restore, identically on every node.
func migrate(ctx context.Context, db *sql.DB, mods []moduleMigrations) error {
	if err := checkSchema(ctx, db, mods); err != nil {
		return err
	}
	for _, m := range mods {
		var have int
		err := db.QueryRowContext(ctx, `SELECT version FROM _migrations WHERE module=?`, m.module).Scan(&have)
		if err != nil && err != sql.ErrNoRows {
			return err
		}
		if have > len(m.steps) {
			return &DowngradeError{Module: m.module, HaveVersion: have, KnownVersions: len(m.steps)}
		}
		for v := have + 1; v <= len(m.steps); v++ {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.steps[v-1]); err != nil {
				tx.Rollback()
				return fmt.Errorf("migration %s step %d: %w", m.module, v, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO _migrations(module,version) VALUES(?,?)
				ON CONFLICT(module) DO UPDATE SET version=excluded.version`, m.module, v); err != nil {
				tx.Rollback()
				return err
			}
			if err := tx.Commit(); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkSchema refuses a database written by a newer yiwang before anything
// is changed: a module whose schema is ahead of this binary's steps, or a
// module this binary does not have at all.
func checkSchema(ctx context.Context, db *sql.DB, mods []moduleMigrations) error {
	known := map[string]int{}
	for _, m := range mods {
		known[m.module] = len(m.steps)
	}
	rows, err := db.QueryContext(ctx, `SELECT module, version FROM _migrations ORDER BY module`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var mod string
		var have int
		if err := rows.Scan(&mod, &have); err != nil {
			return err
		}
		steps, ok := known[mod]
		if !ok && have > 0 {
			return &DowngradeError{Module: mod, HaveVersion: have}
		}
		if have > steps {
			return &DowngradeError{Module: mod, HaveVersion: have, KnownVersions: steps}
		}
	}
	return rows.Err()
}

// checkSchemaFile runs checkSchema on a database file (a snapshot about to
// be installed) without touching the live database.
func checkSchemaFile(ctx context.Context, path string, mods []moduleMigrations) error {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=query_only(1)")
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE name='_migrations'`).Scan(&n); err != nil {
		return fmt.Errorf("snapshot is not a yiwang database: %w", err)
	}
	if n == 0 {
		return nil
	}
	return checkSchema(ctx, db, mods)
}
