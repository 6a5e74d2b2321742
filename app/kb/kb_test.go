package kb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/yiwang/yiwang/search"
	"github.com/yiwang/yiwang/store"
)

// node is a real single-node store with the kb module on a data dir that
// survives a restart within the test.
type node struct {
	t   *testing.T
	dir string
	st  *store.Store
	m   *Module
	// last is the store index of the last command applied here.
	last uint64
}

func startNode(t *testing.T, dir string) *node {
	t.Helper()
	st, err := store.New(store.Config{DataDir: dir, NodeID: "kbtest"})
	if err != nil {
		t.Fatal(err)
	}
	m := New(Options{DataDir: dir, Logf: t.Logf, FlushEvery: 50 * time.Millisecond})
	m.Register(st)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := st.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, dir: dir, st: st, m: m}
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	if n.st == nil {
		return
	}
	if err := n.m.Stop(); err != nil {
		n.t.Errorf("stop: %v", err)
	}
	n.st.Close()
	n.st = nil
}

func (n *node) apply(typ string, payload any) (Touched, uint64) {
	n.t.Helper()
	cmd, err := store.NewCommand(typ, 1, payload)
	if err != nil {
		n.t.Fatal(err)
	}
	cmd.Actor = "test"
	res, err := n.st.Apply(context.Background(), cmd)
	if err != nil {
		n.t.Fatalf("%s: %v", typ, err)
	}
	var tc Touched
	if err := res.Decode(&tc); err != nil {
		n.t.Fatal(err)
	}
	n.last = res.Index
	return tc, res.Index
}

func (n *node) create(title, text string) string {
	n.t.Helper()
	in := &CreateDoc{Meta: Meta{Kind: search.KindPolicy, Title: title}, Text: text}
	fillMeta(in)
	tc, _ := n.apply(CmdCreate, in)
	return tc.ID
}

// sync waits until the index has applied the last command.
func (n *node) sync() {
	n.t.Helper()
	// generous: the corpus test indexes hundreds of documents under -race
	// on a shared 2-core machine
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := n.m.WaitIndexed(ctx, n.last); err != nil {
		n.t.Fatalf("index did not catch up: watermark %d, last command %d", n.m.Watermark(), n.last)
	}
}

func (n *node) ids(q string) []string {
	n.t.Helper()
	res, err := n.m.Index().Search(context.Background(), search.Request{Query: q, Limit: 20, Facets: []string{}})
	if err != nil {
		n.t.Fatal(err)
	}
	var out []string
	for _, h := range res.Hits {
		out = append(out, h.ID)
	}
	return out
}

func law(name string, arts ...string) string {
	s := "# " + name + "\n\n（2020年1月1日第十三届全国人民代表大会常务委员会第十五次会议通过）\n\n"
	for i, a := range arts {
		s += fmt.Sprintf("第%s条 %s\n\n", []string{"一", "二", "三", "四", "五"}[i], a)
	}
	return s
}

var sampleLaws = [][]string{
	{"城市道路管理条例", "为了加强城市道路管理，保障城市道路完好，制定本条例。", "占用城市道路摆摊设点的，由市政工程行政主管部门责令限期改正。", "城市道路井盖缺失的，管理单位应当及时补缺。"},
	{"最低生活保障办法", "为了规范最低生活保障工作，保障困难群众基本生活，制定本办法。", "共同生活的家庭成员人均收入低于当地最低生活保障标准的，可以申请低保。"},
	{"河道管理条例", "为了加强河道管理，保障防洪安全，制定本条例。", "禁止在河道管理范围内倾倒垃圾、渣土。", "河长负责组织领导相应河湖的管理和保护工作。"},
	{"城市市容和环境卫生管理条例", "为了加强城市市容和环境卫生管理，制定本条例。", "任何单位和个人不得在街道两侧和公共场地堆放物料、摆摊设点。"},
}

func TestRestartResumesFromWatermark(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	var ids []string
	for _, l := range sampleLaws[:2] {
		ids = append(ids, n.create(l[0], law(l[0], l[1:]...)))
	}
	n.sync()
	if got := n.ids("城市道路管理条例"); len(got) == 0 || got[0] != ids[0] {
		t.Fatalf("title search: %v, want %s first", got, ids[0])
	}

	// The index stops following the store (as if the node went down
	// with its index) while documents keep changing.
	if err := n.m.Stop(); err != nil {
		t.Fatal(err)
	}
	before := n.m.Applied.Load()
	wm := n.m.Watermark()
	for _, l := range sampleLaws[2:] {
		ids = append(ids, n.create(l[0], law(l[0], l[1:]...)))
	}
	st := "已废止"
	n.apply(CmdUpdate, UpdateDoc{ID: ids[1], Status: &st})
	n.apply(CmdDelete, map[string]string{"id": ids[0]})
	if err := n.m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	n.sync()
	if replayed := n.m.Applied.Load() - before; replayed != 4 {
		t.Errorf("resumed from watermark %d: replayed %d kb events, want the 4 applied while stopped", wm, replayed)
	}
	if got := n.ids("河道管理条例"); len(got) == 0 || got[0] != ids[2] {
		t.Errorf("document created while stopped not indexed: %v", got)
	}
	if got := n.ids("城市道路管理条例"); slices.Contains(got, ids[0]) {
		t.Errorf("document deleted while stopped still found: %v", got)
	}
	res, _ := n.m.Index().Search(context.Background(), search.Request{Query: "最低生活保障办法", Filter: map[string][]string{"status": {"已废止"}}})
	if res.Total != 1 {
		t.Errorf("status edit while stopped not indexed: %d hits for status=已废止", res.Total)
	}

	// A full restart of the node: the index already holds everything,
	// nothing is replayed, and new writes are indexed.
	wm = n.m.Watermark()
	n.close()
	n2 := startNode(t, dir)
	if n2.m.Watermark() != wm {
		t.Errorf("watermark after restart %d, want %d", n2.m.Watermark(), wm)
	}
	time.Sleep(200 * time.Millisecond)
	if a := n2.m.Applied.Load(); a != 0 {
		t.Errorf("restart replayed %d kb events already indexed", a)
	}
	if got := n2.ids("河道管理条例"); len(got) == 0 || got[0] != ids[2] {
		t.Errorf("after restart: %v", got)
	}
	id := n2.create("网格化管理办法", law("网格化管理办法", "网格员负责巡查发现问题。"))
	n2.sync()
	if got := n2.ids("网格化管理办法"); len(got) == 0 || got[0] != id {
		t.Errorf("write after restart not indexed: %v", got)
	}
}

func TestReindexEqualsIncremental(t *testing.T) {
	n := startNode(t, t.TempDir())
	var ids []string
	for _, l := range sampleLaws {
		ids = append(ids, n.create(l[0], law(l[0], l[1:]...)))
	}
	// edits of every kind the incremental path handles
	text := law("城市道路管理条例", "为了加强城市道路管理，制定本条例。", "擅自挖掘城市道路的，责令限期改正，可以处以罚款。")
	n.apply(CmdUpdate, UpdateDoc{ID: ids[0], Text: &text})
	n.apply(CmdLink, LinkInput{From: ids[3], To: ids[0], Kind: LinkRepeals})
	n.apply(CmdDelete, map[string]string{"id": ids[2]})
	tags := []string{"民生"}
	n.apply(CmdUpdate, UpdateDoc{ID: ids[1], Tags: &tags})
	n.sync()

	queries := []string{"城市道路", "摆摊设点", "占用城市道路摆摊设点", "挖掘城市道路", "低保", "河道", "倾倒垃圾", "城市道路管理条例 第二条", "管理"}
	type answer struct {
		Total  int
		IDs    []string
		Facets map[string][]search.FacetCount
	}
	run := func() []answer {
		var out []answer
		for _, q := range queries {
			res, err := n.m.Index().Search(context.Background(), search.Request{Query: q, Limit: 20})
			if err != nil {
				t.Fatal(err)
			}
			a := answer{Total: res.Total, Facets: res.Facets}
			for _, h := range res.Hits {
				a.IDs = append(a.IDs, h.ID)
				if h.Article != nil {
					a.IDs = append(a.IDs, h.Article.ID+"="+h.Article.Text)
				}
			}
			out = append(out, a)
		}
		return out
	}
	incremental := run()
	if incremental[3].Total != 1 || incremental[5].Total != 0 || incremental[2].Total != 0 || incremental[1].Total != 1 {
		t.Fatalf("incremental index missed an edit: %+v", incremental)
	}
	if res, _ := n.m.Index().Search(context.Background(), search.Request{Query: "城市道路管理条例", Filter: map[string][]string{"status": {"已废止"}}}); res.Total != 1 {
		t.Errorf("废止 link did not repeal the target in the index: %d", res.Total)
	}
	count, _ := n.m.Index().Count()
	wm := n.m.Watermark()
	docs, err := n.m.Reindex(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if docs != 3 || count != 3 {
		t.Errorf("reindexed %d documents, incremental index held %d, want 3", docs, count)
	}
	if n.m.Watermark() < wm {
		t.Errorf("reindex moved the watermark back: %d < %d", n.m.Watermark(), wm)
	}
	rebuilt := run()
	for i := range queries {
		if fmt.Sprint(incremental[i]) != fmt.Sprint(rebuilt[i]) {
			t.Errorf("%q: incremental %+v\nrebuilt %+v", queries[i], incremental[i], rebuilt[i])
		}
	}
}

func TestCommandsRefuse(t *testing.T) {
	n := startNode(t, t.TempDir())
	id := n.create(sampleLaws[0][0], law(sampleLaws[0][0], sampleLaws[0][1:]...))
	try := func(typ string, payload any, code string) {
		t.Helper()
		cmd, _ := store.NewCommand(typ, 1, payload)
		_, err := n.st.Apply(context.Background(), cmd)
		if se := store.AsError(err); se == nil || se.Code != code {
			t.Errorf("%s %+v: %v, want %s", typ, payload, err, code)
		}
	}
	same := &CreateDoc{Meta: Meta{Kind: search.KindCase, Title: "另一个标题"}, Text: "  " + law(sampleLaws[0][0], sampleLaws[0][1:]...) + "\n"}
	try(CmdCreate, same, "conflict")
	try(CmdCreate, &CreateDoc{Meta: Meta{Kind: "杂项", Title: "x"}, Text: "x"}, "invalid")
	try(CmdCreate, &CreateDoc{Meta: Meta{Kind: search.KindPolicy, Title: "x", Status: "有效"}, Text: "x"}, "invalid")
	try(CmdCreate, &CreateDoc{Meta: Meta{Kind: search.KindPolicy, Title: "x", Published: "2020年1月1日"}, Text: "x"}, "invalid")
	try(CmdCreate, &CreateDoc{Meta: Meta{Kind: search.KindPolicy, Title: "x"}, Text: " "}, "invalid")
	try(CmdUpdate, UpdateDoc{ID: "nope"}, "not_found")
	try(CmdDelete, map[string]string{"id": "nope"}, "not_found")
	try(CmdLink, LinkInput{From: id, To: "nope", Kind: LinkAmends}, "not_found")
	try(CmdLink, LinkInput{From: id, To: id, Kind: LinkAmends}, "invalid")
	try(CmdLink, LinkInput{From: id, To: "x", Kind: "撤销"}, "invalid")
	try(CmdSynonyms, SynonymsInput{Groups: [][]string{{"只有一个"}}}, "invalid")
	var c int
	n.st.DB().QueryRow(`SELECT count(*) FROM kb_document`).Scan(&c)
	if c != 1 {
		t.Errorf("%d documents after refused commands, want 1", c)
	}
}

func TestSynonymsFollowTheStore(t *testing.T) {
	n := startNode(t, t.TempDir())
	id := n.create("城市运行管理中心工作规则", law("城市运行管理中心工作规则", "城市运行管理中心负责事件的受理、派遣和督办。"))
	n.sync()
	if got := n.ids("一网统管"); !slices.Contains(got, id) {
		t.Fatalf("built-in synonym 一网统管 ↔ 城市运行管理 not applied: %v", got)
	}
	if got := n.ids("城运中心"); len(got) != 0 {
		t.Fatalf("城运中心 found %v before it is in the dictionary", got)
	}
	n.apply(CmdSynonyms, SynonymsInput{Groups: [][]string{{"城运中心", "城市运行管理中心"}}})
	n.sync()
	if got := n.ids("城运中心"); !slices.Contains(got, id) {
		t.Errorf("edited dictionary not applied: %v", got)
	}
	if got := n.ids("一网统管"); slices.Contains(got, id) {
		t.Errorf("replaced dictionary still expands 一网统管: %v", got)
	}
}

// TestDamagedIndexIsRebuilt: the index is derived state; a damaged or
// missing index directory is rebuilt from the store on start.
func TestDamagedIndexIsRebuilt(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	id := n.create(sampleLaws[2][0], law(sampleLaws[2][0], sampleLaws[2][1:]...))
	n.sync()
	n.close()
	meta := filepath.Join(n.m.IndexDir(), "index_meta.json")
	if err := os.WriteFile(meta, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	n2 := startNode(t, dir)
	if got := n2.ids("河道管理条例"); len(got) != 1 || got[0] != id {
		t.Errorf("after a damaged index: %v", got)
	}
	// A session that applies no command leaves the raft leader's no-op as
	// the last log entry, and the store's next start then waits 60 s for
	// it to be "applied" (store issue, reported): write something.
	n2.apply(CmdSynonyms, SynonymsInput{Groups: [][]string{{"河长", "河湖长"}}})
	n2.close()
	if err := os.RemoveAll(n2.m.IndexDir()); err != nil {
		t.Fatal(err)
	}
	n3 := startNode(t, dir)
	if got := n3.ids("倾倒垃圾"); len(got) != 1 || got[0] != id {
		t.Errorf("after a deleted index: %v", got)
	}
	if n3.m.Watermark() == 0 {
		t.Errorf("rebuilt index has no watermark")
	}
}
