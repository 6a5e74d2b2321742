package mqtt

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yiwang/yiwang/embedded-mqtt/loadgen"
)

// startFlowBroker starts a TCP-only broker with the benchmark's
// credentials (dev-N/secret, service account sub/secret).
func startFlowBroker(t *testing.T, pending int32) *Broker {
	t.Helper()
	b, err := New(Options{TCPAddr: "127.0.0.1:0", TLSAddr: "-", WSAddr: "-", Auth: benchAuth{},
		Sink: SinkFunc(func(context.Context, []Reading) error { return nil }), Logger: quietLogger(), MaxPendingWrites: pending})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func watchedList(b *Broker) []*watched {
	if ws := b.hook.flow.list.Load(); ws != nil {
		return *ws
	}
	return nil
}

func watchedStalls(b *Broker) (n int64) {
	for _, w := range watchedList(b) {
		n += w.stalls.Load()
	}
	return n
}

func waitWatched(t *testing.T, b *Broker, n int) []*watched {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(watchedList(b)) != n {
		if time.Now().After(deadline) {
			t.Fatalf("watched subscribers = %d, want %d", len(watchedList(b)), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return watchedList(b)
}

// TestOutboundLenReadable guards the one place that looks inside mochi: the
// length of a client's outbound queue. If a mochi upgrade renames the
// field, flow control silently stops and this test fails.
func TestOutboundLenReadable(t *testing.T) {
	b := startFlowBroker(t, 64)
	sub, err := loadgen.Dial(context.Background(), b.TCPAddr(), "s", "sub", "secret", 60)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	ws := waitWatched(t, b, 1)
	qlen, c := outboundLen(ws[0].cl)
	if qlen == nil || c != 64 || qlen() != 0 {
		t.Fatalf("outbound queue not readable: cap %d", c)
	}
	if ws[0].hi != 48 || ws[0].lo != 8 {
		t.Fatalf("watermarks %d/%d", ws[0].hi, ws[0].lo)
	}
	// a device is not a fan-in subscriber
	dev, err := loadgen.Dial(context.Background(), b.TCPAddr(), "d", "dev-1", "secret", 60)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	time.Sleep(50 * time.Millisecond)
	if n := len(watchedList(b)); n != 1 {
		t.Fatalf("watched = %d after a device connected", n)
	}
	sub.Close()
	waitWatched(t, b, 0)
}

// TestFlowControlFanIn: 50 devices flood one subscriber whose outbound
// queue holds 64 packets. Without flow control mochi drops most of the
// flood; with it every message arrives and nothing is dropped.
func TestFlowControlFanIn(t *testing.T) {
	b := startFlowBroker(t, 64)
	for _, qos := range []byte{0, 1} {
		res, err := loadgen.Run(context.Background(), loadgen.Config{
			Addr: b.TCPAddr(), Clients: 50, QoS: qos, Messages: 20000, Duration: 30 * time.Second,
			Topic:       func(i int) string { return "yw/dev-" + strconv.Itoa(i) + "/event" },
			Credentials: func(i int) (string, string) { return "dev-" + strconv.Itoa(i), "secret" },
			Subscribe:   "yw/+/event", SubUser: "sub", SubPass: "secret", DrainTimeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Sent != 20000 || res.Received != res.Sent {
			t.Errorf("qos %d: sent %d, delivered %d", qos, res.Sent, res.Received)
		}
	}
	if d := atomic.LoadInt64(&b.srv.Info.MessagesDropped); d != 0 {
		t.Errorf("mochi dropped %d messages (stalls %d)", d, watchedStalls(b))
	}
}

// TestFlowStalledSubscriber: a subscriber that stops reading must not hold
// the devices back for long: it is marked stalled and the devices' QoS 1
// publishes keep being acknowledged.
func TestFlowStalledSubscriber(t *testing.T) {
	b := startFlowBroker(t, 64)
	ctx := context.Background()
	sub, err := loadgen.Dial(ctx, b.TCPAddr(), "stuck", "sub", "secret", 60)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if err := sub.Subscribe("yw/+/event", 0); err != nil {
		t.Fatal(err)
	}
	ws := waitWatched(t, b, 1)
	// never read: once the socket buffers are full, the subscriber's
	// queue stays full
	payload := bytes.Repeat([]byte("x"), 4096)
	start := time.Now()
	res, err := loadgen.Run(ctx, loadgen.Config{
		Addr: b.TCPAddr(), Clients: 10, QoS: 1, Messages: 20000, Duration: 60 * time.Second,
		Topic:       func(i int) string { return "yw/dev-" + strconv.Itoa(i) + "/event" },
		Credentials: func(i int) (string, string) { return "dev-" + strconv.Itoa(i), "secret" },
		Payload:     func(int, int) []byte { return payload },
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Acked != 20000 {
		t.Fatalf("acked %d of 20000 in %s", res.Acked, time.Since(start))
	}
	if ws[0].stalls.Load() == 0 {
		t.Fatal("stalled subscriber not detected")
	}
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("devices held back %s by a stalled subscriber", took)
	}
}
