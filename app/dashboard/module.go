package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/app/projects"
	"github.com/yiwang/yiwang/store"
)

// Options wires the module to the modules it reads.
type Options struct {
	Org      *org.Module
	IoT      *iot.Module
	Cases    *cases.Module
	Projects *projects.Module
	Hub      *live.Hub
	Logf     func(string, ...any)
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// MinPush is the least time between two rounds of indicator.updated
	// messages (default 200 ms).
	MinPush time.Duration
}

// Module is the dashboard module.
type Module struct {
	opts Options
	st   *store.Store

	mu      sync.Mutex
	dirty   map[string]bool // indicator keys to recompute; "*" for all
	last    map[string]string
	trends  map[string]trendEntry
	wake    chan struct{}
	cancel  func()
	stopped chan struct{}
}

var _ httpapi.Module = (*Module)(nil)
var _ httpapi.Starter = (*Module)(nil)
var _ httpapi.Stopper = (*Module)(nil)

// New returns the module.
func New(opts Options) *Module {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinPush <= 0 {
		opts.MinPush = 200 * time.Millisecond
	}
	m := &Module{opts: opts, dirty: map[string]bool{}, last: map[string]string{}, trends: map[string]trendEntry{}, wake: make(chan struct{}, 1)}
	if opts.Hub != nil {
		opts.Hub.Classify("dashboard.", func(ev store.Event) (live.Message, live.Audience, bool) {
			return live.Message{Data: ev.Result}, live.Audience{Perm: httpapi.PermDashboard, Public: true}, true
		})
	}
	return m
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "dashboard" }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	st.AddMigrations("dashboard", `CREATE TABLE dashboard_indicator (
		key TEXT PRIMARY KEY,
		name TEXT NOT NULL,
		category TEXT NOT NULL,
		metric TEXT NOT NULL,
		aggregation TEXT NOT NULL,
		win TEXT NOT NULL DEFAULT '',
		device_type TEXT NOT NULL DEFAULT '',
		case_category TEXT NOT NULL DEFAULT '',
		case_source TEXT NOT NULL DEFAULT '',
		warning REAL,
		critical REAL,
		direction TEXT NOT NULL DEFAULT 'above',
		unit TEXT NOT NULL DEFAULT '',
		sort INTEGER NOT NULL DEFAULT 0,
		updated_at TEXT NOT NULL,
		updated_by TEXT NOT NULL DEFAULT ''
	)`)
	st.Register(CmdIndicatorCreate, 1, m.applyCreate)
	st.Register(CmdIndicatorUpdate, 1, m.applyUpdate)
	st.Register(CmdIndicatorDelete, 1, m.applyDelete)
}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	tags := []string{"dashboard"}
	read, write := httpapi.PermDashboard, httpapi.PermDashboardWrite
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/dashboard/screen", Summary: "Command-centre screen: indicators, alarms, case map, funnel, overdue, projects, devices",
		Tags: tags, Perm: read, Response: Screen{}, Handler: m.screen})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/dashboard/indicators", Summary: "List the screen's indicators (configuration)",
		Tags: tags, Perm: read, List: indicatorList, Response: httpapi.Page[Indicator]{}, Handler: m.listIndicators})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/dashboard/indicators/{key}", Summary: "Get an indicator",
		Tags: tags, Perm: read, Response: Indicator{}, Handler: m.getIndicator})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/dashboard/indicators", Summary: "Create an indicator",
		Tags: tags, Perm: write, Request: IndicatorInput{}, Response: Indicator{}, Status: http.StatusCreated, Handler: m.createIndicator})
	r.Handle(httpapi.Route{Method: "PATCH", Path: "/api/v1/dashboard/indicators/{key}", Summary: "Change an indicator (metric, aggregation, threshold, unit, ...)",
		Tags: tags, Perm: write, Request: IndicatorPatch{}, Response: Indicator{}, Handler: m.patchIndicator})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/dashboard/indicators/{key}", Summary: "Delete an indicator",
		Tags: tags, Perm: write, Status: http.StatusNoContent, Handler: m.deleteIndicator})
}

// Start subscribes to committed commands and runs the indicator pusher.
func (m *Module) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	m.stopped = make(chan struct{})
	unsub := m.st.Subscribe("dashboard", m.st.AppliedIndex(), m.onEvent)
	m.cancel = func() { cancel(); unsub() }
	go m.pusher(ctx)
	return nil
}

// Stop implements httpapi.Stopper.
func (m *Module) Stop() error {
	if m.cancel != nil {
		m.cancel()
		<-m.stopped
	}
	return nil
}

// onEvent marks the indicators a committed command may have changed.
func (m *Module) onEvent(ev store.Event) {
	t := ev.Cmd.Type
	var match func(in *Indicator) bool
	switch {
	case t == iot.CmdTelemetryBatch:
		metrics := iot.BatchMetrics(ev)
		alarms := len(ev.Result) > 0 && strings.Contains(string(ev.Result), `"alarm.`)
		match = func(in *Indicator) bool {
			if alarms && in.Metric == MetricAlarmsActive {
				return true
			}
			for _, x := range metrics {
				if x == in.Metric {
					return true
				}
			}
			return false
		}
	case iot.IsAlarmEvent(ev) || strings.HasPrefix(t, "alarm."):
		match = func(in *Indicator) bool {
			return in.Metric == MetricAlarmsActive || strings.HasPrefix(in.Metric, "devices.")
		}
	case strings.HasPrefix(t, "device."):
		match = func(in *Indicator) bool { return strings.HasPrefix(in.Metric, "devices.") }
	case strings.HasPrefix(t, "case."):
		match = func(in *Indicator) bool { return strings.HasPrefix(in.Metric, "cases.") }
	case strings.HasPrefix(t, "dashboard."):
		match = func(*Indicator) bool { return true }
	default:
		return
	}
	list, err := m.indicators(context.Background())
	if err != nil {
		return
	}
	n := 0
	m.mu.Lock()
	for i := range list {
		if match(&list[i]) {
			m.dirty[list[i].Key] = true
			n++
		}
	}
	m.mu.Unlock()
	if n > 0 {
		m.poke()
	}
}

func (m *Module) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *Module) kickAll() {
	m.mu.Lock()
	m.dirty["*"] = true
	m.mu.Unlock()
	m.poke()
}

// pusher recomputes dirty indicators and publishes the changed ones,
// at most once per MinPush.
func (m *Module) pusher(ctx context.Context) {
	defer close(m.stopped)
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.wake:
		}
		m.mu.Lock()
		dirty := m.dirty
		m.dirty = map[string]bool{}
		m.mu.Unlock()
		if err := m.push(ctx, dirty); err != nil && ctx.Err() == nil {
			m.opts.Logf("dashboard: push indicators: %v", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(m.opts.MinPush):
		}
	}
}

// IndicatorUpdate is the data of an indicator.updated message.
type IndicatorUpdate struct {
	Key    string   `json:"key"`
	Value  *float64 `json:"value"`
	Status string   `json:"status"`
}

func (m *Module) push(ctx context.Context, dirty map[string]bool) error {
	if m.opts.Hub == nil || len(dirty) == 0 {
		return nil
	}
	list, err := m.indicators(ctx)
	if err != nil {
		return err
	}
	now := m.opts.Now()
	for i := range list {
		in := &list[i]
		if !dirty["*"] && !dirty[in.Key] {
			continue
		}
		v, _, err := m.value(ctx, in, now)
		if err != nil {
			return err
		}
		u := IndicatorUpdate{Key: in.Key, Value: v, Status: StatusOf(v, in.Threshold)}
		b, _ := json.Marshal(u)
		m.mu.Lock()
		same := m.last[in.Key] == string(b)
		m.last[in.Key] = string(b)
		m.mu.Unlock()
		if same {
			continue
		}
		m.opts.Hub.Publish(live.Message{Type: "indicator.updated", Data: b}, live.Audience{Perm: httpapi.PermDashboard, Public: true})
	}
	return nil
}

// indicators lists the configuration in screen order.
func (m *Module) indicators(ctx context.Context) ([]Indicator, error) {
	rows, err := m.st.DB().QueryContext(ctx, `SELECT `+indicatorCols+` FROM dashboard_indicator ORDER BY sort, key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Indicator
	for rows.Next() {
		in, err := scanIndicator(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *in)
	}
	return out, rows.Err()
}
