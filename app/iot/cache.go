package iot

import (
	"database/sql"
	"sync"

	"github.com/yiwang/yiwang/store"
)

// The telemetry handler needs each device's type and location and the
// enabled rules for every batch. Both are cached in memory and keyed by a
// version the registry and rule handlers set to their own store index in
// iot_meta. The index of a command is unique, so a cache loaded inside a
// transaction that was later rolled back can never be mistaken for the
// state of another command: a version either is what the database says now
// or the cache reloads. Every node computes the same thing.

type versions struct{ devices, rules, rollupWM int64 }

func readVersions(tx *store.Tx) (versions, error) {
	var v versions
	rows, err := tx.Query(`SELECT key, value FROM iot_meta WHERE key IN ('devices_version', 'rules_version', 'rollup_wm')`)
	if err != nil {
		return v, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var x int64
		if err := rows.Scan(&k, &x); err != nil {
			return v, err
		}
		switch k {
		case "devices_version":
			v.devices = x
		case "rules_version":
			v.rules = x
		default:
			v.rollupWM = x
		}
	}
	return v, rows.Err()
}

func bumpVersion(tx *store.Tx, key string) error {
	_, err := tx.Exec(`UPDATE iot_meta SET value = ? WHERE key = ?`, int64(tx.Index), key)
	return err
}

type devInfo struct {
	id, name, typ, grid, address, component string
	dept                                    int64
	lat, lng                                float64
	hasLoc, retired                         bool
}

type devCache struct {
	mu      sync.Mutex
	version int64
	loaded  bool
	m       map[string]*devInfo
}

func (c *devCache) get(q interface {
	Query(string, ...any) (*sql.Rows, error)
}, version int64) (map[string]*devInfo, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && c.version == version {
		return c.m, nil
	}
	rows, err := q.Query(`SELECT id, name, type, grid_code, address, component_id, owner_dept_id, lat, lng, status = 'retired' FROM iot_device`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	m := map[string]*devInfo{}
	for rows.Next() {
		d := &devInfo{}
		var dept sql.NullInt64
		var lat, lng sql.NullFloat64
		if err := rows.Scan(&d.id, &d.name, &d.typ, &d.grid, &d.address, &d.component, &dept, &lat, &lng, &d.retired); err != nil {
			return nil, err
		}
		d.dept = dept.Int64
		d.lat, d.lng, d.hasLoc = lat.Float64, lng.Float64, lat.Valid && lng.Valid
		m[d.id] = d
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.m, c.version, c.loaded = m, version, true
	return m, nil
}

type ruleSet struct {
	byMetric map[string][]*Rule
	nodata   []*Rule
}

type ruleCache struct {
	mu      sync.Mutex
	version int64
	loaded  bool
	set     *ruleSet
}

func (c *ruleCache) get(q interface {
	Query(string, ...any) (*sql.Rows, error)
}, version int64) (*ruleSet, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded && c.version == version {
		return c.set, nil
	}
	rows, err := q.Query(`SELECT ` + ruleCols + ` FROM iot_rule WHERE enabled = 1 ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	s := &ruleSet{byMetric: map[string][]*Rule{}}
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		s.byMetric[r.Metric] = append(s.byMetric[r.Metric], r)
		if r.Kind == KindNoData {
			s.nodata = append(s.nodata, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	c.set, c.version, c.loaded = s, version, true
	return s, nil
}

const ruleCols = `id, name, device_type, device_id, metric, kind, op, threshold, low, high, clear_threshold, hysteresis,
	duration_s, debounce_s, severity, case_category, enabled, created_at, updated_at`

func scanRule(s interface{ Scan(...any) error }) (*Rule, error) {
	r := &Rule{}
	var ct sql.NullFloat64
	var created, updated int64
	if err := s.Scan(&r.ID, &r.Name, &r.DeviceType, &r.DeviceID, &r.Metric, &r.Kind, &r.Op, &r.Threshold, &r.Low, &r.High,
		&ct, &r.Hysteresis, &r.DurationS, &r.DebounceS, &r.Severity, &r.CaseCategory, &r.Enabled, &created, &updated); err != nil {
		return nil, err
	}
	if ct.Valid {
		r.ClearThreshold = &ct.Float64
	}
	r.CreatedAt, r.UpdatedAt = fromMS(created), fromMS(updated)
	return r, nil
}

func (r *Rule) applies(d *devInfo) bool {
	if r.DeviceID != "" {
		return r.DeviceID == d.id
	}
	return r.DeviceType == d.typ
}
