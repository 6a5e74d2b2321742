package plugins

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func benchHost(b testing.TB) *Host {
	h, _, _ := newTestHost(b, nil)
	installExample(b, h, "examples/decoder", nil, nil)
	return h
}

// BenchmarkDecode is the per-message cost of a decode through the plugin
// (host → wasm → JSON → Telemetry), one goroutine.
func BenchmarkDecode(b *testing.B) {
	h := benchHost(b)
	ctx := context.Background()
	frame := waterFrame(1, 1500, 3600, 100, 0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Decode(ctx, "lora-water-v1", frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeParallel uses every core (one instance per core).
func BenchmarkDecodeParallel(b *testing.B) {
	h := benchHost(b)
	ctx := context.Background()
	frame := waterFrame(1, 1500, 3600, 100, 0)
	// Create every instance before timing.
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() { h.Decode(ctx, "lora-water-v1", frame) })
	}
	wg.Wait()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Decode(ctx, "lora-water-v1", frame); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestDecodeThroughput checks the ≥ 20,000 messages/s target on this
// machine (skipped under -race, which slows the host side several-fold).
func TestDecodeThroughput(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("throughput is measured without -race and -short")
	}
	h := benchHost(t)
	ctx := context.Background()
	frame := waterFrame(1, 1500, 3600, 100, 0)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	var n atomic.Int64
	deadline := time.Now().Add(2 * time.Second)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := h.Decode(ctx, "lora-water-v1", frame); err != nil {
					t.Error(err)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	rate := float64(n.Load()) / time.Since(start).Seconds()
	t.Logf("decoded %d messages in %v with %d workers: %.0f msg/s", n.Load(), time.Since(start).Round(time.Millisecond), workers, rate)
	// The target is 20,000 msg/s on an idle 2-core machine. Shared CI and
	// dev boxes are noisy, so the hard floor is lower unless
	// YIWANG_STRICT_BENCH=1 asks for the target.
	floor := 2000.0 // catches e.g. an instance per call (~100/s)
	if os.Getenv("YIWANG_STRICT_BENCH") == "1" {
		floor = 20000
	}
	if rate < floor {
		t.Errorf("throughput %.0f msg/s, floor %.0f (target 20000)", rate, floor)
	}
}
