package iot

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/yiwang/yiwang/store"
)

// Alarm evaluation runs inside the telemetry.batch handler (and the
// leader's iot.tick for no-data and offline checks), so alarm state lives in
// SQLite, changes in the same transaction as the readings that caused it,
// and is identical on every node: restarts and leader changes cannot lose
// or duplicate an alarm.

// outEvent is a post-commit event a command produces for consoles and
// plugins, scoped by the device's department and grid.
type outEvent struct {
	Type   string `json:"type"`
	Device string `json:"device"`
	Dept   int64  `json:"dept,omitempty"`
	Grid   string `json:"grid,omitempty"`
	Data   any    `json:"data"`
}

type ruleState struct {
	ruleID        int64
	device        string
	pendingSince  int64
	lastValue     float64
	lastTS        int64
	alarmID       string
	dirty, exists bool
}

type evaluator struct {
	m    *Module
	tx   *store.Tx
	now  int64
	devs map[string]*devInfo
	res  *batchResult
}

type pairKey struct {
	rule   int64
	device string
}

func (e *evaluator) run(rules *ruleSet, p *batchPayload, rs []reading) error {
	// Which (rule, device) pairs this batch touches.
	type hit struct {
		r    *reading
		rule *Rule
	}
	var hits []hit
	pairs := map[pairKey]bool{}
	for i := range rs {
		r := &rs[i]
		list := rules.byMetric[p.Metrics[r.met]]
		if len(list) == 0 {
			continue
		}
		d := e.devs[p.Devices[r.dev]]
		for _, rule := range list {
			if rule.applies(d) {
				hits = append(hits, hit{r, rule})
				pairs[pairKey{rule.ID, d.id}] = true
			}
		}
	}
	if len(hits) == 0 {
		return nil
	}
	states, err := loadStates(e.tx, pairs)
	if err != nil {
		return err
	}
	for _, h := range hits {
		d := e.devs[p.Devices[h.r.dev]]
		st := states[pairKey{h.rule.ID, d.id}]
		if err := e.step(h.rule, d, st, h.r.ts, h.r.v); err != nil {
			return err
		}
	}
	return saveStates(e.tx, states)
}

func loadStates(tx *store.Tx, pairs map[pairKey]bool) (map[pairKey]*ruleState, error) {
	byRule := map[int64][]string{}
	out := make(map[pairKey]*ruleState, len(pairs))
	for k := range pairs {
		byRule[k.rule] = append(byRule[k.rule], k.device)
		out[k] = &ruleState{ruleID: k.rule, device: k.device}
	}
	for rule, devs := range byRule {
		for start := 0; start < len(devs); start += 500 {
			chunk := devs[start:min(start+500, len(devs))]
			args := []any{rule}
			for _, d := range chunk {
				args = append(args, d)
			}
			rows, err := tx.Query(`SELECT device_id, pending_since, last_value, last_ts, alarm_id FROM iot_rule_state
				WHERE rule_id = ?1 AND device_id IN (`+placeholders(len(chunk))+`)`, args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var dev string
				s := &ruleState{ruleID: rule, exists: true}
				if err := rows.Scan(&dev, &s.pendingSince, &s.lastValue, &s.lastTS, &s.alarmID); err != nil {
					rows.Close()
					return nil, err
				}
				s.device = dev
				out[pairKey{rule, dev}] = s
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func saveStates(tx *store.Tx, states map[pairKey]*ruleState) error {
	var dirty []*ruleState
	for _, s := range states {
		if s.dirty {
			dirty = append(dirty, s)
		}
	}
	sort.Slice(dirty, func(i, j int) bool {
		if dirty[i].ruleID != dirty[j].ruleID {
			return dirty[i].ruleID < dirty[j].ruleID
		}
		return dirty[i].device < dirty[j].device
	})
	return multiRow(tx, len(dirty), "INSERT INTO iot_rule_state(rule_id, device_id, pending_since, last_value, last_ts, alarm_id) VALUES ",
		"(?,?,?,?,?,?)", " ON CONFLICT(rule_id, device_id) DO UPDATE SET pending_since = excluded.pending_since,"+
			" last_value = excluded.last_value, last_ts = excluded.last_ts, alarm_id = excluded.alarm_id",
		func(i int, a []any) []any {
			s := dirty[i]
			return append(a, s.ruleID, s.device, s.pendingSince, s.lastValue, s.lastTS, s.alarmID)
		}, nil)
}

// step evaluates one reading against one rule.
func (e *evaluator) step(r *Rule, d *devInfo, st *ruleState, ts int64, v float64) error {
	if st.lastTS != 0 && ts <= st.lastTS {
		return nil // late or repeated reading: the series has moved on
	}
	prevV, prevTS := st.lastValue, st.lastTS
	st.lastValue, st.lastTS, st.dirty = v, ts, true
	var cond, clear bool
	switch r.Kind {
	case KindNoData:
		if st.alarmID != "" {
			if err := e.m.clearAlarm(e.tx, st.alarmID, e.now, fmt.Sprintf("数据恢复 (%s = %s)", r.Metric, fmtVal(v)), e.res); err != nil {
				return err
			}
			st.alarmID = ""
		}
		return nil
	case KindThreshold:
		cond, clear = thresholdCond(r, v)
	case KindRange:
		cond = v < r.Low || v > r.High
		clear = v >= r.Low+r.Hysteresis && v <= r.High-r.Hysteresis
	case KindRate:
		if prevTS == 0 || ts <= prevTS {
			return nil
		}
		rate := math.Abs(v-prevV) / (float64(ts-prevTS) / 60000)
		cond = rate > r.Threshold
		clear = rate <= r.Threshold-r.Hysteresis
	}
	if st.alarmID != "" {
		if clear {
			note := fmt.Sprintf("%s 恢复正常: %s", r.Metric, fmtVal(v))
			if err := e.m.clearAlarm(e.tx, st.alarmID, e.now, note, e.res); err != nil {
				return err
			}
			st.alarmID, st.pendingSince = "", 0
		}
		return nil
	}
	if !cond {
		st.pendingSince = 0
		return nil
	}
	if st.pendingSince == 0 {
		st.pendingSince = ts
	}
	if ts-st.pendingSince < r.DurationS*1000 {
		return nil
	}
	id, err := e.m.raiseRuleAlarm(e.tx, r, d, &v, e.now, e.res)
	if err != nil {
		return err
	}
	st.alarmID, st.pendingSince = id, 0
	return nil
}

// thresholdCond: the alarm condition, and the clear condition shifted by
// the hysteresis (or at clear_threshold).
func thresholdCond(r *Rule, v float64) (cond, clear bool) {
	up := r.Op == "gt" || r.Op == "ge"
	at := r.Threshold - r.Hysteresis
	if !up {
		at = r.Threshold + r.Hysteresis
	}
	if r.ClearThreshold != nil {
		at = *r.ClearThreshold
	}
	switch r.Op {
	case "gt":
		return v > r.Threshold, v <= at
	case "ge":
		return v >= r.Threshold, v < at
	case "lt":
		return v < r.Threshold, v >= at
	default: // le
		return v <= r.Threshold, v > at
	}
}

func fmtVal(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }

var opText = map[string]string{"gt": "高于", "ge": "不低于", "lt": "低于", "le": "不高于"}

func ruleTitle(r *Rule, d *devInfo) string {
	switch r.Kind {
	case KindThreshold:
		return fmt.Sprintf("%s：%s %s %s%s", d.name, r.Name, r.Metric, opText[r.Op], fmtVal(r.Threshold))
	case KindRange:
		return fmt.Sprintf("%s：%s %s 超出 [%s, %s]", d.name, r.Name, r.Metric, fmtVal(r.Low), fmtVal(r.High))
	case KindRate:
		return fmt.Sprintf("%s：%s %s 变化速率超过 %s/分钟", d.name, r.Name, r.Metric, fmtVal(r.Threshold))
	default:
		return fmt.Sprintf("%s：%s %s 超过 %d 秒无数据", d.name, r.Name, r.Metric, r.DurationS)
	}
}

// raiseRuleAlarm opens an alarm for (rule, device), or re-opens the last
// one when it cleared less than the rule's debounce ago (a flapping sensor
// keeps one alarm and therefore one case).
func (m *Module) raiseRuleAlarm(tx *store.Tx, r *Rule, d *devInfo, v *float64, now int64, res *batchResult) (string, error) {
	if r.DebounceS > 0 {
		var id string
		err := tx.QueryRow(`SELECT id FROM iot_alarm WHERE device_id = ? AND rule_id = ? AND status = 'cleared' AND cleared_at >= ?
			ORDER BY cleared_at DESC LIMIT 1`, d.id, r.ID, now-r.DebounceS*1000).Scan(&id)
		if err == nil {
			if _, err := tx.Exec(`UPDATE iot_alarm SET status = 'active', cleared_at = NULL, clear_note = '', acked_at = NULL, acked_by = '',
				flaps = flaps + 1, value = ?, case_noted = 0 WHERE id = ?`, v, id); err != nil {
				return "", err
			}
			return id, m.emitAlarm(tx, "alarm.raised", id, res)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", err
		}
	}
	id := tx.NewID()
	var dept any
	if d.dept != 0 {
		dept = d.dept
	}
	if _, err := tx.Exec(`INSERT INTO iot_alarm(id, kind, rule_id, device_id, metric, severity, status, title, value, raised_at,
		dept_id, grid_code, case_category) VALUES (?, 'rule', ?, ?, ?, ?, 'active', ?, ?, ?, ?, ?, ?)`,
		id, r.ID, d.id, r.Metric, r.Severity, ruleTitle(r, d), v, now, dept, d.grid, r.CaseCategory); err != nil {
		return "", err
	}
	return id, m.emitAlarm(tx, "alarm.raised", id, res)
}

// raiseOfflineAlarm opens the offline alarm of a device.
func (m *Module) raiseOfflineAlarm(tx *store.Tx, d *devInfo, lastSeen, now int64, res *batchResult) (string, error) {
	id := tx.NewID()
	var dept any
	if d.dept != 0 {
		dept = d.dept
	}
	title := fmt.Sprintf("%s：设备离线（最后在线 %s）", d.name, fromMS(lastSeen).In(chinaTime).Format("01-02 15:04"))
	if _, err := tx.Exec(`INSERT INTO iot_alarm(id, kind, device_id, severity, status, title, raised_at, dept_id, grid_code)
		VALUES (?, 'offline', ?, 'minor', 'active', ?, ?, ?, ?)`, id, d.id, title, now, dept, d.grid); err != nil {
		return "", err
	}
	if _, err := tx.Exec(`UPDATE iot_device SET offline_alarm = ? WHERE id = ?`, id, d.id); err != nil {
		return "", err
	}
	return id, m.emitAlarm(tx, "alarm.raised", id, res)
}

// clearAlarm clears an active or acknowledged alarm.
func (m *Module) clearAlarm(tx *store.Tx, id string, now int64, note string, res *batchResult) error {
	r, err := tx.Exec(`UPDATE iot_alarm SET status = 'cleared', cleared_at = ?, clear_note = ? WHERE id = ? AND status != 'cleared'`, now, note, id)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil
	}
	return m.emitAlarm(tx, "alarm.cleared", id, res)
}

func (m *Module) emitAlarm(tx *store.Tx, typ, id string, res *batchResult) error {
	a, err := alarmByID(tx, id)
	if err != nil {
		return err
	}
	ev := outEvent{Type: typ, Device: a.DeviceID, Grid: a.GridCode, Data: a}
	if a.DeptID != nil {
		ev.Dept = *a.DeptID
	}
	res.Events = append(res.Events, ev)
	return nil
}

// deviceBackOnline clears a device's offline alarm and reports the status.
func (m *Module) deviceBackOnline(tx *store.Tx, id string, now int64, why string, res *batchResult) error {
	var alarm, grid string
	var dept sql.NullInt64
	if err := tx.QueryRow(`SELECT offline_alarm, grid_code, owner_dept_id FROM iot_device WHERE id = ?`, id).Scan(&alarm, &grid, &dept); err != nil {
		return err
	}
	if alarm != "" {
		if err := m.clearAlarm(tx, alarm, now, "设备恢复在线", res); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE iot_device SET offline_alarm = '' WHERE id = ?`, id); err != nil {
			return err
		}
	}
	res.Events = append(res.Events, outEvent{Type: "device.status", Device: id, Dept: dept.Int64, Grid: grid,
		Data: map[string]any{"device": id, "status": StatusOnline, "at": fromMS(now), "reason": why}})
	return nil
}

const alarmCols = `a.id, a.kind, a.rule_id, a.device_id, COALESCE(d.name, ''), a.metric, a.severity, a.status, a.title, a.value,
	a.raised_at, a.acked_at, a.acked_by, a.cleared_at, a.clear_note, a.flaps, a.dept_id, a.grid_code, a.case_category,
	a.case_id, a.case_error, a.case_noted`

const alarmFrom = ` FROM iot_alarm a LEFT JOIN iot_device d ON d.id = a.device_id`

func scanAlarm(s interface{ Scan(...any) error }) (*Alarm, error) {
	a := &Alarm{}
	var rule, dept, caseID sql.NullInt64
	var value sql.NullFloat64
	var raised int64
	var acked, cleared sql.NullInt64
	if err := s.Scan(&a.ID, &a.Kind, &rule, &a.DeviceID, &a.DeviceName, &a.Metric, &a.Severity, &a.Status, &a.Title, &value,
		&raised, &acked, &a.AckedBy, &cleared, &a.ClearNote, &a.Flaps, &dept, &a.GridCode, &a.CaseCategory,
		&caseID, &a.CaseError, &a.CaseNoted); err != nil {
		return nil, err
	}
	if rule.Valid {
		a.RuleID = &rule.Int64
	}
	if dept.Valid {
		a.DeptID = &dept.Int64
	}
	if caseID.Valid {
		a.CaseID = &caseID.Int64
	}
	if value.Valid {
		a.Value = &value.Float64
	}
	a.RaisedAt = fromMS(raised)
	if acked.Valid {
		a.AckedAt = optTime(&acked.Int64)
	}
	if cleared.Valid {
		a.ClearedAt = optTime(&cleared.Int64)
	}
	return a, nil
}

func alarmByID(q interface {
	QueryRow(string, ...any) *sql.Row
}, id string) (*Alarm, error) {
	a, err := scanAlarm(q.QueryRow(`SELECT `+alarmCols+alarmFrom+` WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "alarm %s not found", id)
	}
	return a, err
}
