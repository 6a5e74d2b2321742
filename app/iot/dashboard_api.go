package iot

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
	"github.com/yiwang/yiwang/store"
)

// Read API for the command-centre screen (app/dashboard). The dashboard
// never reads iot tables; it calls these.

// Aggregations a metric can be summarised with across devices.
var Aggregations = []string{"latest", "avg", "max", "min", "sum", "count"}

// MetricQuery selects the readings of one metric.
type MetricQuery struct {
	Metric     string
	DeviceType string // optional: only devices of this type
	// Aggregation across devices: latest (the newest reading of any
	// device), avg, max, min, sum, count (of devices reporting).
	Aggregation string
	// Window, when set, aggregates every reading in [now-Window, now];
	// otherwise each device's latest value counts once.
	Window time.Duration
}

func (q MetricQuery) where() (string, []any) {
	cond, args := "l.metric = ?", []any{q.Metric}
	if q.DeviceType != "" {
		cond += " AND d.type = ?"
		args = append(args, q.DeviceType)
	}
	return cond, args
}

func aggExpr(agg, col string) (string, error) {
	switch agg {
	case "avg", "max", "min", "sum":
		return agg + "(" + col + ")", nil
	case "count":
		return "count(" + col + ")", nil
	}
	return "", store.Errorf("invalid", "unknown aggregation %q", agg)
}

// MetricValue aggregates a metric over the devices; ok is false when no
// device has reported it (in the window).
func (m *Module) MetricValue(ctx context.Context, q MetricQuery, now time.Time) (v float64, at time.Time, ok bool, err error) {
	cond, args := q.where()
	db := m.st.DB()
	var n int64
	var val sql.NullFloat64
	var ts sql.NullInt64
	switch {
	case q.Aggregation == "latest" || q.Aggregation == "":
		err = db.QueryRowContext(ctx, `SELECT count(*), l.value, max(l.ts) FROM iot_latest l JOIN iot_device d ON d.id = l.device WHERE `+cond, args...).Scan(&n, &val, &ts)
	case q.Window > 0:
		expr, e := aggExpr(q.Aggregation, "r.value")
		if e != nil {
			return 0, time.Time{}, false, e
		}
		args = append(args, ms(now.Add(-q.Window)))
		err = db.QueryRowContext(ctx, `SELECT count(*), `+expr+`, max(r.ts) FROM iot_latest l JOIN iot_device d ON d.id = l.device
			JOIN iot_reading r ON r.device = l.device AND r.metric = l.metric WHERE `+cond+` AND r.ts >= ?`, args...).Scan(&n, &val, &ts)
	default:
		expr, e := aggExpr(q.Aggregation, "l.value")
		if e != nil {
			return 0, time.Time{}, false, e
		}
		err = db.QueryRowContext(ctx, `SELECT count(*), `+expr+`, max(l.ts) FROM iot_latest l JOIN iot_device d ON d.id = l.device WHERE `+cond, args...).Scan(&n, &val, &ts)
	}
	if err != nil || n == 0 || !val.Valid {
		return 0, time.Time{}, false, err
	}
	return val.Float64, fromMS(ts.Int64), true, nil
}

// MetricTrend returns one aggregate per hour for the last hours hours
// (oldest first) from the hourly rollups; hours without readings are
// left out.
func (m *Module) MetricTrend(ctx context.Context, q MetricQuery, hours int, now time.Time) ([]float64, error) {
	var expr string
	switch q.Aggregation {
	case "max":
		expr = "max(r.max)"
	case "min":
		expr = "min(r.min)"
	case "sum":
		expr = "sum(r.sum)"
	case "count":
		expr = "count(DISTINCT r.device)"
	default: // avg, latest
		expr = "sum(r.sum) / sum(r.n)"
	}
	cond, args := q.where()
	from := (now.Add(-time.Duration(hours-1)*time.Hour).UnixMilli() / 3_600_000) * 3_600_000
	args = append(args, from)
	// CROSS JOIN keeps this loop order (SQLite does not reorder it): the
	// series of the metric from iot_latest, then each series' few hourly
	// buckets by primary key; otherwise the planner may scan every rollup.
	rows, err := m.st.DB().QueryContext(ctx, `SELECT r.bucket, `+expr+` FROM iot_latest l CROSS JOIN iot_device d
		CROSS JOIN iot_rollup r WHERE d.id = l.device AND r.device = l.device AND r.metric = l.metric AND r.res = 3600
		AND `+cond+` AND r.bucket >= ? GROUP BY r.bucket ORDER BY r.bucket`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []float64{}
	for rows.Next() {
		var b int64
		var v sql.NullFloat64
		if err := rows.Scan(&b, &v); err != nil {
			return nil, err
		}
		if v.Valid {
			out = append(out, v.Float64)
		}
	}
	return out, rows.Err()
}

// DeviceCounts counts the devices in p's scope (retired ones excluded).
type DeviceCounts struct {
	Online int `json:"online"`
	Total  int `json:"total"`
	Fault  int `json:"fault"`
}

// CountDevices counts the devices p may see, optionally of one type.
func (m *Module) CountDevices(ctx context.Context, p *httpapi.Principal, deviceType string) (DeviceCounts, error) {
	cond, args := p.ScopeFilter(scopeCols)
	if deviceType != "" {
		cond += " AND type = ?"
		args = append(args, deviceType)
	}
	var c DeviceCounts
	err := m.st.DB().QueryRowContext(ctx, `SELECT count(*), coalesce(sum(status = 'online'), 0), coalesce(sum(status = 'fault'), 0)
		FROM iot_device WHERE status != 'retired' AND `+cond, args...).Scan(&c.Total, &c.Online, &c.Fault)
	return c, err
}

// RecentAlarms lists the newest alarms p may see (any status).
func (m *Module) RecentAlarms(ctx context.Context, p *httpapi.Principal, limit int) ([]Alarm, error) {
	cond, args := p.ScopeFilter(httpapi.ScopeColumns{Dept: "a.dept_id", Grid: "a.grid_code"})
	args = append(args, limit)
	rows, err := m.st.DB().QueryContext(ctx, `SELECT `+alarmCols+alarmFrom+` WHERE `+cond+` ORDER BY a.raised_at DESC, a.id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Alarm{}
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	return out, rows.Err()
}

// CountActiveAlarms counts alarms not yet cleared (county-wide),
// optionally only of devices of one type.
func (m *Module) CountActiveAlarms(ctx context.Context, deviceType string) (int, error) {
	q := `SELECT count(*) FROM iot_alarm a WHERE a.status != 'cleared'`
	var args []any
	if deviceType != "" {
		q += ` AND a.device_id IN (SELECT id FROM iot_device WHERE type = ?)`
		args = append(args, deviceType)
	}
	var n int
	err := m.st.DB().QueryRowContext(ctx, q, args...).Scan(&n)
	return n, err
}

// BatchMetrics returns the metric names carried by a committed
// telemetry.batch event (nil for any other event), so readers can tell
// which derived figures a batch may have changed.
func BatchMetrics(ev store.Event) []string {
	if ev.Cmd.Type != CmdTelemetryBatch {
		return nil
	}
	var p struct {
		Metrics []string `json:"m"`
	}
	if err := json.Unmarshal(ev.Cmd.Payload, &p); err != nil {
		return nil
	}
	return p.Metrics
}

// IsAlarmEvent tells whether a committed event may have raised, cleared
// or acknowledged alarms.
func IsAlarmEvent(ev store.Event) bool {
	switch ev.Cmd.Type {
	case CmdTelemetryBatch, CmdAlarmAck, CmdTick, CmdDeviceConn:
		return true
	}
	return false
}

// String helps error messages.
func (q MetricQuery) String() string {
	return fmt.Sprintf("%s(%s/%s)", q.Aggregation, q.Metric, q.DeviceType)
}

// BatchPayload is the telemetry.batch command payload for readings (for
// seeding history through the store, e.g. the demo county's last day).
func BatchPayload(readings []mqtt.Reading) any { return encodeBatch(readings) }

// Alarm returns one alarm (for modules that link to alarms, e.g. duty
// messages). Callers check the principal's scope with DeptID/GridCode.
func (m *Module) Alarm(ctx context.Context, id string) (*Alarm, error) {
	return alarmByID(m.st.DB(), id)
}
