package search

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func corpusDir(t testing.TB) string {
	d := os.Getenv("YIWANG_CORPUS")
	if d == "" {
		d = filepath.Join("..", "..", "shared", "corpus", "laws")
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("corpus not found at %s", d)
	}
	return d
}

// TestBenchCorpus runs the full benchmark (both engines) when YIWANG_BENCH
// is set; YIWANG_BENCH_DOCS=100000 runs the scaling variant.
//
//	YIWANG_BENCH=1 go test -run TestBenchCorpus -v -timeout 2h ./search/
func TestBenchCorpus(t *testing.T) {
	if os.Getenv("YIWANG_BENCH") == "" {
		t.Skip("set YIWANG_BENCH=1 to run the corpus benchmark")
	}
	n, _ := strconv.Atoi(os.Getenv("YIWANG_BENCH_DOCS"))
	dir := os.Getenv("YIWANG_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	rep, err := Bench(context.Background(), BenchOptions{Corpus: corpusDir(t), Dir: dir, Docs: n, Peer: os.Getenv("YIWANG_BENCH_NOPEER") == "", Log: testWriter{t}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("%s", b)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// BenchmarkIndexCorpus indexes the first 400 corpus documents per iteration
// (YIWANG_BENCH_DOCS: another number; YIWANG_BULK_WRITERS: batches in flight).
//
//	go test -run XXX -bench IndexCorpus -benchtime 1x ./search/
func BenchmarkIndexCorpus(b *testing.B) {
	docs, err := LoadCorpus(corpusDir(b))
	if err != nil {
		b.Fatal(err)
	}
	n := 400
	if v, _ := strconv.Atoi(os.Getenv("YIWANG_BENCH_DOCS")); v > 0 {
		n = v
	}
	if len(docs) > n {
		docs = docs[:n]
	}
	size := 0
	for _, d := range docs {
		size += d.Size
	}
	if w, _ := strconv.Atoi(os.Getenv("YIWANG_BULK_WRITERS")); w > 0 {
		defer func(old int) { bulkWriters = old }(bulkWriters)
		bulkWriters = w
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() {
		b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N)/(float64(size)/1e6), "cpu-s/MB")
	}()
	for i := 0; i < b.N; i++ {
		ix, err := Open(filepath.Join(b.TempDir(), "kb"))
		if err != nil {
			b.Fatal(err)
		}
		bw := ix.NewBulk(400)
		for _, d := range docs {
			bw.Add(d.Doc)
		}
		if err := bw.Flush(); err != nil {
			b.Fatal(err)
		}
		ix.Close()
	}
}
