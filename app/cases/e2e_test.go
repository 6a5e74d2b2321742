package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
)

func evalRow(t *testing.T, e *env, dim, key string) EvalRow {
	t.Helper()
	var ev Evaluation
	e.must("GET", "/api/v1/cases/evaluation?dim="+dim+"&month="+thisMonth(), "operator", nil, 200, &ev)
	for _, r := range ev.Items {
		if r.Key == key {
			return r
		}
	}
	return EvalRow{Key: key}
}

func TestEndToEnd(t *testing.T) {
	e := newEnv(t, Options{})
	ctx := context.Background()
	cg, sw := e.depts["城管局"], e.depts["水务局"]

	// 权责清单: 暴露垃圾 in township A → 城管局.
	var rule Rule
	e.must("POST", "/api/v1/cases/rules", "commander", Rule{CategoryCode: "E0102", GridPrefix: "139999001", DeptID: cg}, 201, &rule)
	e.must("POST", "/api/v1/cases/rules", "operator", Rule{CategoryCode: "E0102", DeptID: cg}, 403, nil)

	// Evaluation before: nothing for 城管局.
	if r := evalRow(t, e, DimDept, itoa(cg)); r.Handled != 0 || r.Closed != 0 {
		t.Fatalf("evaluation before %+v", r)
	}

	// 1. A sensor alarm opens a case, idempotently.
	alarm := AlarmInput{AlarmID: "A-1001", CategoryCode: "C0101", Title: "井盖倾斜告警", DeviceID: "dev-7", ComponentID: "1399990010100001",
		GridCode: gridA1, Address: "人民路 1 号", Lat: 30.001, Lng: 120.001, Severity: "major", RaisedAt: time.Now()}
	alarmCase, err := e.m.OpenFromAlarm(ctx, alarm)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.m.OpenFromAlarm(ctx, alarm)
	if err != nil || again != alarmCase {
		t.Fatalf("alarm not idempotent: %d vs %d (%v)", again, alarmCase, err)
	}
	d := e.detail(alarmCase, "operator")
	if d.State != StateCollected || d.Source != SourceSensor || d.CategoryCode != "C0101" || d.Stage != "register" || d.StageDeadline.IsZero() {
		t.Fatalf("alarm case %+v", d.Case)
	}
	if err := e.m.NoteAlarmCleared(ctx, alarmCase, "A-1001", time.Now(), ""); err != nil {
		t.Fatal(err)
	}
	if err := e.m.NoteAlarmCleared(ctx, alarmCase, "A-1001", time.Now(), ""); err != nil {
		t.Fatal(err)
	}
	if d := e.detail(alarmCase, "operator"); len(d.Steps) != 2 || !strings.Contains(d.Steps[1].Note, "告警已解除") {
		t.Fatalf("alarm cleared note: %+v", d.Steps)
	}
	// No rule for 井盖: registering leaves it in the dispatch centre's queue.
	e.act(alarmCase, ActRegister, "operator", ActionInput{}, 200)
	var q httpapi.Page[Case]
	e.must("GET", "/api/v1/cases?queue=dispatch", "operator", nil, 200, &q)
	if q.Total != 1 || q.Items[0].ID != alarmCase || q.Items[0].State != StateRegistered {
		t.Fatalf("dispatch queue %+v", q)
	}
	e.act(alarmCase, ActDispatch, "operator", ActionInput{}, 400) // no rule, no department
	e.act(alarmCase, ActDispatch, "operator", ActionInput{DeptID: sw, Note: "水务局处置"}, 200)

	// 2. A grid worker reports with a photo and location; registering
	// dispatches it by the rule.
	photo := pngBytes(t, 8, 8)
	before, r := e.upload("gwa", "before", photo)
	if r.code != 201 || before.MIME != "image/png" || before.Size != int64(len(photo)) {
		t.Fatalf("upload %d %s", r.code, r.body)
	}
	var c Case
	e.must("POST", "/api/v1/cases", "gwa", CaseInput{Title: "路边暴露垃圾", Source: SourceGrid, CategoryCode: "E0102", GridCode: gridA1,
		Lat: 30.002, Lng: 120.002, Address: "人民路 5 号", Attachments: []int64{before.ID}}, 201, &c)
	if c.State != StateCollected || c.TownshipCode != "139999001" {
		t.Fatalf("grid case %+v", c)
	}
	// Someone else cannot reuse the upload.
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "x", Source: SourceStaff, Attachments: []int64{before.ID}}, 400, nil)
	res := e.act(c.ID, ActRegister, "operator", ActionInput{}, 200)
	if res.Case.State != StateDispatched || res.Case.DeptID != cg || res.Case.Stage != "handle" || res.Case.Limit == nil {
		t.Fatalf("auto dispatch %+v", res.Case)
	}
	// 3. 城管局 handles it with an after photo.
	e.act(c.ID, ActAccept, "cg", ActionInput{}, 200)
	after, _ := e.upload("cg", "after", pngBytes(t, 9, 9))
	e.act(c.ID, ActFeedback, "cg", ActionInput{Note: "已清理", Attachments: []int64{after.ID}}, 200)
	// 4. The grid worker verifies, the centre closes, then evaluates.
	e.act(c.ID, ActVerify, "gwa", ActionInput{Note: "现场已恢复"}, 200)
	e.act(c.ID, ActClose, "cg", ActionInput{}, 403)
	e.act(c.ID, ActClose, "operator", ActionInput{}, 200)
	e.act(c.ID, ActEvaluate, "operator", ActionInput{Score: 5}, 200)

	d = e.detail(c.ID, "operator")
	wantActs := []string{"create", ActRegister, ActDispatch, ActAccept, ActFeedback, ActVerify, ActClose, ActEvaluate}
	if len(d.Steps) != len(wantActs) || d.State != StateEvaluated || d.Open {
		t.Fatalf("timeline %d steps, state %s", len(d.Steps), d.State)
	}
	for i, s := range d.Steps {
		if s.Action != wantActs[i] || s.Seq != i+1 || s.Actor == "" || s.At.IsZero() {
			t.Fatalf("step %d: %+v", i, s)
		}
	}
	if len(d.Attachments) != 2 || len(d.Steps[0].Attachments) != 1 || d.Steps[4].Attachments[0].Phase != "after" {
		t.Fatalf("attachments %+v", d.Attachments)
	}
	dl := e.must("GET", d.Attachments[0].URL, "gwa", nil, 200, nil)
	if !bytes.Equal(dl.body, photo) || dl.hdr.Get("Content-Type") != "image/png" {
		t.Fatalf("download %d bytes %s", len(dl.body), dl.hdr.Get("Content-Type"))
	}

	// 5. Evaluation figures changed.
	ev := evalRow(t, e, DimDept, itoa(cg))
	if ev.Registered != 1 || ev.Handled != 1 || ev.HandledOnTime != 1 || ev.Closed != 1 || ev.ClosedOnTime != 1 || ev.Score != 100 || ev.Rank != 1 || ev.Name != "城管局" {
		t.Fatalf("dept evaluation %+v", ev)
	}
	if tw := evalRow(t, e, DimTownship, "139999001"); tw.Registered != 2 || tw.Closed != 1 || tw.CloseRate != 0.5 || tw.Name != "甲镇" {
		t.Fatalf("township evaluation %+v", tw)
	}
	if ro := evalRow(t, e, DimRole, httpapi.RoleHandler); ro.Handled != 1 {
		t.Fatalf("role evaluation %+v", ro)
	}
	x := e.must("GET", "/api/v1/cases/evaluation.xlsx?dim=dept&month="+thisMonth(), "operator", nil, 200, nil)
	f, err := excelize.OpenReader(bytes.NewReader(x.body))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("综合评价")
	if len(rows) < 3 || rows[2][1] == "" {
		t.Fatalf("xlsx rows %v", rows)
	}
	e.must("GET", "/api/v1/cases/evaluation?month=2026-13", "operator", nil, 400, nil)

	// 6. The alarm case goes back (回退) and is re-dispatched: 回退率 moves.
	e.act(alarmCase, ActReturn, "sw", ActionInput{}, 400) // reason required
	e.act(alarmCase, ActReturn, "sw", ActionInput{Reason: "非本部门职责"}, 200)
	if r := evalRow(t, e, DimDept, itoa(sw)); r.Returned != 1 || r.ReturnRate != 1 {
		t.Fatalf("return figures %+v", r)
	}
	e.act(alarmCase, ActDispatch, "operator", ActionInput{DeptID: cg}, 200)
	e.act(alarmCase, ActReassign, "operator", ActionInput{DeptID: sw}, 400)
	e.act(alarmCase, ActReassign, "operator", ActionInput{DeptID: sw, Reason: "属供水管网"}, 200)
	// ...and is handled to the end with a photo: 水务局's figures change.
	swBefore := evalRow(t, e, DimDept, itoa(sw))
	e.act(alarmCase, ActAccept, "sw", ActionInput{}, 200)
	fixed, _ := e.upload("sw", "after", pngBytes(t, 10, 10))
	e.act(alarmCase, ActFeedback, "sw", ActionInput{Note: "井盖已复位", Attachments: []int64{fixed.ID}}, 200)
	e.act(alarmCase, ActRework, "gwa", ActionInput{Reason: "井盖仍松动"}, 200)
	e.act(alarmCase, ActFeedback, "sw", ActionInput{Note: "已更换井盖"}, 200)
	e.act(alarmCase, ActVerify, "gwa", ActionInput{}, 200)
	e.act(alarmCase, ActClose, "operator", ActionInput{}, 200)
	swAfter := evalRow(t, e, DimDept, itoa(sw))
	if swAfter.Handled != swBefore.Handled+2 || swAfter.Closed != swBefore.Closed+1 || swAfter.Reworked != 1 || swAfter.ReworkRate != 0.5 || swAfter.Score <= 0 {
		t.Fatalf("水务局 figures %+v -> %+v", swBefore, swAfter)
	}
	if d := e.detail(alarmCase, "sw"); d.State != StateClosed || d.Reworks != 1 || d.Returns != 1 || d.Reassigns != 1 || len(d.Attachments) != 1 {
		t.Fatalf("alarm case at the end %+v", d.Case)
	}

	// OpenAPI carries the routes.
	var doc map[string]any
	e.must("GET", "/api/openapi.json", "", nil, 200, &doc)
	paths, _ := doc["paths"].(map[string]any)
	for _, p := range []string{"/api/v1/cases", "/api/v1/cases/{id}/actions/{action}", "/open311/v2/requests.json", "/api/v1/sla/calendar"} {
		if _, ok := paths[p]; !ok {
			t.Errorf("openapi lacks %s", p)
		}
	}
}

func TestDataScope(t *testing.T) {
	e := newEnv(t, Options{})
	cg, sw := e.depts["城管局"], e.depts["水务局"]
	var a, b Case
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "A 网格垃圾", Source: SourceStaff, CategoryCode: "E0102", GridCode: gridA1, Lat: 30, Lng: 120, Register: true, DeptID: cg}, 201, &a)
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "B 网格积水", Source: SourceHotline, ExternalID: "12345-0001", CategoryCode: "E0405", GridCode: gridB1, Register: true, DeptID: sw,
		Reporter: "李四", ReporterPhone: "13900000000"}, 201, &b)
	// Reporters are personal data: handlers see them, viewers do not.
	if d := e.detail(b.ID, "sw"); d.ReporterPhone != "13900000000" {
		t.Fatalf("handler lacks the reporter: %+v", d.Case)
	}
	if d := e.detail(b.ID, "viewer"); d.ReporterPhone != "" || d.Reporter != "" {
		t.Fatalf("viewer sees the reporter: %+v", d.Case)
	}
	if a.State != StateDispatched || b.DeptID != sw {
		t.Fatalf("setup %+v %+v", a, b)
	}
	list := func(who string) []int64 {
		var p httpapi.Page[Case]
		e.must("GET", "/api/v1/cases", who, nil, 200, &p)
		var ids []int64
		for _, c := range p.Items {
			ids = append(ids, c.ID)
		}
		if len(ids) != p.Total {
			t.Fatalf("%s: total %d, items %d", who, p.Total, len(ids))
		}
		return ids
	}
	for who, want := range map[string][]int64{"operator": {b.ID, a.ID}, "cg": {a.ID}, "sw": {b.ID}, "gwa": {a.ID}, "gwb": {b.ID}} {
		if got := list(who); len(got) != len(want) || got[0] != want[0] {
			t.Errorf("%s sees %v, want %v", who, got, want)
		}
	}
	// Out of scope is not found, for reads and actions alike.
	e.must("GET", "/api/v1/cases/"+itoa(b.ID), "cg", nil, 404, nil)
	e.must("GET", "/api/v1/cases/"+itoa(a.ID), "gwb", nil, 404, nil)
	e.act(b.ID, ActAccept, "cg", ActionInput{}, 404)
	e.act(a.ID, ActAccept, "sw", ActionInput{}, 404)
	e.act(a.ID, ActAccept, "cg", ActionInput{}, 200)
	// Overdue and queue lists are scoped too.
	var od httpapi.Page[Case]
	e.must("GET", "/api/v1/cases/overdue", "cg", nil, 200, &od)
	e.must("GET", "/api/v1/cases?queue=handling", "sw", nil, 200, &od)
	if od.Total != 1 || od.Items[0].ID != b.ID {
		t.Fatalf("sw queue %+v", od)
	}
	// A grid worker cannot report outside their grid; a handler cannot report.
	e.must("POST", "/api/v1/cases", "gwa", CaseInput{Title: "x", Source: SourceGrid, GridCode: gridB1, Lat: 30, Lng: 120}, 400, nil)
	e.must("POST", "/api/v1/cases", "cg", CaseInput{Title: "x", Source: SourceStaff}, 403, nil)
	// Leader assignment needs case.assign; the leader has it.
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "交办", Source: SourceLeader}, 403, nil)
	e.must("POST", "/api/v1/cases", "leader", CaseInput{Title: "县长交办：修复路灯", Source: SourceLeader, ExternalID: "县交〔2026〕1号"}, 201, nil)
	// Attachments of an out-of-scope case are not served.
	e.must("GET", "/api/v1/cases/"+itoa(a.ID)+"/attachments/1", "sw", nil, 404, nil)
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, Options{MaxAttachment: 4096})
	// Oversize photo: 413, whether announced by Content-Length or not.
	_, r := e.upload("gwa", "before", pngBytes(t, 200, 200))
	if r.code != 413 {
		t.Fatalf("oversize: %d %s", r.code, r.body)
	}
	// Wrong type, whatever the header claims.
	_, r = e.upload("gwa", "before", []byte("#!/bin/sh\necho not a photo\n"))
	if r.code != 415 {
		t.Fatalf("wrong type: %d %s", r.code, r.body)
	}
	_, r = e.upload("gwa", "during", pngBytes(t, 4, 4))
	if r.code != 400 {
		t.Fatalf("bad phase: %d", r.code)
	}
	_, r = e.upload("viewer", "before", pngBytes(t, 4, 4))
	if r.code != 403 {
		t.Fatalf("viewer upload: %d", r.code)
	}
	var c Case
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "乱堆物料", Source: SourceStaff, CategoryCode: "E0108"}, 201, &c)
	// Illegal transition: 409 naming the allowed actions.
	r = e.req("POST", "/api/v1/cases/"+itoa(c.ID)+"/actions/close", "operator", ActionInput{}, "")
	if r.code != 409 || !strings.Contains(string(r.body), `"register"`) {
		t.Fatalf("illegal transition: %d %s", r.code, r.body)
	}
	if got := r.errBody().Allowed; strings.Join(got, ",") != strings.Join(Allowed(StateCollected), ",") {
		t.Fatalf("allowed %v", got)
	}
	// Missing reason.
	r = e.req("POST", "/api/v1/cases/"+itoa(c.ID)+"/actions/void", "operator", ActionInput{}, "")
	if r.code != 400 || r.errBody().Fields["reason"] == "" {
		t.Fatalf("missing reason: %d %s", r.code, r.body)
	}
	e.act(c.ID, "fly", "operator", ActionInput{}, 400)
	e.must("POST", "/api/v1/cases", "operator", map[string]any{"title": "x", "source": "staff", "bogus": 1}, 400, nil)
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "", Source: "mail"}, 400, nil)
	e.must("POST", "/api/v1/cases", "gwa", CaseInput{Title: "无位置", Source: SourceGrid, GridCode: gridA1}, 400, nil)
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "x", Source: SourceStaff, CategoryCode: "Z9999"}, 400, nil)
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "x", Source: SourceStaff, GridCode: "13999900900901"}, 400, nil)
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "x", Source: SourceHotline}, 400, nil)
	e.must("GET", "/api/v1/cases?bogus=1", "operator", nil, 400, nil)
	e.must("GET", "/api/v1/cases/999999", "operator", nil, 404, nil)
	// Registering needs a category; extension needs a value.
	var c2 Case
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "未分类", Source: SourceStaff}, 201, &c2)
	e.act(c2.ID, ActRegister, "operator", ActionInput{}, 400)
	e.act(c2.ID, ActRegister, "operator", ActionInput{CategoryCode: "E01"}, 400) // a 大类
	e.act(c2.ID, ActRegister, "operator", ActionInput{CategoryCode: "E0108", DeptID: e.depts["城管局"]}, 200)
	e.act(c2.ID, ActExtendRequest, "cg", ActionInput{Reason: "需要采购"}, 400)
	e.act(c2.ID, ActExtendRequest, "cg", ActionInput{Reason: "需要采购", Extension: &slaLimit2d}, 200)
	e.act(c2.ID, ActExtendRequest, "cg", ActionInput{Reason: "再延", Extension: &slaLimit2d}, 409)
	before := e.detail(c2.ID, "operator").HandleDeadline
	res := e.act(c2.ID, ActExtendApprove, "operator", ActionInput{}, 200)
	if !res.Case.HandleDeadline.After(before) || res.Case.Extension != nil {
		t.Fatalf("extension: %v -> %v", before, res.Case.HandleDeadline)
	}
	e.act(c2.ID, ActExtendApprove, "operator", ActionInput{}, 409)
	// The 立案条件 chosen at intake sets the 处置时限.
	var cats []Category
	e.must("GET", "/api/v1/cases/categories", "operator", nil, 200, &cats)
	var cond Condition
	for _, mj := range cats {
		for _, mn := range mj.Children {
			if mn.Code == "E0102" && len(mn.Conditions) == 2 {
				cond = mn.Conditions[1]
			}
		}
	}
	if cond.ID == 0 || cond.Limit.Unit != sla.WorkDays {
		t.Fatalf("E0102 conditions in %d 大类", len(cats))
	}
	var c3 Case
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "大面积垃圾", Source: SourceStaff, CategoryCode: "E0102", ConditionID: cond.ID,
		Register: true, DeptID: e.depts["城管局"]}, 201, &c3)
	if c3.ConditionID != cond.ID || c3.Limit == nil || *c3.Limit != cond.Limit || c3.State != StateDispatched {
		t.Fatalf("condition %+v on %+v", cond, c3)
	}
	// Merge: same category, nearby, open.
	var d1, d2, d3 Case
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "重复一", Source: SourceStaff, CategoryCode: "E0504", Lat: 30.0, Lng: 120.0}, 201, &d1)
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "重复二", Source: SourceStaff, CategoryCode: "E0504", Lat: 30.0005, Lng: 120.0005}, 201, &d2)
	e.must("POST", "/api/v1/cases", "operator", CaseInput{Title: "远处", Source: SourceStaff, CategoryCode: "E0504", Lat: 30.1, Lng: 120.1}, 201, &d3)
	var dup httpapi.Page[Case]
	e.must("GET", "/api/v1/cases/"+itoa(d2.ID)+"/duplicates", "operator", nil, 200, &dup)
	if dup.Total != 1 || dup.Items[0].ID != d1.ID {
		t.Fatalf("duplicates %+v", dup)
	}
	e.act(d3.ID, ActMerge, "operator", ActionInput{TargetID: d1.ID}, 409)
	e.act(d2.ID, ActMerge, "operator", ActionInput{TargetID: d2.ID}, 400)
	res = e.act(d2.ID, ActMerge, "operator", ActionInput{TargetID: d1.ID}, 200)
	if res.Case.State != StateMerged || res.Case.MergedInto != d1.ID {
		t.Fatalf("merge %+v", res.Case)
	}
	if st := e.detail(d1.ID, "operator").Steps; st[len(st)-1].Action != "merged_from" {
		t.Fatalf("target timeline %+v", st)
	}
}

func TestOpen311(t *testing.T) {
	e := newEnv(t, Options{})
	cl := e.srv.Client()
	base := e.srv.URL + "/open311/v2"
	getJSON := func(u string, want int, out any) {
		t.Helper()
		rs, err := cl.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Body.Close()
		if rs.StatusCode != want {
			t.Fatalf("GET %s: %d, want %d", u, rs.StatusCode, want)
		}
		if out != nil {
			if err := json.NewDecoder(rs.Body).Decode(out); err != nil {
				t.Fatal(err)
			}
		}
	}
	var svcs []Service
	getJSON(base+"/services.json", 200, &svcs)
	if len(svcs) < 50 {
		t.Fatalf("%d services", len(svcs))
	}
	var def ServiceDefinition
	getJSON(base+"/services/E0102.json", 200, &def)
	if def.ServiceCode != "E0102" {
		t.Fatalf("definition %+v", def)
	}
	var errs []Open311Error
	getJSON(base+"/services/NOPE.json", 404, &errs)
	if len(errs) != 1 || errs[0].Code != 404 {
		t.Fatalf("errors %+v", errs)
	}
	key := e.tokens["integrator"]
	post := func(form map[string]string) (int, []byte) {
		rs, err := cl.Post(base+"/requests.json", "application/x-www-form-urlencoded", strings.NewReader(formBody(form)))
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(rs.Body)
		return rs.StatusCode, b.Bytes()
	}
	code, body := post(map[string]string{"service_code": "E0102", "lat": "30.01", "long": "120.01", "description": "小区门口垃圾堆积", "first_name": "张", "last_name": "三"})
	if code != 401 {
		t.Fatalf("without key: %d %s", code, body)
	}
	code, _ = post(map[string]string{"api_key": "ywt_wrong", "service_code": "E0102", "lat": "30.01", "long": "120.01"})
	if code != 401 {
		t.Fatalf("bad key: %d", code)
	}
	code, _ = post(map[string]string{"api_key": key, "service_code": "E0102"})
	if code != 400 {
		t.Fatalf("no location: %d", code)
	}
	code, body = post(map[string]string{"api_key": key, "service_code": "E0102", "lat": "30.01", "long": "120.01", "address_string": "幸福路 8 号", "description": "小区门口垃圾堆积", "first_name": "张", "last_name": "三", "phone": "13800000000"})
	if code != 201 {
		t.Fatalf("post: %d %s", code, body)
	}
	var created []Open311Created
	if err := json.Unmarshal(body, &created); err != nil || len(created) != 1 || created[0].ServiceRequestID == "" {
		t.Fatalf("created %s", body)
	}
	id := created[0].ServiceRequestID
	var srs []ServiceRequest
	getJSON(base+"/requests/"+id+".json?api_key="+key, 200, &srs)
	if len(srs) != 1 || srs[0].Status != "open" || srs[0].ServiceCode != "E0102" || srs[0].ServiceName != "暴露垃圾" || srs[0].Lat == nil {
		t.Fatalf("request %+v", srs)
	}
	getJSON(base+"/requests/"+id+".json", 401, nil)
	getJSON(base+"/requests/99999.json?api_key="+key, 404, nil)
	getJSON(base+"/requests.json?status=open&api_key="+key, 200, &srs)
	if len(srs) != 1 {
		t.Fatalf("open requests %+v", srs)
	}
	// Handle it to the end: the request turns closed with notes.
	cid := mustInt(t, id)
	e.act(cid, ActRegister, "operator", ActionInput{DeptID: e.depts["城管局"]}, 200)
	e.act(cid, ActAccept, "cg", ActionInput{}, 200)
	e.act(cid, ActFeedback, "cg", ActionInput{Note: "已清运"}, 200)
	e.act(cid, ActVerify, "operator", ActionInput{}, 200)
	e.act(cid, ActClose, "operator", ActionInput{Note: "已办结"}, 200)
	getJSON(base+"/requests.json?service_request_id="+id+"&api_key="+key, 200, &srs)
	if len(srs) != 1 || srs[0].Status != "closed" || !strings.Contains(srs[0].StatusNotes, "已办结") || srs[0].AgencyResponsible != "城管局" {
		t.Fatalf("closed request %+v", srs)
	}
	getJSON(base+"/requests.json?status=open&api_key="+key, 200, &srs)
	if len(srs) != 0 {
		t.Fatalf("open after close %+v", srs)
	}
	getJSON(base+"/requests.json?status=pending&api_key="+key, 400, nil)
	// JSON bodies are accepted too, and a Bearer header works as the key.
	rq := e.req("POST", "/open311/v2/requests.json", "integrator", map[string]any{"service_code": "C0110", "address_string": "路灯 12 号", "description": "路灯不亮"}, "")
	if rq.code != 201 {
		t.Fatalf("json post %d %s", rq.code, rq.body)
	}
}

func mustInt(t *testing.T, s string) int64 {
	var n int64
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not an id: %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n
}
