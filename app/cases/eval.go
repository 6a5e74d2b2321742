package cases

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
)

// Evaluation dimensions.
const (
	DimDept     = "dept"     // 部门评价 (the responsible department)
	DimTownship = "township" // 区域评价 (乡镇/街道, the case's 9-digit grid prefix)
	DimRole     = "role"     // 岗位评价 (the role that acted: operator, handler, grid_worker, ...)
)

// EvalRow is one department, township or role in one month.
type EvalRow struct {
	Key            string  `json:"key"`
	Name           string  `json:"name"`
	Registered     int64   `json:"registered" doc:"立案数 (departments: cases dispatched to them)"`
	Dispatched     int64   `json:"dispatched"`
	Handled        int64   `json:"handled" doc:"处置反馈数"`
	HandledOnTime  int64   `json:"handled_ontime"`
	Closed         int64   `json:"closed" doc:"结案数"`
	ClosedOnTime   int64   `json:"closed_ontime"`
	Reworked       int64   `json:"reworked" doc:"返工数"`
	Returned       int64   `json:"returned" doc:"回退数"`
	HandleOnTime   float64 `json:"handle_ontime_rate" doc:"按期处置率"`
	CloseOnTime    float64 `json:"close_ontime_rate" doc:"按期结案率"`
	CloseRate      float64 `json:"close_rate" doc:"结案率"`
	ReworkRate     float64 `json:"rework_rate" doc:"返工率"`
	ReturnRate     float64 `json:"return_rate" doc:"回退率"`
	AvgHandleHours float64 `json:"avg_handle_hours" doc:"平均处置时长 (hours from dispatch to feedback)"`
	Score          float64 `json:"score" doc:"综合评价 (0-100)"`
	Rank           int     `json:"rank"`
}

// Evaluation is a month's 综合评价 along one dimension.
type Evaluation struct {
	Month   string    `json:"month"`
	Dim     string    `json:"dim"`
	Weights Weights   `json:"weights"`
	Items   []EvalRow `json:"items"`
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return math.Round(float64(a)/float64(b)*10000) / 10000
}

func (r *EvalRow) compute(w Weights, dim string) {
	base := r.Registered
	if dim == DimDept || base == 0 {
		base = r.Dispatched
	}
	if dim == DimDept {
		r.Registered = r.Dispatched
	}
	r.HandleOnTime = ratio(r.HandledOnTime, r.Handled)
	r.CloseOnTime = ratio(r.ClosedOnTime, r.Closed)
	r.CloseRate = math.Min(1, ratio(r.Closed, base))
	r.ReworkRate = ratio(r.Reworked, r.Handled)
	r.ReturnRate = math.Min(1, ratio(r.Returned, base))
	var sum, wsum float64
	add := func(weight, v float64, defined bool) {
		if defined && weight > 0 {
			sum += weight * v
			wsum += weight
		}
	}
	add(w.HandleOnTime, r.HandleOnTime, r.Handled > 0)
	add(w.CloseOnTime, r.CloseOnTime, r.Closed > 0)
	add(w.CloseRate, r.CloseRate, base > 0)
	add(w.Rework, 1-r.ReworkRate, r.Handled > 0)
	add(w.Return, 1-r.ReturnRate, base > 0)
	if wsum > 0 {
		r.Score = math.Round(sum/wsum*10000) / 100
	}
}

// Evaluate reads the maintained monthly figures (one indexed range of
// cases_agg, never a scan of cases) and scores and ranks them.
func (m *Module) Evaluate(ctx context.Context, p *httpapi.Principal, monthStr, dim string) (*Evaluation, error) {
	var v httpapi.Validator
	if _, err := time.Parse("2006-01", monthStr); err != nil {
		v.Add("month", "must be YYYY-MM")
	}
	v.OneOf("dim", dim, DimDept, DimTownship, DimRole)
	if err := v.Err(); err != nil {
		return nil, err
	}
	s, err := loadSettings(ctx, m.st.DB())
	if err != nil {
		return nil, err
	}
	rows, err := m.st.DB().QueryContext(ctx, `SELECT key, registered, dispatched, handled, handled_ontime, closed, closed_ontime, reworked, returned, handle_secs
		FROM cases_agg WHERE month = ? AND dim = ?`, monthStr, dim)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &Evaluation{Month: monthStr, Dim: dim, Weights: s.Weights, Items: []EvalRow{}}
	for rows.Next() {
		var r EvalRow
		var secs int64
		if err := rows.Scan(&r.Key, &r.Registered, &r.Dispatched, &r.Handled, &r.HandledOnTime, &r.Closed, &r.ClosedOnTime, &r.Reworked, &r.Returned, &secs); err != nil {
			return nil, err
		}
		if !m.evalVisible(p, dim, r.Key) {
			continue
		}
		if r.Handled > 0 {
			r.AvgHandleHours = math.Round(float64(secs)/float64(r.Handled)/36) / 100
		}
		r.compute(s.Weights, dim)
		out.Items = append(out.Items, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	sort.SliceStable(out.Items, func(i, j int) bool {
		if out.Items[i].Score != out.Items[j].Score {
			return out.Items[i].Score > out.Items[j].Score
		}
		return out.Items[i].Key < out.Items[j].Key
	})
	for i := range out.Items {
		out.Items[i].Rank = i + 1
		if i > 0 && out.Items[i].Score == out.Items[i-1].Score {
			out.Items[i].Rank = out.Items[i-1].Rank
		}
		out.Items[i].Name = m.evalName(ctx, dim, out.Items[i].Key)
	}
	return out, nil
}

func (m *Module) evalVisible(p *httpapi.Principal, dim, key string) bool {
	if p == nil || p.Scope.Kind == httpapi.ScopeAll {
		return true
	}
	switch dim {
	case DimDept:
		id, _ := strconv.ParseInt(key, 10, 64)
		return p.InDeptScope(id)
	case DimTownship:
		return p.InScope(0, key, 0)
	}
	return false
}

func (m *Module) evalName(ctx context.Context, dim, key string) string {
	switch dim {
	case DimDept:
		if m.opts.Org != nil {
			id, _ := strconv.ParseInt(key, 10, 64)
			if d, err := m.opts.Org.Department(ctx, id); err == nil {
				return d.Name
			}
		}
	case DimTownship:
		if m.opts.Org != nil {
			if g, err := m.opts.Org.Grid(ctx, key); err == nil {
				return g.Name
			}
		}
	case DimRole:
		if r, ok := httpapi.Role(key); ok {
			return r.Title
		}
		if key == "system" {
			return "系统"
		}
		if key == "sensor" {
			return "物联感知"
		}
	}
	return key
}

func evalParams(r *http.Request) (string, string) {
	q := r.URL.Query()
	mo := q.Get("month")
	if mo == "" {
		mo = time.Now().In(sla.China).Format("2006-01")
	}
	dim := q.Get("dim")
	if dim == "" {
		dim = DimDept
	}
	return mo, dim
}

func (m *Module) evalRoutes(r *httpapi.Router) {
	params := []httpapi.Param{{Name: "month", Description: "YYYY-MM (default this month)"}, {Name: "dim", Description: "dept (default), township, role"}}
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/evaluation", Summary: "综合评价: monthly figures, rates, weighted score and ranking",
		Tags: []string{"cases"}, Perm: httpapi.PermCaseRead, Query: params, Response: Evaluation{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			mo, dim := evalParams(r)
			ev, err := m.Evaluate(r.Context(), httpapi.MustPrincipal(r), mo, dim)
			if err != nil {
				return err
			}
			return httpapi.JSON(w, http.StatusOK, ev)
		}})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/cases/evaluation.xlsx", Summary: "综合评价 as an Excel workbook",
		Tags: []string{"cases"}, Perm: httpapi.PermCaseRead, Query: params,
		ResponseContentType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			mo, dim := evalParams(r)
			ev, err := m.Evaluate(r.Context(), httpapi.MustPrincipal(r), mo, dim)
			if err != nil {
				return err
			}
			f, err := EvaluationXLSX(ev)
			if err != nil {
				return err
			}
			defer f.Close()
			w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
			w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="evaluation-%s-%s.xlsx"`, ev.Dim, ev.Month))
			return f.Write(w)
		}})
}

// EvaluationXLSX renders an evaluation as a workbook.
func EvaluationXLSX(ev *Evaluation) (*excelize.File, error) {
	f := excelize.NewFile()
	sheet := "综合评价"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	dimName := map[string]string{DimDept: "部门", DimTownship: "乡镇街道", DimRole: "岗位"}[ev.Dim]
	head := []any{"排名", dimName, "立案数", "处置数", "按期处置数", "结案数", "按期结案数", "返工数", "回退数",
		"按期处置率", "按期结案率", "结案率", "返工率", "回退率", "平均处置时长(小时)", "综合得分"}
	_ = f.SetCellValue(sheet, "A1", fmt.Sprintf("%s 综合评价（%s）", ev.Month, dimName))
	if err := f.SetSheetRow(sheet, "A2", &head); err != nil {
		return nil, err
	}
	for i, r := range ev.Items {
		row := []any{r.Rank, r.Name, r.Registered, r.Handled, r.HandledOnTime, r.Closed, r.ClosedOnTime, r.Reworked, r.Returned,
			r.HandleOnTime, r.CloseOnTime, r.CloseRate, r.ReworkRate, r.ReturnRate, r.AvgHandleHours, r.Score}
		cell, _ := excelize.CoordinatesToCellName(1, i+3)
		if err := f.SetSheetRow(sheet, cell, &row); err != nil {
			return nil, err
		}
	}
	pct, err := f.NewStyle(&excelize.Style{NumFmt: 10})
	if err == nil && len(ev.Items) > 0 {
		last, _ := excelize.CoordinatesToCellName(14, len(ev.Items)+2)
		_ = f.SetCellStyle(sheet, "J3", last, pct)
	}
	return f, nil
}
