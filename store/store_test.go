package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

// kv is a tiny module used by the store's tests.
type putReq struct {
	K string `json:"k"`
	V string `json:"v"`
}

func registerKV(s *store.Store) {
	s.AddMigrations("kv", `CREATE TABLE kv_item (k TEXT PRIMARY KEY, v TEXT NOT NULL, at INTEGER NOT NULL, id TEXT NOT NULL, idx INTEGER NOT NULL DEFAULT 0)`)
	s.Register("kv.put", 1, func(tx *store.Tx, cmd *store.Command) (any, error) {
		var p putReq
		if err := json.Unmarshal(cmd.Payload, &p); err != nil {
			return nil, store.Errorf("invalid", "bad payload: %v", err)
		}
		if p.K == "" {
			return nil, &store.Error{Code: "invalid", Message: "key required", Fields: map[string]string{"k": "required"}}
		}
		id := tx.NewID()
		if _, err := tx.Exec(`INSERT INTO kv_item(k,v,at,id,idx) VALUES(?,?,?,?,?) ON CONFLICT(k) DO UPDATE SET v=excluded.v, at=excluded.at, idx=excluded.idx`, p.K, p.V, tx.Now().UnixNano(), id, tx.Index); err != nil {
			return nil, err
		}
		return map[string]any{"k": p.K, "id": id, "index": tx.Index}, nil
	})
	// kv.fail writes then refuses: the write must not survive.
	s.Register("kv.fail", 1, func(tx *store.Tx, cmd *store.Command) (any, error) {
		if _, err := tx.Exec(`INSERT INTO kv_item(k,v,at,id) VALUES('ghost','x',0,'x')`); err != nil {
			return nil, err
		}
		return nil, store.Errorf("conflict", "refused on purpose")
	})
	s.Register("kv.panic", 1, func(tx *store.Tx, cmd *store.Command) (any, error) {
		panic("boom")
	})
}

func put(t testing.TB, s *store.Store, k, v string) store.Result {
	t.Helper()
	cmd, _ := store.NewCommand("kv.put", 1, putReq{k, v})
	cmd.Actor = "user:test"
	res, err := s.Apply(context.Background(), cmd)
	if err != nil {
		t.Fatalf("put %s: %v", k, err)
	}
	return res
}

func get(t testing.TB, db *sql.DB, k string) (string, bool) {
	t.Helper()
	var v string
	err := db.QueryRow(`SELECT v FROM kv_item WHERE k=?`, k).Scan(&v)
	if err == sql.ErrNoRows {
		return "", false
	}
	if err != nil {
		t.Fatal(err)
	}
	return v, true
}

func TestApplyAndRead(t *testing.T) {
	s := storetest.New(t, registerKV)
	res := put(t, s, "a", "1")
	var out struct {
		K     string `json:"k"`
		ID    string `json:"id"`
		Index uint64 `json:"index"`
	}
	if err := res.Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.K != "a" || out.ID != res.CmdID || out.Index != res.Index || res.Index == 0 {
		t.Fatalf("result %+v, res %+v", out, res)
	}
	if v, ok := get(t, s.DB(), "a"); !ok || v != "1" {
		t.Fatalf("read back %q %v", v, ok)
	}
	if res.Time.IsZero() || time.Since(res.Time) > time.Minute {
		t.Fatalf("leader time %v", res.Time)
	}
	st := s.Status()
	if st.State != "leader" || st.Leader != "test1" || st.AppliedIndex < res.Index {
		t.Fatalf("status %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	s := storetest.New(t, registerKV)
	ctx := context.Background()
	cases := []struct {
		name string
		cmd  store.Command
		code string
	}{
		{"unknown type", store.Command{Type: "kv.nope", Version: 1}, "unknown_command"},
		{"unknown version", store.Command{Type: "kv.put", Version: 2, Payload: json.RawMessage(`{"k":"x"}`)}, "unknown_command"},
		{"internal type", store.Command{Type: "_node.remove", Version: 1}, "forbidden"},
		{"no version", store.Command{Type: "kv.put"}, "invalid"},
		{"handler validation", store.Command{Type: "kv.put", Version: 1, Payload: json.RawMessage(`{"k":""}`)}, "invalid"},
		{"handler refusal rolls back", store.Command{Type: "kv.fail", Version: 1}, "conflict"},
		{"handler panic", store.Command{Type: "kv.panic", Version: 1}, "internal"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Apply(ctx, c.cmd)
			var se *store.Error
			if !errors.As(err, &se) || se.Code != c.code {
				t.Fatalf("got %v, want code %s", err, c.code)
			}
		})
	}
	if _, ok := get(t, s.DB(), "ghost"); ok {
		t.Fatal("refused command left a write behind")
	}
	// The store keeps working after refusals and a panic.
	put(t, s, "after", "ok")
	// Refused commands are in the log with their error.
	entries, total, err := s.QueryLog(ctx, store.LogFilter{OnlyErrors: true})
	if err != nil || total != 3 || len(entries) != 3 {
		t.Fatalf("error log: %d %d %v", total, len(entries), err)
	}
}

func TestIdempotency(t *testing.T) {
	s := storetest.New(t, registerKV)
	cmd, _ := store.NewCommand("kv.put", 1, putReq{"k", "first"})
	cmd.IdempotencyKey = "client-1"
	r1, err := s.Apply(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	cmd2, _ := store.NewCommand("kv.put", 1, putReq{"k", "second"})
	cmd2.IdempotencyKey = "client-1"
	r2, err := s.Apply(context.Background(), cmd2)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Index != r2.Index || r1.CmdID != r2.CmdID {
		t.Fatalf("retry applied again: %+v vs %+v", r1, r2)
	}
	if v, _ := get(t, s.DB(), "k"); v != "first" {
		t.Fatalf("value %q", v)
	}
}

func TestEventsInOrderAndResume(t *testing.T) {
	s := storetest.New(t, registerKV)
	var mu sync.Mutex
	var got []uint64
	cancel := s.Subscribe("t", s.AppliedIndex(), func(e store.Event) {
		mu.Lock()
		got = append(got, e.Index)
		mu.Unlock()
	})
	var want []uint64
	for i := 0; i < 50; i++ {
		want = append(want, put(t, s, fmt.Sprint(i), "v").Index)
	}
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) >= 50 })
	cancel()
	mu.Lock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v want %v", got, want)
	}
	mu.Unlock()
	// Resume from a watermark: replayed from the log table.
	var replay []store.Event
	done := make(chan struct{})
	var once sync.Once
	c2 := s.Subscribe("t2", want[39], func(e store.Event) {
		replay = append(replay, e)
		if len(replay) == 10 {
			once.Do(func() { close(done) })
		}
	})
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("no replay")
	}
	c2()
	if replay[0].Index != want[40] || replay[9].Index != want[49] || !replay[0].Replayed || replay[0].Cmd.Type != "kv.put" {
		t.Fatalf("replay %+v", replay[0])
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	open := func() *store.Store {
		s, err := store.New(store.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		registerKV(s)
		if err := s.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	var last store.Result
	for i := 0; i < 100; i++ {
		last = put(t, s, fmt.Sprint(i), fmt.Sprint(i))
	}
	id := s.NodeID()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	if s.NodeID() != id {
		t.Fatalf("node id changed %s -> %s", id, s.NodeID())
	}
	if s.AppliedIndex() < last.Index {
		t.Fatalf("applied %d < %d", s.AppliedIndex(), last.Index)
	}
	r := put(t, s, "new", "x")
	if r.Index <= last.Index {
		t.Fatalf("index went back: %d <= %d", r.Index, last.Index)
	}
	var n int
	s.DB().QueryRow(`SELECT count(*) FROM kv_item`).Scan(&n)
	if n != 101 {
		t.Fatalf("rows %d", n)
	}
	rep, err := s.VerifyAudit(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("audit %+v %v", rep, err)
	}
}

func TestMigrationsAndDowngrade(t *testing.T) {
	dir := t.TempDir()
	s, _ := store.New(store.Config{DataDir: dir})
	s.AddMigrations("m", `CREATE TABLE m_a(x)`, `ALTER TABLE m_a ADD COLUMN y`)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, _ = store.New(store.Config{DataDir: dir})
	s.AddMigrations("m", `CREATE TABLE m_a(x)`) // older binary
	err := s.Start(context.Background())
	var de *store.DowngradeError
	if !errors.As(err, &de) || de.HaveVersion != 2 || de.KnownVersions != 1 {
		t.Fatalf("want downgrade refusal, got %v", err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "yiwang.db")); err != nil {
		t.Fatal(err)
	}
	// An older binary without the module at all is refused too.
	s, _ = store.New(store.Config{DataDir: dir})
	err = s.Start(context.Background())
	if !errors.As(err, &de) || de.Module != "m" || de.KnownVersions != 0 || !strings.Contains(err.Error(), "does not know") {
		t.Fatalf("want refusal of an unknown module, got %v", err)
	}
	s.Close()
}
