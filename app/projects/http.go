package projects

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

var listSpec = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "id", "name": "name", "code": "code", "total_investment": "total_investment", "updated_at": "updated_at", "status": "status"},
	DefaultSort: "-id",
	Search:      []string{"name", "code"},
	Tiebreak:    "id",
	Filters: map[string]httpapi.Filter{
		"stage":   {Column: "stage", Kind: httpapi.FilterIn},
		"status":  {Column: "status", Kind: httpapi.FilterIn},
		"dept_id": {Column: "dept_id", Kind: httpapi.FilterInt},
		"type":    {Column: "type"},
		"lead_id": {Column: "lead_id", Kind: httpapi.FilterInt},
	},
}

var issueListSpec = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "i.id", "deadline": "i.deadline"},
	DefaultSort: "deadline",
	Tiebreak:    "i.id",
	Extra:       []string{"overdue"},
	Filters: map[string]httpapi.Filter{
		"status":     {Column: "i.status"},
		"level":      {Column: "i.level", Kind: httpapi.FilterIn},
		"dept_id":    {Column: "i.dept_id", Kind: httpapi.FilterInt},
		"project_id": {Column: "i.project_id", Kind: httpapi.FilterInt},
	},
}

var scopeCols = httpapi.ScopeColumns{Dept: "dept_id", Grid: "grid_code", Owner: "created_by"}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	read, write := httpapi.PermProjectRead, httpapi.PermProjectWrite
	tags := []string{"projects"}
	h := func(method, path, summary, perm string, req, resp any, status int, fn httpapi.HandlerFunc, mod ...func(*httpapi.Route)) {
		rt := httpapi.Route{Method: method, Path: path, Summary: summary, Perm: perm, Tags: tags, Request: req, Response: resp, Status: status, Handler: fn}
		for _, f := range mod {
			f(&rt)
		}
		r.Handle(rt)
	}
	h("GET", "/api/v1/projects", "List major projects (q searches name and code)", read, nil, httpapi.Page[Project]{}, 0, m.list, func(rt *httpapi.Route) { rt.List = listSpec })
	h("POST", "/api/v1/projects", "Create a project (stage 谋划)", write, ProjectInput{}, Project{}, http.StatusCreated, m.create)
	h("GET", "/api/v1/projects/{id}", "A project with plan, reports, milestones, issues, reviews and logs", read, nil, Detail{}, 0, m.get)
	h("PUT", "/api/v1/projects/{id}", "Replace a project's editable fields", write, ProjectInput{}, Project{}, 0, m.update)
	h("POST", "/api/v1/projects/{id}/submit", "Submit for the two-level review into 储备 or 开工 (实施)", write, SubmitInput{}, Project{}, 0, m.projectCmd(CmdSubmit, func() any { return &SubmitInput{} }))
	h("POST", "/api/v1/projects/{id}/review", "初审 / 复审 (a different reviewer) of the pending stage change", PermReview, ReviewInput{}, Project{}, 0, m.projectCmd(CmdReview, func() any { return &ReviewInput{} }))
	h("POST", "/api/v1/projects/{id}/transition", "Move 开工→建设→竣工→投运, or 退库 (reason); illegal moves are 409 with the allowed ones", write, TransitionInput{}, Project{}, 0, m.projectCmd(CmdTransition, func() any { return &TransitionInput{} }))
	h("PUT", "/api/v1/projects/{id}/plan", "Set a year's planned investment by month (万元)", write, PlanInput{}, Project{}, 0, m.projectCmd(CmdPlanSet, func() any { return &PlanInput{} }))
	h("POST", "/api/v1/projects/{id}/reports", "Report a month's completed investment (万元); recomputes the status", write, ReportInput{}, Project{}, 0, m.projectCmd(CmdReport, func() any { return &ReportInput{} }))
	h("GET", "/api/v1/projects/{id}/reports", "Monthly plan vs completed, current and cumulative, with 完成率", read, nil, []MonthRow{}, 0, m.reports, func(rt *httpapi.Route) {
		rt.Query = []httpapi.Param{{Name: "year", Type: "integer", Description: "default: the status year"}}
	})
	h("POST", "/api/v1/projects/{id}/milestones", "Add (milestone_id 0) or update a milestone", write, MilestoneInput{}, Project{}, 0, m.projectCmd(CmdMilestoneSet, func() any { return &MilestoneInput{} }))
	h("GET", "/api/v1/projects/{id}/gantt", "Gantt data: milestones baseline vs actual", read, nil, Gantt{}, 0, m.gantt)
	h("POST", "/api/v1/projects/{id}/progress", "Add a 形象进度 report with JPEG/PNG photos (base64)", write, ProgressInput{}, nil, http.StatusCreated, m.addProgress, func(rt *httpapi.Route) { rt.MaxBody = 64 << 20 })
	h("GET", "/api/v1/projects/{id}/progress", "形象进度 reports with photo ids", read, nil, []Progress{}, 0, m.progress)
	h("GET", "/api/v1/project-photos/{id}", "A progress photo", read, nil, nil, 0, m.photo, func(rt *httpapi.Route) { rt.ResponseContentType = "image/jpeg" })
	h("POST", "/api/v1/projects/{id}/suspensions", "Record 停工 or 复工", write, SuspensionInput{}, Project{}, 0, m.projectCmd(CmdSuspension, func() any { return &SuspensionInput{} }))
	h("POST", "/api/v1/projects/{id}/issues", "Raise a problem-list issue (交办) with a time limit on the working calendar", write, IssueInput{}, Issue{}, http.StatusCreated, m.createIssue)
	h("GET", "/api/v1/project-issues", "List problem-list issues (overdue=true for open issues past deadline)", read, nil, httpapi.Page[Issue]{}, 0, m.listIssues, func(rt *httpapi.Route) {
		rt.List = issueListSpec
		rt.Query = []httpapi.Param{{Name: "overdue", Type: "boolean"}}
	})
	h("GET", "/api/v1/project-issues/{id}", "An issue with its log", read, nil, Issue{}, 0, m.getIssue)
	h("POST", "/api/v1/project-issues/{id}/actions", "催办 / 督办 / 督查 (project.supervise) or 办结 with result (project.write)", read, IssueAction{}, Issue{}, 0, m.issueAct)
	h("GET", "/api/v1/project-issues/{id}/letter", "The 交办函 or 督办函 as .docx", read, nil, nil, 0, m.letter, func(rt *httpapi.Route) {
		rt.ResponseContentType = docxType
		rt.Query = []httpapi.Param{{Name: "kind", Description: "交办 or 督办 (default from the level)"}}
	})
	h("GET", "/api/v1/project-rules", "Status rules", read, nil, Rules{}, 0, m.getRules)
	h("PUT", "/api/v1/project-rules", "Replace the status rules (recomputes every project)", PermSupervise, Rules{}, Rules{}, 0, m.setRules)
	h("POST", "/api/v1/project-recompute", "Recompute every project's status now", PermSupervise, nil, nil, 0, m.recomputeHTTP)
	h("GET", "/api/v1/project-ranking", "Ranking of 责任单位 (documented score)", read, nil, []Rank{}, 0, m.ranking)
	h("GET", "/api/v1/project-export", "Export the project list as .xlsx", read, nil, nil, 0, m.exportProjects, func(rt *httpapi.Route) { rt.ResponseContentType = xlsxType; rt.NoTimeout = true })
	h("GET", "/api/v1/project-reports/export", "Export monthly reports of a year as .xlsx", read, nil, nil, 0, m.exportReports, func(rt *httpapi.Route) {
		rt.ResponseContentType = xlsxType
		rt.Query = []httpapi.Param{{Name: "year", Type: "integer", Required: true}}
	})
	h("POST", "/api/v1/project-import", "Import projects from .xlsx: preview (default) shows every row's errors; commit=true writes all rows or none", write, nil, ImportReport{}, 0, m.importProjects, func(rt *httpapi.Route) {
		rt.RequestContentType = xlsxType
		rt.MaxBody = maxImportSize
		rt.Query = []httpapi.Param{{Name: "commit", Type: "boolean"}}
	})
}

func (m *Module) list(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	q, err := httpapi.ParseList(r, listSpec)
	if err != nil {
		return err
	}
	q.Scope(p, scopeCols)
	ctx := r.Context()
	var total int
	if err := m.st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM projects_project`+" "+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	rows, err := m.st.DB().QueryContext(ctx, `SELECT `+projectCols+` FROM projects_project`+" "+q.WhereSQL()+" "+q.OrderBy()+" "+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []Project{}
	for rows.Next() {
		pr, err := scanProject(rows)
		if err != nil {
			return err
		}
		items = append(items, *pr)
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Project]{Items: items, Total: total})
}

func (m *Module) deptName(ctx context.Context, id int64) (string, error) {
	if m.opts.Org == nil {
		return "", nil
	}
	d, err := m.opts.Org.Department(ctx, id)
	if err != nil {
		return "", httpapi.FieldError("dept_id", fmt.Sprintf("department %d not found", id))
	}
	return d.Name, nil
}

func (m *Module) create(w http.ResponseWriter, r *http.Request) error {
	var in ProjectInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if !p.InScope(in.DeptID, in.GridCode, 0) {
		return httpapi.Errorf(httpapi.CodeForbidden, "dept_id %d is outside your data scope", in.DeptID)
	}
	name, err := m.deptName(r.Context(), in.DeptID)
	if err != nil {
		return err
	}
	res, err := httpapi.Apply(r, m.st, CmdCreate, 1, createPayload{ProjectInput: in, DeptName: name})
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, res.Value)
}

// visible loads a project and checks the caller's data scope.
func (m *Module) visible(r *http.Request) (*Project, error) {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return nil, err
	}
	pr, err := m.Project(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !httpapi.MustPrincipal(r).InScope(pr.DeptID, pr.GridCode, pr.CreatedBy) {
		return nil, store.Errorf("not_found", "project %d not found", id)
	}
	return pr, nil
}

func (m *Module) update(w http.ResponseWriter, r *http.Request) error {
	pr, err := m.visible(r)
	if err != nil {
		return err
	}
	var in ProjectInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	name, err := m.deptName(r.Context(), in.DeptID)
	if err != nil {
		return err
	}
	res, err := httpapi.Apply(r, m.st, CmdUpdate, 1, updatePayload{ID: pr.ID, ProjectInput: in, DeptName: name})
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res.Value)
}

// projectCmd decodes a body whose "id" is taken from the path and applies typ.
func (m *Module) projectCmd(typ string, mk func() any) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		pr, err := m.visible(r)
		if err != nil {
			return err
		}
		in := mk()
		if err := httpapi.Decode(r, in); err != nil {
			return err
		}
		switch v := in.(type) {
		case *SubmitInput:
			v.ID = pr.ID
		case *ReviewInput:
			v.ID = pr.ID
		case *TransitionInput:
			v.ID = pr.ID
		case *PlanInput:
			v.ID = pr.ID
		case *ReportInput:
			v.ID = pr.ID
		case *MilestoneInput:
			v.ID = pr.ID
		case *SuspensionInput:
			v.ID = pr.ID
		}
		res, err := httpapi.Apply(r, m.st, typ, 1, in)
		if err != nil {
			return err
		}
		return httpapi.JSON(w, http.StatusOK, res.Value)
	}
}

// Detail is a project with everything attached.
type Detail struct {
	Project
	Reviews     []Review     `json:"reviews"`
	StageLog    []StageLog   `json:"stage_log"`
	Milestones  []Milestone  `json:"milestones"`
	Issues      []Issue      `json:"issues"`
	Suspensions []Suspension `json:"suspensions"`
	Months      []MonthRow   `json:"months" doc:"status year"`
}

// Review is one review decision.
type Review struct {
	Target  string `json:"target"`
	Level   int    `json:"level"`
	Approve bool   `json:"approve"`
	Comment string `json:"comment"`
	Actor   string `json:"actor"`
	At      string `json:"at"`
}

// StageLog is one stage change.
type StageLog struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
	At     string `json:"at"`
}

// Milestone is planned vs actual dates.
type Milestone struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	PlannedStart  string `json:"planned_start"`
	PlannedFinish string `json:"planned_finish"`
	ActualStart   string `json:"actual_start"`
	ActualFinish  string `json:"actual_finish"`
	LateDays      int    `json:"late_days" doc:"finish (actual, or today when unfinished) minus planned finish; 0 when on time"`
}

// Suspension is a 停复工 entry.
type Suspension struct {
	Kind   string `json:"kind"`
	Date   string `json:"date"`
	Reason string `json:"reason"`
	Actor  string `json:"actor"`
	At     string `json:"at"`
}

// MonthRow is one month of plan vs completed investment.
type MonthRow struct {
	Year     int     `json:"year"`
	Month    int     `json:"month"`
	Plan     float64 `json:"plan"`
	Done     float64 `json:"done"`
	CumPlan  float64 `json:"cum_plan"`
	CumDone  float64 `json:"cum_done"`
	Rate     float64 `json:"rate" doc:"完成率 = cum_done / cum_plan (0 without plan)"`
	YearRate float64 `json:"year_rate" doc:"cum_done / annual plan"`
	Reported bool    `json:"reported"`
}

func each(ctx context.Context, db *sql.DB, q string, args []any, fn func(*sql.Rows) error) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

func (m *Module) months(ctx context.Context, id int64, year int) ([]MonthRow, error) {
	out := make([]MonthRow, 12)
	var yearPlan float64
	for i := range out {
		out[i] = MonthRow{Year: year, Month: i + 1}
	}
	db := m.st.DB()
	if err := each(ctx, db, `SELECT month, amount FROM projects_plan WHERE project_id = ? AND year = ?`, []any{id, year}, func(rs *sql.Rows) error {
		var mo int
		var a float64
		if err := rs.Scan(&mo, &a); err != nil {
			return err
		}
		out[mo-1].Plan = a
		yearPlan += a
		return nil
	}); err != nil {
		return nil, err
	}
	if err := each(ctx, db, `SELECT month, amount FROM projects_report WHERE project_id = ? AND year = ?`, []any{id, year}, func(rs *sql.Rows) error {
		var mo int
		var a float64
		if err := rs.Scan(&mo, &a); err != nil {
			return err
		}
		out[mo-1].Done, out[mo-1].Reported = a, true
		return nil
	}); err != nil {
		return nil, err
	}
	var cp, cd float64
	for i := range out {
		cp += out[i].Plan
		cd += out[i].Done
		out[i].CumPlan, out[i].CumDone = round2(cp), round2(cd)
		if cp > 0 {
			out[i].Rate = round4(cd / cp)
		}
		if yearPlan > 0 {
			out[i].YearRate = round4(cd / yearPlan)
		}
	}
	return out, nil
}

func round4(x float64) float64 { return math.Round(x*10000) / 10000 }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

func (m *Module) get(w http.ResponseWriter, r *http.Request) error {
	pr, err := m.visible(r)
	if err != nil {
		return err
	}
	ctx, db := r.Context(), m.st.DB()
	d := Detail{Project: *pr, Reviews: []Review{}, StageLog: []StageLog{}, Issues: []Issue{}, Suspensions: []Suspension{}}
	if err := each(ctx, db, `SELECT target, level, approve, comment, actor, at FROM projects_review WHERE project_id = ? ORDER BY id`, []any{pr.ID}, func(rs *sql.Rows) error {
		var v Review
		d.Reviews = append(d.Reviews, v)
		x := &d.Reviews[len(d.Reviews)-1]
		return rs.Scan(&x.Target, &x.Level, &x.Approve, &x.Comment, &x.Actor, &x.At)
	}); err != nil {
		return err
	}
	if err := each(ctx, db, `SELECT from_stage, to_stage, reason, actor, at FROM projects_stage_log WHERE project_id = ? ORDER BY id`, []any{pr.ID}, func(rs *sql.Rows) error {
		var v StageLog
		if err := rs.Scan(&v.From, &v.To, &v.Reason, &v.Actor, &v.At); err != nil {
			return err
		}
		d.StageLog = append(d.StageLog, v)
		return nil
	}); err != nil {
		return err
	}
	if d.Milestones, err = m.milestones(ctx, pr.ID); err != nil {
		return err
	}
	if err := each(ctx, db, `SELECT `+issueCols+` FROM projects_issue WHERE project_id = ? ORDER BY id`, []any{pr.ID}, func(rs *sql.Rows) error {
		is, err := scanIssue(rs, time.Now())
		if err == nil {
			d.Issues = append(d.Issues, *is)
		}
		return err
	}); err != nil {
		return err
	}
	if err := each(ctx, db, `SELECT kind, date, reason, actor, at FROM projects_suspension WHERE project_id = ? ORDER BY id`, []any{pr.ID}, func(rs *sql.Rows) error {
		var v Suspension
		if err := rs.Scan(&v.Kind, &v.Date, &v.Reason, &v.Actor, &v.At); err != nil {
			return err
		}
		d.Suspensions = append(d.Suspensions, v)
		return nil
	}); err != nil {
		return err
	}
	year := pr.StatusYear
	if year == 0 {
		year = time.Now().In(sla.China).Year()
	}
	if d.Months, err = m.months(ctx, pr.ID, year); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, d)
}

func (m *Module) milestones(ctx context.Context, id int64) ([]Milestone, error) {
	out := []Milestone{}
	today := time.Now().In(sla.China).Format("2006-01-02")
	err := each(ctx, m.st.DB(), `SELECT id, name, planned_start, planned_finish, actual_start, actual_finish FROM projects_milestone WHERE project_id = ? ORDER BY planned_start, id`, []any{id}, func(rs *sql.Rows) error {
		var v Milestone
		if err := rs.Scan(&v.ID, &v.Name, &v.PlannedStart, &v.PlannedFinish, &v.ActualStart, &v.ActualFinish); err != nil {
			return err
		}
		end := v.ActualFinish
		if end == "" {
			end = today
		}
		a, _ := time.Parse("2006-01-02", end)
		b, _ := time.Parse("2006-01-02", v.PlannedFinish)
		if d := int(a.Sub(b).Hours() / 24); d > 0 {
			v.LateDays = d
		}
		out = append(out, v)
		return nil
	})
	return out, err
}

func (m *Module) reports(w http.ResponseWriter, r *http.Request) error {
	pr, err := m.visible(r)
	if err != nil {
		return err
	}
	year := pr.StatusYear
	if s := r.URL.Query().Get("year"); s != "" {
		if year, err = strconv.Atoi(s); err != nil || year < 2000 || year > 2100 {
			return httpapi.FieldError("year", "must be a year")
		}
	}
	rows, err := m.months(r.Context(), pr.ID, year)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, rows)
}

// Gantt is the data of a Gantt chart: one bar pair per milestone.
type Gantt struct {
	ProjectID  int64       `json:"project_id"`
	PlanStart  string      `json:"plan_start"`
	PlanFinish string      `json:"plan_finish"`
	Today      string      `json:"today"`
	Tasks      []GanttTask `json:"tasks"`
}

// GanttTask is a milestone's baseline and actual bars.
type GanttTask struct {
	ID       int64     `json:"id"`
	Name     string    `json:"name"`
	Baseline [2]string `json:"baseline" doc:"planned start, finish"`
	Actual   [2]string `json:"actual" doc:"actual start, finish (finish empty while running)"`
	LateDays int       `json:"late_days"`
	State    string    `json:"state" doc:"not_started, running, done, late"`
}

func (m *Module) gantt(w http.ResponseWriter, r *http.Request) error {
	pr, err := m.visible(r)
	if err != nil {
		return err
	}
	ms, err := m.milestones(r.Context(), pr.ID)
	if err != nil {
		return err
	}
	g := Gantt{ProjectID: pr.ID, PlanStart: pr.PlanStart, PlanFinish: pr.PlanFinish, Today: time.Now().In(sla.China).Format("2006-01-02"), Tasks: []GanttTask{}}
	for _, x := range ms {
		st := "not_started"
		switch {
		case x.ActualFinish != "":
			st = "done"
		case x.ActualStart != "":
			st = "running"
		}
		if x.LateDays > 0 && x.ActualFinish == "" {
			st = "late"
		}
		g.Tasks = append(g.Tasks, GanttTask{ID: x.ID, Name: x.Name, Baseline: [2]string{x.PlannedStart, x.PlannedFinish}, Actual: [2]string{x.ActualStart, x.ActualFinish}, LateDays: x.LateDays, State: st})
	}
	return httpapi.JSON(w, http.StatusOK, g)
}

func (m *Module) addProgress(w http.ResponseWriter, r *http.Request) error {
	pr, err := m.visible(r)
	if err != nil {
		return err
	}
	var in ProgressInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	in.ID = pr.ID
	if err := m.checkProgress(&in); err != nil {
		return err
	}
	res, err := httpapi.Apply(r, m.st, CmdProgressAdd, 1, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, res.Value)
}

// Progress is a 形象进度 report.
type Progress struct {
	ID          int64   `json:"id"`
	Period      string  `json:"period"`
	Description string  `json:"description"`
	Photos      []int64 `json:"photos" doc:"ids for /api/v1/project-photos/{id}"`
	Actor       string  `json:"actor"`
	At          string  `json:"at"`
}

func (m *Module) progress(w http.ResponseWriter, r *http.Request) error {
	pr, err := m.visible(r)
	if err != nil {
		return err
	}
	out := []Progress{}
	ctx := r.Context()
	if err := each(ctx, m.st.DB(), `SELECT id, period, description, actor, at FROM projects_progress WHERE project_id = ? ORDER BY id DESC`, []any{pr.ID}, func(rs *sql.Rows) error {
		var v Progress
		if err := rs.Scan(&v.ID, &v.Period, &v.Description, &v.Actor, &v.At); err != nil {
			return err
		}
		v.Photos = []int64{}
		out = append(out, v)
		return nil
	}); err != nil {
		return err
	}
	for i := range out {
		if err := each(ctx, m.st.DB(), `SELECT id FROM projects_photo WHERE progress_id = ? ORDER BY id`, []any{out[i].ID}, func(rs *sql.Rows) error {
			var id int64
			err := rs.Scan(&id)
			out[i].Photos = append(out[i].Photos, id)
			return err
		}); err != nil {
			return err
		}
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) photo(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	var typ string
	var data []byte
	var pid int64
	err = m.st.DB().QueryRowContext(r.Context(), `SELECT ph.type, ph.data, pg.project_id FROM projects_photo ph JOIN projects_progress pg ON pg.id = ph.progress_id WHERE ph.id = ?`, id).Scan(&typ, &data, &pid)
	if err != nil {
		return store.Errorf("not_found", "photo %d not found", id)
	}
	pr, err := m.Project(r.Context(), pid)
	if err != nil || !httpapi.MustPrincipal(r).InScope(pr.DeptID, pr.GridCode, pr.CreatedBy) {
		return store.Errorf("not_found", "photo %d not found", id)
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, err = w.Write(data)
	return err
}

func (m *Module) createIssue(w http.ResponseWriter, r *http.Request) error {
	pr, err := m.visible(r)
	if err != nil {
		return err
	}
	var in IssueInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	in.ProjectID = pr.ID
	if in.DeptName, err = m.deptName(r.Context(), in.DeptID); err != nil {
		return err
	}
	in.UrgeRatio = 0.8
	if m.opts.SLA != nil {
		in.UrgeRatio = m.opts.SLA.UrgeRatio()
	}
	res, err := httpapi.Apply(r, m.st, CmdIssueCreate, 1, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, res.Value)
}

func (m *Module) listIssues(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	overdue := r.URL.Query().Get("overdue")
	q, err := httpapi.ParseList(r, issueListSpec)
	if err != nil {
		return err
	}
	cond, args := p.ScopeFilter(httpapi.ScopeColumns{Dept: "p.dept_id", Grid: "p.grid_code", Owner: "p.created_by"})
	dcond, dargs := p.ScopeFilter(httpapi.ScopeColumns{Dept: "i.dept_id"})
	q.And("("+cond+" OR "+dcond+")", append(args, dargs...)...)
	switch overdue {
	case "":
	case "true", "1":
		q.And("i.status = ? AND i.deadline <= ?", IssueOpen, httpapi.FormatDBTime(time.Now()))
	case "false", "0":
		q.And("NOT (i.status = ? AND i.deadline <= ?)", IssueOpen, httpapi.FormatDBTime(time.Now()))
	default:
		return httpapi.FieldError("overdue", "must be true or false")
	}
	from := ` FROM projects_issue i JOIN projects_project p ON p.id = i.project_id`
	var total int
	if err := m.st.DB().QueryRowContext(r.Context(), `SELECT COUNT(*)`+from+" "+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	items := []Issue{}
	cols := "i.id, i.project_id, i.title, i.description, i.dept_id, i.dept_name, i.level, i.status, i.result, i.unit, i.start_at, i.urge_at, i.deadline, i.urged, i.supervised, i.created_at, i.closed_at"
	if err := each(r.Context(), m.st.DB(), `SELECT `+cols+from+" "+q.WhereSQL()+" "+q.OrderBy()+" "+q.LimitSQL(), q.Args(), func(rs *sql.Rows) error {
		is, err := scanIssue(rs, time.Now())
		if err == nil {
			items = append(items, *is)
		}
		return err
	}); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Issue]{Items: items, Total: total})
}

func (m *Module) visibleIssue(r *http.Request) (*Issue, error) {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return nil, err
	}
	is, err := m.Issue(r.Context(), id)
	if err != nil {
		return nil, err
	}
	pr, err := m.Project(r.Context(), is.ProjectID)
	if err != nil {
		return nil, err
	}
	p := httpapi.MustPrincipal(r)
	if !p.InScope(pr.DeptID, pr.GridCode, pr.CreatedBy) && !p.InDeptScope(is.DeptID) {
		return nil, store.Errorf("not_found", "issue %d not found", id)
	}
	return is, nil
}

func (m *Module) getIssue(w http.ResponseWriter, r *http.Request) error {
	is, err := m.visibleIssue(r)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, is)
}

func (m *Module) issueAct(w http.ResponseWriter, r *http.Request) error {
	is, err := m.visibleIssue(r)
	if err != nil {
		return err
	}
	var in IssueAction
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	need := PermSupervise
	if in.Action == "办结" {
		need = httpapi.PermProjectWrite
	}
	if !httpapi.MustPrincipal(r).Can(need) {
		return httpapi.Errorf(httpapi.CodeForbidden, "%s needs the permission %s", in.Action, need)
	}
	in.IssueID = is.ID
	res, err := httpapi.Apply(r, m.st, CmdIssueAct, 1, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res.Value)
}

const docxType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

func (m *Module) letter(w http.ResponseWriter, r *http.Request) error {
	is, err := m.visibleIssue(r)
	if err != nil {
		return err
	}
	b, name, err := m.Letter(r.Context(), is.ID, r.URL.Query().Get("kind"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", docxType)
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	_, err = w.Write(b)
	return err
}

func (m *Module) getRules(w http.ResponseWriter, r *http.Request) error {
	rules, err := loadRules(r.Context(), m.st.DB())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, rules)
}

func (m *Module) setRules(w http.ResponseWriter, r *http.Request) error {
	var in Rules
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if msg := in.Check(); msg != "" {
		return httpapi.Errorf(httpapi.CodeInvalid, "%s", msg)
	}
	res, err := httpapi.Apply(r, m.st, CmdRulesSet, 1, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res.Value)
}

func (m *Module) recomputeHTTP(w http.ResponseWriter, r *http.Request) error {
	res, err := httpapi.Apply(r, m.st, CmdRecompute, 1, struct{}{})
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res.Value)
}

// Rank is one 责任单位 in the ranking.
//
// Score = 100 × min(1, completed/planned investment of the year)
// − 10 × red projects − 5 × yellow projects − 3 × open overdue issues,
// averaged per project for the penalty part, so large and small units
// compare fairly. Higher is better.
type Rank struct {
	Rank          int     `json:"rank"`
	DeptID        int64   `json:"dept_id"`
	DeptName      string  `json:"department_name"`
	Projects      int     `json:"projects"`
	Green         int     `json:"green"`
	Yellow        int     `json:"yellow"`
	Red           int     `json:"red"`
	YearPlan      float64 `json:"year_plan"`
	CumDone       float64 `json:"cum_done"`
	Rate          float64 `json:"rate"`
	OverdueIssues int     `json:"overdue_issues"`
	Score         float64 `json:"score"`
}

func (m *Module) ranking(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	cond, args := p.ScopeFilter(scopeCols)
	out := []Rank{}
	ctx := r.Context()
	nowS := httpapi.FormatDBTime(time.Now())
	args = append([]any{IssueOpen, nowS, StageWithdrawn}, args...)
	err := each(ctx, m.st.DB(), `SELECT dept_id, MAX(dept_name), COUNT(*), SUM(status='green'), SUM(status='yellow'), SUM(status='red'),
		SUM(year_plan), SUM(cum_done),
		SUM((SELECT COUNT(*) FROM projects_issue i WHERE i.project_id = projects_project.id AND i.status = ? AND (i.deadline <= ? OR i.supervised = 1)))
		FROM projects_project WHERE stage <> ? AND `+cond+` GROUP BY dept_id`, args, func(rs *sql.Rows) error {
		var k Rank
		if err := rs.Scan(&k.DeptID, &k.DeptName, &k.Projects, &k.Green, &k.Yellow, &k.Red, &k.YearPlan, &k.CumDone, &k.OverdueIssues); err != nil {
			return err
		}
		if k.YearPlan > 0 {
			k.Rate = round4(k.CumDone / k.YearPlan)
		}
		k.YearPlan, k.CumDone = round2(k.YearPlan), round2(k.CumDone)
		k.Score = 100*min(1, k.Rate) - float64(10*k.Red+5*k.Yellow+3*k.OverdueIssues)/float64(max(1, k.Projects))
		k.Score = float64(int64(k.Score*100+0.5*sign(k.Score))) / 100
		out = append(out, k)
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Score != out[j].Score {
			return out[i].Score > out[j].Score
		}
		return out[i].DeptID < out[j].DeptID
	})
	for i := range out {
		out[i].Rank = i + 1
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func sign(x float64) float64 {
	if x < 0 {
		return -1
	}
	return 1
}
