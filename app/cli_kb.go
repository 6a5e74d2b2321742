package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/kb"
	"github.com/yiwang/yiwang/search/extract"
	"github.com/yiwang/yiwang/store"
)

func init() {
	registerCommand("kb", `  yiwang kb import [--kind K] [--tags T] [--server URL --token T | --data DIR] PATH...
                                           import files and folders into the knowledge base
  yiwang kb search [--json] [--limit N] [--kind K] QUERY...
                                           search the knowledge base
  yiwang kb related [--json] [--limit N] < TEXT
                                           documents that apply to the text on stdin
  yiwang kb reindex [--data DIR | --server URL --token T]
                                           rebuild the search index from the store
  yiwang kb bench [--json] [--peer] [--docs N] FOLDER
                                           measure indexing, search and related on this machine
`, (*cli).kb)
}

func (c *cli) kb(args []string) error {
	if len(args) == 0 {
		return usageError("kb: expected import, search, related, reindex or bench")
	}
	switch args[0] {
	case "import":
		return c.kbImport(args[1:])
	case "search":
		return c.kbSearch(args[1:])
	case "related":
		return c.kbRelated(args[1:])
	case "reindex":
		return c.kbReindex(args[1:])
	case "bench":
		return c.kbBench(args[1:])
	}
	return usageError(fmt.Sprintf("kb: unknown subcommand %q", args[0]))
}

// kbHit and kbResult are the JSON output of kb search and kb related.
type kbHit struct {
	ID      string  `json:"id"`
	Title   string  `json:"title"`
	Number  string  `json:"doc_number"`
	Kind    string  `json:"kind"`
	Score   float64 `json:"score"`
	Snippet string  `json:"snippet"`
}

type kbResult struct {
	Hits   []kbHit `json:"hits"`
	Total  int     `json:"total"`
	TookMS float64 `json:"took_ms"`
}

func (c *cli) printHits(res kbResult, asJSON bool) error {
	if res.Hits == nil {
		res.Hits = []kbHit{}
	}
	if asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(res)
	}
	fmt.Fprintf(c.stdout, "%d results (%.1f ms)\n", res.Total, res.TookMS)
	for i, h := range res.Hits {
		num := ""
		if h.Number != "" {
			num = " " + h.Number
		}
		fmt.Fprintf(c.stdout, "%2d. %s%s [%s] %.2f  %s\n    %s\n", i+1, h.Title, num, h.Kind, h.Score, h.ID, plainSnippet(h.Snippet))
	}
	return nil
}

// plainSnippet turns the HTML snippet into terminal text (【】 for marks).
func plainSnippet(s string) string {
	r := strings.NewReplacer("<mark>", "【", "</mark>", "】", "&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "\n", " ")
	return r.Replace(s)
}

func (c *cli) kbSearch(args []string) error {
	fs := c.flags("kb search")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 10, "results (1..100)")
	kind := fs.String("kind", "", "only this kind (政策法规, 案例, 预案, 标准)")
	rf := c.remoteFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	q := strings.TrimSpace(strings.Join(fs.Args(), " "))
	if q == "" {
		return usageError("kb search: give a query")
	}
	call, err := rf.call(c)
	if err != nil {
		return err
	}
	v := url.Values{"q": {q}, "limit": {fmt.Sprint(*limit)}, "facets": {"none"}}
	if *kind != "" {
		v.Set("kind", *kind)
	}
	var res kbResult
	if err := call("GET", "/api/v1/kb/search?"+v.Encode(), nil, &res); err != nil {
		return err
	}
	return c.printHits(res, *asJSON)
}

func (c *cli) kbRelated(args []string) error {
	fs := c.flags("kb related")
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 10, "results (1..50)")
	kind := fs.String("kind", "", "only this kind (政策法规, 案例, 预案, 标准)")
	rf := c.remoteFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("kb related: reads the text on stdin, no arguments")
	}
	text, err := io.ReadAll(io.LimitReader(c.stdin, 100_001))
	if err != nil {
		return err
	}
	if len(text) > 100_000 {
		return errors.New("kb related: text longer than 100,000 bytes")
	}
	if strings.TrimSpace(string(text)) == "" {
		return usageError("kb related: no text on stdin")
	}
	call, err := rf.call(c)
	if err != nil {
		return err
	}
	in := kb.RelatedInput{Text: string(text), Limit: *limit}
	if *kind != "" {
		in.Kinds = []string{*kind}
	}
	var res kbResult
	if err := call("POST", "/api/v1/kb/related", in, &res); err != nil {
		return err
	}
	return c.printHits(res, *asJSON)
}

func (c *cli) kbReindex(args []string) error {
	fs := c.flags("kb reindex")
	rf := c.remoteFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("kb reindex: unexpected argument " + fs.Arg(0))
	}
	online := rf.server != ""
	if !online {
		data, err := rf.data()
		if err != nil {
			return err
		}
		if _, _, ok := LocalServer(data); ok {
			online = true
		} else {
			// Offline: the server is stopped, open the data dir ourselves.
			ctx := context.Background()
			a, err := c.openOffline(ctx, data)
			if err != nil {
				return err
			}
			defer a.Close()
			start := time.Now()
			n, err := a.KB().Reindex(ctx)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "reindexed %d documents in %s (offline, %s)\n", n, time.Since(start).Round(time.Millisecond), a.KB().IndexDir())
			return nil
		}
	}
	call, err := rf.call(c)
	if err != nil {
		return err
	}
	var out kb.ReindexOutput
	if err := call("POST", "/api/v1/kb/reindex", nil, &out); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "reindexed %d documents in %.0f ms (on the server)\n", out.Documents, out.TookMS)
	return nil
}

// kbImportSummary is the output of kb import --json.
type kbImportSummary struct {
	Imported int               `json:"imported"`
	Skipped  int               `json:"skipped"`
	Refused  int               `json:"refused"`
	Files    []kb.ImportResult `json:"files"`
}

func (c *cli) kbImport(args []string) error {
	fs := c.flags("kb import")
	kind := fs.String("kind", "", "kind of the documents (政策法规 by default; 案例, 预案, 标准)")
	tags := fs.String("tags", "", "comma-separated tags for every document")
	jobs := fs.Int("jobs", 2, "files uploaded in parallel")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	noWait := fs.Bool("no-wait", false, "do not wait until the server has indexed the imported documents")
	rf := c.remoteFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError("kb import: give files or folders to import")
	}
	if *jobs < 1 || *jobs > 16 {
		return usageError("kb import: --jobs must be between 1 and 16")
	}
	files, ignored, err := kbCollect(fs.Args())
	if err != nil {
		return err
	}
	base, key, err := rf.connect(c)
	if err != nil {
		return err
	}
	results := make([]kb.ImportResult, len(files))
	bar := &progressBar{w: c.stderr, total: len(files)}
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < *jobs; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = uploadKB(base, key, files[i], *kind, *tags)
				bar.add(results[i].Status)
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	bar.done()
	var maxIdx uint64
	for _, r := range results {
		maxIdx = max(maxIdx, r.Index)
	}
	if maxIdx > 0 && !*noWait {
		// Documents are searchable once the server's index has caught up.
		start, moved := time.Now(), time.Now()
		var seen uint64
		for {
			var st kb.Status
			if err := callServer("GET", base+"/api/v1/kb/status", key, nil, &st); err != nil {
				return err
			}
			fmt.Fprintf(c.stderr, "\rindexing: %d documents indexed", st.Indexed)
			if st.Watermark >= maxIdx {
				fmt.Fprintf(c.stderr, " (%s)\n", time.Since(start).Round(time.Millisecond))
				break
			}
			if st.Watermark != seen {
				seen, moved = st.Watermark, time.Now()
			} else if time.Since(moved) > 2*time.Minute {
				fmt.Fprintf(c.stderr, "\nthe server's index has not advanced for 2 minutes (at %d of %d); the documents are stored and will be searchable once it catches up (see the server log, or run yiwang kb reindex)\n", st.Watermark, maxIdx)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	sum := kbImportSummary{Files: results}
	for _, r := range results {
		switch r.Status {
		case kb.Imported:
			sum.Imported++
		case kb.Skipped:
			sum.Skipped++
		default:
			sum.Refused++
		}
	}
	if *asJSON {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(c.stdout, string(b))
	} else {
		for _, r := range results {
			switch r.Status {
			case kb.Skipped:
				fmt.Fprintf(c.stdout, "skipped  %s: same text as document %s\n", r.Name, r.DuplicateOf)
			case kb.Refused:
				fmt.Fprintf(c.stdout, "refused  %s: %s\n", r.Name, r.Reason)
			}
		}
		fmt.Fprintf(c.stdout, "imported %d, skipped %d (duplicate content), refused %d", sum.Imported, sum.Skipped, sum.Refused)
		if ignored > 0 {
			fmt.Fprintf(c.stdout, "; %d files with other extensions not looked at", ignored)
		}
		fmt.Fprintln(c.stdout)
	}
	if sum.Refused > 0 {
		return fmt.Errorf("kb import: %d of %d files refused", sum.Refused, len(files))
	}
	return nil
}

// kbCollect expands the arguments: files as given (whatever their
// extension, so a wrong one is reported), folders walked for the supported
// formats. It returns the files in a stable order and the number of files
// ignored in folders.
func kbCollect(paths []string) ([]string, int, error) {
	ok := map[string]bool{}
	for _, f := range extract.Formats() {
		ok["."+strings.TrimPrefix(strings.ToLower(f), ".")] = true
	}
	var files []string
	ignored := 0
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, 0, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if q != p && strings.HasPrefix(d.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			if ok[strings.ToLower(filepath.Ext(q))] {
				found = append(found, q)
			} else {
				ignored++
			}
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return files, ignored, nil
}

// uploadKB sends one file to POST /api/v1/kb/import; every failure becomes
// a refusal with its reason.
func uploadKB(base, key, path, kind, tags string) kb.ImportResult {
	res := kb.ImportResult{Name: path, Status: kb.Refused}
	st, err := os.Stat(path)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	if st.Size() > kb.MaxUpload {
		res.Reason = fmt.Sprintf("%v (%d MB, limit %d MB)", extract.ErrTooLarge, st.Size()>>20, kb.MaxUpload>>20)
		return res
	}
	data, err := os.ReadFile(path)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if kind != "" {
		mw.WriteField("kind", kind)
	}
	if tags != "" {
		mw.WriteField("tags", tags)
	}
	fw, _ := mw.CreateFormFile("file", filepath.Base(path))
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest("POST", base+"/api/v1/kb/import", &body)
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		req.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
		resp, err = http.DefaultClient.Do(req)
		// A store between leaders answers 503: retry a few times.
		if err == nil && resp.StatusCode == http.StatusServiceUnavailable && attempt < 5 {
			resp.Body.Close()
			time.Sleep(time.Duration(attempt+1) * 500 * time.Millisecond)
			continue
		}
		break
	}
	if err != nil {
		res.Reason = err.Error()
		return res
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var eb httpapi.ErrorBody
		if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
			res.Reason = (&store.Error{Code: eb.Error.Code, Message: eb.Error.Message, Fields: eb.Error.Fields}).Error()
		} else {
			res.Reason = "server answered " + resp.Status
		}
		return res
	}
	if err := json.Unmarshal(b, &res); err != nil {
		res.Status, res.Reason = kb.Refused, "bad answer: "+err.Error()
	}
	res.Name = path
	return res
}

// progressBar draws "[=====>    ] 12/40 imported 10 skipped 1 refused 1"
// on one line of stderr, at most every 100 ms.
type progressBar struct {
	mu                  sync.Mutex
	w                   io.Writer
	total, n            int
	imported, skip, ref int
	last                time.Time
}

func (p *progressBar) add(status string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	switch status {
	case kb.Imported:
		p.imported++
	case kb.Skipped:
		p.skip++
	default:
		p.ref++
	}
	if time.Since(p.last) >= 100*time.Millisecond || p.n == p.total {
		p.draw()
	}
}

func (p *progressBar) draw() {
	p.last = time.Now()
	const width = 30
	fill := width
	if p.total > 0 {
		fill = p.n * width / p.total
	}
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	fmt.Fprintf(p.w, "\r[%s] %d/%d imported %d skipped %d refused %d", bar, p.n, p.total, p.imported, p.skip, p.ref)
}

func (p *progressBar) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n != p.total || p.total == 0 {
		p.draw()
	}
	fmt.Fprintln(p.w)
}
