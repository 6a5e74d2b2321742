package iot

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
	"github.com/yiwang/yiwang/store"
)

// Options configure the module.
type Options struct {
	// MQTT is the broker's plain TCP listen address (config key mqtt);
	// "" or "-" runs no broker (the registry, rules and API still work).
	MQTT string
	// MQTTTLS is the MQTT over TLS listen address ("" = none); the
	// certificate is generated into <data>/mqtt-tls on first start.
	MQTTTLS string
	// Hub receives post-commit events for consoles (nil = none).
	Hub *live.Hub
	// Sessions validates console session tokens for MQTT over WebSocket
	// (the org module). Nil refuses every console session.
	Sessions httpapi.Authenticator
	// Cases opens cases for alarms (nil: alarms keep waiting in the outbox
	// until one is set with SetCaseOpener).
	Cases CaseOpener
	Logf  func(format string, args ...any)
	// OnEvent receives every message the module publishes (nil = none).
	OnEvent EventHook

	// Tuning (zero = defaults): how often the leader checks inactivity and
	// no-data rules, reconciles the case outbox, prunes telemetry; how long
	// connection events are collected before they are recorded; how often
	// latest values are pushed to consoles; how long a cleared alarm must
	// stay cleared before the clear is noted on its case.
	TickInterval      time.Duration
	ReconcileInterval time.Duration
	PruneInterval     time.Duration
	RollupInterval    time.Duration
	ConnDebounce      time.Duration
	LatestInterval    time.Duration
	ClearSettle       time.Duration
	// Broker overrides broker options (tests, benchmarks): called with the
	// options the module built, before the broker is created.
	Broker func(*mqtt.Options)
}

// Module is the IoT module: device registry, telemetry, alarm rules and the
// embedded MQTT broker's authenticator and sink.
type Module struct {
	opts Options
	st   *store.Store
	logf func(string, ...any)

	broker    *mqtt.Broker
	brokerErr error
	auth      *authenticator

	cache devCache
	rules ruleCache

	casesMu sync.RWMutex
	cases   CaseOpener

	connMu  sync.Mutex
	connBuf map[string]mqtt.ConnEvent

	latestMark atomic.Uint64

	poke   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
	subs   []func()
}

var (
	_ httpapi.Module  = (*Module)(nil)
	_ httpapi.Starter = (*Module)(nil)
	_ httpapi.Stopper = (*Module)(nil)
)

// New returns the module.
func New(opts Options) *Module {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	def := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&opts.TickInterval, 15*time.Second)
	def(&opts.ReconcileInterval, 2*time.Second)
	def(&opts.PruneInterval, time.Hour)
	def(&opts.RollupInterval, time.Second)
	def(&opts.ConnDebounce, time.Second)
	def(&opts.LatestInterval, 2*time.Second)
	def(&opts.ClearSettle, 5*time.Minute)
	m := &Module{opts: opts, logf: opts.Logf, cases: opts.Cases, connBuf: map[string]mqtt.ConnEvent{}, poke: make(chan struct{}, 1)}
	m.auth = newAuthenticator(m)
	return m
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "iot" }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	st.AddMigrations("iot", migrations...)
	m.registerCommands(st)
	if m.opts.Hub != nil {
		m.liveClassifiers(m.opts.Hub)
	}
	if m.opts.MQTT != "" && m.opts.MQTT != "-" {
		b, err := m.newBroker()
		if err != nil {
			m.logf("iot: mqtt broker: %v", err)
			return
		}
		m.broker = b
	}
}

func (m *Module) newBroker() (*mqtt.Broker, error) {
	o := mqtt.Options{
		TCPAddr:      m.opts.MQTT,
		TLSAddr:      "-",
		WSAddr:       "-",
		Auth:         m.auth,
		Sink:         mqtt.SinkFunc(m.WriteBatch),
		OnConnection: m.onConnection,
		OnCommand:    m.onCommand,
		// Per-command overhead (raft entry, command log row, event) is what
		// limits telemetry throughput, not the rows: at high rates batches
		// of up to 10,000 readings persist ~3× faster than batches of 1,000
		// (app/iot benchmarks). At low rates BatchDelay flushes first, so
		// latency is unchanged.
		BatchSize:   10000,
		SinkWorkers: 4,
		Logger:      slog.New(slog.NewTextHandler(logfWriter{m.logf}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	if m.opts.MQTTTLS != "" && m.opts.MQTTTLS != "-" {
		o.TLSAddr = m.opts.MQTTTLS
		o.CertDir = m.st.DataDir() + "/mqtt-tls"
	}
	if m.opts.Broker != nil {
		m.opts.Broker(&o)
	}
	return mqtt.New(o)
}

type logfWriter struct{ logf func(string, ...any) }

func (w logfWriter) Write(p []byte) (int, error) {
	w.logf("%s", string(p))
	return len(p), nil
}

// Broker is the embedded MQTT broker (nil when disabled).
func (m *Module) Broker() *mqtt.Broker { return m.broker }

// Authenticator is the broker's DeviceAuthenticator (for a broker the
// caller runs itself).
func (m *Module) Authenticator() mqtt.DeviceAuthenticator { return m.auth }

// SetCaseOpener sets (or replaces) the case opener; the reconciler uses it
// from its next round.
func (m *Module) SetCaseOpener(c CaseOpener) {
	m.casesMu.Lock()
	m.cases = c
	m.casesMu.Unlock()
	m.kick()
}

func (m *Module) caseOpener() CaseOpener {
	m.casesMu.RLock()
	defer m.casesMu.RUnlock()
	return m.cases
}

// Start implements httpapi.Starter: the broker's listeners, the event
// subscriber that feeds consoles, and the leader-only loops.
func (m *Module) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	m.cancel = cancel
	m.subs = append(m.subs, m.st.Subscribe("iot.events", m.st.AppliedIndex(), m.onStoreEvent))
	m.loop(ctx, m.opts.ConnDebounce, m.flushConn, false)
	m.loop(ctx, m.opts.TickInterval, m.tick, true)
	m.loop(ctx, m.opts.PruneInterval, m.prune, true)
	m.loop(ctx, m.opts.RollupInterval, m.rollup, true)
	m.loop(ctx, m.opts.LatestInterval, m.publishLatest, false)
	m.wg.Add(1)
	go m.reconcileLoop(ctx)
	if m.broker != nil {
		// A node whose MQTT port is taken still serves the console and the
		// API (and the rest of the cluster's brokers keep working): the
		// failure is logged and reported by /api/v1/iot/stats.
		if err := m.broker.Start(ctx); err != nil {
			m.brokerErr = fmt.Errorf("mqtt broker on %s: %w", m.opts.MQTT, err)
			m.logf("iot: ERROR: %v; sensors cannot connect to this node", m.brokerErr)
			_ = m.broker.Close()
		} else {
			m.logf("iot: mqtt broker listening on %s", m.broker.TCPAddr())
		}
	}
	return nil
}

// BrokerError is why the broker is not running on this node (nil when it
// runs or is disabled).
func (m *Module) BrokerError() error { return m.brokerErr }

// loop runs fn every interval (on the leader only when leaderOnly).
func (m *Module) loop(ctx context.Context, every time.Duration, fn func(context.Context) error, leaderOnly bool) {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if leaderOnly && !m.st.IsLeader() {
					continue
				}
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					m.logf("iot: %v", err)
				}
			}
		}
	}()
}

// Stop implements httpapi.Stopper: the broker flushes its queue into the
// store, pending connection events are recorded, loops end.
func (m *Module) Stop() error {
	var err error
	if m.broker != nil {
		err = m.broker.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = m.flushConn(ctx)
	cancel()
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	for _, c := range m.subs {
		c()
	}
	m.subs = nil
	return err
}

// apply issues a command as actor.
func (m *Module) apply(ctx context.Context, actor, typ string, payload any, out any) (store.Result, error) {
	cmd, err := store.NewCommand(typ, 1, payload)
	if err != nil {
		return store.Result{}, err
	}
	cmd.Actor = actor
	res, err := m.st.Apply(ctx, cmd)
	if err != nil {
		return res, err
	}
	if out != nil {
		return res, res.Decode(out)
	}
	return res, nil
}

func (m *Module) kick() {
	select {
	case m.poke <- struct{}{}:
	default:
	}
}
