package mqtt

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/yiwang/yiwang/embedded-mqtt/loadgen"
)

// A QoS 1 subscriber acknowledging while several publishers send it QoS 1
// messages: after every packet the subscriber sends, mochi v2.7.9 looked for
// an inflight message to resend with Inflight.NextImmediate, which took the
// inflight read lock twice; a publisher adding an inflight message in between
// deadlocked both connections for good, and every later publisher to that
// subscriber with them. Bounded: 4 publishers for 3 seconds.
func TestSystemInflightUnderConcurrentPublishers(t *testing.T) {
	b, _ := startBroker(t, nil)
	var got atomic.Int64
	sub, _, err := connectV5(t, b.TCPAddr(), "gw-100", "sg", func(*paho.Publish) { got.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Disconnect(&paho.Disconnect{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "yw/mh-101/event", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	const publishers = 4
	end := time.Now().Add(3 * time.Second)
	var sent atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	for p := 0; p < publishers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			c, err := loadgen.Dial(context.Background(), b.TCPAddr(), fmt.Sprintf("mh-101-p%d", p), "mh-101", "sm", 60)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			// at most 256 messages unacknowledged per publisher, so the broker
			// has no backlog to work off when the probe comes
			var acked atomic.Int64
			go func() { _ = c.ReadLoop(nil, func(uint16) { acked.Add(1) }) }()
			release := time.AfterFunc(time.Until(end)+5*time.Second, c.Close)
			defer release.Stop()
			for n, id := int64(0), 1; time.Now().Before(end); id = id%65535 + 1 {
				for n-acked.Load() >= 256 && time.Now().Before(end) {
					time.Sleep(time.Millisecond)
				}
				if err := c.Publish("yw/mh-101/event", []byte("open"), 1, uint16(id)); err != nil {
					errs <- fmt.Errorf("publisher %d cut off after %d messages: %w", p, n, err)
					return
				}
				n++
				sent.Add(1)
			}
		}(p)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// messages beyond the subscriber's inflight quota may be dropped (that is
	// flow control); what must hold is that no connection is stuck: a probe
	// from a new publisher still reaches the subscriber
	probe, err := loadgen.Dial(context.Background(), b.TCPAddr(), "mh-101-probe", "mh-101", "sm", 60)
	if err != nil {
		t.Fatalf("probe connect: %v", err)
	}
	defer probe.Close()
	go func() { _ = probe.ReadLoop(nil, nil) }()
	before := got.Load()
	deadline := time.Now().Add(10 * time.Second)
	for id := uint16(1); got.Load() == before && time.Now().Before(deadline); id++ {
		if err := probe.Publish("yw/mh-101/event", []byte("probe"), 1, id); err != nil {
			t.Fatalf("probe publish: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got.Load() == before {
		t.Fatalf("after %d QoS 1 messages from %d publishers the subscriber receives nothing: a connection is stuck", sent.Load(), publishers)
	}
	t.Logf("%d QoS 1 messages sent by %d publishers, %d delivered", sent.Load(), publishers, got.Load())
}
