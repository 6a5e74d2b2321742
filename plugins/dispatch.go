package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/yiwang/yiwang/plugins/abi"
)

// Decode runs the decoder plugin registered for deviceType on a raw
// payload and returns the telemetry. It returns an error wrapping
// ErrNoDecoder when no enabled plugin decodes the type, an error the plugin
// reported (bad frame) or a failure (IsFailure) when the plugin trapped,
// looped, exited or ran out of memory.
func (h *Host) Decode(ctx context.Context, deviceType string, payload []byte) (abi.Telemetry, error) {
	h.mu.RLock()
	p := h.decoders[deviceType]
	h.mu.RUnlock()
	if p == nil {
		return abi.Telemetry{}, fmt.Errorf("%w %q", ErrNoDecoder, deviceType)
	}
	start := time.Now()
	out, err := p.call(ctx, abi.ExportDecode, []byte(deviceType), payload)
	if err != nil {
		if IsFailure(err) || errors.Is(err, ErrDisabled) || errors.Is(err, ErrNotFound) || ctx.Err() != nil {
			return abi.Telemetry{}, err
		}
		return abi.Telemetry{}, p.record(start, &callError{p.name, err.Error()})
	}
	var res abi.DecodeResult
	if err := json.Unmarshal(out, &res); err != nil {
		return abi.Telemetry{}, p.record(start, &callError{p.name, "bad decode result: " + err.Error()})
	}
	if res.Error != "" {
		return abi.Telemetry{}, p.record(start, fmt.Errorf("plugin %s: %s", p.name, res.Error))
	}
	p.record(start, nil)
	return res.Telemetry, nil
}

// DeviceTypes lists the device types that have an enabled decoder.
func (h *Host) DeviceTypes() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := slices.Collect(maps.Keys(h.decoders))
	sort.Strings(out)
	return out
}

// Outcome is the result of one plugin's hook or job run.
type Outcome struct {
	Plugin  string       `json:"plugin"`
	Actions []abi.Action `json:"actions,omitempty"`
	// Results of the actions, in order ("" for success, or the reason a
	// refused action was refused, or the id of an opened case).
	Results []string `json:"results,omitempty"`
	Err     error    `json:"-"`
}

// Dispatch delivers an event to every enabled plugin subscribed to its type
// (in name order), then carries out the actions each returns, checking
// each against that plugin's permissions. One plugin's failure does not
// stop the others.
func (h *Host) Dispatch(ctx context.Context, ev abi.Event) []Outcome {
	h.mu.RLock()
	var ps []*plugin
	for _, p := range h.plugins {
		if p.perms[abi.PermEvents] && slices.Contains(p.man.Events, ev.Type) {
			ps = append(ps, p)
		}
	}
	h.mu.RUnlock()
	sort.Slice(ps, func(i, j int) bool { return ps[i].name < ps[j].name })
	in, err := json.Marshal(ev)
	if err != nil {
		return []Outcome{{Err: err}}
	}
	var out []Outcome
	for _, p := range ps {
		if !p.isEnabled() {
			continue
		}
		out = append(out, p.hook(ctx, abi.ExportEvent, in))
	}
	return out
}

// RunJob runs a plugin's cron job now (the scheduler calls it; the admin
// may trigger it by hand).
func (h *Host) RunJob(ctx context.Context, plugin, job string) Outcome {
	p, err := h.get(plugin)
	if err != nil {
		return Outcome{Plugin: plugin, Err: err}
	}
	i := slices.IndexFunc(p.man.Cron, func(c CronEntry) bool { return c.Name == job })
	if i < 0 {
		return Outcome{Plugin: plugin, Err: fmt.Errorf("plugin %s has no job %q", plugin, job)}
	}
	in, _ := json.Marshal(abi.Job{Name: job, Schedule: p.man.Cron[i].Schedule, Time: time.Now().In(h.cfg.Location)})
	return p.hook(ctx, abi.ExportJob, in)
}

func (p *plugin) isEnabled() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.enabled && !p.closed
}

func (p *plugin) hook(ctx context.Context, export string, in []byte) Outcome {
	o := Outcome{Plugin: p.name}
	start := time.Now()
	out, err := p.call(ctx, export, in, nil)
	if err != nil {
		o.Err = err
		return o
	}
	var res abi.HookResult
	if err := json.Unmarshal(out, &res); err != nil {
		o.Err = p.record(start, &callError{p.name, "bad hook result: " + err.Error()})
		return o
	}
	if res.Error != "" {
		o.Err = p.record(start, fmt.Errorf("plugin %s: %s", p.name, res.Error))
	} else {
		p.record(start, nil)
	}
	o.Actions = res.Actions
	for _, a := range res.Actions {
		o.Results = append(o.Results, p.act(ctx, a))
	}
	return o
}

// act carries out one action; it returns "" or a case id on success and
// "refused: ..." or "error: ..." otherwise.
func (p *plugin) act(ctx context.Context, a abi.Action) string {
	cases := p.h.cfg.Cases
	var err error
	res := ""
	switch {
	case a.Type == abi.ActionPublish && a.Publish != nil:
		err = p.publish(ctx, *a.Publish)
	case (a.Type == abi.ActionAnnotate && a.Annotate != nil) || (a.Type == abi.ActionOpenCase && a.OpenCase != nil):
		switch {
		case !p.perms[abi.PermCases]:
			err = errors.New(`permission "cases" not granted`)
		case cases == nil:
			err = errors.New("no case service on this host")
		case a.Annotate != nil:
			err = cases.Annotate(ctx, p.name, *a.Annotate)
		default:
			res, err = cases.OpenCase(ctx, p.name, *a.OpenCase)
		}
	default:
		err = fmt.Errorf("unknown or empty action %q", a.Type)
	}
	if err != nil {
		p.logf("warn", "action %s refused: %v", a.Type, err)
		return "refused: " + err.Error()
	}
	return res
}

// scheduleLocked registers a plugin's cron entries with the scheduler
// (h.mu held; the jobs themselves run in the scheduler's goroutines).
func (h *Host) scheduleLocked(p *plugin) {
	for _, c := range p.man.Cron {
		sched, err := cronParser.Parse(c.Schedule)
		if err != nil {
			continue // validated at install
		}
		name, job := p.name, c.Name
		id := h.cron.Schedule(sched, cronFunc(func() {
			if h.cfg.IsLeader != nil && !h.cfg.IsLeader() {
				return
			}
			o := h.RunJob(context.Background(), name, job)
			if o.Err != nil && !errors.Is(o.Err, ErrDisabled) {
				p.logf("warn", "job %s: %v", job, o.Err)
			}
		}))
		p.cronIDs = append(p.cronIDs, id)
	}
}

type cronFunc func()

func (f cronFunc) Run() { f() }

// Start starts the cron scheduler (jobs fire only where IsLeader is true).
func (h *Host) Start() { h.cronOnce.Do(h.cron.Start) }

// Attach subscribes the host to an event source: each event is dispatched
// (on the leader only, when IsLeader is set) synchronously in the source's
// delivery goroutine, so events reach plugins in order. Errors are logged in
// the plugins' logs; pass a hook to observe outcomes.
func (h *Host) Attach(src EventSource, observe func(abi.Event, []Outcome)) {
	cancel := src.Subscribe(func(ev abi.Event) {
		if h.cfg.IsLeader != nil && !h.cfg.IsLeader() {
			return
		}
		out := h.Dispatch(context.Background(), ev)
		for _, o := range out {
			if o.Err != nil {
				if p, err := h.get(o.Plugin); err == nil {
					p.logf("warn", "event %s: %v", ev.Type, o.Err)
				}
			}
		}
		if observe != nil {
			observe(ev, out)
		}
	})
	h.mu.Lock()
	h.detach = append(h.detach, cancel)
	h.mu.Unlock()
}
