package mqtt

import (
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
)

// Flow control for fan-in subscribers (see doc.go, "Flow control").
//
// mochi routes a publish on the publisher's goroutine and hands the copy to
// each subscriber's outbound queue; when that queue is full the message is
// dropped. A console or exporter subscribed to yw/+/... receives what
// hundreds of devices publish, and its one write goroutine competes for
// the CPU with all the publishers' goroutines, so under a flood its queue
// overflows. Mosquitto does not lose these messages because its single
// loop reads publishers only as fast as it writes subscribers. flow gives
// the same backpressure: before a device's publish is routed, if a
// watched subscriber's queue is more than half full, the publisher's
// goroutine sleeps until it drains to a quarter (TCP pushes back on that
// device meanwhile). A subscriber that does not drain that quarter within
// flowMaxWait (slower than ~2,500 messages/s with the default queue: a
// dead browser tab, a slow WAN link) is ignored for flowStallFor, so it
// costs ingest at most flowMaxWait every flowStallFor (5 %); mochi then
// drops its messages as before.
const (
	flowPoll     = 100 * time.Microsecond
	flowMaxWait  = 100 * time.Millisecond
	flowStallFor = 2 * time.Second
)

// watched is one fan-in subscriber (session principal: console, service
// account).
type watched struct {
	cl           *mochi.Client
	qlen         func() int
	hi, lo       int
	stalledUntil atomic.Int64
	stalls       atomic.Int64
	// tickets counts admitted publishes, limit is the last ticket that may
	// pass without a resync; gate is non-nil during a resync and closed
	// when it ends.
	tickets, limit atomic.Int64
	gate           atomic.Pointer[chan struct{}]
}

type flow struct {
	mu   sync.Mutex
	list atomic.Pointer[[]*watched]
}

// outboundLen returns a reader of cl's outbound queue length. mochi keeps
// the queue in an unexported channel and offers no accessor; reflect may
// read a channel's length without exporting it. nil if mochi's layout
// changed (TestOutboundLenReadable fails then).
func outboundLen(cl *mochi.Client) (func() int, int) {
	v := reflect.ValueOf(&cl.State).Elem().FieldByName("outbound")
	if !v.IsValid() || v.Kind() != reflect.Chan {
		return nil, 0
	}
	return v.Len, v.Cap()
}

func (f *flow) add(cl *mochi.Client) {
	qlen, c := outboundLen(cl)
	if qlen == nil || c < 4 {
		return
	}
	w := &watched{cl: cl, qlen: qlen, hi: c / 2, lo: c / 4}
	f.mu.Lock()
	defer f.mu.Unlock()
	var next []*watched
	if old := f.list.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, w)
	f.list.Store(&next)
}

func (f *flow) remove(cl *mochi.Client) {
	f.mu.Lock()
	defer f.mu.Unlock()
	old := f.list.Load()
	if old == nil {
		return
	}
	next := make([]*watched, 0, len(*old))
	for _, w := range *old {
		if w.cl != cl {
			next = append(next, w)
		}
	}
	if len(next) == 0 {
		f.list.Store(nil)
		return
	}
	f.list.Store(&next)
}

// wait paces the calling publisher by every watched subscriber; it
// reports whether it had to wait.
func (f *flow) wait() bool {
	ws := f.list.Load()
	if ws == nil {
		return false
	}
	waited := false
	for _, w := range *ws {
		if w.waitOne() {
			waited = true
		}
	}
	return waited
}

// waitOne admits a publish towards w. Publishers take numbered tickets;
// tickets up to limit pass with two atomic operations. The publisher that
// draws the first ticket past the limit leads a resync, the others sleep
// on the gate it holds: the leader reads the queue length and, if the
// queue is at the high-water mark, polls until it drains to the low-water
// mark (hysteresis, so publishers pause together and the subscriber's
// writer catches up in one go), then grants tickets for the room left
// below the high-water mark. Granting a fixed number of tickets, rather
// than letting every woken publisher look at the queue, is what keeps
// 1,000 publishers woken at once from overflowing the queue. An episode
// is bounded by flowMaxWait: a subscriber that cannot drain a quarter of
// its queue in that time is too slow to pace the devices and is ignored
// for flowStallFor.
func (w *watched) waitOne() bool {
	waited := false
	for {
		if g := w.gate.Load(); g != nil {
			<-*g
			waited = true
			continue
		}
		if w.tickets.Add(1) <= w.limit.Load() {
			return waited
		}
		g := make(chan struct{})
		if !w.gate.CompareAndSwap(nil, &g) {
			continue
		}
		if w.drain() {
			waited = true
		}
		room := int64(w.hi - w.qlen())
		if time.Now().UnixNano() < w.stalledUntil.Load() {
			room = int64(w.hi) // ignored: resync now and then only
		}
		room = max(room, 16)
		w.limit.Store(w.tickets.Load() + room)
		w.gate.Store(nil)
		close(g)
		return waited
	}
}

// drain waits, as the leader of a resync, until a congested queue is down
// to the low-water mark; it reports whether the queue was congested.
func (w *watched) drain() bool {
	now := time.Now()
	if w.qlen() < w.hi || now.UnixNano() < w.stalledUntil.Load() {
		return false
	}
	deadline := now.Add(flowMaxWait)
	for w.qlen() >= w.lo && !w.cl.Closed() {
		if time.Now().After(deadline) {
			w.stalledUntil.Store(time.Now().Add(flowStallFor).UnixNano())
			w.stalls.Add(1)
			break
		}
		time.Sleep(flowPoll)
	}
	return true
}
