package desktop

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// recorder collects emitted runtime events.
type recorder struct {
	mu  sync.Mutex
	evs []emitted
	ch  chan emitted
}

type emitted struct {
	name string
	data any
}

func newRecorder() *recorder { return &recorder{ch: make(chan emitted, 100)} }

func (r *recorder) emit(name string, data any) {
	r.mu.Lock()
	r.evs = append(r.evs, emitted{name, data})
	r.mu.Unlock()
	r.ch <- emitted{name, data}
}

// next waits for the next event called name, skipping others.
func (r *recorder) next(t *testing.T, name string) any {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-r.ch:
			if e.name == name {
				return e.data
			}
		case <-deadline:
			t.Fatalf("no %s event within 10 s", name)
		}
	}
}

func connState(t *testing.T, data any) string {
	t.Helper()
	m, ok := data.(map[string]string)
	if !ok {
		t.Fatalf("yw:connection data %T", data)
	}
	return m["state"]
}

// sseServer is a real SSE endpoint: it checks the bearer token, replays
// after Last-Event-ID, and sends what the test pushes.
type sseServer struct {
	*httptest.Server
	token    string
	push     chan string
	lastIDs  chan string
	dropOnce sync.Once
}

func newSSEServer(t *testing.T, token string) *sseServer {
	s := &sseServer{token: token, push: make(chan string, 10), lastIDs: make(chan string, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/health", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{"state":"leader"}`)) })
	mux.HandleFunc("GET /api/v1/events", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			http.Error(w, `{"error":{"code":"unauthorized"}}`, http.StatusUnauthorized)
			return
		}
		s.lastIDs <- r.Header.Get("Last-Event-ID")
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		fl := w.(http.Flusher)
		fmt.Fprint(w, ": ping\n\n")
		fl.Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case m, ok := <-s.push:
				if !ok || m == "DROP" {
					return // end this stream; the client reconnects
				}
				fmt.Fprint(w, m)
				fl.Flush()
			}
		}
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestForwarderStreamsEventsWithToken(t *testing.T) {
	srv := newSSEServer(t, "tok-1")
	rec := newRecorder()
	var notified []string
	var nmu sync.Mutex
	f := &Forwarder{Emit: rec.emit, Probe: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond,
		OnEvent: func(typ string, data json.RawMessage) {
			if _, _, ok := NotificationFor(typ, data); ok {
				nmu.Lock()
				notified = append(notified, typ)
				nmu.Unlock()
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// Without a token: only the health probe, the link is "open".
	f.SetBase(srv.URL)
	if s := connState(t, rec.next(t, EventConnection)); s != "open" {
		t.Fatalf("state %q before login, want open", s)
	}
	select {
	case <-srv.lastIDs:
		t.Fatal("the stream was opened without a token")
	case <-time.After(150 * time.Millisecond):
	}

	// Log in: the stream opens with the token.
	f.SetToken("tok-1")
	if id := <-srv.lastIDs; id != "" {
		t.Fatalf("first connection sent Last-Event-ID %q", id)
	}
	srv.push <- "id: 41\nevent: alarm.raised\ndata: {\"type\":\"alarm.raised\",\"index\":41,\"time\":\"2026-11-22T05:18:45Z\",\"data\":{\"id\":7,\"severity\":\"critical\",\"title\":\"河道水位超警戒\"}}\n\n"
	srv.push <- ": ping\n\nid: 42\nevent: case.created\ndata: {\"type\":\"case.created\",\n\n" // broken JSON: skipped
	srv.push <- "id: 43\nevent: case.supervised\ndata: {\"type\":\"case.supervised\",\"index\":43,\"data\":{\"id\":9,\"title\":\"井盖缺失\"}}\n\n"
	e1 := rec.next(t, EventLive).(liveEvent)
	e2 := rec.next(t, EventLive).(liveEvent)
	if e1.Type != "alarm.raised" || e1.Index != 41 || e2.Type != "case.supervised" || e2.Index != 43 {
		t.Fatalf("events %+v %+v", e1, e2)
	}
	// The emitted object marshals as the console's LiveEvent.
	b, _ := json.Marshal(e1)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil || back["type"] != "alarm.raised" || back["data"].(map[string]any)["title"] != "河道水位超警戒" {
		t.Fatalf("marshalled %s", b)
	}

	// The stream drops: the forwarder reconnects with Last-Event-ID.
	srv.push <- "DROP"
	select {
	case id := <-srv.lastIDs:
		if id != "43" {
			t.Fatalf("reconnected with Last-Event-ID %q, want 43", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reconnect")
	}
	nmu.Lock()
	if fmt.Sprint(notified) != "[alarm.raised case.supervised]" {
		t.Errorf("notified %v", notified)
	}
	nmu.Unlock()

	// The server goes away: "down"; it comes back: "open".
	srv.CloseClientConnections()
	srv.Listener.Close()
	if s := connState(t, rec.next(t, EventConnection)); s != "down" {
		t.Fatalf("state %q with the server away, want down", s)
	}
}

func TestForwarderDropsRefusedToken(t *testing.T) {
	srv := newSSEServer(t, "good")
	f := &Forwarder{Probe: 20 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	f.SetBase(srv.URL)
	f.SetToken("expired")
	deadline := time.Now().Add(5 * time.Second)
	for f.Token() != "" {
		if time.Now().After(deadline) {
			t.Fatal("a token the server refuses (401) was kept")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestForwarderServerAwayAtStart(t *testing.T) {
	srv := newSSEServer(t, "t")
	url := srv.URL
	srv.Close()
	rec := newRecorder()
	f := &Forwarder{Emit: rec.emit, Probe: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	f.SetBase(url)
	f.SetToken("t")
	if s := connState(t, rec.next(t, EventConnection)); s != "down" {
		t.Fatalf("state %q, want down", s)
	}
}

func TestNotificationFor(t *testing.T) {
	title, body, ok := NotificationFor("iot.alarm.raise", json.RawMessage(`{"title":"水位超警戒","severity":"critical","device_name":"东湖水位计-03"}`))
	if !ok || title != "告警 水位超警戒" || body != "紧急 · 东湖水位计-03" {
		t.Fatalf("%q %q %v", title, body, ok)
	}
	if _, _, ok := NotificationFor("case.created", json.RawMessage(`{}`)); ok {
		t.Fatal("case.created notified")
	}
	if title, _, ok := NotificationFor("case.supervised", json.RawMessage(`{"title":"x"}`)); !ok || title != "督办 x" {
		t.Fatalf("督办: %q %v", title, ok)
	}
}
