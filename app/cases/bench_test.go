package cases

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

// cmdBenchSeed is registered only by the benchmark: it bulk-inserts cases
// with one INSERT ... SELECT over a recursive CTE (the real path is one
// command per case; this is how a million-case county is faked quickly).
const cmdBenchSeed = "case.bench_seed"

type benchSeed struct {
	From, To int64
	Base     time.Time
}

func applyBenchSeed(tx *store.Tx, cmd *store.Command) (any, error) {
	var p benchSeed
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return nil, err
	}
	base := p.Base.UTC().Format("2006-01-02 15:04:05")
	// 5% open (a third of them in the dispatch centre's queue, a sixth
	// waiting for verification), 50
	// departments, 10 townships × 30 unit grids, one case a minute back
	// from base (a million cases span about two years).
	_, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM n WHERE i < ?)
		INSERT INTO cases_case(id, title, source, category_code, condition_id, state, open, dept_id, grid_code, township_code, lat, lng,
			created_at, updated_at, stage, stage_round, stage_started_at, stage_deadline, stage_unit, urge_at, closed_at, steps)
		SELECT i, 'bench case ' || i, 'staff', 'E01' || printf('%02d', 1 + i % 9), 0,
			CASE WHEN i % 20 = 0 THEN (CASE i % 3 WHEN 0 THEN 'registered' WHEN 1 THEN 'dispatched' ELSE (CASE WHEN i % 40 = 0 THEN 'feedback' ELSE 'handling' END) END) ELSE 'closed' END,
			CASE WHEN i % 20 = 0 THEN 1 ELSE 0 END,
			CASE WHEN i % 20 = 0 AND i % 3 = 0 THEN 0 ELSE 1 + (i / 20) % 50 END,
			'139999' || printf('%03d', 1 + (i / 7) % 10) || '001' || printf('%02d', 1 + (i / 3) % 30),
			'139999' || printf('%03d', 1 + (i / 7) % 10),
			30 + (i % 1000) * 0.0001, 120 + (i % 997) * 0.0001,
			strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || i || ' minutes'),
			strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || i || ' minutes'),
			CASE WHEN i % 20 = 0 THEN (CASE WHEN i % 3 = 0 THEN 'dispatch' WHEN i % 3 = 2 AND i % 40 = 0 THEN 'verify' ELSE 'handle' END) ELSE '' END,
			1,
			CASE WHEN i % 20 = 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || i || ' minutes') ELSE '' END,
			CASE WHEN i % 20 = 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || i || ' minutes', '+2 days') ELSE '' END,
			CASE WHEN i % 20 = 0 THEN 'work_days' ELSE '' END,
			'',
			CASE WHEN i % 20 = 0 THEN '' ELSE strftime('%Y-%m-%dT%H:%M:%fZ', ?, '-' || i || ' minutes', '+1 days') END,
			6
		FROM n`, p.From, p.To-1, base, base, base, base, base)
	return nil, err
}

// applyBenchAgg fills the monthly figures the handlers would have
// maintained while these cases moved.
func applyBenchAgg(tx *store.Tx, cmd *store.Command) (any, error) {
	for _, dim := range []struct{ name, key string }{{"dept", "CAST(dept_id AS TEXT)"}, {"township", "township_code"}} {
		if _, err := tx.Exec(`INSERT INTO cases_agg(month, dim, key, registered, dispatched, handled, handled_ontime, closed, closed_ontime, reworked, returned, handle_secs)
			SELECT substr(created_at, 1, 7), ?, `+dim.key+`, count(*), count(*), sum(1 - open), sum(CASE WHEN id % 7 = 0 THEN 0 ELSE 1 - open END),
				sum(1 - open), sum(CASE WHEN id % 11 = 0 THEN 0 ELSE 1 - open END), sum(CASE WHEN id % 31 = 0 THEN 1 ELSE 0 END),
				sum(CASE WHEN id % 43 = 0 THEN 1 ELSE 0 END), sum(1 - open) * 86400
			FROM cases_case WHERE dept_id != 0 GROUP BY 1, 3`, dim.name); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

func benchN() int64 {
	if s := os.Getenv("CASES_BENCH_N"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
			return n
		}
	}
	return 1_000_000
}

// BenchmarkQueries1M seeds a million cases and measures the queue, overdue
// and evaluation reads the console makes (CASES_BENCH_N changes the size).
// Each sub-benchmark also reports p50 and p99 over 300 timed calls.
//
//	go test -run '^$' -bench Queries1M -benchtime 200x ./app/cases
func BenchmarkQueries1M(b *testing.B) {
	m := New(Options{})
	st := storetest.New(b, m.Register, func(s *store.Store) {
		s.Register(cmdBenchSeed, 1, applyBenchSeed, store.NoLogPayload())
		s.Register("case.bench_agg", 1, applyBenchAgg)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	n := benchN()
	now := time.Now()
	t0 := time.Now()
	const chunk = 100_000
	for from := int64(1); from <= n; from += chunk {
		to := min(from+chunk, n+1)
		cmd, _ := store.NewCommand(cmdBenchSeed, 1, benchSeed{From: from, To: to, Base: now})
		if _, err := st.Apply(ctx, cmd); err != nil {
			b.Fatal(err)
		}
	}
	cmd, _ := store.NewCommand("case.bench_agg", 1, nil)
	if _, err := st.Apply(ctx, cmd); err != nil {
		b.Fatal(err)
	}
	if _, err := st.DB().ExecContext(ctx, `ANALYZE`); err != nil {
		b.Logf("analyze on the read pool: %v", err) // read-only pool; the planner copes without
	}
	var total, open int
	_ = st.DB().QueryRow(`SELECT count(*), sum(open) FROM cases_case`).Scan(&total, &open)
	b.Logf("seeded %d cases (%d open) in %s", total, open, time.Since(t0).Round(time.Second))

	all := &httpapi.Principal{UserID: 1, Roles: []string{httpapi.RoleOperator}, Scope: httpapi.Scope{Kind: httpapi.ScopeAll}}
	handler := &httpapi.Principal{UserID: 2, Roles: []string{httpapi.RoleHandler}, Scope: httpapi.Scope{Kind: httpapi.ScopeDeptTree, DeptIDs: []int64{7}}}
	var gridCode string
	_ = st.DB().QueryRow(`SELECT grid_code FROM cases_case WHERE open = 1 AND state = 'feedback' LIMIT 1`).Scan(&gridCode)
	grid := &httpapi.Principal{UserID: 3, Roles: []string{httpapi.RoleGridWorker}, Scope: httpapi.Scope{Kind: httpapi.ScopeGrid, GridPrefix: gridCode}}
	month := now.AddDate(0, -1, 0).In(time.FixedZone("CST", 8*3600)).Format("2006-01")
	// The maintained per-day counts agree with a plain count.
	pg, err := m.Overdue(ctx, all, httpapi.ListQuery{Limit: 1}, now)
	var want int
	_ = st.DB().QueryRow(`SELECT count(*) FROM cases_case WHERE open = 1 AND stage_deadline != '' AND stage_deadline < ?`, dbt(now)).Scan(&want)
	if err != nil || pg.Total != want {
		b.Fatalf("overdue total %d, counted %d (%v)", pg.Total, want, err)
	}
	runs := []struct {
		name string
		fn   func() (int, error)
	}{
		{"queue_dispatch_centre", func() (int, error) { p, err := m.Queue(ctx, all, 50); return p.Total, err }},
		{"queue_department", func() (int, error) { p, err := m.Queue(ctx, handler, 50); return p.Total, err }},
		{"queue_grid_worker", func() (int, error) { p, err := m.Queue(ctx, grid, 50); return p.Total, err }},
		{"overdue_county", func() (int, error) {
			p, err := m.Overdue(ctx, all, httpapi.ListQuery{Limit: 50}, now)
			return p.Total, err
		}},
		{"overdue_department", func() (int, error) {
			p, err := m.Overdue(ctx, handler, httpapi.ListQuery{Limit: 50}, now)
			return p.Total, err
		}},
		{"evaluation_dept_month", func() (int, error) {
			ev, err := m.Evaluate(ctx, all, month, DimDept)
			return len(ev.Items), err
		}},
		{"evaluation_township_month", func() (int, error) {
			ev, err := m.Evaluate(ctx, all, month, DimTownship)
			return len(ev.Items), err
		}},
		{"list_county_first_page", func() (int, error) { return listPage(ctx, m, all) }},
		{"list_department_first_page", func() (int, error) { return listPage(ctx, m, handler) }},
		{"escalation_due_scan", func() (int, error) {
			cal, _ := m.sla.Calendar(ctx)
			items, err := (&caseSource{m: m}).Due(ctx, now, cal, 0.8, 500)
			return len(items), err
		}},
	}
	for _, r := range runs {
		b.Run(r.name, func(b *testing.B) {
			size, err := r.fn()
			if err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 300)
			for i := range lat {
				s := time.Now()
				if _, err := r.fn(); err != nil {
					b.Fatal(err)
				}
				lat[i] = time.Since(s)
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := r.fn(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50_ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99_ms")
			b.ReportMetric(float64(size), "rows")
		})
	}
}

// listPage is GET /api/v1/cases with no filter (newest first) as p.
func listPage(ctx context.Context, m *Module, p *httpapi.Principal) (int, error) {
	q, err := httpapi.ParseList(httptest.NewRequest("GET", "/api/v1/cases", nil), listSpec)
	if err != nil {
		return 0, err
	}
	pg, err := m.List(ctx, p, q)
	return pg.Total, err
}
