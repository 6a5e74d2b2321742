package search

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/yiwang/yiwang/search/meta"
)

// Kinds of knowledge-base documents.
const (
	KindPolicy   = "政策法规"
	KindCase     = "案例"
	KindPlan     = "预案"
	KindStandard = "标准"
)

// schemaVersion changes whenever the mapping or an analyzer changes; an
// index with another version must be rebuilt.
const schemaVersion = "yw-search-5"

var (
	keyWatermark = []byte("yw_watermark")
	keySchema    = []byte("yw_schema")
)

// ErrSchema is returned by Open when the index on disk was built by an
// incompatible version; the caller rebuilds it (Rebuild).
var ErrSchema = errors.New("search: index schema changed, rebuild required")

// Doc is one knowledge-base document as app/kb hands it to the index.
type Doc struct {
	ID        string         `json:"id"`
	Title     string         `json:"title"`
	Number    string         `json:"doc_number,omitempty"` // 发文字号 (normalised on indexing)
	Issuer    string         `json:"issuer,omitempty"`     // 发文机关
	Kind      string         `json:"kind"`                 // 政策法规/案例/预案/标准
	DocType   string         `json:"doc_type,omitempty"`   // 文种
	Level     string         `json:"level,omitempty"`      // 国家/省/市/县
	Status    string         `json:"status,omitempty"`     // 现行有效/已修改/已废止
	Written   string         `json:"written,omitempty"`    // 成文日期 YYYY-MM-DD
	Published string         `json:"published,omitempty"`  // 发布日期 YYYY-MM-DD
	Tags      []string       `json:"tags,omitempty"`
	Text      string         `json:"text"`
	Articles  []meta.Article `json:"articles,omitempty"` // parsed from Text when nil
}

// NewDoc builds a Doc from extracted text, filling metadata with meta.Parse.
// Fields already set by the caller (e.g. edited in the console) win.
func NewDoc(id, kind, title, text string) *Doc {
	md := meta.Parse(title, text)
	return &Doc{ID: id, Kind: kind, Title: md.Title, Number: md.Number, Issuer: md.Issuer, DocType: md.DocType,
		Level: md.Level, Status: md.Status, Written: md.Written, Published: md.Published, Text: text, Articles: md.Articles}
}

// Index is the knowledge-base search index. It is safe for concurrent use.
type Index struct {
	dir    string
	mu     sync.RWMutex // guards idx during Rebuild's swap
	idx    bleve.Index  // after Close, the closed index: its calls return bleve.ErrorIndexClosed
	closed bool
	syn    *Synonyms
	idf    sync.Map // term → float64, cached inverse document frequencies
}

func newMapping() *mapping.IndexMappingImpl {
	im := bleve.NewIndexMapping()
	im.ScoringModel = index.BM25Scoring
	im.DefaultAnalyzer = keyword.Name
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false
	dm := bleve.NewDocumentMapping()
	dm.Dynamic = false
	// no _all composite field: every query names its field, and building
	// an empty composite per document still costs ~7 % of indexing
	dm.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping())

	text := func(analyzer string, store, vectors bool) *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Analyzer = analyzer
		f.Store = store
		f.IncludeTermVectors = vectors
		f.IncludeInAll = false
		f.DocValues = false
		return f
	}
	kw := func(store, docValues bool) *mapping.FieldMapping {
		f := bleve.NewKeywordFieldMapping()
		f.Store = store
		f.IncludeInAll = false
		f.IncludeTermVectors = false
		f.DocValues = docValues
		return f
	}
	storeOnly := func() *mapping.FieldMapping {
		f := bleve.NewTextFieldMapping()
		f.Index = false
		f.Store = true
		f.IncludeInAll = false
		f.IncludeTermVectors = false
		f.DocValues = false
		return f
	}
	dm.AddFieldMappingsAt("kind", kw(true, true))
	dm.AddFieldMappingsAt("status", kw(true, true))
	dm.AddFieldMappingsAt("text", storeOnly())
	dm.AddFieldMappingsAt("title", text(AnalyzerBigramTitle, true, true))
	dm.AddFieldMappingsAt("title_key", kw(false, false))
	dm.AddFieldMappingsAt("body", text(AnalyzerBigramFolded, false, true))
	dm.AddFieldMappingsAt("sec_off", storeOnly())
	dm.AddFieldMappingsAt("cites", storeOnly())
	dm.AddFieldMappingsAt("number", kw(true, false))
	dm.AddFieldMappingsAt("num_code", kw(false, false))
	dm.AddFieldMappingsAt("num_year", kw(false, false))
	dm.AddFieldMappingsAt("num_seq", kw(false, false))
	dm.AddFieldMappingsAt("issuer", kw(true, true))
	dm.AddFieldMappingsAt("doc_type", kw(true, true))
	dm.AddFieldMappingsAt("level", kw(true, true))
	dm.AddFieldMappingsAt("year", kw(true, true))
	dm.AddFieldMappingsAt("tags", kw(true, true))
	dm.AddFieldMappingsAt("written", storeOnly())
	dm.AddFieldMappingsAt("published", storeOnly())
	dm.AddFieldMappingsAt("sections", storeOnly()) // encodeSections
	im.DefaultMapping = dm
	return im
}

// Open opens the index in dir, creating it when absent.
func Open(dir string) (*Index, error) {
	idx, err := openBleve(dir)
	if err != nil {
		return nil, err
	}
	return &Index{dir: dir, idx: idx, syn: DefaultSynonyms()}, nil
}

func openBleve(dir string) (bleve.Index, error) {
	if _, err := os.Stat(filepath.Join(dir, "index_meta.json")); err == nil {
		idx, err := bleve.Open(dir)
		if err != nil {
			return nil, fmt.Errorf("search: open %s: %w", dir, err)
		}
		v, _ := idx.GetInternal(keySchema)
		if string(v) != schemaVersion {
			idx.Close()
			return nil, ErrSchema
		}
		return idx, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	idx, err := newBleve(dir)
	if err != nil {
		return nil, fmt.Errorf("search: create %s: %w", dir, err)
	}
	if err := idx.SetInternal(keySchema, []byte(schemaVersion)); err != nil {
		idx.Close()
		return nil, err
	}
	return idx, nil
}

// Close closes the index.
func (ix *Index) Close() error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		return nil
	}
	ix.closed = true
	return ix.idx.Close()
}

// bleve returns the current index under the read lock, released by the
// returned func; ix.closed may be read while it is held. Calls through the
// bleve.Index API of a closed index return bleve.ErrorIndexClosed; code
// that goes through Advanced() must check ix.closed itself.
func (ix *Index) bleve() (bleve.Index, func()) {
	ix.mu.RLock()
	return ix.idx, ix.mu.RUnlock
}

// Watermark returns the last store index applied to this index (0 when new).
func (ix *Index) Watermark() (uint64, error) {
	idx, done := ix.bleve()
	defer done()
	v, err := idx.GetInternal(keyWatermark)
	if err != nil || len(v) != 8 {
		return 0, err
	}
	return binary.BigEndian.Uint64(v), nil
}

// SetWatermark records the last store index applied. Call it after the
// documents of that entry are indexed.
func (ix *Index) SetWatermark(w uint64) error {
	idx, done := ix.bleve()
	defer done()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], w)
	return idx.SetInternal(keyWatermark, b[:])
}

// Count returns the number of documents in the index.
func (ix *Index) Count() (int, error) {
	idx, done := ix.bleve()
	defer done()
	n, err := idx.DocCount()
	return int(n), err
}

// section is an addressable passage of a document: an article or, for
// documents without articles, a run of paragraphs. Sections are not bleve
// documents: the document record lists them ("sections", encodeSections)
// with the byte range of their text in the stored document text, and sec_off
// holds where each starts in the folded body. A bleve document per section
// (≈ 40 per document on the corpus) cost ≈ 12 % of indexing CPU and stored
// every text twice.
type section struct {
	id, anchor, label string
	start             int  // byte offset where the section begins (its label or first line)
	from, to          int  // byte range of its text in the document text
	para              bool // a run of paragraphs: lines trimmed, blank lines dropped
}

// text returns the section's text in the document text doc.
func (s section) text(doc string) string {
	if s.from < 0 || s.to > len(doc) || s.from > s.to {
		return ""
	}
	t := doc[s.from:s.to]
	if !s.para {
		return t
	}
	var b strings.Builder
	for line := range strings.Lines(t) {
		if p := strings.TrimSpace(line); p != "" {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(p)
		}
	}
	return b.String()
}

const sectionTarget = 600 // bytes per paragraph section (~200 characters)

func sectionsOf(d *Doc) []section {
	arts := d.Articles
	if arts == nil {
		arts = meta.ParseArticles(d.Text)
	}
	var out []section
	seen := map[string]int{}
	add := func(s section) {
		seen[s.anchor]++
		s.id = d.ID + "#" + s.anchor
		if n := seen[s.anchor]; n > 1 {
			s.id += "~" + strconv.Itoa(n)
		}
		out = append(out, s)
	}
	// paragraphs groups the lines of text[from:to] into ~sectionTarget runs
	paragraphs := func(from, to int, prefix string) {
		n, start, end, size := 0, -1, -1, 0
		flush := func() {
			if size > 0 {
				add(section{anchor: prefix + strconv.Itoa(n), start: start, from: start, to: end, para: true})
				n++
				size = 0
			}
		}
		for off := from; off < to; {
			end1 := strings.IndexByte(d.Text[off:to], '\n')
			if end1 < 0 {
				end1 = to
			} else {
				end1 += off
			}
			p := strings.TrimSpace(d.Text[off:end1])
			lineStart := off
			off = end1 + 1
			if p == "" {
				continue
			}
			if size > 0 && size+len(p) > sectionTarget {
				flush()
			}
			if size > 0 {
				size++ // the newline joining the lines
			} else {
				start = lineStart
			}
			size += len(p)
			end = end1
		}
		flush()
	}
	if len(arts) == 0 {
		paragraphs(0, len(d.Text), "p")
		return out
	}
	if arts[0].Offset > 0 {
		paragraphs(0, min(arts[0].Offset, len(d.Text)), "pre")
	}
	for i, a := range arts {
		if strings.TrimSpace(a.Text) == "" || a.Offset < 0 || a.Offset > len(d.Text) {
			continue
		}
		s := section{anchor: a.Anchor, label: a.Label, start: a.Offset}
		if j := strings.Index(d.Text[a.Offset:], a.Text); j >= 0 {
			s.from, s.to = a.Offset+j, a.Offset+j+len(a.Text)
		} else {
			// articles not parsed from this text: up to the next one
			s.from, s.to, s.para = a.Offset, len(d.Text), true
			if i+1 < len(arts) && arts[i+1].Offset > a.Offset && arts[i+1].Offset <= len(d.Text) {
				s.to = arts[i+1].Offset
			}
		}
		add(s)
	}
	return out
}

// encodeSections lists sections for the document record, one per line:
// key (the id after "#"), label, text start and end, "p" for paragraphs.
func encodeSections(secs []section) string {
	var b []byte
	for i, s := range secs {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, s.id[strings.IndexByte(s.id, '#')+1:]...)
		b = append(b, '\t')
		b = append(b, s.label...)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(s.from), 10)
		b = append(b, '\t')
		b = strconv.AppendInt(b, int64(s.to), 10)
		if s.para {
			b = append(b, "\tp"...)
		}
	}
	return string(b)
}

// decodeSections reads what encodeSections wrote for document docID.
// A malformed line yields a section without text rather than none, so
// that sections stay aligned with sec_off.
func decodeSections(docID, enc string) []section {
	if enc == "" {
		return nil
	}
	var out []section
	for line := range strings.SplitSeq(enc, "\n") {
		f := strings.Split(line, "\t")
		s := section{id: docID + "#" + f[0], anchor: f[0], from: -1, to: -1}
		if i := strings.IndexByte(s.anchor, '~'); i >= 0 {
			s.anchor = s.anchor[:i]
		}
		if len(f) >= 4 {
			s.label = f[1]
			from, err1 := strconv.Atoi(f[2])
			to, err2 := strconv.Atoi(f[3])
			if err1 == nil && err2 == nil {
				s.from, s.to = from, to
			}
			s.para = len(f) > 4 && f[4] == "p"
		}
		out = append(out, s)
	}
	return out
}

// foldBody folds the document text for the body field piece by piece
// between section starts, and returns the folded text with each section's
// start in it ("," separated, then the folded length): Related maps the
// byte offsets of its body matches to sections with them. Fold is local
// (ordinals never span a section start), so the pieces join to Fold(text).
func foldBody(text string, secs []section) (string, string) {
	var b strings.Builder
	b.Grow(len(text) + len(text)/8)
	offs := make([]byte, 0, 8*len(secs)+8)
	prev := 0
	for _, s := range secs {
		st := min(max(s.start, prev), len(text))
		b.WriteString(Fold(text[prev:st]))
		prev = st
		offs = strconv.AppendInt(offs, int64(b.Len()), 10)
		offs = append(offs, ',')
	}
	b.WriteString(Fold(text[prev:]))
	offs = strconv.AppendInt(offs, int64(b.Len()), 10)
	return b.String(), string(offs)
}

func titleKeys(title string) []string {
	t := Fold(strings.TrimSpace(title))
	keys := []string{t}
	// 中华人民共和国劳动法 → 劳动法; trailing (2018年修正) dropped
	base := t
	if i := strings.LastIndex(base, "("); i > 0 && strings.HasSuffix(base, ")") {
		base = base[:i]
	}
	if i := strings.LastIndex(base, "（"); i > 0 && strings.HasSuffix(base, "）") {
		base = base[:i]
	}
	short := strings.TrimPrefix(base, "中华人民共和国")
	for _, k := range []string{base, short} {
		if k != t && k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

func (d *Doc) records() (string, map[string]interface{}) {
	secs := sectionsOf(d)
	status := d.Status
	if status == "" {
		status = meta.StatusCurrent
	}
	body, offs := foldBody(d.Text, secs)
	m := map[string]interface{}{
		"kind": d.Kind, "status": status, "text": d.Text,
		"title": d.Title, "title_key": titleKeys(d.Title),
		"body": body, "sec_off": offs, "issuer": d.Issuer, "doc_type": d.DocType, "level": d.Level,
		"written": d.Written, "published": d.Published, "sections": encodeSections(secs),
	}
	if len(d.Tags) > 0 {
		m["tags"] = d.Tags
	}
	if d.Kind == KindCase {
		if c := citations(d.Text); c != "" {
			m["cites"] = c // for Related: the laws similar cases applied
		}
	}
	date := d.Published
	if date == "" {
		date = d.Written
	}
	if y := meta.Year(date); y > 0 {
		m["year"] = strconv.Itoa(y)
	}
	if d.Number != "" {
		if n, ok := meta.FindDocNumber(d.Number); ok {
			m["number"] = n.Text
			m["num_code"] = Fold(n.Code)
			if n.Year > 0 {
				m["num_year"] = strconv.Itoa(n.Year)
			}
			m["num_seq"] = strconv.Itoa(n.Seq)
		} else {
			m["number"] = d.Number
		}
	}
	return d.ID, m
}

// Index adds or replaces one document.
func (ix *Index) Index(d *Doc) error { return ix.IndexBatch([]*Doc{d}) }

// IndexBatch adds or replaces documents in one bleve batch.
func (ix *Index) IndexBatch(docs []*Doc) error {
	for _, d := range docs {
		if err := validID(d.ID); err != nil {
			return err
		}
	}
	return ix.writeDocs(docs)
}

func validID(id string) error {
	if id == "" || strings.Contains(id, "#") {
		return fmt.Errorf("search: invalid document id %q", id)
	}
	return nil
}

// Delete removes a document.
func (ix *Index) Delete(id string) error {
	idx, done := ix.bleve()
	defer done()
	err := idx.Delete(id)
	ix.idf.Clear() // document frequencies changed; cleared before, a concurrent Related could cache the old ones
	return err
}

// Rebuild builds a fresh index from feed in a sibling directory, then swaps
// it in place of the current one. Searches keep working on the old index
// until the swap. feed calls add for every document; watermark is recorded
// in the new index.
func (ix *Index) Rebuild(ctx context.Context, watermark uint64, feed func(add func(*Doc) error) error) error {
	tmp := ix.dir + ".rebuild"
	os.RemoveAll(tmp)
	nidx, err := openBleve(tmp)
	if err != nil {
		return err
	}
	tmpIx := &Index{dir: tmp, idx: nidx, syn: ix.syn}
	bw := tmpIx.NewBulk(400)
	err = feed(func(d *Doc) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return bw.Add(d)
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err == nil {
		err = tmpIx.SetWatermark(watermark)
	}
	if cerr := nidx.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.RemoveAll(tmp)
		return err
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.closed {
		os.RemoveAll(tmp)
		return bleve.ErrorIndexClosed
	}
	ix.idx.Close()
	ix.closed = true // until the new index is open
	old := ix.dir + ".old"
	os.RemoveAll(old)
	if err := os.Rename(ix.dir, old); err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.Rename(tmp, ix.dir); err != nil {
		return err
	}
	os.RemoveAll(old)
	ix.idf.Clear()
	nidx, err = bleve.Open(ix.dir)
	if err != nil {
		return err // ix.idx stays the closed old index
	}
	ix.idx, ix.closed = nidx, false
	return nil
}

// Bulk accumulates documents into batches for fast imports (import,
// rebuild); a document already indexed is replaced, as by IndexBatch.
//
// Full batches are written in the background, up to bulkWriters at a time:
// bleve analyses a batch's documents in parallel, but maps them and builds
// the segment in the calling goroutine, so one writer leaves a core idle
// for most of the batch. Add returns an error of an earlier batch; Flush
// waits for every batch and returns the first error.
type Bulk struct {
	ix    *Index
	size  int
	docs  []*Doc
	bytes int // text queued
	sem   chan struct{}
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
	done  bool // Flush called
}

// bulkWriters is how many batches a Bulk writes concurrently;
// bulkMaxBytes caps the text of the batches in flight so that a run of large laws does not
// multiply the memory of batches in flight (analysis holds ~20 bytes per
// byte of text until the segment is built).
var (
	bulkWriters  = max(2, min(runtime.GOMAXPROCS(0), 4))
	bulkMaxBytes = 16 << 20
)

// While a Bulk runs, the collector runs less often (GOGC 400) but keeps
// the heap within bulkHeapBudget (800 MB; BENCHMARKS.md has the trade-off
// between this budget, MB/s and RSS) above what was in use when the Bulk
// started: analysed batches are large, pointer-heavy and short-lived, and
// at the default GOGC the collector spent a quarter of an import's CPU
// re-marking the same live heap. A memory limit the process already has
// (GOMEMLIMIT) is kept if lower.
const (
	bulkGCPercent  = 400
	bulkHeapBudget = 800 << 20
)

var bulkGC struct {
	sync.Mutex
	n        int
	oldGC    int
	oldLimit int64
}

func bulkGCStart() {
	bulkGC.Lock()
	defer bulkGC.Unlock()
	if bulkGC.n++; bulkGC.n > 1 {
		return
	}
	bulkGC.oldLimit = debug.SetMemoryLimit(-1)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if limit := int64(ms.HeapInuse + ms.StackInuse + bulkHeapBudget); bulkGC.oldLimit > limit {
		debug.SetMemoryLimit(limit)
	}
	bulkGC.oldGC = debug.SetGCPercent(-1)
	if bulkGC.oldGC >= 0 && bulkGC.oldGC < bulkGCPercent {
		debug.SetGCPercent(bulkGCPercent)
	} else {
		debug.SetGCPercent(bulkGC.oldGC)
	}
}

func bulkGCEnd() {
	bulkGC.Lock()
	defer bulkGC.Unlock()
	if bulkGC.n--; bulkGC.n > 0 {
		return
	}
	debug.SetGCPercent(bulkGC.oldGC)
	debug.SetMemoryLimit(bulkGC.oldLimit)
}

// NewBulk returns a bulk indexer that holds at most size documents in
// batches being written.
func (ix *Index) NewBulk(size int) *Bulk {
	if size <= 0 {
		size = 200
	}
	// size is the caller's memory budget: split it across the writers in
	// flight (analysed batches dominate the peak RSS of an import)
	bulkGCStart()
	return &Bulk{ix: ix, size: max(1, size/bulkWriters), sem: make(chan struct{}, bulkWriters)}
}

// Add queues a document, starting a batch write when full.
func (b *Bulk) Add(d *Doc) error {
	if err := validID(d.ID); err != nil {
		return err
	}
	b.docs = append(b.docs, d)
	b.bytes += len(d.Text)
	if len(b.docs) >= b.size || b.bytes >= bulkMaxBytes/bulkWriters {
		b.start()
	}
	return b.firstErr()
}

func (b *Bulk) firstErr() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *Bulk) start() {
	if len(b.docs) == 0 {
		return
	}
	docs := b.docs
	b.docs, b.bytes = nil, 0
	b.sem <- struct{}{}
	b.wg.Add(1)
	go func() {
		defer func() { <-b.sem; b.wg.Done() }()
		if err := b.ix.writeDocs(docs); err != nil {
			b.mu.Lock()
			if b.err == nil {
				b.err = err
			}
			b.mu.Unlock()
		}
	}()
}

// Flush writes the queued documents and waits for every batch. The Bulk
// must not be used after Flush.
func (b *Bulk) Flush() error {
	b.start()
	b.wg.Wait()
	if !b.done {
		b.done = true
		bulkGCEnd()
	}
	return b.firstErr()
}

// writeDocs adds or replaces documents in one bleve batch. It does what
// bleve's Batch.Index does (map each document, scorch replaces a document
// with the same id), except that it analyses bodies with bodyField and
// hands scorch sizedDocs.
func (ix *Index) writeDocs(docs []*Doc) error {
	idx, done := ix.bleve()
	defer done()
	if ix.closed { // Advanced() does not say
		return bleve.ErrorIndexClosed
	}
	adv, err := idx.Advanced()
	if err != nil {
		return err
	}
	m := idx.Mapping()
	batch := index.NewBatch()
	for _, d := range docs {
		id, rec := d.records()
		doc := document.NewDocument(id)
		if err := m.MapDocument(doc, rec); err != nil {
			return err
		}
		for i, f := range doc.Fields {
			if tf, ok := f.(*document.TextField); ok && f.Name() == "body" && f.Options().IncludeTermVectors() {
				doc.Fields[i] = &bodyField{TextField: tf}
			}
		}
		batch.Update(sizedDoc{doc, 64*len(d.Text) + 1024})
	}
	err = adv.Batch(batch)
	ix.idf.Clear() // document frequencies changed
	return err
}

// bodyField analyses the (already folded) body straight into bleve's
// term frequencies: the same bigrams, positions and offsets as the
// yw_bigram_folded analyzer followed by bleve's TokenFrequency, without
// materialising a token per character first (≈ 90 bytes each, the
// largest allocation of an import).
type bodyField struct {
	*document.TextField
	freqs  index.TokenFrequencies
	length int
}

func (f *bodyField) Analyze() {
	text := f.Value()
	s := string(text)
	freqs := make(index.TokenFrequencies, len(s)/16+1)
	var slab []index.TokenLocation
	n := 0
	bigramTokens(s, false, func(_ string, pos, start, end int) {
		n++
		if len(slab) == cap(slab) {
			slab = make([]index.TokenLocation, 0, 4096)
		}
		slab = append(slab, index.TokenLocation{Start: start, End: end, Position: pos})
		loc := &slab[len(slab)-1]
		key := s[start:end]
		if tf, ok := freqs[key]; ok {
			tf.Locations = append(tf.Locations, loc)
			tf.SetFrequency(tf.Frequency() + 1)
			return
		}
		tf := &index.TokenFreq{Term: text[start:end:end], Locations: []*index.TokenLocation{loc}}
		tf.SetFrequency(1)
		freqs[key] = tf
	})
	f.freqs, f.length = freqs, n
}

func (f *bodyField) AnalyzedLength() int { return f.length }

func (f *bodyField) AnalyzedTokenFrequencies() index.TokenFrequencies { return f.freqs }

// sizedDoc answers scorch's per-document memory accounting (Size, read
// once per document after analysis, for statistics) with an estimate:
// the real Size walks every token location of the analysed document,
// ≈ 3.5 % of an import's CPU.
type sizedDoc struct {
	*document.Document
	size int
}

func (d sizedDoc) Size() int { return d.size }

// newBleve creates the index with zap v15 segments: v16 adds sections for
// vector and synonym indexes that this index does not use, and building
// its segments cost ≈ 20 % more CPU per MB in paired runs (BENCHMARKS.md).
//
// Scorch's merge planner budgets segments by document count, treating
// any segment below FloorSegmentSize documents (default 2,000) as that
// size. Knowledge-base documents are large (a law averages 17 KB) and
// few: at the default floor a 3,500-document corpus is allowed 2
// segments, so an import re-merged everything it wrote several times
// (a quarter of its CPU). A floor of 200 allows ~11 segments for the
// corpus and ~24 for 100,000 documents (BENCHMARKS.md has the query
// latencies). bleve keeps this config in index_meta.json.
func newBleve(dir string) (bleve.Index, error) {
	return bleve.NewUsing(dir, newMapping(), scorch.Name, scorch.Name, map[string]interface{}{
		"forceSegmentType": "zap", "forceSegmentVersion": 15,
		"scorchMergePlanOptions": map[string]interface{}{"FloorSegmentSize": mergeFloorDocs},
	})
}

// mergeFloorDocs is the merge planner's floor segment size (documents).
const mergeFloorDocs = 200
