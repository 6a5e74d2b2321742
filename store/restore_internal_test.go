package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"
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

// TestReadBarrierOverNoop: raft entries without a command (a new leader's
// no-op, configuration changes) never reach the FSM. When one is the newest
// committed entry, a linearizable read must not wait for the next command,
// and health must not report lag.
func TestReadBarrierOverNoop(t *testing.T) {
	s, err := New(Config{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Wait for the node's own announcement (a command), then append an
	// entry that carries no command and that raft does not hand to the FSM
	// (a barrier, like a new leader's no-op).
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		s.DB().QueryRow(`SELECT count(*) FROM _log WHERE type = ?`, cmdNodeAnnounce).Scan(&n)
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("node never announced itself")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.raft.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if last := s.raft.LastIndex(); s.AppliedIndex() >= last {
		t.Fatalf("setup: applied %d already covers the barrier entry %d", s.AppliedIndex(), last)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.ConsistentRead(ctx); err != nil {
		t.Fatalf("read barrier with no command after the barrier entry: %v", err)
	}
	if st := s.Status(); st.Lag != 0 || st.AppliedIndex < st.CommitIndex {
		t.Fatalf("status after the barrier: %+v", st)
	}
}

// TestRestartAfterIdleSessions: sessions that elect themselves and apply
// nothing leave the log ending in a leader no-op; the next start must not
// wait for that entry to be "replayed" (the FSM never sees it).
func TestRestartAfterIdleSessions(t *testing.T) {
	dir := t.TempDir()
	for i := 0; i < 3; i++ {
		s, err := New(Config{DataDir: dir, NodeID: "n1"})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = s.Start(ctx)
		cancel()
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		time.Sleep(1200 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestUpgradedNodeAppliesNewCommandsAtOnce: a single node restarted on a
// newer binary may apply the commands the new binary added right after
// Start (the demo county does), before its new announcement is applied.
func TestUpgradedNodeAppliesNewCommandsAtOnce(t *testing.T) {
	dir := t.TempDir()
	noop := func(tx *Tx, cmd *Command) (any, error) { return nil, nil }
	s, _ := New(Config{DataDir: dir, NodeID: "n1"})
	s.Register("old.cmd", 1, noop)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !s.announcedSelf() {
		if time.Now().After(deadline) {
			t.Fatal("no announcement")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Close()

	s, _ = New(Config{DataDir: dir, NodeID: "n1"})
	s.Register("old.cmd", 1, noop)
	s.Register("new.cmd", 1, noop)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd, _ := NewCommand("new.cmd", 1, map[string]int{})
	if _, err := s.Apply(context.Background(), cmd); err != nil {
		t.Fatalf("new command right after the upgrade: %v", err)
	}
}

func (s *Store) announcedSelf() bool {
	s.nodesMu.RLock()
	defer s.nodesMu.RUnlock()
	n, ok := s.nodes[s.cfg.NodeID]
	return ok && len(n.Commands) > 0
}
