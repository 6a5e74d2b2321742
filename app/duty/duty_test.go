package duty_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/dashboard/dashtest"
	"github.com/yiwang/yiwang/app/duty"
)

type page[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
}

func deptOf(t *testing.T, s *dashtest.Server, user string) int64 {
	t.Helper()
	var me struct {
		DeptID int64 `json:"dept_id"`
	}
	s.Must("GET", "/api/v1/me", s.Tokens[user], nil, 200, &me)
	if me.DeptID == 0 {
		t.Fatalf("%s has no department", user)
	}
	return me.DeptID
}

func wantField(t *testing.T, s *dashtest.Server, method, path, token string, body any, field string) {
	t.Helper()
	code, b := s.Do(method, path, token, body, nil)
	if _, fields := dashtest.ErrorFields(b); code != http.StatusBadRequest || fields[field] == "" {
		t.Errorf("%s %s %v: status %d, want 400 on %s: %s", method, path, body, code, field, b)
	}
}

func TestDuty(t *testing.T) {
	s := dashtest.Start(t)
	admin, handler, handler2 := s.Tokens["admin"], s.Tokens["handler"], s.Tokens["handler2"]
	cg, zj := deptOf(t, s, "handler"), deptOf(t, s, "handler2") // 城管局, 住建局
	today := time.Now().Format(time.DateOnly)

	t.Run("permissions", func(t *testing.T) {
		for _, path := range []string{"/api/v1/duty/roster", "/api/v1/duty/handovers", "/api/v1/duty/messages"} {
			for _, u := range []string{"admin", "commander", "operator", "handler", "gridworker", "leader", "viewer"} {
				s.Must("GET", path, s.Tokens[u], nil, 200, nil)
			}
			s.Must("GET", path, s.Tokens["integrator"], nil, 403, nil)
			s.Must("GET", path, "", nil, 401, nil)
		}
		in := duty.EntryInput{Date: today, Shift: "白班", DeptID: cg, UserID: s.Users["handler"]}
		s.Must("POST", "/api/v1/duty/roster", s.Tokens["viewer"], in, 403, nil)
		s.Must("POST", "/api/v1/duty/roster", "", in, 401, nil)
		s.Must("POST", "/api/v1/duty/messages", s.Tokens["viewer"], duty.MessageInput{DeptIDs: []int64{cg}, Body: "x"}, 403, nil)
		s.Must("POST", "/api/v1/duty/handovers", s.Tokens["viewer"], duty.HandoverInput{Date: today, Shift: "白班", Note: "x"}, 403, nil)
	})

	t.Run("roster scope", func(t *testing.T) {
		var all, mine page[duty.Entry]
		s.Must("GET", "/api/v1/duty/roster?limit=200", admin, nil, 200, &all)
		s.Must("GET", "/api/v1/duty/roster?limit=200", handler, nil, 200, &mine)
		if mine.Total == 0 || mine.Total >= all.Total {
			t.Fatalf("handler sees %d of %d roster entries", mine.Total, all.Total)
		}
		for _, e := range mine.Items {
			if e.DeptID != cg {
				t.Errorf("handler sees another department's entry %+v", e)
			}
		}
		var on page[duty.Entry]
		s.Must("GET", "/api/v1/duty/roster?date="+today, s.Tokens["operator"], nil, 200, &on)
		if on.Total == 0 {
			t.Error("nobody on duty today in the demo county")
		}
		for _, e := range on.Items {
			if e.Date != today || e.UserName == "" || e.DepartmentName == "" {
				t.Errorf("entry %+v", e)
			}
		}
		// Writing: own department yes, another one no.
		tomorrow := time.Now().AddDate(0, 0, 5).Format(time.DateOnly)
		in := duty.EntryInput{Date: tomorrow, Shift: "夜班", DeptID: cg, UserID: s.Users["handler"], Note: "备勤"}
		var e duty.Entry
		s.Must("POST", "/api/v1/duty/roster", handler, in, 201, &e)
		if e.UserName == "" || e.DepartmentName == "" || e.Role != "member" {
			t.Errorf("created %+v", e)
		}
		s.Must("POST", "/api/v1/duty/roster", handler, in, 409, nil)
		other := in
		other.DeptID = zj
		other.UserID = s.Users["handler2"]
		s.Must("POST", "/api/v1/duty/roster", handler, other, 403, nil)
		var e2 duty.Entry
		s.Must("POST", "/api/v1/duty/roster", handler2, other, 201, &e2)
		s.Must("DELETE", fmt.Sprintf("/api/v1/duty/roster/%d", e2.ID), handler, nil, 404, nil)
		s.Must("DELETE", fmt.Sprintf("/api/v1/duty/roster/%d", e.ID), handler, nil, 204, nil)
		s.Must("DELETE", fmt.Sprintf("/api/v1/duty/roster/%d", e.ID), handler, nil, 404, nil)
		s.Must("DELETE", fmt.Sprintf("/api/v1/duty/roster/%d", e2.ID), admin, nil, 204, nil)
	})

	t.Run("roster bad input", func(t *testing.T) {
		ok := duty.EntryInput{Date: today, Shift: "白班", DeptID: cg, UserID: s.Users["handler"]}
		bad := func(mod func(*duty.EntryInput)) duty.EntryInput { x := ok; mod(&x); return x }
		wantField(t, s, "POST", "/api/v1/duty/roster", admin, bad(func(x *duty.EntryInput) { x.Date = "2026-13-40" }), "date")
		wantField(t, s, "POST", "/api/v1/duty/roster", admin, bad(func(x *duty.EntryInput) { x.Shift = "" }), "shift")
		wantField(t, s, "POST", "/api/v1/duty/roster", admin, bad(func(x *duty.EntryInput) { x.Role = "boss" }), "role")
		wantField(t, s, "POST", "/api/v1/duty/roster", admin, bad(func(x *duty.EntryInput) { x.UserID = 999999 }), "user_id")
		wantField(t, s, "POST", "/api/v1/duty/roster", admin, bad(func(x *duty.EntryInput) { x.DeptID = 999999 }), "dept_id")
		s.Must("GET", "/api/v1/duty/roster?from=yesterday", admin, nil, 400, nil)
		s.Must("GET", "/api/v1/duty/roster?nonsense=1", admin, nil, 400, nil)
		s.Must("DELETE", "/api/v1/duty/roster/abc", admin, nil, 400, nil)
	})

	t.Run("handover", func(t *testing.T) {
		var h duty.Handover
		s.Must("POST", "/api/v1/duty/handovers", handler, duty.HandoverInput{Date: today, Shift: "白班", Note: "井盖巡查完成 12 处", OpenItems: "东关路井盖待更换"}, 201, &h)
		if h.DeptID != cg || h.UserName == "" || h.AckedAt != nil {
			t.Fatalf("handover %+v", h)
		}
		s.Must("POST", "/api/v1/duty/handovers", handler, duty.HandoverInput{DeptID: zj, Date: today, Shift: "白班", Note: "x"}, 403, nil)
		wantField(t, s, "POST", "/api/v1/duty/handovers", handler, duty.HandoverInput{Date: today, Shift: "白班", Note: "  "}, "note")
		path := fmt.Sprintf("/api/v1/duty/handovers/%d/ack", h.ID)
		// The one handing over cannot take over; another department cannot see it.
		s.Must("POST", path, handler, nil, 409, nil)
		s.Must("POST", path, handler2, nil, 404, nil)
		var acked duty.Handover
		s.Must("POST", path, admin, nil, 200, &acked)
		if acked.AckedAt == nil || acked.AckedByName == "" {
			t.Errorf("acked %+v", acked)
		}
		s.Must("POST", path, s.Tokens["commander"], nil, 409, nil)
		s.Must("POST", "/api/v1/duty/handovers/999999/ack", admin, nil, 404, nil)
		var list page[duty.Handover]
		s.Must("GET", "/api/v1/duty/handovers?acked=true", handler, nil, 200, &list)
		if list.Total != 1 || list.Items[0].ID != h.ID {
			t.Errorf("handler's taken-over handovers: %+v", list)
		}
		s.Must("GET", "/api/v1/duty/handovers", handler2, nil, 200, &list)
		for _, x := range list.Items {
			if x.DeptID != zj {
				t.Errorf("handler2 sees %+v", x)
			}
		}
		s.Must("GET", "/api/v1/duty/handovers?acked=maybe", admin, nil, 400, nil)
	})

	t.Run("messages", func(t *testing.T) {
		var cs page[struct {
			ID int64 `json:"id"`
		}]
		s.Must("GET", "/api/v1/cases?limit=1", handler, nil, 200, &cs)
		if len(cs.Items) == 0 {
			t.Fatal("the 城管局 handler has no case in the demo county")
		}
		caseID := cs.Items[0].ID
		if code, _ := s.Do("GET", fmt.Sprintf("/api/v1/cases/%d", caseID), handler2, nil, nil); code != 404 && code != 403 {
			t.Fatalf("handler2 can read the 城管局 case (%d)", code)
		}
		live1, live2 := s.Stream(handler), s.Stream(handler2)
		time.Sleep(100 * time.Millisecond)

		var msg duty.Message
		s.Must("POST", "/api/v1/duty/messages", s.Tokens["commander"], duty.MessageInput{DeptIDs: []int64{cg}, Body: "请立即处置该案件\n现场有积水", CaseID: caseID}, 201, &msg)
		if msg.CaseTitle == "" || msg.Title != "请立即处置该案件" || len(msg.Recipients) != 1 {
			t.Errorf("sent %+v", msg)
		}
		var second duty.Message
		s.Must("POST", "/api/v1/duty/messages", s.Tokens["commander"], duty.MessageInput{DeptIDs: []int64{zj}, Body: "住建局请回电"}, 201, &second)

		// Live: the recipient department gets its message, the other one
		// gets only its own.
		isMsg := func(id int64) func(json.RawMessage) bool {
			return func(d json.RawMessage) bool {
				var x duty.Message
				return json.Unmarshal(d, &x) == nil && x.ID == id
			}
		}
		if _, ok := dashtest.WaitEvent(t, live1, 2*time.Second, duty.EventMessage, isMsg(msg.ID)); !ok {
			t.Error("handler got no duty.message")
		}
		e, ok := dashtest.WaitEvent(t, live2, 2*time.Second, duty.EventMessage, nil)
		var x duty.Message
		_ = json.Unmarshal(e.Data, &x)
		if !ok || x.ID != second.ID {
			t.Errorf("handler2's first duty.message is %+v, want message %d only", x, second.ID)
		}

		var inbox page[duty.Message]
		s.Must("GET", "/api/v1/duty/messages", handler, nil, 200, &inbox)
		found := false
		for _, m := range inbox.Items {
			if m.ID == second.ID {
				t.Error("handler sees 住建局's message")
			}
			if m.ID == msg.ID {
				found = true
				if !m.Unread {
					t.Error("message not unread for its recipient")
				}
			}
		}
		if !found {
			t.Error("handler does not see its message")
		}
		s.Must("GET", fmt.Sprintf("/api/v1/duty/messages/%d", msg.ID), handler2, nil, 404, nil)
		s.Must("POST", fmt.Sprintf("/api/v1/duty/messages/%d/read", msg.ID), handler2, nil, 404, nil)
		// The sender is no recipient.
		s.Must("POST", fmt.Sprintf("/api/v1/duty/messages/%d/read", msg.ID), s.Tokens["commander"], nil, 409, nil)
		var read duty.Message
		s.Must("POST", fmt.Sprintf("/api/v1/duty/messages/%d/read", msg.ID), handler, nil, 200, &read)
		if read.Unread || read.Recipients[0].ReadAt == nil {
			t.Errorf("after read: %+v", read)
		}
		var byCase page[duty.Message]
		s.Must("GET", fmt.Sprintf("/api/v1/duty/messages?case_id=%d", caseID), admin, nil, 200, &byCase)
		if byCase.Total != 1 {
			t.Errorf("messages about case %d: %d", caseID, byCase.Total)
		}

		// Bad input and links outside the sender's scope.
		wantField(t, s, "POST", "/api/v1/duty/messages", admin, duty.MessageInput{Body: "x"}, "dept_ids")
		wantField(t, s, "POST", "/api/v1/duty/messages", admin, duty.MessageInput{DeptIDs: []int64{cg, cg}, Body: "x"}, "dept_ids")
		wantField(t, s, "POST", "/api/v1/duty/messages", admin, duty.MessageInput{DeptIDs: []int64{999999}, Body: "x"}, "dept_ids")
		wantField(t, s, "POST", "/api/v1/duty/messages", admin, duty.MessageInput{DeptIDs: []int64{cg}, Body: ""}, "body")
		wantField(t, s, "POST", "/api/v1/duty/messages", admin, duty.MessageInput{DeptIDs: []int64{cg}, Body: "x", CaseID: 999999}, "case_id")
		wantField(t, s, "POST", "/api/v1/duty/messages", admin, duty.MessageInput{DeptIDs: []int64{cg}, Body: "x", AlarmID: "no-such-alarm"}, "alarm_id")
		wantField(t, s, "POST", "/api/v1/duty/messages", handler2, duty.MessageInput{DeptIDs: []int64{cg}, Body: "x", CaseID: caseID}, "case_id")
		s.Must("GET", "/api/v1/duty/messages?dept_id=x", admin, nil, 400, nil)
	})
}
