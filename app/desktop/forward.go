package desktop

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Runtime event names the console listens to (docs/api-console.md).
const (
	EventLive       = "yw:event"
	EventConnection = "yw:connection"
)

// Emitter sends a Wails runtime event (runtime.EventsEmit in the window).
type Emitter func(name string, data any)

// Forwarder reads the server's /api/v1/events SSE stream with the user's
// token and re-emits every message as "yw:event"; it emits
// "yw:connection" {"state":"open"|"down"} whenever its link to the server
// changes. Without a token (nobody logged in) it only probes /api/health
// so the banner still tells when the server is away.
type Forwarder struct {
	Emit Emitter
	// OnEvent, when set, sees every event (native notifications).
	OnEvent func(typ string, data json.RawMessage)
	Client  *http.Client
	Logf    func(string, ...any)
	// Idle is how long a silent stream is trusted (the server pings every
	// 15-20 s); default 45 s.
	Idle time.Duration
	// Probe is the health-probe interval without a token; default 5 s.
	Probe time.Duration
	// MaxBackoff caps the reconnect delay; default 15 s.
	MaxBackoff time.Duration
	// Verbose logs every forwarded event (smoke tests).
	Verbose bool

	mu      sync.Mutex
	base    string
	token   string
	lastID  string
	state   string
	changed chan struct{} // closed and replaced when base or token change
}

// SetBase sets the server's base URL (no trailing slash).
func (f *Forwarder) SetBase(base string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.base != base {
		f.base = base
		f.lastID = ""
		f.wake()
	}
}

// SetToken sets the bearer token the stream is opened with ("" after
// logout or a 401).
func (f *Forwarder) SetToken(tok string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.token != tok {
		f.token = tok
		f.wake()
	}
}

// Token is the current token.
func (f *Forwarder) Token() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.token
}

// State is the last emitted connection state ("" before the first).
func (f *Forwarder) State() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *Forwarder) wake() {
	if f.changed != nil {
		close(f.changed)
	}
	f.changed = make(chan struct{})
}

func (f *Forwarder) snapshot() (base, tok, lastID string, changed chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.changed == nil {
		f.changed = make(chan struct{})
	}
	return f.base, f.token, f.lastID, f.changed
}

// setState emits "yw:connection" when the state changes, and repeats
// "down" on every failed attempt so a page loaded while the server is away
// (the console starts "open") still shows the banner.
func (f *Forwarder) setState(s string) {
	f.mu.Lock()
	changed := f.state != s
	f.state = s
	f.mu.Unlock()
	if !changed && s != "down" {
		return
	}
	if changed {
		f.logf("desktop: link to server %s", s)
	}
	if f.Emit != nil {
		f.Emit(EventConnection, map[string]string{"state": s})
	}
}

func (f *Forwarder) logf(format string, args ...any) {
	if f.Logf != nil {
		f.Logf(format, args...)
	}
}

func (f *Forwarder) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	return http.DefaultClient
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Run forwards until ctx ends.
func (f *Forwarder) Run(ctx context.Context) {
	backoff := time.Second
	maxBackoff := orDefault(f.MaxBackoff, 15*time.Second)
	for ctx.Err() == nil {
		base, tok, lastID, changed := f.snapshot()
		var wait time.Duration
		switch {
		case base == "":
			wait = time.Hour // until SetBase
		case tok == "":
			if f.probe(ctx, base) {
				f.setState("open")
			} else {
				f.setState("down")
			}
			wait = orDefault(f.Probe, 5*time.Second)
		default:
			opened, err := f.stream(ctx, base, tok, lastID, changed)
			if ctx.Err() != nil {
				return
			}
			var st *statusError
			if errors.As(err, &st) && st.code == http.StatusUnauthorized {
				// The token expired or was revoked: wait for a new login.
				f.logf("desktop: events: token refused, waiting for a new login")
				f.mu.Lock()
				if f.token == tok {
					f.token = ""
				}
				f.mu.Unlock()
				continue
			}
			if opened {
				backoff = time.Second
			}
			select {
			case <-changed:
				continue // new token or server: reconnect at once
			default:
			}
			if err != nil {
				f.logf("desktop: events: %v (retry in %s)", err, backoff)
			}
			if !f.probe(ctx, base) {
				f.setState("down")
			}
			wait = backoff
			backoff = min(backoff*2, maxBackoff)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-changed:
		case <-t.C:
		}
		t.Stop()
	}
}

func (f *Forwarder) probe(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/health", nil)
	if err != nil {
		return false
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode < 500
}

type statusError struct{ code int }

func (e *statusError) Error() string { return fmt.Sprintf("events: status %d", e.code) }

// stream reads one SSE connection until it fails, goes idle, or changed
// fires. opened tells whether the server accepted it.
func (f *Forwarder) stream(ctx context.Context, base, tok, lastID string, changed chan struct{}) (opened bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", base+"/api/v1/events", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+tok)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := f.client().Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, &statusError{resp.StatusCode}
	}
	f.setState("open")
	f.logf("desktop: events: stream open (Last-Event-ID %q)", lastID)

	idle := orDefault(f.Idle, 45*time.Second)
	alive := make(chan struct{}, 1)
	go func() { // watchdog: idle stream or a new token/server ends it
		t := time.NewTimer(idle)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-changed:
				cancel()
				return
			case <-alive:
				if !t.Stop() {
					<-t.C
				}
				t.Reset(idle)
			case <-t.C:
				f.logf("desktop: events: no data for %s, reconnecting", idle)
				cancel()
				return
			}
		}
	}()

	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var id, event string
	var data strings.Builder
	for sc.Scan() {
		select {
		case alive <- struct{}{}:
		default:
		}
		line := sc.Text()
		if line == "" { // dispatch
			if data.Len() > 0 {
				f.dispatch(event, data.String())
			}
			if id != "" {
				f.mu.Lock()
				f.lastID = id
				f.mu.Unlock()
			}
			id, event = "", ""
			data.Reset()
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "event":
			event = value
		case "data":
			if data.Len() > 0 {
				data.WriteByte('\n')
			}
			data.WriteString(value)
		}
	}
	if err := sc.Err(); err != nil {
		return true, err
	}
	return true, errors.New("events: stream ended")
}

// liveEvent is the console's LiveEvent.
type liveEvent struct {
	Type  string          `json:"type"`
	Index uint64          `json:"index,omitempty"`
	Time  string          `json:"time,omitempty"`
	Data  json.RawMessage `json:"data,omitempty"`
}

func (f *Forwarder) dispatch(event, data string) {
	var e liveEvent
	if err := json.Unmarshal([]byte(data), &e); err != nil {
		f.logf("desktop: events: bad message: %v", err)
		return
	}
	if e.Type == "" {
		e.Type = event
	}
	if e.Type == "" {
		return
	}
	if f.Verbose {
		f.logf("desktop: event %s index %d", e.Type, e.Index)
	}
	if f.Emit != nil {
		f.Emit(EventLive, e)
	}
	if f.OnEvent != nil {
		f.OnEvent(e.Type, e.Data)
	}
}
