package app

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
)

// Benchmarks of list endpoints with a large table behind them (default one
// million users; YIWANG_BENCH_ROWS overrides). Run:
//
//	go test ./app -run '^$' -bench ListUsers -benchtime 2000x -timeout 30m
//
// Each sub-benchmark reports p50 and p99 latency of full HTTP round trips
// on 127.0.0.1 through the real handler stack (auth, scope, SQL, JSON).

var (
	benchOnce sync.Once
	benchSrv  *benchServer
)

// TestMain removes the benchmark's data directory after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchSrv != nil {
		benchSrv.a.Close()
		if os.Getenv("YIWANG_BENCH_DIR") == "" {
			os.RemoveAll(benchSrv.dir)
		}
	}
	os.Exit(code)
}

type benchServer struct {
	dir    string
	a      *App
	url    string
	admin  string
	handle string // a department handler's token
	depts  []int64
	rows   int
	load   time.Duration
}

func setupBench(b *testing.B) *benchServer {
	benchOnce.Do(func() {
		rows := 1_000_000
		if v := os.Getenv("YIWANG_BENCH_ROWS"); v != "" {
			rows, _ = strconv.Atoi(v)
		}
		// YIWANG_BENCH_DIR keeps the loaded data directory between runs
		// (loaded once, reused while it holds enough users).
		dir := os.Getenv("YIWANG_BENCH_DIR")
		if dir == "" {
			var err error
			if dir, err = os.MkdirTemp("", "yiwang-bench-"); err != nil {
				b.Fatal(err)
			}
		}
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		cfg := DefaultConfig()
		cfg.Data = dir
		cfg.MQTT = "127.0.0.1:0"
		// A reused directory has its demo county already; running the demo
		// again right at start can race the node's announcement of commands
		// added since (store: "not known to node(s) ... yet").
		_, err := os.Stat(dir + "/yiwang.db")
		cfg.Demo = err != nil
		a, err := New(cfg, Options{Logf: func(string, ...any) {}, Out: io.Discard, Listener: ln})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		if err := a.Start(ctx); err != nil {
			b.Fatal(err)
		}
		s := &benchServer{dir: dir, a: a, url: a.URL(), rows: rows}
		rows2, _ := a.Store().DB().Query(`SELECT id FROM org_department ORDER BY id`)
		for rows2.Next() {
			var id int64
			rows2.Scan(&id)
			s.depts = append(s.depts, id)
		}
		rows2.Close()
		start := time.Now()
		const batch = 10_000
		have := 0
		a.Store().DB().QueryRow(`SELECT count(*) FROM org_user WHERE username LIKE 'u%'`).Scan(&have)
		for i := have - have%batch; i < rows; i += batch {
			n := min(batch, rows-i)
			users := make([]org.UserInput, n)
			for j := range users {
				k := i + j
				d := s.depts[k%len(s.depts)]
				users[j] = org.UserInput{Username: fmt.Sprintf("u%07d", k), Name: fmt.Sprintf("用户%07d", (k*7919)%rows),
					Phone: fmt.Sprintf("139%08d", k), DeptID: &d, Roles: []string{httpapi.RoleViewer}}
			}
			if err := a.Org().ImportUsersUnhashed(ctx, "system:bench", users); err != nil {
				b.Fatal(err)
			}
		}
		s.load = time.Since(start)
		if have < rows {
			// What raft does by itself every SnapshotThreshold entries; a
			// bulk load is few (large) entries, so ask for it: a restart
			// then does not re-read the load from the raft log.
			if _, err := a.Store().Snapshot(); err != nil {
				b.Fatal(err)
			}
		}
		run := time.Now().Unix() // a reused directory keeps earlier runs' accounts
		s.admin = benchLogin(b, a, fmt.Sprintf("benchadmin%d", run), httpapi.RoleAdmin, 0)
		s.handle = benchLogin(b, a, fmt.Sprintf("benchhandler%d", run), httpapi.RoleHandler, s.depts[3])
		benchSrv = s
	})
	if benchSrv == nil {
		b.Fatal("setup failed")
	}
	return benchSrv
}

func benchLogin(b *testing.B, a *App, user, role string, dept int64) string {
	pw := org.RandomPassword()
	in := org.UserInput{Username: user, Name: user, Roles: []string{role}, Password: pw}
	if dept != 0 {
		in.DeptID = &dept
	}
	if _, err := a.Org().CreateUser(context.Background(), "system:bench", in); err != nil {
		b.Fatal(err)
	}
	out, err := a.Org().Login(context.Background(), user, pw, "127.0.0.1")
	if err != nil {
		b.Fatal(err)
	}
	return out.Token
}

func BenchmarkListUsers(b *testing.B) {
	s := setupBench(b)
	b.Logf("%d users loaded through the command log in %s", s.rows, s.load.Round(time.Second))
	cases := []struct {
		name  string
		token string
		path  func(r *rand.Rand) string
	}{
		{"first-page", s.admin, func(*rand.Rand) string { return "/api/v1/users?limit=50" }},
		{"page-offset-0-10k", s.admin, func(r *rand.Rand) string { return fmt.Sprintf("/api/v1/users?limit=50&offset=%d", r.IntN(10_000)) }},
		{"sort-name", s.admin, func(r *rand.Rand) string { return "/api/v1/users?limit=50&sort=name" }},
		{"sort-created-desc", s.admin, func(r *rand.Rand) string { return "/api/v1/users?limit=50&sort=-created_at" }},
		{"filter-dept", s.admin, func(r *rand.Rand) string {
			return fmt.Sprintf("/api/v1/users?limit=50&dept_id=%d", s.depts[r.IntN(len(s.depts))])
		}},
		{"handler-scope", s.handle, func(*rand.Rand) string { return "/api/v1/users?limit=50" }},
		{"username-prefix-search", s.admin, func(r *rand.Rand) string { return fmt.Sprintf("/api/v1/users?limit=50&q=u%04d", r.IntN(10_000)) }},
		{"name-prefix-search", s.admin, func(r *rand.Rand) string { return fmt.Sprintf("/api/v1/users?limit=50&q=用户%03d", r.IntN(1000)) }},
		{"keyset-after-id", s.admin, func(r *rand.Rand) string {
			return fmt.Sprintf("/api/v1/users?limit=50&after_id=%d", r.IntN(s.rows))
		}},
		{"deep-offset-half", s.admin, func(*rand.Rand) string { return fmt.Sprintf("/api/v1/users?limit=50&offset=%d", s.rows/2) }},
		{"deep-offset-last", s.admin, func(*rand.Rand) string { return fmt.Sprintf("/api/v1/users?limit=50&offset=%d", s.rows-50) }},
		{"deep-offset-random", s.admin, func(r *rand.Rand) string { return fmt.Sprintf("/api/v1/users?limit=50&offset=%d", r.IntN(s.rows)) }},
		{"sort-name-deep-offset", s.admin, func(r *rand.Rand) string {
			return fmt.Sprintf("/api/v1/users?limit=50&sort=name&offset=%d", r.IntN(s.rows))
		}},
		{"broad-prefix-capped-total", s.admin, func(*rand.Rand) string { return "/api/v1/users?limit=50&q=u" }},
		{"role-filter-rare", s.admin, func(*rand.Rand) string { return "/api/v1/users?limit=50&role=admin" }},
		{"role-filter-common", s.admin, func(*rand.Rand) string { return "/api/v1/users?limit=50&role=viewer" }},
		{"disabled-filter", s.admin, func(*rand.Rand) string { return "/api/v1/users?limit=50&disabled=true" }},
		{"search-sort-last-login", s.admin, func(r *rand.Rand) string {
			return fmt.Sprintf("/api/v1/users?limit=50&sort=-last_login_at&q=用户%03d", r.IntN(100))
		}},
		// Not a list, but it reads the users table (needs_setup): a scan here
		// made every health check take a second at a million accounts.
		{"health", "", func(*rand.Rand) string { return "/api/health" }},
		{"handler-scope-deep-offset", s.handle, func(r *rand.Rand) string {
			return fmt.Sprintf("/api/v1/users?limit=50&offset=%d", r.IntN(s.rows/len(s.depts)))
		}},
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			r := rand.New(rand.NewPCG(1, 2))
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest("GET", s.url+c.path(r), nil)
				if c.token != "" {
					req.Header.Set("Authorization", "Bearer "+c.token)
				}
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat = append(lat, time.Since(t0))
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
