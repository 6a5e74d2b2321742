package sla

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// CmdCalendarSet replaces the working calendar.
const CmdCalendarSet = "sla.calendar.set"

// PermCalendarWrite allows editing the working calendar.
var PermCalendarWrite = httpapi.DefinePermission("sla.calendar.write", "维护工作日历", httpapi.RoleAdmin, httpapi.RoleCommander)

// Options tune the module.
type Options struct {
	// Interval between escalation scans (default 1 minute).
	Interval time.Duration
	// UrgeRatio is the share of a limit after which 催办 is issued (default 0.8).
	UrgeRatio float64
	Logf      func(string, ...any)
	// Now is the clock of the scheduler (tests); default time.Now.
	Now func() time.Time
}

// Module stores the calendar and runs the escalation scheduler. Other
// modules (cases, projects) share one instance: cases.Module.SLA().
type Module struct {
	opts    Options
	st      *store.Store
	mu      sync.Mutex
	sources []Source
	wg      sync.WaitGroup
	stop    context.CancelFunc
}

// New returns the module.
func New(opts Options) *Module {
	if opts.Interval <= 0 {
		opts.Interval = time.Minute
	}
	if opts.UrgeRatio <= 0 || opts.UrgeRatio >= 1 {
		opts.UrgeRatio = 0.8
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Module{opts: opts}
}

var _ httpapi.Module = (*Module)(nil)

// Name implements httpapi.Module.
func (m *Module) Name() string { return "sla" }

// UrgeRatio is the share of a limit after which 催办 is due.
func (m *Module) UrgeRatio() float64 { return m.opts.UrgeRatio }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	st.AddMigrations("sla", `CREATE TABLE sla_calendar (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		body TEXT NOT NULL,
		version INTEGER NOT NULL,
		updated_at TEXT NOT NULL,
		updated_by TEXT NOT NULL DEFAULT ''
	)`)
	st.Register(CmdCalendarSet, 1, m.applyCalendarSet)
}

func (m *Module) applyCalendarSet(tx *store.Tx, cmd *store.Command) (any, error) {
	var c Calendar
	if err := json.Unmarshal(cmd.Payload, &c); err != nil {
		return nil, store.Errorf("invalid", "calendar: %v", err)
	}
	if err := c.Prepare(); err != nil {
		return nil, store.Errorf("invalid", "%v", err)
	}
	body, _ := json.Marshal(&c)
	_, err := tx.Exec(`INSERT INTO sla_calendar(id, body, version, updated_at, updated_by) VALUES(1, ?, 1, ?, ?)
		ON CONFLICT(id) DO UPDATE SET body = excluded.body, version = version + 1, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		string(body), httpapi.FormatDBTime(tx.Now()), tx.Actor())
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// Querier is what Calendar reads through: the read pool, or a handler's
// transaction (so deadlines computed in a command see the calendar as of
// that command, identically on every node).
type Querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// LoadCalendar reads the stored calendar (DefaultCalendar when none).
func LoadCalendar(ctx context.Context, q Querier) (*Calendar, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM sla_calendar WHERE id = 1`).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultCalendar(), nil
	}
	if err != nil {
		return nil, err
	}
	var c Calendar
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		return nil, err
	}
	if err := c.Prepare(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Calendar is the current calendar as this node has it.
func (m *Module) Calendar(ctx context.Context) (*Calendar, error) {
	return LoadCalendar(ctx, m.st.DB())
}

// SetCalendar replaces the calendar as actor.
func (m *Module) SetCalendar(ctx context.Context, actor string, c *Calendar) error {
	if err := c.Prepare(); err != nil {
		return store.Errorf("invalid", "%v", err)
	}
	cmd, err := store.NewCommand(CmdCalendarSet, 1, c)
	if err != nil {
		return err
	}
	cmd.Actor = actor
	_, err = m.st.Apply(ctx, cmd)
	return err
}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	r.Handle(httpapi.Route{
		Method: "GET", Path: "/api/v1/sla/calendar", Summary: "Working calendar (periods, weekend, holidays, 调休 workdays)",
		Tags: []string{"sla"}, Response: Calendar{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			c, err := m.Calendar(r.Context())
			if err != nil {
				return err
			}
			return httpapi.JSON(w, http.StatusOK, c)
		},
	})
	r.Handle(httpapi.Route{
		Method: "PUT", Path: "/api/v1/sla/calendar", Summary: "Replace the working calendar",
		Tags: []string{"sla"}, Perm: PermCalendarWrite, Request: Calendar{}, Response: Calendar{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			var c Calendar
			if err := httpapi.Decode(r, &c); err != nil {
				return err
			}
			if err := c.Prepare(); err != nil {
				return httpapi.Errorf(httpapi.CodeInvalid, "%v", err)
			}
			if _, err := httpapi.Apply(r, m.st, CmdCalendarSet, 1, &c); err != nil {
				return err
			}
			return httpapi.JSON(w, http.StatusOK, &c)
		},
	})
	r.Handle(httpapi.Route{
		Method: "GET", Path: "/api/v1/sla/deadline", Summary: "Compute a deadline with the current calendar",
		Tags: []string{"sla"}, Response: DeadlineOutput{},
		Query:   []Param{{Name: "start", Description: "RFC 3339 start (default now)"}, {Name: "value", Description: "amount", Required: true}, {Name: "unit", Description: "clock_hours, work_hours, work_days", Required: true}},
		Handler: m.deadline,
	})
}

// Param is re-exported for route docs.
type Param = httpapi.Param

// DeadlineOutput answers GET /api/v1/sla/deadline.
type DeadlineOutput struct {
	Start    time.Time `json:"start"`
	Deadline time.Time `json:"deadline"`
	Limit    Limit     `json:"limit"`
	Working  string    `json:"working" doc:"working time between start and deadline"`
}

func (m *Module) deadline(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	start := m.opts.Now()
	if s := q.Get("start"); s != "" {
		t, err := httpapi.ParseTime(s)
		if err != nil {
			return httpapi.FieldError("start", err.Error())
		}
		start = t
	}
	var l Limit
	l.Unit = Unit(q.Get("unit"))
	if _, err := fmt.Sscan(q.Get("value"), &l.Value); err != nil {
		return httpapi.FieldError("value", "must be a number")
	}
	if msg := l.Check(); msg != "" {
		return httpapi.FieldError("limit", msg)
	}
	c, err := m.Calendar(r.Context())
	if err != nil {
		return err
	}
	d := c.Deadline(start, l)
	return httpapi.JSON(w, http.StatusOK, DeadlineOutput{Start: start, Deadline: d, Limit: l, Working: FormatDuration(c.WorkingBetween(start, d))})
}
