package mqtt

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// Listener ids.
const (
	ListenerTCP = "tcp"
	ListenerTLS = "tls"
	ListenerWS  = "ws"
)

// Errors of Send.
var (
	ErrNotSubscribed = errors.New("mqtt: device is not subscribed to its command topic")
	ErrBadID         = errors.New("mqtt: invalid device or command id")
	ErrCommandBusy   = errors.New("mqtt: a command with this id is pending")
)

// Broker is the MQTT broker embedded in yiwang.
type Broker struct {
	opts  Options
	log   *slog.Logger
	srv   *mochi.Server
	hook  *hook
	batch *batcher
	ws    *wsListener
	tcp   *tcpListener
	tlsl  *tcpListener

	events     chan func()
	eventsDone chan struct{}
	evDropped  atomic.Int64

	counters sync.Map // device -> *deviceCounters

	malformed, oversize, denied, authFail atomic.Int64

	pendMu  sync.Mutex
	pending map[string]*pendingCmd // device/id

	rateMu          sync.Mutex
	lastIn, lastOut int64
	lastAt          time.Time
	rateIn, rateOut float64
	closeOnce       sync.Once
	stop            chan struct{}
	started         bool
}

type pendingCmd struct {
	device, id string
	deadline   time.Time
	delivered  bool
}

type deviceCounters struct {
	mu sync.Mutex
	c  DeviceCounters
}

// New builds a broker; Start opens the listeners.
func New(opts Options) (*Broker, error) {
	opts.defaults()
	if opts.Auth == nil || opts.Sink == nil {
		return nil, errors.New("mqtt: Options.Auth and Options.Sink are required")
	}
	caps := mochi.NewDefaultServerCapabilities()
	caps.MaximumClients = opts.MaxClients
	// See doc.go: 0 = messages (and retained messages) only expire when the
	// publisher asks for it with a v5 message expiry interval.
	caps.MaximumMessageExpiryInterval = int64(opts.MessageExpiry / time.Second)
	caps.MaximumSessionExpiryInterval = uint32(opts.SessionExpiry / time.Second)
	caps.MaximumInflight = opts.MaxInflight
	caps.ReceiveMaximum = opts.ReceiveMaximum
	caps.MaximumClientWritesPending = opts.MaxPendingWrites
	// The whole packet may carry the topic and properties besides the payload;
	// the payload limit itself is enforced exactly in the publish hook.
	caps.MaximumPacketSize = uint32(opts.MaxPayload + 8<<10)
	caps.SharedSubAvailable = 0

	b := &Broker{
		opts:       opts,
		log:        opts.Logger,
		events:     make(chan func(), opts.EventQueue),
		eventsDone: make(chan struct{}),
		pending:    map[string]*pendingCmd{},
		stop:       make(chan struct{}),
	}
	b.srv = mochi.New(&mochi.Options{
		Capabilities:             caps,
		Logger:                   opts.Logger,
		InlineClient:             true,
		ClientNetWriteBufferSize: opts.WriteBuffer,
		SysTopicResendInterval:   0,
	})
	b.batch = newBatcher(&b.opts, b.batchGivenUp)
	b.hook = &hook{b: b}
	if err := b.srv.AddHook(b.hook, nil); err != nil {
		return nil, err
	}
	b.ws = newWSListener(ListenerWS, opts.WSAddr)
	return b, nil
}

// Start opens the listeners and starts batching. It returns once the
// listeners are bound.
func (b *Broker) Start(ctx context.Context) error {
	if b.opts.TCPAddr != "-" {
		b.tcp = newTCPListener(ListenerTCP, b.opts.TCPAddr, nil)
		if err := b.srv.AddListener(b.tcp); err != nil {
			return fmt.Errorf("mqtt: tcp listener: %w", err)
		}
	}
	if b.opts.TLSAddr != "-" {
		tc, err := tlsConfig(&b.opts)
		if err != nil {
			return err
		}
		b.tlsl = newTCPListener(ListenerTLS, b.opts.TLSAddr, tc)
		if err := b.srv.AddListener(b.tlsl); err != nil {
			return fmt.Errorf("mqtt: tls listener: %w", err)
		}
	}
	if b.opts.WSAddr == "-" {
		b.ws.addr = ""
	}
	if err := b.srv.AddListener(b.ws); err != nil {
		return fmt.Errorf("mqtt: websocket listener: %w", err)
	}
	b.batch.start()
	go b.dispatch()
	go b.janitor()
	if err := b.srv.Serve(); err != nil {
		return err
	}
	b.started = true
	return nil
}

// Close stops the listeners, disconnects clients, flushes queued telemetry
// into the sink and stops the event dispatcher.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.stop)
		err = b.srv.Close()
		if b.started {
			b.batch.close()
			close(b.events)
			<-b.eventsDone
		}
	})
	return err
}

// TCPAddr, TLSAddr and WSAddr return the bound listener addresses ("" when
// disabled); useful with port 0.
func (b *Broker) TCPAddr() string {
	if b.tcp == nil {
		return ""
	}
	return b.tcp.Address()
}

// TLSAddr returns the TLS listener address.
func (b *Broker) TLSAddr() string {
	if b.tlsl == nil {
		return ""
	}
	return b.tlsl.Address()
}

// WSAddr returns the standalone WebSocket listener address.
func (b *Broker) WSAddr() string {
	if b.ws.ln == nil {
		return ""
	}
	return b.ws.Address()
}

// WebSocketHandler serves MQTT over WebSocket; mount it at /mqtt on the
// app's HTTP server.
func (b *Broker) WebSocketHandler() http.Handler { return b.ws }

// Server exposes the underlying mochi server (for tests and diagnostics).
func (b *Broker) Server() *mochi.Server { return b.srv }

// Send publishes payload as command id to device on yw/{device}/cmd/{id}
// (QoS 1). Progress (delivered on PUBACK, replied, timeout) is reported to
// Options.OnCommand. It fails when the device has no subscription matching
// its command topic.
func (b *Broker) Send(device, id string, payload []byte) error {
	if !validID(device) || !validID(id) {
		return ErrBadID
	}
	topic := CommandTopic(device, id)
	if subs := b.srv.Topics.Subscribers(topic); len(subs.Subscriptions) == 0 {
		return ErrNotSubscribed
	}
	key := device + "/" + id
	b.pendMu.Lock()
	if _, dup := b.pending[key]; dup {
		b.pendMu.Unlock()
		return ErrCommandBusy
	}
	b.pending[key] = &pendingCmd{device: device, id: id, deadline: time.Now().Add(b.opts.CommandTimeout)}
	b.pendMu.Unlock()
	// "sent" is reported before publishing: with the inline client the
	// device's PUBACK (and even its reply) can arrive before Publish
	// returns, and OnCommand must see the states in order.
	b.commandStatus(CommandStatus{Device: device, ID: id, State: CommandSent, At: time.Now()})
	if err := b.srv.Publish(topic, payload, false, 1); err != nil {
		b.pendMu.Lock()
		delete(b.pending, key)
		b.pendMu.Unlock()
		b.commandStatus(CommandStatus{Device: device, ID: id, State: CommandTimeout, At: time.Now()})
		return err
	}
	return nil
}

func (b *Broker) commandStatus(st CommandStatus) {
	if b.opts.OnCommand != nil {
		b.emit(func() { b.opts.OnCommand(st) })
	}
}

// commandDelivered marks device/id delivered (PUBACK from the device).
func (b *Broker) commandDelivered(device, id string) {
	b.pendMu.Lock()
	p := b.pending[device+"/"+id]
	first := p != nil && !p.delivered
	if first {
		p.delivered = true
	}
	b.pendMu.Unlock()
	if first {
		b.commandStatus(CommandStatus{Device: device, ID: id, State: CommandDelivered, At: time.Now()})
	}
}

func (b *Broker) commandReplied(device, id string, payload []byte) {
	key := device + "/" + id
	b.pendMu.Lock()
	p, ok := b.pending[key]
	delete(b.pending, key)
	b.pendMu.Unlock()
	if ok {
		if !p.delivered { // the reply overtook the PUBACK: a reply implies delivery
			b.commandStatus(CommandStatus{Device: device, ID: id, State: CommandDelivered, At: time.Now()})
		}
		b.commandStatus(CommandStatus{Device: device, ID: id, State: CommandReplied, Reply: append([]byte(nil), payload...), At: time.Now()})
	}
}

// janitor times out commands and samples message rates once a second.
func (b *Broker) janitor() {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.sampleRates(now)
			var expired []*pendingCmd
			b.pendMu.Lock()
			for k, p := range b.pending {
				if now.After(p.deadline) {
					expired = append(expired, p)
					delete(b.pending, k)
				}
			}
			b.pendMu.Unlock()
			for _, p := range expired {
				b.commandStatus(CommandStatus{Device: p.device, ID: p.id, State: CommandTimeout, At: now})
			}
		}
	}
}

func (b *Broker) sampleRates(now time.Time) {
	in := atomic.LoadInt64(&b.srv.Info.MessagesReceived)
	out := atomic.LoadInt64(&b.srv.Info.MessagesSent)
	b.rateMu.Lock()
	defer b.rateMu.Unlock()
	if !b.lastAt.IsZero() {
		dt := now.Sub(b.lastAt).Seconds()
		if dt > 0 {
			b.rateIn = float64(in-b.lastIn) / dt
			b.rateOut = float64(out-b.lastOut) / dt
		}
	}
	b.lastIn, b.lastOut, b.lastAt = in, out, now
}

// emit queues a callback for the dispatcher; it never blocks.
func (b *Broker) emit(fn func()) {
	defer func() {
		if recover() != nil { // events channel closed during shutdown
			b.evDropped.Add(1)
		}
	}()
	select {
	case b.events <- fn:
	default:
		b.evDropped.Add(1)
	}
}

func (b *Broker) dispatch() {
	defer close(b.eventsDone)
	for fn := range b.events {
		func() {
			defer func() {
				if r := recover(); r != nil {
					b.log.Error("mqtt: event callback panicked", "panic", r)
				}
			}()
			fn()
		}()
	}
}

func (b *Broker) batchGivenUp(batch []Reading, err error) {
	seen := map[string]int64{}
	for _, r := range batch {
		seen[r.Device]++
	}
	for d, n := range seen {
		b.count(d, func(c *DeviceCounters) { c.Dropped += n }, "sink: "+err.Error())
	}
	if b.opts.OnBatchError != nil {
		b.opts.OnBatchError(batch, err)
	}
}

// count updates a device's counters and records lastErr.
func (b *Broker) count(device string, f func(*DeviceCounters), lastErr string) {
	v, ok := b.counters.Load(device)
	if !ok {
		v, _ = b.counters.LoadOrStore(device, &deviceCounters{})
	}
	dc := v.(*deviceCounters)
	dc.mu.Lock()
	f(&dc.c)
	if lastErr != "" {
		dc.c.LastError, dc.c.LastErrorAt = lastErr, time.Now()
	}
	dc.mu.Unlock()
}

// Counters returns a device's problem counters (zero when none).
func (b *Broker) Counters(device string) DeviceCounters {
	v, ok := b.counters.Load(device)
	if !ok {
		return DeviceCounters{}
	}
	dc := v.(*deviceCounters)
	dc.mu.Lock()
	defer dc.mu.Unlock()
	return dc.c
}

// Stats returns a snapshot of the broker's counters.
func (b *Broker) Stats() Stats {
	b.rateMu.Lock()
	rin, rout := b.rateIn, b.rateOut
	b.rateMu.Unlock()
	return Stats{
		Connections:     atomic.LoadInt64(&b.srv.Info.ClientsConnected),
		MessagesIn:      atomic.LoadInt64(&b.srv.Info.MessagesReceived),
		MessagesOut:     atomic.LoadInt64(&b.srv.Info.MessagesSent),
		MessagesInRate:  rin,
		MessagesOutRate: rout,
		Readings:        b.batch.readings.Load(),
		ReadingsWritten: b.batch.written.Load(),
		Batches:         b.batch.nbatches.Load(),
		BatchErrors:     b.batch.batchErrors.Load(),
		Dropped:         b.batch.dropped.Load() + atomic.LoadInt64(&b.hook.queueDropped),
		Malformed:       b.malformed.Load(),
		Oversize:        b.oversize.Load(),
		Denied:          b.denied.Load(),
		AuthFailures:    b.authFail.Load(),
		QueueLen:        len(b.batch.queue),
		QueueCap:        cap(b.batch.queue),
		EventsDropped:   b.evDropped.Load(),
	}
}

var _ = packets.CodeSuccess
