package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/yiwang/yiwang/search"
)

// kbBench runs the knowledge-base benchmark (search.Bench) on a folder of
// Markdown documents on this machine, so a county can check its own box
// against the figures in docs/BENCHMARKS.md: indexing MB/s, query and
// Related latency, index size, peak RSS, and Related recall on held-out
// cases when the folder has a 案例 subfolder. It needs no server and no
// data directory; the indexes go to a scratch directory that is removed.
func (c *cli) kbBench(args []string) error {
	fs := c.flags("kb bench")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	docs := fs.Int("docs", 0, "replicate the corpus (with varied ids) up to this many documents; 0 = as is")
	queries := fs.Int("queries", 300, "short queries to time")
	related := fs.Int("related", 100, "related calls (1,000-character texts) to time")
	peer := fs.Bool("peer", false, "also measure the plain bleve cjk analyzer in the same run")
	dir := fs.String("dir", "", "scratch directory for the indexes (default: a new temporary directory, removed after)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError("kb bench: expected one folder of Markdown documents")
	}
	if *docs < 0 || *queries < 1 || *related < 1 {
		return usageError("kb bench: --docs must be ≥ 0, --queries and --related ≥ 1")
	}
	corpus := fs.Arg(0)
	if st, err := os.Stat(corpus); err != nil || !st.IsDir() {
		return fmt.Errorf("kb bench: %s is not a folder", corpus)
	}
	scratch := *dir
	if scratch == "" {
		tmp, err := os.MkdirTemp("", "yiwang-kb-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		scratch = tmp
	}
	rep, err := search.Bench(context.Background(), search.BenchOptions{
		Corpus: corpus, Dir: scratch, Docs: *docs, Queries: *queries, Related: *related, Peer: *peer, Log: progressOnly{c.stderr},
	})
	if err != nil {
		return fmt.Errorf("kb bench: %w", err)
	}
	if *asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	if len(rep.Engines) == 0 {
		return errors.New("kb bench: no figures")
	}
	e := rep.Engines[0]
	fmt.Fprintf(c.stdout, "%s, %d CPUs: %d documents, %.1f MB\n", rep.Date, rep.CPUs, e.Docs, e.MB)
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "engine\tMB/s\tCPU-s/MB\tindex MB\tquery p50 ms\tp95\trelated p50 ms\tp95\trecall@10\tpeak RSS MB\t")
	for _, f := range rep.Engines {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.0f\t%.1f\t%.1f\t%.1f\t%.1f\t%.3f\t%.0f\t\n", f.Engine, f.MBPerSecond, f.CPUSecPerMB,
			float64(f.IndexBytes)/1e6, f.QueryP50MS, f.QueryP95MS, f.RelatedP50MS, f.RelatedP95MS, f.RecallAt10, f.PeakRSSMB)
	}
	tw.Flush()
	if e.RecallNote != "" {
		fmt.Fprintln(c.stdout, "recall:", e.RecallNote)
	}
	return nil
}

// progressOnly passes search.Bench's progress lines to w, leaving out the
// figures it also logs (the report prints them).
type progressOnly struct{ w io.Writer }

func (p progressOnly) Write(b []byte) (int, error) {
	if len(b) > 0 && b[0] == '{' {
		return len(b), nil
	}
	return p.w.Write(b)
}
