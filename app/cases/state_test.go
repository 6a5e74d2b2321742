package cases

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

var raceEnabled bool

// expected is the state machine written out independently of the
// transitions table: "state action" → next state.
var expected = map[string]string{
	"collected register": "registered", "collected void": "void", "collected merge": "merged",
	"collected note": "collected", "collected urge": "collected", "collected supervise": "collected",

	"registered dispatch": "dispatched", "registered void": "void", "registered merge": "merged",
	"registered note": "registered", "registered urge": "registered", "registered supervise": "registered",

	"dispatched accept": "handling", "dispatched reassign": "dispatched", "dispatched return": "registered",
	"dispatched extend_request": "dispatched", "dispatched extend_approve": "dispatched", "dispatched extend_reject": "dispatched",
	"dispatched park": "parked", "dispatched merge": "merged", "dispatched note": "dispatched",
	"dispatched urge": "dispatched", "dispatched supervise": "dispatched",

	"handling feedback": "feedback", "handling reassign": "dispatched", "handling return": "registered",
	"handling extend_request": "handling", "handling extend_approve": "handling", "handling extend_reject": "handling",
	"handling park": "parked", "handling merge": "merged", "handling note": "handling",
	"handling urge": "handling", "handling supervise": "handling",

	"feedback verify": "verified", "feedback rework": "handling", "feedback note": "feedback",
	"feedback urge": "feedback", "feedback supervise": "feedback",

	"verified close": "closed", "verified rework": "handling", "verified note": "verified",
	"verified urge": "verified", "verified supervise": "verified",

	"closed evaluate": "evaluated", "closed note": "closed",

	"parked unpark": "handling", "parked note": "parked",
}

func TestStateMachineTable(t *testing.T) {
	n := 0
	for _, s := range AllStates {
		for _, a := range Actions() {
			want, ok := expected[s+" "+a]
			got, gotOK := Next(s, a)
			if ok != gotOK || got != want {
				t.Errorf("Next(%s, %s) = %q, %v; want %q, %v", s, a, got, gotOK, want, ok)
			}
			if gotOK {
				n++
			}
			if slices.Contains(Allowed(s), a) != ok {
				t.Errorf("Allowed(%s) and Next disagree on %s", s, a)
			}
		}
	}
	if n != len(expected) {
		t.Fatalf("%d allowed transitions, expected %d", n, len(expected))
	}
	for _, s := range []string{StateEvaluated, StateVoid, StateMerged} {
		if len(Allowed(s)) != 0 || IsOpen(s) {
			t.Errorf("%s must be terminal", s)
		}
	}
}

// harness applies commands straight to a real store (no HTTP).
type harness struct {
	t  *testing.T
	m  *Module
	st *store.Store
}

func newHarness(t *testing.T, opts Options) *harness {
	m := New(opts)
	st := storetest.New(t, m.Register)
	h := &harness{t: t, m: m, st: st}
	// Every 大类 of the test dispatches to department 7 in township 139999001.
	h.apply(CmdRuleSet, Rule{CategoryCode: "E01", GridPrefix: "139999001", DeptID: 7}, "")
	return h
}

func (h *harness) apply(typ string, payload any, idem string) (ChangeResult, error) {
	cmd, err := store.NewCommand(typ, 1, payload)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Actor, cmd.IdempotencyKey = "user:1", idem
	res, err := h.st.Apply(context.Background(), cmd)
	var out ChangeResult
	if err == nil && typ != CmdRuleSet && typ != CmdSettingsSet {
		if err := res.Decode(&out); err != nil {
			h.t.Fatal(err)
		}
	}
	return out, err
}

func (h *harness) create(grid string, lat float64) *Case {
	out, err := h.apply(CmdCreate, createPayload{CaseInput: CaseInput{Title: "t", Source: SourceStaff, CategoryCode: "E0102", GridCode: grid, Lat: lat, Lng: 120}, ActorRole: "operator"}, "")
	if err != nil {
		h.t.Fatal(err)
	}
	return out.Case
}

// input gives an action the input it needs to succeed.
func input(action string, target int64) ActionInput {
	in := ActionInput{Note: "n"}
	switch action {
	case ActReassign:
		in.DeptID, in.Reason = 9, "r"
	case ActDispatch:
		in.DeptID = 8
	case ActReturn, ActRework, ActExtendReject, ActPark, ActVoid:
		in.Reason = "r"
	case ActExtendRequest:
		in.Reason, in.Extension = "r", &sla.Limit{Value: 1, Unit: sla.WorkDays}
	case ActEvaluate:
		in.Score = 4
	case ActMerge:
		in.TargetID = target
	}
	return in
}

// pathTo lists actions that bring a new case to each state.
var pathTo = map[string][]string{
	StateCollected:  nil,
	StateRegistered: {ActRegister}, // no rule for grid "" → stays registered
	StateDispatched: {ActRegister, ActDispatch},
	StateHandling:   {ActRegister, ActDispatch, ActAccept},
	StateFeedback:   {ActRegister, ActDispatch, ActAccept, ActFeedback},
	StateVerified:   {ActRegister, ActDispatch, ActAccept, ActFeedback, ActVerify},
	StateClosed:     {ActRegister, ActDispatch, ActAccept, ActFeedback, ActVerify, ActClose},
	StateEvaluated:  {ActRegister, ActDispatch, ActAccept, ActFeedback, ActVerify, ActClose, ActEvaluate},
	StateParked:     {ActRegister, ActDispatch, ActPark},
	StateVoid:       {ActVoid},
	StateMerged:     {ActMerge},
}

// TestTransitionsThroughHandler tries every action in every state on real
// cases: allowed ones apply (to the expected state, with a step), refused
// ones answer conflict with the allowed list and change nothing.
func TestTransitionsThroughHandler(t *testing.T) {
	h := newHarness(t, Options{})
	target := h.create("", 30)
	ctx := context.Background()
	// reach creates a case in state s.
	reach := func(s string) *Case {
		c := h.create("", 30.0001)
		for _, step := range pathTo[s] {
			if _, err := h.apply(CmdTransition, transitionPayload{CaseID: c.ID, Action: step, ActionInput: input(step, target.ID)}, ""); err != nil {
				t.Errorf("path to %s: %s: %v", s, step, err)
				return nil
			}
		}
		c, _ = loadCase(ctx, h.st.DB(), c.ID)
		if c.State != s {
			t.Errorf("path to %s reached %s", s, c.State)
			return nil
		}
		return c
	}
	var wg sync.WaitGroup
	for _, s := range AllStates {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Refused actions change nothing, so one case serves them all.
			shared := reach(s)
			if shared == nil {
				return
			}
			for _, a := range Actions() {
				want, ok := expected[s+" "+a]
				c := shared
				if ok {
					if c = reach(s); c == nil {
						return
					}
					if a == ActExtendApprove || a == ActExtendReject {
						if _, err := h.apply(CmdTransition, transitionPayload{CaseID: c.ID, Action: ActExtendRequest, ActionInput: input(ActExtendRequest, 0)}, ""); err != nil {
							t.Error(err)
							return
						}
					}
				}
				before, _ := loadCase(ctx, h.st.DB(), c.ID)
				res, err := h.apply(CmdTransition, transitionPayload{CaseID: c.ID, Action: a, ActionInput: input(a, target.ID)}, "")
				after, _ := loadCase(ctx, h.st.DB(), c.ID)
				if !ok {
					e := store.AsError(err)
					if e == nil || e.Code != "conflict" || !slices.Equal(e.Allowed, Allowed(s)) {
						t.Errorf("%s in %s: want conflict with allowed %v, got %+v", a, s, Allowed(s), e)
					}
					if after.Steps != before.Steps || after.State != before.State {
						t.Errorf("%s in %s: refused action changed the case", a, s)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s in %s: %v", a, s, err)
					continue
				}
				if after.State != want || res.Case.State != want || after.Steps != before.Steps+1 {
					t.Errorf("%s in %s: state %s (want %s), steps %d → %d", a, s, after.State, want, before.Steps, after.Steps)
				}
			}
		}()
	}
	wg.Wait()
}

// TestRandomActions is the property test: random action sequences (valid
// or not, with or without their inputs) never reach an invalid state and
// never lose a timeline step.
func TestRandomActions(t *testing.T) {
	h := newHarness(t, Options{})
	rng := rand.New(rand.NewSource(42))
	n := 400
	if testing.Short() || raceEnabled {
		n = 120 // the race detector slows SQLite tenfold
	}
	var ids []int64
	for i := 0; i < 6; i++ {
		grid := ""
		if i%2 == 0 {
			grid = "13999900100101" // placed by the rule
		}
		ids = append(ids, h.create(grid, 30+float64(i)*0.0001).ID)
	}
	acts := Actions()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		id := ids[rng.Intn(len(ids))]
		a := acts[rng.Intn(len(acts))]
		var in ActionInput
		if rng.Intn(4) > 0 {
			in = input(a, ids[rng.Intn(len(ids))])
		}
		before, _ := loadCase(ctx, h.st.DB(), id)
		_, err := h.apply(CmdTransition, transitionPayload{CaseID: id, Action: a, ActionInput: in}, "")
		after, _ := loadCase(ctx, h.st.DB(), id)
		if err != nil && after.Steps != before.Steps {
			t.Fatalf("step %d: refused %s changed the timeline", i, a)
		}
		if err == nil && after.Steps <= before.Steps {
			t.Fatalf("step %d: %s applied without a step", i, a)
		}
		for _, cid := range ids {
			checkInvariants(t, h, cid, fmt.Sprintf("after step %d (%s on %d)", i, a, id))
		}
		if i%20 == 0 {
			for _, d := range []time.Duration{0, time.Hour, 30 * time.Hour, 400 * time.Hour} {
				checkOverdueTotal(t, h, time.Now().Add(d))
			}
		}
	}
}

// checkOverdueTotal compares the county-wide overdue total (per-day
// counts maintained by triggers) with a plain count.
func checkOverdueTotal(t *testing.T, h *harness, now time.Time) {
	t.Helper()
	all := &httpapi.Principal{Scope: httpapi.Scope{Kind: httpapi.ScopeAll}}
	pg, err := h.m.Overdue(context.Background(), all, httpapi.ListQuery{Limit: 10}, now)
	if err != nil {
		t.Fatal(err)
	}
	var want int
	_ = h.st.DB().QueryRow(`SELECT count(*) FROM cases_case WHERE open = 1 AND stage_deadline != '' AND stage_deadline < ?`, dbt(now)).Scan(&want)
	if pg.Total != want {
		t.Fatalf("overdue total at %s: %d, counted %d", now, pg.Total, want)
	}
}

func checkInvariants(t *testing.T, h *harness, id int64, when string) {
	t.Helper()
	ctx := context.Background()
	c, err := loadCase(ctx, h.st.DB(), id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := StateNames[c.State]; !ok {
		t.Fatalf("%s: case %d in invalid state %q", when, id, c.State)
	}
	if c.Open != IsOpen(c.State) {
		t.Fatalf("%s: case %d open flag %v in %s", when, id, c.Open, c.State)
	}
	switch c.State {
	case StateDispatched, StateHandling, StateFeedback, StateVerified, StateParked:
		if c.DeptID == 0 {
			t.Fatalf("%s: case %d %s without department", when, id, c.State)
		}
	case StateCollected, StateRegistered:
		if c.DeptID != 0 {
			t.Fatalf("%s: case %d %s with department %d", when, id, c.State, c.DeptID)
		}
	}
	if (stageOf(c.State) == "") != (c.Stage == "") || (c.Stage != "" && c.StageDeadline.IsZero()) {
		t.Fatalf("%s: case %d state %s stage %q", when, id, c.State, c.Stage)
	}
	rows, err := h.st.DB().QueryContext(ctx, `SELECT seq, from_state, to_state, action FROM cases_step WHERE case_id = ? ORDER BY seq`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seq, state := 0, ""
	for rows.Next() {
		var s int
		var from, to, action string
		if err := rows.Scan(&s, &from, &to, &action); err != nil {
			t.Fatal(err)
		}
		seq++
		if s != seq {
			t.Fatalf("%s: case %d timeline has seq %d at position %d", when, id, s, seq)
		}
		if seq > 1 && from != state {
			t.Fatalf("%s: case %d step %d (%s) starts in %s, previous ended in %s", when, id, s, action, from, state)
		}
		state = to
	}
	if seq != c.Steps || state != c.State {
		t.Fatalf("%s: case %d has %d steps ending in %s, case says %d in %s", when, id, seq, state, c.Steps, c.State)
	}
}

// TestEscalation: 催办 at 80% and 督办 past the deadline, once each, even
// when the same escalation is applied again (a new leader re-scanning).
func TestEscalation(t *testing.T) {
	var now time.Time
	h := newHarness(t, Options{SLA: sla.Options{Now: func() time.Time { return now }}})
	s := DefaultSettings()
	s.StageLimits["register"] = sla.Limit{Value: 10, Unit: sla.ClockHours}
	if _, err := h.apply(CmdSettingsSet, s, ""); err != nil {
		t.Fatal(err)
	}
	c := h.create("", 30)
	if c.Stage != "register" || c.StageDeadline.Sub(c.StageStartedAt) != 10*time.Hour {
		t.Fatalf("stage %s %v", c.Stage, c.StageDeadline.Sub(c.StageStartedAt))
	}
	ctx := context.Background()
	start := c.StageStartedAt
	scan := func(at time.Duration) int {
		n, err := h.m.SLA().Scan(ctx, start.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := scan(7 * time.Hour); n != 0 {
		t.Fatalf("early escalation %d", n)
	}
	if n := scan(8*time.Hour + time.Minute); n != 1 {
		t.Fatalf("urge: %d", n)
	}
	if n := scan(9 * time.Hour); n != 0 {
		t.Fatalf("double urge: %d", n)
	}
	// A new leader re-applies the same urge: the idempotency key absorbs it.
	cur, _ := loadCase(ctx, h.st.DB(), c.ID)
	e := sla.Escalation{Level: sla.Urge, Key: sla.Key(sla.Urge, "case", c.ID, "register", cur.StageRound),
		Item: sla.Item{Kind: "case", ID: c.ID, Stage: "register", Round: cur.StageRound}}
	if err := (&caseSource{m: h.m}).Escalate(ctx, e); err != nil {
		t.Fatal(err)
	}
	if n := scan(10*time.Hour + time.Minute); n != 1 {
		t.Fatalf("supervise: %d", n)
	}
	if n := scan(20 * time.Hour); n != 0 {
		t.Fatalf("double supervise: %d", n)
	}
	var levels []string
	rows, _ := h.st.DB().Query(`SELECT level FROM cases_escalation WHERE case_id = ? ORDER BY id`, c.ID)
	for rows.Next() {
		var l string
		_ = rows.Scan(&l)
		levels = append(levels, l)
	}
	rows.Close()
	if !slices.Equal(levels, []string{"urge", "supervise"}) {
		t.Fatalf("escalations %v", levels)
	}
	var keys []string
	rows, _ = h.st.DB().Query(`SELECT data FROM cases_step WHERE case_id = ? AND action IN ('urge','supervise') ORDER BY seq`, c.ID)
	for rows.Next() {
		var d string
		_ = rows.Scan(&d)
		var m map[string]any
		_ = json.Unmarshal([]byte(d), &m)
		keys = append(keys, fmt.Sprint(m["key"]))
	}
	rows.Close()
	sort.Strings(keys)
	want := []string{fmt.Sprintf("supervise:case:%d:stage:register:1", c.ID), fmt.Sprintf("urge:case:%d:stage:register:1", c.ID)}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %v, want %v", keys, want)
	}
	// Registering starts a new stage with its own timer.
	if _, err := h.apply(CmdTransition, transitionPayload{CaseID: c.ID, Action: ActRegister}, ""); err != nil {
		t.Fatal(err)
	}
	cur, _ = loadCase(ctx, h.st.DB(), c.ID)
	if cur.Stage != "dispatch" || cur.StageRound != 2 || cur.Urged || cur.Supervised || cur.OverdueStages != 0 {
		t.Fatalf("next stage %+v", cur)
	}
}

// TestEvents: case commands publish post-commit events that decode to
// case.created / case.state_changed with the department and grid.
func TestEvents(t *testing.T) {
	h := newHarness(t, Options{})
	var mu sync.Mutex
	var got []Event
	cancel := h.st.Subscribe("test", 0, func(ev store.Event) {
		if e, ok := DecodeEvent(ev); ok {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		}
	})
	defer cancel()
	c := h.create("13999900100101", 30)
	if _, err := h.apply(CmdTransition, transitionPayload{CaseID: c.ID, Action: ActRegister}, ""); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0].Type != EventCreated || got[1].Type != EventStateChanged {
		t.Fatalf("events %+v", got)
	}
	if e := got[1]; e.CaseID != c.ID || e.DeptID != 7 || e.GridCode != "13999900100101" || e.From != StateCollected || e.To != StateDispatched {
		t.Fatalf("state_changed %+v", e)
	}
}
