package search

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/cjk"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/yiwang/yiwang/search/extract"
	"github.com/yiwang/yiwang/search/meta"
)

// CorpusDoc is a document read from a corpus folder of Markdown files.
type CorpusDoc struct {
	Doc  *Doc
	Path string // relative path
	Size int    // file bytes
}

// LoadCorpus reads every .md file under dir (skipping _index.md and
// templates) into documents; files under a 案例 folder are cases. The
// relative path without .md is the document id.
func LoadCorpus(dir string) ([]CorpusDoc, error) {
	var out []CorpusDoc
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".md") || d.Name() == "_index.md" || strings.Contains(d.Name(), "模版") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		ed, err := extract.Extract(d.Name(), bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return nil // refused files are not part of the corpus
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(strings.TrimSuffix(rel, ".md"))
		kind := KindPolicy
		if strings.HasPrefix(rel, "案例/") {
			kind = KindCase
		}
		doc := NewDoc(strings.ReplaceAll(rel, "#", "_"), kind, ed.Title, ed.Text)
		if doc.Level == "" && strings.Contains(rel, "地方性法规") {
			doc.Level = "省"
		}
		out = append(out, CorpusDoc{Doc: doc, Path: rel, Size: len(b)})
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}

// BenchOptions configure Bench.
type BenchOptions struct {
	Corpus  string    // folder of Markdown documents
	Dir     string    // scratch directory for the indexes
	Docs    int       // replicate the corpus (varied ids) up to this many documents; 0 = corpus as is
	Queries int       // short queries to time (default 300)
	Related int       // related calls to time (default 100)
	Peer    bool      // also measure the plain bleve cjk analyzer
	Log     io.Writer // progress (may be nil)
}

// BenchFigures are the measurements of one engine.
type BenchFigures struct {
	Engine        string  `json:"engine"`
	Docs          int     `json:"docs"`
	MB            float64 `json:"mb"`
	IndexSeconds  float64 `json:"index_seconds"`
	MBPerSecond   float64 `json:"mb_per_s"`
	CPUSeconds    float64 `json:"cpu_seconds"`        // user+sys of the process during the import (incl. background merges)
	CPUSecPerMB   float64 `json:"cpu_seconds_per_mb"` // less sensitive to a loaded machine than MB/s
	IndexBytes    int64   `json:"index_bytes"`
	QueryP50MS    float64 `json:"query_p50_ms"`
	QueryP95MS    float64 `json:"query_p95_ms"`
	RelatedP50MS  float64 `json:"related_p50_ms"`
	RelatedP95MS  float64 `json:"related_p95_ms"`
	PeakRSSMB     float64 `json:"peak_rss_mb"` // process high-water mark after this engine's import
	HeapAfterMB   float64 `json:"heap_after_mb"`
	RecallAt10    float64 `json:"recall_at_10,omitempty"`
	RecallCases   int     `json:"recall_pairs,omitempty"`
	CasesWithAny  float64 `json:"cases_any_hit_at_10,omitempty"`
	RecallNote    string  `json:"recall_note,omitempty"`
	ShortQueryNum int     `json:"short_queries"`
}

// BenchReport is the result of Bench.
type BenchReport struct {
	Date    string         `json:"date"`
	CPUs    int            `json:"cpus"`
	Engines []BenchFigures `json:"engines"`
}

// Bench imports a corpus into a fresh index and measures indexing
// throughput, index size, short-query and Related latency, and peak RSS;
// with Peer it measures the plain bleve cjk analyzer in the same run. It is
// what `yiwang bench kb` runs.
func Bench(ctx context.Context, o BenchOptions) (*BenchReport, error) {
	logf := func(f string, a ...interface{}) {
		if o.Log != nil {
			fmt.Fprintf(o.Log, f+"\n", a...)
		}
	}
	if o.Queries <= 0 {
		o.Queries = 300
	}
	if o.Related <= 0 {
		o.Related = 100
	}
	corpus, err := LoadCorpus(o.Corpus)
	if err != nil {
		return nil, err
	}
	if len(corpus) == 0 {
		return nil, fmt.Errorf("search: no documents in %s", o.Corpus)
	}
	docs := replicate(corpus, o.Docs)
	var mb float64
	for _, d := range docs {
		mb += float64(d.Size) / 1e6
	}
	logf("corpus: %d files, replicated to %d documents, %.1f MB", len(corpus), len(docs), mb)
	queries := shortQueries(corpus, o.Queries)
	texts := relatedTexts(corpus, o.Related)
	rep := &BenchReport{Date: time.Now().UTC().Format(time.RFC3339), CPUs: runtime.NumCPU()}

	// yiwang engine
	// Indexing never segments with gse (only queries and Related do), so
	// its dictionary is not loaded yet: a live process that has served
	// queries holds it too, ≈ 130 MB the collector marks on every cycle.
	f := BenchFigures{Engine: "yiwang (bigram body, article-mapped Related)", Docs: len(docs), MB: mb, ShortQueryNum: len(queries)}
	dir := filepath.Join(o.Dir, "yiwang")
	os.RemoveAll(dir)
	ix, err := Open(dir)
	if err != nil {
		return nil, err
	}
	start, cpu0 := time.Now(), cpuTime()
	bw := ix.NewBulk(400)
	defer bw.Flush()
	for i, d := range docs {
		if err := bw.Add(d.Doc); err != nil {
			ix.Close()
			return nil, err
		}
		if i%5000 == 4999 {
			logf("  yiwang: %d docs, %.0fs", i+1, time.Since(start).Seconds())
		}
	}
	if err := bw.Flush(); err != nil {
		ix.Close()
		return nil, err
	}
	f.IndexSeconds = time.Since(start).Seconds()
	f.MBPerSecond = mb / f.IndexSeconds
	f.CPUSeconds = (cpuTime() - cpu0).Seconds()
	f.CPUSecPerMB = f.CPUSeconds / mb
	f.PeakRSSMB = peakRSSMB()
	f.HeapAfterMB = heapMB()
	var lat []float64
	for _, q := range queries {
		t0 := time.Now()
		if _, err := ix.Search(ctx, Request{Query: q, Limit: 10}); err != nil {
			ix.Close()
			return nil, err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	f.QueryP50MS, f.QueryP95MS = pct(lat, 50), pct(lat, 95)
	lat = lat[:0]
	for _, t := range texts {
		t0 := time.Now()
		if _, err := ix.Related(ctx, t, 10, RelatedOptions{}); err != nil {
			ix.Close()
			return nil, err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	f.RelatedP50MS, f.RelatedP95MS = pct(lat, 50), pct(lat, 95)
	ev := ix.evalRelated(ctx, corpus)
	f.RecallAt10, f.RecallCases, f.CasesWithAny, f.RecallNote = ev.recall, ev.pairs, ev.anyHit, ev.note
	ix.Close()
	f.IndexBytes = dirSize(dir)
	rep.Engines = append(rep.Engines, f)
	logf("%+v", f)

	if o.Peer {
		p, err := benchCJK(ctx, filepath.Join(o.Dir, "cjk"), docs, corpus, queries, texts, logf)
		if err != nil {
			return nil, err
		}
		p.MB = mb
		p.MBPerSecond = mb / p.IndexSeconds
		p.CPUSecPerMB = p.CPUSeconds / mb
		rep.Engines = append(rep.Engines, *p)
		logf("%+v", *p)
	}
	return rep, nil
}

func replicate(corpus []CorpusDoc, n int) []CorpusDoc {
	if n <= len(corpus) {
		return corpus
	}
	out := make([]CorpusDoc, 0, n)
	for i := 0; len(out) < n; i++ {
		for _, c := range corpus {
			if len(out) == n {
				break
			}
			if i == 0 {
				out = append(out, c)
				continue
			}
			d := *c.Doc
			d.ID = c.Doc.ID + "~r" + strconv.Itoa(i)
			out = append(out, CorpusDoc{Doc: &d, Path: c.Path, Size: c.Size})
		}
	}
	return out
}

// BenchQueries and BenchTexts are the short queries and the 1,000-character
// Related inputs of Bench, for measuring the same load through the server
// (scripts/bench-kb.sh).
func BenchQueries(corpus []CorpusDoc, n int) []string { return shortQueries(corpus, n) }

// BenchTexts: see BenchQueries.
func BenchTexts(corpus []CorpusDoc, n int) []string { return relatedTexts(corpus, n) }

// shortQueries: a mix of title words, 2-4 character words from the text,
// article lookups and numbers, deterministic.
func shortQueries(corpus []CorpusDoc, n int) []string {
	fixed := []string{"劳动合同", "最低生活保障", "安全生产", "加班费", "行政处罚", "劳动法 第四十四条", "民法典 第一千一百六十五条", "环境保护", "消费者权益", "食品安全", "低保", "一网统管", "放管服", "著作权", "交通事故", "未成年人保护", "税收征收管理", "土地管理法", "物业管理", "城乡规划"}
	out := append([]string(nil), fixed...)
	for i := 0; len(out) < n && i < len(corpus)*4; i++ {
		d := corpus[(i*7919)%len(corpus)].Doc
		switch i % 4 {
		case 0:
			out = append(out, strings.TrimPrefix(d.Title, "中华人民共和国"))
		case 1:
			rs := []rune(d.Title)
			if len(rs) > 6 {
				out = append(out, string(rs[len(rs)-6:len(rs)-2]))
			}
		case 2:
			if len(d.Articles) > 0 {
				a := d.Articles[i%len(d.Articles)]
				out = append(out, strings.TrimPrefix(d.Title, "中华人民共和国")+" "+a.Label)
			}
		case 3:
			rs := []rune(d.Text)
			if len(rs) > 400 {
				out = append(out, string(rs[300:303]))
			}
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// relatedTexts: 1,000-character texts cut from cases and regulations.
func relatedTexts(corpus []CorpusDoc, n int) []string {
	var out []string
	for i := 0; len(out) < n && i < len(corpus)*2; i++ {
		d := corpus[(i*104729)%len(corpus)].Doc
		rs := []rune(d.Text)
		if len(rs) < 1200 {
			continue
		}
		out = append(out, string(rs[100:1100]))
	}
	return out
}

type evalResult struct {
	recall float64
	pairs  int
	anyHit float64
	note   string
}

// caseFacts returns the facts section of a case (基本案情) and the ids
// of the documents the whole case cites by title, resolved by resolve.
func caseFacts(text string) string {
	i := strings.Index(text, "基本案情")
	if i < 0 {
		return ""
	}
	facts := text[i+len("基本案情"):]
	if j := strings.Index(facts, "\n## "); j >= 0 {
		facts = facts[:j]
	}
	// the facts must not name the answer
	return citeRe.ReplaceAllString(facts, "")
}

// evalRelated measures recommendation quality on the held-out cases:
// for each case, Related on its facts (基本案情 only, citations removed)
// should rank the laws the case cites (《…》 in its analysis) in the top
// 10. Cases themselves are excluded from the results.
func (ix *Index) evalRelated(ctx context.Context, corpus []CorpusDoc) evalResult {
	return evalCases(corpus, func(title string) string {
		idx, done := ix.bleve()
		defer done()
		return ix.byTitle(idx, title)
	}, func(facts, self string) []string {
		r, err := ix.Related(ctx, facts, 10, RelatedOptions{Kinds: []string{KindPolicy}, Exclude: []string{self}})
		if err != nil {
			return nil
		}
		return ids(r)
	})
}

func ids(r *Result) []string {
	var out []string
	for _, h := range r.Hits {
		out = append(out, h.ID)
	}
	return out
}

// testGold sees the gold set of each evaluated case (tests only).
var testGold func(map[string]bool)

func evalCases(corpus []CorpusDoc, resolve func(string) string, related func(facts, self string) []string) evalResult {
	// A citation names a law, not one file of it: the 民法典 is stored as
	// its parts (总则, 物权编, …) and some laws in several versions, all
	// under one title. Any document with the cited law's title counts.
	law := map[string]string{}
	for _, c := range corpus {
		keys := titleKeys(c.Doc.Title)
		law[c.Doc.ID] = keys[len(keys)-1]
	}
	canon := func(id string) string {
		if k, ok := law[id]; ok {
			return k
		}
		return id
	}
	pairs, found, cases, casesHit := 0, 0, 0, 0
	for _, c := range corpus {
		if c.Doc.Kind != KindCase {
			continue
		}
		facts := caseFacts(c.Doc.Text)
		if len([]rune(facts)) < 30 {
			continue
		}
		gold := map[string]bool{}
		for _, m := range citeRe.FindAllStringSubmatch(c.Doc.Text, -1) {
			if id := resolve(m[1]); id != "" && !strings.HasPrefix(id, "案例/") {
				gold[canon(id)] = true
			}
		}
		if len(gold) == 0 {
			continue
		}
		cases++
		if testGold != nil {
			testGold(gold)
		}
		top := related(facts, c.Doc.ID)
		hit := false
		for id := range gold {
			pairs++
			for _, t := range top {
				if canon(t) == id {
					found++
					hit = true
					break
				}
			}
		}
		if hit {
			casesHit++
		}
	}
	if pairs == 0 {
		return evalResult{note: "no cases with resolvable citations"}
	}
	return evalResult{recall: float64(found) / float64(pairs), pairs: pairs, anyHit: float64(casesHit) / float64(cases),
		note: fmt.Sprintf("%d cases, %d (case, cited law) pairs; input = 基本案情 with 《…》 removed", cases, pairs)}
}

// benchCJK indexes the same documents with bleve's stock cjk analyzer
// (title and body, one record per document) and times the equivalent
// queries: a match query for short queries and for Related (the obvious
// "more like this" with stock bleve).
func benchCJK(ctx context.Context, dir string, docs, corpus []CorpusDoc, queries, texts []string, logf func(string, ...interface{})) (*BenchFigures, error) {
	os.RemoveAll(dir)
	im := bleve.NewIndexMapping()
	im.DefaultAnalyzer = cjk.AnalyzerName
	dm := bleve.NewDocumentMapping()
	tf := bleve.NewTextFieldMapping()
	tf.Analyzer = cjk.AnalyzerName
	tf.Store = true
	dm.AddFieldMappingsAt("title", tf)
	bf := bleve.NewTextFieldMapping()
	bf.Analyzer = cjk.AnalyzerName
	dm.AddFieldMappingsAt("body", bf)
	kf := bleve.NewKeywordFieldMapping()
	dm.AddFieldMappingsAt("kind", kf)
	im.DefaultMapping = dm
	idx, err := bleve.New(dir, im)
	if err != nil {
		return nil, err
	}
	f := &BenchFigures{Engine: "bleve cjk (peer)", Docs: len(docs), ShortQueryNum: len(queries)}
	start, cpu0 := time.Now(), cpuTime()
	b := idx.NewBatch()
	for _, d := range docs {
		if err := b.Index(d.Doc.ID, map[string]interface{}{"title": d.Doc.Title, "body": d.Doc.Text, "kind": d.Doc.Kind}); err != nil {
			idx.Close()
			return nil, err
		}
		if b.Size() >= 100 {
			if err := idx.Batch(b); err != nil {
				idx.Close()
				return nil, err
			}
			b = idx.NewBatch()
		}
	}
	if err := idx.Batch(b); err != nil {
		idx.Close()
		return nil, err
	}
	f.IndexSeconds = time.Since(start).Seconds()
	f.CPUSeconds = (cpuTime() - cpu0).Seconds()
	f.PeakRSSMB = peakRSSMB()
	f.HeapAfterMB = heapMB()
	var lat []float64
	for _, q := range queries {
		t0 := time.Now()
		mq := query.NewMatchQuery(q)
		if _, err := idx.SearchInContext(ctx, bleve.NewSearchRequestOptions(mq, 10, 0, false)); err != nil {
			idx.Close()
			return nil, err
		}
		lat = append(lat, ms(time.Since(t0)))
	}
	f.QueryP50MS, f.QueryP95MS = pct(lat, 50), pct(lat, 95)
	cjkRelated := func(text string, exclude string) []string {
		mq := query.NewMatchQuery(text)
		mq.SetField("body")
		kq := query.NewTermQuery(KindPolicy)
		kq.SetField("kind")
		var not []query.Query
		if exclude != "" {
			not = append(not, query.NewDocIDQuery([]string{exclude}))
		}
		q := query.NewBooleanQuery([]query.Query{kq, mq}, nil, not)
		r, err := idx.SearchInContext(ctx, bleve.NewSearchRequestOptions(q, 10, 0, false))
		if err != nil {
			return nil
		}
		var out []string
		for _, h := range r.Hits {
			out = append(out, h.ID)
		}
		return out
	}
	lat = lat[:0]
	for _, t := range texts {
		t0 := time.Now()
		cjkRelated(t, "")
		lat = append(lat, ms(time.Since(t0)))
	}
	f.RelatedP50MS, f.RelatedP95MS = pct(lat, 50), pct(lat, 95)
	// citations are resolved with the yiwang title table so both engines
	// are scored against the same gold set.
	titles := map[string]string{}
	for _, c := range corpus {
		for _, k := range titleKeys(c.Doc.Title) {
			if _, dup := titles[k]; !dup || c.Doc.Status == meta.StatusCurrent {
				titles[k] = c.Doc.ID
			}
		}
	}
	ev := evalCases(corpus, func(t string) string {
		for _, k := range titleKeys(t) {
			if id, ok := titles[k]; ok {
				return id
			}
		}
		return ""
	}, cjkRelated)
	f.RecallAt10, f.RecallCases, f.CasesWithAny, f.RecallNote = ev.recall, ev.pairs, ev.anyHit, ev.note
	idx.Close()
	f.IndexBytes = dirSize(dir)
	return f, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// peakRSSMB reads the process high-water mark (Linux); 0 elsewhere.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				kb, _ := strconv.ParseFloat(f[1], 64)
				return kb / 1024
			}
		}
	}
	return 0
}

func heapMB() float64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
