package iot

import (
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/yiwang/yiwang/store"
)

type queryRower interface {
	QueryRow(string, ...any) *sql.Row
}

const deviceCols = `id, name, type, model, supplier, implementer, owner_dept_id, grid_code, address, lat, lng, component_id,
	gateway_id, is_gateway, status, connected, last_seen, status_at, secret_rotated_at, created_at, updated_at, secret_hash, offline_alarm`

func scanDevice(s interface{ Scan(...any) error }) (*Device, error) {
	d := &Device{}
	var dept, lastSeen, statusAt sql.NullInt64
	var lat, lng sql.NullFloat64
	var rotated, created, updated int64
	if err := s.Scan(&d.ID, &d.Name, &d.Type, &d.Model, &d.Supplier, &d.Implementer, &dept, &d.GridCode, &d.Address, &lat, &lng,
		&d.ComponentID, &d.GatewayID, &d.IsGateway, &d.Status, &d.Connected, &lastSeen, &statusAt, &rotated, &created, &updated,
		&d.secretHash, &d.offlineAlarmID); err != nil {
		return nil, err
	}
	if dept.Valid {
		d.OwnerDeptID = &dept.Int64
	}
	if lat.Valid && lng.Valid {
		d.Lat, d.Lng = &lat.Float64, &lng.Float64
	}
	if lastSeen.Valid {
		d.LastSeen = optTime(&lastSeen.Int64)
	}
	if statusAt.Valid {
		d.StatusAt = optTime(&statusAt.Int64)
	}
	d.SecretRotated, d.CreatedAt, d.UpdatedAt = fromMS(rotated), fromMS(created), fromMS(updated)
	return d, nil
}

func deviceByID(q queryRower, id string) (*Device, error) {
	d, err := scanDevice(q.QueryRow(`SELECT `+deviceCols+` FROM iot_device WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "device %s not found", id)
	}
	return d, err
}

func ruleByID(q queryRower, id int64) (*Rule, error) {
	r, err := scanRule(q.QueryRow(`SELECT `+ruleCols+` FROM iot_rule WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "alarm rule %d not found", id)
	}
	return r, err
}

const commandCols = `id, device_id, name, params, state, error, reply, created_at, updated_at, created_by`

func scanCommand(s interface{ Scan(...any) error }) (*DownlinkCommand, error) {
	c := &DownlinkCommand{}
	var params, reply string
	var created, updated int64
	if err := s.Scan(&c.ID, &c.DeviceID, &c.Name, &params, &c.State, &c.Error, &reply, &created, &updated, &c.CreatedBy); err != nil {
		return nil, err
	}
	c.Params = json.RawMessage(params)
	if reply != "" {
		if json.Valid([]byte(reply)) {
			c.Reply = json.RawMessage(reply)
		} else {
			b, _ := json.Marshal(reply)
			c.Reply = b
		}
	}
	c.CreatedAt, c.UpdatedAt = fromMS(created), fromMS(updated)
	return c, nil
}

func commandByID(q queryRower, id string) (*DownlinkCommand, error) {
	c, err := scanCommand(q.QueryRow(`SELECT `+commandCols+` FROM iot_command WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "command %s not found", id)
	}
	return c, err
}
