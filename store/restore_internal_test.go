package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
)

// TestRestoreRefusesNewerSnapshot: a node on an older version that is sent
// a snapshot written by a newer one refuses it before its own database is
// touched, and halts with the reason instead of applying what it cannot
// understand.
func TestRestoreRefusesNewerSnapshot(t *testing.T) {
	ctx := context.Background()
	start := func(steps ...Migration) *Store {
		s, err := New(Config{DataDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		s.AddMigrations("m", steps...)
		if err := s.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	newer := start(`CREATE TABLE m_a(x)`, `ALTER TABLE m_a ADD COLUMN y`)
	older := start(`CREATE TABLE m_a(x)`)
	if _, err := older.writer.Exec(`INSERT INTO m_a(x) VALUES ('kept')`); err != nil {
		t.Fatal(err)
	}
	var snap bytes.Buffer
	if err := newer.snapshotTo(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	err := older.fsm.Restore(io.NopCloser(&snap))
	var de *DowngradeError
	if !errors.As(err, &de) || de.Module != "m" || de.HaveVersion != 2 || de.KnownVersions != 1 {
		t.Fatalf("want a downgrade refusal, got %v", err)
	}
	var x string
	var v int
	if err := older.DB().QueryRow(`SELECT x FROM m_a`).Scan(&x); err != nil || x != "kept" {
		t.Fatalf("older node's data changed: %q %v", x, err)
	}
	if err := older.DB().QueryRow(`SELECT version FROM _migrations WHERE module='m'`).Scan(&v); err != nil || v != 1 {
		t.Fatalf("older node's schema changed: %d %v", v, err)
	}
	if h, _ := older.halted.Load().(string); h == "" {
		t.Fatal("older node did not halt")
	}
}
