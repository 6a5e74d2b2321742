package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
)

// testServer is a real yiwang node on 127.0.0.1 with the demo county, and
// a token per role.
type testServer struct {
	t      *testing.T
	a      *App
	url    string
	tokens map[string]string // by demo username
	users  map[string]int64
}

var demoRoles = map[string]string{
	"admin": httpapi.RoleAdmin, "commander": httpapi.RoleCommander, "operator": httpapi.RoleOperator,
	"handler": httpapi.RoleHandler, "gridworker": httpapi.RoleGridWorker, "leader": httpapi.RoleLeader,
	"viewer": httpapi.RoleViewer, "integrator": httpapi.RoleIntegrator,
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.Demo = true
	cfg.MQTT = "127.0.0.1:0"
	a, err := New(cfg, Options{Logf: t.Logf, Out: &out, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	s := &testServer{t: t, a: a, url: a.URL(), tokens: map[string]string{}, users: map[string]int64{}}
	// The demo printed each account once: username, role, title, secret.
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 {
			continue
		}
		user, secret := f[0], f[len(f)-1]
		if _, ok := demoRoles[user]; !ok && user != "handler2" {
			continue
		}
		if strings.HasPrefix(secret, "ywt_") {
			s.tokens[user] = secret
			continue
		}
		var lo org.LoginOutput
		s.must("POST", "/api/v1/auth/login", "", org.LoginInput{Username: user, Password: secret}, 200, &lo)
		s.tokens[user] = lo.Token
		s.users[user] = lo.User.ID
	}
	for u := range demoRoles {
		if s.tokens[u] == "" {
			t.Fatalf("no credentials for demo user %s in output:\n%s", u, out.String())
		}
	}
	return s
}

func (s *testServer) do(method, path, token string, body any, hdr ...string) (int, []byte, http.Header) {
	s.t.Helper()
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
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (s *testServer) must(method, path, token string, body any, want int, out any) {
	s.t.Helper()
	code, b, _ := s.do(method, path, token, body)
	if code != want {
		s.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

var reParam = regexp.MustCompile(`\{[a-z_]+\}`)

// TestEveryEndpointEveryRole calls every route of the real route table as
// every role and without credentials: a role holding the route's permission
// is let through (neither 401 nor 403), any other role gets 403, and no
// credentials get 401.
func TestEveryEndpointEveryRole(t *testing.T) {
	s := startServer(t)
	routes := s.a.Router().Routes()
	if len(routes) < 30 {
		t.Fatalf("only %d routes", len(routes))
	}
	// Changing a password needs a login session: API tokens get 403 even
	// though the route needs no permission.
	tokenRefused := map[string]bool{"POST /api/v1/me/password": true}
	skip := map[string]bool{
		"POST /api/v1/auth/logout": true, // would end the sessions used here (tested below)
		"POST /api/setup":          true, // tested in TestFirstRunSetup
	}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Path
		if skip[key] {
			continue
		}
		t.Run(key, func(t *testing.T) {
			path := rt.Path
			if rt.Method == "GET" {
				path = reParam.ReplaceAllString(path, "1")
			} else {
				path = reParam.ReplaceAllString(path, "999999")
			}
			var body any
			if rt.Method == "POST" || rt.Method == "PATCH" || rt.Method == "PUT" {
				body = "{}"
			}
			if !rt.Public {
				if code := s.status(rt, path, "", body); code != http.StatusUnauthorized {
					t.Errorf("no credentials: status %d, want 401", code)
				}
				if code := s.status(rt, path, "ywt_not-a-real-token", body); code != http.StatusUnauthorized {
					t.Errorf("bad token: status %d, want 401", code)
				}
			}
			for user, role := range demoRoles {
				allowed := rt.Public || rt.Perm == "" || slices.Contains(httpapi.PermissionsOf(role), rt.Perm)
				if tokenRefused[key] && role == httpapi.RoleIntegrator {
					allowed = false
				}
				code := s.status(rt, path, s.tokens[user], body)
				switch {
				case allowed && (code == 401 || code == 403):
					t.Errorf("%s (%s) holds %q but got %d", user, role, rt.Perm, code)
				case !allowed && code != 403:
					t.Errorf("%s (%s) lacks %q but got %d, want 403", user, role, rt.Perm, code)
				case code >= 500:
					t.Errorf("%s (%s): server error %d", user, role, code)
				}
			}
		})
	}
	t.Run("logout", func(t *testing.T) {
		tok := s.login(t, "viewer2", httpapi.RoleViewer)
		s.must("GET", "/api/v1/me", tok, nil, 200, nil)
		s.must("POST", "/api/v1/auth/logout", tok, nil, 204, nil)
		s.must("GET", "/api/v1/me", tok, nil, 401, nil)
	})
}

// status performs one call; streaming routes are closed after the headers.
func (s *testServer) status(rt httpapi.Route, path, token string, body any) int {
	s.t.Helper()
	if rt.ResponseContentType == "text/event-stream" {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, rt.Method, s.url+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			s.t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	code, _, _ := s.do(rt.Method, path, token, body)
	return code
}

// login creates a user with role (as admin) and logs in.
func (s *testServer) login(t *testing.T, username, role string, dept ...int64) string {
	t.Helper()
	pw := org.RandomPassword()
	in := org.UserInput{Username: username, Name: username, Roles: []string{role}, Password: pw}
	if len(dept) > 0 {
		in.DeptID = &dept[0]
	}
	var u org.User
	s.must("POST", "/api/v1/users", s.tokens["admin"], in, 201, &u)
	var lo org.LoginOutput
	s.must("POST", "/api/v1/auth/login", "", org.LoginInput{Username: username, Password: pw}, 200, &lo)
	s.users[username] = u.ID
	return lo.Token
}

func TestOpenAPIMatchesRealRoutes(t *testing.T) {
	s := startServer(t)
	httpapi.CheckOpenAPI(t, s.a.Router())
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	s.must("GET", "/api/openapi.json", "", nil, 200, &doc)
	for _, p := range []string{"/api/v1/auth/login", "/api/v1/departments", "/api/v1/users/{id}", "/api/health", "/api/v1/events", "/api/v1/audit"} {
		if doc.Paths[p] == nil {
			t.Errorf("OpenAPI lacks %s", p)
		}
	}
}

// TestDataScope: a department handler sees and changes only its department
// tree; a grid worker only its grid.
func TestDataScope(t *testing.T) {
	s := startServer(t)
	admin := s.tokens["admin"]
	ctx := context.Background()
	cg, _ := s.a.Org().DepartmentByName(ctx, "城管局")
	zj, _ := s.a.Org().DepartmentByName(ctx, "住建局")
	// A sub-department of 城管局 with a user in it: inside the handler's tree.
	var sub org.Department
	s.must("POST", "/api/v1/departments", admin, org.DepartmentInput{ParentID: &cg, Name: "执法大队", Kind: org.KindUnit}, 201, &sub)
	var subUser, otherUser org.User
	s.must("POST", "/api/v1/users", admin, org.UserInput{Username: "zfdd1", Name: "执法队员", Roles: []string{"handler"}, DeptID: &sub.ID}, 201, &subUser)
	s.must("POST", "/api/v1/users", admin, org.UserInput{Username: "zjj1", Name: "住建科员", Roles: []string{"handler"}, DeptID: &zj}, 201, &otherUser)

	h := s.tokens["handler"]
	var users httpapi.Page[org.User]
	s.must("GET", "/api/v1/users?limit=500", h, nil, 200, &users)
	seen := map[string]bool{}
	for _, u := range users.Items {
		seen[u.Username] = true
		if u.DeptID == nil || (*u.DeptID != cg && *u.DeptID != sub.ID) {
			t.Errorf("handler sees user %s of department %v", u.Username, u.DeptID)
		}
	}
	if !seen["handler"] || !seen["zfdd1"] || seen["zjj1"] || seen["handler2"] || users.Total != len(users.Items) {
		t.Errorf("handler's users: %v (total %d)", seen, users.Total)
	}
	tests := []struct {
		name   string
		method string
		path   string
		token  string
		want   int
	}{
		{"handler reads own dept user", "GET", fmt.Sprintf("/api/v1/users/%d", subUser.ID), h, 200},
		{"handler cannot read other dept user", "GET", fmt.Sprintf("/api/v1/users/%d", otherUser.ID), h, 404},
		{"handler reads own department", "GET", fmt.Sprintf("/api/v1/departments/%d", cg), h, 200},
		{"handler cannot read other department", "GET", fmt.Sprintf("/api/v1/departments/%d", zj), h, 404},
		{"handler2 cannot read 城管局 user", "GET", fmt.Sprintf("/api/v1/users/%d", subUser.ID), s.tokens["handler2"], 404},
		{"filter cannot widen the scope", "GET", fmt.Sprintf("/api/v1/users?dept_id=%d", zj), h, 200},
		{"leader reads everything", "GET", fmt.Sprintf("/api/v1/users/%d", otherUser.ID), s.tokens["leader"], 200},
		{"handler cannot change users", "PATCH", fmt.Sprintf("/api/v1/users/%d", subUser.ID), h, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b, _ := s.do(tt.method, tt.path, tt.token, map[string]any{})
			if tt.method == "GET" {
				code, b, _ = s.do(tt.method, tt.path, tt.token, nil)
			}
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, b)
			}
			if strings.Contains(tt.path, "dept_id=") {
				var p httpapi.Page[org.User]
				json.Unmarshal(b, &p)
				if p.Total != 0 || len(p.Items) != 0 {
					t.Fatalf("filter widened the scope: %s", b)
				}
			}
		})
	}
	var depts httpapi.Page[org.Department]
	s.must("GET", "/api/v1/departments", h, nil, 200, &depts)
	if depts.Total != 2 {
		t.Errorf("handler sees %d departments, want 2 (城管局, 执法大队)", depts.Total)
	}
	// Grid worker: only its own unit grid.
	var grids httpapi.Page[org.Grid]
	s.must("GET", "/api/v1/grids?limit=2000", s.tokens["gridworker"], nil, 200, &grids)
	if grids.Total != 1 || grids.Items[0].Code != "13999900100101" {
		t.Errorf("grid worker sees %d grids: %+v", grids.Total, grids.Items)
	}
	// Export through the same scope.
	code, b, _ := s.do("GET", "/api/v1/users/export", h, nil)
	if code != 200 {
		t.Fatalf("export: %d %s", code, b)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows(f.GetSheetName(0))
	for _, r := range rows[1:] {
		if r[0] == "zjj1" || r[0] == "handler2" {
			t.Errorf("export leaked %s", r[0])
		}
	}
	if len(rows) != 1+len(users.Items) {
		t.Errorf("export has %d rows, list %d", len(rows)-1, len(users.Items))
	}
}

func TestCRUDAndValidation(t *testing.T) {
	s := startServer(t)
	admin := s.tokens["admin"]
	var d org.Department
	s.must("POST", "/api/v1/departments", admin, map[string]any{"name": "大数据局", "kind": "bureau"}, 201, &d)
	if d.ID == 0 || d.Path == "" {
		t.Fatalf("created %+v", d)
	}
	tests := []struct {
		name  string
		body  any
		want  int
		field string
	}{
		{"duplicate name", map[string]any{"name": "大数据局"}, 409, "name"},
		{"missing name", map[string]any{"kind": "bureau"}, 400, "name"},
		{"bad kind", map[string]any{"name": "x", "kind": "ministry"}, 400, "kind"},
		{"unknown field", map[string]any{"name": "x", "colour": "red"}, 400, "colour"},
		{"wrong type", map[string]any{"name": 12}, 400, "name"},
		{"missing parent", map[string]any{"name": "x", "parent_id": 99999}, 400, "parent_id"},
		{"control character", map[string]any{"name": "a\u0007b"}, 400, "name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, b, _ := s.do("POST", "/api/v1/departments", admin, tt.body)
			if code != tt.want {
				t.Fatalf("status %d, want %d: %s", code, tt.want, b)
			}
			var eb httpapi.ErrorBody
			json.Unmarshal(b, &eb)
			if _, ok := eb.Error.Fields[tt.field]; !ok {
				t.Fatalf("no message for %s: %s", tt.field, b)
			}
		})
	}
	big := `{"name":"` + strings.Repeat("长", httpapi.DefaultMaxBody) + `"}`
	if code, _, _ := s.do("POST", "/api/v1/departments", admin, big); code != 413 {
		t.Errorf("oversize body: %d, want 413", code)
	}
	// Move under itself is refused; rename works; delete works when unused.
	name := "数据局"
	s.must("PATCH", fmt.Sprintf("/api/v1/departments/%d", d.ID), admin, org.DepartmentPatch{ParentID: &d.ID}, 400, nil)
	s.must("PATCH", fmt.Sprintf("/api/v1/departments/%d", d.ID), admin, org.DepartmentPatch{Name: &name}, 200, nil)
	s.must("DELETE", fmt.Sprintf("/api/v1/departments/%d", d.ID), admin, nil, 204, nil)
	s.must("GET", fmt.Sprintf("/api/v1/departments/%d", d.ID), admin, nil, 404, nil)

	// Grids: codes are checked against their parent; geometry is validated.
	good := json.RawMessage(`{"type":"Polygon","coordinates":[[[114.5,37.6],[114.6,37.6],[114.6,37.7],[114.5,37.6]]]}`)
	s.must("POST", "/api/v1/grids", admin, org.GridInput{Code: "13999900100109", Name: "新网格", Geometry: good}, 201, nil)
	s.must("POST", "/api/v1/grids", admin, org.GridInput{Code: "13999900100109", Name: "重复"}, 409, nil)
	s.must("POST", "/api/v1/grids", admin, org.GridInput{Code: "13999900900101", Name: "无上级"}, 400, nil)
	s.must("POST", "/api/v1/grids", admin, org.GridInput{Code: "1399990010010", Name: "13位"}, 400, nil)
	s.must("POST", "/api/v1/grids", admin, org.GridInput{Code: "13999900100110", Name: "坏边界",
		Geometry: json.RawMessage(`{"type":"Polygon","coordinates":[[[114.5,37.6],[200,37.6],[114.6,37.7],[114.5,37.6]]]}`)}, 400, nil)

	// Users: list with filters, sorting, pagination.
	var page httpapi.Page[org.User]
	s.must("GET", "/api/v1/users?role=handler&sort=-username&limit=1", admin, nil, 200, &page)
	if page.Total != 2 || len(page.Items) != 1 || page.Items[0].Username != "handler2" {
		t.Errorf("filtered page %+v", page)
	}
	s.must("GET", "/api/v1/users?role=wizard", admin, nil, 400, nil)
	s.must("GET", "/api/v1/users?sort=password_hash", admin, nil, 400, nil)
	// The last administrator cannot be removed.
	s.must("PATCH", fmt.Sprintf("/api/v1/users/%d", s.users["admin"]), admin, map[string]any{"roles": []string{"viewer"}}, 409, nil)
	s.must("DELETE", fmt.Sprintf("/api/v1/users/%d", s.users["admin"]), admin, nil, 409, nil)
	// Disabling a user ends their sessions at once.
	s.must("PATCH", fmt.Sprintf("/api/v1/users/%d", s.users["viewer"]), admin, map[string]any{"disabled": true}, 200, nil)
	s.must("GET", "/api/v1/me", s.tokens["viewer"], nil, 401, nil)
}

func TestPasswordChangeAndTokens(t *testing.T) {
	s := startServer(t)
	tok := s.login(t, "clerk", httpapi.RoleOperator)
	// Password change: wrong old password refused; policy enforced; then the
	// new password works and the old one does not.
	s.must("POST", "/api/v1/me/password", tok, org.PasswordChange{OldPassword: "nope-nope-1", NewPassword: "Another-pass-42"}, 400, nil)
	var u org.User
	s.must("GET", fmt.Sprintf("/api/v1/users/%d", s.users["clerk"]), s.tokens["admin"], nil, 200, &u)
	// API token scoped to one permission.
	var created org.TokenCreated
	s.must("POST", "/api/v1/tokens", s.tokens["admin"], org.TokenInput{UserID: s.users["clerk"], Name: "probe", Permissions: []string{"org.read"}}, 201, &created)
	if !strings.HasPrefix(created.Secret, "ywt_") {
		t.Fatalf("token %+v", created)
	}
	s.must("GET", "/api/v1/departments", created.Secret, nil, 200, nil)
	s.must("GET", "/api/v1/users", created.Secret, nil, 403, nil) // operator may, the token may not
	s.must("POST", "/api/v1/tokens", s.tokens["admin"], org.TokenInput{UserID: s.users["clerk"], Name: "wide", Permissions: []string{"audit.read"}}, 400, nil)
	s.must("DELETE", fmt.Sprintf("/api/v1/tokens/%d", created.ID), s.tokens["admin"], nil, 200, nil)
	s.must("GET", "/api/v1/departments", created.Secret, nil, 401, nil)
	// Integrators cannot log in with a password even when one is set.
	s.must("POST", fmt.Sprintf("/api/v1/users/%d/password", mustUserID(t, s, "integrator")), s.tokens["admin"], org.PasswordSet{Password: "Api-only-pass-1"}, 204, nil)
	s.must("POST", "/api/v1/auth/login", "", org.LoginInput{Username: "integrator", Password: "Api-only-pass-1"}, 403, nil)
	// Cookie authentication works for GET and refuses cross-site writes.
	req, _ := http.NewRequest("GET", s.url+"/api/v1/me", nil)
	req.AddCookie(&http.Cookie{Name: "yw_session", Value: tok})
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("cookie auth: %v %v", err, resp.Status)
	}
	resp.Body.Close()
	req, _ = http.NewRequest("POST", s.url+"/api/v1/auth/logout", nil)
	req.AddCookie(&http.Cookie{Name: "yw_session", Value: tok})
	req.Header.Set("Origin", "http://evil.example")
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("cross-origin cookie write: %d", resp.StatusCode)
	}
}

func mustUserID(t *testing.T, s *testServer, username string) int64 {
	u, err := s.a.Org().UserByUsername(context.Background(), username)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestFirstRunSetup(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	cfg := DefaultConfig()
	cfg.Data = t.TempDir()
	a, err := New(cfg, Options{Logf: t.Logf, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s := &testServer{t: t, a: a, url: a.URL()}
	var h Health
	s.must("GET", "/api/health", "", nil, 200, &h)
	if !h.NeedsSetup || h.State != "leader" || h.NodeID == "" {
		t.Fatalf("health %+v", h)
	}
	// Setup from a non-loopback peer is refused (exercised on the handler
	// with a forged RemoteAddr; X-Forwarded-For is never trusted).
	req := httptest.NewRequest("POST", "/api/setup", strings.NewReader(`{"county_name":"示范县","username":"boss","password":"Strong-pass-123"}`))
	req.RemoteAddr = "10.1.2.3:5555"
	req.Header.Set("X-Forwarded-For", "127.0.0.1")
	rec := httptest.NewRecorder()
	a.Handler().ServeHTTP(rec, req)
	if rec.Code != 403 {
		t.Fatalf("remote setup: %d %s", rec.Code, rec.Body)
	}
	s.must("POST", "/api/setup", "", org.SetupInput{CountyName: "示范县", Username: "boss", Password: "weak"}, 400, nil)
	var lo org.LoginOutput
	s.must("POST", "/api/setup", "", org.SetupInput{CountyName: "示范县", Username: "boss", Password: "Strong-pass-123"}, 201, &lo)
	s.must("GET", "/api/v1/me", lo.Token, nil, 200, nil)
	s.must("POST", "/api/setup", "", org.SetupInput{CountyName: "x", Username: "boss2", Password: "Strong-pass-123"}, 409, nil)
}

func TestAuditSearchExportVerify(t *testing.T) {
	s := startServer(t)
	s.must("POST", "/api/v1/auth/login", "", org.LoginInput{Username: "leader", Password: "definitely-wrong-1"}, 401, nil)
	admin := s.tokens["admin"]
	var page httpapi.Page[struct {
		Type      string          `json:"type"`
		Actor     string          `json:"actor"`
		ActorName string          `json:"actor_name"`
		Payload   json.RawMessage `json:"payload"`
	}]
	s.must("GET", "/api/v1/audit?type=auth.login_failed", admin, nil, 200, &page)
	if page.Total != 1 || !strings.Contains(string(page.Items[0].Payload), `"leader"`) || page.Items[0].ActorName == "" {
		t.Fatalf("failed login not audited: %+v", page)
	}
	s.must("GET", "/api/v1/audit?type=auth.login&limit=100", admin, nil, 200, &page)
	for _, e := range page.Items {
		if strings.Contains(string(e.Payload), "$argon2id") || strings.Contains(string(e.Payload), `"token_hash":"`+"0") {
			t.Fatalf("secret in audit payload: %s", e.Payload)
		}
	}
	s.must("GET", "/api/v1/audit?since=2000-01-01&until=2999-01-01&q=gridworker", admin, nil, 200, &page)
	if page.Total == 0 {
		t.Fatal("text search found nothing")
	}
	s.must("GET", "/api/v1/audit?colour=red", admin, nil, 400, nil)
	code, b, hdr := s.do("GET", "/api/v1/audit/export?format=csv&type=org.", admin, nil)
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/csv") || !strings.Contains(string(b), "org.user.create") {
		t.Fatalf("csv export %d %s", code, b[:min(len(b), 300)])
	}
	code, b, _ = s.do("GET", "/api/v1/audit/export?format=xlsx", admin, nil)
	if code != 200 {
		t.Fatalf("xlsx export %d", code)
	}
	if _, err := excelize.OpenReader(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		OK   bool  `json:"ok"`
		Rows int64 `json:"rows"`
	}
	s.must("GET", "/api/v1/audit/verify", admin, nil, 200, &rep)
	if !rep.OK || rep.Rows < 10 {
		t.Fatalf("verify %+v", rep)
	}
}

func TestExcelImport(t *testing.T) {
	s := startServer(t)
	admin := s.tokens["admin"]
	sheet := func(rows ...[]any) []byte {
		f := excelize.NewFile()
		for i, r := range rows {
			cell, _ := excelize.CoordinatesToCellName(1, i+1)
			f.SetSheetRow(f.GetSheetName(0), cell, &r)
		}
		var buf bytes.Buffer
		f.Write(&buf)
		return buf.Bytes()
	}
	bad := sheet([]any{"名称", "上级部门", "类型"}, []any{"信访局", "", "委办局"}, []any{"", "城管局", "科室站所"}, []any{"督查室", "不存在的局", "科室站所"})
	var rep org.ImportReport
	s.must("POST", "/api/v1/departments/import", admin, bad, 200, &rep)
	if rep.Valid != 1 || rep.Invalid != 2 || rep.Applied || rep.Rows[1].Errors["name"] == "" || rep.Rows[2].Errors["parent"] == "" {
		t.Fatalf("preview %+v", rep)
	}
	s.must("POST", "/api/v1/departments/import?commit=true", admin, bad, 400, nil)
	if _, err := s.a.Org().DepartmentByName(context.Background(), "信访局"); err == nil {
		t.Fatal("a refused import wrote a row")
	}
	good := sheet([]any{"名称", "上级部门", "类型"}, []any{"信访局", "", "委办局"}, []any{"来访接待科", "信访局", "科室站所"})
	s.must("POST", "/api/v1/departments/import?commit=true", admin, good, 200, &rep)
	if !rep.Applied || rep.Valid != 2 {
		t.Fatalf("commit %+v", rep)
	}
	s.must("POST", "/api/v1/departments/import", admin, sheet([]any{"名称", "颜色"}), 400, nil)
	users := sheet([]any{"用户名", "姓名", "部门", "角色"}, []any{"xf01", "信访员", "信访局", "部门处置人员"})
	s.must("POST", "/api/v1/users/import?commit=1", admin, users, 200, &rep)
	if len(rep.Passwords) != 1 {
		t.Fatalf("user import %+v", rep)
	}
	s.must("POST", "/api/v1/auth/login", "", org.LoginInput{Username: "xf01", Password: rep.Passwords[0].Password}, 200, nil)
	// Round trip: the export re-imports as "already exists" everywhere.
	_, exp, _ := s.do("GET", "/api/v1/grids/export", admin, nil)
	s.must("POST", "/api/v1/grids/import", admin, exp, 200, &rep)
	if rep.Valid != 0 || rep.Invalid < 300 {
		t.Fatalf("grid re-import preview: valid %d invalid %d", rep.Valid, rep.Invalid)
	}
}

// TestLiveEvents: SSE delivers committed changes filtered by data scope and
// resumes from Last-Event-ID.
func TestLiveEvents(t *testing.T) {
	s := startServer(t)
	type evt struct {
		id  string
		msg struct {
			Type  string          `json:"type"`
			Index uint64          `json:"index"`
			Data  json.RawMessage `json:"data"`
		}
	}
	open := func(token, lastID string) (chan evt, func()) {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/api/v1/events?types=org.user.", nil)
		req.AddCookie(&http.Cookie{Name: "yw_session", Value: token})
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("events: %v %v", err, resp)
		}
		ch := make(chan evt, 16)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			var e evt
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "id: "):
					e.id = line[4:]
				case strings.HasPrefix(line, "data: "):
					json.Unmarshal([]byte(line[6:]), &e.msg)
				case line == "" && e.id != "":
					ch <- e
					e = evt{}
				}
			}
		}()
		return ch, func() { cancel(); wg.Wait() }
	}
	adminCh, closeA := open(s.tokens["admin"], "")
	defer closeA()
	handlerCh, closeH := open(s.tokens["handler"], "")
	defer closeH()
	ctx := context.Background()
	zj, _ := s.a.Org().DepartmentByName(ctx, "住建局")
	cg, _ := s.a.Org().DepartmentByName(ctx, "城管局")
	admin := s.tokens["admin"]
	s.must("POST", "/api/v1/users", admin, org.UserInput{Username: "other1", Name: "住建", Roles: []string{"viewer"}, DeptID: &zj}, 201, nil)
	s.must("POST", "/api/v1/users", admin, org.UserInput{Username: "mine1", Name: "城管", Roles: []string{"viewer"}, DeptID: &cg}, 201, nil)
	recv := func(ch chan evt) evt {
		select {
		case e := <-ch:
			return e
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
		return evt{}
	}
	a1, a2 := recv(adminCh), recv(adminCh)
	if !strings.Contains(string(a1.msg.Data), "other1") || !strings.Contains(string(a2.msg.Data), "mine1") || a1.msg.Type != "org.user.create" {
		t.Fatalf("admin events %+v %+v", a1.msg, a2.msg)
	}
	h1 := recv(handlerCh)
	if !strings.Contains(string(h1.msg.Data), "mine1") {
		t.Fatalf("handler received another department's user: %s", h1.msg.Data)
	}
	// Resume: reconnecting with Last-Event-ID of the first event replays the second.
	resumed, closeR := open(s.tokens["admin"], a1.id)
	defer closeR()
	if r := recv(resumed); r.id != a2.id {
		t.Fatalf("resumed at %s, want %s", r.id, a2.id)
	}
}

// TestListsRespectDataScope walks every collection GET of the real route
// table (so routes of new modules are covered without a hand list) as a
// department handler and as a grid worker: no item that carries a
// department or grid may lie outside the caller's data scope, unless the
// caller owns it. The admin's view of the same lists proves records of
// other departments exist to leak.
func TestListsRespectDataScope(t *testing.T) {
	s := startServer(t)
	var hMe, gMe org.Me
	s.must("GET", "/api/v1/me", s.tokens["handler"], nil, 200, &hMe)
	s.must("GET", "/api/v1/me", s.tokens["gridworker"], nil, 200, &gMe)
	if len(hMe.Scope.DeptIDs) == 0 || gMe.Scope.GridPrefix == "" {
		t.Fatalf("scopes: handler %+v, grid worker %+v", hMe.Scope, gMe.Scope)
	}
	ownerFields := []string{"created_by", "reporter_id", "assignee_id", "owner_id", "user_id", "handler_id"}
	owns := func(item map[string]any, uid int64) bool {
		for _, f := range ownerFields {
			if v, ok := item[f].(float64); ok && int64(v) == uid {
				return true
			}
		}
		return false
	}
	deptOf := func(path string, item map[string]any) (int64, bool) {
		keys := []string{"dept_id", "department_id"}
		if path == "/api/v1/departments" {
			keys = []string{"id"}
		}
		for _, k := range keys {
			if v, ok := item[k].(float64); ok && v != 0 {
				return int64(v), true
			}
		}
		return 0, false
	}
	list := func(t *testing.T, path, token string) []map[string]any {
		code, b, _ := s.do("GET", path, token, nil)
		if code == 403 {
			return nil
		}
		if code != 200 {
			t.Fatalf("GET %s: %d %s", path, code, b)
		}
		var page struct {
			Items []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return page.Items
	}
	foreign := 0 // records of other departments the admin sees
	checkedAll := 0
	for _, rt := range s.a.Router().Routes() {
		if rt.Method != "GET" || rt.List == nil || strings.Contains(rt.Path, "{") {
			continue
		}
		t.Run(rt.Path, func(t *testing.T) {
			for _, item := range list(t, rt.Path, s.tokens["admin"]) {
				if d, ok := deptOf(rt.Path, item); ok && !slices.Contains(hMe.Scope.DeptIDs, d) {
					foreign++
				}
			}
			checked := 0
			for _, item := range list(t, rt.Path, s.tokens["handler"]) {
				if _, ok := deptOf(rt.Path, item); ok {
					checked++
				}
				if d, ok := deptOf(rt.Path, item); ok && !slices.Contains(hMe.Scope.DeptIDs, d) && !owns(item, hMe.ID) {
					t.Errorf("handler (departments %v) sees a record of department %d: %v", hMe.Scope.DeptIDs, d, item)
				}
			}
			for _, item := range list(t, rt.Path, s.tokens["gridworker"]) {
				g, _ := item["grid_code"].(string)
				if rt.Path == "/api/v1/grids" {
					g, _ = item["code"].(string)
				}
				if g != "" {
					checked++
				}
				if g != "" && !strings.HasPrefix(g, gMe.Scope.GridPrefix) && !owns(item, gMe.ID) {
					t.Errorf("grid worker (grid %s) sees a record of grid %s: %v", gMe.Scope.GridPrefix, g, item)
				}
			}
			t.Logf("%d records with a department or grid checked", checked)
			checkedAll += checked
		})
	}
	if foreign == 0 || checkedAll == 0 {
		t.Fatalf("admin sees %d records outside the handler's departments, %d records checked: the test proves nothing", foreign, checkedAll)
	}
}
