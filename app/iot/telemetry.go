package iot

import (
	"context"
	"database/sql"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
	"github.com/yiwang/yiwang/store"
)

// CmdTelemetryBatch carries one broker batch of readings.
const CmdTelemetryBatch = "telemetry.batch"

// batchPayload is a batch in columnar form: device and metric names once,
// then parallel arrays. It is several times smaller and faster to decode
// than an array of objects.
type batchPayload struct {
	Devices []string  `json:"d"`
	Metrics []string  `json:"m"`
	Dev     []int32   `json:"di"`
	Met     []int32   `json:"mi"`
	TS      []int64   `json:"t"`
	Val     []float64 `json:"v"`
}

// WriteBatch implements mqtt.Sink: one batch becomes one telemetry.batch
// command.
func (m *Module) WriteBatch(ctx context.Context, batch []mqtt.Reading) error {
	p := encodeBatch(batch)
	if len(p.TS) == 0 {
		return nil
	}
	_, err := m.apply(ctx, "system:mqtt", CmdTelemetryBatch, p, nil)
	return err
}

func encodeBatch(batch []mqtt.Reading) *batchPayload {
	p := &batchPayload{Dev: make([]int32, 0, len(batch)), Met: make([]int32, 0, len(batch)),
		TS: make([]int64, 0, len(batch)), Val: make([]float64, 0, len(batch))}
	devs, mets := map[string]int32{}, map[string]int32{}
	for _, r := range batch {
		if math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
			continue
		}
		d, ok := devs[r.Device]
		if !ok {
			d = int32(len(p.Devices))
			devs[r.Device] = d
			p.Devices = append(p.Devices, r.Device)
		}
		mi, ok := mets[r.Metric]
		if !ok {
			mi = int32(len(p.Metrics))
			mets[r.Metric] = mi
			p.Metrics = append(p.Metrics, r.Metric)
		}
		p.Dev = append(p.Dev, d)
		p.Met = append(p.Met, mi)
		p.TS = append(p.TS, r.TS.UnixMilli())
		p.Val = append(p.Val, r.Value)
	}
	return p
}

// reading is one decoded row inside the handler.
type reading struct {
	dev, met int32
	ts       int64
	v        float64
}

// batchResult is the telemetry.batch result (kept small: it is stored in
// the command log).
type batchResult struct {
	N      int        `json:"n"`
	Events []outEvent `json:"events,omitempty"`
}

// rowsPerStmt is how many rows one multi-row INSERT carries: the store's
// benchmarks show per-statement overhead dominates single-row inserts.
const rowsPerStmt = 100

func (m *Module) applyTelemetry(tx *store.Tx, cmd *store.Command) (any, error) {
	var p batchPayload
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return nil, store.Errorf("invalid", "telemetry.batch: %v", err)
	}
	n := len(p.TS)
	if len(p.Dev) != n || len(p.Met) != n || len(p.Val) != n {
		return nil, store.Errorf("invalid", "telemetry.batch: ragged columns")
	}
	ver, err := readVersions(tx)
	if err != nil {
		return nil, err
	}
	devs, err := m.cache.get(tx, ver.devices)
	if err != nil {
		return nil, err
	}
	// Keep readings of known, active devices; order by device, metric, ts
	// (the primary key order, which also makes evaluation chronological).
	known := make([]*devInfo, len(p.Devices))
	for i, id := range p.Devices {
		if d := devs[id]; d != nil && !d.retired {
			known[i] = d
		}
	}
	rs := make([]reading, 0, n)
	for i := 0; i < n; i++ {
		if int(p.Dev[i]) >= len(p.Devices) || int(p.Met[i]) >= len(p.Metrics) || p.Dev[i] < 0 || p.Met[i] < 0 {
			return nil, store.Errorf("invalid", "telemetry.batch: index out of range")
		}
		if known[p.Dev[i]] == nil {
			continue
		}
		rs = append(rs, reading{p.Dev[i], p.Met[i], p.TS[i], p.Val[i]})
	}
	slices.SortStableFunc(rs, func(a, b reading) int {
		if c := strings.Compare(p.Devices[a.dev], p.Devices[b.dev]); c != 0 {
			return c
		}
		if c := strings.Compare(p.Metrics[a.met], p.Metrics[b.met]); c != 0 {
			return c
		}
		return int(a.ts - b.ts)
	})
	// Duplicates inside the batch: the last one wins, like a re-sent reading.
	out := rs[:0]
	for i, r := range rs {
		if i+1 < len(rs) && rs[i+1].dev == r.dev && rs[i+1].met == r.met && rs[i+1].ts == r.ts {
			continue
		}
		out = append(out, r)
	}
	rs = out
	res := &batchResult{}
	if len(rs) == 0 {
		return res, nil
	}

	// 1. Raw readings. A reading already stored (a QoS 1 redelivery) is
	// ignored; RETURNING tells which rows are new so the rollups count each
	// reading exactly once.
	inserted := make([]bool, len(rs))
	if err := multiRow(tx, len(rs), "INSERT INTO iot_reading(device, metric, ts, value) VALUES ", "(?,?,?,?)",
		" ON CONFLICT DO NOTHING RETURNING ts, device, metric", func(i int, args []any) []any {
			r := rs[i]
			return append(args, p.Devices[r.dev], p.Metrics[r.met], r.ts, r.v)
		}, func(base, cnt int, rows *sql.Rows) error {
			// RETURNING yields only the rows actually inserted, in VALUES
			// order; match them to the chunk's rows in one pass.
			j := base
			var ts int64
			var dev, met sql.RawBytes
			for rows.Next() {
				if err := rows.Scan(&ts, &dev, &met); err != nil {
					return err
				}
				for j < base+cnt && !(rs[j].ts == ts && p.Devices[rs[j].dev] == string(dev) && p.Metrics[rs[j].met] == string(met)) {
					j++
				}
				if j == base+cnt {
					return store.Errorf("internal", "telemetry.batch: unexpected RETURNING order")
				}
				inserted[j] = true
				res.N++
				j++
			}
			return rows.Err()
		}); err != nil {
		return nil, err
	}

	// 2. Rollups. Readings at or after the rollup watermark are folded in
	// later by the leader's telemetry.rollup (per series, from the raw
	// table), which keeps this hot path to two row writes per reading.
	// Late readings (before the watermark) are folded in here, so the
	// rollups stay exact.
	var late []int
	for i, r := range rs {
		if inserted[i] && r.ts < ver.rollupWM {
			late = append(late, i)
		}
	}
	if err := foldRollups(tx, &p, rs, late); err != nil {
		return nil, err
	}

	// 3. Latest value per device and metric (rs is sorted, so the last row of
	// each run is the newest).
	var latest []reading
	for i, r := range rs {
		if i+1 < len(rs) && rs[i+1].dev == r.dev && rs[i+1].met == r.met {
			continue
		}
		latest = append(latest, r)
	}
	if err := multiRow(tx, len(latest), "INSERT INTO iot_latest(device, metric, ts, value, idx) VALUES ", "(?,?,?,?,?)",
		" ON CONFLICT(device, metric) DO UPDATE SET ts = excluded.ts, value = excluded.value, idx = excluded.idx WHERE excluded.ts >= iot_latest.ts",
		func(i int, args []any) []any {
			r := latest[i]
			return append(args, p.Devices[r.dev], p.Metrics[r.met], r.ts, r.v, int64(tx.Index))
		}, nil); err != nil {
		return nil, err
	}

	// 4. Devices: last seen, and back online when data arrives.
	var seen []string
	for i, r := range rs {
		if i == 0 || rs[i-1].dev != r.dev {
			seen = append(seen, p.Devices[r.dev])
		}
	}
	now := ms(tx.Now())
	if err := m.markSeen(tx, seen, now, res); err != nil {
		return nil, err
	}

	// 5. Alarm rules, evaluated on the readings in order.
	rules, err := m.rules.get(tx, ver.rules)
	if err != nil {
		return nil, err
	}
	if len(rules.byMetric) > 0 {
		ev := &evaluator{m: m, tx: tx, now: now, devs: devs, res: res}
		if err := ev.run(rules, &p, rs); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// foldRollups adds readings rs[idx] to their 1-minute and 1-hour buckets.
func foldRollups(tx *store.Tx, p *batchPayload, rs []reading, idx []int) error {
	if len(idx) == 0 {
		return nil
	}
	type rkey struct {
		dev, met int32
		res      int64
		bucket   int64
	}
	type agg struct {
		n             int64
		sum, min, max float64
	}
	aggs := map[rkey]*agg{}
	var order []rkey
	for _, i := range idx {
		r := rs[i]
		for _, step := range [2]int64{60_000, 3_600_000} {
			k := rkey{r.dev, r.met, step, floorDiv(r.ts, step) * step}
			a := aggs[k]
			if a == nil {
				a = &agg{min: r.v, max: r.v}
				aggs[k] = a
				order = append(order, k)
			}
			a.n++
			a.sum += r.v
			a.min = math.Min(a.min, r.v)
			a.max = math.Max(a.max, r.v)
		}
	}
	return multiRow(tx, len(order), "INSERT INTO iot_rollup(device, metric, res, bucket, n, sum, min, max) VALUES ", "(?,?,?,?,?,?,?,?)",
		rollupUpsert, func(i int, args []any) []any {
			k := order[i]
			a := aggs[k]
			return append(args, p.Devices[k.dev], p.Metrics[k.met], k.res/1000, k.bucket, a.n, a.sum, a.min, a.max)
		}, nil)
}

const rollupUpsert = " ON CONFLICT(device, metric, res, bucket) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum," +
	" min = CASE WHEN excluded.min < min THEN excluded.min ELSE min END," +
	" max = CASE WHEN excluded.max > max THEN excluded.max ELSE max END"

// CmdRollup folds raw readings in [watermark, upto) into the rollups.
const CmdRollup = "telemetry.rollup"

type rollupPayload struct {
	Upto int64 `json:"upto"`
}

// applyRollup advances the rollup watermark: for every series whose latest
// reading is at or after the watermark (iot_latest), the raw readings in
// [watermark, upto) are aggregated through the primary key and added to the
// 1-minute and 1-hour buckets.
func (m *Module) applyRollup(tx *store.Tx, cmd *store.Command) (any, error) {
	var p rollupPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	ver, err := readVersions(tx)
	if err != nil {
		return nil, err
	}
	if p.Upto <= ver.rollupWM {
		return map[string]int64{"watermark": ver.rollupWM}, nil
	}
	var n int64
	for _, step := range []int64{60, 3600} {
		r, err := tx.Exec(`INSERT INTO iot_rollup(device, metric, res, bucket, n, sum, min, max)
			SELECT r.device, r.metric, ?3, (r.ts / (?3 * 1000)) * (?3 * 1000), count(*), sum(r.value), min(r.value), max(r.value)
			FROM iot_latest l JOIN iot_reading r ON r.device = l.device AND r.metric = l.metric AND r.ts >= ?1 AND r.ts < ?2
			WHERE l.ts >= ?1 GROUP BY r.device, r.metric, r.ts / (?3 * 1000)`+rollupUpsert, ver.rollupWM, p.Upto, step)
		if err != nil {
			return nil, err
		}
		k, _ := r.RowsAffected()
		n += k
	}
	if _, err := tx.Exec(`INSERT INTO iot_meta(key, value) VALUES ('rollup_wm', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`, p.Upto); err != nil {
		return nil, err
	}
	return map[string]int64{"watermark": p.Upto, "buckets": n}, nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// markSeen updates last_seen (at most every 2 s per device, to keep the
// write small) and brings offline devices with fresh data back online.
func (m *Module) markSeen(tx *store.Tx, ids []string, now int64, res *batchResult) error {
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		ph := placeholders(len(chunk))
		args := make([]any, 0, len(chunk)+1)
		args = append(args, now)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := tx.Query(`UPDATE iot_device SET status = 'online', status_at = ?1 WHERE status = 'offline' AND id IN (`+ph+`) RETURNING id`, args...)
		if err != nil {
			return err
		}
		var back []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			back = append(back, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		slices.Sort(back)
		for _, id := range back {
			if err := m.deviceBackOnline(tx, id, now, "telemetry received", res); err != nil {
				return err
			}
		}
		args = append(args, now-2000)
		if _, err := tx.Exec(`UPDATE iot_device SET last_seen = ?1 WHERE id IN (`+ph+`) AND (last_seen IS NULL OR last_seen < ?`+itoa(len(chunk)+2)+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("?" + itoa(i+2))
	}
	return b.String()
}

func itoa(i int) string { return strconv.Itoa(i) }

// stmtCache keeps the SQL text of multi-row statements by shape.
var stmtCache sync.Map // string -> string

// multiRow executes "prefix (row),(row)... suffix" for n rows in chunks of
// rowsPerStmt, preparing each chunk size once per transaction. When scan is
// set the statement is a query (RETURNING) and scan reads each chunk's rows.
func multiRow(tx *store.Tx, n int, prefix, row, suffix string, args func(i int, a []any) []any,
	scan func(base, cnt int, rows *sql.Rows) error) error {
	if n == 0 {
		return nil
	}
	stmts := map[int]*sql.Stmt{}
	defer func() {
		for _, s := range stmts {
			s.Close()
		}
	}()
	a := make([]any, 0, rowsPerStmt*8)
	for base := 0; base < n; base += rowsPerStmt {
		cnt := min(rowsPerStmt, n-base)
		st := stmts[cnt]
		if st == nil {
			key := prefix + row + suffix + "#" + itoa(cnt)
			q, ok := stmtCache.Load(key)
			if !ok {
				var b strings.Builder
				b.WriteString(prefix)
				for i := 0; i < cnt; i++ {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString(row)
				}
				b.WriteString(suffix)
				q = b.String()
				stmtCache.Store(key, q)
			}
			var err error
			st, err = tx.Prepare(q.(string))
			if err != nil {
				return err
			}
			stmts[cnt] = st
		}
		a = a[:0]
		for i := base; i < base+cnt; i++ {
			a = args(i, a)
		}
		if scan == nil {
			if _, err := st.Exec(a...); err != nil {
				return err
			}
			continue
		}
		rows, err := st.Query(a...)
		if err != nil {
			return err
		}
		err = scan(base, cnt, rows)
		rows.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
