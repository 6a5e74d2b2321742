package projects

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store/storetest"
)

func TestDocx(t *testing.T) {
	b, err := Docx("交办函", []string{"甲局：", "请于 <5 日> 内办结 & 反馈。"})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		x, _ := io.ReadAll(rc)
		rc.Close()
		names[f.Name] = string(x)
	}
	for _, n := range []string{"[Content_Types].xml", "_rels/.rels", "word/document.xml"} {
		if names[n] == "" {
			t.Fatalf("missing part %s", n)
		}
	}
	doc := names["word/document.xml"]
	if !strings.Contains(doc, "交办函") || !strings.Contains(doc, "请于 &lt;5 日&gt; 内办结 &amp; 反馈。") {
		t.Fatalf("document.xml: %s", doc)
	}
}

type penv struct {
	t     *testing.T
	srv   *httptest.Server
	token string
	dept  int64
}

func newPEnv(t *testing.T) *penv {
	o := org.New(org.Options{Logf: t.Logf})
	s := sla.New(sla.Options{})
	m := New(Options{Org: o, SLA: s, MaxPhoto: 1 << 16})
	storetest.New(t, o.Register, s.Register, m.Register)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := o.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rt := httpapi.NewRouter(httpapi.Options{Logf: t.Logf})
	o.Routes(rt)
	m.Routes(rt)
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	d, err := o.CreateDepartment(ctx, "system:test", org.DepartmentInput{Name: "发改局", Kind: org.KindBureau})
	if err != nil {
		t.Fatal(err)
	}
	u, err := o.CreateUser(ctx, "system:test", org.UserInput{Username: "admin", Name: "admin", Roles: []string{httpapi.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := o.CreateToken(ctx, "system:test", org.TokenInput{UserID: u.ID, Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	return &penv{t: t, srv: srv, token: tok.Secret, dept: d.ID}
}

func (e *penv) do(method, path string, body, out any) int {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
		}
	}
	return res.StatusCode
}

func pngBytes(t *testing.T) []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLifecycleMilestonesPhotos(t *testing.T) {
	e := newPEnv(t)
	var p Project
	if c := e.do("POST", "/api/v1/projects", ProjectInput{Name: "县城供水管网改造", DeptID: e.dept, TotalInvestment: 8000, PlanStart: "2026-01-01", PlanFinish: "2026-12-31"}, &p); c != 201 {
		t.Fatalf("create %d", c)
	}
	if !strings.HasPrefix(p.Code, "XM") || p.Stage != StagePlanning || p.DeptName != "发改局" {
		t.Fatalf("project %+v", p)
	}
	var errBody struct {
		Error httpapi.ErrorDetail `json:"error"`
	}
	if c := e.do("POST", "/api/v1/projects", ProjectInput{Name: "x", DeptID: e.dept, PlanStart: "2026-05-01", PlanFinish: "2026-01-01"}, &errBody); c != 400 || errBody.Error.Fields["plan_finish"] == "" {
		t.Fatalf("bad dates: %d %+v", c, errBody)
	}
	// 退库 needs a reason; afterwards nothing is allowed.
	if c := e.do("POST", "/api/v1/projects/1/transition", TransitionInput{To: StageWithdrawn}, &errBody); c != 400 {
		t.Fatalf("withdraw without reason: %d", c)
	}

	// Milestones: one finished late, one open and overdue → the Gantt
	// shows both and the status turns red (late > 30 days).
	e.do("POST", "/api/v1/projects/1/milestones", MilestoneInput{Name: "初步设计批复", PlannedStart: "2026-01-01", PlannedFinish: "2026-02-01", ActualStart: "2026-01-05", ActualFinish: "2026-02-11"}, &p)
	e.do("POST", "/api/v1/projects/1/milestones", MilestoneInput{Name: "管网施工", PlannedStart: "2020-01-01", PlannedFinish: "2020-06-30", ActualStart: "2020-01-02"}, &p)
	if p.Status != Red || !strings.Contains(strings.Join(p.StatusReasons, ";"), "节点滞后") {
		t.Fatalf("status %s %v", p.Status, p.StatusReasons)
	}
	var g Gantt
	e.do("GET", "/api/v1/projects/1/gantt", nil, &g)
	if len(g.Tasks) != 2 || g.Tasks[0].State != "late" || g.Tasks[1].State != "done" || g.Tasks[1].LateDays != 10 || g.Tasks[1].Baseline[1] != "2026-02-01" {
		t.Fatalf("gantt %+v", g.Tasks)
	}
	// Relaxed rules recompute every project deterministically.
	r := DefaultRules()
	r.MilestoneRedDays = 0
	var rr Rules
	if c := e.do("PUT", "/api/v1/project-rules", r, &rr); c != 200 {
		t.Fatalf("rules %d", c)
	}
	e.do("GET", "/api/v1/projects/1", nil, &p)
	if p.Status != Yellow {
		t.Fatalf("after rules %s", p.Status)
	}
	if c := e.do("PUT", "/api/v1/project-rules", Rules{InvestYellowPct: 50, InvestRedPct: 10}, &errBody); c != 400 {
		t.Fatalf("bad rules %d", c)
	}

	// 形象进度: PNG accepted, text refused, oversize refused.
	img := pngBytes(t)
	var created map[string]int64
	if c := e.do("POST", "/api/v1/projects/1/progress", ProgressInput{Period: "2026-05", Description: "管沟开挖完成 60%", Photos: []Photo{{Name: "a.png", Data: img}}}, &created); c != 201 {
		t.Fatalf("progress %d", c)
	}
	if c := e.do("POST", "/api/v1/projects/1/progress", ProgressInput{Period: "2026-05", Description: "x", Photos: []Photo{{Name: "a.txt", Data: []byte("hello")}}}, &errBody); c != 400 || !strings.Contains(errBody.Error.Message, "JPEG or PNG") {
		t.Fatalf("text photo: %d %+v", c, errBody)
	}
	big := append(pngBytes(t), make([]byte, 1<<16)...)
	if c := e.do("POST", "/api/v1/projects/1/progress", ProgressInput{Period: "2026-05", Description: "x", Photos: []Photo{{Name: "b.png", Data: big}}}, &errBody); c != 400 || !strings.Contains(errBody.Error.Message, "larger than") {
		t.Fatalf("big photo: %d %+v", c, errBody)
	}
	var prog []Progress
	e.do("GET", "/api/v1/projects/1/progress", nil, &prog)
	if len(prog) != 1 || len(prog[0].Photos) != 1 {
		t.Fatalf("progress %+v", prog)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/project-photos/1", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, img) {
		t.Fatalf("photo %s %d bytes", res.Header.Get("Content-Type"), len(got))
	}

	// 停复工 alternate; a second 停工 is a conflict.
	e.do("POST", "/api/v1/projects/1/suspensions", SuspensionInput{Kind: "停工", Date: "2026-06-01", Reason: "汛期"}, &p)
	if !p.Suspended {
		t.Fatal("not suspended")
	}
	if c := e.do("POST", "/api/v1/projects/1/suspensions", SuspensionInput{Kind: "停工", Date: "2026-06-02", Reason: "x"}, &errBody); c != 409 || errBody.Error.Allowed[0] != "复工" {
		t.Fatalf("double 停工: %d %+v", c, errBody)
	}
	e.do("POST", "/api/v1/projects/1/suspensions", SuspensionInput{Kind: "复工", Date: "2026-07-01", Reason: "汛期结束"}, &p)
	if p.Suspended {
		t.Fatal("still suspended")
	}
	e.do("POST", "/api/v1/projects/1/transition", TransitionInput{To: StageWithdrawn, Reason: "项目取消"}, &p)
	errBody.Error = httpapi.ErrorDetail{}
	if c := e.do("POST", "/api/v1/projects/1/transition", TransitionInput{To: StageConstruction}, &errBody); c != 409 || len(errBody.Error.Allowed) != 0 {
		t.Fatalf("after 退库: %d %+v", c, errBody)
	}
}
