package duty

import (
	"context"
	"errors"
	"time"

	"github.com/yiwang/yiwang/app/demo"
	"github.com/yiwang/yiwang/store"
)

// Demo county: today's and tomorrow's roster of the command centre and two
// bureaus, a handover note waiting to be taken over, and a message from the
// command centre to the bureaus.

func init() {
	demo.Register("duty", seedDemo)
}

const (
	dayShift   = "白班 08:30-17:30"
	nightShift = "夜班 17:30-次日08:30"
)

func seedDemo(ctx context.Context, s *demo.Seeder) error {
	user := func(username string) (id int64, name, phone string, dept int64) {
		uid, ok := s.County.Users[username]
		if !ok {
			return 0, "", "", 0
		}
		u, err := s.Org.User(ctx, uid)
		if err != nil {
			return 0, "", "", 0
		}
		if u.DeptID != nil {
			dept = *u.DeptID
		}
		return u.ID, u.Name, u.Phone, dept
	}
	deptName := map[int64]string{}
	for n, id := range s.County.Departments {
		deptName[id] = n
	}
	type slot struct{ username, shift, role string }
	slots := []slot{{"leader", dayShift, "leader"}, {"commander", dayShift, "member"}, {"operator", nightShift, "member"},
		{"handler", dayShift, "member"}, {"handler2", dayShift, "member"}}
	today := time.Now()
	for d := 0; d < 2; d++ {
		date := today.AddDate(0, 0, d).Format(time.DateOnly)
		for _, sl := range slots {
			id, name, phone, dept := user(sl.username)
			if id == 0 || dept == 0 {
				continue
			}
			p := entryPayload{EntryInput: EntryInput{Date: date, Shift: sl.shift, DeptID: dept, UserID: id, Role: sl.role},
				DepartmentName: deptName[dept], UserName: name, Phone: phone}
			if _, err := s.Apply(ctx, CmdRosterAdd, 1, p); err != nil && !isConflict(err) {
				return err
			}
		}
	}
	opID, opName, _, opDept := user("operator")
	if opID != 0 && opDept != 0 {
		h := handoverPayload{HandoverInput: HandoverInput{DeptID: opDept, Date: today.AddDate(0, 0, -1).Format(time.DateOnly), Shift: nightShift,
			Note: "夜间共受理12345来电23件，均已派遣；东城街道积水点已安排巡查。", OpenItems: "1. 河口镇水位计读数偏高，请白班持续关注；\n2. 城关镇井盖倾斜案件待住建局反馈。"},
			DepartmentName: deptName[opDept], UserID: opID, UserName: opName}
		if _, err := s.Apply(ctx, CmdHandoverCreate, 1, h); err != nil {
			return err
		}
	}
	cmID, cmName, _, cmDept := user("commander")
	var to []int64
	var names []string
	for _, n := range []string{"城管局", "住建局"} {
		if id, ok := s.County.Departments[n]; ok {
			to = append(to, id)
			names = append(names, n)
		}
	}
	if cmID != 0 && len(to) > 0 {
		msg := messagePayload{MessageInput: MessageInput{DeptIDs: to, Body: "今晚有强降雨，请各单位落实值班值守，易涝点、井盖等部件加强巡查，发现险情立即上报指挥中心。"},
			DeptNames: names, FromUserID: cmID, FromName: cmName, FromDeptID: cmDept}
		if _, err := s.Apply(ctx, CmdMessageSend, 1, msg); err != nil {
			return err
		}
	}
	return nil
}

func isConflict(err error) bool {
	var se *store.Error
	return errors.As(err, &se) && se.Code == "conflict"
}
