package app

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/yiwang/yiwang/app/httpapi"
)

// Global search (the console's search box): one query across cases,
// devices, projects, enterprises and the knowledge base.
//
// It is built from the modules' own list endpoints, called in-process with
// the caller's credentials: every module keeps its permission check and its
// data scope (a handler finds only their department's cases), no module's
// tables are read from here, and a source the caller may not see (403) or
// that is not installed (404) is simply left out.

// SearchHit is one global search result.
type SearchHit struct {
	Type    string `json:"type" doc:"case, device, project, enterprise or kb"`
	ID      string `json:"id"`
	Title   string `json:"title"`
	Snippet string `json:"snippet,omitempty"`
	URL     string `json:"url,omitempty" doc:"console route of the item"`
}

type searchSource struct {
	typ   string
	path  string // list endpoint; q and limit are added
	items string // JSON field holding the results
	url   string // console route, %s = id ("" = the console opens the module's list filtered by q)
}

var searchSources = []searchSource{
	{"case", "/api/v1/cases", "items", ""},
	{"device", "/api/v1/devices", "items", ""},
	{"project", "/api/v1/projects", "items", "/projects/detail?id=%s"},
	{"enterprise", "/api/v1/enterprises", "items", ""},
	{"kb", "/api/v1/kb/search", "hits", ""},
}

func (a *App) globalSearchRoute(r *httpapi.Router) {
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/search", Tags: []string{"system"},
		Summary:  "Global search across cases, devices, projects, enterprises and the knowledge base (each in the caller's permissions and data scope)",
		Query:    []httpapi.Param{{Name: "q", Description: "text to find (1–100 characters)", Required: true}, {Name: "limit", Description: "results per source (1–20, default 5)", Type: "integer"}},
		Response: httpapi.Page[SearchHit]{},
		Handler:  a.globalSearch,
	})
}

func (a *App) globalSearch(w http.ResponseWriter, r *http.Request) error {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" || utf8.RuneCountInString(q) > 100 {
		return httpapi.FieldError("q", "required, at most 100 characters")
	}
	limit := 5
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 20 {
			return httpapi.FieldError("limit", "must be 1 to 20")
		}
		limit = n
	}
	results := make([][]SearchHit, len(searchSources))
	var wg sync.WaitGroup
	for i, src := range searchSources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = a.searchOne(r, src, q, limit)
		}()
	}
	wg.Wait()
	out := httpapi.Page[SearchHit]{Items: []SearchHit{}}
	for _, hs := range results {
		out.Items = append(out.Items, hs...)
	}
	out.Total = len(out.Items)
	return httpapi.JSON(w, http.StatusOK, out)
}

// searchOne calls one source's list endpoint as the caller.
func (a *App) searchOne(r *http.Request, src searchSource, q string, limit int) []SearchHit {
	v := url.Values{"q": {q}, "limit": {strconv.Itoa(limit)}}
	sub, err := http.NewRequestWithContext(r.Context(), "GET", src.path+"?"+v.Encode(), nil)
	if err != nil {
		return nil
	}
	for _, h := range []string{"Authorization", "Cookie", "Accept-Language"} {
		if val := r.Header.Get(h); val != "" {
			sub.Header.Set(h, val)
		}
	}
	sub.RemoteAddr = r.RemoteAddr
	rec := httptest.NewRecorder()
	a.router.ServeHTTP(rec, sub)
	if rec.Code != http.StatusOK {
		return nil // not permitted, not installed, or failed: leave it out
	}
	var body map[string]json.RawMessage
	if json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		return nil
	}
	var items []map[string]any
	if json.Unmarshal(body[src.items], &items) != nil {
		return nil
	}
	var hits []SearchHit
	for _, it := range items {
		h := SearchHit{Type: src.typ, ID: str(it["id"])}
		if h.ID == "" {
			h.ID = str(it["credit_code"])
		}
		h.Title = firstStr(it, "title", "name")
		h.Snippet = firstStr(it, "snippet", "doc_number", "address", "code", "credit_code")
		if h.Snippet == h.Title {
			h.Snippet = ""
		}
		if src.url != "" && h.ID != "" {
			h.URL = fmt.Sprintf(src.url, url.PathEscape(h.ID))
		}
		if h.ID != "" && h.Title != "" {
			hits = append(hits, h)
		}
	}
	return hits
}

func firstStr(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s := str(m[k]); s != "" {
			return s
		}
	}
	return ""
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	}
	return ""
}
