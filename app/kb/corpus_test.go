package kb

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/search"
)

func corpusDir(t *testing.T) string {
	d := os.Getenv("YIWANG_CORPUS")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared", "corpus", "laws")
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("corpus not found at %s (tests using the shared corpus skip without it, also in CI)", d)
	}
	return d
}

// TestCorpusThroughModule imports a subset of ../shared/corpus/laws the
// way the import endpoint does (extract, 智能解析, duplicate check, one
// kb.document.create command per file), lets the index follow the store,
// and checks that exact titles, 发文字号 and articles are found at rank 1.
func TestCorpusThroughModule(t *testing.T) {
	dir := corpusDir(t)
	var files []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	every := 12
	if testing.Short() {
		every = 30
	}
	var subset []string
	for i, f := range files {
		base := filepath.Base(f)
		if i%every == 0 || strings.HasPrefix(base, "劳动法(") || strings.HasPrefix(base, "社会救助暂行办法") {
			subset = append(subset, f)
		}
	}
	n := startNode(t, t.TempDir())
	ctx := context.Background()
	start := time.Now()
	var mb float64
	imported := map[string]*CreateDoc{}
	byTitle := map[string][]string{}
	refused, skipped := 0, 0
	for _, f := range subset {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		kind := search.KindPolicy
		if strings.Contains(f, string(filepath.Separator)+"案例"+string(filepath.Separator)) {
			kind = search.KindCase
		}
		in, err := Prepare(filepath.Base(f), data, kind, nil)
		if err != nil {
			refused++ // templates, empty index pages
			continue
		}
		if _, dup := n.m.Duplicate(ctx, in.Text); dup {
			skipped++
			continue
		}
		tc, _ := n.apply(CmdCreate, in)
		imported[tc.ID] = in
		byTitle[search.Fold(in.Title)] = append(byTitle[search.Fold(in.Title)], tc.ID)
		mb += float64(len(data)) / (1 << 20)
	}
	n.sync()
	el := time.Since(start)
	t.Logf("%d of %d files imported (%.1f MB, %d refused, %d duplicates) and indexed in %s",
		len(imported), len(subset), mb, refused, skipped, el.Round(time.Millisecond))
	if len(imported) < len(subset)/2 {
		t.Fatalf("only %d of %d imported", len(imported), len(subset))
	}

	top := func(q string) *search.Hit {
		t.Helper()
		res, err := n.m.Index().Search(ctx, search.Request{Query: q, Limit: 5, Facets: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Hits) == 0 {
			return nil
		}
		return &res.Hits[0]
	}
	in := func(id string, set []string) bool {
		for _, s := range set {
			if s == id {
				return true
			}
		}
		return false
	}

	titles, titleMiss, nums, numMiss, arts, artMiss := 0, 0, 0, 0, 0, 0
	for id, d := range imported {
		titles++
		if h := top(d.Title); h == nil || !in(h.ID, byTitle[search.Fold(d.Title)]) {
			titleMiss++
			t.Errorf("title %q: rank 1 is %+v", d.Title, h)
		}
		if d.Number != "" {
			nums++
			if h := top(d.Number); h == nil || h.Number != d.Number {
				numMiss++
				t.Errorf("发文字号 %q: rank 1 is %+v", d.Number, h)
			}
		}
		doc := search.NewDoc(id, d.Kind, d.Title, d.Text)
		if len(doc.Articles) > 3 && strings.HasPrefix(d.Title, "中华人民共和国") {
			a := doc.Articles[len(d.Title)%len(doc.Articles)]
			if a.Sub > 0 {
				continue
			}
			arts++
			q := strings.TrimPrefix(d.Title, "中华人民共和国") + " " + a.Label
			h := top(q)
			if h == nil || !in(h.ID, byTitle[search.Fold(d.Title)]) || h.Article == nil || h.Article.Num != a.Num {
				artMiss++
				t.Errorf("%q: rank 1 is %+v", q, h)
			}
		}
	}
	t.Logf("rank 1: titles %d/%d, 发文字号 %d/%d, articles %d/%d", titles-titleMiss, titles, nums-numMiss, nums, arts-artMiss, arts)
	if arts == 0 {
		t.Errorf("no article lookups in the subset")
	}

	// The acceptance examples: 劳动法 第四十四条, traditional script,
	// synonyms.
	if h := top("劳动法 第四十四条"); h == nil || h.Title != "中华人民共和国劳动法" || h.Article == nil || h.Article.Anchor != "art-44" || !strings.Contains(h.Article.Text, "延长工作时间") {
		t.Errorf("劳动法 第四十四条: %+v", h)
	}
	if h := top("中華人民共和國勞動法"); h == nil || h.Title != "中华人民共和国劳动法" {
		t.Errorf("traditional 中華人民共和國勞動法: %+v", h)
	}
	a, _ := n.m.Index().Search(ctx, search.Request{Query: "低保", Limit: 50})
	b, _ := n.m.Index().Search(ctx, search.Request{Query: "最低生活保障", Limit: 50})
	if a.Total == 0 || a.Total != b.Total {
		t.Errorf("低保: %d hits, 最低生活保障: %d hits; want equal and > 0", a.Total, b.Total)
	}

	// The whole subset rebuilt from the store answers the same.
	before := top("劳动法 第四十四条")
	if _, err := n.m.Reindex(ctx); err != nil {
		t.Fatal(err)
	}
	if after := top("劳动法 第四十四条"); before == nil || after == nil || after.ID != before.ID || after.Article.Anchor != before.Article.Anchor {
		t.Errorf("after reindex: %+v, before %+v", after, before)
	}
}
