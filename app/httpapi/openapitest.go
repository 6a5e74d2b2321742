package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// CheckOpenAPI verifies that rt's OpenAPI document and its real routes agree:
// every documented path/method reaches a registered handler (the answer is
// not the router's JSON 404/405), and every route in the table is in the
// document. Package app calls it on the fully wired router.
func CheckOpenAPI(t testing.TB, rt *Router) {
	t.Helper()
	doc := rt.OpenAPI()
	paths := doc["paths"].(map[string]any)
	documented := 0
	for path, item := range paths {
		for method := range item.(map[string]any) {
			documented++
			m := strings.ToUpper(method)
			concrete := rePathParam.ReplaceAllString(path, "1")
			req := httptest.NewRequest(m, concrete, nil)
			_, pattern := rt.mux.Handler(req)
			if pattern == "" || rt.mounts[pattern] {
				t.Errorf("documented %s %s is not served (pattern %q)", m, path, pattern)
				continue
			}
			if want := m + " " + path; pattern != want {
				t.Errorf("documented %s %s is served by %q", m, path, pattern)
			}
		}
	}
	routes := rt.Routes()
	for _, r := range routes {
		item, ok := paths[r.Path].(map[string]any)
		if !ok {
			t.Errorf("route %s %s missing from OpenAPI", r.Method, r.Path)
			continue
		}
		if _, ok := item[strings.ToLower(r.Method)]; !ok {
			t.Errorf("route %s %s missing from OpenAPI", r.Method, r.Path)
		}
	}
	if documented != len(routes) {
		t.Errorf("OpenAPI documents %d operations, the route table has %d", documented, len(routes))
	}
	// An unauthenticated request to each non-public route is refused with
	// 401 by the real stack (deny by default).
	for _, r := range routes {
		if r.Public {
			continue
		}
		req := httptest.NewRequest(r.Method, rePathParam.ReplaceAllString(r.Path, "1"), nil)
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s %s without credentials: status %d, want 401", r.Method, r.Path, rec.Code)
		}
	}
}
