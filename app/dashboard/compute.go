package dashboard

import (
	"context"
	"math"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
)

// county is the principal indicators are computed for: they are
// county-wide vital signs.
var county = &httpapi.Principal{System: "dashboard", Scope: httpapi.Scope{Kind: httpapi.ScopeAll}}

// StatusOf rates a value against a threshold: with direction above a value
// >= critical is critical and >= warning is warning (below: <=); no value
// is nodata.
func StatusOf(v *float64, th Threshold) string {
	if v == nil {
		return "nodata"
	}
	past := func(lim *float64) bool {
		if lim == nil {
			return false
		}
		if th.Direction == "below" {
			return *v <= *lim
		}
		return *v >= *lim
	}
	switch {
	case past(th.Critical):
		return "critical"
	case past(th.Warning):
		return "warning"
	}
	return "normal"
}

func round(x float64) float64 {
	if math.Abs(x) >= 100 {
		return math.Round(x*10) / 10
	}
	return math.Round(x*1000) / 1000
}

func (in *Indicator) metricQuery() iot.MetricQuery {
	q := iot.MetricQuery{Metric: in.Metric, DeviceType: in.DeviceType, Aggregation: in.Aggregation}
	if in.Window != "" {
		q.Window, _ = time.ParseDuration(in.Window)
	}
	return q
}

// value computes an indicator's current value (nil: no data).
func (m *Module) value(ctx context.Context, in *Indicator, now time.Time) (*float64, *time.Time, error) {
	count := func(n int, err error) (*float64, *time.Time, error) {
		if err != nil {
			return nil, nil, err
		}
		f := float64(n)
		return &f, nil, nil
	}
	switch in.Metric {
	case MetricAlarmsActive:
		return count(m.opts.IoT.CountActiveAlarms(ctx, in.DeviceType))
	case MetricCasesOpen, MetricCasesOverdue, MetricCasesToday, MetricCasesClosedToday:
		what := map[string]string{MetricCasesOpen: cases.CountOpen, MetricCasesOverdue: cases.CountOverdue,
			MetricCasesToday: cases.CountToday, MetricCasesClosedToday: cases.CountClosed}[in.Metric]
		return count(m.opts.Cases.CountCases(ctx, what, in.CaseSource, in.CaseCategory, now))
	case MetricDevicesOnline, MetricDevicesOnlineRatio:
		c, err := m.opts.IoT.CountDevices(ctx, county, in.DeviceType)
		if err != nil || in.Metric == MetricDevicesOnline {
			return count(c.Online, err)
		}
		if c.Total == 0 {
			return nil, nil, nil
		}
		f := round(100 * float64(c.Online) / float64(c.Total))
		return &f, nil, nil
	}
	if strings.Contains(in.Metric, ".") {
		return nil, nil, nil // a built-in this version does not know
	}
	v, at, ok, err := m.opts.IoT.MetricValue(ctx, in.metricQuery(), now)
	if err != nil || !ok {
		return nil, nil, err
	}
	v = round(v)
	return &v, &at, nil
}

// indicatorValues computes every indicator with its trend.
func (m *Module) indicatorValues(ctx context.Context, now time.Time) ([]IndicatorValue, error) {
	list, err := m.indicators(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]IndicatorValue, 0, len(list))
	for i := range list {
		in := &list[i]
		v, at, err := m.value(ctx, in, now)
		if err != nil {
			return nil, err
		}
		iv := IndicatorValue{Indicator: *in, Value: v, At: at, Status: StatusOf(v, in.Threshold), Trend: []float64{}}
		if !strings.Contains(in.Metric, ".") {
			tr, err := m.trend(ctx, in, now)
			if err != nil {
				return nil, err
			}
			iv.Trend = tr
		}
		out = append(out, iv)
	}
	return out, nil
}

// trendTTL is how long an indicator's hourly trend is reused: the trend
// query walks every series of the metric, the values it shows change by
// the hour, and the screen is fetched on every live event.
const trendTTL = time.Minute

type trendEntry struct {
	at      time.Time // when computed
	version time.Time // the indicator's updated_at then
	points  []float64
}

func (m *Module) trend(ctx context.Context, in *Indicator, now time.Time) ([]float64, error) {
	m.mu.Lock()
	e, ok := m.trends[in.Key]
	m.mu.Unlock()
	if ok && e.version.Equal(in.UpdatedAt) && now.Sub(e.at) < trendTTL && now.Sub(e.at) >= 0 {
		return e.points, nil
	}
	tr, err := m.opts.IoT.MetricTrend(ctx, in.metricQuery(), trendHours, now)
	if err != nil {
		return nil, err
	}
	for i := range tr {
		tr[i] = round(tr[i])
	}
	m.mu.Lock()
	m.trends[in.Key] = trendEntry{at: now, version: in.UpdatedAt, points: tr}
	m.mu.Unlock()
	return tr, nil
}
