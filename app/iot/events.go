package iot

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/store"
)

// Post-commit events. One telemetry.batch can raise alarms for devices of
// several departments, and the live hub's classifier maps one command to
// one message with one audience. So the module's commands are dropped from
// the hub's default stream, and a store subscriber on every node turns each
// committed command's result into per-device messages — alarm.raised,
// alarm.acknowledged, alarm.cleared, device.status, device.updated,
// device.command, alarm.case_linked — published with the device's
// department and grid as audience. Latest values are pushed every
// LatestInterval as telemetry.latest, one message per (department, grid),
// from iot_latest rows newer than a watermark (the store index of the batch
// that wrote them), so consoles get at most one update per device per
// interval however fast it reports.

// EventHook, when set on Options, receives every message the module
// publishes (plugins, tests, benchmarks).
type EventHook func(msg live.Message, aud live.Audience)

var ownPrefixes = []string{"telemetry.", "iot.", "device.", "alarm."}

func (m *Module) liveClassifiers(h *live.Hub) {
	h.Drop(ownPrefixes...)
}

func (m *Module) publish(msg live.Message, aud live.Audience) {
	if m.opts.Hub != nil {
		m.opts.Hub.Publish(msg, aud)
	}
	if m.opts.OnEvent != nil {
		m.opts.OnEvent(msg, aud)
	}
}

func audience(dept int64, grid string) live.Audience {
	a := live.Audience{Perm: httpapi.PermIoTRead}
	if dept != 0 {
		a.DeptIDs = []int64{dept}
	}
	if grid != "" {
		a.GridCodes = []string{grid}
	}
	return a
}

func (m *Module) onStoreEvent(ev store.Event) {
	t := ev.Cmd.Type
	own := false
	for _, p := range ownPrefixes {
		if strings.HasPrefix(t, p) {
			own = true
		}
	}
	if !own || len(ev.Result) == 0 {
		return
	}
	switch t {
	case CmdDeviceCreate, CmdDeviceUpdate, CmdDeviceSecret:
		var d Device
		if json.Unmarshal(ev.Result, &d) == nil {
			var dept int64
			if d.OwnerDeptID != nil {
				dept = *d.OwnerDeptID
			}
			m.publish(live.Message{Type: "device.updated", Time: ev.Cmd.Time, Data: ev.Result}, audience(dept, d.GridCode))
		}
		return
	case CmdCommandCreate, CmdCommandStatus:
		var c DownlinkCommand
		if json.Unmarshal(ev.Result, &c) == nil {
			m.publish(live.Message{Type: "device.command", Time: ev.Cmd.Time, Data: ev.Result}, m.deviceAudience(c.DeviceID))
		}
		return
	case CmdAlarmLinkCase:
		var a Alarm
		if json.Unmarshal(ev.Result, &a) == nil {
			var dept int64
			if a.DeptID != nil {
				dept = *a.DeptID
			}
			m.publish(live.Message{Type: "alarm.case_linked", Time: ev.Cmd.Time, Data: ev.Result}, audience(dept, a.GridCode))
		}
		return
	case CmdRuleCreate, CmdRuleUpdate:
		m.publish(live.Message{Type: "alarm.rule", Time: ev.Cmd.Time, Data: ev.Result}, live.Audience{Perm: httpapi.PermIoTRead, Public: true})
	}
	var res struct {
		Events []struct {
			Type   string          `json:"type"`
			Device string          `json:"device"`
			Dept   int64           `json:"dept"`
			Grid   string          `json:"grid"`
			Data   json.RawMessage `json:"data"`
		} `json:"events"`
	}
	if json.Unmarshal(ev.Result, &res) != nil || len(res.Events) == 0 {
		return
	}
	raised := false
	for _, e := range res.Events {
		m.publish(live.Message{Type: e.Type, Time: ev.Cmd.Time, Data: e.Data}, audience(e.Dept, e.Grid))
		raised = raised || e.Type == "alarm.raised" || e.Type == "alarm.cleared"
	}
	if raised {
		m.kick()
	}
}

func (m *Module) deviceAudience(id string) live.Audience {
	var dept sql.NullInt64
	var grid string
	_ = m.st.DB().QueryRow(`SELECT owner_dept_id, grid_code FROM iot_device WHERE id = ?`, id).Scan(&dept, &grid)
	return audience(dept.Int64, grid)
}

type latestKey struct {
	dept int64
	grid string
}

// publishLatest pushes latest values written since the last round.
func (m *Module) publishLatest(ctx context.Context) error {
	if m.opts.Hub == nil && m.opts.OnEvent == nil {
		return nil
	}
	mark := m.latestMark.Load()
	if mark == 0 {
		m.latestMark.Store(m.st.AppliedIndex())
		return nil
	}
	rows, err := m.st.DB().QueryContext(ctx, `SELECT l.device, l.metric, l.ts, l.value, l.idx, d.owner_dept_id, d.grid_code
		FROM iot_latest l JOIN iot_device d ON d.id = l.device WHERE l.idx > ? ORDER BY l.device, l.metric`, mark)
	if err != nil {
		return err
	}
	defer rows.Close()
	groups := map[latestKey]map[string]map[string]Point{}
	var order []latestKey
	top := mark
	for rows.Next() {
		var dev, metric, grid string
		var ts int64
		var v float64
		var idx uint64
		var dept sql.NullInt64
		if err := rows.Scan(&dev, &metric, &ts, &v, &idx, &dept, &grid); err != nil {
			return err
		}
		top = max(top, idx)
		k := latestKey{dept.Int64, grid}
		g := groups[k]
		if g == nil {
			g = map[string]map[string]Point{}
			groups[k] = g
			order = append(order, k)
		}
		if g[dev] == nil {
			g[dev] = map[string]Point{}
		}
		g[dev][metric] = Point{TS: fromMS(ts), Value: v}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	m.latestMark.Store(top)
	for _, k := range order {
		b, _ := json.Marshal(map[string]any{"devices": groups[k]})
		m.publish(live.Message{Type: "telemetry.latest", Data: b}, audience(k.dept, k.grid))
	}
	return nil
}
