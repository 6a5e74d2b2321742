package search

import (
	"context"
	"html"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	bsearch "github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/yiwang/yiwang/search/meta"
)

// Request is a knowledge-base search.
type Request struct {
	Query  string              `json:"q"`
	Filter map[string][]string `json:"filter,omitempty"` // field → accepted values; fields: kind, level, issuer, year, status, tags, doc_type
	Facets []string            `json:"facets,omitempty"` // fields to count; nil = all facet fields
	Offset int                 `json:"offset,omitempty"`
	Limit  int                 `json:"limit,omitempty"` // default 10, max 100
}

// FacetFields are the fields that can be filtered and counted.
var FacetFields = []string{"kind", "level", "issuer", "year", "status", "tags", "doc_type"}

// Hit is one search or recommendation result.
type Hit struct {
	ID        string       `json:"id"`
	Title     string       `json:"title"`
	Number    string       `json:"doc_number"`
	Kind      string       `json:"kind"`
	Score     float64      `json:"score"`
	Snippet   string       `json:"snippet"` // HTML-escaped text with <mark> highlights
	Issuer    string       `json:"issuer,omitempty"`
	DocType   string       `json:"doc_type,omitempty"`
	Level     string       `json:"level,omitempty"`
	Status    string       `json:"status,omitempty"`
	Published string       `json:"published,omitempty"`
	Article   *ArticleHit  `json:"article,omitempty"`  // the article asked for (劳动法 第四十四条)
	Passages  []ArticleHit `json:"passages,omitempty"` // Related: the sections that matched
}

// ArticleHit is one addressable section of a document.
type ArticleHit struct {
	ID     string  `json:"id"`     // section id: docID#art-44
	Anchor string  `json:"anchor"` // art-44 (the document reader's fragment)
	Label  string  `json:"label"`  // 第四十四条
	Num    int     `json:"num,omitempty"`
	Text   string  `json:"text"`
	Score  float64 `json:"score,omitempty"`
}

// FacetCount is one value of a facet.
type FacetCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Result is the answer to Search and Related.
type Result struct {
	Hits   []Hit                   `json:"hits"`
	Total  int                     `json:"total"`
	TookMS float64                 `json:"took_ms"`
	Facets map[string][]FacetCount `json:"facets,omitempty"`
}

// parsedQuery is the query broken into what the engine acts on.
type parsedQuery struct {
	chunks  [][]string // per whitespace chunk: folded text and its synonym variants
	raw     []string   // chunks as typed (for snippets)
	number  *meta.NumberQuery
	article *meta.ArticleRef
	folded  string
}

func (ix *Index) parse(q string) parsedQuery {
	var pq parsedQuery
	q = strings.TrimSpace(q)
	if ar, ok := meta.ParseArticleRef(q); ok {
		pq.article = &ar
		q = ar.Rest
	}
	if nq, ok := meta.ParseNumberQuery(q); ok {
		pq.number = &nq
		q = nq.Rest
	}
	pq.folded = Fold(q)
	for _, c := range strings.Fields(q) {
		f := Fold(c)
		f = strings.Trim(f, "《》\"'“”‘’，。、；：？！,.;:?!")
		if f == "" || len(phraseTerms(f)) == 0 {
			continue
		}
		pq.raw = append(pq.raw, c)
		pq.chunks = append(pq.chunks, ix.syn.Expand(f, 6))
	}
	return pq
}

func phraseQ(field, folded string, boost float64) query.Query {
	terms := phraseTerms(folded)
	var q query.Query
	if len(terms) == 1 {
		if utf8.RuneCountInString(terms[0]) == 1 && isHan([]rune(terms[0])[0]) && field == "body" {
			// a single character: any bigram that starts with it
			pq := query.NewPrefixQuery(terms[0])
			pq.SetField(field)
			pq.SetBoost(boost)
			return pq
		}
		tq := query.NewTermQuery(terms[0])
		tq.SetField(field)
		tq.SetBoost(boost)
		q = tq
	} else {
		pq := query.NewPhraseQuery(terms, field)
		pq.SetBoost(boost)
		q = pq
	}
	return q
}

func termQ(field, term string, boost float64) *query.TermQuery {
	q := query.NewTermQuery(term)
	q.SetField(field)
	q.SetBoost(boost)
	return q
}

// chunkQuery matches one query chunk (or a synonym variant) as a substring
// of the title or the body.
func chunkQuery(variants []string) query.Query {
	var alts []query.Query
	for i, v := range variants {
		w := 1.0
		if i > 0 {
			w = 0.8 // synonyms score a little below the literal
		}
		alts = append(alts, phraseQ("title", v, 4*w), phraseQ("body", v, w))
	}
	return query.NewDisjunctionQuery(alts)
}

func numberQuery(nq *meta.NumberQuery) query.Query {
	var parts []query.Query
	parts = append(parts, termQ("num_seq", strconv.Itoa(nq.Seq), 1))
	if nq.Code != "" {
		parts = append(parts, termQ("num_code", Fold(nq.Code), 1))
	}
	if nq.Year > 0 {
		parts = append(parts, termQ("num_year", strconv.Itoa(nq.Year), 1))
	}
	c := query.NewConjunctionQuery(parts)
	c.SetBoost(20)
	return c
}

func filterQuery(filter map[string][]string) []query.Query {
	var out []query.Query
	keys := make([]string, 0, len(filter))
	for k := range filter {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vals := filter[k]
		if len(vals) == 0 {
			continue
		}
		var alts []query.Query
		for _, v := range vals {
			alts = append(alts, termQ(k, v, 0))
		}
		out = append(out, query.NewDisjunctionQuery(alts))
	}
	return out
}

// Search runs a knowledge-base search.
func (ix *Index) Search(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	idx, done := ix.bleve()
	defer done()
	if req.Limit <= 0 {
		req.Limit = 10
	}
	if req.Limit > 100 {
		req.Limit = 100
	}
	if req.Offset < 0 {
		req.Offset = 0
	}
	pq := ix.parse(req.Query)

	must := filterQuery(req.Filter)
	var should []query.Query
	// every chunk must match (as a phrase in title or body, or a synonym)
	var chunkQs []query.Query
	for _, variants := range pq.chunks {
		chunkQs = append(chunkQs, chunkQuery(variants))
	}
	if pq.number != nil {
		nq := numberQuery(pq.number)
		if len(chunkQs) == 0 {
			must = append(must, nq)
		} else {
			should = append(should, nq)
		}
	}
	if len(chunkQs) > 0 {
		must = append(must, query.NewConjunctionQuery(chunkQs))
		// ranking signals: exact title, words in the title, whole query
		// as a phrase.
		for _, k := range titleKeys(pq.folded) {
			should = append(should, termQ("title_key", k, 12))
		}
		mq := query.NewMatchQuery(pq.folded)
		mq.SetField("title")
		mq.SetBoost(2)
		should = append(should, mq)
		if len(pq.chunks) > 1 {
			should = append(should, phraseQ("title", strings.Join(pq.raw, ""), 3))
		}
	}
	if len(must) == 0 {
		// no words, number or filter (an empty query, or only 第X条):
		// every document, ranked by the signals below
		must = append(must, query.NewMatchAllQuery())
	}
	// current documents first
	should = append(should, termQ("status", meta.StatusCurrent, 0.6))
	bq := query.NewBooleanQuery(must, should, nil)

	sr := bleve.NewSearchRequestOptions(bq, req.Limit, req.Offset, false)
	sr.Fields = []string{"title", "number", "kind", "issuer", "doc_type", "level", "status", "published", "text", "sections"}
	facets := req.Facets
	if facets == nil {
		facets = FacetFields
	}
	for _, f := range facets {
		sr.AddFacet(f, bleve.NewFacetRequest(f, 20))
	}
	res, err := idx.SearchInContext(ctx, sr)
	if err != nil {
		return nil, err
	}
	out := &Result{Total: int(res.Total), Hits: []Hit{}}
	keys := snippetKeys(pq)
	for _, h := range res.Hits {
		hit := hitFromFields(h)
		text, _ := h.Fields["text"].(string)
		hit.Snippet = Snippet(text, keys, 120)
		if pq.article != nil {
			hit.Article = article(h.ID, text, fieldStr(h, "sections"), meta.Anchor(pq.article.Num, pq.article.Sub))
			if hit.Article != nil {
				hit.Snippet = Snippet(hit.Article.Label+" "+hit.Article.Text, append(keys, hit.Article.Label), 120)
			}
		}
		out.Hits = append(out.Hits, hit)
	}
	if pq.article != nil && len(out.Hits) > 1 {
		// documents that have the article asked for come first
		sort.SliceStable(out.Hits, func(i, j int) bool {
			return out.Hits[i].Article != nil && out.Hits[j].Article == nil
		})
	}
	if len(res.Facets) > 0 {
		out.Facets = map[string][]FacetCount{}
		for name, fr := range res.Facets {
			var fc []FacetCount
			if fr.Terms != nil {
				for _, t := range fr.Terms.Terms() {
					fc = append(fc, FacetCount{t.Term, t.Count})
				}
			}
			out.Facets[name] = fc
		}
	}
	out.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return out, nil
}

func fieldStr(h *bsearch.DocumentMatch, f string) string {
	s, _ := h.Fields[f].(string)
	return s
}

func hitFromFields(h *bsearch.DocumentMatch) Hit {
	return Hit{ID: h.ID, Score: h.Score, Title: fieldStr(h, "title"), Number: fieldStr(h, "number"), Kind: fieldStr(h, "kind"),
		Issuer: fieldStr(h, "issuer"), DocType: fieldStr(h, "doc_type"), Level: fieldStr(h, "level"), Status: fieldStr(h, "status"),
		Published: fieldStr(h, "published")}
}

// article returns the section of a document with the anchor (art-44), given
// the document's stored text and sections.
func article(docID, text, sections, anchor string) *ArticleHit {
	for _, s := range decodeSections(docID, sections) {
		if s.anchor == anchor {
			a := sectionHit(s, text)
			return &a
		}
	}
	return nil
}

func sectionHit(s section, text string) ArticleHit {
	a := ArticleHit{ID: s.id, Anchor: s.anchor, Label: s.label, Text: s.text(text)}
	if ar, ok := meta.ParseArticleRef(a.Label); ok {
		a.Num = ar.Num
	}
	return a
}

// docTexts loads the stored text and sections of documents.
func docTexts(idx bleve.Index, ids []string) map[string][2]string {
	out := map[string][2]string{}
	if len(ids) == 0 {
		return out
	}
	req := bleve.NewSearchRequestOptions(query.NewDocIDQuery(ids), len(ids), 0, false)
	req.Fields = []string{"text", "sections"}
	r, err := idx.Search(req)
	if err != nil {
		return out
	}
	for _, h := range r.Hits {
		out[h.ID] = [2]string{fieldStr(h, "text"), fieldStr(h, "sections")}
	}
	return out
}

// Article returns one section of a document by anchor (art-44).
func (ix *Index) Article(docID, anchor string) (*ArticleHit, bool) {
	idx, done := ix.bleve()
	defer done()
	d, ok := docTexts(idx, []string{docID})[docID]
	if !ok {
		return nil, false
	}
	a := article(docID, d[0], d[1], anchor)
	return a, a != nil
}

func snippetKeys(pq parsedQuery) []string {
	var keys []string
	for i, vs := range pq.chunks {
		keys = append(keys, vs...)
		keys = append(keys, FoldChars(pq.raw[i]))
	}
	if pq.article != nil {
		keys = append(keys, "第"+strconv.Itoa(pq.article.Num)+"条")
	}
	return keys
}

// Snippet returns about width characters of text around the first match of
// any key (compared after folding), HTML-escaped, with every key occurrence
// in the window wrapped in <mark>. Without a match it returns the head of
// the text.
func Snippet(text string, keys []string, width int) string {
	rs := []rune(text)
	folded := []rune(FoldChars(text))
	var ks [][]rune
	for _, k := range keys {
		k = FoldChars(k)
		if k != "" {
			ks = append(ks, []rune(k))
		}
	}
	sort.Slice(ks, func(i, j int) bool { return len(ks[i]) > len(ks[j]) })
	matchAt := func(i int) int {
		for _, k := range ks {
			if i+len(k) <= len(folded) && runesEq(folded[i:i+len(k)], k) {
				return len(k)
			}
		}
		return 0
	}
	first := -1
	for i := range folded {
		if matchAt(i) > 0 {
			first = i
			break
		}
	}
	from := 0
	if first > width/3 {
		from = first - width/3
	}
	// start at a sentence boundary when one is close
	for j := from; j < first && j < from+20; j++ {
		if strings.ContainsRune("。；\n", rs[j]) {
			from = j + 1
			break
		}
	}
	to := from + width
	if to > len(rs) {
		to = len(rs)
	}
	var sb strings.Builder
	if from > 0 {
		sb.WriteString("…")
	}
	for i := from; i < to; {
		if n := matchAt(i); n > 0 && i+n <= len(rs) {
			sb.WriteString("<mark>")
			sb.WriteString(html.EscapeString(string(rs[i : i+n])))
			sb.WriteString("</mark>")
			i += n
			continue
		}
		if rs[i] == '\n' {
			sb.WriteByte(' ')
		} else {
			sb.WriteString(html.EscapeString(string(rs[i])))
		}
		i++
	}
	if to < len(rs) {
		sb.WriteString("…")
	}
	return sb.String()
}

func runesEq(a, b []rune) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Suggestion is a search-as-you-type completion.
type Suggestion struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	Number string `json:"doc_number,omitempty"`
}

// Suggest completes a prefix against titles (also without the
// 中华人民共和国 prefix) and 发文字号, then titles containing the text.
func (ix *Index) Suggest(ctx context.Context, prefix string, n int) ([]Suggestion, error) {
	idx, done := ix.bleve()
	defer done()
	if n <= 0 {
		n = 8
	}
	f := Fold(strings.TrimSpace(prefix))
	if f == "" {
		return nil, nil
	}
	tp := query.NewPrefixQuery(f)
	tp.SetField("title_key")
	tp.SetBoost(5)
	np := query.NewPrefixQuery(meta.NormalizeDocNumber(prefix))
	np.SetField("number")
	np.SetBoost(5)
	alts := []query.Query{tp, np}
	if len(phraseTerms(f)) > 0 {
		alts = append(alts, phraseQ("title", f, 1))
	}
	q := query.NewBooleanQuery([]query.Query{query.NewDisjunctionQuery(alts)}, []query.Query{termQ("status", meta.StatusCurrent, 0.5)}, nil)
	sr := bleve.NewSearchRequestOptions(q, 4*n, 0, false)
	sr.Fields = []string{"title", "number"}
	res, err := idx.SearchInContext(ctx, sr)
	if err != nil {
		return nil, err
	}
	type cand struct {
		s      Suggestion
		prefix bool
		len    int
	}
	var cs []cand
	for _, h := range res.Hits {
		s := Suggestion{ID: h.ID, Title: fieldStr(h, "title"), Number: fieldStr(h, "number")}
		c := cand{s: s, len: utf8.RuneCountInString(s.Title)}
		for _, k := range titleKeys(s.Title) {
			if strings.HasPrefix(k, f) {
				c.prefix = true
				c.len = utf8.RuneCountInString(k)
			}
		}
		if s.Number != "" && strings.HasPrefix(s.Number, meta.NormalizeDocNumber(prefix)) {
			c.prefix = true
		}
		cs = append(cs, c)
	}
	// completions first, shorter (more general) titles first
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].prefix != cs[j].prefix {
			return cs[i].prefix
		}
		return cs[i].len < cs[j].len
	})
	var out []Suggestion
	for _, c := range cs {
		if len(out) == n {
			break
		}
		out = append(out, c.s)
	}
	return out, nil
}
