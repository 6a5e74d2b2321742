package pluginhost

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/plugins"
	"github.com/yiwang/yiwang/plugins/abi"
	"github.com/yiwang/yiwang/store"
)

// PermPluginAdmin is the right to install and manage plugins: system
// administration (a plugin runs inside the server, on every node).
var PermPluginAdmin = httpapi.PermSystemAdmin

// Options configure the module.
type Options struct {
	// IoT receives the payload decoder and is the source of alarm events
	// and of the broker plugins publish to (nil: no decoders, no alarms).
	IoT *iot.Module
	// Cases is where plugins open and annotate cases (nil: refused).
	Cases *cases.Module
	// CacheDir is the wazero compilation cache (default DATA/plugins-cache).
	CacheDir    string
	TrustedKeys []ed25519.PublicKey
	// Host overrides host limits (tests); KV, Publisher, Cases, Audit,
	// IsLeader, OnDisable and CacheDir are set by the module.
	Host plugins.Config
	Logf func(string, ...any)
}

// Module owns the installed plugins of this node.
type Module struct {
	opts Options
	logf func(string, ...any)
	st   *store.Store
	// host is set by Start; the broker's decoder may run before that.
	hostPtr atomic.Pointer[plugins.Host]
	host    *plugins.Host

	syncMu sync.Mutex // serialises reconcile

	evMu   sync.Mutex
	evSubs map[int]func(abi.Event)
	evNext int
	events chan abi.Event

	projMu   sync.Mutex
	projSeen map[int64]string // project id → stage/status last seen

	subs   []func()
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

var _ httpapi.Module = (*Module)(nil)

// New creates the module and hooks the decoder and alarm events into the
// iot module (which must not be registered with the store yet).
func New(opts Options) (*Module, error) {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	m := &Module{opts: opts, logf: opts.Logf, evSubs: map[int]func(abi.Event){}, events: make(chan abi.Event, 4096),
		projSeen: map[int64]string{}}
	if opts.IoT != nil {
		if err := opts.IoT.SetDecoder(m.decode); err != nil {
			return nil, err
		}
		if err := opts.IoT.AddEventHook(m.onIoTEvent); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Name implements httpapi.Module (and is the table prefix).
func (m *Module) Name() string { return "plugins" }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	m.registerCommands(st)
}

// Host is the node's plugin host (nil before Start).
func (m *Module) Host() *plugins.Host { return m.hostPtr.Load() }

// Start implements httpapi.Starter: create the host, load every installed
// plugin, follow install-state commands and domain events.
func (m *Module) Start(ctx context.Context) error {
	cfg := m.opts.Host
	cfg.CacheDir = m.opts.CacheDir
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(m.st.DataDir(), "plugins-cache")
	}
	cfg.TrustedKeys = append(cfg.TrustedKeys, m.opts.TrustedKeys...)
	cfg.TrustedKeysFunc = m.trustedKeys
	cfg.KV = kvStore{m}
	cfg.Publisher = publisher{m}
	cfg.Cases = caseActions{m}
	cfg.Audit = auditSink{m}
	cfg.IsLeader = m.st.IsLeader
	cfg.OnDisable = m.onAutoDisable
	h, err := plugins.New(cfg)
	if err != nil {
		return err
	}
	m.host = h
	m.hostPtr.Store(h)
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	from := m.st.AppliedIndex()
	m.reconcileAll(ctx)
	m.subs = append(m.subs, m.st.Subscribe("plugins", from, m.onStoreEvent))
	h.Attach(m, nil)
	h.Start()
	m.wg.Add(1)
	go m.deliver(ctx)
	return nil
}

// Stop implements httpapi.Stopper.
func (m *Module) Stop() error {
	for _, c := range m.subs {
		c()
	}
	m.subs = nil
	if m.cancel != nil {
		m.cancel()
	}
	m.wg.Wait()
	if m.host != nil {
		return m.host.Close()
	}
	return nil
}

// row is one installed plugin as replicated.
type row struct {
	Name           string
	Version        string
	Digest         string
	Package        []byte
	Approval       plugins.Approval
	Enabled        bool
	DisabledReason string
	AutoDisabled   bool
	InstalledAt    string
	InstalledBy    string
}

const rowCols = `name, version, digest, package, approval, enabled, disabled_reason, auto_disabled, installed_at, installed_by`

func scanRow(sc interface{ Scan(...any) error }) (*row, error) {
	var r row
	var ap string
	if err := sc.Scan(&r.Name, &r.Version, &r.Digest, &r.Package, &ap, &r.Enabled, &r.DisabledReason, &r.AutoDisabled, &r.InstalledAt, &r.InstalledBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(ap), &r.Approval); err != nil {
		return nil, err
	}
	return &r, nil
}

func (m *Module) getRow(ctx context.Context, name string) (*row, error) {
	r, err := scanRow(m.st.DB().QueryRowContext(ctx, `SELECT `+rowCols+` FROM plugins_plugin WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return r, err
}

func (m *Module) rows(ctx context.Context) ([]*row, error) {
	rs, err := m.st.DB().QueryContext(ctx, `SELECT `+rowCols+` FROM plugins_plugin ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []*row
	for rs.Next() {
		r, err := scanRow(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

func (m *Module) reconcileAll(ctx context.Context) {
	rs, err := m.rows(ctx)
	if err != nil {
		m.logf("plugins: read installed plugins: %v", err)
		return
	}
	for _, r := range rs {
		m.reconcile(ctx, r.Name)
	}
}

// reconcile makes this node's host match the replicated row of a plugin:
// load a new or upgraded package, apply the enabled state, unload a
// removed plugin.
func (m *Module) reconcile(ctx context.Context, name string) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	r, err := m.getRow(ctx, name)
	if err != nil {
		m.logf("plugins: %s: %v", name, err)
		return
	}
	info, ierr := m.host.Get(name)
	loaded := ierr == nil
	if r == nil {
		if loaded {
			if err := m.host.Remove(name); err != nil {
				m.logf("plugins: remove %s: %v", name, err)
			}
			m.logf("plugins: %s removed", name)
		}
		return
	}
	if !loaded || info.Digest != r.Digest {
		if _, err := m.host.Load(ctx, plugins.Record{Package: r.Package, Approval: r.Approval, Enabled: r.Enabled}); err != nil {
			m.logf("plugins: load %s %s on this node: %v", r.Name, r.Version, err)
			return
		}
		m.logf("plugins: %s %s loaded (enabled %v)", r.Name, r.Version, r.Enabled)
		return
	}
	switch {
	case r.Enabled && !info.Enabled:
		err = m.host.Enable(name)
	case !r.Enabled && info.Enabled:
		err = m.host.Disable(name)
	}
	if err != nil {
		m.logf("plugins: %s: %v", name, err)
	}
}

// onAutoDisable replicates the host's decision to disable a failing plugin.
func (m *Module) onAutoDisable(name, reason string) {
	m.logf("plugins: %s: %s", name, reason)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd, _ := store.NewCommand(CmdDisable, 1, DisablePayload{Name: name, Reason: reason, Auto: true})
		cmd.Actor = "system:plugins"
		if _, err := m.st.Apply(ctx, cmd); err != nil {
			m.logf("plugins: replicate auto-disable of %s: %v", name, err)
		}
	}()
}

// onStoreEvent follows install-state commands and turns case and project
// commands into plugin events.
func (m *Module) onStoreEvent(ev store.Event) {
	t := ev.Cmd.Type
	switch t {
	case CmdInstall, CmdEnable, CmdDisable, CmdRemove:
		var p struct {
			Name string `json:"name"`
		}
		if json.Unmarshal(ev.Result, &p) == nil && p.Name != "" {
			m.reconcile(context.Background(), p.Name)
		}
		return
	case cases.CmdCreate, cases.CmdTransition:
		if ev.Replayed {
			return
		}
		if e, ok := cases.DecodeEvent(ev); ok && (e.Type == abi.EventCaseCreated || e.Type == abi.EventCaseStateChanged) {
			m.queue(abi.Event{Type: e.Type, Time: ev.Cmd.Time, ID: fmt.Sprint(e.CaseID), Data: caseData(e)})
		}
		return
	}
	if strings.HasPrefix(t, "project.") && !ev.Replayed {
		m.projectEvent(ev)
	}
}

// caseData is the case as plugins see it: the case object with its id as a
// string, "urgent" and the transition.
func caseData(e cases.Event) json.RawMessage {
	b, _ := json.Marshal(e.Case)
	var obj map[string]any
	_ = json.Unmarshal(b, &obj)
	if obj == nil {
		obj = map[string]any{}
	}
	obj["id"] = fmt.Sprint(e.CaseID)
	obj["urgent"] = isUrgent(e.Case)
	obj["grid"] = e.GridCode
	obj["from_state"], obj["to_state"], obj["action"] = e.From, e.To, e.Action
	out, _ := json.Marshal(obj)
	return out
}

func isUrgent(c *cases.Case) bool {
	if c == nil {
		return false
	}
	switch strings.ToLower(c.Severity) {
	case "urgent", "critical", "紧急", "特急":
		return true
	}
	return c.Supervised
}

// projectEvent emits project.status_changed when a project command leaves
// a project in another stage or status than the module last saw.
func (m *Module) projectEvent(ev store.Event) {
	var p struct {
		ID     int64  `json:"id"`
		Stage  string `json:"stage"`
		Status string `json:"status"`
	}
	if len(ev.Result) == 0 || json.Unmarshal(ev.Result, &p) != nil || p.ID == 0 || p.Stage == "" {
		return
	}
	key := p.Stage + "/" + p.Status
	m.projMu.Lock()
	prev, seen := m.projSeen[p.ID]
	m.projSeen[p.ID] = key
	m.projMu.Unlock()
	if (seen && prev != key) || (!seen && ev.Cmd.Type == "project.transition") {
		var obj map[string]any
		_ = json.Unmarshal(ev.Result, &obj)
		obj["id"] = fmt.Sprint(p.ID)
		obj["previous"] = prev
		b, _ := json.Marshal(obj)
		m.queue(abi.Event{Type: abi.EventProjectStatusChange, Time: ev.Cmd.Time, ID: fmt.Sprint(p.ID), Data: b})
	}
}

// onIoTEvent takes alarm.raised and alarm.cleared from the iot module.
func (m *Module) onIoTEvent(msg live.Message, _ live.Audience) {
	if msg.Type != abi.EventAlarmRaised && msg.Type != abi.EventAlarmCleared {
		return
	}
	var a struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(msg.Data, &a)
	m.queue(abi.Event{Type: msg.Type, Time: msg.Time, ID: a.ID, Data: msg.Data})
}

func (m *Module) queue(ev abi.Event) {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	select {
	case m.events <- ev:
	default:
		m.logf("plugins: event queue full, %s %s not delivered to plugins", ev.Type, ev.ID)
	}
}

// Subscribe implements plugins.EventSource.
func (m *Module) Subscribe(fn func(abi.Event)) (cancel func()) {
	m.evMu.Lock()
	id := m.evNext
	m.evNext++
	m.evSubs[id] = fn
	m.evMu.Unlock()
	return func() {
		m.evMu.Lock()
		delete(m.evSubs, id)
		m.evMu.Unlock()
	}
}

// deliver hands queued events to the subscribers (the host) in order.
func (m *Module) deliver(ctx context.Context) {
	defer m.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-m.events:
			m.evMu.Lock()
			fns := make([]func(abi.Event), 0, len(m.evSubs))
			for _, f := range m.evSubs {
				fns = append(fns, f)
			}
			m.evMu.Unlock()
			for _, f := range fns {
				f(ev)
			}
		}
	}
}

// decode is the iot.PayloadDecoder: the decoder plugin of the device type
// turns the payload into telemetry.
func (m *Module) decode(deviceType string, payload []byte) (iot.Telemetry, error) {
	h := m.hostPtr.Load()
	if h == nil {
		return iot.Telemetry{}, iot.ErrNoPayloadDecoder
	}
	tel, err := h.Decode(context.Background(), deviceType, payload)
	if errors.Is(err, plugins.ErrNoDecoder) {
		return iot.Telemetry{}, iot.ErrNoPayloadDecoder
	}
	return iot.Telemetry{TS: tel.TS, Values: tel.Values}, err
}
