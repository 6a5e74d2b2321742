package projects

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

func decode(cmd *store.Command, v any) error {
	if err := json.Unmarshal(cmd.Payload, v); err != nil {
		return store.Errorf("invalid", "%s: %v", cmd.Type, err)
	}
	return nil
}

type createPayload struct {
	ProjectInput
	DeptName string `json:"dept_name"`
	LeadID   int64  `json:"lead_id,omitempty"`
}

func (m *Module) insertProject(tx *store.Tx, in createPayload) (int64, error) {
	if f := in.Check(); f != nil {
		return 0, &store.Error{Code: "invalid", Message: "invalid project: " + fieldsText(f), Fields: f}
	}
	if in.Code == "" {
		var next int64
		if err := tx.QueryRow(`SELECT COALESCE(MAX(id), 0) + 1 FROM projects_project`).Scan(&next); err != nil {
			return 0, err
		}
		in.Code = fmt.Sprintf("XM%d%05d", tx.Now().In(sla.China).Year(), next)
	}
	var dup int
	_ = tx.QueryRow(`SELECT COUNT(*) FROM projects_project WHERE code = ?`, in.Code).Scan(&dup)
	if dup > 0 {
		return 0, &store.Error{Code: "conflict", Message: "project code " + in.Code + " already exists", Fields: map[string]string{"code": "already exists"}}
	}
	t := now(tx)
	res, err := tx.Exec(`INSERT INTO projects_project(code, name, type, industry, grid_code, address, lat, lng, content, total_investment,
		dept_id, dept_name, owner_name, leader_name, plan_start, plan_finish, stage, lead_id, created_by, created_at, updated_at)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		in.Code, in.Name, in.Type, in.Industry, in.GridCode, in.Address, in.Lat, in.Lng, in.Content, in.TotalInvestment,
		in.DeptID, in.DeptName, in.OwnerName, in.LeaderName, in.PlanStart, in.PlanFinish, StagePlanning, in.LeadID, actorUser(tx.Actor()), t, t)
	if err != nil {
		return 0, err
	}
	id, _ := res.LastInsertId()
	return id, m.logStage(tx, id, "", StagePlanning, "")
}

func (m *Module) logStage(tx *store.Tx, id int64, from, to, reason string) error {
	_, err := tx.Exec(`INSERT INTO projects_stage_log(project_id, from_stage, to_stage, reason, actor, at) VALUES(?,?,?,?,?,?)`, id, from, to, reason, tx.Actor(), now(tx))
	return err
}

func (m *Module) applyCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in createPayload
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	id, err := m.insertProject(tx, in)
	if err != nil {
		return nil, err
	}
	return getProject(context.Background(), tx, id)
}

type updatePayload struct {
	ID int64 `json:"id"`
	ProjectInput
	DeptName string `json:"dept_name"`
}

func (m *Module) applyUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in updatePayload
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	p, err := getProject(context.Background(), tx, in.ID)
	if err != nil {
		return nil, err
	}
	if in.Code == "" {
		in.Code = p.Code
	}
	if f := in.Check(); f != nil {
		return nil, &store.Error{Code: "invalid", Message: "invalid project: " + fieldsText(f), Fields: f}
	}
	var dup int
	_ = tx.QueryRow(`SELECT COUNT(*) FROM projects_project WHERE code = ? AND id <> ?`, in.Code, in.ID).Scan(&dup)
	if dup > 0 {
		return nil, &store.Error{Code: "conflict", Message: "project code " + in.Code + " already exists", Fields: map[string]string{"code": "already exists"}}
	}
	_, err = tx.Exec(`UPDATE projects_project SET code=?, name=?, type=?, industry=?, grid_code=?, address=?, lat=?, lng=?, content=?,
		total_investment=?, dept_id=?, dept_name=?, owner_name=?, leader_name=?, plan_start=?, plan_finish=?, updated_at=? WHERE id=?`,
		in.Code, in.Name, in.Type, in.Industry, in.GridCode, in.Address, in.Lat, in.Lng, in.Content, in.TotalInvestment,
		in.DeptID, in.DeptName, in.OwnerName, in.LeaderName, in.PlanStart, in.PlanFinish, now(tx), in.ID)
	if err != nil {
		return nil, err
	}
	return getProject(context.Background(), tx, in.ID)
}

func allowedFrom(p *Project) []string {
	var out []string
	if t, ok := reviewed[p.Stage]; ok && p.ReviewTarget == "" {
		out = append(out, "submit:"+t)
	}
	out = append(out, direct[p.Stage]...)
	if p.Stage != StageWithdrawn && p.Stage != StageOperating {
		out = append(out, StageWithdrawn)
	}
	return out
}

func illegal(p *Project, what string) error {
	return &store.Error{Code: "conflict", Message: fmt.Sprintf("project %d is in stage %s: %s is not allowed", p.ID, p.Stage, what), Allowed: allowedFrom(p)}
}

// SubmitInput asks for review of the next reviewed stage.
type SubmitInput struct {
	ID      int64  `json:"id,omitempty"`
	Target  string `json:"target" doc:"储备 or 开工 (entering 实施)"`
	Comment string `json:"comment,omitempty"`
}

func (m *Module) applySubmit(tx *store.Tx, cmd *store.Command) (any, error) {
	var in SubmitInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	p, err := getProject(context.Background(), tx, in.ID)
	if err != nil {
		return nil, err
	}
	if reviewed[p.Stage] != in.Target || p.ReviewTarget != "" {
		return nil, illegal(p, "submitting for "+in.Target)
	}
	if _, err := tx.Exec(`UPDATE projects_project SET review_target=?, review_level=0, review_by='', updated_at=? WHERE id=?`, in.Target, now(tx), in.ID); err != nil {
		return nil, err
	}
	return getProject(context.Background(), tx, in.ID)
}

// ReviewInput is one level of the two-level review.
type ReviewInput struct {
	ID      int64  `json:"id,omitempty"`
	Approve bool   `json:"approve"`
	Comment string `json:"comment,omitempty"`
}

func (m *Module) applyReview(tx *store.Tx, cmd *store.Command) (any, error) {
	var in ReviewInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	ctx := context.Background()
	p, err := getProject(ctx, tx, in.ID)
	if err != nil {
		return nil, err
	}
	if p.ReviewTarget == "" {
		return nil, illegal(p, "review without a submission")
	}
	var by string
	_ = tx.QueryRow(`SELECT review_by FROM projects_project WHERE id = ?`, in.ID).Scan(&by)
	level := p.ReviewLevel + 1
	if level == 2 && by == tx.Actor() {
		return nil, store.Errorf("conflict", "复审 must be done by someone other than the 初审 reviewer")
	}
	if !in.Approve && strings.TrimSpace(in.Comment) == "" {
		return nil, &store.Error{Code: "invalid", Message: "comment: a rejection needs a reason", Fields: map[string]string{"comment": "is required when rejecting"}}
	}
	if _, err := tx.Exec(`INSERT INTO projects_review(project_id, target, level, approve, comment, actor, at) VALUES(?,?,?,?,?,?,?)`,
		in.ID, p.ReviewTarget, level, in.Approve, in.Comment, tx.Actor(), now(tx)); err != nil {
		return nil, err
	}
	switch {
	case !in.Approve:
		_, err = tx.Exec(`UPDATE projects_project SET review_target='', review_level=0, review_by='', updated_at=? WHERE id=?`, now(tx), in.ID)
	case level == 1:
		_, err = tx.Exec(`UPDATE projects_project SET review_level=1, review_by=?, updated_at=? WHERE id=?`, tx.Actor(), now(tx), in.ID)
	default:
		_, err = tx.Exec(`UPDATE projects_project SET stage=?, review_target='', review_level=0, review_by='', updated_at=? WHERE id=?`, p.ReviewTarget, now(tx), in.ID)
		if err == nil {
			err = m.logStage(tx, in.ID, p.Stage, p.ReviewTarget, "两级审核通过")
		}
	}
	if err != nil {
		return nil, err
	}
	return getProject(ctx, tx, in.ID)
}

// TransitionInput moves a project along the unreviewed part of the lifecycle.
type TransitionInput struct {
	ID     int64  `json:"id,omitempty"`
	To     string `json:"to"`
	Reason string `json:"reason,omitempty" doc:"required for 退库"`
}

func (m *Module) applyTransition(tx *store.Tx, cmd *store.Command) (any, error) {
	var in TransitionInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	p, err := getProject(context.Background(), tx, in.ID)
	if err != nil {
		return nil, err
	}
	allowed := allowedFrom(p)
	if !slices.Contains(allowed, in.To) {
		return nil, illegal(p, "moving to "+in.To)
	}
	if in.To == StageWithdrawn && strings.TrimSpace(in.Reason) == "" {
		return nil, &store.Error{Code: "invalid", Message: "reason: 退库 needs a reason", Fields: map[string]string{"reason": "is required"}}
	}
	if _, err := tx.Exec(`UPDATE projects_project SET stage=?, review_target='', review_level=0, updated_at=? WHERE id=?`, in.To, now(tx), in.ID); err != nil {
		return nil, err
	}
	if err := m.logStage(tx, in.ID, p.Stage, in.To, in.Reason); err != nil {
		return nil, err
	}
	return getProject(context.Background(), tx, in.ID)
}

// PlanInput is a year's planned investment split by month (万元).
type PlanInput struct {
	ID     int64       `json:"id,omitempty"`
	Year   int         `json:"year"`
	Months [12]float64 `json:"months"`
}

// Validate implements httpapi.Validatable.
func (in *PlanInput) Validate() error {
	if in.Year < 2000 || in.Year > 2100 {
		return &store.Error{Code: "invalid", Message: "year: must be between 2000 and 2100", Fields: map[string]string{"year": "must be between 2000 and 2100"}}
	}
	for i, v := range in.Months {
		if v < 0 || v > 1e9 || math.IsNaN(v) {
			return &store.Error{Code: "invalid", Message: fmt.Sprintf("months[%d]: must be between 0 and 1e9", i), Fields: map[string]string{"months": "must be between 0 and 1e9"}}
		}
	}
	return nil
}

func (m *Module) applyPlanSet(tx *store.Tx, cmd *store.Command) (any, error) {
	var in PlanInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if _, err := getProject(context.Background(), tx, in.ID); err != nil {
		return nil, err
	}
	for i, v := range in.Months {
		if _, err := tx.Exec(`INSERT INTO projects_plan(project_id, year, month, amount) VALUES(?,?,?,?)
			ON CONFLICT(project_id, year, month) DO UPDATE SET amount = excluded.amount`, in.ID, in.Year, i+1, v); err != nil {
			return nil, err
		}
	}
	return m.recompute(tx, in.ID)
}

// ReportInput is a monthly report of completed investment (万元, that month).
type ReportInput struct {
	ID     int64   `json:"id,omitempty"`
	Year   int     `json:"year"`
	Month  int     `json:"month"`
	Amount float64 `json:"amount"`
	Note   string  `json:"note,omitempty"`
}

// Check validates the report.
func (in *ReportInput) Check() map[string]string {
	f := map[string]string{}
	if in.Year < 2000 || in.Year > 2100 {
		f["year"] = "must be between 2000 and 2100"
	}
	if in.Month < 1 || in.Month > 12 {
		f["month"] = "must be 1..12"
	}
	if in.Amount < 0 || in.Amount > 1e9 || math.IsNaN(in.Amount) {
		f["amount"] = "must be between 0 and 1e9 (万元)"
	}
	if len([]rune(in.Note)) > 1000 {
		f["note"] = "must be at most 1000 characters"
	}
	if len(f) == 0 {
		return nil
	}
	return f
}

// Validate implements httpapi.Validatable.
func (in *ReportInput) Validate() error {
	if f := in.Check(); f != nil {
		return &store.Error{Code: "invalid", Message: "invalid report: " + fieldsText(f), Fields: f}
	}
	return nil
}

func (m *Module) applyReport(tx *store.Tx, cmd *store.Command) (any, error) {
	var in ReportInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if _, err := getProject(context.Background(), tx, in.ID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`INSERT INTO projects_report(project_id, year, month, amount, note, actor, at) VALUES(?,?,?,?,?,?,?)
		ON CONFLICT(project_id, year, month) DO UPDATE SET amount=excluded.amount, note=excluded.note, actor=excluded.actor, at=excluded.at`,
		in.ID, in.Year, in.Month, in.Amount, in.Note, tx.Actor(), now(tx)); err != nil {
		return nil, err
	}
	return m.recompute(tx, in.ID)
}

// MilestoneInput creates (MilestoneID 0) or updates a milestone.
type MilestoneInput struct {
	ID            int64  `json:"id,omitempty"`
	MilestoneID   int64  `json:"milestone_id,omitempty"`
	Name          string `json:"name"`
	PlannedStart  string `json:"planned_start"`
	PlannedFinish string `json:"planned_finish"`
	ActualStart   string `json:"actual_start,omitempty"`
	ActualFinish  string `json:"actual_finish,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *MilestoneInput) Validate() error {
	f := map[string]string{}
	if n := len([]rune(strings.TrimSpace(in.Name))); n == 0 || n > 100 {
		f["name"] = "is required (at most 100 characters)"
	}
	for k, v := range map[string]string{"planned_start": in.PlannedStart, "planned_finish": in.PlannedFinish} {
		if !validDate(v) {
			f[k] = "must be YYYY-MM-DD"
		}
	}
	for k, v := range map[string]string{"actual_start": in.ActualStart, "actual_finish": in.ActualFinish} {
		if v != "" && !validDate(v) {
			f[k] = "must be YYYY-MM-DD"
		}
	}
	if len(f) == 0 && in.PlannedFinish < in.PlannedStart {
		f["planned_finish"] = "must not be before planned_start"
	}
	if len(f) > 0 {
		return &store.Error{Code: "invalid", Message: "invalid milestone: " + fieldsText(f), Fields: f}
	}
	return nil
}

func (m *Module) applyMilestoneSet(tx *store.Tx, cmd *store.Command) (any, error) {
	var in MilestoneInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if _, err := getProject(context.Background(), tx, in.ID); err != nil {
		return nil, err
	}
	if in.MilestoneID == 0 {
		_, err := tx.Exec(`INSERT INTO projects_milestone(project_id, name, planned_start, planned_finish, actual_start, actual_finish) VALUES(?,?,?,?,?,?)`,
			in.ID, in.Name, in.PlannedStart, in.PlannedFinish, in.ActualStart, in.ActualFinish)
		if err != nil {
			return nil, err
		}
	} else {
		res, err := tx.Exec(`UPDATE projects_milestone SET name=?, planned_start=?, planned_finish=?, actual_start=?, actual_finish=? WHERE id=? AND project_id=?`,
			in.Name, in.PlannedStart, in.PlannedFinish, in.ActualStart, in.ActualFinish, in.MilestoneID, in.ID)
		if err != nil {
			return nil, err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil, store.Errorf("not_found", "milestone %d not found in project %d", in.MilestoneID, in.ID)
		}
	}
	return m.recompute(tx, in.ID)
}

// Photo is one 形象进度 photo (data is base64 in JSON).
type Photo struct {
	Name string `json:"name"`
	Data []byte `json:"data" doc:"base64 JPEG or PNG"`
}

// ProgressInput is one 形象进度 report.
type ProgressInput struct {
	ID          int64   `json:"id,omitempty"`
	Period      string  `json:"period" doc:"e.g. 2026-05 or 2026-W19"`
	Description string  `json:"description"`
	Photos      []Photo `json:"photos,omitempty"`
}

func (m *Module) checkProgress(in *ProgressInput) error {
	f := map[string]string{}
	if n := len([]rune(in.Period)); n == 0 || n > 20 {
		f["period"] = "is required (at most 20 characters)"
	}
	if n := len([]rune(in.Description)); n == 0 || n > 4000 {
		f["description"] = "is required (at most 4000 characters)"
	}
	if len(in.Photos) > 9 {
		f["photos"] = "at most 9 photos"
	}
	for i, ph := range in.Photos {
		key := fmt.Sprintf("photos[%d]", i)
		switch {
		case len(ph.Data) == 0:
			f[key] = "is empty"
		case len(ph.Data) > m.opts.MaxPhoto:
			f[key] = fmt.Sprintf("is %d bytes, larger than the limit of %d", len(ph.Data), m.opts.MaxPhoto)
		default:
			if ct := http.DetectContentType(ph.Data); ct != "image/jpeg" && ct != "image/png" {
				f[key] = "must be a JPEG or PNG image, got " + ct
			}
		}
	}
	if len(f) > 0 {
		return &store.Error{Code: "invalid", Message: "invalid progress report: " + fieldsText(f), Fields: f}
	}
	return nil
}

func (m *Module) applyProgressAdd(tx *store.Tx, cmd *store.Command) (any, error) {
	var in ProgressInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := m.checkProgress(&in); err != nil {
		return nil, err
	}
	if _, err := getProject(context.Background(), tx, in.ID); err != nil {
		return nil, err
	}
	res, err := tx.Exec(`INSERT INTO projects_progress(project_id, period, description, actor, at) VALUES(?,?,?,?,?)`, in.ID, in.Period, in.Description, tx.Actor(), now(tx))
	if err != nil {
		return nil, err
	}
	pid, _ := res.LastInsertId()
	for _, ph := range in.Photos {
		if _, err := tx.Exec(`INSERT INTO projects_photo(progress_id, name, type, size, data) VALUES(?,?,?,?,?)`, pid, ph.Name, http.DetectContentType(ph.Data), len(ph.Data), ph.Data); err != nil {
			return nil, err
		}
	}
	return map[string]int64{"id": pid}, nil
}

// IssueInput raises a problem-list issue (交办).
type IssueInput struct {
	ProjectID   int64     `json:"project_id,omitempty"`
	Title       string    `json:"title"`
	Description string    `json:"description,omitempty"`
	DeptID      int64     `json:"dept_id" doc:"owner department"`
	Limit       sla.Limit `json:"limit" doc:"time limit, e.g. {\"value\":5,\"unit\":\"work_days\"}"`
	DeptName    string    `json:"dept_name,omitempty" doc:"filled by the server"`
	UrgeRatio   float64   `json:"urge_ratio,omitempty" doc:"filled by the server"`
}

// Validate implements httpapi.Validatable.
func (in *IssueInput) Validate() error {
	f := map[string]string{}
	if n := len([]rune(strings.TrimSpace(in.Title))); n == 0 || n > 200 {
		f["title"] = "is required (at most 200 characters)"
	}
	if len([]rune(in.Description)) > 4000 {
		f["description"] = "must be at most 4000 characters"
	}
	if in.DeptID <= 0 {
		f["dept_id"] = "is required"
	}
	if msg := in.Limit.Check(); msg != "" {
		f["limit"] = msg
	}
	if len(f) > 0 {
		return &store.Error{Code: "invalid", Message: "invalid issue: " + fieldsText(f), Fields: f}
	}
	return nil
}

func (m *Module) applyIssueCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in IssueInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	ctx := context.Background()
	if _, err := getProject(ctx, tx, in.ProjectID); err != nil {
		return nil, err
	}
	cal, err := sla.LoadCalendar(ctx, tx)
	if err != nil {
		return nil, err
	}
	ratio := in.UrgeRatio
	if ratio <= 0 || ratio >= 1 {
		ratio = 0.8
	}
	start := tx.Now()
	deadline := cal.Deadline(start, in.Limit)
	urgeAt := cal.At(start, deadline, in.Limit.Unit, ratio)
	t := now(tx)
	res, err := tx.Exec(`INSERT INTO projects_issue(project_id, title, description, dept_id, dept_name, level, status, unit, start_at, urge_at, deadline, created_at)
		VALUES(?,?,?,?,?,?,?,?,?,?,?,?)`, in.ProjectID, in.Title, in.Description, in.DeptID, in.DeptName, LevelAssign, IssueOpen, string(in.Limit.Unit),
		t, httpapi.FormatDBTime(urgeAt), httpapi.FormatDBTime(deadline), t)
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	if err := logIssue(tx, id, LevelAssign, fmt.Sprintf("交办 %s，时限 %s，截止 %s", in.DeptName, in.Limit, deadline.In(sla.China).Format("2006-01-02 15:04"))); err != nil {
		return nil, err
	}
	if _, err := m.recompute(tx, in.ProjectID); err != nil {
		return nil, err
	}
	return getIssue(ctx, tx, id)
}

func logIssue(tx *store.Tx, id int64, action, note string) error {
	_, err := tx.Exec(`INSERT INTO projects_issue_log(issue_id, action, note, actor, at) VALUES(?,?,?,?,?)`, id, action, note, tx.Actor(), now(tx))
	return err
}

// IssueAction is a manual step on an issue.
type IssueAction struct {
	IssueID int64  `json:"issue_id,omitempty"`
	Action  string `json:"action" doc:"催办, 督办, 督查 or 办结"`
	Note    string `json:"note,omitempty"`
	Result  string `json:"result,omitempty" doc:"required for 办结"`
}

var issueLevelRank = map[string]int{LevelAssign: 0, LevelUrge: 1, LevelSupervise: 2, LevelInspect: 3}

func (m *Module) applyIssueAct(tx *store.Tx, cmd *store.Command) (any, error) {
	var in IssueAction
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	ctx := context.Background()
	is, err := getIssue(ctx, tx, in.IssueID)
	if err != nil {
		return nil, err
	}
	if is.Status != IssueOpen {
		return nil, &store.Error{Code: "conflict", Message: fmt.Sprintf("issue %d is closed", is.ID), Allowed: []string{}}
	}
	if len([]rune(in.Note)) > 2000 || len([]rune(in.Result)) > 2000 {
		return nil, store.Errorf("invalid", "note and result must be at most 2000 characters")
	}
	switch in.Action {
	case "办结":
		if strings.TrimSpace(in.Result) == "" {
			return nil, &store.Error{Code: "invalid", Message: "result: 办结 needs a result", Fields: map[string]string{"result": "is required"}}
		}
		_, err = tx.Exec(`UPDATE projects_issue SET status=?, result=?, closed_at=? WHERE id=?`, IssueClosed, in.Result, now(tx), is.ID)
	case LevelUrge, LevelSupervise, LevelInspect:
		if issueLevelRank[in.Action] < issueLevelRank[is.Level] {
			return nil, &store.Error{Code: "conflict", Message: fmt.Sprintf("issue %d is already at %s", is.ID, is.Level), Allowed: issueAllowed(is.Level)}
		}
		_, err = tx.Exec(`UPDATE projects_issue SET level=? WHERE id=?`, in.Action, is.ID)
	default:
		return nil, &store.Error{Code: "conflict", Message: "unknown action " + in.Action, Allowed: issueAllowed(is.Level)}
	}
	if err != nil {
		return nil, err
	}
	note := in.Note
	if in.Action == "办结" {
		note = strings.TrimSpace(in.Result + " " + in.Note)
	}
	if err := logIssue(tx, is.ID, in.Action, note); err != nil {
		return nil, err
	}
	if _, err := m.recompute(tx, is.ProjectID); err != nil {
		return nil, err
	}
	return getIssue(ctx, tx, is.ID)
}

func issueAllowed(level string) []string {
	out := []string{}
	for _, l := range []string{LevelUrge, LevelSupervise, LevelInspect} {
		if issueLevelRank[l] >= issueLevelRank[level] {
			out = append(out, l)
		}
	}
	return append(out, "办结")
}

type escalatePayload struct {
	IssueID int64  `json:"issue_id"`
	Level   string `json:"level"`
	Round   int    `json:"round"`
}

func (m *Module) applyIssueEscalate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in escalatePayload
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	ctx := context.Background()
	is, err := getIssue(ctx, tx, in.IssueID)
	if err != nil {
		return nil, err
	}
	if is.Status != IssueOpen {
		return map[string]bool{"skipped": true}, nil
	}
	switch sla.Level(in.Level) {
	case sla.Urge:
		level := is.Level
		if issueLevelRank[level] < issueLevelRank[LevelUrge] {
			level = LevelUrge
		}
		_, err = tx.Exec(`UPDATE projects_issue SET urged=1, level=? WHERE id=?`, level, is.ID)
		if err == nil {
			err = logIssue(tx, is.ID, LevelUrge, "临近办理时限，系统自动催办")
		}
	case sla.Supervise:
		level := is.Level
		if issueLevelRank[level] < issueLevelRank[LevelSupervise] {
			level = LevelSupervise
		}
		_, err = tx.Exec(`UPDATE projects_issue SET urged=1, supervised=1, level=? WHERE id=?`, level, is.ID)
		if err == nil {
			err = logIssue(tx, is.ID, LevelSupervise, "超过办理时限，系统自动督办")
		}
	default:
		return nil, store.Errorf("invalid", "unknown escalation level %q", in.Level)
	}
	if err != nil {
		return nil, err
	}
	if _, err := m.recompute(tx, is.ProjectID); err != nil {
		return nil, err
	}
	return getIssue(ctx, tx, is.ID)
}

// SuspensionInput records a 停工 or 复工.
type SuspensionInput struct {
	ID     int64  `json:"id,omitempty"`
	Kind   string `json:"kind" doc:"停工 or 复工"`
	Date   string `json:"date" doc:"YYYY-MM-DD"`
	Reason string `json:"reason"`
}

func (m *Module) applySuspension(tx *store.Tx, cmd *store.Command) (any, error) {
	var in SuspensionInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if !validDate(in.Date) || strings.TrimSpace(in.Reason) == "" || len([]rune(in.Reason)) > 1000 {
		return nil, &store.Error{Code: "invalid", Message: "date (YYYY-MM-DD) and reason are required", Fields: map[string]string{"date": "YYYY-MM-DD", "reason": "is required"}}
	}
	p, err := getProject(context.Background(), tx, in.ID)
	if err != nil {
		return nil, err
	}
	switch {
	case in.Kind == "停工" && !p.Suspended, in.Kind == "复工" && p.Suspended:
	default:
		allowed := []string{"停工"}
		if p.Suspended {
			allowed = []string{"复工"}
		}
		return nil, &store.Error{Code: "conflict", Message: fmt.Sprintf("project %d: %s is not allowed now", p.ID, in.Kind), Allowed: allowed}
	}
	if _, err := tx.Exec(`INSERT INTO projects_suspension(project_id, kind, date, reason, actor, at) VALUES(?,?,?,?,?,?)`, in.ID, in.Kind, in.Date, in.Reason, tx.Actor(), now(tx)); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`UPDATE projects_project SET suspended=?, updated_at=? WHERE id=?`, in.Kind == "停工", now(tx), in.ID); err != nil {
		return nil, err
	}
	return getProject(context.Background(), tx, in.ID)
}

func (m *Module) applyRulesSet(tx *store.Tx, cmd *store.Command) (any, error) {
	var r Rules
	if err := decode(cmd, &r); err != nil {
		return nil, err
	}
	if msg := r.Check(); msg != "" {
		return nil, store.Errorf("invalid", "%s", msg)
	}
	body, _ := json.Marshal(r)
	if _, err := tx.Exec(`INSERT INTO projects_rules(id, body) VALUES(1, ?) ON CONFLICT(id) DO UPDATE SET body=excluded.body`, string(body)); err != nil {
		return nil, err
	}
	if _, err := m.recomputeAll(tx); err != nil {
		return nil, err
	}
	return r, nil
}

func (m *Module) applyRecompute(tx *store.Tx, cmd *store.Command) (any, error) {
	n, err := m.recomputeAll(tx)
	if err != nil {
		return nil, err
	}
	return map[string]int{"projects": n}, nil
}

func (m *Module) recomputeAll(tx *store.Tx) (int, error) {
	rows, err := tx.Query(`SELECT id FROM projects_project WHERE stage <> ? ORDER BY id`, StageWithdrawn)
	if err != nil {
		return 0, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, err := m.recompute(tx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

func loadRules(ctx context.Context, q querier) (Rules, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM projects_rules WHERE id = 1`).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultRules(), nil
	}
	if err != nil {
		return Rules{}, err
	}
	var r Rules
	return r, json.Unmarshal([]byte(body), &r)
}

// factsAt gathers the rule inputs of a project at t.
func factsAt(ctx context.Context, q querier, id int64, t time.Time) (Facts, int, float64, error) {
	var f Facts
	local := t.In(sla.China)
	year, month := local.Year(), 0
	var y, mo sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT year, month FROM projects_report WHERE project_id = ? ORDER BY year DESC, month DESC LIMIT 1`, id).Scan(&y, &mo); err == nil {
		year, month = int(y.Int64), int(mo.Int64)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return f, 0, 0, err
	}
	var yearPlan float64
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0), COALESCE(SUM(CASE WHEN month <= ? THEN amount END), 0) FROM projects_plan WHERE project_id = ? AND year = ?`,
		month, id, year).Scan(&yearPlan, &f.CumPlan); err != nil {
		return f, 0, 0, err
	}
	if err := q.QueryRowContext(ctx, `SELECT COALESCE(SUM(amount), 0) FROM projects_report WHERE project_id = ? AND year = ? AND month <= ?`, id, year, month).Scan(&f.CumDone); err != nil {
		return f, 0, 0, err
	}
	today := local.Format("2006-01-02")
	var oldest sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT MIN(planned_finish) FROM projects_milestone WHERE project_id = ? AND actual_finish = '' AND planned_finish < ?`, id, today).Scan(&oldest); err != nil {
		return f, 0, 0, err
	}
	if oldest.Valid {
		d, _ := time.ParseInLocation("2006-01-02", oldest.String, sla.China)
		td, _ := time.ParseInLocation("2006-01-02", today, sla.China)
		f.MaxMilestoneLate = int(td.Sub(d).Hours() / 24)
	}
	if err := q.QueryRowContext(ctx, `SELECT COUNT(*) FROM projects_issue WHERE project_id = ? AND status = ? AND (deadline <= ? OR supervised = 1)`, id, IssueOpen, httpapi.FormatDBTime(t)).Scan(&f.OverdueIssues); err != nil {
		return f, 0, 0, err
	}
	return f, year, yearPlan, nil
}

// recompute re-evaluates one project's status at the command's time and
// returns the project.
func (m *Module) recompute(tx *store.Tx, id int64) (*Project, error) {
	ctx := context.Background()
	rules, err := loadRules(ctx, tx)
	if err != nil {
		return nil, err
	}
	f, year, yearPlan, err := factsAt(ctx, tx, id, tx.Now())
	if err != nil {
		return nil, err
	}
	status, reasons := Evaluate(rules, f)
	rj, _ := json.Marshal(reasons)
	if _, err := tx.Exec(`UPDATE projects_project SET status=?, status_reasons=?, status_year=?, year_plan=?, cum_plan=?, cum_done=? WHERE id=?`,
		status, string(rj), year, yearPlan, f.CumPlan, f.CumDone, id); err != nil {
		return nil, err
	}
	return getProject(ctx, tx, id)
}
