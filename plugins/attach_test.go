package plugins

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/yiwang/yiwang/plugins/abi"
)

type fakeSource struct {
	mu sync.Mutex
	fn func(abi.Event)
}

func (s *fakeSource) Subscribe(fn func(abi.Event)) func() {
	s.mu.Lock()
	s.fn = fn
	s.mu.Unlock()
	return func() { s.mu.Lock(); s.fn = nil; s.mu.Unlock() }
}

func (s *fakeSource) emit(ev abi.Event) {
	s.mu.Lock()
	fn := s.fn
	s.mu.Unlock()
	if fn != nil {
		fn(ev)
	}
}

func TestAttachOnlyOnLeaderAndActionsChecked(t *testing.T) {
	hook := newWebhook(t)
	var leader atomic.Bool
	h, _, rec := newTestHost(t, func(c *Config) { c.IsLeader = leader.Load })
	// The notifier without the "cases" permission: its annotate action
	// must be refused, while its webhook call still happens.
	installExample(t, h, "examples/notifier", func(m *Manifest) {
		m.Hosts = []string{hook.host()}
		m.Settings = map[string]string{"webhook_url": hook.srv.URL}
		m.Permissions = []string{"events", "http"}
	}, nil)
	src := &fakeSource{}
	var outcomes []Outcome
	h.Attach(src, func(_ abi.Event, o []Outcome) { outcomes = append(outcomes, o...) })

	src.emit(caseEvent(t, "f-1", true))
	if hook.hits.Load() != 0 || len(outcomes) != 0 {
		t.Fatal("follower dispatched an event")
	}
	leader.Store(true)
	src.emit(caseEvent(t, "l-1", true))
	if hook.hits.Load() != 1 || len(outcomes) != 1 {
		t.Fatalf("leader: hits=%d outcomes=%+v", hook.hits.Load(), outcomes)
	}
	o := outcomes[0]
	if o.Err != nil || len(o.Results) != 1 || !strings.HasPrefix(o.Results[0], `refused: permission "cases"`) || len(rec.notes) != 0 {
		t.Fatalf("outcome %+v notes %v", o, rec.notes)
	}
	if _, err := h.Decode(context.Background(), "x", nil); err == nil {
		t.Fatal("decode without decoder")
	}
}
