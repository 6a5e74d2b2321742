package systemtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	bin       string
	buildOnce sync.Once
	buildErr  error
)

// build compiles the real yiwang binary once per test run.
func build(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "yiwang-systemtest-")
		if err != nil {
			buildErr = err
			return
		}
		bin = filepath.Join(dir, "yiwang")
		cmd := exec.Command("go", "build", "-o", bin, "../..")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build yiwang: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type node struct {
	id, data, http, raft string
	cmd                  *exec.Cmd
	log                  string
}

func (n *node) url() string { return "http://" + n.http }

func (n *node) start(t *testing.T, secret, join string) {
	t.Helper()
	args := []string{"serve", "--data", n.data, "--http", n.http, "--mqtt", "127.0.0.1:0",
		"--raft", n.raft, "--cluster-secret", secret}
	if n.id != "" {
		args = append(args, "--node-id", n.id)
	}
	if join != "" {
		args = append(args, "--join", join)
	}
	cmd := exec.Command(bin, args...)
	n.log = n.data + ".log"
	f, _ := os.OpenFile(n.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.cmd = cmd
	t.Cleanup(n.kill)
	waitFor(t, 60*time.Second, n.data+" healthy", func() bool {
		var h health
		if getJSON(n.url()+"/api/health", "", &h) != nil || h.Leader == "" {
			return false
		}
		n.id = h.NodeID
		return true
	})
}

func (n *node) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Signal(syscall.SIGKILL)
		n.cmd.Wait()
		n.cmd = nil
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

var hc = &http.Client{Timeout: 20 * time.Second}

func do(method, url, token string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

func getJSON(url, token string, out any) error {
	_, err := do("GET", url, token, nil, out)
	return err
}

type health struct {
	NodeID  string `json:"node_id"`
	State   string `json:"state"`
	Leader  string `json:"leader"`
	Applied uint64 `json:"applied_index"`
	Nodes   []struct {
		ID       string `json:"id"`
		Suffrage string `json:"suffrage"`
	} `json:"nodes"`
}

func login(t *testing.T, n *node, user, pass string) string {
	t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	if _, err := do("POST", n.url()+"/api/v1/auth/login", "", map[string]string{"username": user, "password": pass}, &out); err != nil {
		t.Fatal(err)
	}
	return out.Token
}

// TestSystemThreeNodeCluster grows a single node into three voters through
// the CLI flags, writes through followers, kills the leader with SIGKILL,
// keeps writing, restarts it, and removes a node through the admin API.
func TestSystemThreeNodeCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	build(t)
	const secret = "cluster-secret-for-test"
	base := t.TempDir()
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = &node{id: fmt.Sprintf("n%d", i+1), data: filepath.Join(base, fmt.Sprintf("n%d", i+1)), http: freePort(t), raft: freePort(t)}
	}
	// The first administrator, created before the first serve (it names
	// the node after the host, so node 1 keeps that name).
	nodes[0].id = ""
	admin := exec.Command(bin, "admin", "create", "--data", nodes[0].data, "--user", "root", "--password-stdin")
	admin.Stdin = strings.NewReader("Correct-Horse-9-Battery\n")
	if out, err := admin.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v %s", err, out)
	}
	nodes[0].start(t, secret, "")
	nodes[1].start(t, secret, nodes[0].url())
	nodes[2].start(t, secret, nodes[0].url())
	// Log in on a follower (the session is a replicated write).
	tok := login(t, nodes[1], "root", "Correct-Horse-9-Battery")
	voters := func(n *node) int {
		var h health
		if getJSON(n.url()+"/api/v1/admin/cluster", tok, &h) != nil {
			return -1
		}
		c := 0
		for _, m := range h.Nodes {
			if m.Suffrage == "voter" {
				c++
			}
		}
		return c
	}
	waitFor(t, 30*time.Second, "three voters", func() bool { return voters(nodes[0]) == 3 })

	// Create departments through the other follower.
	var created struct {
		ID int64 `json:"id"`
	}
	if _, err := do("POST", nodes[2].url()+"/api/v1/departments", tok, map[string]any{"name": "集群测试局", "kind": "bureau"}, &created); err != nil {
		t.Fatal(err)
	}
	if created.ID == 0 {
		t.Fatal("no id")
	}
	for _, n := range nodes {
		waitFor(t, 10*time.Second, "department on "+n.id, func() bool {
			return getJSON(fmt.Sprintf("%s/api/v1/departments/%d", n.url(), created.ID), tok, &map[string]any{}) == nil
		})
	}

	// SIGKILL the leader; the others elect a new one and keep accepting writes.
	var leader *node
	var h health
	getJSON(nodes[0].url()+"/api/health", "", &h)
	for _, n := range nodes {
		if n.id == h.Leader {
			leader = n
		}
	}
	if leader == nil {
		t.Fatalf("leader %q unknown", h.Leader)
	}
	leader.kill()
	var survivor *node
	for _, n := range nodes {
		if n != leader {
			survivor = n
			break
		}
	}
	t0 := time.Now()
	waitFor(t, 30*time.Second, "a write after the leader died", func() bool {
		_, err := do("POST", survivor.url()+"/api/v1/departments", tok, map[string]any{"name": "故障后新建局", "kind": "bureau"}, &created)
		return err == nil
	})
	t.Logf("leader %s killed; writes accepted again after %v", leader.id, time.Since(t0).Round(time.Millisecond))

	// The killed node restarts from its data dir and catches up.
	leader.start(t, secret, "")
	waitFor(t, 30*time.Second, "restarted node catches up", func() bool {
		return getJSON(fmt.Sprintf("%s/api/v1/departments/%d", leader.url(), created.ID), tok, &map[string]any{}) == nil
	})

	// Remove one node through the admin API.
	getJSON(survivor.url()+"/api/health", "", &h)
	var victim *node
	for _, n := range nodes {
		if n.id != h.Leader {
			victim = n
			break
		}
	}
	if _, err := do("DELETE", survivor.url()+"/api/v1/admin/cluster/nodes/"+victim.id, tok, nil, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "two voters", func() bool { return voters(survivor) == 2 })
}

// TestSystemServeSIGKILL: a single `yiwang serve` killed with SIGKILL during
// a stream of API writes restarts with every acknowledged write present.
func TestSystemServeSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("system test")
	}
	build(t)
	n := &node{data: filepath.Join(t.TempDir(), "solo"), http: freePort(t), raft: freePort(t)}
	admin := exec.Command(bin, "admin", "create", "--data", n.data, "--user", "root", "--password-stdin")
	admin.Stdin = strings.NewReader("Correct-Horse-9-Battery\n")
	if out, err := admin.CombinedOutput(); err != nil {
		t.Fatalf("admin create: %v %s", err, out)
	}
	n.start(t, "s", "")
	tok := login(t, n, "root", "Correct-Horse-9-Battery")
	acked := make(chan int64, 10000)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var c struct {
				ID int64 `json:"id"`
			}
			if _, err := do("POST", n.url()+"/api/v1/departments", tok, map[string]any{"name": fmt.Sprintf("局%05d", i), "kind": "bureau"}, &c); err == nil {
				acked <- c.ID
			} else if n.cmd == nil {
				return
			}
		}
	}()
	time.Sleep(1500 * time.Millisecond)
	n.kill()
	close(stop)
	<-done
	close(acked)
	n.start(t, "s", "")
	count := 0
	for id := range acked {
		count++
		if err := getJSON(fmt.Sprintf("%s/api/v1/departments/%d", n.url(), id), tok, &map[string]any{}); err != nil {
			t.Fatalf("acknowledged department %d lost after SIGKILL: %v", id, err)
		}
	}
	if count < 5 {
		t.Fatalf("only %d writes acknowledged before the kill", count)
	}
	// The audit chain and the database survive too.
	out, err := exec.Command(bin, "audit", "verify", "--data", n.data).CombinedOutput()
	if err != nil && !strings.Contains(string(out), "running") {
		t.Fatalf("audit verify: %v %s", err, out)
	}
	t.Logf("%d acknowledged writes present after SIGKILL; audit verify: %s", count, firstLine(out))
}

func firstLine(b []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(b))
	if sc.Scan() {
		return sc.Text()
	}
	return ""
}
