package duty

import (
	"encoding/json"
	"slices"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/store"
)

// Commands.
const (
	CmdRosterAdd      = "duty.roster_add"
	CmdRosterRemove   = "duty.roster_remove"
	CmdHandoverCreate = "duty.handover_create"
	CmdHandoverAck    = "duty.handover_ack"
	CmdMessageSend    = "duty.message_send"
	CmdMessageRead    = "duty.message_read"
)

// EventMessage is the live event a sent message becomes.
const EventMessage = "duty.message"

// Options wires the module.
type Options struct {
	Org   *org.Module
	Cases *cases.Module
	IoT   *iot.Module
	Hub   *live.Hub
	Logf  func(string, ...any)
}

// Module is the duty module.
type Module struct {
	opts Options
	st   *store.Store
}

var _ httpapi.Module = (*Module)(nil)

// New returns the module.
func New(opts Options) *Module {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	m := &Module{opts: opts}
	if opts.Hub != nil {
		opts.Hub.Classify("duty.", classify)
	}
	return m
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "duty" }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	st.AddMigrations("duty", `CREATE TABLE duty_roster (
		id INTEGER PRIMARY KEY,
		date TEXT NOT NULL,
		shift TEXT NOT NULL,
		dept_id INTEGER NOT NULL,
		department_name TEXT NOT NULL DEFAULT '',
		user_id INTEGER NOT NULL,
		user_name TEXT NOT NULL DEFAULT '',
		phone TEXT NOT NULL DEFAULT '',
		role TEXT NOT NULL DEFAULT 'member',
		note TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL,
		created_by TEXT NOT NULL DEFAULT '',
		UNIQUE(date, shift, dept_id, user_id)
	);
	CREATE INDEX duty_roster_dept ON duty_roster(dept_id, date);
	CREATE TABLE duty_handover (
		id INTEGER PRIMARY KEY,
		dept_id INTEGER NOT NULL,
		department_name TEXT NOT NULL DEFAULT '',
		date TEXT NOT NULL,
		shift TEXT NOT NULL,
		user_id INTEGER NOT NULL,
		user_name TEXT NOT NULL DEFAULT '',
		note TEXT NOT NULL,
		open_items TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL,
		acked_at TEXT NOT NULL DEFAULT '',
		acked_by INTEGER NOT NULL DEFAULT 0,
		acked_by_name TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX duty_handover_dept ON duty_handover(dept_id, created_at);
	CREATE TABLE duty_message (
		id INTEGER PRIMARY KEY,
		body TEXT NOT NULL,
		from_user_id INTEGER NOT NULL,
		from_name TEXT NOT NULL DEFAULT '',
		from_dept_id INTEGER NOT NULL DEFAULT 0,
		case_id INTEGER NOT NULL DEFAULT 0,
		case_title TEXT NOT NULL DEFAULT '',
		alarm_id TEXT NOT NULL DEFAULT '',
		alarm_title TEXT NOT NULL DEFAULT '',
		created_at TEXT NOT NULL
	);
	CREATE TABLE duty_message_dept (
		message_id INTEGER NOT NULL,
		dept_id INTEGER NOT NULL,
		department_name TEXT NOT NULL DEFAULT '',
		read_at TEXT NOT NULL DEFAULT '',
		read_by INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY(message_id, dept_id)
	) WITHOUT ROWID;
	CREATE INDEX duty_message_dept_dept ON duty_message_dept(dept_id, message_id);`)
	st.Register(CmdRosterAdd, 1, applyRosterAdd)
	st.Register(CmdRosterRemove, 1, applyRosterRemove)
	st.Register(CmdHandoverCreate, 1, applyHandoverCreate)
	st.Register(CmdHandoverAck, 1, applyHandoverAck)
	st.Register(CmdMessageSend, 1, applyMessageSend)
	st.Register(CmdMessageRead, 1, applyMessageRead)
}

// classify sends duty events to the departments concerned (and a
// message's sender).
func classify(ev store.Event) (live.Message, live.Audience, bool) {
	var loc struct {
		DeptID     int64   `json:"dept_id"`
		DeptIDs    []int64 `json:"dept_ids"`
		FromUserID int64   `json:"from_user_id"`
	}
	if json.Unmarshal(ev.Result, &loc) != nil {
		return live.Message{}, live.Audience{}, false
	}
	aud := live.Audience{Perm: httpapi.PermDutyRead, DeptIDs: slices.Clone(loc.DeptIDs)}
	if loc.DeptID != 0 {
		aud.DeptIDs = append(aud.DeptIDs, loc.DeptID)
	}
	if loc.FromUserID != 0 {
		aud.UserIDs = []int64{loc.FromUserID}
	}
	typ := ev.Cmd.Type
	if typ == CmdMessageSend {
		typ = EventMessage
	}
	return live.Message{Type: typ, Data: ev.Result}, aud, true
}

// myDepts is the departments p works for: all (county-wide scope), the
// department subtree, or the principal's own department.
func myDepts(p *httpapi.Principal) (all bool, ids []int64) {
	switch p.Scope.Kind {
	case httpapi.ScopeAll:
		return true, nil
	case httpapi.ScopeDeptTree:
		if len(p.Scope.DeptIDs) > 0 {
			return false, p.Scope.DeptIDs
		}
	}
	if p.DeptID != 0 {
		return false, []int64{p.DeptID}
	}
	return false, nil
}

func inMyDepts(p *httpapi.Principal, dept int64) bool {
	all, ids := myDepts(p)
	return all || slices.Contains(ids, dept)
}

// deptFilter is a SQL condition restricting col to p's departments.
func deptFilter(p *httpapi.Principal, col string) (string, []any) {
	all, ids := myDepts(p)
	if all {
		return "1=1", nil
	}
	if len(ids) == 0 {
		return "0=1", nil
	}
	cond := col + " IN (?" + repeat(",?", len(ids)-1) + ")"
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return cond, args
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
