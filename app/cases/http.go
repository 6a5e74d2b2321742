package cases

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

// PermAttach allows uploading photos and documents for cases.
var PermAttach = httpapi.DefinePermission("case.attach", "上传案件照片与附件", httpapi.RoleAdmin, httpapi.RoleCommander,
	httpapi.RoleOperator, httpapi.RoleHandler, httpapi.RoleGridWorker, httpapi.RoleLeader, httpapi.RoleIntegrator)

// PermConfig allows editing categories, dispatch rules and settings.
var PermConfig = httpapi.DefinePermission("case.config", "维护案件分类、权责清单与考核权重", httpapi.RoleAdmin, httpapi.RoleCommander)

var scopeCols = httpapi.ScopeColumns{Dept: "dept_id", Grid: "grid_code"}

// scopeFilter is the data-scope condition of p on cases_case: department
// tree, grid, or (for principals scoped to their own records) creator.
// Grid scopes get an equivalent range on grid_code as well (codes are
// digits), which the indexes can use where LIKE cannot.
func scopeFilter(p *httpapi.Principal) (string, []any) {
	if p != nil && p.Scope.Kind == httpapi.ScopeOwn {
		return p.ScopeFilter(httpapi.ScopeColumns{Owner: "created_by"})
	}
	cond, args := p.ScopeFilter(scopeCols)
	if p != nil && p.Scope.Kind == httpapi.ScopeGrid && p.Scope.GridPrefix != "" {
		cond = "(" + cond + " AND grid_code >= ? AND grid_code < ?)"
		args = append(args, p.Scope.GridPrefix, p.Scope.GridPrefix+":")
	}
	return cond, args
}

// actionPerm is the permission each action needs (verify/rework also for
// grid workers: 监督员核查).
var actionPerm = map[string]string{
	ActRegister: httpapi.PermCaseDispatch, ActDispatch: httpapi.PermCaseDispatch, ActReassign: httpapi.PermCaseDispatch,
	ActVoid: httpapi.PermCaseDispatch, ActMerge: httpapi.PermCaseDispatch, ActPark: httpapi.PermCaseDispatch,
	ActUnpark: httpapi.PermCaseDispatch, ActExtendApprove: httpapi.PermCaseDispatch, ActExtendReject: httpapi.PermCaseDispatch,
	ActReturn: httpapi.PermCaseHandle, ActAccept: httpapi.PermCaseHandle, ActFeedback: httpapi.PermCaseHandle,
	ActExtendRequest: httpapi.PermCaseHandle, ActVerify: httpapi.PermCaseClose, ActRework: httpapi.PermCaseClose,
	ActClose: httpapi.PermCaseClose, ActEvaluate: httpapi.PermCaseClose, ActNote: httpapi.PermCaseRead,
	ActUrge: httpapi.PermCaseAssign, ActSupervise: httpapi.PermCaseAssign,
}

func mayAct(p *httpapi.Principal, action string) bool {
	perm, ok := actionPerm[action]
	if !ok {
		return false
	}
	if p.Can(perm) {
		if action == ActNote {
			return p.Can(httpapi.PermCaseHandle) || p.Can(httpapi.PermCaseDispatch) || p.Can(httpapi.PermCaseCreate) || p.Can(httpapi.PermCaseAssign)
		}
		return true
	}
	return (action == ActVerify || action == ActRework) && p.HasRole(httpapi.RoleGridWorker) && p.Can(httpapi.PermCaseHandle)
}

// seesReporter tells whether p may see who reported a case (personal
// data): those who work cases, not viewers or integrators reading.
func seesReporter(p *httpapi.Principal) bool {
	return p.Can(httpapi.PermCaseDispatch) || p.Can(httpapi.PermCaseHandle) || p.Can(httpapi.PermCaseAssign)
}

func redact(p *httpapi.Principal, cs []Case) {
	if seesReporter(p) {
		return
	}
	for i := range cs {
		cs[i].Reporter, cs[i].ReporterPhone = "", ""
	}
}

// actorRole is the role a principal acts in, for the role evaluation.
func actorRole(p *httpapi.Principal) string {
	if p.System != "" {
		return "system"
	}
	for _, r := range []string{httpapi.RoleGridWorker, httpapi.RoleHandler, httpapi.RoleOperator, httpapi.RoleCommander, httpapi.RoleLeader, httpapi.RoleAdmin, httpapi.RoleIntegrator} {
		if p.HasRole(r) {
			return r
		}
	}
	return ""
}

var listSpec = &httpapi.ListSpec{
	Sort: map[string]string{"id": "id", "created_at": "created_at", "updated_at": "updated_at", "stage_deadline": "stage_deadline"},
	Filters: map[string]httpapi.Filter{
		"state":      {Column: "state", Kind: httpapi.FilterIn, Doc: "comma-separated states"},
		"dept_id":    {Column: "dept_id", Kind: httpapi.FilterInt},
		"grid":       {Column: "grid_code", Kind: httpapi.FilterPrefix, Doc: "grid code prefix"},
		"township":   {Column: "township_code", Kind: httpapi.FilterString},
		"source":     {Column: "source", Kind: httpapi.FilterString},
		"category":   {Column: "category_code", Kind: httpapi.FilterPrefix, Doc: "大类 or 小类 code"},
		"stage":      {Column: "stage", Kind: httpapi.FilterString},
		"since":      {Column: "created_at", Kind: httpapi.FilterSince},
		"until":      {Column: "created_at", Kind: httpapi.FilterUntil},
		"open":       {Doc: "true: cases still needing work", Func: boolFunc("open = 1", "open = 0")},
		"overdue":    {Doc: "true: the current stage is past its deadline", Func: overdueFilter},
		"queue":      {Doc: "dispatch: the dispatch centre's queue (待立案, 待派遣 without a department)", Func: queueFilter},
		"supervised": {Doc: "true: 督办 issued in the current stage", Func: boolFunc("supervised = 1 AND open = 1", "supervised = 0")},
	},
	Search:      []string{"title", "address", "external_id"},
	DefaultSort: "-id",
	Tiebreak:    "id",
}

func boolFunc(yes, no string) func(string) (string, []any, error) {
	return func(v string) (string, []any, error) {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", nil, fmt.Errorf("must be true or false")
		}
		if b {
			return yes, nil, nil
		}
		return no, nil, nil
	}
}

func overdueFilter(v string) (string, []any, error) {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return "", nil, fmt.Errorf("must be true or false")
	}
	now := dbt(time.Now())
	if b {
		return "open = 1 AND stage_deadline != '' AND stage_deadline < ?", []any{now}, nil
	}
	return "NOT (open = 1 AND stage_deadline != '' AND stage_deadline < ?)", []any{now}, nil
}

func queueFilter(v string) (string, []any, error) {
	switch v {
	case "dispatch":
		return "open = 1 AND dept_id = 0 AND state IN ('collected', 'registered')", nil, nil
	case "handling":
		return "open = 1 AND state IN ('dispatched', 'handling')", nil, nil
	case "verify":
		return "open = 1 AND state IN ('feedback', 'verified')", nil, nil
	}
	return "", nil, fmt.Errorf("must be dispatch, handling or verify")
}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	m.sla.Routes(r)
	if m.opts.Hub != nil {
		m.liveClassifiers(m.opts.Hub)
	}
	tags := []string{"cases"}
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/cases", Summary: "Report a case (intake: staff, grid worker, 12345 hotline, leader assignment)",
		Description: "Needs case.create (source leader: case.assign). register=true also opens (立案) and dispatches it (case.dispatch).",
		Tags:        tags, Request: CaseInput{}, Response: Case{}, Status: http.StatusCreated, Handler: m.create})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases", Summary: "Case list and queues (in the caller's data scope)",
		Tags: tags, Perm: httpapi.PermCaseRead, List: listSpec, Response: httpapi.Page[Case]{}, Handler: m.list})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/overdue", Summary: "Overdue cases (current stage past its deadline), most overdue first",
		Tags: tags, Perm: httpapi.PermCaseRead, Response: httpapi.Page[Case]{},
		Query: []httpapi.Param{{Name: "limit", Type: "integer"}, {Name: "offset", Type: "integer"}, {Name: "dept_id", Type: "integer"}}, Handler: m.overdue})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/{id}", Summary: "A case with its timeline, attachments and escalations",
		Tags: tags, Perm: httpapi.PermCaseRead, Response: Detail{}, Handler: m.get})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/cases/{id}/actions/{action}", Summary: "Apply a workflow action",
		Description: "Actions: " + strings.Join(Actions(), ", ") + ". An action not allowed in the current state answers 409 with the allowed ones in error.allowed.",
		Tags:        tags, Perm: httpapi.PermCaseRead, Request: ActionInput{}, Response: ChangeResult{}, Handler: m.act})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/{id}/duplicates", Summary: "Open cases of the same category nearby (merge candidates)",
		Tags: tags, Perm: httpapi.PermCaseRead, Response: httpapi.Page[Case]{}, Handler: m.duplicates})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/cases/attachments", Summary: "Upload a photo or document (raw body); reference its id in an intake or action",
		Description: "JPEG, PNG, GIF, WebP or PDF, checked by content; larger than the limit answers 413, other types 415.",
		Tags:        tags, Perm: PermAttach, RequestContentType: "application/octet-stream", Response: Attachment{}, Status: http.StatusCreated,
		Query:   []httpapi.Param{{Name: "name"}, {Name: "phase", Description: "before or after"}},
		MaxBody: m.opts.MaxAttachment, Handler: m.upload})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/{id}/attachments/{aid}", Summary: "Download an attachment of a case",
		Tags: tags, Perm: httpapi.PermCaseRead, ResponseContentType: "application/octet-stream", Handler: m.download})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/categories", Summary: "大类/小类 category tree with 立案条件, 时限 and 结案条件",
		Tags: tags, Perm: httpapi.PermCaseRead, Response: []Category{}, Handler: m.categories})
	r.Handle(httpapi.Route{Method: "PUT", Path: "/api/v1/cases/categories", Summary: "Create or change a category (and a 小类's conditions)",
		Tags: tags, Perm: PermConfig, Request: CategoryInput{}, Response: Category{}, Handler: m.putCategory})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/rules", Summary: "Dispatch rules (权责清单)",
		Tags: tags, Perm: httpapi.PermCaseRead, Response: httpapi.Page[Rule]{}, Handler: m.rules})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/cases/rules", Summary: "Add or replace a dispatch rule (category × grid prefix → department)",
		Tags: tags, Perm: PermConfig, Request: Rule{}, Response: Rule{}, Status: http.StatusCreated, Handler: m.postRule})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/cases/rules/{id}", Summary: "Delete a dispatch rule",
		Tags: tags, Perm: PermConfig, Handler: m.deleteRule, Status: http.StatusNoContent})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/settings", Summary: "Stage limits, evaluation weights, merge radius",
		Tags: tags, Perm: httpapi.PermCaseRead, Response: Settings{}, Handler: m.getSettings})
	r.Handle(httpapi.Route{Method: "PUT", Path: "/api/v1/cases/settings", Summary: "Change stage limits, evaluation weights, merge radius",
		Tags: tags, Perm: PermConfig, Request: Settings{}, Response: Settings{}, Handler: m.putSettings})
	m.evalRoutes(r)
	m.open311Routes(r)
}

func (m *Module) create(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	var in CaseInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	c, err := m.intake(r.Context(), r, p, in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, c)
}

// intake checks the caller's right to the source and the grid, then
// issues case.create.
func (m *Module) intake(ctx context.Context, r *http.Request, p *httpapi.Principal, in CaseInput) (*Case, error) {
	switch in.Source {
	case SourceLeader:
		if !p.Can(httpapi.PermCaseAssign) {
			return nil, httpapi.Errorf(httpapi.CodeForbidden, "permission %s required for a leader assignment", httpapi.PermCaseAssign)
		}
	case SourceSensor:
		return nil, httpapi.FieldError("source", "sensor cases come from the alarm rules")
	default:
		if !p.Can(httpapi.PermCaseCreate) {
			return nil, httpapi.Errorf(httpapi.CodeForbidden, "permission %s required", httpapi.PermCaseCreate)
		}
	}
	if in.Register && !p.Can(httpapi.PermCaseDispatch) {
		return nil, httpapi.Errorf(httpapi.CodeForbidden, "permission %s required to register", httpapi.PermCaseDispatch)
	}
	if in.GridCode != "" {
		if m.opts.Org != nil {
			if _, err := m.opts.Org.Grid(ctx, in.GridCode); err != nil {
				return nil, httpapi.FieldError("grid_code", "unknown grid")
			}
		}
		if p.Scope.Kind == httpapi.ScopeGrid && !p.InScope(0, in.GridCode, 0) {
			return nil, httpapi.FieldError("grid_code", "is outside your grid")
		}
	}
	if in.DeptID != 0 {
		if err := m.checkDept(ctx, in.DeptID); err != nil {
			return nil, err
		}
	}
	pl := createPayload{CaseInput: in, CreatedBy: p.UserID, ActorRole: actorRole(p)}
	res, err := httpapi.Apply(r, m.st, CmdCreate, 1, pl)
	if err != nil {
		return nil, err
	}
	var out ChangeResult
	if err := res.Decode(&out); err != nil {
		return nil, err
	}
	return out.Case, nil
}

func (m *Module) checkDept(ctx context.Context, id int64) error {
	if m.opts.Org == nil {
		return nil
	}
	if _, err := m.opts.Org.Department(ctx, id); err != nil {
		return httpapi.FieldError("dept_id", "unknown department")
	}
	return nil
}

// scoped loads a case the principal may see (404 otherwise).
func (m *Module) scoped(ctx context.Context, p *httpapi.Principal, id int64) (*Case, error) {
	cond, args := scopeFilter(p)
	c, err := scanCase(m.st.DB().QueryRowContext(ctx, `SELECT `+caseCols+` FROM cases_case WHERE id = ? AND `+cond, append([]any{id}, args...)...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, httpapi.ErrNotFound
	}
	return c, err
}

func (m *Module) decorate(c *Case, cal *sla.Calendar, now time.Time) {
	c.Allowed = Allowed(c.State)
	if !c.Open || c.StageDeadline.IsZero() {
		return
	}
	c.SLAStatus = string(cal.StatusAt(c.StageStartedAt, c.StageDeadline, now, c.StageUnit, m.sla.UrgeRatio()))
	c.Remaining = sla.FormatDuration(cal.Remaining(now, c.StageDeadline, c.StageUnit))
}

func (m *Module) queryCases(ctx context.Context, q string, args ...any) ([]Case, error) {
	rows, err := m.st.DB().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cal, err := m.sla.Calendar(ctx)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := []Case{}
	for rows.Next() {
		c, err := scanCase(rows)
		if err != nil {
			return nil, err
		}
		m.decorate(c, cal, now)
		out = append(out, *c)
	}
	return out, rows.Err()
}

func (m *Module) list(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	q, err := httpapi.ParseList(r, listSpec)
	if err != nil {
		return err
	}
	page, err := m.List(r.Context(), p, q)
	if err != nil {
		return err
	}
	redact(httpapi.MustPrincipal(r), page.Items)
	return httpapi.JSON(w, http.StatusOK, page)
}

// List is GET /api/v1/cases: q (parsed with the list spec) within p's
// data scope. The unfiltered county-wide total comes from a counter
// maintained by a trigger instead of counting every case.
func (m *Module) List(ctx context.Context, p *httpapi.Principal, q httpapi.ListQuery) (httpapi.Page[Case], error) {
	all := !q.Filtered() && p != nil && p.Scope.Kind == httpapi.ScopeAll
	cond, args := scopeFilter(p)
	q.And(cond, args...)
	if !all {
		return m.page(ctx, q)
	}
	items, err := m.queryCases(ctx, `SELECT `+caseCols+` FROM cases_case `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return httpapi.Page[Case]{}, err
	}
	var total int
	err = m.st.DB().QueryRowContext(ctx, `SELECT n FROM cases_total WHERE id = 1`).Scan(&total)
	return httpapi.Page[Case]{Items: items, Total: total}, err
}

func (m *Module) page(ctx context.Context, q httpapi.ListQuery) (httpapi.Page[Case], error) {
	items, err := m.queryCases(ctx, `SELECT `+caseCols+` FROM cases_case `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return httpapi.Page[Case]{}, err
	}
	var total int
	if err := m.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM cases_case `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return httpapi.Page[Case]{}, err
	}
	return httpapi.Page[Case]{Items: items, Total: total}, nil
}

var overdueSpec = &httpapi.ListSpec{
	Filters:     map[string]httpapi.Filter{"dept_id": {Column: "dept_id", Kind: httpapi.FilterInt}},
	Sort:        map[string]string{"stage_deadline": "stage_deadline"},
	DefaultSort: "stage_deadline",
}

func (m *Module) overdue(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	q, err := httpapi.ParseList(r, overdueSpec)
	if err != nil {
		return err
	}
	page, err := m.Overdue(r.Context(), p, q, time.Now())
	if err != nil {
		return err
	}
	redact(httpapi.MustPrincipal(r), page.Items)
	return httpapi.JSON(w, http.StatusOK, page)
}

// openIndex pins the open-case index of a grid-scoped principal: the
// planner would otherwise walk the grid's whole history (cases_case_grid)
// to find its few open cases.
func openIndex(p *httpapi.Principal) string {
	if p != nil && p.Scope.Kind == httpapi.ScopeGrid && p.Scope.GridPrefix != "" {
		return "INDEXED BY cases_case_open_grid "
	}
	return ""
}

// Overdue lists the open cases whose stage deadline passed before now, in
// p's scope.
func (m *Module) Overdue(ctx context.Context, p *httpapi.Principal, q httpapi.ListQuery, now time.Time) (httpapi.Page[Case], error) {
	countyWide := !q.Filtered() && p != nil && p.Scope.Kind == httpapi.ScopeAll
	q.And("open = 1 AND stage_deadline != '' AND stage_deadline < ?", dbt(now))
	{
		cond, args := scopeFilter(p)
		q.And(cond, args...)
	}
	// Always in deadline order (the partial index's order): most overdue first.
	items, err := m.queryCases(ctx, `SELECT `+caseCols+` FROM cases_case `+openIndex(p)+q.WhereSQL()+` ORDER BY stage_deadline, id `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return httpapi.Page[Case]{}, err
	}
	var total int
	if countyWide {
		// Whole days from the maintained per-day counts, today from the index.
		n, today := dbt(now), dbt(now)[:10]
		err = m.st.DB().QueryRowContext(ctx, `SELECT (SELECT coalesce(sum(n), 0) FROM cases_open_day WHERE day < ?)
			+ (SELECT count(*) FROM cases_case WHERE open = 1 AND stage_deadline >= ? AND stage_deadline < ?)`,
			today, today, n).Scan(&total)
	} else {
		err = m.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM cases_case `+openIndex(p)+q.WhereSQL(), q.Args()...).Scan(&total)
	}
	return httpapi.Page[Case]{Items: items, Total: total}, err
}

// Queue lists the cases waiting for p (for benchmarks and the console):
// the dispatch centre's queue for dispatchers, the handling queue for
// department handlers, the verification queue for grid workers.
func (m *Module) Queue(ctx context.Context, p *httpapi.Principal, limit int) (httpapi.Page[Case], error) {
	q := httpapi.ListQuery{Limit: limit}
	switch {
	case p.HasRole(httpapi.RoleHandler):
		c, a, _ := queueFilter("handling")
		q.And(c, a...)
	case p.HasRole(httpapi.RoleGridWorker):
		c, a, _ := queueFilter("verify")
		q.And(c, a...)
	default:
		c, a, _ := queueFilter("dispatch")
		q.And(c, a...)
	}
	{
		cond, args := scopeFilter(p)
		q.And(cond, args...)
	}
	items, err := m.queryCases(ctx, `SELECT `+caseCols+` FROM cases_case `+openIndex(p)+q.WhereSQL()+` ORDER BY stage_deadline, id `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return httpapi.Page[Case]{}, err
	}
	var total int
	err = m.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM cases_case `+openIndex(p)+q.WhereSQL(), q.Args()...).Scan(&total)
	return httpapi.Page[Case]{Items: items, Total: total}, err
}

func (m *Module) get(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	c, err := m.scoped(r.Context(), p, id)
	if err != nil {
		return err
	}
	d, err := m.detail(r.Context(), c)
	if err != nil {
		return err
	}
	if !seesReporter(p) {
		d.Reporter, d.ReporterPhone = "", ""
	}
	return httpapi.JSON(w, http.StatusOK, d)
}

func (m *Module) detail(ctx context.Context, c *Case) (*Detail, error) {
	cal, err := m.sla.Calendar(ctx)
	if err != nil {
		return nil, err
	}
	m.decorate(c, cal, time.Now())
	d := &Detail{Case: *c, Steps: []Step{}, Attachments: []Attachment{}, Escalations: []Escalation{}}
	db := m.st.DB()
	rows, err := db.QueryContext(ctx, `SELECT id, seq, action, from_state, to_state, actor, actor_role, at, note, reason, dept_id, data FROM cases_step WHERE case_id = ? ORDER BY seq`, c.ID)
	if err != nil {
		return nil, err
	}
	byID := map[int64]int{}
	for rows.Next() {
		s := Step{CaseID: c.ID}
		var at, data string
		if err := rows.Scan(&s.ID, &s.Seq, &s.Action, &s.From, &s.To, &s.Actor, &s.ActorRole, &at, &s.Note, &s.Reason, &s.DeptID, &data); err != nil {
			rows.Close()
			return nil, err
		}
		s.At, s.ActionName = httpapi.ParseDBTime(at), ActionNames[s.Action]
		if data != "" {
			_ = jsonUnmarshal(data, &s.Data)
		}
		byID[s.ID] = len(d.Steps)
		d.Steps = append(d.Steps, s)
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT `+attCols+` FROM cases_attachment WHERE case_id = ? ORDER BY id`, c.ID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		a, err := scanAttachment(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		a.URL = fmt.Sprintf("/api/v1/cases/%d/attachments/%d", c.ID, a.ID)
		d.Attachments = append(d.Attachments, a)
		if i, ok := byID[a.StepID]; ok {
			d.Steps[i].Attachments = append(d.Steps[i].Attachments, a)
		}
	}
	rows.Close()
	rows, err = db.QueryContext(ctx, `SELECT id, level, stage, round, at, deadline, dept_id, actor, note FROM cases_escalation WHERE case_id = ? ORDER BY id`, c.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		e := Escalation{CaseID: c.ID}
		var at, dl string
		if err := rows.Scan(&e.ID, &e.Level, &e.Stage, &e.Round, &at, &dl, &e.DeptID, &e.Actor, &e.Note); err != nil {
			return nil, err
		}
		e.At, e.Deadline = httpapi.ParseDBTime(at), httpapi.ParseDBTime(dl)
		d.Escalations = append(d.Escalations, e)
	}
	return d, rows.Err()
}

func (m *Module) act(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	action := r.PathValue("action")
	if _, ok := transitions[action]; !ok {
		return httpapi.FieldError("action", "must be one of "+strings.Join(Actions(), ", "))
	}
	p := httpapi.MustPrincipal(r)
	if !mayAct(p, action) {
		return httpapi.Errorf(httpapi.CodeForbidden, "you may not %s (%s) cases", action, ActionNames[action])
	}
	var in ActionInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	c, err := m.scoped(r.Context(), p, id)
	if err != nil {
		return err
	}
	if in.DeptID != 0 {
		if err := m.checkDept(r.Context(), in.DeptID); err != nil {
			return err
		}
	}
	if in.TargetID != 0 {
		if _, err := m.scoped(r.Context(), p, in.TargetID); err != nil {
			return httpapi.FieldError("target_id", "case not found")
		}
	}
	pl := transitionPayload{CaseID: id, Action: action, ActionInput: in, ActorRole: actorRole(p)}
	if p.Scope.Kind != httpapi.ScopeAll {
		dept := c.DeptID
		pl.ExpectDept = &dept // refuse if the case moved out of the caller's scope meanwhile
	}
	res, err := httpapi.Apply(r, m.st, CmdTransition, 1, pl)
	if err != nil {
		return err
	}
	var out ChangeResult
	if err := res.Decode(&out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) duplicates(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	c, err := m.scoped(r.Context(), p, id)
	if err != nil {
		return err
	}
	items := []Case{}
	if c.CategoryCode != "" && c.Lat != 0 {
		s, err := loadSettings(r.Context(), m.st.DB())
		if err != nil {
			return err
		}
		dLat := s.MergeRadius / 111000
		cond, args := scopeFilter(p)
		all, err := m.queryCases(r.Context(), `SELECT `+caseCols+` FROM cases_case WHERE open = 1 AND category_code = ? AND lat BETWEEN ? AND ? AND id != ? AND state != 'merged' AND `+cond+` ORDER BY id LIMIT 200`,
			append([]any{c.CategoryCode, c.Lat - dLat, c.Lat + dLat, c.ID}, args...)...)
		if err != nil {
			return err
		}
		for _, x := range all {
			if distance(c.Lat, c.Lng, x.Lat, x.Lng) <= s.MergeRadius {
				items = append(items, x)
			}
		}
	}
	redact(p, items)
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Case]{Items: items, Total: len(items)})
}

// allowedTypes are the attachment types accepted, by sniffed content.
var allowedTypes = []string{"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"}

func (m *Module) upload(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	var v httpapi.Validator
	v.Text("name", q.Get("name"), 0, 100)
	if ph := q.Get("phase"); ph != "" {
		v.OneOf("phase", ph, "before", "after")
	}
	if err := v.Err(); err != nil {
		return err
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &store.Error{Code: httpapi.CodeTooLarge, Message: fmt.Sprintf("attachment larger than %d bytes", m.opts.MaxAttachment)}
		}
		return err
	}
	if len(data) == 0 {
		return httpapi.Errorf(httpapi.CodeInvalid, "empty attachment")
	}
	mt := http.DetectContentType(data)
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	if !slices.Contains(allowedTypes, mt) {
		return &store.Error{Code: httpapi.CodeUnsupportedMedia, Message: "attachment type " + mt + " not accepted; use " + strings.Join(allowedTypes, ", ")}
	}
	sum := sha256.Sum256(data)
	res, err := httpapi.Apply(r, m.st, CmdAttach, 1, attachPayload{Name: q.Get("name"), Phase: q.Get("phase"), MIME: mt, SHA: hex.EncodeToString(sum[:]), Data: data})
	if err != nil {
		return err
	}
	var a Attachment
	if err := res.Decode(&a); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, a)
}

func (m *Module) download(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	aid, err := httpapi.PathInt64(r, "aid")
	if err != nil {
		return err
	}
	if _, err := m.scoped(r.Context(), httpapi.MustPrincipal(r), id); err != nil {
		return err
	}
	var mime, name string
	var data []byte
	err = m.st.DB().QueryRowContext(r.Context(), `SELECT a.mime, a.name, b.data FROM cases_attachment a JOIN cases_blob b ON b.sha256 = a.sha256 WHERE a.id = ? AND a.case_id = ?`, aid, id).Scan(&mime, &name, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return httpapi.ErrNotFound
	}
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", mime)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Cache-Control", "private, max-age=86400")
	w.Header().Set("Content-Disposition", "inline")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}

// Categories returns the category tree with conditions.
func (m *Module) Categories(ctx context.Context) ([]*Category, error) {
	db := m.st.DB()
	rows, err := db.QueryContext(ctx, `SELECT code, parent_code, kind, level, name, disabled FROM cases_category ORDER BY level, sort, code`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byCode := map[string]*Category{}
	var roots []*Category
	for rows.Next() {
		c := &Category{}
		var dis int
		if err := rows.Scan(&c.Code, &c.ParentCode, &c.Kind, &c.Level, &c.Name, &dis); err != nil {
			return nil, err
		}
		c.Disabled = dis == 1
		byCode[c.Code] = c
		if c.Level == 1 {
			roots = append(roots, c)
		} else if p := byCode[c.ParentCode]; p != nil {
			p.Children = append(p.Children, c)
		}
	}
	rows.Close()
	crow, err := db.QueryContext(ctx, `SELECT id, category_code, text, limit_value, limit_unit, close_text FROM cases_condition ORDER BY category_code, sort, id`)
	if err != nil {
		return nil, err
	}
	defer crow.Close()
	for crow.Next() {
		var c Condition
		var unit string
		if err := crow.Scan(&c.ID, &c.Category, &c.Text, &c.Limit.Value, &unit, &c.CloseText); err != nil {
			return nil, err
		}
		c.Limit.Unit = sla.Unit(unit)
		if cat := byCode[c.Category]; cat != nil {
			cat.Conditions = append(cat.Conditions, c)
		}
	}
	return roots, crow.Err()
}

func (m *Module) categories(w http.ResponseWriter, r *http.Request) error {
	cats, err := m.Categories(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, cats)
}

func (m *Module) putCategory(w http.ResponseWriter, r *http.Request) error {
	var in CategoryInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if _, err := httpapi.Apply(r, m.st, CmdCategorySet, 1, in); err != nil {
		return err
	}
	cats, err := m.Categories(r.Context())
	if err != nil {
		return err
	}
	for _, c := range cats {
		if c.Code == in.Code {
			return httpapi.JSON(w, http.StatusOK, c)
		}
		for _, s := range c.Children {
			if s.Code == in.Code {
				return httpapi.JSON(w, http.StatusOK, s)
			}
		}
	}
	return httpapi.ErrNotFound
}

func (m *Module) rules(w http.ResponseWriter, r *http.Request) error {
	rows, err := m.st.DB().QueryContext(r.Context(), `SELECT id, category_code, grid_prefix, dept_id, note FROM cases_rule ORDER BY category_code, grid_prefix`)
	if err != nil {
		return err
	}
	defer rows.Close()
	out := []Rule{}
	for rows.Next() {
		var x Rule
		if err := rows.Scan(&x.ID, &x.CategoryCode, &x.GridPrefix, &x.DeptID, &x.Note); err != nil {
			return err
		}
		out = append(out, x)
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Rule]{Items: out, Total: len(out)})
}

func (m *Module) postRule(w http.ResponseWriter, r *http.Request) error {
	var in Rule
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if err := m.checkDept(r.Context(), in.DeptID); err != nil {
		return err
	}
	res, err := httpapi.Apply(r, m.st, CmdRuleSet, 1, in)
	if err != nil {
		return err
	}
	var out Rule
	if err := res.Decode(&out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, out)
}

func (m *Module) deleteRule(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	if _, err := httpapi.Apply(r, m.st, CmdRuleDelete, 1, map[string]int64{"id": id}); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

func (m *Module) getSettings(w http.ResponseWriter, r *http.Request) error {
	s, err := loadSettings(r.Context(), m.st.DB())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, s)
}

func (m *Module) putSettings(w http.ResponseWriter, r *http.Request) error {
	var s Settings
	if err := httpapi.Decode(r, &s); err != nil {
		return err
	}
	if _, err := httpapi.Apply(r, m.st, CmdSettingsSet, 1, s); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, s)
}
