package search

import (
	"context"
	"math"
	"regexp"
	"slices"
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

// RelatedOptions tune Related.
type RelatedOptions struct {
	Kinds     []string // restrict to these kinds (default: all)
	Terms     int      // key terms to query with (default 24)
	Passages  int      // passages per document (default 3)
	Citations bool     // boost documents the text cites by title (《…》)
	Exclude   []string // document ids to leave out (the case itself)
}

// KeyTerm is a weighted term extracted from a text.
type KeyTerm struct {
	Term   string  `json:"term"`
	Weight float64 `json:"weight"`
}

// stopWords are frequent function words and legal boilerplate that carry
// no topic.
var stopWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`的 了 和 与 及 或 是 在 对 为 以 于 等 由 其 该 本 此 之 有 无 不 也 并 但 而 被 将 把 从 向 按 经 则 如 若 因 所 即 又 还 都 就 这 那 个 上 下 中 后 前 时 内 外 可 应 当 应当 可以 进行 有关 相关 规定 依照 按照 根据 依法 根据 以及 或者 并且 其他 其它 我们 他们 她们 你们 自己 没有 已经 如果 因为 所以 但是 由于 对于 关于 通过 具有 本法 本条例 本办法 本规定 条 款 项 第 一 二 三 年 月 日 元 某 某某 公司 原告 被告 法院 人民法院 判决 一审 二审 上诉 本案 案件 认为 请求 诉讼 裁判 结果 案例 分析 意义 典型 基本 案情 支持 主张 提出 要求 情况 问题 工作 方面 单位 人员 实施 执行 开展 加强 建立 管理 部门 政府 国家 县级 以上 地方 各级 人民 负责 组织 情形 之一 下列`) {
		stopWords[w] = true
	}
}

// KeyTerms extracts the n most characteristic words of text: gse words
// weighted by sqrt(tf) × idf, the idf taken from the index's own document
// statistics (so legal vocabulary the corpus knows well is weighted by how
// discriminating it is there).
func (ix *Index) KeyTerms(text string, n int) []KeyTerm {
	idx, done := ix.bleve()
	defer done()
	if ix.closed {
		return nil
	}
	return ix.keyTerms(idx, text, n)
}

func (ix *Index) keyTerms(idx bleve.Index, text string, n int) []KeyTerm {
	tf := map[string]int{}
	words(Fold(text), func(term string, _, _, _ int) {
		// 张某/某公司: anonymised names are frequent in case texts and
		// say nothing about the law that applies.
		if utf8.RuneCountInString(term) < 2 || stopWords[term] || isNumeric(term) || strings.Contains(term, "某") || strings.HasSuffix(term, "月入") {
			return
		}
		tf[term]++
	})
	total := ix.docCount(idx)
	minDF := relatedMinDF
	if total < relatedMinDFDocs {
		// In a small knowledge base (a county that has imported a few
		// dozen documents) every term is rare: the cut would leave nothing.
		minDF = 1
	}
	var out []KeyTerm
	for t, c := range tf {
		df := ix.docFreq(idx, t)
		if df < minDF {
			// unknown to the index, or so rare in it (a company's trade,
			// 心肌梗死, 传媒) that it is incidental to the case rather than
			// a sign of the law that applies
			continue
		}
		idf := math.Log(1 + float64(total)/float64(df))
		out = append(out, KeyTerm{t, math.Sqrt(float64(c)) * idf})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Weight != out[j].Weight {
			return out[i].Weight > out[j].Weight
		}
		return out[i].Term < out[j].Term
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

func isNumeric(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '.' || r == '%') {
			return false
		}
	}
	return true
}

func (ix *Index) docCount(idx bleve.Index) int {
	if v, ok := ix.idf.Load("\x00docs"); ok {
		return v.(int)
	}
	n := 1
	if c, err := idx.DocCount(); err == nil && c > 0 {
		n = int(c)
	}
	ix.idf.Store("\x00docs", n)
	return n
}

// docFreq estimates how many documents contain term: the document
// frequency of its rarest body bigram (exact for two-character words,
// an upper bound for longer ones). It reads only the term dictionary.
func (ix *Index) docFreq(idx bleve.Index, term string) int {
	if v, ok := ix.idf.Load(term); ok {
		return v.(int)
	}
	n := 0
	if r, err := idx.Advanced(); err == nil {
		if rd, err := r.Reader(); err == nil {
			n = -1
			for _, bg := range phraseTerms(term) {
				if bg == "" {
					continue
				}
				c := 0
				if tfr, err := rd.TermFieldReader(context.Background(), []byte(bg), "body", false, false, false); err == nil {
					c = int(tfr.Count())
					tfr.Close()
				}
				if n < 0 || c < n {
					n = c
				}
			}
			n = max(n, 0)
			rd.Close()
		}
	}
	ix.idf.Store(term, n)
	return n
}

var citeRe = regexp.MustCompile(`《([^《》]{2,60})》`)

// Related recommends documents for a text (a case description, a project,
// an enterprise profile): it extracts key terms, runs one weighted phrase
// query over document bodies, and maps the match locations to sections
// (articles and paragraphs). Each hit carries the passages that matched.
func (ix *Index) Related(ctx context.Context, text string, n int, opt RelatedOptions) (*Result, error) {
	start := time.Now()
	idx, done := ix.bleve()
	defer done()
	if ix.closed {
		return nil, bleve.ErrorIndexClosed
	}
	if n <= 0 {
		n = 10
	}
	if opt.Terms <= 0 {
		opt.Terms = relatedTerms
	}
	if opt.Passages <= 0 {
		opt.Passages = 3
	}
	kts := ix.keyTerms(idx, text, opt.Terms)
	out := &Result{Hits: []Hit{}}
	if len(kts) == 0 {
		return out, nil
	}
	var must []query.Query
	if len(opt.Kinds) > 0 {
		must = filterQuery(map[string][]string{"kind": opt.Kinds})
	}
	var mustNot []query.Query
	if len(opt.Exclude) > 0 {
		mustNot = append(mustNot, query.NewDocIDQuery(opt.Exclude))
	}
	// One query over whole bodies: the key terms as phrases. It ranks
	// documents that cover the topic broadly, and its match locations,
	// mapped to the sections (articles) they fall in, score the passages:
	// a document with one article that concentrates the terms is what a
	// case usually applies.
	var should []query.Query
	for _, kt := range kts {
		should = append(should, phraseQ("body", kt.Term, kt.Weight))
	}
	sr := bleve.NewSearchRequestOptions(query.NewBooleanQuery(must, []query.Query{query.NewDisjunctionQuery(should)}, mustNot), relatedPool, 0, false)
	sr.Fields = []string{"status", "sec_off"}
	sr.IncludeLocations = true
	res, err := idx.SearchInContext(ctx, sr)
	if err != nil {
		return nil, err
	}
	type agg struct {
		id     string
		scores []float64 // section scores, best first
		secs   []int     // those sections' indices
		status string
		doc    float64 // document-level score
	}
	byDoc := map[string]*agg{}
	var order []*agg
	get := func(d string) *agg {
		a := byDoc[d]
		if a == nil {
			a = &agg{id: d}
			byDoc[d] = a
			order = append(order, a)
		}
		return a
	}
	terms := make([][]string, len(kts))
	for i, kt := range kts {
		terms[i] = phraseTerms(kt.Term)
	}
	maxDoc := 0.0
	for _, h := range res.Hits {
		a := get(h.ID)
		a.status = fieldStr(h, "status")
		a.doc = h.Score
		maxDoc = max(maxDoc, h.Score)
		a.scores, a.secs = sectionScores(h.Locations["body"], kts, terms, fieldStr(h, "sec_off"))
	}
	secScore := func(a *agg) float64 {
		// best section, plus diminishing credit for more matching sections
		s := 0.0
		for i, v := range a.scores {
			if i >= 4 {
				break
			}
			s += v / float64(int(1)<<i)
		}
		return s
	}
	maxSec := 0.0
	for _, a := range order {
		if v := secScore(a); v > maxSec {
			maxSec = v
		}
	}
	// Cases like this one, and the laws they cite: a precedent is the
	// best evidence of which law applies to a set of facts.
	var votes map[string]float64
	maxVote := 0.0
	if relatedCaseWeight > 0 {
		votes = ix.caseVotes(ctx, idx, should, opt.Exclude)
		for id, v := range votes {
			get(id)
			maxVote = max(maxVote, v)
		}
	}
	infos := ix.loadDocs(idx, func() []string {
		var ids []string
		for _, a := range order {
			ids = append(ids, a.id)
		}
		return ids
	}())
	if len(opt.Kinds) > 0 || len(votes) > 0 {
		// documents only a precedent pointed at: keep those of the
		// requested kinds that still exist
		kept := order[:0]
		for _, a := range order {
			h, ok := infos[a.id]
			if ok && (len(opt.Kinds) == 0 || slices.Contains(opt.Kinds, h.Kind)) {
				if a.status == "" {
					a.status = h.Status
				}
				kept = append(kept, a)
			}
		}
		order = kept
	}
	final := map[string]float64{}
	for _, a := range order {
		v := 0.0
		if maxSec > 0 {
			v += relatedSectionWeight * secScore(a) / maxSec
		}
		if maxDoc > 0 {
			v += relatedDocWeight * a.doc / maxDoc
		}
		if maxVote > 0 {
			v += relatedCaseWeight * votes[a.id] / maxVote
		}
		v = v * (1 + relatedPrior*(prior(infos[a.id])-1))
		if a.status == meta.StatusRepealed {
			v *= 0.5
		}
		final[a.id] = v
	}
	score := func(a *agg) float64 { return final[a.id] }
	// explicit citations: 《中华人民共和国劳动法》 points at a document
	if opt.Citations {
		for _, m := range citeRe.FindAllStringSubmatch(text, 20) {
			id := ix.byTitle(idx, m[1])
			if id == "" {
				continue
			}
			get(id)
			final[id] += 2
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return score(order[i]) > score(order[j]) })
	out.Total = len(order)
	if len(order) > n {
		order = order[:n]
	}
	var ids []string
	for _, a := range order {
		ids = append(ids, a.id)
	}
	docs := infos
	if len(docs) < len(ids) {
		docs = ix.loadDocs(idx, ids)
	}
	keys := make([]string, len(kts))
	for i, kt := range kts {
		keys[i] = kt.Term
	}
	texts := docTexts(idx, ids)
	for _, a := range order {
		h, ok := docs[a.id]
		if !ok {
			continue
		}
		h.Score = score(a)
		secs := a.secs
		if len(secs) > opt.Passages {
			secs = secs[:opt.Passages]
		}
		text := texts[a.id][0]
		if len(secs) > 0 {
			all := decodeSections(a.id, texts[a.id][1])
			for i, si := range secs {
				if si >= len(all) {
					break // sections and sec_off disagree: show the document snippet
				}
				p := sectionHit(all[si], text)
				p.Score = a.scores[i]
				h.Passages = append(h.Passages, p)
			}
		}
		if len(h.Passages) == 0 {
			// matched at document level only: show where the terms are
			h.Snippet = Snippet(text, keys, 120)
		}
		if len(h.Passages) > 0 {
			h.Snippet = Snippet(h.Passages[0].Label+" "+h.Passages[0].Text, keys, 120)
		}
		out.Hits = append(out.Hits, h)
	}
	out.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return out, nil
}

// Related weights, tuned on the corpus cases (see TestCorpusRelated).
var (
	relatedSectionWeight = 1.0
	relatedDocWeight     = 1.0
	relatedPrior         = 1.0
	// relatedCaseWeight weighs the laws cited by the relatedCases most
	// similar cases.
	relatedCaseWeight = 1.0
	relatedCases      = 5
	relatedMinDF      = 2
	// relatedMinDFDocs is the index size (documents) from which
	// relatedMinDF applies.
	relatedMinDFDocs = 500
	relatedTerms     = 24
	// relatedPool is how many documents the body query ranks and scores
	// by section.
	relatedPool = 200
)

// sectionAvgLen is the typical folded length of a section (bytes), the
// length normalisation of section scores.
const sectionAvgLen = 450

// sectionScores maps a hit's body match locations to its sections and
// scores each section BM25-style over the key terms it contains (a term
// counts where its first and last bigrams sit at the phrase's distance).
// It returns the scores of matching sections, best first, and their
// indices (the order of the document's sections field).
func sectionScores(locs bsearch.TermLocationMap, kts []KeyTerm, terms [][]string, offs string) ([]float64, []int) {
	if len(locs) == 0 || offs == "" {
		return nil, nil
	}
	var bounds []int
	for _, f := range strings.Split(offs, ",") {
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, nil
		}
		bounds = append(bounds, v)
	}
	nsecs := len(bounds) - 1
	if nsecs < 1 {
		return nil, nil
	}
	score := map[int]float64{}
	for i, pt := range terms {
		if len(pt) == 0 {
			continue
		}
		first := locs[pt[0]]
		if len(first) == 0 {
			continue
		}
		// positions where the phrase's last bigram sits n after its first
		n := uint64(len(pt) - 1)
		var endsAt map[uint64]bool
		if n > 0 {
			endsAt = map[uint64]bool{}
			for _, l := range locs[pt[n]] {
				endsAt[l.Pos] = true
			}
		}
		seen := map[uint64]bool{} // a bigram shared by several key terms is listed once per phrase
		tf := map[int]int{}       // section → occurrences of this term
		for _, l := range first {
			if seen[l.Pos] || n > 0 && !endsAt[l.Pos+n] {
				continue
			}
			seen[l.Pos] = true
			s := sort.SearchInts(bounds, int(l.Start)+1) - 1 // last bound <= Start
			if s < 0 || s >= nsecs {
				continue
			}
			tf[s]++
		}
		for s, c := range tf {
			l := float64(bounds[s+1] - bounds[s])
			norm := 1.2 * (0.25 + 0.75*l/sectionAvgLen)
			score[s] += kts[i].Weight * float64(c) * 2.2 / (float64(c) + norm)
		}
	}
	idx := make([]int, 0, len(score))
	for s := range score {
		idx = append(idx, s)
	}
	sort.Slice(idx, func(a, b int) bool {
		if score[idx[a]] != score[idx[b]] {
			return score[idx[a]] > score[idx[b]]
		}
		return idx[a] < idx[b]
	})
	out := make([]float64, len(idx))
	for k, s := range idx {
		out[k] = score[s]
	}
	return out, idx
}

// prior favours documents of higher legal force, which apply to any
// county's case: laws and judicial interpretations over local texts.
func prior(h Hit) float64 {
	p := 1.0
	switch h.DocType {
	case "法律", "宪法":
		p = 1.4
	case "司法解释", "行政法规":
		p = 1.15
	}
	if h.Level == "国家" {
		p *= 1.1
	}
	return p
}

// caseVotes finds the cases most like the query (the same key-term
// query, restricted to 案例) and returns the documents they cite (《…》,
// resolved by title), each weighted by the citing case's score relative
// to the best case.
func (ix *Index) caseVotes(ctx context.Context, idx bleve.Index, should []query.Query, exclude []string) map[string]float64 {
	must := []query.Query{termQ("kind", KindCase, 0)}
	var not []query.Query
	if len(exclude) > 0 {
		not = append(not, query.NewDocIDQuery(exclude))
	}
	sr := bleve.NewSearchRequestOptions(query.NewBooleanQuery(must, []query.Query{query.NewDisjunctionQuery(should)}, not), relatedCases, 0, false)
	sr.Fields = []string{"cites"}
	res, err := idx.SearchInContext(ctx, sr)
	if err != nil || len(res.Hits) == 0 || res.Hits[0].Score <= 0 {
		return nil
	}
	top := res.Hits[0].Score
	votes := map[string]float64{}
	for _, h := range res.Hits {
		seen := map[string]bool{}
		for _, t := range strings.Split(fieldStr(h, "cites"), "\n") {
			if t == "" {
				continue
			}
			id := ix.byTitleCached(idx, t)
			if id == "" || seen[id] || slices.Contains(exclude, id) {
				continue
			}
			seen[id] = true
			votes[id] += h.Score / top
		}
	}
	return votes
}

// citations returns the distinct titles a text cites (《…》), one per line.
func citations(text string) string {
	var out []string
	for _, m := range citeRe.FindAllStringSubmatch(text, 100) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return strings.Join(out, "\n")
}

func (ix *Index) byTitleCached(idx bleve.Index, title string) string {
	key := "\x00title\x00" + title
	if v, ok := ix.idf.Load(key); ok {
		return v.(string)
	}
	id := ix.byTitle(idx, title)
	ix.idf.Store(key, id)
	return id
}

func (ix *Index) byTitle(idx bleve.Index, title string) string {
	var alts []query.Query
	for _, k := range titleKeys(title) {
		alts = append(alts, termQ("title_key", k, 1))
	}
	q := query.NewBooleanQuery([]query.Query{query.NewDisjunctionQuery(alts)}, []query.Query{termQ("status", meta.StatusCurrent, 1)}, nil)
	r, err := idx.Search(bleve.NewSearchRequestOptions(q, 1, 0, false))
	if err != nil || len(r.Hits) == 0 {
		return ""
	}
	return r.Hits[0].ID
}

func (ix *Index) loadDocs(idx bleve.Index, ids []string) map[string]Hit {
	out := map[string]Hit{}
	if len(ids) == 0 {
		return out
	}
	req := bleve.NewSearchRequestOptions(query.NewDocIDQuery(ids), len(ids), 0, false)
	req.Fields = []string{"title", "number", "kind", "issuer", "doc_type", "level", "status", "published"}
	r, err := idx.Search(req)
	if err != nil {
		return out
	}
	for _, h := range r.Hits {
		out[h.ID] = hitFromFields(h)
	}
	return out
}
