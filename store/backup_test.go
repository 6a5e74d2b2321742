package store_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

func TestBackupUnderLoadRestoresToSameState(t *testing.T) {
	s := storetest.New(t, registerKV)
	var stop atomic.Bool
	var wg sync.WaitGroup
	var n atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				put(t, s, fmt.Sprintf("b%06d", n.Add(1)), "v")
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	path := filepath.Join(t.TempDir(), "backup.ywb")
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Backup(context.Background(), fh)
	if err != nil {
		t.Fatal(err)
	}
	fh.Close()
	time.Sleep(200 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	if info.Index == 0 || info.Index >= s.AppliedIndex() {
		t.Fatalf("backup index %d, applied %d: writes did not go on around the backup", info.Index, s.AppliedIndex())
	}
	if v, err := store.VerifyBackup(path); err != nil || v.Index != info.Index {
		t.Fatalf("verify: %+v %v", v, err)
	}
	// Restore into a new data dir and compare with the source at the backup's index.
	dir := filepath.Join(t.TempDir(), "restored")
	if _, err := store.RestoreBackup(path, dir); err != nil {
		t.Fatal(err)
	}
	r, err := store.New(store.Config{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	registerKV(r)
	if err := r.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := dumpKV(t, s.DB(), info.Index)
	got := dumpKV(t, r.DB(), info.Index)
	if want != got || len(want) == 0 {
		t.Fatalf("restored content differs from the source at index %d", info.Index)
	}
	var ic string
	r.DB().QueryRow(`PRAGMA integrity_check`).Scan(&ic)
	if ic != "ok" {
		t.Fatalf("integrity_check %s", ic)
	}
	// The restored node keeps going with indexes after the backup's.
	res := put(t, r, "after-restore", "x")
	if res.Index <= info.Index {
		t.Fatalf("index %d not after backup index %d", res.Index, info.Index)
	}
	if rep, err := r.VerifyAudit(context.Background()); err != nil || !rep.OK {
		t.Fatalf("audit after restore: %+v %v", rep, err)
	}
	// Restoring over an existing data dir is refused.
	if _, err := store.RestoreBackup(path, dir); err == nil {
		t.Fatal("restore over an existing database accepted")
	}
}

func dumpKV(t *testing.T, db *sql.DB, upto uint64) string {
	rows, err := db.Query(`SELECT k, v, at, id, idx FROM kv_item WHERE idx <= ? ORDER BY k`, upto)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var k, v, id string
		var at, idx int64
		rows.Scan(&k, &v, &at, &id, &idx)
		fmt.Fprintf(&b, "%s|%s|%d|%s|%d\n", k, v, at, id, idx)
	}
	return b.String()
}

func TestBackupVerifyDetectsDamage(t *testing.T) {
	s := storetest.New(t, registerKV)
	for i := 0; i < 50; i++ {
		put(t, s, fmt.Sprint(i), strings.Repeat("x", 200))
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ywb")
	fh, _ := os.Create(good)
	if _, err := s.Backup(context.Background(), fh); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	data, _ := os.ReadFile(good)
	cases := map[string][]byte{
		"truncated":    data[:len(data)-1000],
		"altered byte": flip(data, len(data)-5000),
		"padded":       append(append([]byte{}, data...), 0),
		"no header":    data[40:],
		"empty":        nil,
		"header only":  data[:strings.Index(string(data), "}\n")+2],
		"damaged meta": []byte(strings.Replace(string(data), `"sha256":"`, `"sha256":"0`, 1)),
		"not a backup": []byte("SQLite format 3\x00 ..."),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
			os.WriteFile(p, b, 0o600)
			if _, err := store.VerifyBackup(p); err == nil {
				t.Fatal("damaged backup verified")
			} else {
				t.Log(err)
			}
			if _, err := store.RestoreBackup(p, filepath.Join(dir, "r-"+strings.ReplaceAll(name, " ", "_"))); err == nil {
				t.Fatal("damaged backup restored")
			}
		})
	}
	if _, err := store.VerifyBackup(good); err != nil {
		t.Fatal(err)
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0xff
	return c
}

func TestAuditChainDetectsTampering(t *testing.T) {
	dir := t.TempDir()
	s, _ := store.New(store.Config{DataDir: dir})
	registerKV(s)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var idx []uint64
	for i := 0; i < 20; i++ {
		idx = append(idx, put(t, s, fmt.Sprint(i), "v").Index)
	}
	s.Close()
	ctx := context.Background()
	if rep, err := store.VerifyAuditFile(ctx, dir); err != nil || !rep.OK || rep.Rows < 20 {
		t.Fatalf("clean chain: %+v %v", rep, err)
	}
	tamper := func(t *testing.T, sql string, args ...any) string {
		d := filepath.Join(t.TempDir(), "copy")
		os.MkdirAll(d, 0o700)
		copyFile(t, filepath.Join(dir, "yiwang.db"), filepath.Join(d, "yiwang.db"))
		db, err := sqlOpen(filepath.Join(d, "yiwang.db"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(sql, args...); err != nil {
			t.Fatal(err)
		}
		db.Close()
		return d
	}
	// The row after idx[3] in the log: usually idx[4], unless the node's own
	// announcement (_node.announce) was applied in between.
	var afterDeleted uint64
	{
		db, err := sqlOpen(filepath.Join(dir, "yiwang.db"))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT min(idx) FROM _log WHERE idx > ?`, idx[3]).Scan(&afterDeleted); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
	cases := []struct {
		name    string
		sql     string
		args    []any
		wantBad uint64
	}{
		{"edited payload", `UPDATE _log SET payload=? WHERE idx=?`, []any{[]byte(`{"k":"5","v":"evil"}`), idx[5]}, idx[5]},
		{"edited actor", `UPDATE _log SET actor='user:someone-else' WHERE idx=?`, []any{idx[7]}, idx[7]},
		{"deleted row", `DELETE FROM _log WHERE idx=?`, []any{idx[3]}, afterDeleted},
		{"deleted tail", `DELETE FROM _log WHERE idx=?`, []any{idx[19]}, idx[18] + 1},
		{"edited result", `UPDATE _log SET result='{}' WHERE idx=?`, []any{idx[2]}, idx[2]},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := tamper(t, c.sql, c.args...)
			rep, err := store.VerifyAuditFile(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK || rep.FirstBad != c.wantBad {
				t.Fatalf("got %+v, want first bad %d", rep, c.wantBad)
			}
			t.Log(rep.Problem)
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func sqlOpen(path string) (*sql.DB, error) { return sql.Open("sqlite", "file:"+path) }
