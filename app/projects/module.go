package projects

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

// Finer permissions of the module.
var (
	// PermReview allows the 初审/复审 of stage changes into 储备 and 实施.
	PermReview = httpapi.DefinePermission("project.review", "审核重大项目入库与实施", httpapi.RoleAdmin, httpapi.RoleCommander, httpapi.RoleLeader)
	// PermSupervise allows 催办/督办/督查 of problem-list issues and the
	// status recompute.
	PermSupervise = httpapi.DefinePermission("project.supervise", "重大项目问题交办督办", httpapi.RoleAdmin, httpapi.RoleCommander, httpapi.RoleLeader)
)

// Command types.
const (
	CmdCreate        = "project.create"
	CmdUpdate        = "project.update"
	CmdSubmit        = "project.submit"
	CmdReview        = "project.review"
	CmdTransition    = "project.transition"
	CmdPlanSet       = "project.plan.set"
	CmdReport        = "project.report_investment"
	CmdMilestoneSet  = "project.milestone.set"
	CmdProgressAdd   = "project.progress.add"
	CmdIssueCreate   = "project.issue.create"
	CmdIssueAct      = "project.issue.act"
	CmdIssueEscalate = "project.issue.escalate"
	CmdSuspension    = "project.suspension.add"
	CmdRulesSet      = "project.rules.set"
	CmdRecompute     = "project.recompute"
	CmdImport        = "project.import"
)

// Stages of the lifecycle.
const (
	StagePlanning     = "谋划"
	StageReserve      = "储备"
	StageStart        = "开工"
	StageConstruction = "建设"
	StageCompleted    = "竣工"
	StageOperating    = "投运"
	StageWithdrawn    = "退库"
)

// Stages in lifecycle order.
var Stages = []string{StagePlanning, StageReserve, StageStart, StageConstruction, StageCompleted, StageOperating, StageWithdrawn}

// reviewed are the stages entered only through the two-level review.
var reviewed = map[string]string{StagePlanning: StageReserve, StageReserve: StageStart}

// direct are the transitions without review.
var direct = map[string][]string{
	StageStart:        {StageConstruction},
	StageConstruction: {StageCompleted},
	StageCompleted:    {StageOperating},
}

// Issue levels (问题清单 handling) and statuses.
const (
	LevelAssign    = "交办"
	LevelUrge      = "催办"
	LevelSupervise = "督办"
	LevelInspect   = "督查"
	IssueOpen      = "open"
	IssueClosed    = "closed"
	issueKind      = "project_issue"
)

// Options configure the module.
type Options struct {
	// Org resolves departments for the HTTP API (required there).
	Org *org.Module
	// SLA is the shared timer module (cases.Module.SLA()); the module
	// registers its problem-list source with it. Required.
	SLA  *sla.Module
	Logf func(string, ...any)
	// MaxPhoto is the largest progress photo accepted (default 5 MiB).
	MaxPhoto int
}

// Module is the major-projects module.
type Module struct {
	opts Options
	st   *store.Store
}

var (
	_ httpapi.Module = (*Module)(nil)
	_ sla.Source     = (*issueSource)(nil)
)

// New returns the module and registers its issue source with opts.SLA.
func New(opts Options) *Module {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.MaxPhoto <= 0 {
		opts.MaxPhoto = 5 << 20
	}
	m := &Module{opts: opts}
	if opts.SLA != nil {
		opts.SLA.AddSource(&issueSource{m: m})
	}
	return m
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "projects" }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	st.AddMigrations("projects", migrations...)
	st.Register(CmdCreate, 1, m.applyCreate)
	st.Register(CmdUpdate, 1, m.applyUpdate)
	st.Register(CmdSubmit, 1, m.applySubmit)
	st.Register(CmdReview, 1, m.applyReview)
	st.Register(CmdTransition, 1, m.applyTransition)
	st.Register(CmdPlanSet, 1, m.applyPlanSet)
	st.Register(CmdReport, 1, m.applyReport)
	st.Register(CmdMilestoneSet, 1, m.applyMilestoneSet)
	st.Register(CmdProgressAdd, 1, m.applyProgressAdd, store.NoLogPayload())
	st.Register(CmdIssueCreate, 1, m.applyIssueCreate)
	st.Register(CmdIssueAct, 1, m.applyIssueAct)
	st.Register(CmdIssueEscalate, 1, m.applyIssueEscalate)
	st.Register(CmdSuspension, 1, m.applySuspension)
	st.Register(CmdRulesSet, 1, m.applyRulesSet)
	st.Register(CmdRecompute, 1, m.applyRecompute)
	st.Register(CmdImport, 1, m.applyImport)
}

// Store is the module's store.
func (m *Module) Store() *store.Store { return m.st }

func (m *Module) apply(ctx context.Context, actor, idem, typ string, payload, out any) (store.Result, error) {
	cmd, err := store.NewCommand(typ, 1, payload)
	if err != nil {
		return store.Result{}, err
	}
	cmd.Actor, cmd.IdempotencyKey = actor, idem
	res, err := m.st.Apply(ctx, cmd)
	if err == nil && out != nil {
		err = res.Decode(out)
	}
	return res, err
}

// ---- types ----

// ProjectInput is the editable part of a project.
type ProjectInput struct {
	Code            string  `json:"code,omitempty" doc:"project code; generated (XM+year+serial) when empty"`
	Name            string  `json:"name"`
	Type            string  `json:"type,omitempty" doc:"e.g. 产业项目, 基础设施, 社会民生"`
	Industry        string  `json:"industry,omitempty"`
	GridCode        string  `json:"grid_code,omitempty"`
	Address         string  `json:"address,omitempty"`
	Lat             float64 `json:"lat,omitempty"`
	Lng             float64 `json:"lng,omitempty"`
	Content         string  `json:"content,omitempty" doc:"建设规模及内容"`
	TotalInvestment float64 `json:"total_investment" doc:"万元"`
	DeptID          int64   `json:"dept_id" doc:"责任单位"`
	OwnerName       string  `json:"owner_name,omitempty" doc:"责任人"`
	LeaderName      string  `json:"leader_name,omitempty" doc:"包联领导"`
	PlanStart       string  `json:"plan_start,omitempty" doc:"YYYY-MM-DD"`
	PlanFinish      string  `json:"plan_finish,omitempty" doc:"YYYY-MM-DD"`
}

func validDate(s string) bool {
	_, err := time.Parse("2006-01-02", s)
	return err == nil
}

// Check validates the input (also used per row by the Excel import).
func (in *ProjectInput) Check() map[string]string {
	var v httpapi.Validator
	v.Text("name", in.Name, 1, 100)
	v.Text("code", in.Code, 0, 40)
	v.Text("type", in.Type, 0, 40)
	v.Text("industry", in.Industry, 0, 40)
	v.Text("address", in.Address, 0, 200)
	v.MultilineText("content", in.Content, 4000)
	v.Text("owner_name", in.OwnerName, 0, 40)
	v.Text("leader_name", in.LeaderName, 0, 40)
	v.Check(in.TotalInvestment >= 0 && in.TotalInvestment < 1e9, "total_investment", "must be between 0 and 1e9 (万元)")
	v.Check(in.DeptID > 0, "dept_id", "is required")
	v.Check(in.Lat >= -90 && in.Lat <= 90, "lat", "must be between -90 and 90")
	v.Check(in.Lng >= -180 && in.Lng <= 180, "lng", "must be between -180 and 180")
	if in.GridCode != "" {
		for _, r := range in.GridCode {
			if r < '0' || r > '9' {
				v.Add("grid_code", "must be digits")
				break
			}
		}
	}
	v.Check(in.PlanStart == "" || validDate(in.PlanStart), "plan_start", "must be YYYY-MM-DD")
	v.Check(in.PlanFinish == "" || validDate(in.PlanFinish), "plan_finish", "must be YYYY-MM-DD")
	if in.PlanStart != "" && in.PlanFinish != "" && in.PlanFinish < in.PlanStart {
		v.Add("plan_finish", "must not be before plan_start")
	}
	if err := v.Err(); err != nil {
		return store.AsError(err).Fields
	}
	return nil
}

// Validate implements httpapi.Validatable.
func (in *ProjectInput) Validate() error {
	if f := in.Check(); f != nil {
		return &store.Error{Code: "invalid", Message: "invalid project: " + fieldsText(f), Fields: f}
	}
	return nil
}

func fieldsText(f map[string]string) string {
	var b []string
	for k, v := range f {
		b = append(b, k+" "+v)
	}
	return strings.Join(b, "; ")
}

// Project is a project as the API shows it.
type Project struct {
	ID int64 `json:"id"`
	ProjectInput
	DeptName          string   `json:"department_name"`
	Stage             string   `json:"stage"`
	ReviewTarget      string   `json:"review_target,omitempty" doc:"stage under review"`
	ReviewLevel       int      `json:"review_level" doc:"approvals so far (0, 1)"`
	Suspended         bool     `json:"suspended" doc:"停工"`
	Status            string   `json:"status" doc:"green, yellow, red"`
	StatusReasons     []string `json:"status_reasons"`
	StatusYear        int      `json:"status_year"`
	PlannedInvestment float64  `json:"planned_investment" doc:"annual plan of status_year (万元)"`
	CumPlan           float64  `json:"cum_plan"`
	CumDone           float64  `json:"cum_done"`
	Progress          float64  `json:"progress" doc:"cum_done / annual plan (0..1+)"`
	LeadID            int64    `json:"lead_id,omitempty" doc:"招商线索"`
	CreatedBy         int64    `json:"created_by"`
	CreatedAt         string   `json:"created_at"`
	UpdatedAt         string   `json:"updated_at"`
}

const projectCols = `id, code, name, type, industry, grid_code, address, lat, lng, content, total_investment,
	dept_id, dept_name, owner_name, leader_name, plan_start, plan_finish, stage, review_target, review_level,
	suspended, status, status_reasons, status_year, year_plan, cum_plan, cum_done, lead_id, created_by, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanProject(s scanner) (*Project, error) {
	var p Project
	var reasons string
	if err := s.Scan(&p.ID, &p.Code, &p.Name, &p.Type, &p.Industry, &p.GridCode, &p.Address, &p.Lat, &p.Lng, &p.Content,
		&p.TotalInvestment, &p.DeptID, &p.DeptName, &p.OwnerName, &p.LeaderName, &p.PlanStart, &p.PlanFinish, &p.Stage,
		&p.ReviewTarget, &p.ReviewLevel, &p.Suspended, &p.Status, &reasons, &p.StatusYear, &p.PlannedInvestment,
		&p.CumPlan, &p.CumDone, &p.LeadID, &p.CreatedBy, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	_ = json.Unmarshal([]byte(reasons), &p.StatusReasons)
	if p.StatusReasons == nil {
		p.StatusReasons = []string{}
	}
	if p.PlannedInvestment > 0 {
		p.Progress = round4(p.CumDone / p.PlannedInvestment)
	}
	p.CumPlan, p.CumDone, p.PlannedInvestment = round2(p.CumPlan), round2(p.CumDone), round2(p.PlannedInvestment)
	return &p, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getProject(ctx context.Context, q querier, id int64) (*Project, error) {
	p, err := scanProject(q.QueryRowContext(ctx, `SELECT `+projectCols+` FROM projects_project WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "project %d not found", id)
	}
	return p, err
}

func actorUser(actor string) int64 {
	if s, ok := strings.CutPrefix(actor, "user:"); ok {
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	return 0
}

func now(tx *store.Tx) string { return httpapi.FormatDBTime(tx.Now()) }

// ---- Go API ----

// Project returns one project.
func (m *Module) Project(ctx context.Context, id int64) (*Project, error) {
	return getProject(ctx, m.st.DB(), id)
}

// LeadProject is what the investment module passes when a signed lead
// becomes a major project.
type LeadProject struct {
	LeadID int64 `json:"lead_id"`
	ProjectInput
	DeptName string `json:"dept_name,omitempty"`
}

// CreateFromLead creates a project (stage 谋划) for a signed investment
// lead, keeping lead_id on the project. It is idempotent per lead: calling
// it again returns the project already created.
func (m *Module) CreateFromLead(ctx context.Context, actor string, in LeadProject) (*Project, error) {
	if in.LeadID <= 0 {
		return nil, store.Errorf("invalid", "lead id is required")
	}
	if in.DeptName == "" && m.opts.Org != nil && in.DeptID > 0 {
		d, err := m.opts.Org.Department(ctx, in.DeptID)
		if err != nil {
			return nil, store.Errorf("invalid", "dept_id: department %d not found", in.DeptID)
		}
		in.DeptName = d.Name
	}
	if err := in.ProjectInput.Validate(); err != nil {
		return nil, err
	}
	var p Project
	_, err := m.apply(ctx, actor, fmt.Sprintf("project-from-lead:%d", in.LeadID), CmdCreate,
		createPayload{ProjectInput: in.ProjectInput, DeptName: in.DeptName, LeadID: in.LeadID}, &p)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

// ProjectByLead returns the project created from a lead, or not_found.
func (m *Module) ProjectByLead(ctx context.Context, leadID int64) (*Project, error) {
	var id int64
	err := m.st.DB().QueryRowContext(ctx, `SELECT id FROM projects_project WHERE lead_id = ? AND lead_id <> 0`, leadID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "no project for lead %d", leadID)
	}
	if err != nil {
		return nil, err
	}
	return m.Project(ctx, id)
}

// Recompute re-evaluates every project's status at the command's time
// (leader-issued; also exposed as POST /api/v1/projects/recompute).
func (m *Module) Recompute(ctx context.Context, actor string) (int, error) {
	var n struct {
		Projects int `json:"projects"`
	}
	_, err := m.apply(ctx, actor, "", CmdRecompute, struct{}{}, &n)
	return n.Projects, err
}
