package dashboard

import (
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
	"github.com/yiwang/yiwang/store"
)

// Commands.
const (
	CmdIndicatorCreate = "dashboard.indicator_create"
	CmdIndicatorUpdate = "dashboard.indicator_update"
	CmdIndicatorDelete = "dashboard.indicator_delete"
)

// Categories shown on the screen, in order.
var Categories = []string{"environment", "water", "safety", "traffic", "services"}

// Built-in metrics (counts from other modules rather than telemetry).
const (
	MetricAlarmsActive       = "alarms.active"
	MetricCasesOpen          = "cases.open"
	MetricCasesOverdue       = "cases.overdue"
	MetricCasesToday         = "cases.today"
	MetricCasesClosedToday   = "cases.closed_today"
	MetricDevicesOnlineRatio = "devices.online_ratio"
	MetricDevicesOnline      = "devices.online"
)

var builtinMetrics = []string{MetricAlarmsActive, MetricCasesOpen, MetricCasesOverdue, MetricCasesToday,
	MetricCasesClosedToday, MetricDevicesOnlineRatio, MetricDevicesOnline}

// Threshold says when a value is a warning or critical.
type Threshold struct {
	Warning   *float64 `json:"warning"`
	Critical  *float64 `json:"critical"`
	Direction string   `json:"direction" doc:"above (value >= limit is bad) or below (value <= limit is bad)"`
}

// Indicator is one configured vital sign.
type Indicator struct {
	Key           string    `json:"key"`
	Name          string    `json:"name"`
	Category      string    `json:"category" doc:"environment, water, safety, traffic, services (or another word)"`
	Metric        string    `json:"metric" doc:"telemetry metric name or a built-in count (alarms.active, cases.open, ...)"`
	Aggregation   string    `json:"aggregation" doc:"latest, avg, max, min, sum, count"`
	Window        string    `json:"window,omitempty" doc:"e.g. 5m, 1h: aggregate the readings of that window instead of each device's latest value"`
	DeviceType    string    `json:"device_type,omitempty"`
	CaseCategory  string    `json:"case_category,omitempty" doc:"for cases.*: category code prefix"`
	CaseSource    string    `json:"case_source,omitempty" doc:"for cases.*: source (hotline, grid, sensor, ...)"`
	Threshold     Threshold `json:"threshold"`
	ThresholdText string    `json:"threshold_text"`
	Unit          string    `json:"unit"`
	Sort          int       `json:"sort"`
	UpdatedAt     time.Time `json:"updated_at"`
	UpdatedBy     string    `json:"updated_by,omitempty"`
}

// IndicatorInput creates an indicator (and, with Key ignored, is the body
// of a full update).
type IndicatorInput struct {
	Key          string    `json:"key"`
	Name         string    `json:"name"`
	Category     string    `json:"category"`
	Metric       string    `json:"metric"`
	Aggregation  string    `json:"aggregation"`
	Window       string    `json:"window,omitempty"`
	DeviceType   string    `json:"device_type,omitempty"`
	CaseCategory string    `json:"case_category,omitempty"`
	CaseSource   string    `json:"case_source,omitempty"`
	Threshold    Threshold `json:"threshold"`
	Unit         string    `json:"unit"`
	Sort         int       `json:"sort"`
}

// IndicatorPatch changes some fields of an indicator.
type IndicatorPatch struct {
	Name         *string    `json:"name,omitempty"`
	Category     *string    `json:"category,omitempty"`
	Metric       *string    `json:"metric,omitempty"`
	Aggregation  *string    `json:"aggregation,omitempty"`
	Window       *string    `json:"window,omitempty"`
	DeviceType   *string    `json:"device_type,omitempty"`
	CaseCategory *string    `json:"case_category,omitempty"`
	CaseSource   *string    `json:"case_source,omitempty"`
	Threshold    *Threshold `json:"threshold,omitempty"`
	Unit         *string    `json:"unit,omitempty"`
	Sort         *int       `json:"sort,omitempty"`
}

var (
	reKey    = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	reMetric = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.\-]{0,63}$`)
	reWord   = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
)

// Validate implements httpapi.Validatable.
func (in *IndicatorInput) Validate() error {
	var v httpapi.Validator
	v.Check(reKey.MatchString(in.Key), "key", "must be 1-40 lower-case letters, digits or _ starting with a letter")
	validateBody(&v, in)
	return v.Err()
}

func validateBody(v *httpapi.Validator, in *IndicatorInput) {
	v.Text("name", in.Name, 1, 40)
	v.Check(reWord.MatchString(in.Category), "category", "must be a lower-case word such as environment, water, safety, traffic, services")
	v.Check(reMetric.MatchString(in.Metric), "metric", "must be a metric name")
	if in.Aggregation == "" {
		in.Aggregation = "latest"
	}
	v.OneOf("aggregation", in.Aggregation, iot.Aggregations...)
	if in.Window != "" {
		d, err := time.ParseDuration(in.Window)
		v.Check(err == nil && d >= time.Minute && d <= 31*24*time.Hour, "window", "must be a duration between 1m and 744h")
		v.Check(!isBuiltin(in.Metric), "window", "only for telemetry metrics")
		v.Check(in.Aggregation != "latest", "window", "needs an aggregation other than latest")
	}
	if in.DeviceType != "" {
		v.Check(reWord.MatchString(in.DeviceType), "device_type", "must be a device type")
	}
	cases := strings.HasPrefix(in.Metric, "cases.")
	if in.CaseCategory != "" {
		v.Check(cases, "case_category", "only for cases.* metrics")
		v.Text("case_category", in.CaseCategory, 1, 16)
	}
	if in.CaseSource != "" {
		v.Check(cases, "case_source", "only for cases.* metrics")
		v.Check(reWord.MatchString(in.CaseSource), "case_source", "must be a case source")
	}
	if strings.Contains(in.Metric, ".") && !isBuiltin(in.Metric) {
		v.Add("metric", "unknown built-in metric; built-ins are "+strings.Join(builtinMetrics, ", "))
	}
	th := &in.Threshold
	if th.Direction == "" {
		th.Direction = "above"
	}
	v.OneOf("threshold.direction", th.Direction, "above", "below")
	if th.Warning != nil && th.Critical != nil {
		ok := *th.Critical >= *th.Warning
		if th.Direction == "below" {
			ok = *th.Critical <= *th.Warning
		}
		v.Check(ok, "threshold.critical", "must be past the warning level in the threshold's direction")
	}
	v.Text("unit", in.Unit, 0, 16)
	v.Range("sort", int64(in.Sort), -10000, 10000)
}

// Validate implements httpapi.Validatable (the merged result is checked
// again by the handler).
func (p *IndicatorPatch) Validate() error { return nil }

func isBuiltin(metric string) bool { return slices.Contains(builtinMetrics, metric) }

// thresholdText renders a threshold for the configuration list.
func thresholdText(th Threshold, unit string) string {
	op := "≥"
	if th.Direction == "below" {
		op = "≤"
	}
	var parts []string
	f := func(label string, x *float64) {
		if x != nil {
			parts = append(parts, fmt.Sprintf("%s %s %s%s", label, op, trimFloat(*x), unitSuffix(unit)))
		}
	}
	f("预警", th.Warning)
	f("告警", th.Critical)
	return strings.Join(parts, "；")
}

func unitSuffix(u string) string {
	if u == "" {
		return ""
	}
	return " " + u
}

func trimFloat(x float64) string { return strings.TrimSuffix(fmt.Sprintf("%g", x), ".0") }

// ---- commands ----

type deletePayload struct {
	Key string `json:"key"`
}

func (m *Module) applyCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in IndicatorInput
	if err := httpapi.DecodeBytes(cmd.Payload, &in); err != nil {
		return nil, err
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM dashboard_indicator WHERE key = ?`, in.Key).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, &store.Error{Code: "conflict", Message: "indicator " + in.Key + " already exists", Fields: map[string]string{"key": "duplicate"}}
	}
	if err := writeIndicator(tx, &in, true); err != nil {
		return nil, err
	}
	return indicatorByKey(tx, in.Key)
}

func (m *Module) applyUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in IndicatorInput
	if err := httpapi.DecodeBytes(cmd.Payload, &in); err != nil {
		return nil, err
	}
	if _, err := indicatorByKey(tx, in.Key); err != nil {
		return nil, err
	}
	if err := writeIndicator(tx, &in, false); err != nil {
		return nil, err
	}
	return indicatorByKey(tx, in.Key)
}

func (m *Module) applyDelete(tx *store.Tx, cmd *store.Command) (any, error) {
	var p deletePayload
	if err := httpapi.DecodeBytes(cmd.Payload, &p); err != nil {
		return nil, err
	}
	r, err := tx.Exec(`DELETE FROM dashboard_indicator WHERE key = ?`, p.Key)
	if err != nil {
		return nil, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil, store.Errorf("not_found", "indicator %s not found", p.Key)
	}
	return map[string]string{"key": p.Key}, nil
}

func nullable(x *float64) any {
	if x == nil {
		return nil
	}
	return *x
}

func writeIndicator(tx *store.Tx, in *IndicatorInput, create bool) error {
	now := httpapi.FormatDBTime(tx.Now())
	args := []any{in.Name, in.Category, in.Metric, in.Aggregation, in.Window, in.DeviceType, in.CaseCategory, in.CaseSource,
		nullable(in.Threshold.Warning), nullable(in.Threshold.Critical), in.Threshold.Direction, in.Unit, in.Sort, now, tx.Actor(), in.Key}
	q := `UPDATE dashboard_indicator SET name = ?, category = ?, metric = ?, aggregation = ?, win = ?, device_type = ?, case_category = ?,
		case_source = ?, warning = ?, critical = ?, direction = ?, unit = ?, sort = ?, updated_at = ?, updated_by = ? WHERE key = ?`
	if create {
		q = `INSERT INTO dashboard_indicator(name, category, metric, aggregation, win, device_type, case_category, case_source,
			warning, critical, direction, unit, sort, updated_at, updated_by, key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`
	}
	_, err := tx.Exec(q, args...)
	return err
}

const indicatorCols = `key, name, category, metric, aggregation, win, device_type, case_category, case_source,
	warning, critical, direction, unit, sort, updated_at, updated_by`

type queryer interface {
	QueryRow(query string, args ...any) *sql.Row
}

func scanIndicator(s interface{ Scan(...any) error }) (*Indicator, error) {
	var in Indicator
	var w, c sql.NullFloat64
	var at string
	if err := s.Scan(&in.Key, &in.Name, &in.Category, &in.Metric, &in.Aggregation, &in.Window, &in.DeviceType, &in.CaseCategory,
		&in.CaseSource, &w, &c, &in.Threshold.Direction, &in.Unit, &in.Sort, &at, &in.UpdatedBy); err != nil {
		return nil, err
	}
	if w.Valid {
		in.Threshold.Warning = &w.Float64
	}
	if c.Valid {
		in.Threshold.Critical = &c.Float64
	}
	in.UpdatedAt = httpapi.ParseDBTime(at)
	in.ThresholdText = thresholdText(in.Threshold, in.Unit)
	return &in, nil
}

func indicatorByKey(q queryer, key string) (*Indicator, error) {
	in, err := scanIndicator(q.QueryRow(`SELECT `+indicatorCols+` FROM dashboard_indicator WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "indicator %s not found", key)
	}
	return in, err
}

// ---- HTTP ----

var indicatorList = &httpapi.ListSpec{
	Sort:        map[string]string{"key": "key", "name": "name", "category": "category", "sort": "sort"},
	DefaultSort: "sort",
	Filters:     map[string]httpapi.Filter{"category": {Column: "category", Kind: httpapi.FilterString}},
	Search:      []string{"key", "name", "metric"},
	Tiebreak:    "key",
}

func (m *Module) listIndicators(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, indicatorList)
	if err != nil {
		return err
	}
	db := m.st.DB()
	var total int
	if err := db.QueryRowContext(r.Context(), `SELECT count(*) FROM dashboard_indicator `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(r.Context(), `SELECT `+indicatorCols+` FROM dashboard_indicator `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []Indicator{}
	for rows.Next() {
		in, err := scanIndicator(rows)
		if err != nil {
			return err
		}
		items = append(items, *in)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Indicator]{Items: items, Total: total})
}

func (m *Module) getIndicator(w http.ResponseWriter, r *http.Request) error {
	in, err := indicatorByKey(m.st.DB(), r.PathValue("key"))
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, in)
}

func (m *Module) createIndicator(w http.ResponseWriter, r *http.Request) error {
	var in IndicatorInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	return m.applyIndicator(w, r, CmdIndicatorCreate, in, http.StatusCreated)
}

func (m *Module) applyIndicator(w http.ResponseWriter, r *http.Request, typ string, payload any, status int) error {
	res, err := httpapi.Apply(r, m.st, typ, 1, payload)
	if err != nil {
		return err
	}
	var out Indicator
	if err := res.Decode(&out); err != nil {
		return err
	}
	m.kickAll()
	return httpapi.JSON(w, status, &out)
}

func (m *Module) patchIndicator(w http.ResponseWriter, r *http.Request) error {
	var p IndicatorPatch
	if err := httpapi.Decode(r, &p); err != nil {
		return err
	}
	cur, err := indicatorByKey(m.st.DB(), r.PathValue("key"))
	if err != nil {
		return err
	}
	in := IndicatorInput{Key: cur.Key, Name: cur.Name, Category: cur.Category, Metric: cur.Metric, Aggregation: cur.Aggregation,
		Window: cur.Window, DeviceType: cur.DeviceType, CaseCategory: cur.CaseCategory, CaseSource: cur.CaseSource,
		Threshold: cur.Threshold, Unit: cur.Unit, Sort: cur.Sort}
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&in.Name, p.Name)
	set(&in.Category, p.Category)
	set(&in.Metric, p.Metric)
	set(&in.Aggregation, p.Aggregation)
	set(&in.Window, p.Window)
	set(&in.DeviceType, p.DeviceType)
	set(&in.CaseCategory, p.CaseCategory)
	set(&in.CaseSource, p.CaseSource)
	set(&in.Unit, p.Unit)
	if p.Threshold != nil {
		in.Threshold = *p.Threshold
	}
	if p.Sort != nil {
		in.Sort = *p.Sort
	}
	var v httpapi.Validator
	validateBody(&v, &in)
	if err := v.Err(); err != nil {
		return err
	}
	return m.applyIndicator(w, r, CmdIndicatorUpdate, in, http.StatusOK)
}

func (m *Module) deleteIndicator(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Apply(r, m.st, CmdIndicatorDelete, 1, deletePayload{Key: r.PathValue("key")}); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}
