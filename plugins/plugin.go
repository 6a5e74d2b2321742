package plugins

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"
	"github.com/yiwang/yiwang/plugins/abi"
)

// maxOutput bounds what a guest may return from one call.
const maxOutput = 4 << 20

// fixedTime is what a plugin without the "clock" permission sees as now
// (the same instant as wazero's fake WASI walltime).
var fixedTime = time.Unix(1640995200, 0)

// plugin is one loaded plugin: its own wazero runtime (memory limit,
// compiled module) and a pool of instances.
type plugin struct {
	h        *Host
	name     string
	man      *Manifest
	pkg      *Package
	ap       Approval
	hosts    []string // manifest hosts ∩ approved hosts
	settings map[string]string
	perms    map[string]bool

	rt           wazero.Runtime
	compiled     wazero.CompiledModule
	instrumented bool // yw_stop global injected: timeouts via watchdog
	modCfg       wazero.ModuleConfig

	slots chan struct{}  // one token per instance allowed to exist
	idle  chan *instance // idle instances

	logs    *ring
	cronIDs []cron.EntryID

	mu             sync.Mutex
	enabled        bool
	disabledReason string
	closed         bool
	metrics        Metrics
}

type instance struct {
	mod    api.Module
	stop   *atomic.Bool // set by the watchdog; nil when not instrumented
	buffer api.Function
	fns    map[string]api.Function
	bufPtr uint32
	bufCap uint32
	stderr *lineWriter
}

func (h *Host) compile(ctx context.Context, rt wazero.Runtime, p *Package) (wazero.CompiledModule, error) {
	cm, err := rt.CompileModule(ctx, p.Wasm)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: compile: %w", p.Manifest.Name, err)
	}
	fail := func(format string, args ...any) (wazero.CompiledModule, error) {
		cm.Close(ctx)
		return nil, fmt.Errorf("plugin %s: "+format, append([]any{p.Manifest.Name}, args...)...)
	}
	known := []string{abi.HostLog, abi.HostResultRead, abi.HostKVGet, abi.HostKVSet, abi.HostKVDelete, abi.HostKVList,
		abi.HostHTTP, abi.HostNow, abi.HostPublish, abi.HostSetting}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch {
		case mod == wasi_snapshot_preview1.ModuleName:
		case mod == abi.HostModule && slices.Contains(known, name):
		default:
			return fail("imports unknown function %s.%s (built for another host or ABI?)", mod, name)
		}
	}
	if len(cm.ImportedMemories()) > 0 {
		return fail("imports memory; it must define its own")
	}
	exp := cm.ExportedFunctions()
	need := []string{"_initialize", abi.ExportABI, abi.ExportBuffer}
	m := p.Manifest
	if m.Has(abi.PermDecode) {
		need = append(need, abi.ExportDecode)
	}
	if m.Has(abi.PermEvents) {
		need = append(need, abi.ExportEvent)
	}
	if m.Has(abi.PermCron) {
		need = append(need, abi.ExportJob)
	}
	for _, n := range need {
		if _, ok := exp[n]; !ok {
			return fail("does not export %s (build with -buildmode=c-shared and the yiwang sdk)", n)
		}
	}
	return cm, nil
}

func (h *Host) newPlugin(ctx context.Context, pk *Package, rec Record) (*plugin, error) {
	m := pk.Manifest
	p := &plugin{h: h, name: m.Name, man: m, pkg: pk, ap: rec.Approval, enabled: rec.Enabled,
		settings: map[string]string{}, perms: map[string]bool{},
		slots: make(chan struct{}, h.cfg.MaxInstances), idle: make(chan *instance, h.cfg.MaxInstances)}
	if !rec.Enabled {
		p.disabledReason = "disabled by admin"
	}
	for _, perm := range m.Permissions {
		p.perms[perm] = true
	}
	for _, host := range m.Hosts {
		if slices.Contains(rec.Approval.Hosts, host) {
			p.hosts = append(p.hosts, host)
		}
	}
	maps.Copy(p.settings, m.Settings)
	maps.Copy(p.settings, rec.Approval.Settings)
	// Keep the log across upgrades.
	h.mu.RLock()
	if old := h.plugins[m.Name]; old != nil {
		p.logs = old.logs
	}
	h.mu.RUnlock()
	if p.logs == nil {
		p.logs = newRing(h.cfg.LogLines)
	}

	// Prefer the instrumented module (cheap timeouts, see instrument.go);
	// fall back to wazero's close-on-context-done checks.
	run := pk
	if bin, err := instrumentLoops(pk.Wasm); err == nil {
		run = &Package{Manifest: m, Wasm: bin}
		p.instrumented = true
	}
	p.rt = wazero.NewRuntimeWithConfig(ctx, h.runtimeConfig(!p.instrumented))
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		p.rt.Close(ctx)
		return nil, err
	}
	if err := h.instantiateHostModule(ctx, p.rt); err != nil {
		p.rt.Close(ctx)
		return nil, err
	}
	cm, err := h.compile(ctx, p.rt, run)
	if err != nil {
		p.rt.Close(ctx)
		return nil, err
	}
	p.compiled = cm
	// No FS, no args, no env, no sockets: WASI gets nothing but stdio
	// (captured into the plugin log), random, and a clock that is fake
	// unless the "clock" permission is granted.
	p.modCfg = wazero.NewModuleConfig().WithName("").WithRandSource(rand.Reader)
	if p.instrumented {
		p.modCfg = p.modCfg.WithStartFunctions() // _initialize runs under the watchdog
	} else {
		p.modCfg = p.modCfg.WithStartFunctions("_initialize")
	}
	if p.perms[abi.PermClock] {
		p.modCfg = p.modCfg.WithSysWalltime().WithSysNanotime()
	}
	// Instantiate one instance now: this runs the guest's init and checks
	// its ABI, so a broken plugin fails at install rather than later.
	p.slots <- struct{}{}
	inst, err := p.instantiate(ctx)
	if err != nil {
		p.rt.Close(ctx)
		return nil, err
	}
	p.idle <- inst
	return p, nil
}

func (p *plugin) instantiate(ctx context.Context) (*instance, error) {
	ctx, cancel := context.WithTimeout(ctx, p.h.cfg.InitTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, callKey{}, &callState{p: p, ctx: ctx, init: true})
	inst := &instance{stderr: &lineWriter{p: p, level: "stderr"}, fns: map[string]api.Function{}}
	cfg := p.modCfg.WithStdout(&lineWriter{p: p, level: "stdout"}).WithStderr(inst.stderr)
	if p.instrumented {
		stop := new(atomic.Bool)
		inst.stop = stop
		// The injected loop-header code calls sched_yield regularly.
		cfg = cfg.WithOsyield(func() {
			if stop.Load() {
				panic(sys.NewExitError(sys.ExitCodeDeadlineExceeded))
			}
		})
	}
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, cfg)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: instantiate: %w%s", p.name, err, inst.stderr.tail())
	}
	inst.mod = mod
	if p.instrumented {
		stopped := false
		err := inst.guard(ctx, &stopped, func() error {
			_, err := mod.ExportedFunction("_initialize").Call(ctx)
			return err
		})
		if err != nil {
			mod.Close(ctx)
			if stopped {
				return nil, fmt.Errorf("plugin %s: initialisation timed out after %v", p.name, p.h.cfg.InitTimeout)
			}
			return nil, fmt.Errorf("plugin %s: initialise: %w%s", p.name, err, inst.stderr.tail())
		}
	}
	res, err := mod.ExportedFunction(abi.ExportABI).Call(ctx)
	if err != nil {
		mod.Close(ctx)
		return nil, fmt.Errorf("plugin %s: yw_abi: %w", p.name, err)
	}
	if len(res) != 1 || uint32(res[0]) != abi.Version {
		mod.Close(ctx)
		return nil, fmt.Errorf("plugin %s: guest speaks ABI %v, host %d", p.name, res, abi.Version)
	}
	inst.buffer = mod.ExportedFunction(abi.ExportBuffer)
	for _, n := range []string{abi.ExportDecode, abi.ExportEvent, abi.ExportJob} {
		if f := mod.ExportedFunction(n); f != nil {
			inst.fns[n] = f
		}
	}
	p.mu.Lock()
	p.metrics.Instances++
	p.mu.Unlock()
	return inst, nil
}

// acquire takes an idle instance or creates one if fewer than MaxInstances
// exist; otherwise it waits. This is the concurrency model: each instance
// runs one call at a time (a Go guest is single-threaded), and a plugin
// runs up to MaxInstances calls in parallel.
func (p *plugin) acquire(ctx context.Context) (*instance, error) {
	select {
	case inst := <-p.idle:
		return inst, nil
	default:
	}
	select {
	case inst := <-p.idle:
		return inst, nil
	case p.slots <- struct{}{}:
		inst, err := p.instantiate(ctx)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return inst, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *plugin) release(inst *instance, healthy bool) {
	p.mu.Lock()
	closed := p.closed
	if !healthy || closed {
		p.metrics.Instances--
	}
	p.mu.Unlock()
	if healthy && !closed {
		p.idle <- inst
		return
	}
	inst.mod.Close(context.Background())
	<-p.slots
}

type callKey struct{}

// callState is what host functions see of the call they serve.
type callState struct {
	p       *plugin
	ctx     context.Context
	init    bool
	pending []byte
}

func (cs *callState) ok(b []byte) int64 {
	cs.pending = b
	return int64(len(b))
}

func (cs *callState) fail(format string, args ...any) int64 {
	cs.pending = fmt.Appendf(nil, format, args...)
	return -int64(len(cs.pending)) - 1
}

// callError is a failure of the plugin itself (trap, timeout, exit, bad
// output), as opposed to an error the plugin reported.
type callError struct {
	plugin string
	msg    string
}

func (e *callError) Error() string { return "plugin " + e.plugin + ": " + e.msg }

// IsFailure reports whether err is a plugin failure (trap, timeout, exit,
// memory, bad output) rather than an error the plugin returned.
func IsFailure(err error) bool {
	var ce *callError
	return errors.As(err, &ce)
}

// call runs one guest export with head+body written to the guest buffer
// (for yw_decode head is the device type, body the payload; otherwise body
// is empty).
func (p *plugin) call(ctx context.Context, export string, head, body []byte) ([]byte, error) {
	p.mu.Lock()
	enabled, closed := p.enabled, p.closed
	p.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("%s: %w", p.name, ErrNotFound)
	}
	if !enabled {
		return nil, fmt.Errorf("%s: %w", p.name, ErrDisabled)
	}
	start := time.Now()
	inst, err := p.acquire(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		return nil, p.record(start, &callError{p.name, err.Error()})
	}
	cctx, cancel := context.WithTimeout(ctx, p.h.cfg.CallTimeout)
	defer cancel()
	cs := &callState{p: p, ctx: cctx}
	cctx = context.WithValue(cctx, callKey{}, cs)
	stopped := false
	var out []byte
	err = inst.guard(cctx, &stopped, func() (err error) {
		out, err = inst.run(cctx, export, head, body)
		return err
	})
	if stopped && err != nil && cctx.Err() == context.DeadlineExceeded {
		err = sys.NewExitError(sys.ExitCodeDeadlineExceeded)
	} else if stopped && err != nil {
		err = sys.NewExitError(sys.ExitCodeContextCanceled)
	}
	if err != nil {
		// The instance may be half-way through anything: drop it.
		p.release(inst, false)
		if p.isClosed() {
			return nil, fmt.Errorf("%s: %w", p.name, ErrNotFound)
		}
		msg := err.Error()
		var ee *sys.ExitError
		switch {
		case errors.As(err, &ee) && ee.ExitCode() == sys.ExitCodeDeadlineExceeded:
			msg = fmt.Sprintf("timed out after %v", p.h.cfg.CallTimeout)
		case errors.As(err, &ee) && ee.ExitCode() == sys.ExitCodeContextCanceled:
			msg = "call canceled"
		case errors.As(err, &ee):
			msg = fmt.Sprintf("exited with code %d", ee.ExitCode())
		}
		return nil, p.record(start, &callError{p.name, msg + inst.stderr.tail()})
	}
	p.release(inst, !stopped)
	return out, nil
}

// guard runs fn with the watchdog armed: when ctx is done (deadline or
// cancel) the stop flag is set and the guest is aborted at its next yield
// (see instrument.go). *stopped reports whether the watchdog fired; the instance must
// then be discarded even if fn finished.
func (inst *instance) guard(ctx context.Context, stopped *bool, fn func() error) error {
	if inst.stop == nil {
		return fn()
	}
	halt := context.AfterFunc(ctx, func() { inst.stop.Store(true) })
	err := fn()
	*stopped = !halt()
	return err
}

func (inst *instance) run(ctx context.Context, export string, head, body []byte) ([]byte, error) {
	fn := inst.fns[export]
	if fn == nil {
		return nil, fmt.Errorf("does not export %s", export)
	}
	n := uint32(len(head) + len(body))
	if n > inst.bufCap || inst.bufCap == 0 {
		want := max(n, 4096)
		res, err := inst.buffer.Call(ctx, uint64(want))
		if err != nil {
			return nil, err
		}
		inst.bufPtr, inst.bufCap = uint32(res[0]), want
	}
	mem := inst.mod.Memory()
	if !mem.Write(inst.bufPtr, head) || !mem.Write(inst.bufPtr+uint32(len(head)), body) {
		return nil, errors.New("yw_buffer returned a buffer outside memory")
	}
	var stack [3]uint64
	params := stack[:2]
	stack[0], stack[1] = uint64(inst.bufPtr), uint64(n)
	if export == abi.ExportDecode {
		params = stack[:3]
		stack[1], stack[2] = uint64(len(head)), uint64(len(body))
	}
	if err := fn.CallWithStack(ctx, params); err != nil {
		return nil, err
	}
	ptr, ln := abi.Unpack(params[0])
	if ln > maxOutput {
		return nil, fmt.Errorf("result of %d bytes exceeds %d", ln, maxOutput)
	}
	b, ok := mem.Read(ptr, ln)
	if !ok {
		return nil, errors.New("result points outside memory")
	}
	return bytes.Clone(b), nil
}

// record updates the metrics after a call; err is nil, an error the plugin
// reported, or a *callError (a failure, which counts towards disabling).
func (p *plugin) record(start time.Time, err error) error {
	d := time.Since(start)
	p.mu.Lock()
	m := &p.metrics
	m.Calls++
	m.TotalTime += d
	m.AvgTime = m.TotalTime / time.Duration(m.Calls)
	var disable string
	if err != nil {
		m.LastError, m.LastErrorAt = err.Error(), time.Now()
		if IsFailure(err) {
			m.Failures++
			m.ConsecutiveFailures++
			if m.ConsecutiveFailures >= p.h.cfg.MaxFailures && p.enabled {
				disable = fmt.Sprintf("disabled after %d consecutive failures; last: %s", m.ConsecutiveFailures, err)
			}
		} else {
			m.Errors++
			m.ConsecutiveFailures = 0
		}
	} else {
		m.ConsecutiveFailures = 0
	}
	p.mu.Unlock()
	if err != nil && IsFailure(err) {
		p.logf("error", "%v", err)
	}
	if disable != "" {
		p.disable(disable, true)
	}
	return err
}

func (p *plugin) disable(reason string, auto bool) {
	p.mu.Lock()
	was := p.enabled
	p.enabled, p.disabledReason = false, reason
	p.mu.Unlock()
	p.logf("warn", "%s", reason)
	if auto && was && p.h.cfg.OnDisable != nil {
		p.h.cfg.OnDisable(p.name, reason)
	}
}

func (p *plugin) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

func (p *plugin) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	p.rt.Close(context.Background())
}

func (p *plugin) info() Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.man
	in := Info{Name: m.Name, Version: m.Version, Description: m.Description, Author: m.Author,
		Permissions: slices.Clone(m.Permissions), Hosts: slices.Clone(p.hosts), Topics: m.Topics,
		Events: m.Events, DeviceTypes: m.DeviceTypes, Cron: m.Cron, Settings: maps.Clone(p.settings),
		Signed: p.pkg.Signature != nil, Digest: p.pkg.Digest,
		Enabled: p.enabled, DisabledReason: p.disabledReason, Metrics: p.metrics}
	if k := p.pkg.signerKey(); k != nil {
		in.SignerKeyID = KeyID(k)
	}
	return in
}

func (p *plugin) logf(level, format string, args ...any) {
	p.logs.add(LogLine{Time: time.Now(), Level: level, Message: fmt.Sprintf(format, args...)})
}

// ring is a fixed-size log buffer.
type ring struct {
	mu    sync.Mutex
	lines []LogLine
	next  int
	full  bool
}

func newRing(n int) *ring { return &ring{lines: make([]LogLine, n)} }

func (r *ring) add(l LogLine) {
	if len(l.Message) > 2000 {
		l.Message = l.Message[:2000] + "…"
	}
	r.mu.Lock()
	r.lines[r.next] = l
	r.next = (r.next + 1) % len(r.lines)
	if r.next == 0 {
		r.full = true
	}
	r.mu.Unlock()
}

func (r *ring) tail(n int) []LogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	var all []LogLine
	if r.full {
		all = append(all, r.lines[r.next:]...)
	}
	all = append(all, r.lines[:r.next]...)
	if n > 0 && n < len(all) {
		all = all[len(all)-n:]
	}
	return all
}

// lineWriter turns guest stdout/stderr into log lines and remembers the
// last few stderr lines to explain a crash (a Go panic prints there).
type lineWriter struct {
	p     *plugin
	level string
	mu    sync.Mutex
	buf   []byte
	last  []string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimRight(string(w.buf[:i]), "\r")
		w.buf = w.buf[i+1:]
		if line == "" {
			continue
		}
		w.p.logf(w.level, "%s", line)
		if len(w.last) < 3 {
			w.last = append(w.last, line)
		}
	}
	if len(w.buf) > 4096 {
		w.p.logf(w.level, "%s", w.buf)
		w.buf = w.buf[:0]
	}
	return len(b), nil
}

// tail returns the first stderr lines of a crash (", stderr: ...") or "".
func (w *lineWriter) tail() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.last) == 0 {
		return ""
	}
	return " (stderr: " + strings.Join(w.last, " | ") + ")"
}
