package iot

import (
	"context"
	"database/sql"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
	"github.com/yiwang/yiwang/store"
)

var tags = []string{"iot"}

func sinceFilter(col string) httpapi.Filter {
	return httpapi.Filter{Doc: "RFC 3339 time or date", Func: func(v string) (string, []any, error) {
		t, err := httpapi.ParseTime(v)
		if err != nil {
			return "", nil, err
		}
		return col + " >= ?", []any{ms(t)}, nil
	}}
}

var deviceList = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "id", "name": "name", "type": "type", "status": "status", "last_seen": "last_seen", "created_at": "created_at"},
	DefaultSort: "id",
	Filters: map[string]httpapi.Filter{
		"type":          {Column: "type", Kind: httpapi.FilterString},
		"status":        {Column: "status", Kind: httpapi.FilterIn},
		"grid_code":     {Column: "grid_code", Kind: httpapi.FilterPrefix},
		"owner_dept_id": {Column: "owner_dept_id", Kind: httpapi.FilterInt},
		"gateway_id":    {Column: "gateway_id", Kind: httpapi.FilterString},
		"component_id":  {Column: "component_id", Kind: httpapi.FilterString},
	},
	Search:   []string{"id", "name", "address", "model", "supplier"},
	Tiebreak: "id",
}

var alarmList = &httpapi.ListSpec{
	Sort:        map[string]string{"raised_at": "a.raised_at", "severity": "a.severity", "status": "a.status"},
	DefaultSort: "-raised_at",
	Filters: map[string]httpapi.Filter{
		"status":    {Column: "a.status", Kind: httpapi.FilterIn},
		"severity":  {Column: "a.severity", Kind: httpapi.FilterIn},
		"kind":      {Column: "a.kind", Kind: httpapi.FilterString},
		"device_id": {Column: "a.device_id", Kind: httpapi.FilterString},
		"rule_id":   {Column: "a.rule_id", Kind: httpapi.FilterInt},
		"grid_code": {Column: "a.grid_code", Kind: httpapi.FilterPrefix},
		"since":     sinceFilter("a.raised_at"),
	},
	Search:   []string{"a.title", "a.device_id"},
	Tiebreak: "a.id",
}

var ruleList = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "id", "name": "name"},
	DefaultSort: "id",
	Filters: map[string]httpapi.Filter{
		"device_type": {Column: "device_type", Kind: httpapi.FilterString},
		"device_id":   {Column: "device_id", Kind: httpapi.FilterString},
		"metric":      {Column: "metric", Kind: httpapi.FilterString},
	},
	Tiebreak: "id",
}

var subList = &httpapi.ListSpec{Sort: map[string]string{"created_at": "created_at"}, DefaultSort: "-created_at", Tiebreak: "id"}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	read, write := httpapi.PermIoTRead, httpapi.PermIoTWrite
	h := func(method, path, summary, perm string, req, resp any, status int, fn httpapi.HandlerFunc, opts ...func(*httpapi.Route)) {
		rt := httpapi.Route{Method: method, Path: path, Summary: summary, Perm: perm, Tags: tags, Request: req, Response: resp, Status: status, Handler: fn}
		for _, o := range opts {
			o(&rt)
		}
		r.Handle(rt)
	}
	list := func(s *httpapi.ListSpec) func(*httpapi.Route) { return func(rt *httpapi.Route) { rt.List = s } }
	h("GET", "/api/v1/devices", "List devices in the caller's data scope", read, nil, httpapi.Page[Device]{}, 0, m.listDevices, list(deviceList))
	h("POST", "/api/v1/devices", "Register a device; the answer carries its one-time secret", write, DeviceInput{}, DeviceCreated{}, http.StatusCreated, m.createDevice)
	h("GET", "/api/v1/devices/{id}", "A device with its latest values, problem counters and open alarms", read, nil, Device{}, 0, m.getDevice)
	h("PUT", "/api/v1/devices/{id}", "Update a device's registry data", write, DeviceInput{}, Device{}, 0, m.updateDevice)
	h("DELETE", "/api/v1/devices/{id}", "Retire a device (it can no longer connect; history is kept)", write, nil, nil, http.StatusNoContent, m.retireDevice)
	h("POST", "/api/v1/devices/{id}/secret", "Rotate a device's secret; the answer carries the new one-time secret", write, nil, DeviceCreated{}, 0, m.rotateSecret)
	h("GET", "/api/v1/devices/{id}/telemetry", "Time series of one metric (raw, 1m or 1h; auto picks by range)", read, nil, Series{}, 0, m.telemetry,
		func(rt *httpapi.Route) {
			rt.Query = []httpapi.Param{{Name: "metric", Required: true}, {Name: "from", Description: "RFC 3339 (default: 24 h ago)"},
				{Name: "to", Description: "RFC 3339 (default: now)"}, {Name: "res", Description: "raw, 1m, 1h or auto (default)"},
				{Name: "limit", Type: "integer", Description: "at most this many points (default 5000)"}}
		})
	h("GET", "/api/v1/devices/{id}/maintenance", "Maintenance records of a device", read, nil, httpapi.Page[Maintenance]{}, 0, m.listMaintenance, list(subList))
	h("POST", "/api/v1/devices/{id}/maintenance", "Record maintenance (optionally marking the device fault or back in service)", write, MaintenanceInput{}, Maintenance{}, http.StatusCreated, m.addMaintenance)
	h("GET", "/api/v1/devices/{id}/commands", "Downlink commands sent to a device", read, nil, httpapi.Page[DownlinkCommand]{}, 0, m.listCommands, list(subList))
	h("POST", "/api/v1/devices/{id}/commands", "Send a downlink command (yw/{id}/cmd/{cmd}); delivery and reply are recorded", write, CommandInput{}, DownlinkCommand{}, http.StatusCreated, m.sendCommand)
	h("GET", "/api/v1/devices/export", "Export devices as .xlsx", read, nil, nil, 0, m.exportDevices, func(rt *httpapi.Route) { rt.ResponseContentType = xlsxType; rt.NoTimeout = true })
	h("POST", "/api/v1/devices/import", "Import devices from .xlsx: preview every row's errors, or commit all rows (secrets returned once)", write, nil, ImportReport{}, 0, m.importDevices,
		func(rt *httpapi.Route) {
			rt.RequestContentType = xlsxType
			rt.MaxBody = maxImportSize
			rt.Query = []httpapi.Param{{Name: "commit", Type: "boolean", Description: "write the rows when none has an error (default: preview only)"}}
		})
	h("GET", "/api/v1/device-types", "Device types and their inactivity timeouts", read, nil, []DeviceType{}, 0, m.listTypes)
	h("PUT", "/api/v1/device-types/{type}", "Set a device type's name and inactivity timeout", write, DeviceType{}, DeviceType{}, 0, m.putType)
	h("GET", "/api/v1/alarm-rules", "Alarm rules", read, nil, httpapi.Page[Rule]{}, 0, m.listRules, list(ruleList))
	h("POST", "/api/v1/alarm-rules", "Create an alarm rule", write, RuleInput{}, Rule{}, http.StatusCreated, m.createRule)
	h("GET", "/api/v1/alarm-rules/{id}", "An alarm rule", read, nil, Rule{}, 0, m.getRule)
	h("PUT", "/api/v1/alarm-rules/{id}", "Replace an alarm rule", write, RuleInput{}, Rule{}, 0, m.updateRule)
	h("DELETE", "/api/v1/alarm-rules/{id}", "Delete an alarm rule (its open alarms are cleared)", write, nil, nil, http.StatusNoContent, m.deleteRule)
	h("GET", "/api/v1/alarms", "Alarms in the caller's data scope", read, nil, httpapi.Page[Alarm]{}, 0, m.listAlarms, list(alarmList))
	h("GET", "/api/v1/alarms/{id}", "An alarm", read, nil, Alarm{}, 0, m.getAlarm)
	h("POST", "/api/v1/alarms/{id}/ack", "Acknowledge an active alarm", read, ackInput{}, Alarm{}, 0, m.ackAlarm)
	h("GET", "/api/v1/telemetry/retention", "Telemetry retention per metric (\"*\" is the default)", read, nil, []Retention{}, 0, m.listRetention)
	h("PUT", "/api/v1/telemetry/retention", "Set the retention of a metric", write, Retention{}, Retention{}, 0, m.putRetention)
	h("GET", "/api/v1/iot/stats", "MQTT broker state and statistics of this node", read, nil, BrokerStats{}, 0, m.stats)
	if m.broker != nil {
		r.Mount("/mqtt", m.broker.WebSocketHandler())
	}
}

func (m *Module) visibleDevice(r *http.Request) (*Device, error) {
	d, err := deviceByID(m.st.DB(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	var dept int64
	if d.OwnerDeptID != nil {
		dept = *d.OwnerDeptID
	}
	if !httpapi.MustPrincipal(r).InScope(dept, d.GridCode, 0) {
		return nil, store.Errorf("not_found", "device %s not found", d.ID)
	}
	return d, nil
}

func (m *Module) listDevices(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, deviceList)
	if err != nil {
		return err
	}
	q.Scope(httpapi.MustPrincipal(r), scopeCols)
	db := m.st.DB()
	var total int
	if err := db.QueryRowContext(r.Context(), `SELECT count(*) FROM iot_device `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(r.Context(), `SELECT `+deviceCols+` FROM iot_device `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []Device{}
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return err
		}
		items = append(items, *d)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Device]{Items: items, Total: total})
}

// CreateDevice registers a device as actor and returns it with its
// one-time secret.
func (m *Module) CreateDevice(ctx context.Context, actor string, in DeviceInput) (*DeviceCreated, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	secret, hash, err := newSecret()
	if err != nil {
		return nil, err
	}
	var d Device
	if _, err := m.apply(ctx, actor, CmdDeviceCreate, deviceCreatePayload{DeviceInput: in, SecretHash: hash}, &d); err != nil {
		return nil, err
	}
	return &DeviceCreated{Device: d, Secret: secret}, nil
}

// RotateSecret gives a device a new secret (returned once).
func (m *Module) RotateSecret(ctx context.Context, actor, id string) (*DeviceCreated, error) {
	secret, hash, err := newSecret()
	if err != nil {
		return nil, err
	}
	var d Device
	if _, err := m.apply(ctx, actor, CmdDeviceSecret, secretPayload{ID: id, SecretHash: hash}, &d); err != nil {
		return nil, err
	}
	return &DeviceCreated{Device: d, Secret: secret}, nil
}

func (m *Module) checkWriteScope(r *http.Request, dept *int64, grid string) error {
	var d int64
	if dept != nil {
		d = *dept
	}
	p := httpapi.MustPrincipal(r)
	if p.Scope.Kind != httpapi.ScopeAll && !p.InScope(d, grid, 0) {
		return store.Errorf("forbidden", "the device's department or grid is outside your data scope")
	}
	return nil
}

func (m *Module) createDevice(w http.ResponseWriter, r *http.Request) error {
	var in DeviceInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if err := m.checkWriteScope(r, in.OwnerDeptID, in.GridCode); err != nil {
		return err
	}
	out, err := m.CreateDevice(r.Context(), httpapi.MustPrincipal(r).Actor(), in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, out)
}

func (m *Module) getDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	if err := m.fillDevice(r.Context(), d); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, d)
}

// Device returns a device with its latest values and counters.
func (m *Module) Device(ctx context.Context, id string) (*Device, error) {
	d, err := deviceByID(m.st.DB(), id)
	if err != nil {
		return nil, err
	}
	return d, m.fillDevice(ctx, d)
}

func (m *Module) fillDevice(ctx context.Context, d *Device) error {
	db := m.st.DB()
	rows, err := db.QueryContext(ctx, `SELECT metric, ts, value FROM iot_latest WHERE device = ? ORDER BY metric`, d.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var metric string
		var ts int64
		var v float64
		if err := rows.Scan(&metric, &ts, &v); err != nil {
			return err
		}
		if d.Latest == nil {
			d.Latest = map[string]Point{}
		}
		d.Latest[metric] = Point{TS: fromMS(ts), Value: v}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM iot_alarm WHERE device_id = ? AND status != 'cleared'`, d.ID).Scan(&d.ActiveAlarms); err != nil {
		return err
	}
	if m.broker != nil {
		c := m.broker.Counters(d.ID)
		d.Counters = &DeviceCounters{Malformed: c.Malformed, Oversize: c.Oversize, Denied: c.Denied, Dropped: c.Dropped, LastError: c.LastError}
		if !c.LastErrorAt.IsZero() {
			t := c.LastErrorAt.UTC()
			d.Counters.LastErrorAt = &t
		}
	}
	return nil
}

func (m *Module) updateDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	var in DeviceInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if err := m.checkWriteScope(r, d.OwnerDeptID, d.GridCode); err != nil {
		return err
	}
	if err := m.checkWriteScope(r, in.OwnerDeptID, in.GridCode); err != nil {
		return err
	}
	var out Device
	if _, err := m.apply(r.Context(), httpapi.MustPrincipal(r).Actor(), CmdDeviceUpdate, deviceUpdatePayload{ID: d.ID, DeviceInput: in}, &out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) retireDevice(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	if err := m.checkWriteScope(r, d.OwnerDeptID, d.GridCode); err != nil {
		return err
	}
	if _, err := m.apply(r.Context(), httpapi.MustPrincipal(r).Actor(), CmdDeviceRetire, idPayload{ID: d.ID}, nil); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

func (m *Module) rotateSecret(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	if err := m.checkWriteScope(r, d.OwnerDeptID, d.GridCode); err != nil {
		return err
	}
	out, err := m.RotateSecret(r.Context(), httpapi.MustPrincipal(r).Actor(), d.ID)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

// Telemetry returns a series of one metric between from and to at res
// ("raw", "1m", "1h" or "auto").
func (m *Module) Telemetry(ctx context.Context, device, metric string, from, to time.Time, res string, limit int) (*Series, error) {
	if res == "" || res == "auto" {
		switch span := to.Sub(from); {
		case span <= 6*time.Hour:
			res = "raw"
		case span <= 7*24*time.Hour:
			res = "1m"
		default:
			res = "1h"
		}
	}
	s := &Series{Device: device, Metric: metric, Resolution: res, Points: []Point{}}
	var rows *sql.Rows
	var err error
	db := m.st.DB()
	switch res {
	case "raw":
		rows, err = db.QueryContext(ctx, `SELECT ts, value FROM iot_reading WHERE device = ? AND metric = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?`,
			device, metric, ms(from), ms(to), limit)
	case "1m", "1h":
		step := int64(60_000)
		if res == "1h" {
			step = 3_600_000
		}
		// Buckets before the rollup watermark come from iot_rollup; the
		// readings after it (not folded in yet) are aggregated from the raw
		// table through its primary key; a bucket straddling the watermark
		// sums both parts.
		var wm int64
		_ = db.QueryRowContext(ctx, `SELECT value FROM iot_meta WHERE key = 'rollup_wm'`).Scan(&wm)
		start := floorDiv(ms(from), step) * step
		rows, err = db.QueryContext(ctx, `SELECT bucket, sum(s) / sum(n), min(lo), max(hi), sum(n) FROM (
				SELECT bucket, n, sum AS s, min AS lo, max AS hi FROM iot_rollup
				WHERE device = ?1 AND metric = ?2 AND res = ?3 / 1000 AND bucket >= ?4 AND bucket < ?5
				UNION ALL
				SELECT (ts / ?3) * ?3 AS bucket, count(*), sum(value), min(value), max(value) FROM iot_reading
				WHERE device = ?1 AND metric = ?2 AND ts >= max(?4, ?6) AND ts < ?5 GROUP BY ts / ?3
			) GROUP BY bucket ORDER BY bucket LIMIT ?7`, device, metric, step, start, ms(to), wm, limit)
	default:
		return nil, httpapi.FieldError("res", "must be raw, 1m, 1h or auto")
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p Point
		var ts int64
		if res == "raw" {
			err = rows.Scan(&ts, &p.Value)
		} else {
			var lo, hi float64
			err = rows.Scan(&ts, &p.Value, &lo, &hi, &p.N)
			p.Min, p.Max = &lo, &hi
		}
		if err != nil {
			return nil, err
		}
		p.TS = fromMS(ts)
		s.Points = append(s.Points, p)
	}
	return s, rows.Err()
}

func (m *Module) telemetry(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	for k := range q {
		switch k {
		case "metric", "from", "to", "res", "limit":
		default:
			return httpapi.FieldError(k, "unknown parameter")
		}
	}
	metric := q.Get("metric")
	if metric == "" {
		return httpapi.FieldError("metric", "required")
	}
	to, from := time.Now(), time.Time{}
	if v := q.Get("to"); v != "" {
		if to, err = httpapi.ParseTime(v); err != nil {
			return httpapi.FieldError("to", "must be an RFC 3339 time or a date")
		}
	}
	from = to.Add(-24 * time.Hour)
	if v := q.Get("from"); v != "" {
		if from, err = httpapi.ParseTime(v); err != nil {
			return httpapi.FieldError("from", "must be an RFC 3339 time or a date")
		}
	}
	if !from.Before(to) {
		return httpapi.FieldError("from", "must be before to")
	}
	limit := 5000
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 100000 {
			return httpapi.FieldError("limit", "must be 1 to 100000")
		}
		limit = n
	}
	s, err := m.Telemetry(r.Context(), d.ID, metric, from, to, q.Get("res"), limit)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, s)
}

func (m *Module) listMaintenance(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	q, err := httpapi.ParseList(r, subList)
	if err != nil {
		return err
	}
	db := m.st.DB()
	var total int
	if err := db.QueryRowContext(r.Context(), `SELECT count(*) FROM iot_maintenance WHERE device_id = ?`, d.ID).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(r.Context(), `SELECT id, device_id, at, kind, note, by_name, created_at, created_by FROM iot_maintenance
		WHERE device_id = ? ORDER BY at DESC, id DESC `+q.LimitSQL(), d.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []Maintenance{}
	for rows.Next() {
		var x Maintenance
		var at, created int64
		if err := rows.Scan(&x.ID, &x.DeviceID, &at, &x.Kind, &x.Note, &x.ByName, &created, &x.CreatedBy); err != nil {
			return err
		}
		x.At, x.CreatedAt = fromMS(at), fromMS(created)
		items = append(items, x)
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Maintenance]{Items: items, Total: total})
}

func (m *Module) addMaintenance(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	var in MaintenanceInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	var res struct {
		ID int64 `json:"id"`
	}
	p := httpapi.MustPrincipal(r)
	if _, err := m.apply(r.Context(), p.Actor(), CmdDeviceMaintenance, maintenancePayload{DeviceID: d.ID, MaintenanceInput: in}, &res); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, Maintenance{ID: res.ID, DeviceID: d.ID, At: in.At, Kind: in.Kind, Note: in.Note, ByName: in.ByName,
		CreatedAt: time.Now().UTC(), CreatedBy: p.Actor()})
}

func (m *Module) listCommands(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	q, err := httpapi.ParseList(r, subList)
	if err != nil {
		return err
	}
	db := m.st.DB()
	var total int
	if err := db.QueryRowContext(r.Context(), `SELECT count(*) FROM iot_command WHERE device_id = ?`, d.ID).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(r.Context(), `SELECT `+commandCols+` FROM iot_command WHERE device_id = ? ORDER BY created_at DESC, id DESC `+q.LimitSQL(), d.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []DownlinkCommand{}
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return err
		}
		items = append(items, *c)
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[DownlinkCommand]{Items: items, Total: total})
}

func (m *Module) sendCommand(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDevice(r)
	if err != nil {
		return err
	}
	var in CommandInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	c, err := m.SendCommand(r.Context(), httpapi.MustPrincipal(r).Actor(), d.ID, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, c)
}

func (m *Module) listTypes(w http.ResponseWriter, r *http.Request) error {
	rows, err := m.st.DB().QueryContext(r.Context(), `SELECT type, name, offline_after_s FROM iot_device_type ORDER BY type`)
	if err != nil {
		return err
	}
	defer rows.Close()
	out := []DeviceType{}
	for rows.Next() {
		var t DeviceType
		if err := rows.Scan(&t.Type, &t.Name, &t.OfflineAfterS); err != nil {
			return err
		}
		out = append(out, t)
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) putType(w http.ResponseWriter, r *http.Request) error {
	var in DeviceType
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	in.Type = r.PathValue("type")
	var out DeviceType
	if _, err := m.apply(r.Context(), httpapi.MustPrincipal(r).Actor(), CmdDeviceType, in, &out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) listRules(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, ruleList)
	if err != nil {
		return err
	}
	db := m.st.DB()
	var total int
	if err := db.QueryRowContext(r.Context(), `SELECT count(*) FROM iot_rule `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(r.Context(), `SELECT `+ruleCols+` FROM iot_rule `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []Rule{}
	for rows.Next() {
		x, err := scanRule(rows)
		if err != nil {
			return err
		}
		items = append(items, *x)
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Rule]{Items: items, Total: total})
}

// CreateRule creates an alarm rule as actor.
func (m *Module) CreateRule(ctx context.Context, actor string, in RuleInput) (*Rule, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out Rule
	if _, err := m.apply(ctx, actor, CmdRuleCreate, in, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (m *Module) createRule(w http.ResponseWriter, r *http.Request) error {
	var in RuleInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	out, err := m.CreateRule(r.Context(), httpapi.MustPrincipal(r).Actor(), in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, out)
}

func (m *Module) getRule(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	x, err := ruleByID(m.st.DB(), id)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, x)
}

func (m *Module) updateRule(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	var in RuleInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	var out Rule
	if _, err := m.apply(r.Context(), httpapi.MustPrincipal(r).Actor(), CmdRuleUpdate, ruleUpdatePayload{ID: id, RuleInput: in}, &out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) deleteRule(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	if _, err := m.apply(r.Context(), httpapi.MustPrincipal(r).Actor(), CmdRuleDelete, ruleIDPayload{ID: id}, nil); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

func (m *Module) listAlarms(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, alarmList)
	if err != nil {
		return err
	}
	q.Scope(httpapi.MustPrincipal(r), httpapi.ScopeColumns{Dept: "a.dept_id", Grid: "a.grid_code"})
	db := m.st.DB()
	var total int
	if err := db.QueryRowContext(r.Context(), `SELECT count(*) FROM iot_alarm a `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(r.Context(), `SELECT `+alarmCols+alarmFrom+` `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []Alarm{}
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return err
		}
		items = append(items, *a)
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Alarm]{Items: items, Total: total})
}

func (m *Module) visibleAlarm(r *http.Request) (*Alarm, error) {
	a, err := alarmByID(m.st.DB(), r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	var dept int64
	if a.DeptID != nil {
		dept = *a.DeptID
	}
	if !httpapi.MustPrincipal(r).InScope(dept, a.GridCode, 0) {
		return nil, store.Errorf("not_found", "alarm %s not found", a.ID)
	}
	return a, nil
}

func (m *Module) getAlarm(w http.ResponseWriter, r *http.Request) error {
	a, err := m.visibleAlarm(r)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, a)
}

type ackInput struct {
	Note string `json:"note,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *ackInput) Validate() error {
	var v httpapi.Validator
	v.MultilineText("note", in.Note, 500)
	return v.Err()
}

// Ack acknowledges an alarm as actor.
func (m *Module) Ack(ctx context.Context, actor, id, note string) (*Alarm, error) {
	if _, err := m.apply(ctx, actor, CmdAlarmAck, ackPayload{ID: id, Note: note}, nil); err != nil {
		return nil, err
	}
	return alarmByID(m.st.DB(), id)
}

func (m *Module) ackAlarm(w http.ResponseWriter, r *http.Request) error {
	a, err := m.visibleAlarm(r)
	if err != nil {
		return err
	}
	var in ackInput
	if r.ContentLength != 0 {
		if err := httpapi.Decode(r, &in); err != nil {
			return err
		}
	}
	out, err := m.Ack(r.Context(), httpapi.MustPrincipal(r).Actor(), a.ID, strings.TrimSpace(in.Note))
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) listRetention(w http.ResponseWriter, r *http.Request) error {
	rows, err := m.st.DB().QueryContext(r.Context(), `SELECT metric, raw_days, minute_days, hour_days FROM iot_retention ORDER BY metric`)
	if err != nil {
		return err
	}
	defer rows.Close()
	out := []Retention{}
	for rows.Next() {
		var x Retention
		if err := rows.Scan(&x.Metric, &x.RawDays, &x.MinuteDays, &x.HourDays); err != nil {
			return err
		}
		out = append(out, x)
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) putRetention(w http.ResponseWriter, r *http.Request) error {
	var in Retention
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	var out Retention
	if _, err := m.apply(r.Context(), httpapi.MustPrincipal(r).Actor(), CmdRetention, in, &out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) stats(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, http.StatusOK, m.BrokerStatus())
}

// BrokerStats is this node's broker state.
type BrokerStats struct {
	Running bool   `json:"running"`
	Address string `json:"address,omitempty"`
	Error   string `json:"error,omitempty"`
	mqtt.Stats
}
