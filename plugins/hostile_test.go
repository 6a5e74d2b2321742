package plugins

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// installHostile packs the hostile fixture under a manifest named
// hostile-<kind> that decodes device type <kind>.
func installHostile(t *testing.T, h *Host, kind string, perms []string, hosts []string) {
	t.Helper()
	m := &Manifest{Name: "hostile-" + kind, Version: "0.0.1", ABI: 1, Permissions: append([]string{"decode"}, perms...),
		DeviceTypes: []string{kind}, Hosts: hosts}
	pkg, err := Pack(mustJSON(t, m), buildPlugin(t, "testdata/hostile"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Install(context.Background(), pkg, ApproveAll(m, true)); err != nil {
		t.Fatalf("install hostile-%s: %v", kind, err)
	}
}

func TestHostilePluginsAreContained(t *testing.T) {
	var disabled sync.Map
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer allowed.Close()
	h, _, rec := newTestHost(t, func(c *Config) {
		c.CallTimeout = 300 * time.Millisecond
		c.MemoryLimitMB = 64
		c.MaxFailures = 3
		c.OnDisable = func(p, reason string) { disabled.Store(p, reason) }
	})
	ctx := context.Background()
	installExample(t, h, "examples/decoder", nil, nil)
	for _, k := range []string{"loop", "membomb", "panic", "exit", "readfile", "clock"} {
		installHostile(t, h, k, nil, nil)
	}
	installHostile(t, h, "http", []string{"http"}, []string{strings.TrimPrefix(allowed.URL, "http://")})

	// A good decoder keeps decoding throughout.
	var good, bad atomic.Int64
	var firstBad atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint16(0); ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			tel, err := h.Decode(ctx, "lora-water-v1", waterFrame(i, 1500, 3600, 100, 0))
			if err != nil || tel.Values["level_m"] != 1.5 {
				bad.Add(1)
				firstBad.CompareAndSwap(nil, fmt.Sprint(err))
				continue
			}
			good.Add(1)
		}
	}()

	failure := func(kind, want string) {
		t.Helper()
		start := time.Now()
		_, err := h.Decode(ctx, kind, []byte("x"))
		if err == nil || !IsFailure(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want a failure containing %q", kind, err, want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: took %v", kind, d)
		}
		t.Logf("%s: %v (%v)", kind, err, time.Since(start).Round(time.Millisecond))
	}
	failure("loop", "timed out")
	// The Go runtime either dies of "out of memory" (exit 2) or thrashes in
	// GC until the deadline: contained either way.
	failure("membomb", "")
	failure("panic", "hostile plugin panics")
	failure("exit", "exited with code 3")

	// No file system: the plugin's own error, no content.
	_, err := h.Decode(ctx, "readfile", nil)
	if err == nil || IsFailure(err) || !strings.Contains(err.Error(), "readfile:") || strings.Contains(err.Error(), "root:") {
		t.Errorf("readfile: %v", err)
	}
	t.Logf("readfile: %v", err)
	// No clock: the fixed instant.
	tel, err := h.Decode(ctx, "clock", nil)
	if err != nil || int64(tel.Values["now"].(float64)) != fixedTime.UnixNano() {
		t.Errorf("clock: %v %v", tel, err)
	}
	// HTTP to a host off the allow-list: refused and audited; to the
	// allowed host: works.
	_, err = h.Decode(ctx, "http", []byte("http://example.com/steal"))
	if err == nil || !strings.Contains(err.Error(), "allow-list") {
		t.Errorf("http: %v", err)
	}
	if _, err := h.Decode(ctx, "http", []byte(allowed.URL+"/ok")); err != nil {
		t.Errorf("http allowed: %v", err)
	}
	a := rec.auditList()
	if len(a) != 2 || a[0].Allowed || a[0].URL != "http://example.com/steal" || !a[1].Allowed || a[1].Status != 200 {
		t.Errorf("audit: %+v", a)
	}

	// Repeated failures disable the plugin; others are unaffected.
	for range 3 {
		h.Decode(ctx, "loop", nil)
	}
	if _, err := h.Decode(ctx, "loop", nil); !errors.Is(err, ErrDisabled) {
		t.Errorf("loop after 4 failures: %v", err)
	}
	info, _ := h.Get("hostile-loop")
	if info.Enabled || !strings.Contains(info.DisabledReason, "3 consecutive failures") || info.Metrics.Failures != 3 {
		t.Errorf("hostile-loop: %+v", info)
	}
	if r, ok := disabled.Load("hostile-loop"); !ok {
		t.Error("OnDisable not called")
	} else {
		t.Logf("disabled: %v", r)
	}
	logs, _ := h.Logs("hostile-panic", 0)
	if !strings.Contains(joinLogs(logs), "panic: hostile plugin panics") {
		t.Errorf("panic not in logs: %v", logs)
	}

	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if bad.Load() != 0 || good.Load() == 0 {
		t.Fatalf("good decoder: %d ok, %d bad (first: %v)", good.Load(), bad.Load(), firstBad.Load())
	}
	t.Logf("good decoder decoded %d frames while hostile plugins ran", good.Load())
	if info, _ := h.Get("lora-water"); !info.Enabled || info.Metrics.Failures != 0 {
		t.Fatalf("lora-water: %+v", info)
	}
}
