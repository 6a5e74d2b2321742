package app

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKBCLIBench: kb bench indexes a folder of Markdown documents with the
// real engine (and the cjk peer with --peer), reports figures for every
// engine and evaluates Related on the cases' citations; bad input gets a
// usage error or a clear message.
func TestKBCLIBench(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var arts strings.Builder
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&arts, "第%d条 城市道路的井盖、护栏和照明设施由养护单位负责维护，发现缺失或者损坏的，应当在二十四小时内修复并设置警示标志，第%d项。\n\n", i, i)
	}
	write("法律/城市道路管理条例.md", "# 城市道路管理条例\n\n"+arts.String())
	write("法律/劳动法.md", "# 中华人民共和国劳动法\n\n第一条 为了保护劳动者的合法权益，制定本法。\n\n第四十四条 安排劳动者延长工作时间的，支付不低于工资的百分之一百五十的工资报酬。\n")
	write("案例/井盖案.md", "# 井盖缺失致人受伤案\n\n## 基本案情\n\n某路段井盖缺失，养护单位未设置警示标志，行人夜间跌落受伤。\n\n## 裁判理由\n\n依照《城市道路管理条例》第十条，养护单位应当承担责任。\n")
	code, out, errOut := runCLI(t, "", nil, "kb", "bench", "--json", "--peer", "--queries", "5", "--related", "2", dir)
	if code != 0 {
		t.Fatalf("kb bench: %d %s", code, errOut)
	}
	var rep struct {
		CPUs    int `json:"cpus"`
		Engines []struct {
			Engine      string  `json:"engine"`
			Docs        int     `json:"docs"`
			MBPerS      float64 `json:"mb_per_s"`
			IndexBytes  int64   `json:"index_bytes"`
			QueryP95    float64 `json:"query_p95_ms"`
			RecallPairs int     `json:"recall_pairs"`
		} `json:"engines"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(rep.Engines) != 2 || rep.CPUs < 1 {
		t.Fatalf("report: %+v", rep)
	}
	for _, e := range rep.Engines {
		if e.Docs != 3 || e.MBPerS <= 0 || e.IndexBytes <= 0 || e.QueryP95 <= 0 || e.RecallPairs != 1 {
			t.Errorf("%s: %+v", e.Engine, e)
		}
	}
	if !strings.Contains(errOut, "corpus: 3 files") {
		t.Errorf("progress: %q", errOut)
	}
	// the table
	code, out, errOut = runCLI(t, "", nil, "kb", "bench", "--queries", "3", "--related", "1", dir)
	if code != 0 || !strings.Contains(out, "3 documents") || !strings.Contains(out, "recall@10") || strings.Contains(errOut, "{") {
		t.Errorf("kb bench table: %d\n%s\n%s", code, out, errOut)
	}
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"kb", "bench"}, 2, "one folder"},
		{[]string{"kb", "bench", "--docs", "-1", dir}, 2, "--docs"},
		{[]string{"kb", "bench", filepath.Join(dir, "nope")}, 1, "not a folder"},
		{[]string{"kb", "bench", t.TempDir()}, 1, "no documents"},
	} {
		code, _, errOut := runCLI(t, "", nil, c.args...)
		if code != c.code || !strings.Contains(errOut, c.msg) {
			t.Errorf("%v: %d %q, want %d %q", c.args, code, errOut, c.code, c.msg)
		}
	}
}
