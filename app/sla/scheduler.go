package sla

import (
	"context"
	"fmt"
	"time"
)

// Level is an escalation level.
type Level string

// Escalation levels.
const (
	Urge      Level = "urge"      // 催办: the stage nears its limit
	Supervise Level = "supervise" // 督办: the stage passed its limit
)

// Item is one timed stage of one record (a case's 处置 stage, a project
// problem's 整改 stage). Round counts how often the record entered this
// stage, so a re-dispatched case gets fresh escalations.
type Item struct {
	Kind     string    `json:"kind"` // "case", "project_issue", ...
	ID       int64     `json:"id"`
	Stage    string    `json:"stage"`
	Round    int       `json:"round"`
	Start    time.Time `json:"start"`
	Deadline time.Time `json:"deadline"`
	Unit     Unit      `json:"unit"`
	// UrgeAt, when set, is the stored instant of 催办 (computed when the
	// stage started); otherwise the urge ratio of the progress decides.
	UrgeAt     time.Time `json:"urge_at,omitzero"`
	Urged      bool      `json:"urged"`
	Supervised bool      `json:"supervised"`
}

// Escalation is one 催办 or 督办 the scheduler decided on.
type Escalation struct {
	Level Level `json:"level"`
	Item  Item  `json:"item"`
	// Key is the deterministic idempotency key the source must use for the
	// store command, e.g. "urge:case:123:stage:dispatch:1": a leader change
	// or an overlapping scan can never apply it twice.
	Key      string    `json:"key"`
	At       time.Time `json:"at"`
	Progress float64   `json:"progress"`
}

// Key builds the idempotency key of an escalation.
func Key(l Level, kind string, id int64, stage string, round int) string {
	return fmt.Sprintf("%s:%s:%d:stage:%s:%d", l, kind, id, stage, round)
}

// Source supplies timed items and applies escalations for one kind of
// record. Due must be an indexed query: it returns the items whose urge
// time or deadline is at or before now and that still lack that
// escalation, at most limit of them.
type Source interface {
	Kind() string
	Due(ctx context.Context, now time.Time, cal *Calendar, urgeRatio float64, limit int) ([]Item, error)
	Escalate(ctx context.Context, e Escalation) error
}

// AddSource registers a source with the scheduler (before Start).
func (m *Module) AddSource(s Source) {
	m.mu.Lock()
	m.sources = append(m.sources, s)
	m.mu.Unlock()
}

// Decide returns the escalation due for it at now, if any: 督办 once the
// deadline has passed (a stage that jumped straight past its urge time gets
// only the 督办), otherwise 催办 once urgeRatio of the time is used.
func Decide(cal *Calendar, it Item, now time.Time, urgeRatio float64) (Escalation, bool) {
	if it.Supervised {
		return Escalation{}, false
	}
	p := cal.Progress(it.Start, it.Deadline, now, it.Unit)
	if !now.Before(it.Deadline) {
		return Escalation{Level: Supervise, Item: it, Key: Key(Supervise, it.Kind, it.ID, it.Stage, it.Round), At: now, Progress: p}, true
	}
	due := p >= urgeRatio
	if !it.UrgeAt.IsZero() {
		due = !now.Before(it.UrgeAt)
	}
	if !it.Urged && due {
		return Escalation{Level: Urge, Item: it, Key: Key(Urge, it.Kind, it.ID, it.Stage, it.Round), At: now, Progress: p}, true
	}
	return Escalation{}, false
}

// scanBatch bounds one source's work per scan.
const scanBatch = 500

// Scan runs one escalation pass at now over every source, whether or not
// this node leads (the loop checks leadership; tests call Scan directly).
// It returns how many escalations were applied.
func (m *Module) Scan(ctx context.Context, now time.Time) (int, error) {
	cal, err := m.Calendar(ctx)
	if err != nil {
		return 0, err
	}
	m.mu.Lock()
	sources := append([]Source(nil), m.sources...)
	m.mu.Unlock()
	n := 0
	for _, s := range sources {
		items, err := s.Due(ctx, now, cal, m.opts.UrgeRatio, scanBatch)
		if err != nil {
			return n, fmt.Errorf("sla: %s: %w", s.Kind(), err)
		}
		for _, it := range items {
			e, ok := Decide(cal, it, now, m.opts.UrgeRatio)
			if !ok {
				continue
			}
			if err := s.Escalate(ctx, e); err != nil {
				m.opts.Logf("sla: escalate %s: %v", e.Key, err)
				continue
			}
			n++
		}
	}
	return n, nil
}

// Start runs the scheduler loop: every Interval, if this node leads
// (store.IsLeader), one Scan. Followers stay idle, and the idempotency keys
// make a pass that overlaps a leader change harmless.
func (m *Module) Start(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	m.stop = cancel
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(m.opts.Interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if m.st == nil || !m.st.IsLeader() {
				continue
			}
			if _, err := m.Scan(ctx, m.opts.Now()); err != nil && ctx.Err() == nil {
				m.opts.Logf("sla: scan: %v", err)
			}
		}
	}()
	return nil
}

// Stop ends the loop.
func (m *Module) Stop() error {
	if m.stop != nil {
		m.stop()
	}
	m.wg.Wait()
	return nil
}
