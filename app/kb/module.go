package kb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/search"
	"github.com/yiwang/yiwang/search/meta"
	"github.com/yiwang/yiwang/store"
)

// Options configure the module.
type Options struct {
	// DataDir is the node's data directory; the index lives in
	// DataDir/kb-index.
	DataDir string
	Logf    func(format string, args ...any)
	// FlushEvery is how often the watermark is saved when only other
	// modules' commands were applied (default 5 s).
	FlushEvery time.Duration
	// Cases reads closed cases for POST /api/v1/kb/cases/{id} (optional).
	Cases CaseReader
}

// Module is the knowledge base.
type Module struct {
	st   *store.Store
	dir  string
	logf func(string, ...any)
	opt  Options

	ix atomic.Pointer[search.Index] // nil until Start

	// mu serialises index writes: the event worker and Reindex.
	mu    sync.Mutex
	saved atomic.Uint64 // watermark recorded in the index

	qmu     sync.Mutex
	queue   []store.Event // events waiting for the worker (results only)
	last    uint64        // highest event index seen
	wake    chan struct{}
	cancel  func()
	stopped chan struct{}

	// Applied counts the kb events the worker indexed (tests watch it to
	// see that a restart does not replay what the index already holds).
	Applied atomic.Int64
}

var _ httpapi.Module = (*Module)(nil)

// New returns the module.
func New(o Options) *Module {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = 5 * time.Second
	}
	return &Module{dir: filepath.Join(o.DataDir, "kb-index"), logf: o.Logf, opt: o}
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "kb" }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	st.AddMigrations("kb", migrations...)
	// The text lives in kb_document; the command log keeps the payload's
	// hash (audit chain) but not a second copy of every document.
	st.Register(CmdCreate, 1, m.applyCreate, store.NoLogPayload())
	st.Register(CmdUpdate, 1, m.applyUpdate, store.NoLogPayload())
	st.Register(CmdDelete, 1, m.applyDelete)
	st.Register(CmdLink, 1, m.applyLink)
	st.Register(CmdUnlink, 1, m.applyUnlink)
	st.Register(CmdSynonyms, 1, m.applySynonyms)
}

// IndexDir is where the node's index lives.
func (m *Module) IndexDir() string { return m.dir }

// Index returns the open index (nil before Start).
func (m *Module) Index() *search.Index { return m.ix.Load() }

// Start opens (or creates) the index and follows the store from the
// index's watermark.
func (m *Module) Start(ctx context.Context) error {
	ix, err := search.Open(m.dir)
	rebuild := false
	if err != nil {
		// A schema change or a damaged index: derived state, start over.
		m.logf("kb: index %s: %v; rebuilding from the store", m.dir, err)
		if rerr := os.RemoveAll(m.dir); rerr != nil {
			return rerr
		}
		if ix, err = search.Open(m.dir); err != nil {
			return err
		}
		rebuild = true
	}
	wm, err := ix.Watermark()
	if err != nil {
		ix.Close()
		return err
	}
	if wm > m.st.AppliedIndex() {
		// The store is older than the index (restored elsewhere): the
		// index holds documents the store never had.
		rebuild = true
	}
	m.ix.Store(ix)
	if err := m.loadSynonyms(ix); err != nil {
		return err
	}
	m.saved.Store(wm)
	if rebuild || wm == 0 {
		var n int
		if err := m.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM kb_document`).Scan(&n); err != nil {
			return err
		}
		if n > 0 || rebuild {
			if _, err := m.Reindex(ctx); err != nil {
				return fmt.Errorf("kb: rebuild index: %w", err)
			}
		}
	}
	from := m.saved.Load()
	m.last = from
	m.wake = make(chan struct{}, 1)
	m.stopped = make(chan struct{})
	wctx, cancelWorker := context.WithCancel(context.Background())
	unsub := m.st.Subscribe("kb.index", from, m.onEvent)
	m.cancel = func() {
		unsub()
		cancelWorker()
		<-m.stopped
	}
	go m.worker(wctx)
	return nil
}

// Stop stops following the store, indexes what is queued, saves the
// watermark and closes the index.
func (m *Module) Stop() error {
	if m.cancel != nil {
		m.cancel()
		m.cancel = nil
	}
	ix := m.ix.Swap(nil)
	if ix == nil {
		return nil
	}
	return ix.Close()
}

// onEvent runs on the store's subscriber goroutine: it only queues.
func (m *Module) onEvent(ev store.Event) {
	m.qmu.Lock()
	if isKB(ev.Cmd.Type) || ev.Cmd.Type == store.EventRestored {
		ev.Cmd.Payload = nil // the worker needs the result only
		m.queue = append(m.queue, ev)
	}
	m.last = ev.Index
	m.qmu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func isKB(typ string) bool { return len(typ) > 3 && typ[:3] == "kb." }

func (m *Module) worker(ctx context.Context) {
	defer close(m.stopped)
	t := time.NewTicker(m.opt.FlushEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			m.drain(true)
			return
		case <-m.wake:
			m.drain(false)
		case <-t.C:
			m.drain(true)
		}
	}
}

// drain indexes the queued events in one batch and records the watermark
// (always after kb events; after other modules' events only when flush is
// set, so a busy IoT feed does not write the index on every reading).
func (m *Module) drain(flush bool) {
	m.qmu.Lock()
	evs, last := m.queue, m.last
	m.queue = nil
	m.qmu.Unlock()
	if len(evs) == 0 && !flush {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	ix := m.ix.Load()
	if ix == nil {
		return
	}
	ids := map[string]bool{}
	syn := false
	for _, ev := range evs {
		if ev.Cmd.Type == store.EventRestored {
			m.mu.Unlock()
			_, err := m.Reindex(context.Background())
			m.mu.Lock()
			if err != nil {
				m.logf("kb: rebuild after restore: %v", err)
			}
			ids, syn = map[string]bool{}, false
			continue
		}
		var t Touched
		if len(ev.Result) > 0 {
			_ = json.Unmarshal(ev.Result, &t)
		}
		for _, id := range t.Affected {
			ids[id] = true
		}
		syn = syn || t.Synonyms
	}
	if syn {
		if err := m.loadSynonyms(ix); err != nil {
			m.logf("kb: synonyms: %v", err)
		}
	}
	if len(ids) > 0 {
		if err := m.indexIDs(ix, ids); err != nil {
			// The index is behind the store: keep the events for the next
			// round (the ticker retries) and leave the watermark, so a
			// restart replays them too.
			m.logf("kb: index: %v", err)
			m.qmu.Lock()
			m.queue = append(evs, m.queue...)
			m.qmu.Unlock()
			return
		}
	}
	m.Applied.Add(int64(len(evs)))
	if last > m.saved.Load() && (len(evs) > 0 || flush) {
		if err := ix.SetWatermark(last); err != nil {
			m.logf("kb: watermark: %v", err)
			return
		}
		m.saved.Store(last)
	}
}

// indexIDs re-reads documents from the tables and indexes them (or
// removes them from the index when they are gone).
func (m *Module) indexIDs(ix *search.Index, ids map[string]bool) error {
	var docs []*search.Doc
	for id := range ids {
		d, err := readDoc(m.st.DB(), id)
		if err != nil {
			if se := store.AsError(err); se != nil && se.Code == "not_found" {
				if err := ix.Delete(id); err != nil {
					return err
				}
				continue
			}
			return err
		}
		docs = append(docs, d.searchDoc())
	}
	switch len(docs) {
	case 0:
		return nil // only deletions
	case 1:
		// an edit in the console: one small batch, no process-wide
		// collector settings for it
		return ix.IndexBatch(docs)
	}
	// A drain during an import holds many documents: search.Bulk writes
	// them in bounded batches (16 MB of text in flight), two segments at
	// a time, with the collector relaxed as for a rebuild (4.9 MB/s
	// upload-to-searchable against 4.4 with one batch at a time).
	bw := ix.NewBulk(bulkDocs)
	for _, d := range docs {
		if err := bw.Add(d); err != nil {
			bw.Flush()
			return err
		}
	}
	return bw.Flush()
}

// bulkDocs is the number of documents in the index batches being written.
const bulkDocs = 400

func (d *Document) searchDoc() *search.Doc {
	return &search.Doc{ID: d.ID, Title: d.Title, Number: d.Number, Issuer: d.Issuer, Kind: d.Kind, DocType: d.DocType,
		Level: d.Level, Status: d.Status, Written: d.Written, Published: d.Published, Tags: d.Tags, Text: d.Text}
}

// Reindex rebuilds the index from the tables (in a sibling directory,
// swapped in when complete; searches keep working meanwhile) and returns
// the number of documents indexed.
func (m *Module) Reindex(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ix := m.ix.Load()
	if ix == nil {
		return 0, store.Errorf("unavailable", "knowledge base index is not open")
	}
	applied := m.st.AppliedIndex()
	n := 0
	err := ix.Rebuild(ctx, applied, func(add func(*search.Doc) error) error {
		rows, err := m.st.DB().QueryContext(ctx, `SELECT `+docColumns+` FROM kb_document ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			d, err := scanDoc(rows)
			if err != nil {
				return err
			}
			if err := add(d.searchDoc()); err != nil {
				return err
			}
			n++
		}
		return rows.Err()
	})
	if err != nil {
		return n, err
	}
	if err := m.loadSynonyms(ix); err != nil {
		return n, err
	}
	if applied > m.saved.Load() {
		m.saved.Store(applied)
	} else if err := ix.SetWatermark(m.saved.Load()); err != nil {
		return n, err
	}
	return n, nil
}

// Watermark is the last store index this node's index has applied.
func (m *Module) Watermark() uint64 { return m.saved.Load() }

// WaitIndexed waits until the index has applied store index idx.
func (m *Module) WaitIndexed(ctx context.Context, idx uint64) error {
	for m.saved.Load() < idx {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// synonymGroups returns the stored dictionary, or the built-in one when
// none was saved yet.
func (m *Module) synonymGroups(ctx context.Context) ([][]string, bool, error) {
	var v string
	err := m.st.DB().QueryRowContext(ctx, `SELECT value FROM kb_setting WHERE key='synonyms'`).Scan(&v)
	if err != nil {
		if errors.Is(err, errNoRows) {
			return search.DefaultSynonyms().Groups(), false, nil
		}
		return nil, false, err
	}
	var g [][]string
	if err := json.Unmarshal([]byte(v), &g); err != nil {
		return nil, false, err
	}
	return g, true, nil
}

func (m *Module) loadSynonyms(ix *search.Index) error {
	g, _, err := m.synonymGroups(context.Background())
	if err != nil {
		return err
	}
	ix.SetSynonyms(g)
	return nil
}

// Document is a stored knowledge-base document.
type Document struct {
	ID string `json:"id"`
	Meta
	Validity     string `json:"validity"` // = status (the console's list column)
	Date         string `json:"date"`     // 发布日期, else 成文日期
	Text         string `json:"text,omitempty"`
	Hash         string `json:"content_hash"`
	Size         int64  `json:"size"`
	SourceName   string `json:"source_name,omitempty"`
	SourceFormat string `json:"source_format,omitempty"`
	CreatedAt    string `json:"created_at"`
	UpdatedAt    string `json:"updated_at"`

	Articles []meta.Article `json:"articles,omitempty"`
	Links    []Link         `json:"links,omitempty"`
}

// Link is a 修改/废止/替代 relation as seen from one document.
type Link struct {
	FromID    string `json:"from_id"`
	ToID      string `json:"to_id"`
	Kind      string `json:"kind"`
	Direction string `json:"direction"` // out: this document 修改/废止/替代 the other; in: the other acts on this one
	OtherID   string `json:"other_id"`
	Title     string `json:"title"` // of the other document
	Number    string `json:"doc_number,omitempty"`
	Note      string `json:"note,omitempty"`
	CreatedAt string `json:"created_at"`
}
