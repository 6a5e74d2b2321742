package cases

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

// Options configure the module.
type Options struct {
	// Org resolves departments, grids and users, and authenticates Open311
	// api_keys. Required for the HTTP API.
	Org *org.Module
	// Hub, when set, receives the module's live classifiers.
	Hub  *live.Hub
	Logf func(string, ...any)
	// MaxAttachment is the largest photo or document accepted (default 8 MiB).
	MaxAttachment int64
	// SLA tunes the shared timer module (scan interval, urge ratio).
	SLA sla.Options
}

// Module is the case-handling module.
type Module struct {
	opts Options
	st   *store.Store
	sla  *sla.Module
}

var (
	_ httpapi.Module  = (*Module)(nil)
	_ httpapi.Starter = (*Module)(nil)
	_ httpapi.Stopper = (*Module)(nil)
	_ sla.Source      = (*caseSource)(nil)
)

// New returns the module.
func New(opts Options) *Module {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.MaxAttachment <= 0 {
		opts.MaxAttachment = 8 << 20
	}
	if opts.SLA.Logf == nil {
		opts.SLA.Logf = opts.Logf
	}
	m := &Module{opts: opts, sla: sla.New(opts.SLA)}
	m.sla.AddSource(&caseSource{m: m})
	return m
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "cases" }

// SLA is the shared timer module (calendar, deadlines, escalation). The
// projects module registers its own Source with it instead of copying it.
func (m *Module) SLA() *sla.Module { return m.sla }

// Store is the module's store.
func (m *Module) Store() *store.Store { return m.st }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	m.sla.Register(st)
	st.AddMigrations("cases", migrations...)
	st.Register(CmdCreate, 1, m.applyCreate)
	st.Register(CmdTransition, 1, m.applyTransition)
	st.Register(CmdAttach, 1, m.applyAttach, store.NoLogPayload())
	st.Register(CmdRuleSet, 1, m.applyRuleSet)
	st.Register(CmdRuleDelete, 1, m.applyRuleDelete)
	st.Register(CmdSettingsSet, 1, m.applySettingsSet)
	st.Register(CmdCategorySet, 1, m.applyCategorySet)
}

// Start implements httpapi.Starter: the escalation scheduler (leader only).
func (m *Module) Start(ctx context.Context) error { return m.sla.Start(ctx) }

// Stop implements httpapi.Stopper.
func (m *Module) Stop() error { return m.sla.Stop() }

func (m *Module) applyAs(ctx context.Context, actor, idem, typ string, payload any) (store.Result, error) {
	cmd, err := store.NewCommand(typ, 1, payload)
	if err != nil {
		return store.Result{}, err
	}
	cmd.Actor, cmd.IdempotencyKey = actor, idem
	return m.st.Apply(ctx, cmd)
}

// ---- Go API for other modules ----

// AlarmInput is a sensor alarm that should become a case.
type AlarmInput struct {
	AlarmID      string
	CategoryCode string // 小类, e.g. C0101 上水井盖, E0405 道路积水; unknown codes leave the case unclassified
	Title        string
	Description  string
	DeviceID     string
	ComponentID  string // 16-digit 部件 id
	GridCode     string
	Address      string
	Lat, Lng     float64
	Severity     string
	RaisedAt     time.Time
}

// OpenFromAlarm opens a case (信息收集, source sensor) for an alarm. It is
// idempotent per AlarmID (store idempotency key "alarm:"+AlarmID): calling
// it again returns the same case.
func (m *Module) OpenFromAlarm(ctx context.Context, in AlarmInput) (int64, error) {
	if strings.TrimSpace(in.AlarmID) == "" || len(in.AlarmID) > 100 {
		return 0, store.Errorf("invalid", "alarm id is required (at most 100 characters)")
	}
	title := in.Title
	if title == "" {
		title = "物联感知告警 " + in.AlarmID
	}
	if r := []rune(title); len(r) > 100 {
		title = string(r[:100])
	}
	desc := in.Description
	var extra []string
	if in.DeviceID != "" {
		extra = append(extra, "设备 "+in.DeviceID)
	}
	if in.ComponentID != "" {
		extra = append(extra, "部件 "+in.ComponentID)
	}
	if !in.RaisedAt.IsZero() {
		extra = append(extra, "告警时间 "+in.RaisedAt.In(sla.China).Format("2006-01-02 15:04:05"))
	}
	if len(extra) > 0 {
		desc = strings.TrimSpace(desc + "\n" + strings.Join(extra, "；"))
	}
	p := createPayload{CaseInput: CaseInput{Title: strings.TrimSpace(title), Description: desc, Source: SourceSensor, ExternalID: truncate(in.AlarmID, 64),
		CategoryCode: in.CategoryCode, GridCode: in.GridCode, Address: truncate(in.Address, 200), Lat: in.Lat, Lng: in.Lng, Severity: truncate(in.Severity, 16)},
		AlarmID: in.AlarmID, ActorRole: "sensor"}
	if err := p.CaseInput.Validate(); err != nil {
		return 0, err
	}
	res, err := m.applyAs(ctx, "system:iot", "alarm:"+in.AlarmID, CmdCreate, p)
	if err != nil {
		return 0, err
	}
	var out ChangeResult
	if err := res.Decode(&out); err != nil {
		return 0, err
	}
	return out.Case.ID, nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

// NoteAlarmCleared records on the case's timeline that the alarm cleared
// (the case stays open: someone still checks and closes it). Idempotent per
// alarm.
func (m *Module) NoteAlarmCleared(ctx context.Context, caseID int64, alarmID string, clearedAt time.Time, note string) error {
	if note == "" {
		note = "告警已解除"
	} else if !strings.Contains(note, "解除") {
		note = "告警已解除：" + note
	}
	if !clearedAt.IsZero() {
		note += "（" + clearedAt.In(sla.China).Format("2006-01-02 15:04:05") + "）"
	}
	p := transitionPayload{CaseID: caseID, Action: ActNote, ActorRole: "sensor", ActionInput: ActionInput{Note: truncate(note, 2000)}}
	_, err := m.applyAs(ctx, "system:iot", "alarm_cleared:"+alarmID, CmdTransition, p)
	if e := store.AsError(err); e != nil && e.Code == "conflict" {
		return nil // the case is already finished: nothing to note
	}
	return err
}

// Case reads one case (no scope check: for other modules).
func (m *Module) Case(ctx context.Context, id int64) (*Case, error) {
	return loadCase(ctx, m.st.DB(), id)
}

// Event is the decoded form of a case command's post-commit event, for
// plugins and other modules subscribed to the store (store.Subscribe).
type Event struct {
	Type       string `json:"type"` // case.created, case.state_changed, case.updated, case.urged, case.supervised
	Index      uint64 `json:"index"`
	CaseID     int64  `json:"case_id"`
	From       string `json:"from_state,omitempty"`
	To         string `json:"to_state,omitempty"`
	Action     string `json:"action,omitempty"`
	DeptID     int64  `json:"dept_id,omitempty"`
	PrevDeptID int64  `json:"prev_dept_id,omitempty"`
	GridCode   string `json:"grid_code,omitempty"`
	Case       *Case  `json:"case"`
}

// DecodeEvent turns a store event of a case command into an Event; ok is
// false for other commands.
func DecodeEvent(ev store.Event) (Event, bool) {
	if ev.Cmd.Type != CmdCreate && ev.Cmd.Type != CmdTransition {
		return Event{}, false
	}
	var r ChangeResult
	if json.Unmarshal(ev.Result, &r) != nil || r.Case == nil {
		return Event{}, false
	}
	out := Event{Type: r.Event, Index: ev.Index, CaseID: r.Case.ID, From: r.From, To: r.To, DeptID: r.Case.DeptID,
		PrevDeptID: r.PrevDeptID, GridCode: r.Case.GridCode, Case: r.Case}
	if r.Step != nil {
		out.Action = r.Step.Action
	}
	return out, true
}

// liveClassifiers scopes case events to the departments, grids and users
// concerned (and county-wide roles).
func (m *Module) liveClassifiers(h *live.Hub) {
	h.Drop(CmdAttach)
	h.Classify("case.", func(ev store.Event) (live.Message, live.Audience, bool) {
		e, ok := DecodeEvent(ev)
		if !ok {
			return live.Message{Data: ev.Result}, live.Audience{Perm: httpapi.PermCaseDispatch}, true
		}
		aud := live.Audience{Perm: httpapi.PermCaseRead}
		for _, d := range []int64{e.DeptID, e.PrevDeptID} {
			if d != 0 {
				aud.DeptIDs = append(aud.DeptIDs, d)
			}
		}
		if e.GridCode != "" {
			aud.GridCodes = []string{e.GridCode}
		}
		if e.Case.CreatedBy != 0 {
			aud.UserIDs = []int64{e.Case.CreatedBy}
		}
		b, _ := json.Marshal(e)
		return live.Message{Type: e.Type, Data: b}, aud, true
	})
}

// ---- escalation source ----

type caseSource struct{ m *Module }

func (s *caseSource) Kind() string { return "case" }

func (s *caseSource) Due(ctx context.Context, now time.Time, cal *sla.Calendar, ratio float64, limit int) ([]sla.Item, error) {
	rows, err := s.m.st.DB().QueryContext(ctx, `SELECT id, stage, stage_round, stage_started_at, stage_deadline, stage_unit, urge_at, urged, supervised
		FROM cases_case WHERE next_esc_at IS NOT NULL AND next_esc_at <= ? ORDER BY next_esc_at LIMIT ?`, dbt(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sla.Item
	for rows.Next() {
		var it sla.Item
		var start, dl, unit, urgeAt string
		var urged, sup int
		if err := rows.Scan(&it.ID, &it.Stage, &it.Round, &start, &dl, &unit, &urgeAt, &urged, &sup); err != nil {
			return nil, err
		}
		it.Kind, it.Unit = "case", sla.Unit(unit)
		it.Start, it.Deadline, it.UrgeAt = httpapi.ParseDBTime(start), httpapi.ParseDBTime(dl), httpapi.ParseDBTime(urgeAt)
		it.Urged, it.Supervised = urged == 1, sup == 1
		out = append(out, it)
	}
	return out, rows.Err()
}

func (s *caseSource) Escalate(ctx context.Context, e sla.Escalation) error {
	act := ActUrge
	note := "系统催办：" + StageNames[e.Item.Stage] + "时限将到"
	if e.Level == sla.Supervise {
		act = ActSupervise
		note = "系统督办：" + StageNames[e.Item.Stage] + "已超时限"
	}
	p := transitionPayload{CaseID: e.Item.ID, Action: act, Escalation: &e, ActorRole: "system", ActionInput: ActionInput{Note: note}}
	_, err := s.m.applyAs(ctx, "system:sla", e.Key, CmdTransition, p)
	return err
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
