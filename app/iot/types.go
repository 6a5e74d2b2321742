package iot

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
)

// CaseOpener opens cases for alarms whose rule names a case category. The
// composition root wires an adapter to the cases module. OpenFromAlarm must
// be idempotent per AlarmID: the reconciler retries until the link is
// recorded, so it may call it more than once for the same alarm.
type CaseOpener interface {
	OpenFromAlarm(ctx context.Context, a AlarmCase) (caseID int64, err error)
	NoteAlarmCleared(ctx context.Context, caseID int64, alarmID string, clearedAt time.Time, note string) error
}

// AlarmCase is what a case is opened from.
type AlarmCase struct {
	AlarmID      string    `json:"alarm_id"`
	CategoryCode string    `json:"category_code"`
	Title        string    `json:"title"`
	Description  string    `json:"description"`
	DeviceID     string    `json:"device_id"`
	ComponentID  string    `json:"component_id"`
	GridCode     string    `json:"grid_code"`
	Address      string    `json:"address"`
	Lat          float64   `json:"lat"`
	Lng          float64   `json:"lng"`
	Severity     string    `json:"severity"`
	RaisedAt     time.Time `json:"raised_at"`
}

// Device statuses.
const (
	StatusOnline  = "online"
	StatusOffline = "offline"
	StatusFault   = "fault"
	StatusRetired = "retired"
)

// Alarm statuses.
const (
	AlarmActive       = "active"
	AlarmAcknowledged = "acknowledged"
	AlarmCleared      = "cleared"
)

// Rule kinds.
const (
	KindThreshold = "threshold"
	KindRange     = "range"
	KindRate      = "rate"
	KindNoData    = "nodata"
)

// Severities.
var severities = []string{"info", "minor", "major", "critical"}

// Device is a registered sensor or gateway (物联感知设备).
type Device struct {
	ID             string            `json:"id"`
	Name           string            `json:"name"`
	Type           string            `json:"type"`
	Model          string            `json:"model"`
	Supplier       string            `json:"supplier" doc:"供应商"`
	Implementer    string            `json:"implementer" doc:"实施单位"`
	OwnerDeptID    *int64            `json:"owner_dept_id,omitempty" doc:"业主单位"`
	GridCode       string            `json:"grid_code"`
	Address        string            `json:"address"`
	Lat            *float64          `json:"lat,omitempty"`
	Lng            *float64          `json:"lng,omitempty"`
	ComponentID    string            `json:"component_id,omitempty" doc:"部件编码 (16 digits)"`
	GatewayID      string            `json:"gateway_id,omitempty"`
	IsGateway      bool              `json:"is_gateway"`
	Status         string            `json:"status"`
	Connected      bool              `json:"connected"`
	LastSeen       *time.Time        `json:"last_seen,omitempty"`
	StatusAt       *time.Time        `json:"status_at,omitempty"`
	SecretRotated  time.Time         `json:"secret_rotated_at"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
	Latest         map[string]Point  `json:"latest,omitempty"`
	Counters       *DeviceCounters   `json:"counters,omitempty"`
	ActiveAlarms   int               `json:"active_alarms"`
	Extra          map[string]string `json:"-"`
	secretHash     string
	offlineAlarmID string
}

// DeviceCounters are the broker's per-device problem counters (this node).
type DeviceCounters struct {
	Malformed   int64      `json:"malformed"`
	Oversize    int64      `json:"oversize"`
	Denied      int64      `json:"denied"`
	Dropped     int64      `json:"dropped"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// DeviceCreated answers POST /api/v1/devices: the device and its one-time
// secret.
type DeviceCreated struct {
	Device
	Secret string `json:"secret" doc:"shown once; the device connects with username = id, password = secret"`
}

// DeviceInput creates or updates a device.
type DeviceInput struct {
	ID          string   `json:"id,omitempty" doc:"optional; generated when empty"`
	Name        string   `json:"name"`
	Type        string   `json:"type"`
	Model       string   `json:"model,omitempty"`
	Supplier    string   `json:"supplier,omitempty"`
	Implementer string   `json:"implementer,omitempty"`
	OwnerDeptID *int64   `json:"owner_dept_id,omitempty"`
	GridCode    string   `json:"grid_code,omitempty"`
	Address     string   `json:"address,omitempty"`
	Lat         *float64 `json:"lat,omitempty"`
	Lng         *float64 `json:"lng,omitempty"`
	ComponentID string   `json:"component_id,omitempty"`
	GatewayID   string   `json:"gateway_id,omitempty"`
	IsGateway   bool     `json:"is_gateway,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *DeviceInput) Validate() error {
	var v httpapi.Validator
	in.Name = strings.TrimSpace(in.Name)
	in.Type = strings.TrimSpace(in.Type)
	if in.ID != "" {
		v.Check(validDeviceID(in.ID), "id", "use 1-64 letters, digits, '-', '_' or '.'")
	}
	if in.GatewayID != "" {
		v.Check(validDeviceID(in.GatewayID), "gateway_id", "not a device id")
		v.Check(in.GatewayID != in.ID, "gateway_id", "a device cannot be its own gateway")
	}
	v.Text("name", in.Name, 1, 100)
	v.Check(validDeviceID(in.Type) && len(in.Type) <= 32, "type", "use 1-32 letters, digits, '-', '_' or '.'")
	v.Text("model", in.Model, 0, 100)
	v.Text("supplier", in.Supplier, 0, 100)
	v.Text("implementer", in.Implementer, 0, 100)
	v.Text("address", in.Address, 0, 200)
	if in.GridCode != "" {
		v.Digits("grid_code", in.GridCode, 14)
	}
	if in.ComponentID != "" {
		v.Digits("component_id", in.ComponentID, 16)
	}
	if in.Lat != nil {
		v.Check(*in.Lat >= -90 && *in.Lat <= 90, "lat", "must be between -90 and 90")
	}
	if in.Lng != nil {
		v.Check(*in.Lng >= -180 && *in.Lng <= 180, "lng", "must be between -180 and 180")
	}
	v.Check((in.Lat == nil) == (in.Lng == nil), "lat", "give lat and lng together")
	return v.Err()
}

func validDeviceID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Point is one value of a time series.
type Point struct {
	TS    time.Time `json:"ts"`
	Value float64   `json:"value"`
	Min   *float64  `json:"min,omitempty"`
	Max   *float64  `json:"max,omitempty"`
	N     int64     `json:"n,omitempty"`
}

// Series answers a telemetry query.
type Series struct {
	Device     string  `json:"device"`
	Metric     string  `json:"metric"`
	Resolution string  `json:"resolution" doc:"raw, 1m or 1h"`
	Points     []Point `json:"points"`
}

// Rule is an alarm rule for a device type or one device.
type Rule struct {
	ID             int64     `json:"id"`
	Name           string    `json:"name"`
	DeviceType     string    `json:"device_type,omitempty"`
	DeviceID       string    `json:"device_id,omitempty"`
	Metric         string    `json:"metric"`
	Kind           string    `json:"kind" doc:"threshold, range, rate (change per minute) or nodata"`
	Op             string    `json:"op,omitempty" doc:"threshold: gt, ge, lt, le"`
	Threshold      float64   `json:"threshold"`
	Low            float64   `json:"low"`
	High           float64   `json:"high"`
	ClearThreshold *float64  `json:"clear_threshold,omitempty" doc:"threshold rules: value past which the alarm clears (default threshold ∓ hysteresis)"`
	Hysteresis     float64   `json:"hysteresis"`
	DurationS      int64     `json:"duration_s" doc:"condition must hold this long (nodata: silence this long)"`
	DebounceS      int64     `json:"debounce_s" doc:"an alarm that re-triggers within this many seconds of clearing is re-opened, not new"`
	Severity       string    `json:"severity"`
	CaseCategory   string    `json:"case_category,omitempty" doc:"open a case of this category automatically"`
	Enabled        bool      `json:"enabled"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// RuleInput creates or updates a rule.
type RuleInput struct {
	Name           string   `json:"name"`
	DeviceType     string   `json:"device_type,omitempty"`
	DeviceID       string   `json:"device_id,omitempty"`
	Metric         string   `json:"metric"`
	Kind           string   `json:"kind"`
	Op             string   `json:"op,omitempty"`
	Threshold      float64  `json:"threshold,omitempty"`
	Low            float64  `json:"low,omitempty"`
	High           float64  `json:"high,omitempty"`
	ClearThreshold *float64 `json:"clear_threshold,omitempty"`
	Hysteresis     float64  `json:"hysteresis,omitempty"`
	DurationS      int64    `json:"duration_s,omitempty"`
	DebounceS      *int64   `json:"debounce_s,omitempty"`
	Severity       string   `json:"severity"`
	CaseCategory   string   `json:"case_category,omitempty"`
	Enabled        *bool    `json:"enabled,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *RuleInput) Validate() error {
	var v httpapi.Validator
	v.Text("name", in.Name, 1, 100)
	v.Check((in.DeviceType == "") != (in.DeviceID == ""), "device_type", "give exactly one of device_type and device_id")
	v.Check(in.Metric != "" && len(in.Metric) <= 64 && !strings.ContainsAny(in.Metric, "/+#"), "metric", "required, at most 64 characters")
	v.OneOf("kind", in.Kind, KindThreshold, KindRange, KindRate, KindNoData)
	switch in.Kind {
	case KindThreshold:
		v.OneOf("op", in.Op, "gt", "ge", "lt", "le")
	case KindRange:
		v.Check(in.Low < in.High, "high", "must be above low")
	case KindRate:
		v.Check(in.Threshold > 0, "threshold", "must be a positive change per minute")
	case KindNoData:
		v.Check(in.DurationS >= 60, "duration_s", "must be at least 60 seconds")
	}
	v.Check(in.Hysteresis >= 0, "hysteresis", "must not be negative")
	v.Range("duration_s", in.DurationS, 0, 7*86400)
	if in.DebounceS != nil {
		v.Range("debounce_s", *in.DebounceS, 0, 86400)
	}
	v.OneOf("severity", in.Severity, severities...)
	v.Text("case_category", in.CaseCategory, 0, 32)
	return v.Err()
}

// Alarm is a raised alarm and its lifecycle.
type Alarm struct {
	ID           string     `json:"id"`
	Kind         string     `json:"kind" doc:"rule or offline"`
	RuleID       *int64     `json:"rule_id,omitempty"`
	DeviceID     string     `json:"device_id"`
	DeviceName   string     `json:"device_name,omitempty"`
	Metric       string     `json:"metric,omitempty"`
	Severity     string     `json:"severity"`
	Status       string     `json:"status" doc:"active, acknowledged or cleared"`
	Title        string     `json:"title"`
	Value        *float64   `json:"value,omitempty"`
	RaisedAt     time.Time  `json:"raised_at"`
	AckedAt      *time.Time `json:"acked_at,omitempty"`
	AckedBy      string     `json:"acked_by,omitempty"`
	ClearedAt    *time.Time `json:"cleared_at,omitempty"`
	ClearNote    string     `json:"clear_note,omitempty"`
	Flaps        int        `json:"flaps"`
	DeptID       *int64     `json:"dept_id,omitempty"`
	GridCode     string     `json:"grid_code,omitempty"`
	CaseCategory string     `json:"case_category,omitempty"`
	CaseID       *int64     `json:"case_id,omitempty"`
	CaseError    string     `json:"case_error,omitempty"`
	CaseNoted    bool       `json:"case_noted"`
}

// MaintenanceInput records a maintenance visit.
type MaintenanceInput struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind" doc:"inspection, repair, replace, calibrate, other"`
	Note   string    `json:"note,omitempty"`
	ByName string    `json:"by_name,omitempty"`
	// SetStatus optionally marks the device fault (报修) or back in service.
	SetStatus string `json:"set_status,omitempty" doc:"fault, or online/offline to end a fault"`
}

// Validate implements httpapi.Validatable.
func (in *MaintenanceInput) Validate() error {
	var v httpapi.Validator
	v.Check(!in.At.IsZero(), "at", "required")
	v.OneOf("kind", in.Kind, "inspection", "repair", "replace", "calibrate", "other")
	v.MultilineText("note", in.Note, 2000)
	v.Text("by_name", in.ByName, 0, 50)
	if in.SetStatus != "" {
		v.OneOf("set_status", in.SetStatus, StatusFault, StatusOnline, StatusOffline)
	}
	return v.Err()
}

// Maintenance is a maintenance record.
type Maintenance struct {
	ID        int64     `json:"id"`
	DeviceID  string    `json:"device_id"`
	At        time.Time `json:"at"`
	Kind      string    `json:"kind"`
	Note      string    `json:"note"`
	ByName    string    `json:"by_name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// CommandInput is a downlink command.
type CommandInput struct {
	Name   string          `json:"name"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *CommandInput) Validate() error {
	var v httpapi.Validator
	v.Check(validDeviceID(in.Name) && len(in.Name) <= 32, "name", "use 1-32 letters, digits, '-', '_' or '.'")
	v.Check(len(in.Params) <= 16<<10, "params", "at most 16 KiB")
	if len(in.Params) > 0 {
		v.Check(json.Valid(in.Params), "params", "must be JSON")
	}
	return v.Err()
}

// DownlinkCommand is a command sent to a device and its delivery status.
type DownlinkCommand struct {
	ID        string          `json:"id"`
	DeviceID  string          `json:"device_id"`
	Name      string          `json:"name"`
	Params    json.RawMessage `json:"params"`
	State     string          `json:"state" doc:"queued, sent, delivered, replied, timeout, failed"`
	Error     string          `json:"error,omitempty"`
	Reply     json.RawMessage `json:"reply,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
	CreatedBy string          `json:"created_by"`
}

// DeviceType holds per-type settings.
type DeviceType struct {
	Type          string `json:"type"`
	Name          string `json:"name"`
	OfflineAfterS int64  `json:"offline_after_s" doc:"inactivity after which a device is offline and an alarm is raised"`
}

// Retention is how long telemetry of a metric ("*" = default) is kept.
type Retention struct {
	Metric     string `json:"metric"`
	RawDays    int64  `json:"raw_days"`
	MinuteDays int64  `json:"minute_days"`
	HourDays   int64  `json:"hour_days"`
}

// Validate implements httpapi.Validatable.
func (in *Retention) Validate() error {
	var v httpapi.Validator
	v.Check(in.Metric != "" && len(in.Metric) <= 64, "metric", "required")
	v.Range("raw_days", in.RawDays, 1, 3650)
	v.Range("minute_days", in.MinuteDays, in.RawDays, 3650)
	v.Range("hour_days", in.HourDays, in.MinuteDays, 36500)
	return v.Err()
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func optTime(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMS(*v)
	return &t
}
