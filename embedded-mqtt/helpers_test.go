package mqtt

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// testAuth is a small in-memory DeviceAuthenticator, the same contract
// app/iot implements against its device table.
type testAuth struct {
	devices  map[string]testDevice
	sessions map[string]Principal
}

type testDevice struct {
	secret, typ string
	children    map[string]string
}

func (a *testAuth) AuthenticateDevice(_ context.Context, device, secret string) (Principal, error) {
	d, ok := a.devices[device]
	if !ok || d.secret != secret {
		return Principal{}, ErrDenied
	}
	return Principal{Device: device, Type: d.typ, Children: d.children}, nil
}

func (a *testAuth) AuthenticateSession(_ context.Context, token string) (Principal, error) {
	p, ok := a.sessions[token]
	if !ok {
		return Principal{}, ErrDenied
	}
	return p, nil
}

func newTestAuth() *testAuth {
	return &testAuth{
		devices: map[string]testDevice{
			"wl-001": {secret: "s1", typ: "water_level"},
			"aq-002": {secret: "s2", typ: "air_quality"},
			"gw-100": {secret: "sg", typ: "gateway", children: map[string]string{"mh-101": "manhole", "mh-102": "manhole"}},
			"mh-101": {secret: "sm", typ: "manhole"},
		},
		sessions: map[string]Principal{
			"tok-all":   {User: "op1", AllDevices: true},
			"tok-scope": {User: "op2", Devices: []string{"wl-001"}},
		},
	}
}

// memSink keeps every batch in memory.
type memSink struct {
	mu       sync.Mutex
	readings []Reading
	batches  int
	notify   chan struct{}
}

func newMemSink() *memSink { return &memSink{notify: make(chan struct{}, 1)} }

func (s *memSink) WriteBatch(_ context.Context, batch []Reading) error {
	s.mu.Lock()
	s.readings = append(s.readings, batch...)
	s.batches++
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *memSink) snapshot() []Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Reading(nil), s.readings...)
}

// waitReadings waits until the sink holds at least n readings.
func (s *memSink) waitReadings(t testing.TB, n int) []Reading {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		if rs := s.snapshot(); len(rs) >= n {
			return rs
		}
		select {
		case <-s.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("sink has %d readings, want %d", len(s.snapshot()), n)
		}
	}
}

func quietLogger() *slog.Logger {
	if os.Getenv("YW_MQTT_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startBroker starts a broker on 127.0.0.1 free ports with TLS and
// WebSocket listeners.
func startBroker(t testing.TB, mod func(*Options)) (*Broker, *memSink) {
	t.Helper()
	sink := newMemSink()
	o := Options{
		TCPAddr: "127.0.0.1:0",
		TLSAddr: "127.0.0.1:0",
		WSAddr:  "127.0.0.1:0",
		CertDir: t.TempDir(),
		Auth:    newTestAuth(),
		Sink:    sink,
		Logger:  quietLogger(),
	}
	if mod != nil {
		mod(&o)
	}
	b, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b, sink
}

// needTool returns the path of an external tool; it skips the test when the
// tool is absent, unless CI is set, where a missing tool is a failure.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found (required when CI is set): %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

func hostPort(addr string) (string, string) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == ':' {
			return addr[:i], addr[i+1:]
		}
	}
	return addr, ""
}
