package search

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/document"
	index "github.com/blevesearch/bleve_index_api"
)

var sampleDocs = []*Doc{
	NewDoc("labor", KindPolicy, "中华人民共和国劳动法", `# 中华人民共和国劳动法

1994年7月5日 第八届全国人民代表大会常务委员会第八次会议通过

## 第四章 工作时间和休息休假

第三十六条 国家实行劳动者每日工作时间不超过八小时、平均每周工作时间不超过四十四小时的工时制度。

第四十四条 有下列情形之一的，用人单位应当按照下列标准支付高于劳动者正常工作时间工资的工资报酬：

（一）安排劳动者延长工作时间的，支付不低于工资的百分之一百五十的工资报酬；
`),
	NewDoc("dibao", KindPolicy, "", `国务院关于进一步加强和改进最低生活保障工作的意见
国发〔2012〕45号

各省、自治区、直辖市人民政府：
最低生活保障事关困难群众衣食冷暖。为进一步加强和改进最低生活保障工作，现提出以下意见。

国务院
2012年9月1日`),
	NewDoc("dibao2", KindPolicy, "", `某县低保对象认定办法
县政发〔2020〕7号
低保对象应当每年复核一次。`),
	NewDoc("ywtg", KindPlan, "", `县城市运行管理中心应急预案
一、城市运行管理中心负责统一指挥调度。`),
	NewDoc("old", KindPolicy, "", `国务院办公厅关于某项工作的通知（已废止）
国办发〔2017〕39号
本通知涉及最低生活保障资金管理。`),
	NewDoc("case1", KindCase, "劳动者拒绝违法超时加班安排，用人单位能否解除劳动合同", `## 基本案情
张某入职某快递公司，公司规章制度规定工作时间为早9时至晚9时，每周工作6天。张某拒绝超时加班，公司以其拒绝加班为由解除劳动合同。`),
}

func openSample(t *testing.T) *Index {
	t.Helper()
	ix, err := Open(filepath.Join(t.TempDir(), "kb"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	if err := ix.IndexBatch(sampleDocs); err != nil {
		t.Fatal(err)
	}
	return ix
}

func search(t *testing.T, ix *Index, q string, filter map[string][]string) *Result {
	t.Helper()
	r, err := ix.Search(context.Background(), Request{Query: q, Filter: filter})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSearchSamples(t *testing.T) {
	ix := openSample(t)
	ctx := context.Background()
	top := func(q, want string) *Result {
		t.Helper()
		r := search(t, ix, q, nil)
		if len(r.Hits) == 0 || r.Hits[0].ID != want {
			t.Errorf("%q: got %v, want %s first", q, ids(r), want)
		}
		return r
	}
	top("劳动法", "labor")
	top("中華人民共和國勞動法", "labor") // traditional script
	top("国发〔2012〕45号", "dibao")
	top("国发[2012]45号", "dibao")
	top("国办发39号", "old")
	top("39号文", "old")
	r := top("劳动法 第四十四条", "labor")
	if a := r.Hits[0].Article; a == nil || a.Anchor != "art-44" || !strings.HasPrefix(a.Text, "有下列情形之一") || a.Num != 44 {
		t.Errorf("article hit: %+v", r.Hits[0].Article)
	}
	if !strings.Contains(r.Hits[0].Snippet, "<mark>第四十四条</mark>") {
		t.Errorf("article snippet: %s", r.Hits[0].Snippet)
	}
	top("劳动法第44条", "labor")

	// synonyms both ways
	for _, q := range []string{"低保", "最低生活保障"} {
		got := ids(search(t, ix, q, nil))
		if !contains(got, "dibao") || !contains(got, "dibao2") {
			t.Errorf("%q: %v, want dibao and dibao2", q, got)
		}
	}
	if got := ids(search(t, ix, "一网统管", nil)); !contains(got, "ywtg") {
		t.Errorf("一网统管: %v", got)
	}
	ix.SetSynonyms(nil)
	if got := ids(search(t, ix, "低保", nil)); contains(got, "dibao") {
		t.Errorf("synonyms not replaced: %v", got)
	}
	ix.SetSynonyms(DefaultSynonyms().Groups())

	// current documents rank above repealed ones
	r = search(t, ix, "最低生活保障", nil)
	if r.Hits[len(r.Hits)-1].ID != "old" {
		t.Errorf("repealed not last: %v", ids(r))
	}
	// snippet highlight
	if !strings.Contains(r.Hits[0].Snippet, "<mark>最低生活保障</mark>") {
		t.Errorf("snippet: %s", r.Hits[0].Snippet)
	}
	// filters and facets
	r = search(t, ix, "最低生活保障", map[string][]string{"status": {"已废止"}})
	if got := ids(r); len(got) != 1 || got[0] != "old" {
		t.Errorf("status filter: %v", got)
	}
	r = search(t, ix, "", map[string][]string{"kind": {KindCase}})
	if got := ids(r); len(got) != 1 || got[0] != "case1" {
		t.Errorf("kind filter: %v", got)
	}
	r = search(t, ix, "", nil)
	if r.Total != len(sampleDocs) || len(r.Facets["kind"]) != 3 {
		t.Errorf("facets: total %d %v", r.Total, r.Facets)
	}
	// only an article: every document, those having it first
	r = search(t, ix, "第四十四条", nil)
	if r.Total != len(sampleDocs) || len(r.Hits) == 0 || r.Hits[0].ID != "labor" || r.Hits[0].Article == nil || r.Hits[0].Article.Anchor != "art-44" {
		t.Errorf("article-only query: total %d, %v", r.Total, ids(r))
	}
	// phrase must be contiguous: 劳动 ... 法 apart does not match 动法
	if got := ids(search(t, ix, "工资报酬法", nil)); len(got) != 0 {
		t.Errorf("non-contiguous phrase matched: %v", got)
	}
	// pagination
	p1, _ := ix.Search(ctx, Request{Query: "", Limit: 2})
	p2, _ := ix.Search(ctx, Request{Query: "", Limit: 2, Offset: 2})
	if len(p1.Hits) != 2 || len(p2.Hits) != 2 || p1.Hits[0].ID == p2.Hits[0].ID {
		t.Errorf("pagination: %v %v", ids(p1), ids(p2))
	}

	// suggestions
	s, err := ix.Suggest(ctx, "劳动", 5)
	if err != nil || len(s) == 0 || s[0].ID != "labor" {
		t.Errorf("suggest 劳动: %+v %v", s, err)
	}
	s, _ = ix.Suggest(ctx, "国发〔2012", 5)
	if len(s) == 0 || s[0].ID != "dibao" {
		t.Errorf("suggest number: %+v", s)
	}

	// related: a case description finds the labour law article
	rel, err := ix.Related(ctx, "快递公司要求员工每天工作十二小时，延长工作时间却不支付加班工资报酬，劳动者拒绝超时加班被解除劳动合同。", 3, RelatedOptions{Exclude: []string{"case1"}})
	if err != nil || len(rel.Hits) == 0 || rel.Hits[0].ID != "labor" || len(rel.Hits[0].Passages) == 0 {
		t.Fatalf("related: %+v %v", rel, err)
	}
	if p := rel.Hits[0].Passages[0]; p.Anchor != "art-44" && p.Anchor != "art-36" {
		t.Errorf("related passage: %+v", p)
	}
	for _, h := range rel.Hits {
		if h.Snippet == "" {
			t.Errorf("related hit %s without snippet", h.ID)
		}
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestIndexLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.IndexBatch(sampleDocs); err != nil {
		t.Fatal(err)
	}
	if err := ix.SetWatermark(42); err != nil {
		t.Fatal(err)
	}
	// replacing a document with fewer articles removes the stale ones
	d := *sampleDocs[0]
	d.Text = "第一条 只剩一条。"
	d.Articles = nil
	if err := ix.Index(&d); err != nil {
		t.Fatal(err)
	}
	if _, ok := ix.Article("labor", "art-44"); ok {
		t.Error("stale article survived")
	}
	if a, ok := ix.Article("labor", "art-1"); !ok || a.Text != "只剩一条。" {
		t.Errorf("new article: %+v", a)
	}
	if err := ix.Delete("dibao"); err != nil {
		t.Fatal(err)
	}
	if got := ids(search(t, ix, "国发〔2012〕45号", nil)); contains(got, "dibao") {
		t.Errorf("deleted doc found: %v", got)
	}
	if _, ok := ix.Article("dibao", "p0"); ok {
		t.Error("deleted doc's section survived")
	}
	ix.Close()

	ix, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if w, _ := ix.Watermark(); w != 42 {
		t.Errorf("watermark after reopen: %d", w)
	}
	n, _ := ix.Count()
	if n != len(sampleDocs)-1 {
		t.Errorf("count %d", n)
	}
	// rebuild from a feed; searches work after the swap
	err = ix.Rebuild(context.Background(), 99, func(add func(*Doc) error) error {
		for _, d := range sampleDocs[:2] {
			if err := add(d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if w, _ := ix.Watermark(); w != 99 {
		t.Errorf("watermark after rebuild: %d", w)
	}
	if n, _ := ix.Count(); n != 2 {
		t.Errorf("count after rebuild %d", n)
	}
	if got := ids(search(t, ix, "国发〔2012〕45号", nil)); len(got) == 0 || got[0] != "dibao" {
		t.Errorf("after rebuild: %v", got)
	}
	// a failing feed leaves the index untouched
	err = ix.Rebuild(context.Background(), 100, func(add func(*Doc) error) error { return errors.New("boom") })
	if err == nil {
		t.Error("failed rebuild reported success")
	}
	if n, _ := ix.Count(); n != 2 {
		t.Errorf("count after failed rebuild %d", n)
	}
	if err := ix.Index(&Doc{ID: "a#b"}); err == nil {
		t.Error("id with # accepted")
	}
}

func TestPhrasePositions(t *testing.T) {
	// positions are sequential: the query 最低生活保障 is one phrase of
	// consecutive bigrams and the analyzer agrees with phraseTerms.
	got := phraseTerms(Fold("最低生活保障"))
	want := []string{"最低", "低生", "生活", "活保", "保障"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("phraseTerms = %v", got)
	}
	got = phraseTerms(Fold("劳动法第四十四条ABC"))
	if strings.Join(got, "|") != "劳动|动法|法第||44|条|abc" {
		t.Errorf("phraseTerms mixed = %q", got)
	}
	ts := bigramAnalyzer{}.Analyze([]byte("劳動法 第四十四條"))
	var terms []string
	last := 0
	for _, tk := range ts {
		if tk.Position <= last {
			t.Errorf("position not increasing at %s", tk.Term)
		}
		last = tk.Position
		terms = append(terms, string(tk.Term))
	}
	if strings.Join(terms, "|") != "劳动|动法|第|44|条" {
		t.Errorf("bigram analyzer: %v", terms)
	}
	var ws []string
	words(Fold("依照劳动法第四十四条支付加班费"), func(term string, pos, _, _ int) {
		if pos != len(ws)+1 {
			t.Errorf("word %s at %d", term, pos)
		}
		ws = append(ws, term)
	})
	if !contains(ws, "加班费") || !contains(ws, "44") {
		t.Errorf("words: %v", ws)
	}
}

func TestResultJSON(t *testing.T) {
	r := &Result{Hits: []Hit{{ID: "a", Title: "t", Kind: KindPolicy, Score: 1, Snippet: "<mark>x</mark>"}}, Total: 1, TookMS: 2.5}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]interface{}
	json.Unmarshal(b, &m)
	hit := m["hits"].([]interface{})[0].(map[string]interface{})
	for _, k := range []string{"id", "title", "doc_number", "kind", "score", "snippet"} {
		if _, ok := hit[k]; !ok {
			t.Errorf("hit JSON lacks %q: %s", k, b)
		}
	}
	if _, ok := m["total"]; !ok {
		t.Errorf("no total: %s", b)
	}
	if _, ok := m["took_ms"]; !ok {
		t.Errorf("no took_ms: %s", b)
	}
}

// TestRelatedPassageOffsets checks that body match locations land in the
// right article when folding changes byte lengths before it: full-width
// letters, traditional characters and ordinals (第一百二十三条 → 第123条)
// all shrink the folded text.
func TestRelatedPassageOffsets(t *testing.T) {
	ix, err := Open(filepath.Join(t.TempDir(), "kb"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	text := "序言：ＡＢＣＤ全角文字與繁體字說明，參照第一百二十三條和第四十四條辦理。\n" +
		"第一条 本條例適用於城市道路管理，第一百二十三條另有規定的除外。\n" +
		"第二条 市政設施的養護維修由主管部門負責，第三十三条規定。\n" +
		"第三条 井盖缺失或者破损的，养护单位应当在二十四小时内补齐井盖并设置警示标志。\n" +
		"第四条 本条例自公布之日起施行。\n"
	d := NewDoc("roads", KindPolicy, "城市道路管理条例", text)
	if err := ix.Index(d); err != nil {
		t.Fatal(err)
	}
	secs := sectionsOf(d)
	folded, offs := foldBody(d.Text, secs)
	if folded != Fold(d.Text) {
		t.Fatalf("piecewise fold differs from Fold:\n%q\n%q", folded, Fold(d.Text))
	}
	if n := strings.Count(offs, ","); n != len(secs) {
		t.Fatalf("offsets %q for %d sections", offs, len(secs))
	}
	r, err := ix.Related(context.Background(), "井盖缺失，养护单位没有补齐井盖，也没有设置警示标志。", 5, RelatedOptions{})
	if err != nil || len(r.Hits) == 0 || len(r.Hits[0].Passages) == 0 {
		t.Fatalf("related: %+v %v", r, err)
	}
	if p := r.Hits[0].Passages[0]; p.Anchor != "art-3" {
		t.Errorf("top passage %s (%s), want art-3", p.Anchor, p.Text)
	}
}

// TestSegmentVersionPersists: the zap version chosen at creation must be
// the one a reopened index writes with, or merges would mix segment types;
// the merge floor must persist too.
func TestSegmentVersionPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ix.Close()
	ix, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 12; i++ { // enough batches for a merge
		if err := ix.Index(NewDoc(fmt.Sprintf("d%d", i), KindPolicy, fmt.Sprintf("测试文件%d", i), "第一条 城市道路管理。\n第二条 井盖养护。")); err != nil {
			t.Fatal(err)
		}
	}
	ix.Close()
	b, err := os.ReadFile(filepath.Join(dir, "index_meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"forceSegmentVersion":15`) {
		t.Errorf("index_meta.json does not pin the segment version: %s", b)
	}
	if want := fmt.Sprintf(`"scorchMergePlanOptions":{"FloorSegmentSize":%d}`, mergeFloorDocs); !strings.Contains(string(b), want) {
		t.Errorf("index_meta.json does not keep the merge floor (%s): %s", want, b)
	}
	if ix, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if n, err := ix.Count(); err != nil || n != 12 {
		t.Errorf("count %d %v", n, err)
	}
}

// TestBodyFieldMatchesAnalyzer holds the direct body analysis used by Bulk
// equal to the registered analyzer followed by bleve's TokenFrequency:
// same terms, frequencies, positions and offsets.
func TestBodyFieldMatchesAnalyzer(t *testing.T) {
	texts := []string{
		"",
		"劳动法第44条规定，用人单位应当支付加班费。ABC 123 x",
		"国",
		"一网统管 ↔ 城市运行管理；低保（最低生活保障）第101条之一。\n\n第二章 附则 2024年1月1日施行",
	}
	if d, err := os.ReadFile(filepath.Join("..", "..", "shared", "corpus", "laws", "宪法", "宪法.md")); err == nil {
		texts = append(texts, string(d))
	}
	for _, txt := range texts {
		folded := Fold(txt)
		tf := document.NewTextFieldWithIndexingOptions("body", nil, []byte(folded), index.IndexField|index.IncludeTermVectors)
		want := analysis.TokenFrequency(bigramAnalyzer{folded: true}.Analyze([]byte(folded)), nil, tf.Options())
		wantLen := len(bigramAnalyzer{folded: true}.Analyze([]byte(folded)))
		f := &bodyField{TextField: tf}
		f.Analyze()
		got := f.AnalyzedTokenFrequencies()
		if f.AnalyzedLength() != wantLen || len(got) != len(want) {
			t.Fatalf("%.20q: length %d terms %d, want %d / %d", txt, f.AnalyzedLength(), len(got), wantLen, len(want))
		}
		for term, w := range want {
			g := got[term]
			if g == nil || string(g.Term) != string(w.Term) || g.Frequency() != w.Frequency() || len(g.Locations) != len(w.Locations) {
				t.Fatalf("%.20q: term %q: got %+v want %+v", txt, term, g, w)
			}
			for i, wl := range w.Locations {
				gl := g.Locations[i]
				if gl.Start != wl.Start || gl.End != wl.End || gl.Position != wl.Position || len(gl.ArrayPositions) != 0 {
					t.Fatalf("%.20q: term %q location %d: got %+v want %+v", txt, term, i, gl, wl)
				}
			}
		}
	}
}

// TestOpenOlderSchema: an index written by another schema version is
// refused with ErrSchema (app/kb rebuilds it), not opened as if current.
func TestOpenOlderSchema(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "kb")
	idx, err := newBleve(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.SetInternal(keySchema, []byte("yw-search-3")); err != nil {
		t.Fatal(err)
	}
	idx.Close()
	if ix, err := Open(dir); !errors.Is(err, ErrSchema) {
		if ix != nil {
			ix.Close()
		}
		t.Fatalf("Open of a yw-search-3 index: %v, want ErrSchema", err)
	}
}

// TestSectionText: sections are byte ranges of the stored text. A
// paragraph run reads as its lines trimmed with blank lines dropped, an
// article as its text after the label, and a malformed sections field
// still yields one section per line (kept aligned with sec_off).
func TestSectionText(t *testing.T) {
	ix, err := Open(filepath.Join(t.TempDir(), "kb"))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	long := strings.Repeat("城市运行管理平台汇聚各部门数据。", 30) // > sectionTarget
	para := NewDoc("notice", KindPolicy, "关于做好城市运行管理的通知", "　　各乡镇人民政府：\n\n  现通知如下。  \n\t第二段落内容。\n"+long+"\n")
	arts := NewDoc("rules", KindPolicy, "管理办法", "总则说明\n第一条　本办法适用于全县。\n  \n第二条 主管部门负责\n  日常监督。\n")
	if err := ix.IndexBatch([]*Doc{para, arts}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ doc, anchor, want string }{
		{"notice", "p0", "各乡镇人民政府：\n现通知如下。\n第二段落内容。"},
		{"notice", "p1", long},
		{"rules", "pre0", "总则说明"},
		{"rules", "art-1", "本办法适用于全县。"},
		{"rules", "art-2", "主管部门负责\n  日常监督。"},
	} {
		a, ok := ix.Article(c.doc, c.anchor)
		if !ok || a.Text != c.want {
			t.Errorf("%s#%s = %+v, want %q", c.doc, c.anchor, a, c.want)
		}
	}
	if a, ok := ix.Article("rules", "art-2"); ok && (a.Label != "第二条" || a.Num != 2 || a.ID != "rules#art-2") {
		t.Errorf("art-2 = %+v", a)
	}
	secs := decodeSections("x", "art-1\t第一条\t3\t9\nbroken\nart-2~2\t第二条\tx\t9\tp")
	if len(secs) != 3 || secs[1].text("0123456789") != "" || secs[2].anchor != "art-2" || secs[2].id != "x#art-2~2" || secs[2].text("0123456789") != "" {
		t.Errorf("decode of a malformed field: %+v", secs)
	}
	if got := secs[0].text("0123456789"); got != "345678" {
		t.Errorf("text = %q", got)
	}
}

// TestClosedIndex: every call on a closed index returns an error instead
// of panicking, and Close is idempotent.
func TestClosedIndex(t *testing.T) {
	ix, err := Open(filepath.Join(t.TempDir(), "kb"))
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.IndexBatch(sampleDocs); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ix.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx := context.Background()
	if err := ix.Index(sampleDocs[0]); err == nil {
		t.Error("Index on a closed index succeeded")
	}
	if err := ix.Delete(sampleDocs[0].ID); err == nil {
		t.Error("Delete on a closed index succeeded")
	}
	if _, err := ix.Search(ctx, Request{Query: "劳动法"}); err == nil {
		t.Error("Search on a closed index succeeded")
	}
	if _, err := ix.Related(ctx, "用人单位安排劳动者延长工作时间，应当支付加班工资。", 5, RelatedOptions{}); err == nil {
		t.Error("Related on a closed index succeeded")
	}
	if _, err := ix.Count(); err == nil {
		t.Error("Count on a closed index succeeded")
	}
	if _, err := ix.Suggest(ctx, "劳动", 5); err == nil {
		t.Error("Suggest on a closed index succeeded")
	}
	if kts := ix.KeyTerms("用人单位安排劳动者延长工作时间", 5); len(kts) != 0 {
		t.Errorf("KeyTerms on a closed index: %v", kts)
	}
	if err := ix.SetWatermark(3); err == nil {
		t.Error("SetWatermark on a closed index succeeded")
	}
	if _, ok := ix.Article(sampleDocs[0].ID, "art-1"); ok {
		t.Error("Article on a closed index found")
	}
	if err := ix.Rebuild(ctx, 1, func(add func(*Doc) error) error { return nil }); err == nil {
		t.Error("Rebuild of a closed index succeeded")
	}
}
