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
// watched subscriber's queue plus the publishes admitted towards it would
// pass three quarters of its capacity, the publisher's goroutine sleeps
// until the queue drains to an eighth (TCP pushes back on that device
// meanwhile). A subscriber that stops reading for flowNoProgress (a dead
// browser tab) or does not drain within flowMaxWait (a slow WAN link) is
// ignored for flowStallFor, so it costs ingest at most flowMaxWait every
// flowStallFor (about 6 %); mochi then drops its messages as before.
const (
	flowPoll       = 100 * time.Microsecond
	flowNoProgress = time.Second
	flowMaxWait    = 2 * time.Second
	flowStallFor   = 30 * time.Second
)

// watched is one fan-in subscriber (session principal: console, service
// account).
type watched struct {
	cl           *mochi.Client
	qlen         func() int
	hi, lo       int
	stalledUntil atomic.Int64
	stalls       atomic.Int64
	// inflight counts admitted publishes not yet routed; gate is non-nil
	// during a congestion episode and closed when it ends.
	inflight atomic.Int64
	gate     atomic.Pointer[chan struct{}]
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
	w := &watched{cl: cl, qlen: qlen, hi: c * 3 / 4, lo: c / 8}
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

// admit paces a device's publish by every watched subscriber, after the
// hook accepted it and before mochi routes it, and records the admission
// on the publishing connection until release (OnPublished, the client's
// next publish, or its disconnect: mochi handles one client's packets in
// order, so a connection has at most one admitted publish in flight).
func (f *flow) admit(c *conn) {
	ws := f.list.Load()
	if ws == nil {
		return
	}
	for _, w := range *ws {
		w.admit()
	}
	c.admitted.Store(ws)
}

// release ends c's admitted publish, if any.
func (f *flow) release(c *conn) {
	if ws := c.admitted.Swap(nil); ws != nil {
		for _, w := range *ws {
			w.inflight.Add(-1)
		}
	}
}

// admit lets a publish through when the subscriber's queue plus the
// publishes admitted but not yet routed stay under the high-water mark;
// counting the ones in flight is what keeps 1,000 publishers woken at once
// from overflowing the queue. Otherwise the subscriber is congested: the
// first publisher to see it leads, polling until the queue drains to the
// low-water mark (hysteresis, so the publishers pause together and the
// subscriber's writer catches up in one go), the others sleep on the gate
// it holds.
func (w *watched) admit() {
	for {
		if g := w.gate.Load(); g != nil {
			<-*g
			continue
		}
		n := w.inflight.Add(1)
		if int(n)+w.qlen() <= w.hi || time.Now().UnixNano() < w.stalledUntil.Load() {
			return
		}
		w.inflight.Add(-1)
		g := make(chan struct{})
		if !w.gate.CompareAndSwap(nil, &g) {
			continue
		}
		w.drain()
		w.gate.Store(nil)
		close(g)
	}
}

// drain waits, as the leader of a congestion episode, until the queue is
// down to the low-water mark. The subscriber is marked stalled when its
// queue does not shrink at all for flowNoProgress (it stopped reading) or
// the episode lasts longer than flowMaxWait (it reads too slowly to pace
// the devices).
func (w *watched) drain() {
	now := time.Now()
	deadline := now.Add(flowMaxWait)
	lastQ, progressAt := w.qlen(), now
	for !w.cl.Closed() {
		q := w.qlen()
		if q < w.lo {
			return
		}
		now = time.Now()
		if q < lastQ {
			lastQ, progressAt = q, now
		}
		if now.After(deadline) || now.Sub(progressAt) > flowNoProgress {
			w.stalledUntil.Store(now.Add(flowStallFor).UnixNano())
			w.stalls.Add(1)
			return
		}
		time.Sleep(flowPoll)
	}
}
