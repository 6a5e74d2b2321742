package kb

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/search"
	"github.com/yiwang/yiwang/search/meta"
	"github.com/yiwang/yiwang/store"
)

const tag = "kb"

var listSpec = &httpapi.ListSpec{
	Sort: map[string]string{"title": "title", "updated_at": "updated_at", "created_at": "created_at",
		"date": "CASE WHEN published<>'' THEN published ELSE written END", "doc_number": "doc_number"},
	DefaultSort: "-updated_at",
	Tiebreak:    "id",
	Filters: map[string]httpapi.Filter{
		"kind":   {Column: "kind", Kind: httpapi.FilterIn, Doc: "政策法规,案例,预案,标准"},
		"status": {Column: "status", Kind: httpapi.FilterIn, Doc: "现行有效,已修改,已废止"},
		"level":  {Column: "level", Kind: httpapi.FilterIn},
		"issuer": {Column: "issuer", Kind: httpapi.FilterString},
	},
	Search: []string{"title", "doc_number", "issuer"},
}

// searchParams are the query parameters of GET /api/v1/kb/search.
var searchParams = []httpapi.Param{
	{Name: "q", Description: "query: words, phrases, 发文字号 (国办发〔2017〕39号, 39号文), 劳动法 第四十四条"},
	{Name: "kind", Description: "filter (comma-separated or repeated): 政策法规, 案例, 预案, 标准"},
	{Name: "level", Description: "filter: 国家, 省, 市, 县"},
	{Name: "issuer", Description: "filter: 发文机关"},
	{Name: "year", Description: "filter: year of publication"},
	{Name: "status", Description: "filter: 现行有效, 已修改, 已废止"},
	{Name: "tags", Description: "filter: tag"},
	{Name: "doc_type", Description: "filter: 文种"},
	{Name: "facets", Description: "facet fields to count (comma-separated), default all; none for no facets"},
	{Name: "offset", Type: "integer"},
	{Name: "limit", Type: "integer", Description: "1..100, default 10"},
}

// MaxUpload is the size limit of one uploaded file.
const MaxUpload = 50 << 20

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	rd, wr := httpapi.PermKBRead, httpapi.PermKBWrite
	t := []string{tag}
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/kb/search", Summary: "Search the knowledge base", Tags: t, Perm: rd,
		Description: "Full-text search with filters, facets, highlighted snippets and article-level hits.",
		Query:       searchParams, Response: search.Result{}, Handler: m.search})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/kb/suggest", Summary: "Search-as-you-type suggestions", Tags: t, Perm: rd,
		Query:    []httpapi.Param{{Name: "q", Required: true}, {Name: "limit", Type: "integer"}},
		Response: SuggestOutput{}, Handler: m.suggest})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/kb/related", Summary: "Documents that apply to a text", Tags: t, Perm: rd,
		Description: "Recommends documents for any text (a case description, a project, an enterprise profile) with the passages that matched.",
		Request:     RelatedInput{}, Response: search.Result{}, Handler: m.related})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/kb/documents", Summary: "List documents", Tags: t, Perm: rd,
		List: listSpec, Response: httpapi.Page[Document]{}, Handler: m.list})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/kb/documents", Summary: "Create a document from text", Tags: t, Perm: wr,
		Description: "Metadata left empty is parsed from the text (智能解析).",
		Request:     CreateDoc{}, Response: Document{}, Status: http.StatusCreated, MaxBody: MaxText + 1<<20, Handler: m.create})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/kb/documents/{id}", Summary: "Read a document with its articles and links", Tags: t, Perm: rd,
		Response: Document{}, Handler: m.get})
	r.Handle(httpapi.Route{Method: "PATCH", Path: "/api/v1/kb/documents/{id}", Summary: "Edit a document (metadata, 时效性, text)", Tags: t, Perm: wr,
		Request: UpdateDoc{}, Response: Document{}, MaxBody: MaxText + 1<<20, Handler: m.update})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/kb/documents/{id}", Summary: "Delete a document", Tags: t, Perm: wr,
		Status: http.StatusNoContent, Handler: m.remove})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/kb/links", Summary: "Link two documents (修改/废止/替代)", Tags: t, Perm: wr,
		Description: "from_id 修改/废止/替代 to_id; the target's 时效性 becomes 已修改 or 已废止.",
		Request:     LinkInput{}, Response: LinkInput{}, Status: http.StatusCreated, Handler: m.link})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/kb/links", Summary: "Remove a link", Tags: t, Perm: wr,
		Query:  []httpapi.Param{{Name: "from_id", Required: true}, {Name: "to_id", Required: true}, {Name: "kind", Required: true}},
		Status: http.StatusNoContent, Handler: m.unlink})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/kb/import", Summary: "Import one file", Tags: t, Perm: wr,
		Description: "multipart/form-data with a part \"file\" (.txt .md .html .docx .pdf .ofd, at most 50 MB) and optional \"kind\" and \"tags\" (comma-separated). " +
			"201 imported, 200 skipped (same text already stored, duplicate_of), 4xx refused with the reason.",
		RequestContentType: "multipart/form-data", Response: ImportResult{}, Status: http.StatusCreated,
		MaxBody: MaxUpload + 1<<20, Handler: m.importFile})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/kb/cases/{id}", Summary: "Keep a closed case in the knowledge base (案例)", Tags: t, Perm: wr,
		Description: "Copies a closed case the caller may read (case.read, data scope) into a 案例 document; 200 skipped when the same text is stored.",
		Response:    ImportResult{}, Status: http.StatusCreated, Handler: m.keepCase})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/kb/synonyms", Summary: "The synonym dictionary", Tags: t, Perm: rd,
		Response: SynonymsOutput{}, Handler: m.getSynonyms})
	r.Handle(httpapi.Route{Method: "PUT", Path: "/api/v1/kb/synonyms", Summary: "Replace the synonym dictionary", Tags: t, Perm: wr,
		Description: "Body {\"groups\":[[\"低保\",\"最低生活保障\"]]} or {\"text\":\"低保 最低生活保障\\n...\"}; applies to searches at once, no reindex.",
		Request:     SynonymsInput{}, Response: SynonymsOutput{}, Handler: m.putSynonyms})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/kb/status", Summary: "Documents stored and indexed on this node", Tags: t, Perm: rd,
		Description: "watermark reaches an import's index once the document is searchable on this node.",
		Response:    Status{}, Handler: m.status})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/kb/reindex", Summary: "Rebuild this node's index from the store", Tags: t, Perm: wr,
		Response: ReindexOutput{}, NoTimeout: true, Handler: m.reindex})
}

func (m *Module) index() (*search.Index, error) {
	ix := m.ix.Load()
	if ix == nil {
		return nil, store.Errorf("unavailable", "knowledge base index is not open")
	}
	return ix, nil
}

// ParseSearch reads a search request from query parameters.
func ParseSearch(vals url.Values) (search.Request, error) {
	var v httpapi.Validator
	req := search.Request{Filter: map[string][]string{}}
	filters := map[string]bool{}
	for _, f := range search.FacetFields {
		filters[f] = true
	}
	for k, vs := range vals {
		switch {
		case k == "q":
			req.Query = strings.TrimSpace(strings.Join(vs, " "))
			if utf8.RuneCountInString(req.Query) > 200 || !utf8.ValidString(req.Query) {
				v.Add(k, "at most 200 characters")
			}
		case k == "offset" || k == "limit":
			n, err := strconv.Atoi(vs[0])
			lo, hi := 0, 10000
			if k == "limit" {
				lo, hi = 1, 100
			}
			if err != nil || n < lo || n > hi {
				v.Add(k, fmt.Sprintf("must be an integer between %d and %d", lo, hi))
				continue
			}
			if k == "limit" {
				req.Limit = n
			} else {
				req.Offset = n
			}
		case k == "facets":
			s := strings.Join(vs, ",")
			if s == "none" {
				req.Facets = []string{}
				continue
			}
			for _, f := range splitList(s) {
				if !filters[f] {
					v.Add(k, "unknown facet "+f)
				}
				req.Facets = append(req.Facets, f)
			}
		case filters[k]:
			for _, s := range vs {
				req.Filter[k] = append(req.Filter[k], splitList(s)...)
			}
			if k == "year" {
				for _, y := range req.Filter[k] {
					if n, err := strconv.Atoi(y); err != nil || n < 1900 || n > 2200 {
						v.Add(k, "must be a year")
					}
				}
			}
		default:
			v.Add(k, "unknown parameter")
		}
	}
	if len(req.Filter) == 0 {
		req.Filter = nil
	}
	return req, v.Err()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '，' }) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (m *Module) search(w http.ResponseWriter, r *http.Request) error {
	req, err := ParseSearch(r.URL.Query())
	if err != nil {
		return err
	}
	ix, err := m.index()
	if err != nil {
		return err
	}
	res, err := ix.Search(r.Context(), req)
	if err != nil {
		return err
	}
	if res.Hits == nil {
		res.Hits = []search.Hit{}
	}
	return httpapi.JSON(w, http.StatusOK, res)
}

// SuggestOutput is the answer of GET /api/v1/kb/suggest.
type SuggestOutput struct {
	Items []search.Suggestion `json:"items"`
}

func (m *Module) suggest(w http.ResponseWriter, r *http.Request) error {
	var v httpapi.Validator
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	v.Text("q", q, 1, 100)
	n := 8
	if s := r.URL.Query().Get("limit"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 || n > 50 {
			v.Add("limit", "must be an integer between 1 and 50")
		}
	}
	for k := range r.URL.Query() {
		if k != "q" && k != "limit" {
			v.Add(k, "unknown parameter")
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	ix, err := m.index()
	if err != nil {
		return err
	}
	items, err := ix.Suggest(r.Context(), q, n)
	if err != nil {
		return err
	}
	if items == nil {
		items = []search.Suggestion{}
	}
	return httpapi.JSON(w, http.StatusOK, SuggestOutput{Items: items})
}

// RelatedInput is the body of POST /api/v1/kb/related.
type RelatedInput struct {
	Text     string   `json:"text"`
	Limit    int      `json:"limit,omitempty"`    // 1..50, default 10
	Kinds    []string `json:"kinds,omitempty"`    // restrict to these kinds
	Exclude  []string `json:"exclude,omitempty"`  // document ids to leave out
	Passages int      `json:"passages,omitempty"` // passages per document, default 3
}

// Validate implements httpapi.Validatable.
func (in *RelatedInput) Validate() error {
	var v httpapi.Validator
	if strings.TrimSpace(in.Text) == "" {
		v.Add("text", "is required")
	} else if len(in.Text) > 100_000 {
		v.Add("text", "at most 100,000 bytes")
	}
	if in.Limit < 0 || in.Limit > 50 {
		v.Add("limit", "must be between 1 and 50")
	}
	if in.Passages < 0 || in.Passages > 10 {
		v.Add("passages", "must be between 0 and 10")
	}
	for _, k := range in.Kinds {
		v.OneOf("kinds", k, Kinds...)
	}
	if len(in.Exclude) > 100 {
		v.Add("exclude", "at most 100 ids")
	}
	return v.Err()
}

func (m *Module) related(w http.ResponseWriter, r *http.Request) error {
	var in RelatedInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	res, err := m.Related(r.Context(), in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, res)
}

// Related recommends documents for a text (also for other modules' pages).
func (m *Module) Related(ctx context.Context, in RelatedInput) (*search.Result, error) {
	ix, err := m.index()
	if err != nil {
		return nil, err
	}
	if in.Limit == 0 {
		in.Limit = 10
	}
	res, err := ix.Related(ctx, in.Text, in.Limit, search.RelatedOptions{Kinds: in.Kinds, Exclude: in.Exclude, Passages: in.Passages, Citations: true})
	if err != nil {
		return nil, err
	}
	if res.Hits == nil {
		res.Hits = []search.Hit{}
	}
	return res, nil
}

func (m *Module) list(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, listSpec)
	if err != nil {
		return err
	}
	ctx := r.Context()
	db := m.st.DB()
	var total int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM kb_document `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	cols := strings.Replace(docColumns, "text,", "'' AS text,", 1)
	rows, err := db.QueryContext(ctx, `SELECT `+cols+` FROM kb_document `+q.WhereSQL()+" "+q.OrderBy()+" "+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []Document{}
	for rows.Next() {
		d, err := scanDoc(rows)
		if err != nil {
			return err
		}
		items = append(items, *d)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Document]{Items: items, Total: total})
}

// Get reads a document with its articles and links.
func (m *Module) Get(ctx context.Context, id string) (*Document, error) {
	d, err := readDoc(m.st.DB(), id)
	if err != nil {
		return nil, err
	}
	d.Articles = meta.ParseArticles(d.Text)
	rows, err := m.st.DB().QueryContext(ctx, `SELECT l.from_id, l.to_id, l.kind, l.note, l.created_at, d.id, d.title, d.doc_number
		FROM kb_link l JOIN kb_document d ON d.id = CASE WHEN l.from_id=? THEN l.to_id ELSE l.from_id END
		WHERE l.from_id=? OR l.to_id=? ORDER BY l.created_at, l.kind`, id, id, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var l Link
		if err := rows.Scan(&l.FromID, &l.ToID, &l.Kind, &l.Note, &l.CreatedAt, &l.OtherID, &l.Title, &l.Number); err != nil {
			return nil, err
		}
		l.Direction = "out"
		if l.ToID == id {
			l.Direction = "in"
		}
		d.Links = append(d.Links, l)
	}
	return d, rows.Err()
}

func (m *Module) get(w http.ResponseWriter, r *http.Request) error {
	d, err := m.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, d)
}

func (m *Module) create(w http.ResponseWriter, r *http.Request) error {
	var in CreateDoc
	if in.Kind == "" {
		in.Kind = search.KindPolicy
	}
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	fillMeta(&in)
	res, err := m.apply(r, CmdCreate, &in)
	if err != nil {
		return err
	}
	d, err := m.Get(r.Context(), res.ID)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, d)
}

// fillMeta parses metadata from the text for every field left empty.
func fillMeta(in *CreateDoc) {
	p := search.NewDoc("", in.Kind, in.Title, in.Text)
	fill := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	fill(&in.Title, p.Title)
	fill(&in.Number, p.Number)
	fill(&in.Issuer, p.Issuer)
	fill(&in.DocType, p.DocType)
	fill(&in.Level, p.Level)
	fill(&in.Status, p.Status)
	fill(&in.Written, p.Written)
	fill(&in.Published, p.Published)
	if in.Number != "" {
		in.Number = meta.NormalizeDocNumber(in.Number)
	}
	if in.Level != "" && !contains(Levels, in.Level) {
		in.Level = ""
	}
	if in.Status != "" && !contains(Statuses, in.Status) {
		in.Status = ""
	}
	if utf8.RuneCountInString(in.Title) > maxTitle {
		in.Title = string([]rune(in.Title)[:maxTitle])
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

func (m *Module) apply(r *http.Request, typ string, payload any) (Touched, error) {
	var t Touched
	res, err := httpapi.Apply(r, m.st, typ, 1, payload)
	if err != nil {
		return t, err
	}
	err = res.Decode(&t)
	t.index = res.Index
	return t, err
}

// Status is the answer of GET /api/v1/kb/status.
type Status struct {
	Documents int    `json:"documents"` // in the store
	Indexed   int    `json:"indexed"`   // in this node's index
	Applied   uint64 `json:"applied"`   // store index applied on this node
	Watermark uint64 `json:"watermark"` // store index the index has caught up with
}

func (m *Module) status(w http.ResponseWriter, r *http.Request) error {
	var s Status
	if err := m.st.DB().QueryRowContext(r.Context(), `SELECT count(*) FROM kb_document`).Scan(&s.Documents); err != nil {
		return err
	}
	s.Applied, s.Watermark = m.st.AppliedIndex(), m.Watermark()
	if ix := m.ix.Load(); ix != nil {
		n, err := ix.Count()
		if err != nil {
			return err
		}
		s.Indexed = n
	}
	return httpapi.JSON(w, http.StatusOK, s)
}

func (m *Module) update(w http.ResponseWriter, r *http.Request) error {
	var in UpdateDoc
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	in.ID = r.PathValue("id")
	if in.Number != nil && *in.Number != "" {
		n := meta.NormalizeDocNumber(*in.Number)
		in.Number = &n
	}
	if _, err := m.apply(r, CmdUpdate, &in); err != nil {
		return err
	}
	d, err := m.Get(r.Context(), in.ID)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, d)
}

func (m *Module) remove(w http.ResponseWriter, r *http.Request) error {
	if _, err := m.apply(r, CmdDelete, map[string]string{"id": r.PathValue("id")}); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

func (m *Module) link(w http.ResponseWriter, r *http.Request) error {
	var in LinkInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if _, err := m.apply(r, CmdLink, &in); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, in)
}

func (m *Module) unlink(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	in := LinkInput{From: q.Get("from_id"), To: q.Get("to_id"), Kind: q.Get("kind")}
	if err := in.Validate(); err != nil {
		return err
	}
	if _, err := m.apply(r, CmdUnlink, &in); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

// SynonymsOutput is the dictionary as the editor shows it.
type SynonymsOutput struct {
	Groups [][]string `json:"groups"`
	Text   string     `json:"text"`   // one group per line
	Custom bool       `json:"custom"` // false while the built-in dictionary is used
}

func (m *Module) synonymsOutput(ctx context.Context) (SynonymsOutput, error) {
	g, custom, err := m.synonymGroups(ctx)
	if err != nil {
		return SynonymsOutput{}, err
	}
	var b strings.Builder
	for _, grp := range g {
		b.WriteString(strings.Join(grp, " "))
		b.WriteByte('\n')
	}
	if g == nil {
		g = [][]string{}
	}
	return SynonymsOutput{Groups: g, Text: b.String(), Custom: custom}, nil
}

func (m *Module) getSynonyms(w http.ResponseWriter, r *http.Request) error {
	out, err := m.synonymsOutput(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) putSynonyms(w http.ResponseWriter, r *http.Request) error {
	var in SynonymsInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if _, err := m.apply(r, CmdSynonyms, &in); err != nil {
		return err
	}
	// This node's index takes the dictionary from the event; answer with
	// what is stored.
	if ix := m.ix.Load(); ix != nil {
		ix.SetSynonyms(in.Groups)
	}
	out, err := m.synonymsOutput(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

// ReindexOutput is the answer of POST /api/v1/kb/reindex.
type ReindexOutput struct {
	Documents int     `json:"documents"`
	TookMS    float64 `json:"took_ms"`
}

func (m *Module) reindex(w http.ResponseWriter, r *http.Request) error {
	start := time.Now()
	n, err := m.Reindex(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, ReindexOutput{Documents: n, TookMS: float64(time.Since(start).Microseconds()) / 1000})
}
