package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

// registerBench adds a telemetry-like batch command and a bulk filler.
func registerBench(s *store.Store) {
	registerKV(s)
	s.AddMigrations("bench",
		`CREATE TABLE bench_reading (device INTEGER NOT NULL, metric INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY(device, metric, ts)) WITHOUT ROWID`,
		`CREATE TABLE bench_bulk (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`)
	s.Register("bench.batch", 1, func(tx *store.Tx, cmd *store.Command) (any, error) {
		var p struct {
			Rows [][4]float64 `json:"rows"`
		}
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return nil, store.Errorf("invalid", "bad batch: %v", err)
		}
		// Multi-row statements: one statement per 100 readings.
		const chunk = 100
		stmt := `INSERT OR REPLACE INTO bench_reading(device, metric, ts, value) VALUES(?,?,?,?)` + strings.Repeat(",(?,?,?,?)", chunk-1)
		st, err := tx.Prepare(stmt)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		args := make([]any, 0, 4*chunk)
		for len(p.Rows) > 0 {
			n := min(chunk, len(p.Rows))
			args = args[:0]
			for _, r := range p.Rows[:n] {
				args = append(args, int64(r[0]), int64(r[1]), int64(r[2]), r[3])
			}
			if n == chunk {
				_, err = st.Exec(args...)
			} else {
				_, err = tx.Exec(`INSERT OR REPLACE INTO bench_reading(device, metric, ts, value) VALUES(?,?,?,?)`+strings.Repeat(",(?,?,?,?)", n-1), args...)
			}
			if err != nil {
				return nil, err
			}
			p.Rows = p.Rows[n:]
		}
		return map[string]int{"rows": len(p.Rows)}, nil
	}, store.NoLogPayload())
	// bench.fill generates rows deterministically inside the handler, to
	// grow a database to a given size quickly.
	s.Register("bench.fill", 1, func(tx *store.Tx, cmd *store.Command) (any, error) {
		var p struct{ From, N int }
		json.Unmarshal(cmd.Payload, &p)
		_, err := tx.Exec(`WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i+1 FROM c WHERE i < ?)
			INSERT INTO bench_bulk(id, body) SELECT i, printf('%0900d', i) FROM c`, p.From, p.From+p.N-1)
		return nil, err
	})
}

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

func benchApply(b *testing.B, s *store.Store, mk func(i int) store.Command) {
	var mu sync.Mutex
	var lat []time.Duration
	var n int64
	var nmu sync.Mutex
	b.SetParallelism(16) // 16 × GOMAXPROCS concurrent clients
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var local []time.Duration
		for pb.Next() {
			nmu.Lock()
			n++
			i := int(n)
			nmu.Unlock()
			t0 := time.Now()
			if _, err := s.Apply(context.Background(), mk(i)); err != nil {
				b.Error(err)
				return
			}
			local = append(local, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, local...)
		mu.Unlock()
	})
	el := time.Since(start)
	b.ReportMetric(float64(b.N)/el.Seconds(), "cmds/s")
	b.ReportMetric(float64(percentile(lat, 0.5).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds())/1000, "p99_ms")
}

func kvCmd(i int) store.Command {
	c, _ := store.NewCommand("kv.put", 1, putReq{fmt.Sprintf("k%d", i), "value-of-a-small-command"})
	c.Actor = "user:bench"
	return c
}

func batchCmd(rows int) func(i int) store.Command {
	return func(i int) store.Command {
		rs := make([][4]float64, rows)
		for j := range rs {
			rs[j] = [4]float64{float64(j % 500), float64(j % 4), float64(i*rows + j), 1.5 + float64(j%100)/10}
		}
		c, _ := store.NewCommand("bench.batch", 1, map[string]any{"rows": rs})
		c.Actor = "device:gw"
		return c
	}
}

func BenchmarkApplySingle(b *testing.B) {
	b.Run("1node", func(b *testing.B) {
		s := storetest.New(b, registerBench)
		benchApply(b, s, kvCmd)
	})
	b.Run("3nodes", func(b *testing.B) {
		nodes := startCluster(b, 3, nil, registerBench)
		benchApply(b, leaderOf(b, nodes), kvCmd)
	})
}

func BenchmarkTelemetryBatch(b *testing.B) {
	const rows = 1000
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N*rows)/b.Elapsed().Seconds(), "rows/s")
	}
	b.Run("1node", func(b *testing.B) {
		s := storetest.New(b, registerBench)
		benchApply(b, s, batchCmd(rows))
		report(b)
	})
	b.Run("3nodes", func(b *testing.B) {
		nodes := startCluster(b, 3, nil, registerBench)
		benchApply(b, leaderOf(b, nodes), batchCmd(rows))
		report(b)
	})
}

// TestScale1GB grows a database to about 1 GB and measures snapshot time and
// size and restart time. Run with YIWANG_BENCH_1GB=1 (it takes minutes and
// needs ~4 GB of disk).
func TestScale1GB(t *testing.T) {
	if os.Getenv("YIWANG_BENCH_1GB") == "" {
		t.Skip("set YIWANG_BENCH_1GB=1 to run")
	}
	dir := os.Getenv("YIWANG_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	open := func() (*store.Store, time.Duration) {
		t0 := time.Now()
		s, err := store.New(store.Config{DataDir: dir, NodeID: "big"})
		if err != nil {
			t.Fatal(err)
		}
		registerBench(s)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s, time.Since(t0)
	}
	s, _ := open()
	const perCmd = 50000 // ~50 MB per command
	t0 := time.Now()
	for i := 0; ; i++ {
		fi, _ := os.Stat(filepath.Join(dir, "yiwang.db"))
		if fi != nil && fi.Size() >= 1<<30 {
			break
		}
		c, _ := store.NewCommand("bench.fill", 1, map[string]int{"From": i*perCmd + 1, "N": perCmd})
		if _, err := s.Apply(context.Background(), c); err != nil {
			t.Fatal(err)
		}
	}
	fi, _ := os.Stat(filepath.Join(dir, "yiwang.db"))
	t.Logf("filled %d MB in %v", fi.Size()>>20, time.Since(t0).Round(time.Millisecond))
	// Writes go on during the snapshot; measure how long a write waits.
	stop := make(chan struct{})
	var worst time.Duration
	var writes int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			w0 := time.Now()
			if _, err := s.Apply(context.Background(), kvCmd(i)); err != nil {
				t.Error(err)
				return
			}
			if d := time.Since(w0); d > worst {
				worst = d
			}
			writes++
		}
	}()
	t0 = time.Now()
	size, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	snapTime := time.Since(t0)
	close(stop)
	<-done
	t.Logf("snapshot of %d MB database: %v, %d MB; %d writes during it, slowest %v", fi.Size()>>20, snapTime.Round(time.Millisecond), size>>20, writes, worst.Round(time.Millisecond))
	s.Close()
	s, restart := open()
	defer s.Close()
	t0 = time.Now()
	put(t, s, "after-restart", "x")
	t.Logf("restart with %d MB database: %v (first write after it %v)", fi.Size()>>20, restart.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond))
}
