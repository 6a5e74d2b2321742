package investment

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/projects"
	"github.com/yiwang/yiwang/app/sla"
)

// Leads are scoped by department and owner; 丢失 needs a reason and ends
// the pipeline.
func TestLeadScopeAndLost(t *testing.T) {
	e := newEnv(t)
	var lead Lead
	e.must(201, "zs", "POST", "/api/v1/leads", LeadInput{Name: "仓储物流园", Probability: 20, ExpectedInvestment: 6000}, &lead)
	var page struct {
		Total int `json:"total"`
	}
	e.must(200, "fg", "GET", "/api/v1/leads", nil, &page)
	if page.Total != 0 {
		t.Fatalf("other department sees %d leads", page.Total)
	}
	if code, _ := e.do("fg", "GET", fmt.Sprintf("/api/v1/leads/%d", lead.ID), nil); code != http.StatusNotFound {
		t.Fatalf("other department reads the lead: %d", code)
	}
	if code, _ := e.do("fg", "POST", fmt.Sprintf("/api/v1/leads/%d/move", lead.ID), MoveInput{To: "接洽"}); code != http.StatusNotFound {
		t.Fatalf("other department moves the lead: %d", code)
	}
	// Reassigning the owner to the other department's handler keeps the
	// department; moving it to 发改局 makes it visible there.
	var upd Lead
	e.must(200, "zs", "PUT", fmt.Sprintf("/api/v1/leads/%d", lead.ID), LeadInput{Name: "仓储物流园（二期）", Probability: 35, ExpectedInvestment: 9000, DeptID: e.depts["招商局"]}, &upd)
	if upd.Name != "仓储物流园（二期）" || upd.Probability != 35 || upd.Stage != "线索" || upd.OwnerID != lead.OwnerID {
		t.Fatalf("updated %+v", upd)
	}
	if code, _ := e.do("zs", "PUT", fmt.Sprintf("/api/v1/leads/%d", lead.ID), LeadInput{Name: "x", DeptID: e.depts["发改局"]}); code != http.StatusForbidden {
		t.Fatalf("moving the lead out of scope: %d", code)
	}
	e.must(200, "leader", "GET", "/api/v1/leads", nil, &page)
	if page.Total != 1 {
		t.Fatalf("county-wide leader sees %d", page.Total)
	}
	if code, b := e.do("zs", "POST", fmt.Sprintf("/api/v1/leads/%d/move", lead.ID), MoveInput{To: Lost}); code != http.StatusBadRequest {
		t.Fatalf("lost without reason: %d %s", code, b)
	}
	e.must(200, "zs", "POST", fmt.Sprintf("/api/v1/leads/%d/move", lead.ID), MoveInput{To: Lost, LostReason: "企业选址外省"}, &lead)
	if !lead.Lost || lead.LostReason != "企业选址外省" {
		t.Fatalf("lost %+v", lead)
	}
	code, b := e.do("zs", "POST", fmt.Sprintf("/api/v1/leads/%d/move", lead.ID), MoveInput{To: "接洽"})
	if code != http.StatusConflict || !contains(b, `"已丢失`) && !contains(b, "已丢失") {
		t.Fatalf("move after lost: %d %s", code, b)
	}
	var dash Dashboard
	e.must(200, "zs", "GET", "/api/v1/investment/dashboard", nil, &dash)
	if dash.Lost != 1 || dash.Pipeline[0].Count != 0 {
		t.Fatalf("dashboard %+v", dash)
	}
}

// The scheduler issues 催办 at the stored urge instant, then 督办 at the
// deadline, each exactly once; the overdue filter and the leader-issued
// recompute agree.
func TestIssueUrgeThenSupervise(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var p projects.Project
	e.must(201, "zs", "POST", "/api/v1/projects", projects.ProjectInput{Name: "产业园道路", DeptID: e.depts["招商局"], TotalInvestment: 3000}, &p)
	var is projects.Issue
	e.must(201, "zs", "POST", fmt.Sprintf("/api/v1/projects/%d/issues", p.ID), projects.IssueInput{Title: "征地拆迁滞后", DeptID: e.depts["甲镇"], Limit: sla.Limit{Value: 10, Unit: sla.WorkDays}}, &is)
	if !is.UrgeAt.After(is.Start) || !is.UrgeAt.Before(is.Deadline) {
		t.Fatalf("urge_at %v not between %v and %v", is.UrgeAt, is.Start, is.Deadline)
	}
	if n, err := e.sla.Scan(ctx, is.UrgeAt.Add(-time.Minute)); err != nil || n != 0 {
		t.Fatalf("before urge: %d %v", n, err)
	}
	if n, err := e.sla.Scan(ctx, is.UrgeAt); err != nil || n != 1 {
		t.Fatalf("urge: %d %v", n, err)
	}
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/project-issues/%d", is.ID), nil, &is)
	if is.Level != "催办" || !is.Urged || is.Supervised {
		t.Fatalf("after urge %+v", is)
	}
	if n, _ := e.sla.Scan(ctx, is.UrgeAt.Add(time.Hour)); n != 0 {
		t.Fatalf("urge repeated: %d", n)
	}
	if n, _ := e.sla.Scan(ctx, is.Deadline); n != 1 {
		t.Fatalf("supervise: %d", n)
	}
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/project-issues/%d", is.ID), nil, &is)
	if is.Level != "督办" || !is.Supervised {
		t.Fatalf("after supervise %+v", is)
	}
	var page struct {
		Total int              `json:"total"`
		Items []projects.Issue `json:"items"`
	}
	e.must(200, "zs", "GET", "/api/v1/project-issues?overdue=false&status=open", nil, &page)
	if page.Total != 1 {
		t.Fatalf("open issues %d", page.Total)
	}
	var res map[string]int
	if code, _ := e.do("zs", "POST", "/api/v1/project-recompute", nil); code != http.StatusForbidden {
		t.Fatalf("handler recompute: %d", code)
	}
	e.must(200, "leader", "POST", "/api/v1/project-recompute", nil, &res)
	if res["projects"] != 1 {
		t.Fatalf("recompute %v", res)
	}
	e.must(200, "zs", "GET", fmt.Sprintf("/api/v1/projects/%d", p.ID), nil, &p)
	if p.Status != projects.Yellow {
		t.Fatalf("status %s %v", p.Status, p.StatusReasons)
	}
}
