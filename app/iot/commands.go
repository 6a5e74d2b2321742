package iot

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

var chinaTime = httpapi.ChinaTime

// Command types.
const (
	CmdDeviceCreate      = "device.create"
	CmdDeviceImport      = "device.import"
	CmdDeviceUpdate      = "device.update"
	CmdDeviceRetire      = "device.retire"
	CmdDeviceSecret      = "device.secret"
	CmdDeviceMaintenance = "device.maintenance"
	CmdDeviceConn        = "device.conn"
	CmdDeviceType        = "device.type"
	CmdCommandCreate     = "device.command"
	CmdCommandStatus     = "device.command_status"
	CmdRuleCreate        = "alarm.rule_create"
	CmdRuleUpdate        = "alarm.rule_update"
	CmdRuleDelete        = "alarm.rule_delete"
	CmdAlarmAck          = "alarm.ack"
	CmdAlarmLinkCase     = "alarm.link_case"
	CmdAlarmCaseNoted    = "alarm.case_noted"
	CmdAlarmCaseError    = "alarm.case_error"
	CmdTick              = "iot.tick"
	CmdPrune             = "telemetry.prune"
	CmdRetention         = "telemetry.retention"
)

func (m *Module) registerCommands(st *store.Store) {
	st.Register(CmdTelemetryBatch, 1, m.applyTelemetry, store.NoLogPayload())
	st.Register(CmdDeviceCreate, 1, m.applyDeviceCreate)
	st.Register(CmdDeviceImport, 1, m.applyDeviceImport)
	st.Register(CmdDeviceUpdate, 1, m.applyDeviceUpdate)
	st.Register(CmdDeviceRetire, 1, m.applyDeviceRetire)
	st.Register(CmdDeviceSecret, 1, m.applyDeviceSecret)
	st.Register(CmdDeviceMaintenance, 1, m.applyMaintenance)
	st.Register(CmdDeviceConn, 1, m.applyConn)
	st.Register(CmdDeviceType, 1, m.applyDeviceType)
	st.Register(CmdCommandCreate, 1, m.applyCommandCreate)
	st.Register(CmdCommandStatus, 1, m.applyCommandStatus)
	st.Register(CmdRuleCreate, 1, m.applyRuleCreate)
	st.Register(CmdRuleUpdate, 1, m.applyRuleUpdate)
	st.Register(CmdRuleDelete, 1, m.applyRuleDelete)
	st.Register(CmdAlarmAck, 1, m.applyAlarmAck)
	st.Register(CmdAlarmLinkCase, 1, m.applyLinkCase)
	st.Register(CmdAlarmCaseNoted, 1, m.applyCaseNoted)
	st.Register(CmdAlarmCaseError, 1, m.applyCaseError)
	st.Register(CmdTick, 1, m.applyTick)
	st.Register(CmdPrune, 1, m.applyPrune)
	st.Register(CmdRollup, 1, m.applyRollup)
	st.Register(CmdRetention, 1, m.applyRetention)
}

func decode(cmd *store.Command, v any) error {
	if err := json.Unmarshal(cmd.Payload, v); err != nil {
		return store.Errorf("invalid", "%s: %v", cmd.Type, err)
	}
	return nil
}

// ---- devices ----

type deviceCreatePayload struct {
	DeviceInput
	SecretHash string `json:"secret_hash"`
}

func (m *Module) applyDeviceCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p deviceCreatePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	return m.insertDevice(tx, &p)
}

func (m *Module) insertDevice(tx *store.Tx, p *deviceCreatePayload) (*Device, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if p.SecretHash == "" {
		return nil, store.Errorf("invalid", "secret hash missing")
	}
	id := p.ID
	if id == "" {
		id = "d" + strings.ToLower(tx.NewID())
	}
	if err := checkGateway(tx, id, p.GatewayID); err != nil {
		return nil, err
	}
	now := ms(tx.Now())
	_, err := tx.Exec(`INSERT INTO iot_device(id, name, type, model, supplier, implementer, owner_dept_id, grid_code, address, lat, lng,
		component_id, gateway_id, is_gateway, status, secret_hash, secret_rotated_at, created_at, updated_at, created_by)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,'offline',?,?,?,?,?)`,
		id, p.Name, p.Type, p.Model, p.Supplier, p.Implementer, p.OwnerDeptID, p.GridCode, p.Address, p.Lat, p.Lng,
		p.ComponentID, p.GatewayID, p.IsGateway, p.SecretHash, now, now, now, tx.Actor())
	if err != nil {
		if strings.Contains(err.Error(), "UNIQUE") {
			return nil, &store.Error{Code: "conflict", Message: "device " + id + " already exists", Fields: map[string]string{"id": "already exists"}}
		}
		return nil, err
	}
	if _, err := tx.Exec(`INSERT INTO iot_device_type(type, offline_after_s) VALUES (?, 900) ON CONFLICT DO NOTHING`, p.Type); err != nil {
		return nil, err
	}
	if err := bumpVersion(tx, "devices_version"); err != nil {
		return nil, err
	}
	return deviceByID(tx, id)
}

func checkGateway(tx *store.Tx, id, gw string) error {
	if gw == "" {
		return nil
	}
	var isGW bool
	var status string
	err := tx.QueryRow(`SELECT is_gateway, status FROM iot_device WHERE id = ?`, gw).Scan(&isGW, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return &store.Error{Code: "invalid", Message: "gateway " + gw + " not found", Fields: map[string]string{"gateway_id": "not found"}}
	}
	if err != nil {
		return err
	}
	if !isGW || status == StatusRetired {
		return &store.Error{Code: "invalid", Message: gw + " is not an active gateway", Fields: map[string]string{"gateway_id": "not an active gateway"}}
	}
	return nil
}

type deviceImportPayload struct {
	Rows []deviceCreatePayload `json:"rows"`
}

// deviceImportResult lists created device ids (secrets are returned by the
// API, never stored in the log).
type deviceImportResult struct {
	IDs []string `json:"ids"`
}

func (m *Module) applyDeviceImport(tx *store.Tx, cmd *store.Command) (any, error) {
	var p deviceImportPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	// Gateways first so children can reference them.
	sort.SliceStable(p.Rows, func(i, j int) bool { return p.Rows[i].IsGateway && !p.Rows[j].IsGateway })
	res := deviceImportResult{}
	for i := range p.Rows {
		d, err := m.insertDevice(tx, &p.Rows[i])
		if err != nil {
			se := store.AsError(err)
			return nil, &store.Error{Code: se.Code, Message: fmt.Sprintf("row %d: %s", i+1, se.Message), Fields: se.Fields}
		}
		res.IDs = append(res.IDs, d.ID)
	}
	return res, nil
}

type deviceUpdatePayload struct {
	ID string `json:"id"`
	DeviceInput
}

func (m *Module) applyDeviceUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p deviceUpdatePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	p.DeviceInput.ID = p.ID
	if err := p.DeviceInput.Validate(); err != nil {
		return nil, err
	}
	old, err := deviceByID(tx, p.ID)
	if err != nil {
		return nil, err
	}
	if old.Status == StatusRetired {
		return nil, store.Errorf("conflict", "device %s is retired", p.ID)
	}
	if err := checkGateway(tx, p.ID, p.GatewayID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`UPDATE iot_device SET name=?, type=?, model=?, supplier=?, implementer=?, owner_dept_id=?, grid_code=?, address=?,
		lat=?, lng=?, component_id=?, gateway_id=?, is_gateway=?, updated_at=? WHERE id=?`,
		p.Name, p.Type, p.Model, p.Supplier, p.Implementer, p.OwnerDeptID, p.GridCode, p.Address, p.Lat, p.Lng,
		p.ComponentID, p.GatewayID, p.IsGateway, ms(tx.Now()), p.ID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`INSERT INTO iot_device_type(type, offline_after_s) VALUES (?, 900) ON CONFLICT DO NOTHING`, p.Type); err != nil {
		return nil, err
	}
	if err := bumpVersion(tx, "devices_version"); err != nil {
		return nil, err
	}
	return deviceByID(tx, p.ID)
}

type idPayload struct {
	ID string `json:"id"`
}

func (m *Module) applyDeviceRetire(tx *store.Tx, cmd *store.Command) (any, error) {
	var p idPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	d, err := deviceByID(tx, p.ID)
	if err != nil {
		return nil, err
	}
	now := ms(tx.Now())
	if _, err := tx.Exec(`UPDATE iot_device SET status = 'retired', status_at = ?, updated_at = ? WHERE id = ?`, now, now, p.ID); err != nil {
		return nil, err
	}
	// Open alarms of a retired device are cleared.
	rows, err := tx.Query(`SELECT id FROM iot_alarm WHERE device_id = ? AND status != 'cleared' ORDER BY id`, p.ID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	res := &batchResult{}
	for _, id := range ids {
		if err := m.clearAlarm(tx, id, now, "设备已报废", res); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Exec(`UPDATE iot_rule_state SET alarm_id = '', pending_since = 0 WHERE device_id = ?`, p.ID); err != nil {
		return nil, err
	}
	if err := bumpVersion(tx, "devices_version"); err != nil {
		return nil, err
	}
	var dept int64
	if d.OwnerDeptID != nil {
		dept = *d.OwnerDeptID
	}
	res.Events = append(res.Events, outEvent{Type: "device.status", Device: p.ID, Dept: dept, Grid: d.GridCode,
		Data: map[string]any{"device": p.ID, "status": StatusRetired, "at": tx.Now()}})
	return res, nil
}

type secretPayload struct {
	ID         string `json:"id"`
	SecretHash string `json:"secret_hash"`
}

func (m *Module) applyDeviceSecret(tx *store.Tx, cmd *store.Command) (any, error) {
	var p secretPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if p.SecretHash == "" {
		return nil, store.Errorf("invalid", "secret hash missing")
	}
	r, err := tx.Exec(`UPDATE iot_device SET secret_hash = ?, secret_rotated_at = ?, updated_at = ? WHERE id = ? AND status != 'retired'`,
		p.SecretHash, ms(tx.Now()), ms(tx.Now()), p.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil, store.Errorf("not_found", "device %s not found or retired", p.ID)
	}
	return deviceByID(tx, p.ID)
}

type maintenancePayload struct {
	DeviceID string `json:"device_id"`
	MaintenanceInput
}

func (m *Module) applyMaintenance(tx *store.Tx, cmd *store.Command) (any, error) {
	var p maintenancePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	d, err := deviceByID(tx, p.DeviceID)
	if err != nil {
		return nil, err
	}
	now := ms(tx.Now())
	r, err := tx.Exec(`INSERT INTO iot_maintenance(device_id, at, kind, note, by_name, created_at, created_by) VALUES (?,?,?,?,?,?,?)`,
		p.DeviceID, ms(p.At), p.Kind, p.Note, p.ByName, now, tx.Actor())
	if err != nil {
		return nil, err
	}
	id, _ := r.LastInsertId()
	res := &batchResult{}
	if p.SetStatus != "" && d.Status != StatusRetired && d.Status != p.SetStatus {
		if _, err := tx.Exec(`UPDATE iot_device SET status = ?, status_at = ? WHERE id = ?`, p.SetStatus, now, p.DeviceID); err != nil {
			return nil, err
		}
		var dept int64
		if d.OwnerDeptID != nil {
			dept = *d.OwnerDeptID
		}
		res.Events = append(res.Events, outEvent{Type: "device.status", Device: p.DeviceID, Dept: dept, Grid: d.GridCode,
			Data: map[string]any{"device": p.DeviceID, "status": p.SetStatus, "at": tx.Now(), "reason": "maintenance"}})
	}
	return map[string]any{"id": id, "device_id": p.DeviceID, "events": res.Events}, nil
}

// connPayload carries connection events collected for ConnDebounce: the
// last state per device, so a flapping connection is one record.
type connPayload struct {
	Events []connEvent `json:"events"`
}

type connEvent struct {
	Device    string `json:"device"`
	Connected bool   `json:"connected"`
	At        int64  `json:"at"`
	Remote    string `json:"remote,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

func (m *Module) applyConn(tx *store.Tx, cmd *store.Command) (any, error) {
	var p connPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	now := ms(tx.Now())
	res := &batchResult{}
	for _, e := range p.Events {
		var status, grid string
		var dept sql.NullInt64
		err := tx.QueryRow(`SELECT status, grid_code, owner_dept_id FROM iot_device WHERE id = ?`, e.Device).Scan(&status, &grid, &dept)
		if errors.Is(err, sql.ErrNoRows) || status == StatusRetired {
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, err := tx.Exec(`INSERT INTO iot_conn_log(device_id, connected, at, remote, reason) VALUES (?,?,?,?,?)`,
			e.Device, e.Connected, e.At, e.Remote, e.Reason); err != nil {
			return nil, err
		}
		if _, err := tx.Exec(`UPDATE iot_device SET connected = ?, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?`,
			e.Connected, min(e.At, now), e.Device); err != nil {
			return nil, err
		}
		switch {
		case e.Connected && status == StatusOffline:
			if _, err := tx.Exec(`UPDATE iot_device SET status = 'online', status_at = ? WHERE id = ?`, now, e.Device); err != nil {
				return nil, err
			}
			if err := m.deviceBackOnline(tx, e.Device, now, "connected", res); err != nil {
				return nil, err
			}
		case !e.Connected && status == StatusOnline:
			if _, err := tx.Exec(`UPDATE iot_device SET status = 'offline', status_at = ? WHERE id = ?`, now, e.Device); err != nil {
				return nil, err
			}
			res.Events = append(res.Events, outEvent{Type: "device.status", Device: e.Device, Dept: dept.Int64, Grid: grid,
				Data: map[string]any{"device": e.Device, "status": StatusOffline, "at": fromMS(now), "reason": "disconnected " + e.Reason}})
		}
	}
	return res, nil
}

func (m *Module) applyDeviceType(tx *store.Tx, cmd *store.Command) (any, error) {
	var p DeviceType
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if !validDeviceID(p.Type) || p.OfflineAfterS < 60 || p.OfflineAfterS > 30*86400 {
		return nil, store.Errorf("invalid", "type and offline_after_s (60 s to 30 days) are required")
	}
	if _, err := tx.Exec(`INSERT INTO iot_device_type(type, name, offline_after_s) VALUES (?,?,?)
		ON CONFLICT(type) DO UPDATE SET name = excluded.name, offline_after_s = excluded.offline_after_s`, p.Type, p.Name, p.OfflineAfterS); err != nil {
		return nil, err
	}
	return p, nil
}

// ---- downlink commands ----

type commandCreatePayload struct {
	DeviceID string `json:"device_id"`
	CommandInput
}

func (m *Module) applyCommandCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p commandCreatePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	d, err := deviceByID(tx, p.DeviceID)
	if err != nil {
		return nil, err
	}
	if d.Status == StatusRetired {
		return nil, store.Errorf("conflict", "device %s is retired", p.DeviceID)
	}
	params := string(p.Params)
	if params == "" {
		params = "{}"
	}
	id := "c" + strings.ToLower(tx.NewID())
	now := ms(tx.Now())
	if _, err := tx.Exec(`INSERT INTO iot_command(id, device_id, name, params, state, created_at, updated_at, created_by)
		VALUES (?,?,?,?,'queued',?,?,?)`, id, p.DeviceID, p.Name, params, now, now, tx.Actor()); err != nil {
		return nil, err
	}
	return commandByID(tx, id)
}

type commandStatusPayload struct {
	ID    string          `json:"id"`
	State string          `json:"state"`
	Error string          `json:"error,omitempty"`
	Reply json.RawMessage `json:"reply,omitempty"`
}

var stateOrder = map[string]int{"queued": 0, "sent": 1, "delivered": 2, "replied": 3, "timeout": 3, "failed": 3}

func (m *Module) applyCommandStatus(tx *store.Tx, cmd *store.Command) (any, error) {
	var p commandStatusPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	c, err := commandByID(tx, p.ID)
	if err != nil {
		return nil, err
	}
	if _, ok := stateOrder[p.State]; !ok {
		return nil, store.Errorf("invalid", "unknown command state %q", p.State)
	}
	// States only move forward (events may arrive out of order).
	if stateOrder[p.State] <= stateOrder[c.State] && !(c.State == "timeout" && p.State == "replied") {
		return c, nil
	}
	reply := string(p.Reply)
	if _, err := tx.Exec(`UPDATE iot_command SET state = ?, error = ?, reply = CASE WHEN ? != '' THEN ? ELSE reply END, updated_at = ? WHERE id = ?`,
		p.State, p.Error, reply, reply, ms(tx.Now()), p.ID); err != nil {
		return nil, err
	}
	return commandByID(tx, p.ID)
}

// ---- rules ----

type ruleUpdatePayload struct {
	ID int64 `json:"id"`
	RuleInput
}

func (m *Module) applyRuleCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p RuleInput
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	return m.saveRule(tx, 0, &p)
}

func (m *Module) applyRuleUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p ruleUpdatePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if _, err := ruleByID(tx, p.ID); err != nil {
		return nil, err
	}
	return m.saveRule(tx, p.ID, &p.RuleInput)
}

func (m *Module) saveRule(tx *store.Tx, id int64, p *RuleInput) (*Rule, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	debounce := int64(300)
	if p.DebounceS != nil {
		debounce = *p.DebounceS
	}
	enabled := p.Enabled == nil || *p.Enabled
	now := ms(tx.Now())
	if id == 0 {
		r, err := tx.Exec(`INSERT INTO iot_rule(name, device_type, device_id, metric, kind, op, threshold, low, high, clear_threshold,
			hysteresis, duration_s, debounce_s, severity, case_category, enabled, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
			p.Name, p.DeviceType, p.DeviceID, p.Metric, p.Kind, p.Op, p.Threshold, p.Low, p.High, p.ClearThreshold,
			p.Hysteresis, p.DurationS, debounce, p.Severity, p.CaseCategory, enabled, now, now)
		if err != nil {
			return nil, err
		}
		id, _ = r.LastInsertId()
	} else {
		if _, err := tx.Exec(`UPDATE iot_rule SET name=?, device_type=?, device_id=?, metric=?, kind=?, op=?, threshold=?, low=?, high=?,
			clear_threshold=?, hysteresis=?, duration_s=?, debounce_s=?, severity=?, case_category=?, enabled=?, updated_at=? WHERE id=?`,
			p.Name, p.DeviceType, p.DeviceID, p.Metric, p.Kind, p.Op, p.Threshold, p.Low, p.High, p.ClearThreshold,
			p.Hysteresis, p.DurationS, debounce, p.Severity, p.CaseCategory, enabled, now, id); err != nil {
			return nil, err
		}
		// A changed rule starts its pending durations again; open alarms
		// stay open and clear under the new clear condition.
		if _, err := tx.Exec(`UPDATE iot_rule_state SET pending_since = 0 WHERE rule_id = ?`, id); err != nil {
			return nil, err
		}
	}
	if err := bumpVersion(tx, "rules_version"); err != nil {
		return nil, err
	}
	return ruleByID(tx, id)
}

type ruleIDPayload struct {
	ID int64 `json:"id"`
}

func (m *Module) applyRuleDelete(tx *store.Tx, cmd *store.Command) (any, error) {
	var p ruleIDPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if _, err := ruleByID(tx, p.ID); err != nil {
		return nil, err
	}
	// Alarms of the rule stay (history); open ones are cleared.
	rows, err := tx.Query(`SELECT id FROM iot_alarm WHERE rule_id = ? AND status != 'cleared' ORDER BY id`, p.ID)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	res := &batchResult{}
	for _, id := range ids {
		if err := m.clearAlarm(tx, id, ms(tx.Now()), "告警规则已删除", res); err != nil {
			return nil, err
		}
	}
	for _, q := range []string{`DELETE FROM iot_rule_state WHERE rule_id = ?`, `DELETE FROM iot_rule WHERE id = ?`} {
		if _, err := tx.Exec(q, p.ID); err != nil {
			return nil, err
		}
	}
	if err := bumpVersion(tx, "rules_version"); err != nil {
		return nil, err
	}
	return res, nil
}

// ---- alarms ----

type ackPayload struct {
	ID   string `json:"id"`
	Note string `json:"note,omitempty"`
}

func (m *Module) applyAlarmAck(tx *store.Tx, cmd *store.Command) (any, error) {
	var p ackPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	a, err := alarmByID(tx, p.ID)
	if err != nil {
		return nil, err
	}
	if a.Status != AlarmActive {
		return nil, &store.Error{Code: "conflict", Message: "alarm is " + a.Status + "; only an active alarm can be acknowledged", Allowed: []string{AlarmActive}}
	}
	if _, err := tx.Exec(`UPDATE iot_alarm SET status = 'acknowledged', acked_at = ?, acked_by = ? WHERE id = ?`, ms(tx.Now()), tx.Actor(), p.ID); err != nil {
		return nil, err
	}
	res := &batchResult{}
	if err := m.emitAlarm(tx, "alarm.acknowledged", p.ID, res); err != nil {
		return nil, err
	}
	return res, nil
}

type linkCasePayload struct {
	AlarmID string `json:"alarm_id"`
	CaseID  int64  `json:"case_id"`
}

func (m *Module) applyLinkCase(tx *store.Tx, cmd *store.Command) (any, error) {
	var p linkCasePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if _, err := alarmByID(tx, p.AlarmID); err != nil {
		return nil, err
	}
	// Idempotent: the first link wins (a retried reconciler round cannot
	// relink an alarm to another case).
	if _, err := tx.Exec(`UPDATE iot_alarm SET case_id = ?, case_error = '' WHERE id = ? AND case_id IS NULL`, p.CaseID, p.AlarmID); err != nil {
		return nil, err
	}
	return alarmByID(tx, p.AlarmID)
}

type caseNotedPayload struct {
	AlarmID   string `json:"alarm_id"`
	ClearedAt int64  `json:"cleared_at"`
}

func (m *Module) applyCaseNoted(tx *store.Tx, cmd *store.Command) (any, error) {
	var p caseNotedPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	// Only the clear that was noted: if the alarm re-opened meanwhile,
	// nothing changes and the next clear will be noted.
	if _, err := tx.Exec(`UPDATE iot_alarm SET case_noted = 1 WHERE id = ? AND status = 'cleared' AND cleared_at = ?`, p.AlarmID, p.ClearedAt); err != nil {
		return nil, err
	}
	return alarmByID(tx, p.AlarmID)
}

type caseErrorPayload struct {
	AlarmID string `json:"alarm_id"`
	Error   string `json:"error"`
}

func (m *Module) applyCaseError(tx *store.Tx, cmd *store.Command) (any, error) {
	var p caseErrorPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if len(p.Error) > 500 {
		p.Error = p.Error[:500]
	}
	_, err := tx.Exec(`UPDATE iot_alarm SET case_error = ? WHERE id = ?`, p.Error, p.AlarmID)
	return nil, err
}

// ---- leader ticks ----

// applyTick marks inactive devices offline (raising their offline alarm)
// and evaluates no-data rules, at the command's time.
func (m *Module) applyTick(tx *store.Tx, cmd *store.Command) (any, error) {
	now := ms(tx.Now())
	ver, err := readVersions(tx)
	if err != nil {
		return nil, err
	}
	devs, err := m.cache.get(tx, ver.devices)
	if err != nil {
		return nil, err
	}
	res := &batchResult{}
	type stale struct {
		id, status, alarm string
		lastSeen          int64
	}
	rows, err := tx.Query(`SELECT d.id, d.status, d.offline_alarm, d.last_seen FROM iot_device d
		LEFT JOIN iot_device_type t ON t.type = d.type
		WHERE d.status IN ('online', 'offline') AND d.last_seen IS NOT NULL
		AND d.last_seen < ? - COALESCE(t.offline_after_s, 900) * 1000
		AND (d.status = 'online' OR d.offline_alarm = '') ORDER BY d.id`, now)
	if err != nil {
		return nil, err
	}
	var list []stale
	for rows.Next() {
		var s stale
		if err := rows.Scan(&s.id, &s.status, &s.alarm, &s.lastSeen); err != nil {
			rows.Close()
			return nil, err
		}
		list = append(list, s)
	}
	rows.Close()
	for _, s := range list {
		d := devs[s.id]
		if d == nil {
			continue
		}
		if s.status == StatusOnline {
			if _, err := tx.Exec(`UPDATE iot_device SET status = 'offline', status_at = ? WHERE id = ?`, now, s.id); err != nil {
				return nil, err
			}
			res.Events = append(res.Events, outEvent{Type: "device.status", Device: s.id, Dept: d.dept, Grid: d.grid,
				Data: map[string]any{"device": s.id, "status": StatusOffline, "at": fromMS(now), "reason": "inactive"}})
		}
		if s.alarm == "" {
			if _, err := m.raiseOfflineAlarm(tx, d, s.lastSeen, now, res); err != nil {
				return nil, err
			}
		}
	}
	// No-data rules.
	rules, err := m.rules.get(tx, ver.rules)
	if err != nil {
		return nil, err
	}
	for _, r := range rules.nodata {
		rows, err := tx.Query(`SELECT d.id, COALESCE(l.ts, d.created_at), COALESCE(s.alarm_id, '') FROM iot_device d
			LEFT JOIN iot_latest l ON l.device = d.id AND l.metric = ?1
			LEFT JOIN iot_rule_state s ON s.rule_id = ?2 AND s.device_id = d.id
			WHERE d.status != 'retired' AND (d.id = ?3 OR (?3 = '' AND d.type = ?4)) ORDER BY d.id`, r.Metric, r.ID, r.DeviceID, r.DeviceType)
		if err != nil {
			return nil, err
		}
		type cand struct {
			id    string
			last  int64
			alarm string
		}
		var cs []cand
		for rows.Next() {
			var c cand
			if err := rows.Scan(&c.id, &c.last, &c.alarm); err != nil {
				rows.Close()
				return nil, err
			}
			cs = append(cs, c)
		}
		rows.Close()
		for _, c := range cs {
			if c.alarm != "" || c.last >= now-r.DurationS*1000 || devs[c.id] == nil {
				continue
			}
			id, err := m.raiseRuleAlarm(tx, r, devs[c.id], nil, now, res)
			if err != nil {
				return nil, err
			}
			if _, err := tx.Exec(`INSERT INTO iot_rule_state(rule_id, device_id, alarm_id) VALUES (?,?,?)
				ON CONFLICT(rule_id, device_id) DO UPDATE SET alarm_id = excluded.alarm_id`, r.ID, c.id, id); err != nil {
				return nil, err
			}
		}
	}
	return res, nil
}

// prunePayload: cut-offs computed by the leader, so every node deletes
// exactly the same rows.
type prunePayload struct {
	Cutoffs []pruneCutoff `json:"cutoffs"`
}

type pruneCutoff struct {
	Device string `json:"device"`
	Metric string `json:"metric"`
	Raw    int64  `json:"raw"`    // delete readings with ts < raw
	Minute int64  `json:"minute"` // delete 1 min buckets < minute
	Hour   int64  `json:"hour"`   // delete 1 h buckets < hour
}

func (m *Module) applyPrune(tx *store.Tx, cmd *store.Command) (any, error) {
	var p prunePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	var n int64
	for _, c := range p.Cutoffs {
		for _, q := range []struct {
			sql string
			arg int64
		}{
			{`DELETE FROM iot_reading WHERE device = ? AND metric = ? AND ts < ?`, c.Raw},
			{`DELETE FROM iot_rollup WHERE device = ? AND metric = ? AND res = 60 AND bucket < ?`, c.Minute},
			{`DELETE FROM iot_rollup WHERE device = ? AND metric = ? AND res = 3600 AND bucket < ?`, c.Hour},
		} {
			r, err := tx.Exec(q.sql, c.Device, c.Metric, q.arg)
			if err != nil {
				return nil, err
			}
			k, _ := r.RowsAffected()
			n += k
		}
	}
	return map[string]int64{"deleted": n}, nil
}

func (m *Module) applyRetention(tx *store.Tx, cmd *store.Command) (any, error) {
	var p Retention
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`INSERT INTO iot_retention(metric, raw_days, minute_days, hour_days) VALUES (?,?,?,?)
		ON CONFLICT(metric) DO UPDATE SET raw_days = excluded.raw_days, minute_days = excluded.minute_days, hour_days = excluded.hour_days`,
		p.Metric, p.RawDays, p.MinuteDays, p.HourDays); err != nil {
		return nil, err
	}
	return p, nil
}
