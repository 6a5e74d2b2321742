package cases

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

// Command types.
const (
	CmdCreate      = "case.create"
	CmdTransition  = "case.transition"
	CmdAttach      = "case.attachment.add"
	CmdRuleSet     = "case.rule.set"
	CmdRuleDelete  = "case.rule.delete"
	CmdSettingsSet = "case.settings.set"
	CmdCategorySet = "case.category.set"
)

// Event names carried in command results (and as live message types).
const (
	EventCreated      = "case.created"
	EventStateChanged = "case.state_changed"
	EventUpdated      = "case.updated"
	EventUrged        = "case.urged"
	EventSupervised   = "case.supervised"
)

// CaseInput is a new case (intake).
type CaseInput struct {
	Title         string  `json:"title"`
	Description   string  `json:"description,omitempty"`
	Source        string  `json:"source" doc:"staff, grid, hotline, leader (sensor and open311 come through their own paths)"`
	ExternalID    string  `json:"external_id,omitempty" doc:"12345 ticket number, leader's document number"`
	CategoryCode  string  `json:"category_code,omitempty" doc:"小类 code"`
	ConditionID   int64   `json:"condition_id,omitempty" doc:"立案条件; default the category's first"`
	GridCode      string  `json:"grid_code,omitempty"`
	Address       string  `json:"address,omitempty"`
	Lat           float64 `json:"lat,omitempty"`
	Lng           float64 `json:"lng,omitempty"`
	Severity      string  `json:"severity,omitempty"`
	Reporter      string  `json:"reporter,omitempty"`
	ReporterPhone string  `json:"reporter_phone,omitempty"`
	Attachments   []int64 `json:"attachments,omitempty" doc:"ids of photos uploaded with POST /api/v1/cases/attachments"`
	// Register opens the case (立案) at once and dispatches it by the rules
	// (needs case.dispatch).
	Register bool  `json:"register,omitempty"`
	DeptID   int64 `json:"dept_id,omitempty" doc:"with register: dispatch to this department instead of the rules"`
}

var sources = []string{SourceStaff, SourceGrid, SourceHotline, SourceLeader, SourceSensor, SourceOpen311}

// Validate implements httpapi.Validatable.
func (in *CaseInput) Validate() error {
	var v httpapi.Validator
	v.Text("title", in.Title, 1, 100)
	v.MultilineText("description", in.Description, 4000)
	v.OneOf("source", in.Source, sources...)
	v.Text("external_id", in.ExternalID, 0, 64)
	v.Text("category_code", in.CategoryCode, 0, 16)
	v.Check(in.ConditionID >= 0, "condition_id", "must be positive")
	if in.GridCode != "" {
		ok := len(in.GridCode) == 6 || len(in.GridCode) == 9 || len(in.GridCode) == 12 || len(in.GridCode) == 14
		for _, c := range in.GridCode {
			ok = ok && c >= '0' && c <= '9'
		}
		v.Check(ok, "grid_code", "must be a grid code of 6, 9, 12 or 14 digits")
	}
	v.Text("address", in.Address, 0, 200)
	v.Check(in.Lat >= -90 && in.Lat <= 90 && !math.IsNaN(in.Lat), "lat", "must be a latitude")
	v.Check(in.Lng >= -180 && in.Lng <= 180 && !math.IsNaN(in.Lng), "lng", "must be a longitude")
	v.Text("severity", in.Severity, 0, 16)
	v.Text("reporter", in.Reporter, 0, 64)
	v.Phone("reporter_phone", in.ReporterPhone)
	v.Check(len(in.Attachments) <= 20, "attachments", "at most 20")
	v.Check(in.DeptID >= 0, "dept_id", "must be positive")
	switch in.Source {
	case SourceGrid:
		v.Check(in.GridCode != "", "grid_code", "is required for a grid worker's report")
		v.Check(in.Lat != 0 && in.Lng != 0, "lat", "a grid worker's report needs its location")
	case SourceHotline:
		v.Check(in.ExternalID != "", "external_id", "the 12345 ticket number is required")
	}
	return v.Err()
}

// ActionInput carries what an action needs; unused fields must be empty.
type ActionInput struct {
	Note         string     `json:"note,omitempty"`
	Reason       string     `json:"reason,omitempty" doc:"required for reassign, return, rework, extend_request, extend_reject, park, void"`
	DeptID       int64      `json:"dept_id,omitempty" doc:"dispatch (override of the rules), reassign"`
	Attachments  []int64    `json:"attachments,omitempty"`
	CategoryCode string     `json:"category_code,omitempty" doc:"register: 小类"`
	ConditionID  int64      `json:"condition_id,omitempty" doc:"register: 立案条件"`
	TargetID     int64      `json:"target_id,omitempty" doc:"merge: the case this one duplicates"`
	Extension    *sla.Limit `json:"extension,omitempty" doc:"extend_request: how much more time"`
	Score        int        `json:"score,omitempty" doc:"evaluate: 1-5"`
}

// Validate implements httpapi.Validatable.
func (in *ActionInput) Validate() error {
	var v httpapi.Validator
	v.MultilineText("note", in.Note, 2000)
	v.MultilineText("reason", in.Reason, 500)
	v.Check(in.DeptID >= 0, "dept_id", "must be positive")
	v.Check(len(in.Attachments) <= 20, "attachments", "at most 20")
	v.Text("category_code", in.CategoryCode, 0, 16)
	v.Check(in.TargetID >= 0, "target_id", "must be positive")
	if in.Extension != nil {
		if msg := in.Extension.Check(); msg != "" {
			v.Add("extension", msg)
		}
	}
	v.Check(in.Score >= 0 && in.Score <= 5, "score", "must be 1 to 5")
	return v.Err()
}

type createPayload struct {
	CaseInput
	CreatedBy int64  `json:"created_by,omitempty"`
	ActorRole string `json:"actor_role,omitempty"`
	AlarmID   string `json:"alarm_id,omitempty"`
}

type transitionPayload struct {
	CaseID int64  `json:"case_id"`
	Action string `json:"action"`
	ActionInput
	ActorRole  string          `json:"actor_role,omitempty"`
	Escalation *sla.Escalation `json:"escalation,omitempty"`
	// ExpectState, when set, refuses the action if the case moved on since
	// the caller looked (optimistic check for scope decisions).
	ExpectDept *int64 `json:"expect_dept,omitempty"`
}

// ChangeResult is the result of case commands (and the data of their live
// events).
type ChangeResult struct {
	Event      string `json:"event"`
	Case       *Case  `json:"case"`
	Step       *Step  `json:"step,omitempty"`
	From       string `json:"from_state,omitempty"`
	To         string `json:"to_state,omitempty"`
	PrevDeptID int64  `json:"prev_dept_id,omitempty"`
}

func invalidField(field, msg string) error {
	return &store.Error{Code: "invalid", Message: field + ": " + msg, Fields: map[string]string{field: msg}}
}

// hctx is what a handler run needs besides the transaction.
type hctx struct {
	tx       *store.Tx
	ctx      context.Context
	cal      *sla.Calendar
	settings Settings
	ratio    float64
}

func (m *Module) newHctx(tx *store.Tx) (*hctx, error) {
	ctx := context.Background()
	cal, err := sla.LoadCalendar(ctx, tx)
	if err != nil {
		return nil, err
	}
	s, err := loadSettings(ctx, tx)
	if err != nil {
		return nil, err
	}
	return &hctx{tx: tx, ctx: ctx, cal: cal, settings: s, ratio: m.sla.UrgeRatio()}, nil
}

func month(t time.Time) string { return t.In(sla.China).Format("2006-01") }

// bump adds to the monthly evaluation figures of one dimension key.
func (h *hctx) bump(dim, key string, cols map[string]int64) error {
	if key == "" || key == "0" {
		return nil
	}
	names := make([]string, 0, len(cols))
	sets := make([]string, 0, len(cols))
	args := []any{month(h.tx.Now()), dim, key}
	for _, c := range []string{"registered", "dispatched", "handled", "handled_ontime", "closed", "closed_ontime", "reworked", "returned", "handle_secs"} {
		if n, ok := cols[c]; ok {
			names = append(names, c)
			sets = append(sets, c+" = "+c+" + excluded."+c)
			args = append(args, n)
		}
	}
	ph := strings.Repeat(", ?", len(names))
	_, err := h.tx.Exec(`INSERT INTO cases_agg(month, dim, key, `+strings.Join(names, ", ")+`) VALUES(?, ?, ?`+ph+`)
		ON CONFLICT(month, dim, key) DO UPDATE SET `+strings.Join(sets, ", "), args...)
	return err
}

func (h *hctx) bumpAll(c *Case, dept int64, role string, cols map[string]int64) error {
	if err := h.bump("dept", strconv.FormatInt(dept, 10), cols); err != nil {
		return err
	}
	if err := h.bump("township", c.TownshipCode, cols); err != nil {
		return err
	}
	return h.bump("role", role, cols)
}

// enterStage starts the timer of the case's current state.
func (h *hctx) enterStage(c *Case) {
	st := stageOf(c.State)
	now := h.tx.Now()
	c.Urged, c.Supervised = false, false
	if st == "" {
		c.Stage, c.StageStartedAt, c.StageDeadline, c.StageUnit, c.UrgeAt = "", time.Time{}, time.Time{}, "", time.Time{}
		return
	}
	var lim sla.Limit
	if st == "handle" {
		lim = h.settings.HandleDefault
		if c.Limit != nil {
			lim = *c.Limit
		}
	} else {
		lim = h.settings.StageLimits[st]
		if lim.Unit == "" {
			lim = DefaultSettings().StageLimits[st]
		}
	}
	c.Stage = st
	c.StageRound++
	c.StageStartedAt = now
	c.StageUnit = lim.Unit
	c.StageDeadline = h.cal.Deadline(now, lim)
	c.UrgeAt = h.cal.At(now, c.StageDeadline, lim.Unit, h.ratio)
	if st == "handle" {
		c.HandleDeadline = c.StageDeadline
	}
}

func (h *hctx) category(code string) (kind string, level int, err error) {
	err = h.tx.QueryRow(`SELECT kind, level FROM cases_category WHERE code = ? AND disabled = 0`, code).Scan(&kind, &level)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, invalidField("category_code", "unknown category "+code)
	}
	return kind, level, err
}

func (h *hctx) condition(code string, id int64) (int64, *sla.Limit, error) {
	q := `SELECT id, limit_value, limit_unit FROM cases_condition WHERE category_code = ? ORDER BY sort, id LIMIT 1`
	args := []any{code}
	if id != 0 {
		q = `SELECT id, limit_value, limit_unit FROM cases_condition WHERE category_code = ? AND id = ?`
		args = append(args, id)
	}
	var l sla.Limit
	var unit string
	err := h.tx.QueryRow(q, args...).Scan(&id, &l.Value, &unit)
	if errors.Is(err, sql.ErrNoRows) {
		if id != 0 {
			return 0, nil, invalidField("condition_id", "not a 立案条件 of "+code)
		}
		return 0, nil, nil
	}
	l.Unit = sla.Unit(unit)
	return id, &l, err
}

// ruleDept applies the 权责清单: the most specific rule for the case's
// category and grid.
func (h *hctx) ruleDept(c *Case) (int64, error) {
	major := ""
	if len(c.CategoryCode) > 3 {
		major = c.CategoryCode[:3]
	}
	var dept int64
	err := h.tx.QueryRow(`SELECT dept_id FROM cases_rule
		WHERE (category_code = ? OR category_code = ? OR category_code = '')
		  AND (grid_prefix = '' OR substr(?, 1, length(grid_prefix)) = grid_prefix)
		ORDER BY length(grid_prefix) DESC, length(category_code) DESC, id LIMIT 1`, c.CategoryCode, major, c.GridCode).Scan(&dept)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return dept, err
}

func (h *hctx) addStep(c *Case, action, from, to, role, note, reason string, dept int64, data map[string]any, atts []int64) (*Step, error) {
	c.Steps++
	s := &Step{CaseID: c.ID, Seq: c.Steps, Action: action, ActionName: ActionNames[action], From: from, To: to,
		Actor: h.tx.Actor(), ActorRole: role, At: h.tx.Now(), Note: note, Reason: reason, DeptID: dept, Data: data}
	d := ""
	if len(data) > 0 {
		b, _ := json.Marshal(data)
		d = string(b)
	}
	res, err := h.tx.Exec(`INSERT INTO cases_step(case_id, seq, action, from_state, to_state, actor, actor_role, at, note, reason, dept_id, data)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, s.Seq, action, from, to, s.Actor, role, dbt(s.At), note, reason, dept, d)
	if err != nil {
		return nil, err
	}
	s.ID, _ = res.LastInsertId()
	seen := map[int64]bool{}
	for _, id := range atts {
		if seen[id] {
			continue
		}
		seen[id] = true
		a, err := scanAttachment(h.tx.QueryRow(`SELECT `+attCols+` FROM cases_attachment WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return nil, invalidField("attachments", fmt.Sprintf("attachment %d not found", id))
		}
		if err != nil {
			return nil, err
		}
		if a.CaseID != 0 || a.UploadedBy != h.tx.Actor() {
			return nil, invalidField("attachments", fmt.Sprintf("attachment %d is not an unattached upload of yours", id))
		}
		if _, err := h.tx.Exec(`UPDATE cases_attachment SET case_id = ?, step_id = ? WHERE id = ?`, c.ID, s.ID, id); err != nil {
			return nil, err
		}
		a.CaseID, a.StepID = c.ID, s.ID
		s.Attachments = append(s.Attachments, a)
	}
	return s, nil
}

func (m *Module) applyCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p createPayload
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return nil, store.Errorf("invalid", "payload: %v", err)
	}
	if err := p.CaseInput.Validate(); err != nil {
		return nil, err
	}
	h, err := m.newHctx(tx)
	if err != nil {
		return nil, err
	}
	now := tx.Now()
	c := &Case{Title: p.Title, Description: p.Description, Source: p.Source, ExternalID: p.ExternalID, State: StateCollected,
		GridCode: p.GridCode, Address: p.Address, Lat: p.Lat, Lng: p.Lng, Severity: p.Severity, Reporter: p.Reporter,
		ReporterPhone: p.ReporterPhone, CreatedBy: p.CreatedBy, CreatedAt: now, UpdatedAt: now}
	if len(c.GridCode) >= 9 {
		c.TownshipCode = c.GridCode[:9]
	}
	data := map[string]any{"source": p.Source}
	if p.CategoryCode != "" {
		_, level, err := h.category(p.CategoryCode)
		switch {
		case err != nil && p.Source == SourceSensor:
			data["unknown_category"] = p.CategoryCode // the operator classifies it
		case err != nil:
			return nil, err
		case level != 2:
			return nil, invalidField("category_code", "must be a 小类")
		default:
			c.CategoryCode = p.CategoryCode
			c.ConditionID, c.Limit, err = h.condition(p.CategoryCode, p.ConditionID)
			if err != nil {
				return nil, err
			}
		}
	}
	if p.AlarmID != "" {
		data["alarm_id"] = p.AlarmID
	}
	h.enterStage(c)
	if err := insertCase(tx, c); err != nil {
		return nil, err
	}
	step, err := h.addStep(c, "create", "", StateCollected, p.ActorRole, p.Description, "", 0, data, p.Attachments)
	if err != nil {
		return nil, err
	}
	if p.AlarmID != "" {
		if _, err := tx.Exec(`INSERT INTO cases_alarm(alarm_id, case_id) VALUES(?, ?)`, p.AlarmID, c.ID); err != nil {
			return nil, store.Errorf("conflict", "alarm %s already has a case", p.AlarmID)
		}
	}
	if p.Register {
		tp := &transitionPayload{CaseID: c.ID, Action: ActRegister, ActorRole: p.ActorRole,
			ActionInput: ActionInput{CategoryCode: c.CategoryCode, ConditionID: c.ConditionID, DeptID: p.DeptID}}
		if _, err := m.transit(h, c, tp); err != nil {
			return nil, err
		}
	}
	if err := saveCase(tx, c); err != nil {
		return nil, err
	}
	c.Allowed = Allowed(c.State)
	return &ChangeResult{Event: EventCreated, Case: c, Step: step, To: c.State}, nil
}

func (m *Module) applyTransition(tx *store.Tx, cmd *store.Command) (any, error) {
	var p transitionPayload
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return nil, store.Errorf("invalid", "payload: %v", err)
	}
	if err := p.ActionInput.Validate(); err != nil {
		return nil, err
	}
	h, err := m.newHctx(tx)
	if err != nil {
		return nil, err
	}
	c, err := loadCase(h.ctx, tx, p.CaseID)
	if err != nil {
		return nil, err
	}
	if p.ExpectDept != nil && *p.ExpectDept != c.DeptID {
		return nil, store.Errorf("conflict", "case %d has moved to another department", c.ID)
	}
	res, err := m.transit(h, c, &p)
	if err != nil {
		return nil, err
	}
	if err := saveCase(tx, c); err != nil {
		return nil, err
	}
	c.Allowed = Allowed(c.State)
	return res, nil
}

var restartActions = map[string]bool{ActReassign: true, ActRework: true, ActUnpark: true}

// transit applies one action to c (in memory and in the step, aggregate
// and escalation tables); the caller saves c.
func (m *Module) transit(h *hctx, c *Case, p *transitionPayload) (*ChangeResult, error) {
	from := c.State
	to, ok := Next(from, p.Action)
	if !ok {
		if _, known := transitions[p.Action]; !known {
			return nil, &store.Error{Code: "invalid", Message: "unknown action " + p.Action, Fields: map[string]string{"action": "unknown"}, Allowed: Allowed(from)}
		}
		return nil, &store.Error{Code: "conflict", Allowed: Allowed(from),
			Message: fmt.Sprintf("cannot %s (%s) a case in state %s (%s); allowed: %s", p.Action, ActionNames[p.Action], from, StateNames[from], strings.Join(Allowed(from), ", "))}
	}
	if reasonRequired[p.Action] && strings.TrimSpace(p.Reason) == "" {
		return nil, invalidField("reason", "is required to "+p.Action)
	}
	tx, now := h.tx, h.tx.Now()
	prevDept := c.DeptID
	event := EventStateChanged
	data := map[string]any{}
	restart := stageOf(to) != stageOf(from) || restartActions[p.Action]
	// The stage that ends now: was it overdue?
	if restart && c.Stage != "" && !c.StageDeadline.IsZero() && now.After(c.StageDeadline) {
		c.OverdueStages++
	}
	var after []*transitionPayload
	role := p.ActorRole
	switch p.Action {
	case ActRegister:
		code := p.CategoryCode
		if code == "" {
			code = c.CategoryCode
		}
		if code == "" {
			return nil, invalidField("category_code", "is required to register (立案)")
		}
		_, level, err := h.category(code)
		if err != nil {
			return nil, err
		}
		if level != 2 {
			return nil, invalidField("category_code", "must be a 小类")
		}
		condID := p.ConditionID
		if condID == 0 && code == c.CategoryCode {
			condID = c.ConditionID // keep the condition chosen at intake
		}
		c.CategoryCode = code
		c.ConditionID, c.Limit, err = h.condition(code, condID)
		if err != nil {
			return nil, err
		}
		c.RegisteredAt = now
		if err := h.bump("township", c.TownshipCode, map[string]int64{"registered": 1}); err != nil {
			return nil, err
		}
		if err := h.bump("role", role, map[string]int64{"registered": 1}); err != nil {
			return nil, err
		}
		dept := p.DeptID
		if dept == 0 {
			var err error
			if dept, err = h.ruleDept(c); err != nil {
				return nil, err
			}
		}
		if dept != 0 {
			note := "按权责清单自动派遣"
			if p.DeptID != 0 {
				note = "立案时指定处置部门"
			}
			after = append(after, &transitionPayload{CaseID: c.ID, Action: ActDispatch, ActorRole: role, ActionInput: ActionInput{DeptID: dept, Note: note}})
		} else {
			data["queue"] = "dispatch_centre"
		}
	case ActDispatch, ActReassign:
		dept := p.DeptID
		if dept == 0 && p.Action == ActDispatch {
			var err error
			if dept, err = h.ruleDept(c); err != nil {
				return nil, err
			}
			if dept == 0 {
				return nil, invalidField("dept_id", "no dispatch rule (权责清单) matches this case; choose the department")
			}
			data["by_rule"] = true
		}
		if dept == 0 {
			return nil, invalidField("dept_id", "is required to reassign")
		}
		if p.Action == ActReassign {
			if dept == c.DeptID {
				return nil, invalidField("dept_id", "is already the responsible department")
			}
			c.Reassigns++
		}
		c.DeptID = dept
		c.DispatchedAt = now
		c.Extension = nil
		if err := h.bump("dept", strconv.FormatInt(dept, 10), map[string]int64{"dispatched": 1}); err != nil {
			return nil, err
		}
		if err := h.bump("role", role, map[string]int64{"dispatched": 1}); err != nil {
			return nil, err
		}
	case ActReturn:
		c.Returns++
		if err := h.bumpAll(c, prevDept, role, map[string]int64{"returned": 1}); err != nil {
			return nil, err
		}
		c.DeptID = 0
		c.Extension = nil
	case ActFeedback:
		c.FeedbackAt = now
		cols := map[string]int64{"handled": 1, "handle_secs": int64(now.Sub(c.DispatchedAt) / time.Second)}
		if c.HandleDeadline.IsZero() || !now.After(c.HandleDeadline) {
			cols["handled_ontime"] = 1
		}
		c.Extension = nil
		if err := h.bumpAll(c, c.DeptID, role, cols); err != nil {
			return nil, err
		}
	case ActRework:
		c.Reworks++
		if err := h.bumpAll(c, c.DeptID, "", map[string]int64{"reworked": 1}); err != nil {
			return nil, err
		}
	case ActClose:
		c.ClosedAt = now
		cols := map[string]int64{"closed": 1}
		if c.OverdueStages == 0 {
			cols["closed_ontime"] = 1
		}
		if err := h.bumpAll(c, c.DeptID, role, cols); err != nil {
			return nil, err
		}
	case ActEvaluate:
		if p.Score < 1 {
			return nil, invalidField("score", "is required (1-5)")
		}
		c.Score = p.Score
		data["score"] = p.Score
	case ActExtendRequest:
		if c.Extension != nil {
			return nil, &store.Error{Code: "conflict", Message: "an extension request is already pending", Allowed: []string{ActExtendApprove, ActExtendReject}}
		}
		if p.Extension == nil {
			return nil, invalidField("extension", "is required (value and unit)")
		}
		c.Extension = &Extension{Limit: *p.Extension, Reason: p.Reason, RequestedBy: tx.Actor(), RequestedAt: now}
		data["extension"] = p.Extension
		event = EventUpdated
	case ActExtendApprove, ActExtendReject:
		if c.Extension == nil {
			return nil, &store.Error{Code: "conflict", Message: "no extension request is pending", Allowed: []string{ActExtendRequest}}
		}
		data["extension"] = c.Extension.Limit
		if p.Action == ActExtendApprove {
			base := c.StageDeadline
			if now.After(base) {
				base = now
			}
			c.StageDeadline = h.cal.Deadline(base, c.Extension.Limit)
			c.HandleDeadline = c.StageDeadline
			c.StageRound++ // fresh escalation keys for the new deadline
			c.Urged, c.Supervised = false, false
			c.UrgeAt = h.cal.At(c.StageStartedAt, c.StageDeadline, c.StageUnit, h.ratio)
			data["new_deadline"] = c.StageDeadline
		}
		c.Extension = nil
		event = EventUpdated
	case ActPark:
		c.Extension = nil
	case ActMerge:
		if p.TargetID == 0 || p.TargetID == c.ID {
			return nil, invalidField("target_id", "must be another case")
		}
		t, err := loadCase(h.ctx, tx, p.TargetID)
		if err != nil {
			return nil, invalidField("target_id", "case not found")
		}
		if !t.Open || t.State == StateMerged {
			return nil, &store.Error{Code: "conflict", Message: fmt.Sprintf("case %d is not open", t.ID)}
		}
		if t.CategoryCode != c.CategoryCode {
			return nil, &store.Error{Code: "conflict", Message: "a duplicate must have the same category"}
		}
		if d := distance(c.Lat, c.Lng, t.Lat, t.Lng); c.Lat == 0 || t.Lat == 0 || d > h.settings.MergeRadius {
			return nil, &store.Error{Code: "conflict", Message: fmt.Sprintf("a duplicate must lie within %.0f m", h.settings.MergeRadius)}
		}
		c.MergedInto = t.ID
		data["target_id"] = t.ID
		t.UpdatedAt = now
		if _, err := h.addStep(t, "merged_from", t.State, t.State, role, p.Note, "", t.DeptID, map[string]any{"case_id": c.ID}, nil); err != nil {
			return nil, err
		}
		if err := saveCase(tx, t); err != nil {
			return nil, err
		}
	case ActUrge, ActSupervise:
		event = EventUrged
		if p.Action == ActSupervise {
			event = EventSupervised
		}
		deadline := c.StageDeadline
		if e := p.Escalation; e != nil {
			if e.Item.Stage != c.Stage || e.Item.Round != c.StageRound {
				return nil, store.Errorf("conflict", "stale escalation: case %d is in stage %s round %d", c.ID, c.Stage, c.StageRound)
			}
			data["key"] = e.Key
			data["progress"] = math.Round(e.Progress*100) / 100
			c.Urged = true
			if p.Action == ActSupervise {
				c.Supervised = true
			}
		}
		if _, err := tx.Exec(`INSERT INTO cases_escalation(case_id, level, stage, round, at, deadline, dept_id, actor, note) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.ID, map[string]string{ActUrge: "urge", ActSupervise: "supervise"}[p.Action], c.Stage, c.StageRound, dbt(now), dbt(deadline), c.DeptID, tx.Actor(), p.Note); err != nil {
			return nil, err
		}
	case ActNote:
		event = EventUpdated
	}
	if to == from && event == EventStateChanged {
		event = EventUpdated
	}
	c.State = to
	c.UpdatedAt = now
	if restart {
		h.enterStage(c)
	}
	step, err := h.addStep(c, p.Action, from, to, role, p.Note, p.Reason, c.DeptID, data, p.Attachments)
	if err != nil {
		return nil, err
	}
	res := &ChangeResult{Event: event, Case: c, Step: step, From: from, To: to, PrevDeptID: prevDept}
	for _, next := range after {
		r2, err := m.transit(h, c, next)
		if err != nil {
			return nil, err
		}
		res.To = r2.To
	}
	return res, nil
}

// distance in metres (equirectangular; fine at county scale).
func distance(lat1, lng1, lat2, lng2 float64) float64 {
	const r = 6371000.0
	x := (lng2 - lng1) * math.Pi / 180 * math.Cos((lat1+lat2)/2*math.Pi/180)
	y := (lat2 - lat1) * math.Pi / 180
	return math.Sqrt(x*x+y*y) * r
}

// ---- attachments ----

type attachPayload struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	MIME  string `json:"mime"`
	SHA   string `json:"sha256"`
	Data  []byte `json:"data"`
}

func (m *Module) applyAttach(tx *store.Tx, cmd *store.Command) (any, error) {
	var p attachPayload
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return nil, store.Errorf("invalid", "payload: %v", err)
	}
	sum := sha256.Sum256(p.Data)
	if hex.EncodeToString(sum[:]) != p.SHA || len(p.Data) == 0 {
		return nil, store.Errorf("invalid", "attachment checksum mismatch")
	}
	if _, err := tx.Exec(`INSERT INTO cases_blob(sha256, mime, size, data) VALUES(?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING`,
		p.SHA, p.MIME, len(p.Data), p.Data); err != nil {
		return nil, err
	}
	a := Attachment{SHA256: p.SHA, MIME: p.MIME, Size: int64(len(p.Data)), Name: p.Name, Phase: p.Phase, UploadedBy: tx.Actor(), CreatedAt: tx.Now()}
	res, err := tx.Exec(`INSERT INTO cases_attachment(sha256, mime, size, name, phase, uploaded_by, created_at) VALUES(?, ?, ?, ?, ?, ?, ?)`,
		a.SHA256, a.MIME, a.Size, a.Name, a.Phase, a.UploadedBy, dbt(a.CreatedAt))
	if err != nil {
		return nil, err
	}
	a.ID, _ = res.LastInsertId()
	return &a, nil
}

// ---- configuration ----

func (m *Module) applyRuleSet(tx *store.Tx, cmd *store.Command) (any, error) {
	var r Rule
	if err := json.Unmarshal(cmd.Payload, &r); err != nil {
		return nil, store.Errorf("invalid", "payload: %v", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if r.CategoryCode != "" {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM cases_category WHERE code = ?`, r.CategoryCode).Scan(&n); err != nil || n == 0 {
			return nil, invalidField("category_code", "unknown category")
		}
	}
	err := tx.QueryRow(`INSERT INTO cases_rule(category_code, grid_prefix, dept_id, note) VALUES(?, ?, ?, ?)
		ON CONFLICT(category_code, grid_prefix) DO UPDATE SET dept_id = excluded.dept_id, note = excluded.note RETURNING id`,
		r.CategoryCode, r.GridPrefix, r.DeptID, r.Note).Scan(&r.ID)
	return &r, err
}

func (m *Module) applyRuleDelete(tx *store.Tx, cmd *store.Command) (any, error) {
	var p struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return nil, store.Errorf("invalid", "payload: %v", err)
	}
	res, err := tx.Exec(`DELETE FROM cases_rule WHERE id = ?`, p.ID)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil, store.Errorf("not_found", "rule %d not found", p.ID)
	}
	return map[string]int64{"id": p.ID}, nil
}

func (m *Module) applySettingsSet(tx *store.Tx, cmd *store.Command) (any, error) {
	var s Settings
	if err := json.Unmarshal(cmd.Payload, &s); err != nil {
		return nil, store.Errorf("invalid", "payload: %v", err)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(&s)
	_, err := tx.Exec(`INSERT INTO cases_setting(id, body) VALUES(1, ?) ON CONFLICT(id) DO UPDATE SET body = excluded.body`, string(b))
	return &s, err
}

// CategoryInput creates or replaces a category (and, for a 小类, its
// conditions).
type CategoryInput struct {
	Code       string      `json:"code"`
	ParentCode string      `json:"parent_code,omitempty"`
	Kind       string      `json:"kind"`
	Name       string      `json:"name"`
	Disabled   bool        `json:"disabled,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *CategoryInput) Validate() error {
	var v httpapi.Validator
	v.Text("code", in.Code, 2, 16)
	v.Text("parent_code", in.ParentCode, 0, 16)
	v.OneOf("kind", in.Kind, KindComponent, KindEvent)
	v.Text("name", in.Name, 1, 64)
	v.Check(in.ParentCode != "" || len(in.Conditions) == 0, "conditions", "only a 小类 has 立案条件")
	v.Check(len(in.Conditions) <= 20, "conditions", "at most 20")
	for i, c := range in.Conditions {
		f := fmt.Sprintf("conditions[%d]", i)
		v.Text(f+".text", c.Text, 1, 200)
		v.Text(f+".close_text", c.CloseText, 1, 200)
		if msg := c.Limit.Check(); msg != "" {
			v.Add(f+".limit", msg)
		}
	}
	return v.Err()
}

func (m *Module) applyCategorySet(tx *store.Tx, cmd *store.Command) (any, error) {
	var in CategoryInput
	if err := json.Unmarshal(cmd.Payload, &in); err != nil {
		return nil, store.Errorf("invalid", "payload: %v", err)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	level := 1
	if in.ParentCode != "" {
		level = 2
		var kind string
		var plevel int
		err := tx.QueryRow(`SELECT kind, level FROM cases_category WHERE code = ?`, in.ParentCode).Scan(&kind, &plevel)
		if err != nil || plevel != 1 || kind != in.Kind {
			return nil, invalidField("parent_code", "must be a 大类 of the same kind")
		}
	}
	if _, err := tx.Exec(`INSERT INTO cases_category(code, parent_code, kind, level, name, disabled) VALUES(?, ?, ?, ?, ?, ?)
		ON CONFLICT(code) DO UPDATE SET name = excluded.name, disabled = excluded.disabled`,
		in.Code, in.ParentCode, in.Kind, level, in.Name, b2i(in.Disabled)); err != nil {
		return nil, err
	}
	if level == 2 && len(in.Conditions) > 0 {
		// Conditions with an id are updated (cases keep pointing at them),
		// new ones added; conditions left out stay (cases may use them).
		for i, c := range in.Conditions {
			if c.ID != 0 {
				res, err := tx.Exec(`UPDATE cases_condition SET text = ?, limit_value = ?, limit_unit = ?, close_text = ?, sort = ? WHERE id = ? AND category_code = ?`,
					c.Text, c.Limit.Value, string(c.Limit.Unit), c.CloseText, i, c.ID, in.Code)
				if err != nil {
					return nil, err
				}
				if n, _ := res.RowsAffected(); n == 0 {
					return nil, invalidField(fmt.Sprintf("conditions[%d].id", i), "not a condition of this category")
				}
				continue
			}
			if _, err := tx.Exec(`INSERT INTO cases_condition(category_code, text, limit_value, limit_unit, close_text, sort) VALUES(?, ?, ?, ?, ?, ?)`,
				in.Code, c.Text, c.Limit.Value, string(c.Limit.Unit), c.CloseText, i); err != nil {
				return nil, err
			}
		}
	}
	return map[string]string{"code": in.Code}, nil
}
