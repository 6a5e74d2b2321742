package investment

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/projects"
	"github.com/yiwang/yiwang/app/sla"
)

// TestEndToEnd drives the whole story through the HTTP API: an enterprise,
// a lead through the pipeline (illegal move refused), signed → major
// project linked both ways, the two-level review, a monthly report behind
// plan turning the project yellow then red, a problem-list issue 交办 and
// the shared sla scheduler issuing 督办 once it is overdue, and the letters.
func TestEndToEnd(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	year := time.Now().In(sla.China).Year()

	// Enterprise library: a bad code is refused with the reason.
	code, body := e.do("zs", "POST", "/api/v1/enterprises", EnterpriseInput{CreditCode: "91110000600037341M", Name: "坏代码企业"})
	if code != http.StatusBadRequest || !contains(body, "校验位") {
		t.Fatalf("bad credit code: %d %s", code, body)
	}
	var ent Enterprise
	e.must(201, "zs", "POST", "/api/v1/enterprises", EnterpriseInput{CreditCode: "91350100M000100Y43", Name: "闽星新材料有限公司", Industry: "新材料",
		Scale: "大型", Region: "福州", ContactName: "林经理", ContactPhone: "13812345678", Tags: []string{"链主", "外资"}}, &ent)
	var seen Enterprise
	e.must(200, "viewer", "GET", fmt.Sprintf("/api/v1/enterprises/%d", ent.ID), nil, &seen)
	if seen.ContactPhone != "138****5678" || !seen.PhoneMasked {
		t.Fatalf("viewer sees phone %q", seen.ContactPhone)
	}
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/enterprises/%d", ent.ID), nil, &seen)
	if seen.ContactPhone != "13812345678" {
		t.Fatalf("handler sees phone %q", seen.ContactPhone)
	}

	// Lead pipeline.
	var lead Lead
	e.must(201, "zs", "POST", "/api/v1/leads", LeadInput{Name: "闽星新材料年产5万吨项目", EnterpriseID: ent.ID, Industry: "新材料", Probability: 40, ExpectedInvestment: 50000}, &lead)
	if lead.Stage != "线索" || lead.DeptID != e.depts["招商局"] {
		t.Fatalf("lead %+v", lead)
	}
	code, body = e.do("zs", "POST", fmt.Sprintf("/api/v1/leads/%d/move", lead.ID), MoveInput{To: "签约"})
	if code != http.StatusConflict || !contains(body, `"allowed":["接洽","丢失"]`) {
		t.Fatalf("illegal move: %d %s", code, body)
	}
	code, body = e.do("zs", "POST", fmt.Sprintf("/api/v1/leads/%d/project", lead.ID), ProjectInput{})
	if code != http.StatusConflict {
		t.Fatalf("project from unsigned lead: %d %s", code, body)
	}
	for _, to := range []string{"接洽", "考察", "洽谈", "签约"} {
		e.must(200, "zs", "POST", fmt.Sprintf("/api/v1/leads/%d/move", lead.ID), MoveInput{To: to}, &lead)
	}
	if lead.SignedAt == "" {
		t.Fatal("signed_at not set")
	}
	e.must(201, "zs", "POST", fmt.Sprintf("/api/v1/leads/%d/visits", lead.ID), VisitInput{Kind: "考察", Date: "2026-01-05", Summary: "赴福州考察总部", RemindAt: "2000-01-01"}, nil)
	var rem []Reminder
	e.must(200, "zs", "GET", "/api/v1/investment/reminders", nil, &rem)
	if len(rem) != 1 || !rem[0].Overdue {
		t.Fatalf("reminders %+v", rem)
	}

	// Signed lead → major project, linked both ways, idempotent.
	var tp ToProjectOutput
	e.must(201, "zs", "POST", fmt.Sprintf("/api/v1/leads/%d/project", lead.ID), ProjectInput{OwnerName: "王科长", PlanStart: fmt.Sprintf("%d-03-01", year)}, &tp)
	if tp.Project.LeadID != lead.ID || tp.Lead.ProjectID != tp.Project.ID || tp.Project.Stage != projects.StagePlanning || tp.Project.TotalInvestment != 50000 {
		t.Fatalf("to project: lead %+v project %+v", tp.Lead, tp.Project)
	}
	var again ToProjectOutput
	e.must(201, "zs", "POST", fmt.Sprintf("/api/v1/leads/%d/project", lead.ID), ProjectInput{}, &again)
	if again.Project.ID != tp.Project.ID {
		t.Fatalf("second call made project %d, first %d", again.Project.ID, tp.Project.ID)
	}
	pid := tp.Project.ID
	var det struct {
		projects.Project
		Issues []projects.Issue `json:"issues"`
	}
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/projects/%d", pid), nil, &det)
	if det.LeadID != lead.ID {
		t.Fatalf("project lead_id %d", det.LeadID)
	}
	var ld LeadDetail
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/leads/%d", lead.ID), nil, &ld)
	if ld.ProjectID != pid {
		t.Fatalf("lead project_id %d", ld.ProjectID)
	}
	// Another department's handler cannot see the project (data scope).
	if code, _ := e.do("fg", "GET", fmt.Sprintf("/api/v1/projects/%d", pid), nil); code != http.StatusNotFound {
		t.Fatalf("out of scope read: %d", code)
	}

	// Two-level review into 储备: 初审 and 复审 by different reviewers.
	var pr projects.Project
	e.must(200, "zs", "POST", fmt.Sprintf("/api/v1/projects/%d/submit", pid), projects.SubmitInput{Target: "储备"}, &pr)
	if code, _ := e.do("zs", "POST", fmt.Sprintf("/api/v1/projects/%d/review", pid), projects.ReviewInput{Approve: true}); code != http.StatusForbidden {
		t.Fatalf("handler review: %d", code)
	}
	e.must(200, "commander", "POST", fmt.Sprintf("/api/v1/projects/%d/review", pid), projects.ReviewInput{Approve: true, Comment: "初审通过"}, &pr)
	if pr.Stage != "谋划" || pr.ReviewLevel != 1 {
		t.Fatalf("after 初审 %+v", pr)
	}
	if code, b := e.do("commander", "POST", fmt.Sprintf("/api/v1/projects/%d/review", pid), projects.ReviewInput{Approve: true}); code != http.StatusConflict {
		t.Fatalf("same reviewer 复审: %d %s", code, b)
	}
	e.must(200, "leader", "POST", fmt.Sprintf("/api/v1/projects/%d/review", pid), projects.ReviewInput{Approve: true, Comment: "复审通过"}, &pr)
	if pr.Stage != "储备" {
		t.Fatalf("after 复审 stage %s", pr.Stage)
	}
	code, body = e.do("zs", "POST", fmt.Sprintf("/api/v1/projects/%d/transition", pid), projects.TransitionInput{To: "建设"})
	if code != http.StatusConflict || !contains(body, `"allowed":["submit:开工","退库"]`) {
		t.Fatalf("illegal transition: %d %s", code, body)
	}

	// Plan 100 万元 a month; January 85 → 15 % behind → yellow; February
	// 30 → 42.5 % behind → red.
	var months [12]float64
	for i := range months {
		months[i] = 100
	}
	e.must(200, "zs", "PUT", fmt.Sprintf("/api/v1/projects/%d/plan", pid), projects.PlanInput{Year: year, Months: months}, &pr)
	e.must(200, "zs", "POST", fmt.Sprintf("/api/v1/projects/%d/reports", pid), projects.ReportInput{Year: year, Month: 1, Amount: 85}, &pr)
	if pr.Status != projects.Yellow || pr.CumPlan != 100 || pr.CumDone != 85 {
		t.Fatalf("after January: %s %v plan %v done %v", pr.Status, pr.StatusReasons, pr.CumPlan, pr.CumDone)
	}
	e.must(200, "zs", "POST", fmt.Sprintf("/api/v1/projects/%d/reports", pid), projects.ReportInput{Year: year, Month: 2, Amount: 30}, &pr)
	if pr.Status != projects.Red || !strings.Contains(strings.Join(pr.StatusReasons, ";"), "42.50%") {
		t.Fatalf("after February: %s %v", pr.Status, pr.StatusReasons)
	}
	var rows []projects.MonthRow
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/projects/%d/reports?year=%d", pid, year), nil, &rows)
	if rows[1].CumDone != 115 || rows[1].CumPlan != 200 || rows[1].Rate != 0.575 {
		t.Fatalf("February row %+v", rows[1])
	}
	// February catches up: 115 → 185 of 200 (7.5 % behind): green again.
	e.must(200, "zs", "POST", fmt.Sprintf("/api/v1/projects/%d/reports", pid), projects.ReportInput{Year: year, Month: 2, Amount: 100}, &pr)
	if pr.Status != projects.Green {
		t.Fatalf("after catching up: %s %v", pr.Status, pr.StatusReasons)
	}

	// Problem list: 交办 with 1 working day; the sla scheduler (driven at a
	// chosen instant) issues 督办 once, and the project turns yellow.
	var is projects.Issue
	e.must(201, "zs", "POST", fmt.Sprintf("/api/v1/projects/%d/issues", pid), projects.IssueInput{Title: "用地指标未落实", DeptID: e.depts["发改局"],
		Limit: sla.Limit{Value: 1, Unit: sla.WorkDays}}, &is)
	if is.Level != "交办" || !is.Deadline.After(is.Start) {
		t.Fatalf("issue %+v", is)
	}
	// The owner department sees the issue it was assigned.
	if code, b := e.do("fg", "GET", fmt.Sprintf("/api/v1/project-issues/%d", is.ID), nil); code != 200 {
		t.Fatalf("owner department read: %d %s", code, b)
	}
	n, err := e.sla.Scan(ctx, is.Start.Add(time.Minute))
	if err != nil || n != 0 {
		t.Fatalf("early scan: %d %v", n, err)
	}
	late := is.Deadline.Add(time.Hour)
	if n, err = e.sla.Scan(ctx, late); err != nil || n != 1 {
		t.Fatalf("overdue scan: %d %v", n, err)
	}
	if n, err = e.sla.Scan(ctx, late.Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("repeat scan: %d %v", n, err)
	}
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/project-issues/%d", is.ID), nil, &is)
	if is.Level != "督办" || !is.Supervised || is.Log[len(is.Log)-1].Action != "督办" || is.Log[len(is.Log)-1].Actor != "system:sla" {
		t.Fatalf("after scan %+v", is)
	}
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/projects/%d", pid), nil, &det)
	if det.Status != projects.Yellow || !strings.Contains(strings.Join(det.StatusReasons, ";"), "超期未办结问题 1 个") {
		t.Fatalf("project after 督办: %s %v", det.Status, det.StatusReasons)
	}
	// 督查 needs project.supervise; the leader has it.
	if code, _ := e.do("zs", "POST", fmt.Sprintf("/api/v1/project-issues/%d/actions", is.ID), projects.IssueAction{Action: "督查"}); code != http.StatusForbidden {
		t.Fatalf("handler 督查: %d", code)
	}
	e.must(200, "leader", "POST", fmt.Sprintf("/api/v1/project-issues/%d/actions", is.ID), projects.IssueAction{Action: "督查", Note: "现场督查"}, &is)
	code, body = e.do("leader", "POST", fmt.Sprintf("/api/v1/project-issues/%d/actions", is.ID), projects.IssueAction{Action: "催办"})
	if code != http.StatusConflict || !contains(body, `"allowed":["督查","办结"]`) {
		t.Fatalf("downgrade: %d %s", code, body)
	}

	// The 督办函 as .docx.
	code, body = e.do("zs", "GET", fmt.Sprintf("/api/v1/project-issues/%d/letter?kind=督办", is.ID), nil)
	if code != 200 {
		t.Fatalf("letter: %d %s", code, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("letter is not a zip: %v", err)
	}
	found := false
	for _, f := range zr.File {
		if f.Name == "word/document.xml" {
			rc, _ := f.Open()
			x, _ := io.ReadAll(rc)
			rc.Close()
			found = bytes.Contains(x, []byte("重大项目问题督办函")) && bytes.Contains(x, []byte("用地指标未落实")) && bytes.Contains(x, []byte("发改局"))
		}
	}
	if !found {
		t.Fatal("word/document.xml lacks the letter text")
	}

	// 办结 closes the issue; the project is green again.
	e.must(200, "fg", "POST", fmt.Sprintf("/api/v1/project-issues/%d/actions", is.ID), projects.IssueAction{Action: "办结", Result: "指标已下达"}, &is)
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/projects/%d", pid), nil, &det)
	if det.Status != projects.Green || is.Status != "closed" {
		t.Fatalf("after 办结: %s %v / %s", det.Status, det.StatusReasons, is.Status)
	}

	// Ranking and dashboard.
	var ranks []projects.Rank
	e.must(200, "leader", "GET", "/api/v1/project-ranking", nil, &ranks)
	if len(ranks) != 1 || ranks[0].DeptName != "招商局" || ranks[0].Rank != 1 {
		t.Fatalf("ranking %+v", ranks)
	}
	var dash Dashboard
	e.must(200, "leader", "GET", "/api/v1/investment/dashboard", nil, &dash)
	signed := 0.0
	for _, mo := range dash.Months {
		signed += mo.SignedInvestment
	}
	if dash.Pipeline[4].Stage != "签约" || dash.Pipeline[4].Count != 1 || signed != 50000 {
		t.Fatalf("dashboard %+v", dash)
	}
}
