package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/search/extract/extracttest"
)

// kbJSONShape checks the exact output of kb search/related --json.
func kbJSONShape(t *testing.T, out string) []map[string]any {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &top); err != nil {
		t.Fatalf("not JSON: %v: %s", err, out)
	}
	if keys := sortedKeys(top); !reflect.DeepEqual(keys, []string{"hits", "took_ms", "total"}) {
		t.Fatalf("top-level keys %v: %s", keys, out)
	}
	var hits []map[string]any
	if err := json.Unmarshal(top["hits"], &hits); err != nil {
		t.Fatal(err)
	}
	for _, h := range hits {
		if keys := sortedKeys(h); !reflect.DeepEqual(keys, []string{"doc_number", "id", "kind", "score", "snippet", "title"}) {
			t.Fatalf("hit keys %v", keys)
		}
	}
	return hits
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func writeKBFiles(t *testing.T) (dir, exe string) {
	t.Helper()
	dir = t.TempDir()
	files := map[string][]byte{
		"法规/城市道路管理条例.md":       []byte(kbLawMD),
		"法规/低保通知.txt":          []byte(kbNoticeTxt),
		"法规/副本/道路条例副本.md":      []byte(kbLawMD), // duplicate content
		"预案/防汛应急预案.docx":       extracttest.Docx("防汛应急预案", "第一条 汛期河道水位超过警戒水位时启动应急响应。"),
		"预案/损坏的预案.docx":        []byte("PK\x03\x04 not really a zip"),
		"预案/notes.bin":         []byte("ignored: other extension"),
		"法规/.hidden/secret.md": []byte("# 隐藏\n不应导入"),
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe = filepath.Join(t.TempDir(), "tool.exe")
	os.WriteFile(exe, []byte("MZ\x90\x00"), 0o644)
	return dir, exe
}

func TestKBCLIImportSearchRelated(t *testing.T) {
	s := startServer(t)
	dir, exe := writeKBFiles(t)
	env := []string{"YIWANG_TOKEN=" + s.tokens["admin"]}
	code, out, errOut := runCLI(t, "", env, "kb", "import", "--server", s.url, dir, exe)
	if code != 1 {
		t.Fatalf("import with refusals: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{
		"imported 3, skipped 1 (duplicate content), refused 2; 1 files with other extensions not looked at",
		"skipped  " + filepath.Join(dir, "法规") + "/", ": same text as document",
		"refused  " + filepath.Join(dir, "预案", "损坏的预案.docx") + ": ",
		"refused  " + exe + ": ",
		"unsupported file type",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "] 6/6 imported 3 skipped 1 refused 2") || !strings.Contains(errOut, "indexing: 3 documents indexed") {
		t.Errorf("progress on stderr: %q", errOut)
	}

	// Re-running skips everything already there.
	code, out, _ = runCLI(t, "", env, "kb", "import", "--server", s.url, "--json", filepath.Join(dir, "法规"))
	var sum kbImportSummary
	if err := json.Unmarshal([]byte(out), &sum); code != 0 || err != nil || sum.Imported != 0 || sum.Skipped != 3 || sum.Refused != 0 {
		t.Errorf("re-import: exit %d %v %s", code, err, out)
	}

	code, out, errOut = runCLI(t, "", env, "kb", "search", "--server", s.url, "--json", "城市道路管理条例", "第四十四条")
	if code != 0 {
		t.Fatalf("search: %d %s", code, errOut)
	}
	hits := kbJSONShape(t, out)
	if len(hits) == 0 || hits[0]["title"] != "城市道路管理条例" || !strings.Contains(hits[0]["snippet"].(string), "<mark>") {
		t.Errorf("search hits: %s", out)
	}
	code, out, _ = runCLI(t, "", env, "kb", "search", "--server", s.url, "--json", "国办发〔2017〕39号")
	if hits := kbJSONShape(t, out); code != 0 || len(hits) == 0 || hits[0]["doc_number"] != "国办发〔2017〕39号" || hits[0]["kind"] != "政策法规" {
		t.Errorf("number lookup: %s", out)
	}
	code, out, _ = runCLI(t, "", env, "kb", "search", "--server", s.url, "--json", "完全不存在的词语组合")
	if hits := kbJSONShape(t, out); code != 0 || len(hits) != 0 || !strings.Contains(out, `"hits":[]`) {
		t.Errorf("no hits: %s", out)
	}

	caseText := "群众反映汛期河道水位上涨超过警戒水位，请求启动防汛应急响应，组织人员转移。"
	code, out, errOut = runCLI(t, caseText, env, "kb", "related", "--server", s.url, "--json")
	if hits := kbJSONShape(t, out); code != 0 || len(hits) == 0 || hits[0]["title"] != "防汛应急预案" {
		t.Errorf("related: %d %s %s", code, out, errOut)
	}
	if code, _, _ := runCLI(t, "", env, "kb", "related", "--server", s.url); code != 2 {
		t.Errorf("related without text: exit %d", code)
	}
	if code, _, errOut := runCLI(t, "", nil, "kb", "search", "--server", s.url, "--token", "ywt_bad", "x"); code != 1 || !strings.Contains(errOut, "token") {
		t.Errorf("bad token: %d %s", code, errOut)
	}
	code, out, _ = runCLI(t, "", env, "kb", "reindex", "--server", s.url)
	if code != 0 || !strings.Contains(out, "reindexed 3 documents") {
		t.Errorf("online reindex: %d %s", code, out)
	}
}

// TestKBCLIOfflineReindex imports through the local server of a data dir
// (run files, local key), stops it, rebuilds the index offline, and checks
// the restarted server answers from the rebuilt index.
func TestKBCLIOfflineReindex(t *testing.T) {
	data := t.TempDir()
	start := func() *App {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		cfg.Data = data
		// As with `yiwang serve --http ADDR`.
		cfg.HTTP = ln.Addr().String()
		cfg.MQTT = "127.0.0.1:0"
		a, err := New(cfg, Options{Logf: t.Logf, Out: &bytes.Buffer{}, Listener: ln})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := a.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return a
	}
	a := start()
	dir, _ := writeKBFiles(t)
	os.Remove(filepath.Join(dir, "预案", "损坏的预案.docx"))
	if code, out, errOut := runCLI(t, "", nil, "kb", "import", "--data", data, dir); code != 0 || !strings.Contains(out, "imported 3, skipped 1") {
		t.Fatalf("import via the local server: %d %s %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "", nil, "kb", "reindex", "--data", data); code != 0 {
		t.Fatalf("reindex against the running server: %d %s", code, errOut)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(data, "kb-index"))
	code, out, errOut := runCLI(t, "", nil, "kb", "reindex", "--data", data)
	if code != 0 || !strings.Contains(out, "reindexed 3 documents") || !strings.Contains(out, "offline") {
		t.Fatalf("offline reindex: %d %s %s", code, out, errOut)
	}
	a = start()
	defer a.Close()
	if w := a.KB().Watermark(); w == 0 {
		t.Errorf("rebuilt index has no watermark")
	}
	code, out, _ = runCLI(t, "", nil, "kb", "search", "--data", data, "--json", "低保")
	if hits := kbJSONShape(t, out); code != 0 || len(hits) != 1 || hits[0]["doc_number"] != "国办发〔2017〕39号" {
		t.Errorf("search after offline reindex: %s", out)
	}
}
