package projects

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/projects/sheet"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

const (
	xlsxType       = sheet.ContentType
	maxImportSize  = 10 << 20
	maxImportRows  = 5000
	colDepartment  = "department"
	projectSheetCN = "重大项目"
)

// ImportReport answers an import.
type ImportReport = sheet.Report

var projectColumns = []sheet.Column{
	{Key: "code", Headers: []string{"项目编号", "code"}},
	{Key: "name", Headers: []string{"项目名称", "name"}, Required: true},
	{Key: "type", Headers: []string{"项目类型", "type"}},
	{Key: "industry", Headers: []string{"所属行业", "industry"}},
	{Key: "grid_code", Headers: []string{"网格编码", "grid_code"}},
	{Key: "address", Headers: []string{"建设地点", "address"}},
	{Key: "lat", Headers: []string{"纬度", "lat"}},
	{Key: "lng", Headers: []string{"经度", "lng"}},
	{Key: "content", Headers: []string{"建设规模及内容", "content"}},
	{Key: "total_investment", Headers: []string{"总投资(万元)", "total_investment"}},
	{Key: colDepartment, Headers: []string{"责任单位", "department"}, Required: true},
	{Key: "owner_name", Headers: []string{"责任人", "owner_name"}},
	{Key: "leader_name", Headers: []string{"包联领导", "leader_name"}},
	{Key: "plan_start", Headers: []string{"计划开工", "plan_start"}},
	{Key: "plan_finish", Headers: []string{"计划竣工", "plan_finish"}},
	{Key: "stage", Headers: []string{"阶段", "stage"}},
	{Key: "status", Headers: []string{"状态", "status"}},
}

func (m *Module) exportProjects(w http.ResponseWriter, r *http.Request) error {
	for k := range r.URL.Query() {
		return httpapi.FieldError(k, "unknown parameter")
	}
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(scopeCols)
	var rows [][]any
	err := each(r.Context(), m.st.DB(), `SELECT `+projectCols+` FROM projects_project WHERE `+cond+` ORDER BY id`, args, func(rs *sql.Rows) error {
		p, err := scanProject(rs)
		if err != nil {
			return err
		}
		rows = append(rows, []any{p.Code, p.Name, p.Type, p.Industry, p.GridCode, p.Address, p.Lat, p.Lng, p.Content, p.TotalInvestment,
			p.DeptName, p.OwnerName, p.LeaderName, p.PlanStart, p.PlanFinish, p.Stage, p.Status})
		return nil
	})
	if err != nil {
		return err
	}
	b, err := sheet.Write(projectSheetCN, projectColumns, rows)
	if err != nil {
		return err
	}
	return sheet.Serve(w, "重大项目-"+time.Now().In(sla.China).Format("20060102")+".xlsx", b)
}

var reportColumns = []sheet.Column{
	{Key: "code", Headers: []string{"项目编号"}}, {Key: "name", Headers: []string{"项目名称"}}, {Key: "department", Headers: []string{"责任单位"}},
	{Key: "month", Headers: []string{"月份"}}, {Key: "plan", Headers: []string{"计划投资(万元)"}}, {Key: "done", Headers: []string{"完成投资(万元)"}},
	{Key: "cum_plan", Headers: []string{"累计计划(万元)"}}, {Key: "cum_done", Headers: []string{"累计完成(万元)"}}, {Key: "rate", Headers: []string{"完成率"}},
}

func (m *Module) exportReports(w http.ResponseWriter, r *http.Request) error {
	year, err := strconv.Atoi(r.URL.Query().Get("year"))
	if err != nil || year < 2000 || year > 2100 {
		return httpapi.FieldError("year", "must be a year")
	}
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(scopeCols)
	var projects []*Project
	if err := each(r.Context(), m.st.DB(), `SELECT `+projectCols+` FROM projects_project WHERE `+cond+` ORDER BY id`, args, func(rs *sql.Rows) error {
		p, err := scanProject(rs)
		projects = append(projects, p)
		return err
	}); err != nil {
		return err
	}
	var rows [][]any
	for _, p := range projects {
		ms, err := m.months(r.Context(), p.ID, year)
		if err != nil {
			return err
		}
		for _, x := range ms {
			if x.Plan == 0 && !x.Reported {
				continue
			}
			rows = append(rows, []any{p.Code, p.Name, p.DeptName, fmt.Sprintf("%d-%02d", year, x.Month), x.Plan, x.Done, x.CumPlan, x.CumDone, fmt.Sprintf("%.2f%%", x.Rate*100)})
		}
	}
	b, err := sheet.Write("月度投资", reportColumns, rows)
	if err != nil {
		return err
	}
	return sheet.Serve(w, fmt.Sprintf("重大项目月报-%d.xlsx", year), b)
}

type importPayload struct {
	Rows []createPayload `json:"rows"`
}

func (m *Module) applyImport(tx *store.Tx, cmd *store.Command) (any, error) {
	var in importPayload
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	ids := []int64{}
	for i, row := range in.Rows {
		id, err := m.insertProject(tx, row)
		if err != nil {
			e := store.AsError(err)
			return nil, &store.Error{Code: e.Code, Message: fmt.Sprintf("row %d: %s", i+1, e.Message), Fields: e.Fields}
		}
		ids = append(ids, id)
	}
	return map[string][]int64{"ids": ids}, nil
}

func (m *Module) rowInput(ctx context.Context, v map[string]string) (createPayload, map[string]string) {
	errs := map[string]string{}
	in := createPayload{ProjectInput: ProjectInput{Code: v["code"], Name: v["name"], Type: v["type"], Industry: v["industry"], GridCode: v["grid_code"],
		Address: v["address"], Content: v["content"], OwnerName: v["owner_name"], LeaderName: v["leader_name"], PlanStart: v["plan_start"], PlanFinish: v["plan_finish"]}}
	sheet.Float(v, "lat", &in.Lat, errs)
	sheet.Float(v, "lng", &in.Lng, errs)
	sheet.Float(v, "total_investment", &in.TotalInvestment, errs)
	if name := v[colDepartment]; name != "" && m.opts.Org != nil {
		id, err := m.opts.Org.DepartmentByName(ctx, name)
		if err != nil {
			errs[colDepartment] = fmt.Sprintf("no department named %q", name)
		} else {
			in.DeptID, in.DeptName = id, name
		}
	} else if name == "" {
		errs[colDepartment] = "is required"
	}
	for k, msg := range in.Check() {
		if k == "dept_id" {
			if _, has := errs[colDepartment]; !has {
				errs[colDepartment] = msg
			}
			continue
		}
		if _, has := errs[k]; !has {
			errs[k] = msg
		}
	}
	return in, errs
}

func (m *Module) importProjects(w http.ResponseWriter, r *http.Request) error {
	rows, commit, err := sheet.ReadRequest(r, projectColumns, maxImportRows)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	rep := &sheet.Report{Rows: rows}
	codes := map[string]int{}
	payload := importPayload{}
	for i := range rows {
		in, errs := m.rowInput(r.Context(), rows[i].Values)
		if in.Code != "" {
			if prev, dup := codes[in.Code]; dup {
				errs["code"] = fmt.Sprintf("duplicate of row %d", prev)
			} else {
				var n int
				_ = m.st.DB().QueryRowContext(r.Context(), `SELECT COUNT(*) FROM projects_project WHERE code = ?`, in.Code).Scan(&n)
				if n > 0 {
					errs["code"] = "a project with this code exists"
				}
			}
			codes[in.Code] = rows[i].Row
		}
		if in.DeptID != 0 && !p.InScope(in.DeptID, in.GridCode, 0) {
			errs[colDepartment] = "outside your data scope"
		}
		rows[i].Errors = errs
		payload.Rows = append(payload.Rows, in)
	}
	rep.Finish()
	if !commit || rep.Invalid > 0 || rep.Valid == 0 {
		return httpapi.JSON(w, http.StatusOK, rep)
	}
	if _, err := httpapi.Apply(r, m.st, CmdImport, 1, payload); err != nil {
		return err
	}
	rep.Applied = true
	return httpapi.JSON(w, http.StatusOK, rep)
}
