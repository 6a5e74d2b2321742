package investment

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/yiwang/yiwang/app/projects"
	"github.com/yiwang/yiwang/app/projects/sheet"
)

func editSheet(t *testing.T, body []byte, edit func(f *excelize.File, sheet string)) []byte {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	edit(f, f.GetSheetList()[0])
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func count(t *testing.T, e *env, path string) int {
	var page struct {
		Total int `json:"total"`
	}
	e.must(200, "admin", "GET", path, nil, &page)
	return page.Total
}

// Export, edit, import with preview: a sheet with bad rows writes nothing
// (even with commit=true) until every row is fixed.
func TestEnterpriseExcelRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.must(201, "zs", "POST", "/api/v1/enterprises", EnterpriseInput{CreditCode: "91110000600037341L", Name: "中国石油天然气股份有限公司", Scale: "大型", ContactPhone: "010-59986223"}, nil)
	code, body := e.do("zs", "GET", "/api/v1/enterprises/export", nil)
	if code != 200 {
		t.Fatalf("export: %d %s", code, body)
	}
	// Re-importing the export unchanged: the existing code is a duplicate.
	var rep sheet.Report
	e.must(200, "zs", "POST", "/api/v1/enterprises/import?commit=true", body, &rep)
	if rep.Applied || rep.Invalid != 1 || rep.Rows[0].Errors["credit_code"] == "" {
		t.Fatalf("re-import: %+v", rep)
	}
	// Edit: replace row 2 with a new valid enterprise, add a row with a
	// corrupted code and one with a bad scale.
	bad := editSheet(t, body, func(f *excelize.File, s string) {
		_ = f.SetSheetRow(s, "A2", &[]any{"91350100M000100Y43", "闽星新材料有限公司", "新材料", "中型", "福州", "否", "", "林经理", "13812345678", "新材料、外资", ""})
		_ = f.SetSheetRow(s, "A3", &[]any{"91350100M000100Y44", "校验位错误企业"})
		_ = f.SetSheetRow(s, "A4", &[]any{"91320500MA1MXXXX1X", "规模错误企业", "", "超大型"})
	})
	e.must(200, "zs", "POST", "/api/v1/enterprises/import?commit=true", bad, &rep)
	if rep.Applied || rep.Valid != 1 || rep.Invalid != 2 || rep.Rows[1].Errors["credit_code"] == "" || rep.Rows[2].Errors["scale"] == "" {
		t.Fatalf("bad sheet: %+v", rep)
	}
	if n := count(t, e, "/api/v1/enterprises"); n != 1 {
		t.Fatalf("bad sheet wrote rows: %d enterprises", n)
	}
	// Fix: drop the bad rows; preview first (nothing written), then commit.
	good := editSheet(t, bad, func(f *excelize.File, s string) {
		_ = f.RemoveRow(s, 4)
		_ = f.RemoveRow(s, 3)
	})
	e.must(200, "zs", "POST", "/api/v1/enterprises/import", good, &rep)
	if rep.Applied || rep.Valid != 1 || rep.Invalid != 0 || count(t, e, "/api/v1/enterprises") != 1 {
		t.Fatalf("preview: %+v", rep)
	}
	e.must(200, "zs", "POST", "/api/v1/enterprises/import?commit=true", good, &rep)
	if !rep.Applied || count(t, e, "/api/v1/enterprises") != 2 {
		t.Fatalf("commit: %+v", rep)
	}
	var page struct {
		Items []Enterprise `json:"items"`
	}
	e.must(200, "zs", "GET", "/api/v1/enterprises?tag=外资", nil, &page)
	if len(page.Items) != 1 || page.Items[0].Scale != "中型" || page.Items[0].ContactPhone != "13812345678" {
		t.Fatalf("imported %+v", page.Items)
	}
	// A viewer's export has masked phones; importing them is refused.
	_, vbody := e.do("viewer", "GET", "/api/v1/enterprises/export", nil)
	edited := editSheet(t, vbody, func(f *excelize.File, s string) {
		_ = f.SetCellValue(s, "A2", "91110108551385082Q")
	})
	e.must(200, "zs", "POST", "/api/v1/enterprises/import", edited, &rep)
	if rep.Rows[0].Errors["contact_phone"] == "" {
		t.Fatalf("masked phone accepted: %+v", rep.Rows[0])
	}
}

func TestParkAndLeadExcel(t *testing.T) {
	e := newEnv(t)
	var park Park
	e.must(201, "zs", "POST", "/api/v1/parks", ParkInput{Name: "示范县经开区", Kind: "园区", TotalArea: 100000, VacantArea: 30000, Price: 20, PriceUnit: "万元/亩"}, &park)
	e.must(201, "zs", "POST", fmt.Sprintf("/api/v1/parks/%d/spaces", park.ID), SpaceInput{Name: "A-3 地块", Kind: "地块", Area: 20000, VacantArea: 20000, Price: 20}, nil)
	e.must(201, "zs", "POST", "/api/v1/leads", LeadInput{Name: "光伏组件项目", ParkID: park.ID, Probability: 30, ExpectedInvestment: 8000}, nil)
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/parks/%d", park.ID), nil, &park)
	if len(park.Spaces) != 1 || len(park.Leads) != 1 {
		t.Fatalf("park %+v", park)
	}
	if code, _ := e.do("zs", "PUT", fmt.Sprintf("/api/v1/parks/%d", park.ID), ParkInput{Name: "示范县经开区", Kind: "园区", TotalArea: 100, VacantArea: 200}); code != http.StatusBadRequest {
		t.Fatalf("vacancy above area: %d", code)
	}
	var upd Park
	e.must(200, "zs", "PUT", fmt.Sprintf("/api/v1/parks/%d", park.ID), ParkInput{Name: "示范县经开区", Kind: "园区", TotalArea: 100000, VacantArea: 10000, Price: 22, PriceUnit: "万元/亩"}, &upd)
	if upd.VacantArea != 10000 || upd.Price != 22 {
		t.Fatalf("park update %+v", upd)
	}
	_, body := e.do("zs", "GET", "/api/v1/parks/export", nil)
	bad := editSheet(t, body, func(f *excelize.File, s string) {
		_ = f.SetSheetRow(s, "A2", &[]any{"科创园", "载体", "", 5000, 6000})
		_ = f.SetSheetRow(s, "A3", &[]any{"物流园", "园区", "", 8000, 1000, 12})
	})
	var rep sheet.Report
	e.must(200, "zs", "POST", "/api/v1/parks/import?commit=true", bad, &rep)
	if rep.Applied || rep.Rows[0].Errors["vacant_area"] == "" {
		t.Fatalf("bad parks: %+v", rep)
	}
	good := editSheet(t, bad, func(f *excelize.File, s string) { _ = f.SetCellValue(s, "E2", 500) })
	e.must(200, "zs", "POST", "/api/v1/parks/import?commit=true", good, &rep)
	if !rep.Applied {
		t.Fatalf("good parks: %+v", rep)
	}
	var parks []Park
	e.must(200, "zs", "GET", "/api/v1/parks", nil, &parks)
	if len(parks) != 3 {
		t.Fatalf("%d parks", len(parks))
	}

	_, body = e.do("zs", "GET", "/api/v1/leads/export", nil)
	bad = editSheet(t, body, func(f *excelize.File, s string) {
		_ = f.SetSheetRow(s, "A3", &[]any{"储能电池项目", "某某能源", "91110000600037341L", "新能源", "展会", 150})
	})
	e.must(200, "zs", "POST", "/api/v1/leads/import?commit=true", bad, &rep)
	if rep.Applied || rep.Rows[1].Errors["credit_code"] == "" || rep.Rows[1].Errors["probability"] == "" || count(t, e, "/api/v1/leads") != 1 {
		t.Fatalf("bad leads: %+v", rep)
	}
}

// The project list and monthly reports round-trip through Excel too.
func TestProjectExcelRoundTrip(t *testing.T) {
	e := newEnv(t)
	var p projects.Project
	e.must(201, "zs", "POST", "/api/v1/projects", projects.ProjectInput{Name: "城南污水处理厂", Type: "基础设施", TotalInvestment: 12000, DeptID: e.depts["招商局"], PlanStart: "2026-03-01", PlanFinish: "2027-12-31"}, &p)
	code, body := e.do("zs", "GET", "/api/v1/project-export", nil)
	if code != 200 {
		t.Fatalf("export %d", code)
	}
	bad := editSheet(t, body, func(f *excelize.File, s string) {
		_ = f.SetSheetRow(s, "A3", &[]any{"", "县医院新院区", "社会民生", "", "", "", "", "", "", "30000", "不存在的局"})
		_ = f.SetSheetRow(s, "A4", &[]any{"", "", "", "", "", "", "", "", "", "abc", "招商局", "", "", "2026-13-01"})
	})
	var rep sheet.Report
	e.must(200, "zs", "POST", "/api/v1/project-import?commit=true", bad, &rep)
	if rep.Applied || rep.Invalid != 3 {
		t.Fatalf("bad projects: %+v", rep)
	}
	if rep.Rows[0].Errors["code"] == "" || rep.Rows[1].Errors["department"] == "" || rep.Rows[2].Errors["name"] == "" || rep.Rows[2].Errors["total_investment"] == "" || rep.Rows[2].Errors["plan_start"] == "" {
		t.Fatalf("row errors: %+v", rep.Rows)
	}
	if n := count(t, e, "/api/v1/projects"); n != 1 {
		t.Fatalf("bad sheet wrote: %d", n)
	}
	good := editSheet(t, bad, func(f *excelize.File, s string) {
		_ = f.RemoveRow(s, 4)
		_ = f.RemoveRow(s, 2)
		_ = f.SetCellValue(s, "K2", "招商局")
	})
	e.must(200, "zs", "POST", "/api/v1/project-import?commit=true", good, &rep)
	if !rep.Applied || count(t, e, "/api/v1/projects") != 2 {
		t.Fatalf("good projects: %+v", rep)
	}
	var months [12]float64
	months[0] = 50
	e.must(200, "zs", "PUT", fmt.Sprintf("/api/v1/projects/%d/plan", p.ID), projects.PlanInput{Year: 2026, Months: months}, nil)
	e.must(200, "zs", "POST", fmt.Sprintf("/api/v1/projects/%d/reports", p.ID), projects.ReportInput{Year: 2026, Month: 1, Amount: 40}, nil)
	code, body = e.do("zs", "GET", "/api/v1/project-reports/export?year=2026", nil)
	if code != http.StatusOK {
		t.Fatalf("reports export %d", code)
	}
	f, err := excelize.OpenReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows(f.GetSheetList()[0])
	if len(rows) != 2 || rows[1][3] != "2026-01" || rows[1][5] != "40" || rows[1][8] != "80.00%" {
		t.Fatalf("report rows %v", rows)
	}
}

func TestChainGaps(t *testing.T) {
	e := newEnv(t)
	var chain struct {
		ID int64 `json:"id"`
	}
	e.must(201, "zs", "POST", "/api/v1/chains", ChainInput{Name: "新能源电池"}, &chain)
	node := func(name, tier string, w float64, ext bool) int64 {
		var n struct {
			ID int64 `json:"id"`
		}
		e.must(201, "zs", "POST", fmt.Sprintf("/api/v1/chains/%d/nodes", chain.ID), NodeInput{Name: name, Tier: tier, Weight: w, Extension: ext}, &n)
		return n.ID
	}
	ent := func(code, name, scale string, local bool) int64 {
		var x Enterprise
		e.must(201, "zs", "POST", "/api/v1/enterprises", EnterpriseInput{CreditCode: code, Name: name, Scale: scale, Local: local}, &x)
		return x.ID
	}
	cathode := node("正极材料", "上游", 8, false)
	cell := node("电芯制造", "中游", 10, false)
	recycle := node("电池回收", "下游", 5, true)
	local := ent("91110000600037341L", "本地材料厂", "中型", true)
	big := ent("91350100M000100Y43", "目标大企业", "大型", false)
	small := ent("91110108551385082Q", "目标小企业", "小型", false)
	link := func(nodeID, entID int64, role string, leader bool) {
		e.must(200, "zs", "POST", fmt.Sprintf("/api/v1/chain-nodes/%d/enterprises", nodeID), LinkInput{EnterpriseID: entID, Role: role, ChainLeader: leader}, nil)
	}
	link(cathode, local, "local", false)
	link(cell, small, "target", false)
	link(cell, big, "target", true)
	link(recycle, small, "target", false)
	var gaps []Gap
	e.must(200, "viewer", "GET", fmt.Sprintf("/api/v1/chains/%d/gaps", chain.ID), nil, &gaps)
	// 电芯制造: 1×10/10 + 2×1 + 0.5 = 3.5 (补链); 电池回收: 0.5 + 2 + 0.5 = 3 (延链);
	// 正极材料: 0.8 + 2×(2/3) + 0.5 = 2.633 (强链).
	if len(gaps) != 3 || gaps[0].Node != "电芯制造" || gaps[0].Kind != "补链" || gaps[0].Score != 3.5 ||
		gaps[1].Kind != "延链" || gaps[1].Score != 3 || gaps[2].Kind != "强链" || gaps[2].Score != 2.633 {
		t.Fatalf("gaps %+v", gaps)
	}
	// Targets: the big 链主 first (3.5 × 1 × 1.5), then the small one (3.5 × 0.4).
	if gaps[0].Targets[0].Name != "目标大企业" || gaps[0].Targets[0].Score != 5.25 || gaps[0].Targets[1].Score != 1.4 {
		t.Fatalf("targets %+v", gaps[0].Targets)
	}
	// The weights are configurable.
	w := DefaultGapWeights()
	w.Absence, w.NoLeader = 0, 0
	e.must(200, "zs", "PUT", "/api/v1/investment/gap-weights", w, nil)
	e.must(200, "viewer", "GET", fmt.Sprintf("/api/v1/chains/%d/gaps", chain.ID), nil, &gaps)
	if gaps[0].Score != 1 || gaps[1].Node != "正极材料" {
		t.Fatalf("reweighted %+v", gaps)
	}
	var chains []Chain
	e.must(200, "viewer", "GET", "/api/v1/chains", nil, &chains)
	if chains[0].Covered != 1 || len(chains[0].Nodes) != 3 {
		t.Fatalf("coverage %+v", chains[0])
	}
}
