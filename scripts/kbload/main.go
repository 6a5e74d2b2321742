// Command kbload measures knowledge-base latency through a running yiwang
// server's HTTP API with the queries and texts of the search package's
// corpus benchmark (search.BenchQueries, search.BenchTexts), one request
// at a time. It finds the server and its local admin key from the data
// directory with app.LocalServer, as the CLI does. Used by scripts/bench-kb.sh.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"time"

	"github.com/yiwang/yiwang/app"
	"github.com/yiwang/yiwang/search"
)

func main() {
	data := flag.String("data", "", "data directory of the running server")
	corpus := flag.String("corpus", "../shared/corpus/laws", "corpus directory")
	nq := flag.Int("queries", 300, "short queries")
	nr := flag.Int("related", 100, "related texts")
	flag.Parse()
	if err := run(*data, *corpus, *nq, *nr); err != nil {
		fmt.Fprintln(os.Stderr, "kbload:", err)
		os.Exit(1)
	}
}

func run(data, corpus string, nq, nr int) error {
	base, key, ok := app.LocalServer(data)
	if !ok {
		return fmt.Errorf("no yiwang server is running on %s", data)
	}
	docs, err := search.LoadCorpus(corpus)
	if err != nil {
		return err
	}
	var wall, took []float64
	for _, q := range search.BenchQueries(docs, nq) {
		t, w, err := call(base, key, "GET", "/api/v1/kb/search?limit=10&q="+url.QueryEscape(q), nil)
		if err != nil {
			return fmt.Errorf("search %q: %w", q, err)
		}
		took, wall = append(took, t), append(wall, w)
	}
	report("search", wall, took)
	wall, took = nil, nil
	for _, text := range search.BenchTexts(docs, nr) {
		body, _ := json.Marshal(map[string]any{"text": text, "limit": 10})
		t, w, err := call(base, key, "POST", "/api/v1/kb/related", body)
		if err != nil {
			return fmt.Errorf("related: %w", err)
		}
		took, wall = append(took, t), append(wall, w)
	}
	report("related", wall, took)
	return nil
}

// call returns the server's took_ms and the request's wall time (ms).
func call(base, key, method, path string, body []byte) (float64, float64, error) {
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	t0 := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	wall := float64(time.Since(t0).Microseconds()) / 1000
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("%s: %.200s", resp.Status, b)
	}
	var out struct {
		TookMS float64 `json:"took_ms"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return 0, 0, err
	}
	return out.TookMS, wall, nil
}

func report(name string, wall, took []float64) {
	fmt.Printf("%s: %d requests, HTTP p50 %.1f ms p95 %.1f ms; server took_ms p50 %.1f p95 %.1f\n",
		name, len(wall), pct(wall, 50), pct(wall, 95), pct(took, 50), pct(took, 95))
}

func pct(v []float64, p int) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[(len(s)-1)*p/100]
}
