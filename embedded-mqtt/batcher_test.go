package mqtt

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

func TestBatcherBatchesByCountAndTime(t *testing.T) {
	sink := newMemSink()
	o := Options{Sink: sink, BatchSize: 100, BatchDelay: 20 * time.Millisecond, SinkWorkers: 1} // one writer keeps order
	o.defaults()
	b := newBatcher(&o, nil)
	b.start()
	for i := 0; i < 250; i++ {
		b.enqueue([]Reading{{Device: "d", Metric: "m", Value: float64(i)}})
	}
	rs := sink.waitReadings(t, 250)
	b.close()
	for i, r := range rs {
		if r.Value != float64(i) {
			t.Fatalf("order: reading %d = %v", i, r.Value)
		}
	}
	// 100+100+50 after the delay; a loaded machine may flush a partial
	// batch earlier, never a bigger one
	if sink.batches < 3 {
		t.Fatalf("batches = %d, want at least 3", sink.batches)
	}
}

func TestBatcherRetriesThenReports(t *testing.T) {
	var calls atomic.Int32
	flaky := SinkFunc(func(ctx context.Context, batch []Reading) error {
		if calls.Add(1) <= 2 {
			return errors.New("raft: leadership lost")
		}
		return nil
	})
	o := Options{Sink: flaky, SinkWorkers: 1}
	o.defaults()
	b := newBatcher(&o, nil)
	b.start()
	b.enqueue([]Reading{{Device: "d", Metric: "m"}})
	b.close()
	if b.written.Load() != 1 || b.batchErrors.Load() != 2 || b.dropped.Load() != 0 {
		t.Fatalf("written %d errors %d dropped %d", b.written.Load(), b.batchErrors.Load(), b.dropped.Load())
	}

	var mu sync.Mutex
	var reported []Reading
	broken := SinkFunc(func(context.Context, []Reading) error { return errors.New("disk full") })
	o = Options{Sink: broken, SinkRetries: 3}
	o.defaults()
	b = newBatcher(&o, func(batch []Reading, err error) { mu.Lock(); reported = append(reported, batch...); mu.Unlock() })
	b.start()
	b.enqueue([]Reading{{Device: "d", Metric: "m"}, {Device: "d", Metric: "n"}})
	b.close()
	if b.dropped.Load() != 2 || len(reported) != 2 || b.batchErrors.Load() != 3 {
		t.Fatalf("dropped %d reported %d errors %d", b.dropped.Load(), len(reported), b.batchErrors.Load())
	}
}

// A stalled sink must push back on publishers and then refuse, not hang the
// broker: with the queue full a v5 QoS 1 publish gets PUBACK 0x97 after
// EnqueueTimeout while other clients keep working.
func TestBackpressureStalledSink(t *testing.T) {
	release := make(chan struct{})
	stalled := SinkFunc(func(ctx context.Context, batch []Reading) error {
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	b, _ := startBroker(t, func(o *Options) {
		o.Sink = stalled
		o.QueueSize = 2
		o.BatchSize = 1
		o.SinkWorkers = 1
		o.EnqueueTimeout = 100 * time.Millisecond
	})
	defer close(release)
	c, _, err := connectV5(t, b.TCPAddr(), "wl-001", "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var refused int
	for i := 0; i < 10; i++ {
		pr, err := c.Publish(ctx, &paho.Publish{Topic: "yw/wl-001/telemetry", QoS: 1, Payload: []byte(`{"water_level":1}`)})
		if pr == nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		if pr.ReasonCode == 0x97 {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("no publish refused with a stalled sink")
	}
	if s := b.Stats(); s.Dropped != int64(refused) || b.Counters("wl-001").Dropped != int64(refused) {
		t.Fatalf("dropped not counted: stats %+v counters %+v refused %d", s, b.Counters("wl-001"), refused)
	}
	// the broker still routes for others
	c2, _, err := connectV5(t, b.TCPAddr(), "aq-002", "s2", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Publish(ctx, &paho.Publish{Topic: "yw/aq-002/event", QoS: 1, Payload: []byte(`x`)}); err != nil {
		t.Fatal(err)
	}
}
