package app

import (
	"net/url"
	"testing"

	"github.com/yiwang/yiwang/app/httpapi"
)

// TestGlobalSearch: one query finds items of several modules, each source
// keeps its permissions (a viewer without project.read gets no projects),
// and bad input is refused.
func TestGlobalSearch(t *testing.T) {
	s := startServer(t)
	var page httpapi.Page[SearchHit]
	// The demo county has sensors named 水位, cases and projects; search a
	// word in device names and one in project names.
	found := map[string]int{}
	for _, q := range []string{"水位", "工程", "有限公司"} {
		s.must("GET", "/api/v1/search?q="+url.QueryEscape(q)+"&limit=5", s.tokens["admin"], nil, 200, &page)
		for _, h := range page.Items {
			if h.ID == "" || h.Title == "" {
				t.Fatalf("hit without id/title: %+v", h)
			}
			found[h.Type]++
		}
		if page.Total != len(page.Items) {
			t.Fatalf("total %d for %d items", page.Total, len(page.Items))
		}
	}
	if found["device"] == 0 || found["project"] == 0 || found["enterprise"] == 0 {
		t.Fatalf("admin search found %v; want devices, projects and enterprises", found)
	}
	// Permissions hold per source: the integrator lacks investment.read.
	s.must("GET", "/api/v1/search?q="+url.QueryEscape("有限公司"), s.tokens["integrator"], nil, 200, &page)
	for _, h := range page.Items {
		if h.Type == "enterprise" {
			t.Fatalf("integrator found an enterprise: %+v", h)
		}
	}
	for _, bad := range []string{"", "&limit=0", "&limit=99"} {
		q := "q=x" + bad
		if bad == "" {
			q = "q="
		}
		if code, b, _ := s.do("GET", "/api/v1/search?"+q, s.tokens["admin"], nil); code != 400 {
			t.Errorf("%s: status %d (%s), want 400", q, code, b)
		}
	}
	if code, _, _ := s.do("GET", "/api/v1/search?q=x", "", nil); code != 401 {
		t.Errorf("unauthenticated search: %d", code)
	}
}
