package iot

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
	"github.com/yiwang/yiwang/store"
)

// ---- connection events (any node: the broker is local) ----

func (m *Module) onConnection(ev mqtt.ConnEvent) {
	if ev.Device == "" {
		return // console session
	}
	m.connMu.Lock()
	m.connBuf[ev.Device] = ev
	m.connMu.Unlock()
}

// flushConn records the collected connection events as one device.conn
// command: the last event per device, so a connection that flaps within
// ConnDebounce is one record and no status change.
func (m *Module) flushConn(ctx context.Context) error {
	m.connMu.Lock()
	buf := m.connBuf
	m.connBuf = map[string]mqtt.ConnEvent{}
	m.connMu.Unlock()
	if len(buf) == 0 {
		return nil
	}
	p := connPayload{}
	for _, ev := range buf {
		p.Events = append(p.Events, connEvent{Device: ev.Device, Connected: ev.Connected, At: ms(ev.At), Remote: ev.Remote, Reason: ev.Reason})
	}
	sort.Slice(p.Events, func(i, j int) bool { return p.Events[i].Device < p.Events[j].Device })
	_, err := m.apply(ctx, "system:mqtt", CmdDeviceConn, p, nil)
	return err
}

// ---- leader-only loops ----

func (m *Module) tick(ctx context.Context) error {
	_, err := m.apply(ctx, "system:iot", CmdTick, struct{}{}, nil)
	return err
}

// Tick runs the inactivity / no-data check now (tests, CLI).
func (m *Module) Tick(ctx context.Context) error { return m.tick(ctx) }

// rollup advances the rollup watermark to 10 s ago (grace for readings in
// flight). It runs every few seconds so that each command folds only a few
// seconds of readings: a rare large fold would hold the FSM and show up as
// alarm latency.
func (m *Module) rollup(ctx context.Context) error {
	upto := time.Now().Add(-10 * time.Second).Truncate(time.Second)
	_, err := m.apply(ctx, "system:iot", CmdRollup, rollupPayload{Upto: ms(upto)}, nil)
	return err
}

// Rollup folds raw readings up to 10 s ago into the rollups now (tests,
// CLI).
func (m *Module) Rollup(ctx context.Context) error { return m.rollup(ctx) }

// prune computes per-series cut-offs from the retention settings at the
// leader's clock and issues them in commands of bounded size.
func (m *Module) prune(ctx context.Context) error {
	// Never prune raw readings that are not folded into the rollups yet.
	if err := m.rollup(ctx); err != nil {
		return err
	}
	now := time.Now()
	ret := map[string]Retention{}
	rows, err := m.st.DB().QueryContext(ctx, `SELECT metric, raw_days, minute_days, hour_days FROM iot_retention`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var r Retention
		if err := rows.Scan(&r.Metric, &r.RawDays, &r.MinuteDays, &r.HourDays); err != nil {
			rows.Close()
			return err
		}
		ret[r.Metric] = r
	}
	rows.Close()
	rows, err = m.st.DB().QueryContext(ctx, `SELECT device, metric FROM iot_latest ORDER BY device, metric`)
	if err != nil {
		return err
	}
	var all []pruneCutoff
	for rows.Next() {
		var c pruneCutoff
		if err := rows.Scan(&c.Device, &c.Metric); err != nil {
			rows.Close()
			return err
		}
		r, ok := ret[c.Metric]
		if !ok {
			r = ret["*"]
		}
		day := int64(24 * time.Hour / time.Millisecond)
		c.Raw, c.Minute, c.Hour = ms(now)-r.RawDays*day, ms(now)-r.MinuteDays*day, ms(now)-r.HourDays*day
		all = append(all, c)
	}
	rows.Close()
	for start := 0; start < len(all); start += 500 {
		p := prunePayload{Cutoffs: all[start:min(start+500, len(all))]}
		if _, err := m.apply(ctx, "system:iot", CmdPrune, p, nil); err != nil {
			return err
		}
	}
	return nil
}

// Prune runs retention now (tests, CLI).
func (m *Module) Prune(ctx context.Context) error { return m.prune(ctx) }

// reconcileLoop is the case outbox: alarms whose rule names a case
// category get a case through the CaseOpener, and the link is recorded with
// alarm.link_case; cleared alarms get the clear noted on their case (once
// it has stayed cleared for ClearSettle, so a flapping sensor's case is not
// told "cleared" every minute). It runs on the leader only; whichever node
// leads next picks up what is still pending, so nothing is lost.
func (m *Module) reconcileLoop(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.ReconcileInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.poke:
		}
		if !m.st.IsLeader() {
			continue
		}
		if err := m.reconcile(ctx); err != nil && ctx.Err() == nil {
			m.logf("iot: case outbox: %v", err)
		}
	}
}

// Reconcile runs one outbox round now (tests).
func (m *Module) Reconcile(ctx context.Context) error { return m.reconcile(ctx) }

func (m *Module) reconcile(ctx context.Context) error {
	co := m.caseOpener()
	if co == nil {
		return nil
	}
	db := m.st.DB()
	rows, err := db.QueryContext(ctx, `SELECT a.id, a.case_category, a.title, a.device_id, a.severity, a.raised_at, a.value, a.metric,
		COALESCE(d.component_id, ''), a.grid_code, COALESCE(d.address, ''), d.lat, d.lng, COALESCE(d.name, '')
		FROM iot_alarm a LEFT JOIN iot_device d ON d.id = a.device_id
		WHERE a.case_category != '' AND a.case_id IS NULL AND a.case_noted = 0 ORDER BY a.raised_at LIMIT 100`)
	if err != nil {
		return err
	}
	var open []AlarmCase
	for rows.Next() {
		var c AlarmCase
		var raised int64
		var value sql.NullFloat64
		var lat, lng sql.NullFloat64
		var metric, name string
		if err := rows.Scan(&c.AlarmID, &c.CategoryCode, &c.Title, &c.DeviceID, &c.Severity, &raised, &value, &metric,
			&c.ComponentID, &c.GridCode, &c.Address, &lat, &lng, &name); err != nil {
			rows.Close()
			return err
		}
		c.RaisedAt = fromMS(raised)
		c.Lat, c.Lng = lat.Float64, lng.Float64
		c.Description = fmt.Sprintf("物联感知告警：%s。设备 %s（%s）", c.Title, name, c.DeviceID)
		if value.Valid {
			c.Description += fmt.Sprintf("，%s 读数 %s", metric, fmtVal(value.Float64))
		}
		if c.Address != "" {
			c.Description += "，位置：" + c.Address
		}
		c.Description += "。"
		open = append(open, c)
	}
	rows.Close()
	for _, c := range open {
		id, err := co.OpenFromAlarm(ctx, c)
		if err != nil {
			_, _ = m.apply(ctx, "system:iot", CmdAlarmCaseError, caseErrorPayload{AlarmID: c.AlarmID, Error: err.Error()}, nil)
			m.logf("iot: open case for alarm %s: %v", c.AlarmID, err)
			continue
		}
		if _, err := m.apply(ctx, "system:iot", CmdAlarmLinkCase, linkCasePayload{AlarmID: c.AlarmID, CaseID: id}, nil); err != nil {
			return err
		}
	}

	settled := ms(time.Now().Add(-m.opts.ClearSettle))
	rows, err = db.QueryContext(ctx, `SELECT id, case_id, cleared_at, clear_note FROM iot_alarm
		WHERE case_category != '' AND case_id IS NOT NULL AND case_noted = 0 AND status = 'cleared' AND cleared_at <= ?
		ORDER BY cleared_at LIMIT 100`, settled)
	if err != nil {
		return err
	}
	type clr struct {
		id      string
		caseID  int64
		cleared int64
		note    string
	}
	var cl []clr
	for rows.Next() {
		var c clr
		if err := rows.Scan(&c.id, &c.caseID, &c.cleared, &c.note); err != nil {
			rows.Close()
			return err
		}
		cl = append(cl, c)
	}
	rows.Close()
	for _, c := range cl {
		if err := co.NoteAlarmCleared(ctx, c.caseID, c.id, fromMS(c.cleared), c.note); err != nil {
			m.logf("iot: note clear of alarm %s on case %d: %v", c.id, c.caseID, err)
			continue
		}
		if _, err := m.apply(ctx, "system:iot", CmdAlarmCaseNoted, caseNotedPayload{AlarmID: c.id, ClearedAt: c.cleared}, nil); err != nil {
			return err
		}
	}
	return nil
}

// ---- downlink ----

// SendCommand records a downlink command and publishes it through the
// local broker; delivery and reply are recorded as they happen.
func (m *Module) SendCommand(ctx context.Context, actor, device string, in CommandInput) (*DownlinkCommand, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var c DownlinkCommand
	if _, err := m.apply(ctx, actor, CmdCommandCreate, commandCreatePayload{DeviceID: device, CommandInput: in}, &c); err != nil {
		return nil, err
	}
	payload, _ := json.Marshal(map[string]any{"id": c.ID, "name": c.Name, "params": c.Params})
	var sendErr error
	if m.broker == nil {
		sendErr = fmt.Errorf("no MQTT broker runs on this node")
	} else {
		sendErr = m.broker.Send(device, c.ID, payload)
	}
	if sendErr != nil {
		msg := sendErr.Error()
		if sendErr == mqtt.ErrNotSubscribed {
			msg = "device is not connected to this node (or not subscribed to yw/" + device + "/cmd/+)"
		}
		var out DownlinkCommand
		if _, err := m.apply(ctx, actor, CmdCommandStatus, commandStatusPayload{ID: c.ID, State: "failed", Error: msg}, &out); err != nil {
			return nil, err
		}
		return &out, nil
	}
	return &c, nil
}

func (m *Module) onCommand(st mqtt.CommandStatus) {
	p := commandStatusPayload{ID: st.ID, State: string(st.State)}
	if len(st.Reply) > 0 {
		if len(st.Reply) > 16<<10 {
			st.Reply = st.Reply[:16<<10]
		}
		if json.Valid(st.Reply) {
			p.Reply = st.Reply
		} else {
			b, _ := json.Marshal(string(st.Reply))
			p.Reply = b
		}
	}
	if st.State == mqtt.CommandTimeout {
		p.Error = "no reply in time"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := m.apply(ctx, "system:mqtt", CmdCommandStatus, p, nil); err != nil {
		if se := store.AsError(err); se.Code != "not_found" {
			m.logf("iot: record command status: %v", err)
		}
	}
}
