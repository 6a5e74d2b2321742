package cases

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

// Test county: 示范县 139999; township A 139999001 (unit grids
// 13999900100101, 13999900100102), township B 139999002 (13999900200101).
const (
	gridA1 = "13999900100101"
	gridA2 = "13999900100102"
	gridB1 = "13999900200101"
)

// env is a real HTTP server with the real router, the org module and the
// cases module on a real store.
type env struct {
	t      *testing.T
	st     *store.Store
	org    *org.Module
	m      *Module
	srv    *httptest.Server
	tokens map[string]string
	users  map[string]int64
	depts  map[string]int64
}

func newEnv(t *testing.T, opts Options) *env {
	t.Helper()
	o := org.New(org.Options{Logf: t.Logf})
	opts.Org = o
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	m := New(opts)
	st := storetest.New(t, o.Register, m.Register)
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
	e := &env{t: t, st: st, org: o, m: m, srv: srv, tokens: map[string]string{}, users: map[string]int64{}, depts: map[string]int64{}}
	e.seedOrg()
	return e
}

func (e *env) seedOrg() {
	t, ctx := e.t, context.Background()
	const actor = "system:test"
	for _, name := range []string{"指挥中心", "城管局", "水务局", "甲镇", "乙镇"} {
		kind := org.KindBureau
		if strings.HasSuffix(name, "镇") {
			kind = org.KindTownship
		}
		d, err := e.org.CreateDepartment(ctx, actor, org.DepartmentInput{Name: name, Kind: kind})
		if err != nil {
			t.Fatal(err)
		}
		e.depts[name] = d.ID
	}
	err := e.org.CreateGrids(ctx, actor, []org.GridInput{
		{Code: "139999", Name: "示范县"},
		{Code: "139999001", Name: "甲镇"}, {Code: "139999002", Name: "乙镇"},
		{Code: "139999001001", Name: "甲村"}, {Code: "139999002001", Name: "乙村"},
		{Code: gridA1, Name: "甲村一网格"}, {Code: gridA2, Name: "甲村二网格"}, {Code: gridB1, Name: "乙村一网格"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct {
		name, role, dept, grid string
	}{
		{"operator", httpapi.RoleOperator, "指挥中心", ""},
		{"commander", httpapi.RoleCommander, "指挥中心", ""},
		{"leader", httpapi.RoleLeader, "", ""},
		{"cg", httpapi.RoleHandler, "城管局", ""},
		{"sw", httpapi.RoleHandler, "水务局", ""},
		{"gwa", httpapi.RoleGridWorker, "", gridA1},
		{"gwb", httpapi.RoleGridWorker, "", gridB1},
		{"integrator", httpapi.RoleIntegrator, "", ""},
		{"viewer", httpapi.RoleViewer, "", ""},
	} {
		in := org.UserInput{Username: u.name, Name: u.name, Roles: []string{u.role}, GridCode: u.grid}
		if u.dept != "" {
			id := e.depts[u.dept]
			in.DeptID = &id
		}
		usr, err := e.org.CreateUser(ctx, actor, in)
		if err != nil {
			t.Fatalf("user %s: %v", u.name, err)
		}
		tok, err := e.org.CreateToken(ctx, actor, org.TokenInput{UserID: usr.ID, Name: "test"})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.name], e.users[u.name] = tok.Secret, usr.ID
	}
}

type resp struct {
	code int
	body []byte
	hdr  http.Header
}

func (r resp) errBody() httpapi.ErrorDetail {
	var b httpapi.ErrorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Error
}

func (e *env) req(method, path, who string, body any, ctype string) resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
		if ctype == "" {
			ctype = "application/json"
		}
	}
	rq, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if ctype != "" {
		rq.Header.Set("Content-Type", ctype)
	}
	if who != "" {
		rq.Header.Set("Authorization", "Bearer "+e.tokens[who])
	}
	rs, err := e.srv.Client().Do(rq)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rs.Body.Close()
	b, _ := io.ReadAll(rs.Body)
	return resp{rs.StatusCode, b, rs.Header}
}

func (e *env) must(method, path, who string, body any, want int, out any) resp {
	e.t.Helper()
	r := e.req(method, path, who, body, "")
	if r.code != want {
		e.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, who, r.code, want, r.body)
	}
	if out != nil {
		if err := json.Unmarshal(r.body, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, r.body)
		}
	}
	return r
}

func (e *env) act(id int64, action, who string, in ActionInput, want int) ChangeResult {
	e.t.Helper()
	var out ChangeResult
	r := e.req("POST", "/api/v1/cases/"+itoa(id)+"/actions/"+action, who, in, "")
	if r.code != want {
		e.t.Fatalf("%s case %d as %s: status %d, want %d: %s", action, id, who, r.code, want, r.body)
	}
	if want == 200 {
		_ = json.Unmarshal(r.body, &out)
	}
	return out
}

func (e *env) detail(id int64, who string) Detail {
	e.t.Helper()
	var d Detail
	e.must("GET", "/api/v1/cases/"+itoa(id), who, nil, 200, &d)
	return d
}

func (e *env) upload(who, phase string, data []byte) (Attachment, resp) {
	e.t.Helper()
	r := e.req("POST", "/api/v1/cases/attachments?phase="+phase+"&name=photo.png", who, data, "image/png")
	var a Attachment
	if r.code == 201 {
		_ = json.Unmarshal(r.body, &a)
	}
	return a, r
}

func pngBytes(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	x := uint32(w*131 + h)
	for i := range img.Pix {
		x = x*1664525 + 1013904223
		img.Pix[i] = byte(x >> 24)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func formBody(v map[string]string) string {
	f := url.Values{}
	for k, x := range v {
		f.Set(k, x)
	}
	return f.Encode()
}

func thisMonth() string { return time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01") }

var slaLimit2d = sla.Limit{Value: 2, Unit: sla.WorkDays}
