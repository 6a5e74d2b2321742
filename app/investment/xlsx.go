package investment

import (
	"database/sql"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/projects/sheet"
	"github.com/yiwang/yiwang/app/sla"
)

const maxImportRows = 5000

var enterpriseColumns = []sheet.Column{
	{Key: "credit_code", Headers: []string{"统一社会信用代码", "credit_code"}, Required: true},
	{Key: "name", Headers: []string{"企业名称", "name"}, Required: true},
	{Key: "industry", Headers: []string{"所属行业", "industry"}},
	{Key: "scale", Headers: []string{"企业规模", "scale"}},
	{Key: "region", Headers: []string{"所在地区", "region"}},
	{Key: "local", Headers: []string{"本地企业", "local"}},
	{Key: "address", Headers: []string{"地址", "address"}},
	{Key: "contact_name", Headers: []string{"联系人", "contact_name"}},
	{Key: "contact_phone", Headers: []string{"联系电话", "contact_phone"}},
	{Key: "tags", Headers: []string{"标签", "tags"}},
	{Key: "profile", Headers: []string{"企业简介", "profile"}},
}

func stamp() string { return time.Now().In(sla.China).Format("20060102") }

func yesNo(b bool) string {
	if b {
		return "是"
	}
	return "否"
}

func parseYesNo(v map[string]string, key string, errs map[string]string) bool {
	switch strings.ToLower(v[key]) {
	case "", "否", "no", "false", "0":
		return false
	case "是", "yes", "true", "1":
		return true
	}
	errs[key] = "must be 是 or 否"
	return false
}

func noParams(r *http.Request) error {
	for k := range r.URL.Query() {
		return httpapi.FieldError(k, "unknown parameter")
	}
	return nil
}

func (m *Module) exportEnterprises(w http.ResponseWriter, r *http.Request) error {
	if err := noParams(r); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	var rows [][]any
	if err := each(r.Context(), m.st.DB(), `SELECT `+entCols+` FROM investment_enterprise e ORDER BY e.id`, nil, func(rs *sql.Rows) error {
		e, err := scanEnterprise(rs)
		if err != nil {
			return err
		}
		e.maskFor(p)
		rows = append(rows, []any{e.CreditCode, e.Name, e.Industry, e.Scale, e.Region, yesNo(e.Local), e.Address, e.ContactName, e.ContactPhone, strings.Join(e.Tags, "、"), e.Profile})
		return nil
	}); err != nil {
		return err
	}
	b, err := sheet.Write("企业库", enterpriseColumns, rows)
	if err != nil {
		return err
	}
	return sheet.Serve(w, "企业库-"+stamp()+".xlsx", b)
}

func splitTags(s string) []string {
	var out []string
	for _, t := range strings.FieldsFunc(s, func(r rune) bool { return r == '、' || r == ',' || r == '，' || r == ';' }) {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}

func (m *Module) importEnterprises(w http.ResponseWriter, r *http.Request) error {
	rows, commit, err := sheet.ReadRequest(r, enterpriseColumns, maxImportRows)
	if err != nil {
		return err
	}
	rep := &sheet.Report{Rows: rows}
	var payload enterpriseImport
	codes := map[string]int{}
	for i := range rows {
		v := rows[i].Values
		errs := map[string]string{}
		in := EnterpriseInput{CreditCode: v["credit_code"], Name: v["name"], Industry: v["industry"], Scale: v["scale"], Region: v["region"],
			Address: v["address"], ContactName: v["contact_name"], ContactPhone: v["contact_phone"], Tags: splitTags(v["tags"]), Profile: v["profile"]}
		in.Local = parseYesNo(v, "local", errs)
		if strings.Contains(in.ContactPhone, "*") {
			errs["contact_phone"] = "is masked (exported without investment.contact); clear it or enter the full number"
		}
		for k, msg := range in.Check() {
			if _, has := errs[k]; !has {
				errs[k] = msg
			}
		}
		if in.CreditCode != "" {
			if prev, dup := codes[in.CreditCode]; dup {
				errs["credit_code"] = fmt.Sprintf("duplicate of row %d", prev)
			} else {
				var n int
				_ = m.st.DB().QueryRowContext(r.Context(), `SELECT COUNT(*) FROM investment_enterprise WHERE credit_code = ?`, in.CreditCode).Scan(&n)
				if n > 0 {
					errs["credit_code"] = "an enterprise with this credit code exists"
				}
			}
			codes[in.CreditCode] = rows[i].Row
		}
		rows[i].Errors = errs
		payload.Rows = append(payload.Rows, in)
	}
	rep.Finish()
	if !commit || rep.Invalid > 0 || rep.Valid == 0 {
		return httpapi.JSON(w, http.StatusOK, rep)
	}
	if _, err := httpapi.Apply(r, m.st, CmdEnterpriseImport, 1, payload); err != nil {
		return err
	}
	rep.Applied = true
	return httpapi.JSON(w, http.StatusOK, rep)
}

var parkColumns = []sheet.Column{
	{Key: "name", Headers: []string{"名称", "name"}, Required: true},
	{Key: "kind", Headers: []string{"类型", "kind"}, Required: true},
	{Key: "address", Headers: []string{"地址", "address"}},
	{Key: "total_area", Headers: []string{"总面积(㎡)", "total_area"}},
	{Key: "vacant_area", Headers: []string{"空置面积(㎡)", "vacant_area"}},
	{Key: "price", Headers: []string{"价格", "price"}},
	{Key: "price_unit", Headers: []string{"价格单位", "price_unit"}},
}

func (m *Module) exportParks(w http.ResponseWriter, r *http.Request) error {
	if err := noParams(r); err != nil {
		return err
	}
	ps, err := m.parks(r.Context())
	if err != nil {
		return err
	}
	var rows [][]any
	for _, p := range ps {
		rows = append(rows, []any{p.Name, p.Kind, p.Address, p.TotalArea, p.VacantArea, p.Price, p.PriceUnit})
	}
	b, err := sheet.Write("园区载体", parkColumns, rows)
	if err != nil {
		return err
	}
	return sheet.Serve(w, "园区载体-"+stamp()+".xlsx", b)
}

func (m *Module) importParks(w http.ResponseWriter, r *http.Request) error {
	rows, commit, err := sheet.ReadRequest(r, parkColumns, maxImportRows)
	if err != nil {
		return err
	}
	rep := &sheet.Report{Rows: rows}
	var payload parkImport
	names := map[string]int{}
	for i := range rows {
		v := rows[i].Values
		errs := map[string]string{}
		in := ParkInput{Name: v["name"], Kind: v["kind"], Address: v["address"], PriceUnit: v["price_unit"]}
		sheet.Float(v, "total_area", &in.TotalArea, errs)
		sheet.Float(v, "vacant_area", &in.VacantArea, errs)
		sheet.Float(v, "price", &in.Price, errs)
		for k, msg := range in.Check() {
			if _, has := errs[k]; !has {
				errs[k] = msg
			}
		}
		if prev, dup := names[in.Name]; dup && in.Name != "" {
			errs["name"] = fmt.Sprintf("duplicate of row %d", prev)
		} else {
			var n int
			_ = m.st.DB().QueryRowContext(r.Context(), `SELECT COUNT(*) FROM investment_park WHERE name = ?`, in.Name).Scan(&n)
			if n > 0 {
				errs["name"] = "a park with this name exists"
			}
		}
		names[in.Name] = rows[i].Row
		rows[i].Errors = errs
		payload.Rows = append(payload.Rows, in)
	}
	rep.Finish()
	if !commit || rep.Invalid > 0 || rep.Valid == 0 {
		return httpapi.JSON(w, http.StatusOK, rep)
	}
	if _, err := httpapi.Apply(r, m.st, CmdParkImport, 1, payload); err != nil {
		return err
	}
	rep.Applied = true
	return httpapi.JSON(w, http.StatusOK, rep)
}

var leadColumns = []sheet.Column{
	{Key: "name", Headers: []string{"项目名称", "name"}, Required: true},
	{Key: "company", Headers: []string{"投资方", "company"}},
	{Key: "credit_code", Headers: []string{"统一社会信用代码", "credit_code"}},
	{Key: "industry", Headers: []string{"所属行业", "industry"}},
	{Key: "source", Headers: []string{"线索来源", "source"}},
	{Key: "probability", Headers: []string{"成功概率(%)", "probability"}},
	{Key: "expected_investment", Headers: []string{"预计投资(万元)", "expected_investment"}},
	{Key: "stage", Headers: []string{"阶段", "stage"}},
	{Key: "note", Headers: []string{"备注", "note"}},
}

func (m *Module) exportLeads(w http.ResponseWriter, r *http.Request) error {
	if err := noParams(r); err != nil {
		return err
	}
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(leadScope)
	var rows [][]any
	if err := each(r.Context(), m.st.DB(), `SELECT `+leadCols+`, COALESCE((SELECT credit_code FROM investment_enterprise e WHERE e.id = investment_lead.enterprise_id), '')
		FROM investment_lead WHERE `+cond+` ORDER BY id`, args, func(rs *sql.Rows) error {
		var l Lead
		var code string
		if err := rs.Scan(&l.ID, &l.Name, &l.EnterpriseID, &l.Company, &l.Industry, &l.ChainID, &l.NodeID, &l.ParkID, &l.Source, &l.OwnerID, &l.DeptID,
			&l.Probability, &l.ExpectedInvestment, &l.Note, &l.Stage, &l.Lost, &l.LostReason, &l.ProjectID, &l.SignedAt, &l.LandedAt, &l.CreatedBy, &l.CreatedAt, &l.UpdatedAt, &code); err != nil {
			return err
		}
		stage := l.Stage
		if l.Lost {
			stage += "（丢失）"
		}
		rows = append(rows, []any{l.Name, l.Company, code, l.Industry, l.Source, l.Probability, l.ExpectedInvestment, stage, l.Note})
		return nil
	}); err != nil {
		return err
	}
	b, err := sheet.Write("招商线索", leadColumns, rows)
	if err != nil {
		return err
	}
	return sheet.Serve(w, "招商线索-"+stamp()+".xlsx", b)
}

// importLeads creates new leads at 线索 (the 阶段 column is informational:
// stages change only through moves).
func (m *Module) importLeads(w http.ResponseWriter, r *http.Request) error {
	rows, commit, err := sheet.ReadRequest(r, leadColumns, maxImportRows)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	rep := &sheet.Report{Rows: rows}
	var payload leadImport
	for i := range rows {
		v := rows[i].Values
		errs := map[string]string{}
		in := LeadInput{Name: v["name"], Company: v["company"], Industry: v["industry"], Source: v["source"], Note: v["note"], DeptID: p.DeptID}
		sheet.Int(v, "probability", &in.Probability, errs)
		sheet.Float(v, "expected_investment", &in.ExpectedInvestment, errs)
		if code := strings.ToUpper(v["credit_code"]); code != "" {
			if msg := ValidateCreditCode(code); msg != "" {
				errs["credit_code"] = msg
			} else if err := m.st.DB().QueryRowContext(r.Context(), `SELECT id FROM investment_enterprise WHERE credit_code = ?`, code).Scan(&in.EnterpriseID); err != nil {
				errs["credit_code"] = "no enterprise with this credit code in the library"
			}
		}
		if s := v["stage"]; s != "" && s != Stages[0] {
			if _, err := strconv.Atoi(s); err == nil || stageIndex(strings.TrimSuffix(s, "（丢失）")) < 0 {
				errs["stage"] = "must be a pipeline stage"
			}
		}
		for k, msg := range in.Check() {
			if _, has := errs[k]; !has {
				errs[k] = msg
			}
		}
		rows[i].Errors = errs
		payload.Rows = append(payload.Rows, in)
	}
	rep.Finish()
	if !commit || rep.Invalid > 0 || rep.Valid == 0 {
		return httpapi.JSON(w, http.StatusOK, rep)
	}
	if _, err := httpapi.Apply(r, m.st, CmdLeadImport, 1, payload); err != nil {
		return err
	}
	rep.Applied = true
	return httpapi.JSON(w, http.StatusOK, rep)
}
