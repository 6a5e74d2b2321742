package investment

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/app/projects"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

// env is a real HTTP server with the real router, org, the shared sla
// module, projects and investment on a real store.
type env struct {
	t      *testing.T
	st     *store.Store
	org    *org.Module
	sla    *sla.Module
	proj   *projects.Module
	m      *Module
	srv    *httptest.Server
	tokens map[string]string
	depts  map[string]int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	o := org.New(org.Options{Logf: t.Logf})
	s := sla.New(sla.Options{Logf: t.Logf})
	p := projects.New(projects.Options{Org: o, SLA: s, Logf: t.Logf})
	m := New(Options{Org: o, Projects: p, Logf: t.Logf})
	st := storetest.New(t, o.Register, s.Register, p.Register, m.Register)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := o.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rt := httpapi.NewRouter(httpapi.Options{Logf: t.Logf})
	for _, mod := range []httpapi.Module{o, s, p, m} {
		mod.Routes(rt)
	}
	httpapi.CheckOpenAPI(t, rt)
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	e := &env{t: t, st: st, org: o, sla: s, proj: p, m: m, srv: srv, tokens: map[string]string{}, depts: map[string]int64{}}
	const actor = "system:test"
	for _, name := range []string{"招商局", "发改局", "甲镇"} {
		d, err := o.CreateDepartment(ctx, actor, org.DepartmentInput{Name: name, Kind: org.KindBureau})
		if err != nil {
			t.Fatal(err)
		}
		e.depts[name] = d.ID
	}
	for _, u := range []struct{ name, role, dept string }{
		{"admin", httpapi.RoleAdmin, ""},
		{"commander", httpapi.RoleCommander, ""},
		{"leader", httpapi.RoleLeader, ""},
		{"zs", httpapi.RoleHandler, "招商局"},
		{"fg", httpapi.RoleHandler, "发改局"},
		{"viewer", httpapi.RoleViewer, ""},
	} {
		in := org.UserInput{Username: u.name, Name: u.name, Roles: []string{u.role}}
		if u.dept != "" {
			id := e.depts[u.dept]
			in.DeptID = &id
		}
		usr, err := o.CreateUser(ctx, actor, in)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := o.CreateToken(ctx, actor, org.TokenInput{UserID: usr.ID, Name: "test"})
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[u.name] = tok.Secret
	}
	return e
}

// do sends a request as user and returns status and body; body may be a
// JSON-able value or raw bytes (sent as .xlsx).
func (e *env) do(user, method, path string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd, ct = bytes.NewReader(b), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	default:
		j, _ := json.Marshal(b)
		rd, ct = bytes.NewReader(j), "application/json"
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+e.tokens[user])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, out
}

// must sends a request and decodes the answer, failing unless the status is want.
func (e *env) must(want int, user, method, path string, body, out any) {
	e.t.Helper()
	code, b := e.do(user, method, path, body)
	if code != want {
		e.t.Fatalf("%s %s as %s: status %d, want %d: %s", method, path, user, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: decode %s: %v", method, path, b, err)
		}
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
