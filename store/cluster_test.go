package store_test

// System tests with real processes: the test binary re-executes itself as a
// store node (TestMain sees YIWANG_STORE_NODE) so that a leader can be killed
// with SIGKILL, exactly as a power cut or OOM kill would.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store"
)

func TestMain(m *testing.M) {
	if os.Getenv("YIWANG_STORE_NODE") != "" {
		runNode()
		return
	}
	os.Exit(m.Run())
}

// runNode is the child process: a store node with a tiny HTTP API.
func runNode() {
	cfg := store.Config{
		DataDir:       os.Getenv("NODE_DATA"),
		NodeID:        os.Getenv("NODE_ID"),
		RaftAddr:      os.Getenv("NODE_RAFT"),
		HTTPAdvertise: "http://" + os.Getenv("NODE_HTTP"),
		JoinURL:       os.Getenv("NODE_JOIN"),
		Secret:        os.Getenv("NODE_SECRET"),
		ApplyTimeout:  10 * time.Second,
		Logf: func(f string, a ...any) {
			fmt.Fprintf(os.Stderr, "[%s] %s\n", os.Getenv("NODE_ID"), fmt.Sprintf(f, a...))
		},
	}
	if st := os.Getenv("NODE_SNAPSHOT_THRESHOLD"); st != "" {
		fmt.Sscan(st, &cfg.SnapshotThreshold)
		cfg.SnapshotInterval = 500 * time.Millisecond
		cfg.TrailingLogs = 128
	}
	s, err := store.New(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	registerKV(s)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	if err := s.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "start:", err)
		os.Exit(2)
	}
	cancel()
	mux := http.NewServeMux()
	mux.Handle("/api/internal/cluster/", s.HTTPHandler())
	mux.HandleFunc("POST /put", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		cmd, _ := store.NewCommand("kv.put", 1, putReq{q.Get("k"), q.Get("v")})
		cmd.IdempotencyKey = q.Get("key")
		ctx, cancel := context.WithTimeout(r.Context(), 8*time.Second)
		defer cancel()
		res, err := s.Apply(ctx, cmd)
		if err != nil {
			http.Error(w, err.Error(), 503)
			return
		}
		json.NewEncoder(w).Encode(res)
	})
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(s.Status())
	})
	mux.HandleFunc("GET /hash", func(w http.ResponseWriter, r *http.Request) {
		h, err := tableHashes(s.DB())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"applied": s.AppliedIndex(), "tables": h})
	})
	mux.HandleFunc("GET /has", func(w http.ResponseWriter, r *http.Request) {
		// Answers with the keys (comma separated in k) this node lacks.
		var missing []string
		for _, k := range strings.Split(r.URL.Query().Get("k"), ",") {
			var n int
			s.DB().QueryRow(`SELECT count(*) FROM kv_item WHERE k=?`, k).Scan(&n)
			if n == 0 {
				missing = append(missing, k)
			}
		}
		json.NewEncoder(w).Encode(missing)
	})
	mux.HandleFunc("GET /integrity", func(w http.ResponseWriter, r *http.Request) {
		var res string
		s.DB().QueryRow(`PRAGMA integrity_check`).Scan(&res)
		io.WriteString(w, res)
	})
	ln, err := net.Listen("tcp", os.Getenv("NODE_HTTP"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println("READY")
	http.Serve(ln, mux)
}

// tableHashes hashes every table but _meta (which holds per-node bookkeeping).
func tableHashes(db *sql.DB) (map[string]string, error) {
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' AND name != '_meta' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	out := map[string]string{}
	for _, n := range names {
		r, err := db.Query(fmt.Sprintf(`SELECT * FROM %q ORDER BY 1`, n))
		if err != nil {
			return nil, err
		}
		cols, _ := r.Columns()
		h := sha256.New()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for r.Next() {
			r.Scan(ptrs...)
			for _, v := range vals {
				fmt.Fprintf(h, "%v|", v)
			}
			h.Write([]byte("\n"))
		}
		r.Close()
		out[n] = hex.EncodeToString(h.Sum(nil))
	}
	return out, nil
}

type proc struct {
	id, data, raft, http string
	cmd                  *exec.Cmd
	dead                 atomic.Bool
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (p *proc) start(t *testing.T, join, secret string, extraEnv ...string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "YIWANG_STORE_NODE=1", "NODE_DATA="+p.data, "NODE_ID="+p.id,
		"NODE_RAFT="+p.raft, "NODE_HTTP="+p.http, "NODE_JOIN="+join, "NODE_SECRET="+secret)
	cmd.Env = append(cmd.Env, extraEnv...)
	stdout, _ := cmd.StdoutPipe()
	logf, _ := os.Create(p.data + ".log")
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
	p.dead.Store(false)
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "READY" {
				ready <- true
			}
		}
		ready <- false
	}()
	select {
	case ok := <-ready:
		if !ok {
			b, _ := os.ReadFile(p.data + ".log")
			t.Fatalf("node %s exited before ready: %s", p.id, b)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("node %s not ready", p.id)
	}
	t.Cleanup(func() { p.kill() })
}

func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil && !p.dead.Load() {
		p.dead.Store(true)
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
	}
}

var client = &http.Client{Timeout: 15 * time.Second}

func getJSON(url string, v any) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %d %s", url, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func (p *proc) status() (store.Status, error) {
	var st store.Status
	err := getJSON("http://"+p.http+"/status", &st)
	return st, err
}

func (p *proc) hashes() (uint64, map[string]string, error) {
	var out struct {
		Applied uint64            `json:"applied"`
		Tables  map[string]string `json:"tables"`
	}
	err := getJSON("http://"+p.http+"/hash", &out)
	return out.Applied, out.Tables, err
}

func (p *proc) put(k, v string) error {
	resp, err := client.Post(fmt.Sprintf("http://%s/put?k=%s&v=%s&key=%s", p.http, k, v, "idem-"+k), "", nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("put %s via %s: %d %s", k, p.id, resp.StatusCode, b)
	}
	return nil
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// converged waits until the live nodes report the same applied index and
// identical table hashes.
func converged(t *testing.T, nodes []*proc) map[string]string {
	t.Helper()
	var last map[string]string
	var why string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var ref map[string]string
		var refApplied uint64
		same := true
		for i, n := range nodes {
			applied, h, err := n.hashes()
			if err != nil {
				same, why = false, err.Error()
				break
			}
			if i == 0 {
				ref, refApplied = h, applied
				continue
			}
			if applied != refApplied || fmt.Sprint(h) != fmt.Sprint(ref) {
				same, why = false, fmt.Sprintf("%s applied %d vs %d", n.id, applied, refApplied)
				break
			}
		}
		if same {
			return ref
		}
		last = ref
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("nodes did not converge: %s (%v)", why, last)
	return nil
}

func TestSystemClusterLeaderKilledUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	const secret = "s3cret-for-tests"
	base := t.TempDir()
	nodes := make([]*proc, 3)
	for i := range nodes {
		nodes[i] = &proc{id: fmt.Sprintf("n%d", i+1), data: fmt.Sprintf("%s/n%d", base, i+1), raft: freeAddr(t), http: freeAddr(t)}
	}
	// Small snapshot threshold so snapshots and log compaction happen during the run.
	env := "NODE_SNAPSHOT_THRESHOLD=1024"
	nodes[0].start(t, "", secret, env)
	nodes[1].start(t, "http://"+nodes[0].http, secret, env)
	nodes[2].start(t, "http://"+nodes[0].http, secret, env)
	waitUntil(t, 30*time.Second, "3 voters with HTTP addresses", func() bool {
		st, err := nodes[0].status()
		if err != nil || len(st.Nodes) != 3 {
			return false
		}
		for _, n := range st.Nodes {
			if n.HTTPAddr == "" || n.Suffrage != "voter" {
				return false
			}
		}
		return true
	})

	const total = 5000
	var acked sync.Map
	var ackCount atomic.Int64
	var next atomic.Int64
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	killAt := int64(500 + rng.Intn(3000))
	t.Logf("leader will be killed after %d acknowledged writes", killAt)
	var killed *proc
	var killOnce sync.Once
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			r := rand.New(rand.NewSource(int64(w)))
			for {
				i := next.Add(1) - 1
				if i >= total {
					return
				}
				k := fmt.Sprintf("k%05d", i)
				deadline := time.Now().Add(60 * time.Second)
				for {
					n := nodes[r.Intn(3)]
					if n.dead.Load() {
						continue
					}
					if err := n.put(k, "v"); err == nil {
						acked.Store(k, true)
						if ackCount.Add(1) == killAt {
							killOnce.Do(func() {
								for _, c := range nodes {
									if st, err := c.status(); err == nil && st.State == "leader" {
										killed = c
										c.kill()
										t.Logf("SIGKILLed leader %s", c.id)
										return
									}
								}
							})
						}
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("write %s never acknowledged", k)
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}(w)
	}
	wg.Wait()
	if killed == nil {
		t.Fatal("no leader was killed")
	}
	if n := ackCount.Load(); n != total {
		t.Fatalf("acknowledged %d of %d", n, total)
	}
	var live []*proc
	for _, n := range nodes {
		if !n.dead.Load() {
			live = append(live, n)
		}
	}
	converged(t, live)
	// Every acknowledged write is present on every live node.
	var keys []string
	acked.Range(func(k, _ any) bool { keys = append(keys, k.(string)); return true })
	for _, n := range live {
		for i := 0; i < len(keys); i += 500 {
			end := min(i+500, len(keys))
			var missing []string
			if err := getJSON("http://"+n.http+"/has?k="+strings.Join(keys[i:end], ","), &missing); err != nil {
				t.Fatal(err)
			}
			if len(missing) > 0 {
				t.Fatalf("%s lacks acknowledged writes %v", n.id, missing)
			}
		}
	}
	// The killed node restarts from its data dir and catches up.
	killed.start(t, "", secret, env)
	h := converged(t, nodes)
	t.Logf("all 3 nodes identical: kv_item %s…, _log %s…", h["kv_item"][:12], h["_log"][:12])
	for _, n := range nodes {
		resp, err := client.Get("http://" + n.http + "/integrity")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "ok" {
			t.Fatalf("%s integrity_check: %s", n.id, b)
		}
	}

	// A wiped follower rejoins and catches up from a snapshot (the log was
	// compacted long ago at this snapshot threshold).
	var wiped *proc
	for _, n := range nodes {
		if st, err := n.status(); err == nil && st.State == "follower" {
			wiped = n
			break
		}
	}
	wiped.kill()
	if err := os.RemoveAll(wiped.data); err != nil {
		t.Fatal(err)
	}
	var leaderURL string
	for _, n := range nodes {
		if n != wiped {
			leaderURL = "http://" + n.http
			break
		}
	}
	wiped.start(t, leaderURL, secret, env)
	converged(t, nodes)
	b, _ := os.ReadFile(wiped.data + ".log")
	if !strings.Contains(string(b), "restored snapshot") {
		t.Fatalf("wiped node %s did not catch up from a snapshot; log:\n%s", wiped.id, b)
	}
	t.Logf("wiped node %s rejoined and caught up from a snapshot", wiped.id)

	// A node cut off from the majority refuses writes.
	var leader *proc
	waitUntil(t, 20*time.Second, "a leader", func() bool {
		for _, n := range nodes {
			if st, err := n.status(); err == nil && st.State == "leader" {
				leader = n
				return true
			}
		}
		return false
	})
	var survivor *proc
	for _, n := range nodes {
		if n != leader && survivor == nil {
			survivor = n
			continue
		}
		n.kill()
	}
	if err := survivor.put("minority-write", "x"); err == nil {
		t.Fatal("a minority node acknowledged a write")
	} else {
		t.Logf("minority refused: %v", err)
	}
}

func TestSystemCrashSingleNodeSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	p := &proc{id: "solo", data: t.TempDir() + "/solo", http: freeAddr(t)}
	p.start(t, "", "")
	var acked sync.Map
	var stop atomic.Bool
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				k := fmt.Sprintf("c%06d", n.Add(1))
				if err := p.put(k, "v"); err == nil {
					acked.Store(k, true)
				}
			}
		}()
	}
	time.Sleep(time.Duration(800+rand.Intn(700)) * time.Millisecond)
	p.kill() // mid-stream
	stop.Store(true)
	wg.Wait()
	var keys []string
	acked.Range(func(k, _ any) bool { keys = append(keys, k.(string)); return true })
	if len(keys) < 100 {
		t.Fatalf("only %d writes before the kill", len(keys))
	}
	p.start(t, "", "")
	for i := 0; i < len(keys); i += 500 {
		end := min(i+500, len(keys))
		var missing []string
		if err := getJSON("http://"+p.http+"/has?k="+strings.Join(keys[i:end], ","), &missing); err != nil {
			t.Fatal(err)
		}
		if len(missing) > 0 {
			t.Fatalf("acknowledged writes lost after SIGKILL: %v", missing)
		}
	}
	resp, err := client.Get("http://" + p.http + "/integrity")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "ok" {
		t.Fatalf("integrity_check: %s", b)
	}
	t.Logf("%d acknowledged writes all present after SIGKILL and restart; integrity ok", len(keys))
}
