package ops

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store"
)

// TestScheduledBackupsOnLeaderOnly runs the ops module on a real
// three-node cluster: every node ticks, only the leader writes a backup,
// the history reaches every node, and after the leader is gone the new
// leader does not repeat a backup that is not due yet.
func TestScheduledBackupsOnLeaderOnly(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)}
	type node struct {
		m   *Module
		st  *store.Store
		dir string
	}
	nodes := make([]*node, 3)
	var firstURL string
	for i := range nodes {
		n := &node{dir: filepath.Join(t.TempDir(), "backups")}
		n.m = New(Options{Backup: BackupConfig{Dir: n.dir, Every: 24 * time.Hour, Keep: 3}, Now: clk.now})
		mux := http.NewServeMux()
		srv := httptest.NewServer(mux)
		t.Cleanup(srv.Close)
		cfg := store.Config{DataDir: t.TempDir(), NodeID: fmt.Sprintf("n%d", i+1), RaftAddr: "127.0.0.1:0",
			HTTPAdvertise: srv.URL, Secret: "ops-secret", ElectionTimeout: 300 * time.Millisecond}
		if i > 0 {
			cfg.JoinURL = firstURL
		} else {
			firstURL = srv.URL
		}
		st, err := store.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.m.Register(st)
		sctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := st.Start(sctx); err != nil {
			cancel()
			t.Fatal(err)
		}
		cancel()
		mux.Handle("/api/internal/cluster/", st.HTTPHandler())
		n.st = st
		t.Cleanup(func() { st.Close() })
		nodes[i] = n
	}
	waitFor(t, func() bool {
		for _, n := range nodes {
			if n.st.IsLeader() && len(n.st.Status().Nodes) == 3 {
				return true
			}
		}
		return false
	})
	files := func(n *node) int {
		f, _ := ListBackupFiles(n.dir)
		return len(f)
	}
	for _, n := range nodes {
		n.m.Tick(ctx)
	}
	var leader *node
	for _, n := range nodes {
		if n.st.IsLeader() {
			leader = n
		}
	}
	for _, n := range nodes {
		want := 0
		if n == leader {
			want = 1
		}
		if got := files(n); got != want {
			t.Fatalf("%s (leader %v): %d backup files, want %d", n.st.NodeID(), n == leader, got, want)
		}
	}
	// The history is replicated: every node knows the backup.
	idx := leader.st.AppliedIndex()
	for _, n := range nodes {
		if err := n.st.WaitApplied(ctx, idx); err != nil {
			t.Fatal(err)
		}
		_, lastOK, err := n.m.lastAttempts(ctx)
		if err != nil || lastOK == nil || lastOK.NodeID != leader.st.NodeID() {
			t.Fatalf("%s does not know the leader's backup: %+v %v", n.st.NodeID(), lastOK, err)
		}
	}
	// The leader goes away; a new one is elected and, 1 h later, writes
	// nothing (not due for 23 h more).
	leader.st.Close()
	var next *node
	waitFor(t, func() bool {
		for _, n := range nodes {
			if n != leader && n.st.IsLeader() {
				next = n
				return true
			}
		}
		return false
	})
	clk.add(time.Hour)
	next.m.Tick(ctx)
	if got := files(next); got != 0 {
		t.Fatalf("the new leader repeated a backup that was not due: %d files", got)
	}
	clk.add(24 * time.Hour)
	next.m.Tick(ctx)
	if got := files(next); got != 1 {
		t.Fatalf("the new leader did not take the due backup: %d files", got)
	}
	if _, err := os.Stat(leader.dir); err != nil {
		t.Fatal(err)
	}
}
