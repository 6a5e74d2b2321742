package live

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Message is one event as the console receives it.
type Message struct {
	Type  string          `json:"type"`
	Index uint64          `json:"index"`
	Time  time.Time       `json:"time"`
	Data  json.RawMessage `json:"data,omitempty"`
}

// Audience says who may receive a message. A principal receives it when it
// holds Perm (if set) and either the audience is Public, or the principal's
// scope is the whole county, or one of the locators is in its data scope.
type Audience struct {
	Perm      string
	Public    bool
	DeptIDs   []int64
	GridCodes []string
	UserIDs   []int64
}

// Allows tells whether p may receive a message for a.
func (a Audience) Allows(p *httpapi.Principal) bool {
	if p == nil || (a.Perm != "" && !p.Can(a.Perm)) {
		return false
	}
	if a.Public || p.Scope.Kind == httpapi.ScopeAll {
		return true
	}
	if slices.Contains(a.UserIDs, p.UserID) {
		return true
	}
	for _, d := range a.DeptIDs {
		if p.InScope(d, "", 0) {
			return true
		}
	}
	for _, g := range a.GridCodes {
		if p.InScope(0, g, 0) {
			return true
		}
	}
	return false
}

// Classifier maps a committed event to the message to send and its
// audience; ok false drops the event (e.g. logins).
type Classifier func(ev store.Event) (msg Message, aud Audience, ok bool)

// Hub fans events out to SSE connections.
type Hub struct {
	st   *store.Store
	logf func(string, ...any)

	mu          sync.RWMutex
	classifiers map[string]Classifier // by type prefix
	conns       map[*conn]struct{}
	closed      bool
	seq         atomic.Uint64

	// Heartbeat is the interval of keep-alive comments (default 20 s).
	Heartbeat time.Duration
	// Buffer is the per-connection queue length (default 256).
	Buffer int
}

type conn struct {
	p    *httpapi.Principal
	ch   chan Message
	done chan struct{}
	once sync.Once
}

func (c *conn) close() { c.once.Do(func() { close(c.done) }) }

// New returns a hub reading events from st.
func New(st *store.Store, logf func(string, ...any)) *Hub {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Hub{st: st, logf: logf, classifiers: map[string]Classifier{}, conns: map[*conn]struct{}{},
		Heartbeat: 20 * time.Second, Buffer: 256}
}

// Classify registers the classifier for command types starting with prefix
// (the longest matching prefix wins).
func (h *Hub) Classify(prefix string, c Classifier) {
	h.mu.Lock()
	h.classifiers[prefix] = c
	h.mu.Unlock()
}

// Drop registers prefixes whose events are never sent.
func (h *Hub) Drop(prefixes ...string) {
	for _, p := range prefixes {
		h.Classify(p, func(store.Event) (Message, Audience, bool) { return Message{}, Audience{}, false })
	}
}

func (h *Hub) classify(ev store.Event) (Message, Audience, bool) {
	h.mu.RLock()
	var best Classifier
	bestLen := -1
	for p, c := range h.classifiers {
		if strings.HasPrefix(ev.Cmd.Type, p) && len(p) > bestLen {
			best, bestLen = c, len(p)
		}
	}
	h.mu.RUnlock()
	if best != nil {
		msg, aud, ok := best(ev)
		if ok {
			if msg.Type == "" {
				msg.Type = ev.Cmd.Type
			}
			msg.Index, msg.Time = ev.Index, ev.Cmd.Time
		}
		return msg, aud, ok
	}
	// Unclassified: type only, county-wide principals only.
	return Message{Type: ev.Cmd.Type, Index: ev.Index, Time: ev.Cmd.Time}, Audience{Perm: httpapi.PermLive}, true
}

// ResultData is a Classifier helper: the handler's result as data.
func ResultData(ev store.Event) json.RawMessage { return ev.Result }

// Publish sends a transient message (not a command; index 0, not
// resumable) to every connection whose principal the audience allows.
func (h *Hub) Publish(msg Message, aud Audience) {
	if msg.Time.IsZero() {
		msg.Time = time.Now()
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for c := range h.conns {
		if aud.Allows(c.p) {
			select {
			case c.ch <- msg:
			default:
				c.close()
			}
		}
	}
}

// Close ends every stream (call on shutdown, before http.Server.Shutdown
// waits for connections).
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		c.close()
	}
	h.mu.Unlock()
}

// Connections is the number of open streams.
func (h *Hub) Connections() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// Routes implements the HTTP side (package app mounts it like a module).
func (h *Hub) Routes(r *httpapi.Router) {
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/events", Perm: httpapi.PermLive, Tags: []string{"live"},
		Summary: "Server-Sent Events of committed changes, filtered by the caller's data scope",
		Description: "Each message is `id: <index>` + `event: <type>` + `data: {\"type\",\"index\",\"time\",\"data\"}`. " +
			"Reconnect with Last-Event-ID (browsers do) or ?since=<index> to resume.",
		Query: []httpapi.Param{
			{Name: "since", Type: "integer", Description: "resume after this store index"},
			{Name: "types", Description: "comma-separated type prefixes to receive (default all)"},
		},
		ResponseContentType: "text/event-stream", NoTimeout: true, Handler: h.serve})
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	from := h.st.AppliedIndex()
	since := r.Header.Get("Last-Event-ID")
	if since == "" {
		since = r.URL.Query().Get("since")
	}
	if since != "" {
		n, err := strconv.ParseUint(since, 10, 64)
		if err != nil {
			return httpapi.FieldError("since", "must be a store index")
		}
		if n < from {
			from = n
		}
	}
	var types []string
	if t := r.URL.Query().Get("types"); t != "" {
		types = strings.Split(t, ",")
	}
	for k := range r.URL.Query() {
		if k != "since" && k != "types" {
			return httpapi.FieldError(k, "unknown parameter")
		}
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		return fmt.Errorf("live: response writer cannot flush")
	}
	buf := h.Buffer
	if buf <= 0 {
		buf = 256
	}
	c := &conn{p: p, ch: make(chan Message, buf), done: make(chan struct{})}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return store.Errorf("unavailable", "server is shutting down")
	}
	h.conns[c] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
		c.close()
	}()

	wanted := func(typ string) bool {
		if len(types) == 0 {
			return true
		}
		for _, t := range types {
			if strings.HasPrefix(typ, t) {
				return true
			}
		}
		return false
	}
	cancel := h.st.Subscribe("live-"+strconv.FormatUint(h.seq.Add(1), 10), from, func(ev store.Event) {
		if !wanted(ev.Cmd.Type) {
			return
		}
		msg, aud, ok := h.classify(ev)
		if !ok || !aud.Allows(p) {
			return
		}
		select {
		case c.ch <- msg:
		case <-c.done:
		default:
			h.logf("live: %s is too slow; closing its stream (it will resume)", p.Username)
			c.close()
		}
	})
	defer cancel()

	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, "retry: 3000\n: connected at index %d\n\n", from)
	flusher.Flush()

	hb := h.Heartbeat
	if hb <= 0 {
		hb = 20 * time.Second
	}
	tick := time.NewTicker(hb)
	defer tick.Stop()
	ctx := r.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.done:
			return nil
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
			flusher.Flush()
		case msg := <-c.ch:
			if err := writeMessage(w, msg); err != nil {
				return nil
			}
			// Drain what is queued before flushing once.
			for more := true; more; {
				select {
				case m2 := <-c.ch:
					if err := writeMessage(w, m2); err != nil {
						return nil
					}
				default:
					more = false
				}
			}
			flusher.Flush()
		}
	}
}

func writeMessage(w http.ResponseWriter, msg Message) error {
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if msg.Index > 0 {
		if _, err := fmt.Fprintf(w, "id: %d\n", msg.Index); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", sanitizeType(msg.Type), b)
	return err
}

func sanitizeType(t string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, t)
}

// Start is a no-op kept for symmetry with modules; streams subscribe per
// connection.
func (h *Hub) Start(ctx context.Context) error {
	go func() {
		<-ctx.Done()
		h.Close()
	}()
	return nil
}
