package httpapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/yiwang/yiwang/store"
)

type widget struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Note string `json:"note,omitempty"`
}

type createWidget struct {
	Name string `json:"name"`
	Size int    `json:"size"`
}

func (c createWidget) Validate() error {
	var v Validator
	v.Text("name", c.Name, 1, 10)
	v.Range("size", int64(c.Size), 0, 100)
	return v.Err()
}

var testList = &ListSpec{
	Sort:        map[string]string{"name": "name", "id": "id"},
	DefaultSort: "id",
	Filters:     map[string]Filter{"dept_id": {Column: "dept_id", Kind: FilterInt}},
	Search:      []string{"name"},
}

// testAuth accepts "Bearer admin" (all permissions) and "Bearer viewer"
// (widget.read only).
var testAuth = AuthenticatorFunc(func(r *http.Request) (*Principal, error) {
	switch r.Header.Get("Authorization") {
	case "":
		return nil, nil
	case "Bearer admin":
		return &Principal{UserID: 1, Username: "admin", Roles: []string{RoleAdmin}, Permissions: PermissionsOf(RoleAdmin), Scope: Scope{Kind: ScopeAll}}, nil
	case "Bearer viewer":
		return &Principal{UserID: 2, Username: "v", Roles: []string{RoleViewer}, Permissions: []string{PermOrgRead}, Scope: Scope{Kind: ScopeAll}}, nil
	}
	return nil, ErrUnauthorized
})

func newTestRouter(t *testing.T) *Router {
	t.Helper()
	rt := NewRouter(Options{Title: "test", Logf: t.Logf})
	rt.SetAuthenticator(testAuth)
	rt.Handle(Route{Method: "GET", Path: "/api/v1/widgets", Summary: "List widgets", Perm: PermOrgRead,
		List: testList, Response: Page[widget]{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			q, err := ParseList(r, testList)
			if err != nil {
				return err
			}
			return JSON(w, 200, map[string]any{"where": q.WhereSQL(), "order": q.OrderBy(), "limit": q.LimitSQL()})
		}})
	rt.Handle(Route{Method: "POST", Path: "/api/v1/widgets", Summary: "Create widget", Perm: PermOrgWrite,
		Request: createWidget{}, Response: widget{}, Status: 201,
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			var in createWidget
			if err := Decode(r, &in); err != nil {
				return err
			}
			return JSON(w, 201, widget{ID: 7, Name: in.Name})
		}})
	rt.Handle(Route{Method: "GET", Path: "/api/v1/widgets/{id}", Summary: "Get widget", Perm: PermOrgRead,
		Response: widget{},
		Handler: func(w http.ResponseWriter, r *http.Request) error {
			id, err := PathInt64(r, "id")
			if err != nil {
				return err
			}
			if id != 7 {
				return store.Errorf("not_found", "widget %d not found", id)
			}
			return JSON(w, 200, widget{ID: 7})
		}})
	rt.Handle(Route{Method: "DELETE", Path: "/api/v1/widgets/{id}", Summary: "Delete widget", Perm: PermOrgWrite,
		Handler: func(w http.ResponseWriter, r *http.Request) error { return store.Errorf("conflict", "in use") }})
	rt.Handle(Route{Method: "GET", Path: "/api/v1/boom", Summary: "Panics", Public: true,
		Handler: func(w http.ResponseWriter, r *http.Request) error { panic("kaboom") }})
	rt.Handle(Route{Method: "GET", Path: "/api/v1/secret", Summary: "Internal error", Public: true,
		Handler: func(w http.ResponseWriter, r *http.Request) error { return io.ErrClosedPipe }})
	rt.Mount("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "console") }))
	return rt
}

type call struct {
	name       string
	method     string
	path       string
	auth       string
	body       string
	header     map[string]string
	wantStatus int
	wantCode   string
	wantField  string
	wantBody   string
}

func (c call) run(t *testing.T, h http.Handler) {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req := httptest.NewRequest(c.method, c.path, body)
	if c.auth != "" {
		req.Header.Set("Authorization", "Bearer "+c.auth)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != c.wantStatus {
		t.Fatalf("status %d, want %d; body %s", rec.Code, c.wantStatus, rec.Body)
	}
	if c.wantCode != "" || c.wantField != "" {
		var eb ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
			t.Fatalf("error body %q: %v", rec.Body, err)
		}
		if c.wantCode != "" && eb.Error.Code != c.wantCode {
			t.Fatalf("code %q, want %q (%s)", eb.Error.Code, c.wantCode, rec.Body)
		}
		if c.wantField != "" {
			if _, ok := eb.Error.Fields[c.wantField]; !ok {
				t.Fatalf("no message for field %q: %s", c.wantField, rec.Body)
			}
		}
	}
	if c.wantBody != "" && !strings.Contains(rec.Body.String(), c.wantBody) {
		t.Fatalf("body %q does not contain %q", rec.Body, c.wantBody)
	}
}

func TestRouterScenarios(t *testing.T) {
	rt := newTestRouter(t)
	calls := []call{
		{name: "list unauthenticated", method: "GET", path: "/api/v1/widgets", wantStatus: 401, wantCode: "unauthorized"},
		{name: "list bad token", method: "GET", path: "/api/v1/widgets", auth: "nope", wantStatus: 401, wantCode: "unauthorized"},
		{name: "list viewer", method: "GET", path: "/api/v1/widgets?limit=5&sort=-name&dept_id=3&q=a_b", auth: "viewer", wantStatus: 200,
			wantBody: `ORDER BY name DESC`},
		{name: "list unknown param", method: "GET", path: "/api/v1/widgets?colour=red", auth: "viewer", wantStatus: 400, wantCode: "invalid", wantField: "colour"},
		{name: "list bad limit", method: "GET", path: "/api/v1/widgets?limit=100000", auth: "viewer", wantStatus: 400, wantField: "limit"},
		{name: "list bad sort", method: "GET", path: "/api/v1/widgets?sort=password", auth: "viewer", wantStatus: 400, wantField: "sort"},
		{name: "list bad filter", method: "GET", path: "/api/v1/widgets?dept_id=x", auth: "viewer", wantStatus: 400, wantField: "dept_id"},
		{name: "create forbidden", method: "POST", path: "/api/v1/widgets", auth: "viewer", body: `{"name":"a"}`, wantStatus: 403, wantCode: "forbidden"},
		{name: "create ok", method: "POST", path: "/api/v1/widgets", auth: "admin", body: `{"name":"a","size":3}`, wantStatus: 201, wantBody: `"id":7`},
		{name: "create unknown field", method: "POST", path: "/api/v1/widgets", auth: "admin", body: `{"name":"a","colour":1}`, wantStatus: 400, wantField: "colour"},
		{name: "create wrong type", method: "POST", path: "/api/v1/widgets", auth: "admin", body: `{"name":5}`, wantStatus: 400, wantField: "name"},
		{name: "create invalid", method: "POST", path: "/api/v1/widgets", auth: "admin", body: `{"name":"","size":500}`, wantStatus: 400, wantField: "size"},
		{name: "create malformed", method: "POST", path: "/api/v1/widgets", auth: "admin", body: `{"name":`, wantStatus: 400, wantCode: "invalid"},
		{name: "create two values", method: "POST", path: "/api/v1/widgets", auth: "admin", body: `{"name":"a"}{}`, wantStatus: 400, wantCode: "invalid"},
		{name: "create empty", method: "POST", path: "/api/v1/widgets", auth: "admin", wantStatus: 400, wantCode: "invalid"},
		{name: "create oversize", method: "POST", path: "/api/v1/widgets", auth: "admin", body: `{"name":"` + strings.Repeat("x", DefaultMaxBody) + `"}`, wantStatus: 413, wantCode: "too_large"},
		{name: "create wrong content type", method: "POST", path: "/api/v1/widgets", auth: "admin", body: `name=a`,
			header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, wantStatus: 415, wantCode: "unsupported_media_type"},
		{name: "get ok", method: "GET", path: "/api/v1/widgets/7", auth: "viewer", wantStatus: 200},
		{name: "get missing", method: "GET", path: "/api/v1/widgets/8", auth: "viewer", wantStatus: 404, wantCode: "not_found"},
		{name: "get bad id", method: "GET", path: "/api/v1/widgets/x", auth: "viewer", wantStatus: 400, wantField: "id"},
		{name: "delete conflict", method: "DELETE", path: "/api/v1/widgets/7", auth: "admin", wantStatus: 409, wantCode: "conflict"},
		{name: "method not allowed", method: "PUT", path: "/api/v1/widgets/7", auth: "admin", wantStatus: 405, wantCode: "method_not_allowed"},
		{name: "unknown api path", method: "GET", path: "/api/v1/nothing", auth: "admin", wantStatus: 404, wantCode: "not_found"},
		{name: "console fallback", method: "GET", path: "/cases/12", wantStatus: 200, wantBody: "console"},
		{name: "panic is 500", method: "GET", path: "/api/v1/boom", wantStatus: 500, wantCode: "internal"},
		{name: "internal error hidden", method: "GET", path: "/api/v1/secret", wantStatus: 500, wantCode: "internal", wantBody: `"internal error"`},
		{name: "openapi public", method: "GET", path: "/api/openapi.json", wantStatus: 200, wantBody: `"openapi":"3.0.3"`},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) { c.run(t, rt) })
	}
}

func TestCookieCSRF(t *testing.T) {
	rt := NewRouter(Options{})
	rt.SetAuthenticator(AuthenticatorFunc(func(r *http.Request) (*Principal, error) {
		return &Principal{UserID: 1, Permissions: PermissionsOf(RoleAdmin), ViaCookie: true, Scope: Scope{Kind: ScopeAll}}, nil
	}))
	rt.Handle(Route{Method: "POST", Path: "/api/v1/x", Summary: "x", Perm: PermOrgWrite,
		Handler: func(w http.ResponseWriter, r *http.Request) error { return NoContent(w) }})
	for _, c := range []call{
		{name: "same origin", method: "POST", path: "/api/v1/x", header: map[string]string{"Origin": "http://example.com"}, wantStatus: 204},
		{name: "no origin", method: "POST", path: "/api/v1/x", wantStatus: 204},
		{name: "cross origin", method: "POST", path: "/api/v1/x", header: map[string]string{"Origin": "http://evil.test"}, wantStatus: 403, wantCode: "forbidden"},
	} {
		t.Run(c.name, func(t *testing.T) { c.run(t, rt) })
	}
}

// TestOpenAPIMatchesRoutes checks the document against the real router in
// both directions: every documented operation is served by the mux (not a
// 404/405 from the fallback), and every route of the table is documented.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	rt := newTestRouter(t)
	CheckOpenAPI(t, rt)
}

func TestOpenAPISchemas(t *testing.T) {
	rt := newTestRouter(t)
	doc := rt.OpenAPI()
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
				Required   []string       `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
			XPermission string `json:"x-permission"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	ws, ok := d.Components.Schemas["widget"]
	if !ok {
		keys := make([]string, 0)
		for k := range d.Components.Schemas {
			keys = append(keys, k)
		}
		t.Fatalf("no widget schema; have %v", keys)
	}
	sort.Strings(ws.Required)
	if strings.Join(ws.Required, ",") != "id,name" {
		t.Fatalf("required = %v, want id,name (note is omitempty)", ws.Required)
	}
	if _, ok := d.Components.Schemas["Page_httpapi.widget"]; !ok {
		t.Fatalf("generic page schema missing: %v", d.Components.Schemas)
	}
	op := d.Paths["/api/v1/widgets"]["get"]
	if op.XPermission != PermOrgRead {
		t.Fatalf("x-permission = %q", op.XPermission)
	}
	var names []string
	for _, p := range op.Parameters {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "limit,offset,sort,q,dept_id" {
		t.Fatalf("list parameters = %v", names)
	}
}
