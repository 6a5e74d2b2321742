package kb

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/yiwang/yiwang/search"
	"github.com/yiwang/yiwang/store"
)

// TestEveryNodeIndexesTheReplicatedDocuments runs two real store nodes
// (raft over TCP on 127.0.0.1) with a kb module each: a document written
// through the follower is replicated, and each node's own index, fed by its
// own post-commit events, finds it; an edit and a delete follow the same
// way.
func TestEveryNodeIndexesTheReplicatedDocuments(t *testing.T) {
	var nodes []*node
	var first string
	for i := 0; i < 2; i++ {
		mux := http.NewServeMux()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(mux)
		srv.Listener = ln
		srv.Start()
		t.Cleanup(srv.Close)
		dir := t.TempDir()
		cfg := store.Config{DataDir: dir, NodeID: fmt.Sprintf("kb%d", i+1), RaftAddr: "127.0.0.1:0",
			HTTPAdvertise: srv.URL, Secret: "kb-cluster-secret", ElectionTimeout: 300 * time.Millisecond}
		if i > 0 {
			cfg.JoinURL = first
		} else {
			first = srv.URL
		}
		st, err := store.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m := New(Options{DataDir: dir, Logf: t.Logf, FlushEvery: 50 * time.Millisecond})
		m.Register(st)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := st.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m.Start(ctx); err != nil {
			t.Fatal(err)
		}
		cancel()
		mux.Handle("/api/internal/cluster/", st.HTTPHandler())
		n := &node{t: t, dir: dir, st: st, m: m}
		t.Cleanup(n.close)
		nodes = append(nodes, n)
	}
	follower := nodes[1]
	if follower.st.IsLeader() {
		follower = nodes[0]
	}
	id := follower.create("城市道路管理条例", law("城市道路管理条例", "为了加强城市道路管理，制定本条例。", "占用城市道路摆摊设点的，责令限期改正。"))
	// Each node's index catches up on its own: poll (store indexes of the
	// same entry need not be equal on every node).
	check := func(what string, filter map[string][]string, want int) {
		t.Helper()
		for _, n := range nodes {
			deadline := time.Now().Add(30 * time.Second)
			for {
				res, err := n.m.Index().Search(context.Background(), search.Request{Query: "摆摊设点", Filter: filter})
				if err != nil {
					t.Fatal(err)
				}
				if res.Total == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: node %s finds %d, want %d (index at %d)", what, n.st.NodeID(), res.Total, want, n.m.Watermark())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	check("created", nil, 1)
	st := "已废止"
	follower.apply(CmdUpdate, UpdateDoc{ID: id, Status: &st})
	check("repealed", map[string][]string{"status": {"已废止"}}, 1)
	follower.apply(CmdDelete, map[string]string{"id": id})
	check("deleted", nil, 0)
}
