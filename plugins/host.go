package plugins

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/tetratelabs/wazero"
	"github.com/yiwang/yiwang/plugins/abi"
)

// KVStore is the plugin's private key-value store. The app backs it with
// replicated store commands (a write on a follower is forwarded to the
// leader); keys are scoped by plugin name, so an upgrade keeps the data.
type KVStore interface {
	Get(ctx context.Context, plugin, key string) (value []byte, found bool, err error)
	Set(ctx context.Context, plugin, key string, value []byte) error
	Delete(ctx context.Context, plugin, key string) error
	// List returns the keys starting with prefix, sorted.
	List(ctx context.Context, plugin, prefix string) ([]string, error)
}

// Publisher publishes to the embedded MQTT broker. The host has already
// checked the topic against the plugin's declared topics.
type Publisher interface {
	Publish(ctx context.Context, plugin, topic string, payload []byte, retain bool) error
}

// Cases opens cases and annotates objects on a plugin's behalf (the app
// turns these into store commands with actor "plugin:NAME").
type Cases interface {
	OpenCase(ctx context.Context, plugin string, c abi.OpenCaseAction) (id string, err error)
	Annotate(ctx context.Context, plugin string, a abi.AnnotateAction) error
}

// AuditSink records every outbound HTTP call a plugin makes or tries.
type AuditSink interface {
	RecordHTTP(ctx context.Context, rec HTTPAudit)
}

// EventSource delivers domain events (post-commit) to the host. See
// Host.Attach.
type EventSource interface {
	Subscribe(fn func(abi.Event)) (cancel func())
}

// HTTPAudit is one outbound HTTP call, allowed or refused.
type HTTPAudit struct {
	Plugin    string        `json:"plugin"`
	Time      time.Time     `json:"time"`
	Method    string        `json:"method"`
	URL       string        `json:"url"`
	Allowed   bool          `json:"allowed"`
	Status    int           `json:"status,omitempty"`
	Error     string        `json:"error,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
	ReqBytes  int           `json:"req_bytes"`
	RespBytes int           `json:"resp_bytes"`
}

// Config configures a Host. Zero values get the defaults noted.
type Config struct {
	// CacheDir holds wazero's compilation cache (compile once per module
	// content across restarts). Empty: in-memory cache only.
	CacheDir string
	// TrustedKeys are the ed25519 keys whose signatures the admin trusts.
	TrustedKeys []ed25519.PublicKey
	// TrustedKeysFunc, when set, returns more trusted keys at each check
	// (the app keeps them in its replicated store, so the admin can add
	// and remove keys without restarting).
	TrustedKeysFunc func() []ed25519.PublicKey

	MemoryLimitMB   int           // per instance; default 128
	CallTimeout     time.Duration // per call (decode, hook, job); default 5s
	InitTimeout     time.Duration // instantiation (guest init); default 10s
	MaxInstances    int           // instances per plugin; default GOMAXPROCS
	MaxFailures     int           // consecutive failures before disable; default 5
	HTTPTimeout     time.Duration // per outbound request; default 10s
	HTTPMaxResponse int64         // response body limit; default 1 MiB
	LogLines        int           // log ring per plugin; default 500

	KV        KVStore
	Publisher Publisher
	Cases     Cases
	Audit     AuditSink
	// IsLeader gates cron jobs and attached events so side effects happen
	// once per cluster. Nil means always (single node).
	IsLeader func() bool
	// OnDisable is told when a plugin is disabled after repeated failures,
	// so the app can replicate the state. Optional.
	OnDisable func(plugin, reason string)
	// Location for cron schedules; default time.Local.
	Location *time.Location
}

func (c *Config) defaults() {
	if c.MemoryLimitMB <= 0 {
		c.MemoryLimitMB = 128
	}
	if c.CallTimeout <= 0 {
		c.CallTimeout = 5 * time.Second
	}
	if c.InitTimeout <= 0 {
		c.InitTimeout = 10 * time.Second
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = runtime.GOMAXPROCS(0)
	}
	if c.MaxFailures <= 0 {
		c.MaxFailures = 5
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = 10 * time.Second
	}
	if c.HTTPMaxResponse <= 0 {
		c.HTTPMaxResponse = 1 << 20
	}
	if c.LogLines <= 0 {
		c.LogLines = 500
	}
	if c.Location == nil {
		c.Location = time.Local
	}
}

// Approval is the admin's decision on a package: which permissions and
// hosts are granted, settings, and whether an unsigned (or untrusted)
// package may be installed. It is replicated with the package bytes.
type Approval struct {
	Permissions   []string          `json:"permissions"`
	Hosts         []string          `json:"hosts,omitempty"`
	Settings      map[string]string `json:"settings,omitempty"`
	AllowUnsigned bool              `json:"allow_unsigned,omitempty"`
	ApprovedBy    string            `json:"approved_by,omitempty"`
}

// ApproveAll grants everything the manifest asks for (for tests and the
// CLI's --yes); signatures are still required unless allowUnsigned.
func ApproveAll(m *Manifest, allowUnsigned bool) Approval {
	return Approval{Permissions: slices.Clone(m.Permissions), Hosts: slices.Clone(m.Hosts), AllowUnsigned: allowUnsigned}
}

// Record is the replicated install state of one plugin: what the app stores
// through a store command and what every node's host Loads.
type Record struct {
	Package  []byte   `json:"package"`
	Approval Approval `json:"approval"`
	Enabled  bool     `json:"enabled"`
}

// Info describes an installed plugin (List).
type Info struct {
	Name           string            `json:"name"`
	Version        string            `json:"version"`
	Description    string            `json:"description,omitempty"`
	Author         string            `json:"author,omitempty"`
	Permissions    []string          `json:"permissions"`
	Hosts          []string          `json:"hosts,omitempty"` // approved
	Topics         []string          `json:"topics,omitempty"`
	Events         []string          `json:"events,omitempty"`
	DeviceTypes    []string          `json:"device_types,omitempty"`
	Cron           []CronEntry       `json:"cron,omitempty"`
	Settings       map[string]string `json:"settings,omitempty"`
	Signed         bool              `json:"signed"`
	SignerKeyID    string            `json:"signer_key_id,omitempty"`
	Digest         string            `json:"digest"`
	Enabled        bool              `json:"enabled"`
	DisabledReason string            `json:"disabled_reason,omitempty"`
	Metrics        Metrics           `json:"metrics"`
}

// Metrics are a plugin's call statistics on this node.
type Metrics struct {
	Calls               uint64        `json:"calls"`
	Failures            uint64        `json:"failures"` // traps, timeouts, exits, bad output
	Errors              uint64        `json:"errors"`   // errors the plugin returned (bad payload, ...)
	ConsecutiveFailures int           `json:"consecutive_failures"`
	TotalTime           time.Duration `json:"total_time_ns"`
	AvgTime             time.Duration `json:"avg_time_ns"`
	LastError           string        `json:"last_error,omitempty"`
	LastErrorAt         time.Time     `json:"last_error_at,omitzero"`
	Instances           int           `json:"instances"`
}

// LogLine is one line of a plugin's log (guest log calls, guest
// stdout/stderr, host notes about the plugin).
type LogLine struct {
	Time    time.Time `json:"time"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// Errors callers can test with errors.Is.
var (
	ErrNotFound  = errors.New("plugin not found")
	ErrDisabled  = errors.New("plugin is disabled")
	ErrNoDecoder = errors.New("no decoder plugin for device type")
)

// Host runs plugins. It is safe for concurrent use.
type Host struct {
	cfg   Config
	cache wazero.CompilationCache
	// vrt compiles packages during Validate (shares the cache).
	vrt wazero.Runtime

	mu       sync.RWMutex
	plugins  map[string]*plugin
	decoders map[string]*plugin // device type → plugin

	cron     *cron.Cron
	cronOnce sync.Once
	detach   []func()
	closed   bool
}

// New creates a host. Call Close when done.
func New(cfg Config) (*Host, error) {
	cfg.defaults()
	h := &Host{cfg: cfg, plugins: map[string]*plugin{}, decoders: map[string]*plugin{}}
	if cfg.CacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugins: compilation cache: %w", err)
		}
		h.cache = c
	} else {
		h.cache = wazero.NewCompilationCache()
	}
	h.vrt = wazero.NewRuntimeWithConfig(context.Background(), h.runtimeConfig(false))
	h.cron = cron.New(cron.WithParser(cronParser), cron.WithLocation(cfg.Location))
	return h, nil
}

// runtimeConfig: closeOnDone is only needed for modules the loop
// instrumentation cannot handle (see instrument.go).
func (h *Host) runtimeConfig(closeOnDone bool) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithCompilationCache(h.cache).
		WithMemoryLimitPages(uint32(h.cfg.MemoryLimitMB) * 16). // 64 KiB pages
		WithCloseOnContextDone(closeOnDone)
}

// Close stops cron, unloads every plugin and releases the runtimes.
func (h *Host) Close() error {
	h.cron.Stop()
	h.mu.Lock()
	h.closed = true
	ps := slices.Collect(maps.Values(h.plugins))
	h.plugins = map[string]*plugin{}
	h.decoders = map[string]*plugin{}
	detach := h.detach
	h.detach = nil
	h.mu.Unlock()
	for _, d := range detach {
		d()
	}
	for _, p := range ps {
		p.close()
	}
	ctx := context.Background()
	h.vrt.Close(ctx)
	return h.cache.Close(ctx)
}

// Validate is the leader-side half of install: it parses the package,
// checks the signature against the trusted keys (or the unsigned
// override), the ABI version, the permissions against the approval, device
// type conflicts with other plugins, and compiles the module checking its
// imports and exports. It changes nothing. The app then stores
// Record{Package, Approval, Enabled: true} through a replicated command and
// every node calls Load.
func (h *Host) Validate(ctx context.Context, pkg []byte, ap Approval) (*Manifest, error) {
	p, err := h.check(pkg, ap)
	if err != nil {
		return nil, err
	}
	if bin, err := instrumentLoops(p.Wasm); err == nil {
		// Compile what Load will run, so Load hits the cache.
		p = &Package{Manifest: p.Manifest, Wasm: bin}
	}
	cm, err := h.compile(ctx, h.vrt, p)
	if err != nil {
		return nil, err
	}
	cm.Close(ctx)
	return p.Manifest, nil
}

func (h *Host) check(pkg []byte, ap Approval) (*Package, error) {
	p, err := ReadPackage(pkg)
	if err != nil {
		return nil, err
	}
	m := p.Manifest
	trusted := h.cfg.TrustedKeys
	if h.cfg.TrustedKeysFunc != nil {
		trusted = append(slices.Clone(trusted), h.cfg.TrustedKeysFunc()...)
	}
	switch key := p.signerKey(); {
	case key != nil && slices.ContainsFunc(trusted, func(k ed25519.PublicKey) bool { return k.Equal(key) }):
		// signed by a trusted key
	case ap.AllowUnsigned:
		// admin override
	case key != nil:
		return nil, fmt.Errorf("plugin %s is signed by untrusted key %s (trust the key or install with the unsigned override)", m.Name, KeyID(key))
	default:
		return nil, fmt.Errorf("plugin %s is not signed (install with the unsigned override to accept it)", m.Name)
	}
	for _, perm := range m.Permissions {
		if !slices.Contains(ap.Permissions, perm) {
			return nil, fmt.Errorf("plugin %s: permission %q was not approved", m.Name, perm)
		}
	}
	for _, host := range ap.Hosts {
		if !slices.Contains(m.Hosts, host) {
			return nil, fmt.Errorf("plugin %s: approved host %q is not declared in the manifest", m.Name, host)
		}
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, d := range m.DeviceTypes {
		if other, ok := h.decoders[d]; ok && other.name != m.Name {
			return nil, fmt.Errorf("plugin %s: device type %q is already decoded by plugin %s", m.Name, d, other.name)
		}
	}
	return p, nil
}

// Load is the every-node half of install (and of upgrade, and of start-up:
// the app Loads every stored Record). It re-checks the package, compiles it
// (from the on-disk cache when possible), instantiates one instance to
// verify the guest's ABI, then replaces any loaded plugin of the same name.
// The plugin's KV data is keyed by name and so survives upgrades.
func (h *Host) Load(ctx context.Context, rec Record) (*Manifest, error) {
	pk, err := h.check(rec.Package, rec.Approval)
	if err != nil {
		return nil, err
	}
	p, err := h.newPlugin(ctx, pk, rec)
	if err != nil {
		return nil, err
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		p.close()
		return nil, errors.New("plugins: host is closed")
	}
	old := h.plugins[p.name]
	if old != nil {
		h.unregisterLocked(old)
	}
	h.plugins[p.name] = p
	for _, d := range p.man.DeviceTypes {
		h.decoders[d] = p
	}
	h.scheduleLocked(p)
	h.mu.Unlock()
	if old != nil {
		old.close()
		p.logf("info", "upgraded from %s to %s", old.man.Version, p.man.Version)
	} else {
		p.logf("info", "loaded %s %s", p.name, p.man.Version)
	}
	return pk.Manifest, nil
}

// Install is Validate followed by Load, for a single node or tests.
func (h *Host) Install(ctx context.Context, pkg []byte, ap Approval) (*Manifest, error) {
	if _, err := h.Validate(ctx, pkg, ap); err != nil {
		return nil, err
	}
	return h.Load(ctx, Record{Package: pkg, Approval: ap, Enabled: true})
}

// Upgrade installs a new version of an installed plugin, keeping its data
// (and its log). It refuses a package of another plugin or the same version.
func (h *Host) Upgrade(ctx context.Context, pkg []byte, ap Approval) (*Manifest, error) {
	m, err := h.Validate(ctx, pkg, ap)
	if err != nil {
		return nil, err
	}
	h.mu.RLock()
	old := h.plugins[m.Name]
	h.mu.RUnlock()
	if old == nil {
		return nil, fmt.Errorf("upgrade %s: %w", m.Name, ErrNotFound)
	}
	if old.man.Version == m.Version {
		return nil, fmt.Errorf("upgrade %s: version %s is already installed", m.Name, m.Version)
	}
	return h.Load(ctx, Record{Package: pkg, Approval: ap, Enabled: true})
}

// Remove unloads a plugin on this node. Its KV data stays in the store
// until the app deletes it (so a reinstall finds it).
func (h *Host) Remove(name string) error {
	h.mu.Lock()
	p := h.plugins[name]
	if p == nil {
		h.mu.Unlock()
		return fmt.Errorf("remove %s: %w", name, ErrNotFound)
	}
	h.unregisterLocked(p)
	delete(h.plugins, name)
	h.mu.Unlock()
	p.close()
	return nil
}

func (h *Host) unregisterLocked(p *plugin) {
	for _, d := range p.man.DeviceTypes {
		if h.decoders[d] == p {
			delete(h.decoders, d)
		}
	}
	for _, id := range p.cronIDs {
		h.cron.Remove(id)
	}
}

func (h *Host) get(name string) (*plugin, error) {
	h.mu.RLock()
	p := h.plugins[name]
	h.mu.RUnlock()
	if p == nil {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return p, nil
}

// Enable enables a plugin and clears its failure streak.
func (h *Host) Enable(name string) error {
	p, err := h.get(name)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.enabled, p.disabledReason, p.metrics.ConsecutiveFailures = true, "", 0
	p.mu.Unlock()
	p.logf("info", "enabled")
	return nil
}

// Disable disables a plugin: its decoder, hooks and jobs are not called.
func (h *Host) Disable(name string) error {
	p, err := h.get(name)
	if err != nil {
		return err
	}
	p.disable("disabled by admin", false)
	return nil
}

// List describes every loaded plugin, sorted by name.
func (h *Host) List() []Info {
	h.mu.RLock()
	ps := slices.Collect(maps.Values(h.plugins))
	h.mu.RUnlock()
	out := make([]Info, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.info())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Get describes one plugin.
func (h *Host) Get(name string) (Info, error) {
	p, err := h.get(name)
	if err != nil {
		return Info{}, err
	}
	return p.info(), nil
}

// Logs returns up to n most recent log lines of a plugin (n <= 0: all kept).
func (h *Host) Logs(name string, n int) ([]LogLine, error) {
	p, err := h.get(name)
	if err != nil {
		return nil, err
	}
	return p.logs.tail(n), nil
}
