package installer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store"
)

// rollingNode is one member of an in-process cluster that can be stopped and
// started again on the same data dir, raft address and HTTP URL, as a
// package upgrade restarts the service.
type rollingNode struct {
	id, dir, raftAddr, url string
	handler                atomic.Value // http.Handler
	st                     *store.Store
}

// registerRelease registers what a release of a module knows: release 1
// has put v1; release 2 adds put v2 (a new payload shape) and a column.
func registerRelease(s *store.Store, release int) {
	steps := []string{`CREATE TABLE demo_kv(k TEXT PRIMARY KEY, v TEXT NOT NULL)`}
	if release >= 2 {
		steps = append(steps, `ALTER TABLE demo_kv ADD COLUMN unit TEXT`)
	}
	s.AddMigrations("demo", steps...)
	s.Register("demo.put", 1, func(tx *store.Tx, cmd *store.Command) (any, error) {
		var p [2]string
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return nil, err
		}
		_, err := tx.Exec(`INSERT INTO demo_kv(k,v) VALUES(?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, p[0], p[1])
		return nil, err
	})
	if release >= 2 {
		s.Register("demo.put", 2, func(tx *store.Tx, cmd *store.Command) (any, error) {
			var p struct{ K, V, Unit string }
			if err := json.Unmarshal(cmd.Payload, &p); err != nil {
				return nil, err
			}
			_, err := tx.Exec(`INSERT INTO demo_kv(k,v,unit) VALUES(?,?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v, unit=excluded.unit`, p.K, p.V, p.Unit)
			return nil, err
		})
	}
}

func (n *rollingNode) start(t *testing.T, release int, join string) {
	t.Helper()
	s, err := store.New(store.Config{DataDir: n.dir, NodeID: n.id, RaftAddr: n.raftAddr, HTTPAdvertise: n.url,
		JoinURL: join, Secret: "rolling-secret", ElectionTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	registerRelease(s, release)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("start %s (release %d): %v", n.id, release, err)
	}
	n.handler.Store(s.HTTPHandler())
	n.st = s
}

func (n *rollingNode) stop(t *testing.T) {
	t.Helper()
	n.handler.Store(http.NotFoundHandler())
	if err := n.st.Close(); err != nil {
		t.Fatalf("stop %s: %v", n.id, err)
	}
}

func put(ctx context.Context, s *store.Store, version int, payload any) error {
	cmd, err := store.NewCommand("demo.put", version, payload)
	if err != nil {
		return err
	}
	_, err = s.Apply(ctx, cmd)
	return err
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRollingUpgradeThreeNodes upgrades a three-node cluster one node at a
// time (docs/cluster.md): writes keep working throughout, a command version
// not every node knows is refused (no node halts), and once every node runs
// the new release the new command is applied on all of them.
func TestRollingUpgradeThreeNodes(t *testing.T) {
	nodes := make([]*rollingNode, 3)
	for i := range nodes {
		n := &rollingNode{id: fmt.Sprintf("n%d", i+1), dir: t.TempDir(), raftAddr: freeAddr(t)}
		n.handler.Store(http.NotFoundHandler())
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.handler.Load().(http.Handler).ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		n.url = srv.URL
		nodes[i] = n
	}
	for i, n := range nodes {
		join := ""
		if i > 0 {
			join = nodes[0].url
		}
		n.start(t, 1, join)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.st.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	waitMembers(t, nodes, 3)
	if err := put(ctx, nodes[0].st, 1, [2]string{"before", "1"}); err != nil {
		t.Fatal(err)
	}

	upgraded := map[string]bool{}
	for _, i := range []int{2, 1, 0} {
		n := nodes[i]
		n.stop(t)
		// The two others keep serving writes while this node is down.
		other := nodes[(i+1)%3]
		if err := put(ctx, other.st, 1, [2]string{"during-" + n.id, "1"}); err != nil {
			t.Fatalf("write while %s is being upgraded: %v", n.id, err)
		}
		n.start(t, 2, "")
		upgraded[n.id] = true
		waitMembers(t, nodes, 3)
		if len(upgraded) < 3 {
			// Mixed cluster: the new command version is refused, whoever leads.
			err := put(ctx, n.st, 2, map[string]string{"K": "new", "V": "2", "Unit": "m"})
			var se *store.Error
			if !errors.As(err, &se) || (se.Code != "unsupported_version" && se.Code != "unknown_command") {
				t.Fatalf("v2 in a mixed cluster (%v upgraded): %v", upgraded, err)
			}
			if se.Code == "unsupported_version" {
				for _, m := range nodes {
					if !upgraded[m.id] && !strings.Contains(se.Message, m.id) {
						t.Errorf("refusal does not name the old node %s: %s", m.id, se.Message)
					}
				}
			}
			t.Logf("mixed cluster, %d of 3 upgraded: v2 refused (%s: %s)", len(upgraded), se.Code, se.Message)
		}
		if len(upgraded) == 2 {
			// With the old node down the leader is a new one: it knows v2
			// but refuses it because a member (down or not) lacks it.
			old := nodes[0]
			old.stop(t)
			// Once the upgraded nodes have announced their command sets
			// (a few hundred ms after their start), only the old one is named.
			var se *store.Error
			for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				err := put(ctx, nodes[1].st, 2, map[string]string{"K": "new", "V": "2", "Unit": "m"})
				if !errors.As(err, &se) || se.Code != "unsupported_version" || !strings.Contains(se.Message, old.id) {
					t.Fatalf("v2 on a new leader with old member %s: %v", old.id, err)
				}
				if !strings.Contains(se.Message, "n2") && !strings.Contains(se.Message, "n3") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("upgraded nodes still named after 20 s: %s", se.Message)
				}
			}
			t.Logf("new leader, old member down: %s", se.Message)
			if err := put(ctx, nodes[1].st, 1, [2]string{"old-down", "1"}); err != nil {
				t.Fatalf("v1 with the old node down: %v", err)
			}
			old.start(t, 1, "")
			waitMembers(t, nodes, 3)
		}
		for _, m := range nodes {
			if h := m.st.Status().Halted; h != "" {
				t.Fatalf("%s halted: %s", m.id, h)
			}
		}
	}
	// Every node runs release 2: v2 is accepted once the last node's command
	// set is announced, and applied everywhere.
	var res error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res = put(ctx, nodes[1].st, 2, map[string]string{"K": "new", "V": "2", "Unit": "m"}); res == nil {
			break
		}
	}
	if res != nil {
		t.Fatalf("v2 after the whole cluster was upgraded: %v", res)
	}
	want := nodes[1].st.AppliedIndex()
	for _, m := range nodes {
		if err := m.st.WaitApplied(ctx, want); err != nil {
			t.Fatal(err)
		}
		var n int
		var unit string
		m.st.DB().QueryRow(`SELECT count(*) FROM demo_kv`).Scan(&n)
		m.st.DB().QueryRow(`SELECT unit FROM demo_kv WHERE k='new'`).Scan(&unit)
		if n != 6 || unit != "m" {
			t.Errorf("%s: %d rows, unit %q; want 6 rows and the v2 write", m.id, n, unit)
		}
	}
}

func waitMembers(t *testing.T, nodes []*rollingNode, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var leader *store.Store
		for _, m := range nodes {
			if m.st.IsLeader() {
				leader = m.st
			}
		}
		if leader != nil {
			ok := 0
			for _, nd := range leader.Status().Nodes {
				if nd.HTTPAddr != "" {
					ok++
				}
			}
			if ok == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster of %d not formed", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
