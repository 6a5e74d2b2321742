package cases

import (
	"context"
	"fmt"

	"github.com/yiwang/yiwang/app/demo"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

// demoCalendar is the sample calendar of the demo county: the 2026 public
// holidays and 调休 workdays as a county would enter them from the State
// Council's notice (sample data: check the notice before relying on it).
var demoCalendar = sla.Calendar{
	Periods: []sla.Period{{Start: "08:30", End: "12:00"}, {Start: "14:00", End: "17:30"}},
	Weekend: []int{0, 6},
	Holidays: []string{"2026-01-01", "2026-01-02", "2026-01-03",
		"2026-02-15", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20", "2026-02-21", "2026-02-22", "2026-02-23",
		"2026-04-04", "2026-04-05", "2026-04-06", "2026-05-01", "2026-05-02", "2026-05-03", "2026-05-04", "2026-05-05",
		"2026-06-19", "2026-06-20", "2026-06-21", "2026-09-25", "2026-09-26", "2026-09-27",
		"2026-10-01", "2026-10-02", "2026-10-03", "2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"},
	Workdays: []string{"2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"},
}

func init() {
	demo.Register("cases", seedDemo)
}

// seedDemo adds the calendar, a 权责清单 and a few cases in every stage.
func seedDemo(ctx context.Context, s *demo.Seeder) error {
	if _, err := s.Apply(ctx, sla.CmdCalendarSet, 1, &demoCalendar); err != nil {
		return err
	}
	dept := s.County.Departments
	rules := []Rule{
		{CategoryCode: "E01", DeptID: dept["城管局"], Note: "市容环境"},
		{CategoryCode: "E02", DeptID: dept["城管局"], Note: "宣传广告"},
		{CategoryCode: "E05", DeptID: dept["城管局"], Note: "街面秩序"},
		{CategoryCode: "E03", DeptID: dept["住建局"], Note: "施工管理"},
		{CategoryCode: "E04", DeptID: dept["应急管理局"], Note: "突发事件"},
		{CategoryCode: "E0405", DeptID: dept["水利局"], Note: "道路积水"},
		{CategoryCode: "E06", DeptID: dept["生态环境局"], Note: "环境监测"},
		{CategoryCode: "C01", DeptID: dept["住建局"], Note: "公用设施"},
		{CategoryCode: "C02", DeptID: dept["交通运输局"], Note: "道路交通"},
	}
	for _, r := range rules {
		if r.DeptID == 0 {
			continue
		}
		if _, err := s.Apply(ctx, CmdRuleSet, 1, r); err != nil {
			return fmt.Errorf("rule %s: %w", r.CategoryCode, err)
		}
	}
	grids := s.County.UnitGrids
	if len(grids) == 0 {
		return nil
	}
	box := s.County.Box
	type sample struct {
		title, cat, source string
		path               []string
	}
	samples := []sample{
		{"人民路口暴露垃圾", "E0102", SourceGrid, nil},
		{"菜市场门口占道经营", "E0502", SourceGrid, []string{ActRegister}},
		{"解放路井盖缺失", "C0101", SourceStaff, []string{ActRegister, ActAccept}},
		{"小区门口非法小广告", "E0201", SourceHotline, []string{ActRegister, ActAccept, ActFeedback}},
		{"工地夜间施工扰民", "E0301", SourceHotline, []string{ActRegister, ActAccept, ActFeedback, ActVerify}},
		{"桥下道路积水", "E0405", SourceStaff, []string{ActRegister, ActAccept, ActFeedback, ActVerify, ActClose}},
		{"机动车乱停放", "E0504", SourceGrid, []string{ActRegister, ActAccept, ActFeedback, ActVerify, ActClose, ActEvaluate}},
		{"县领导交办：老旧路灯不亮", "C0110", SourceLeader, []string{ActRegister}},
		{"河道水质异常", "E0603", SourceStaff, nil},
	}
	for i, smp := range samples {
		g := grids[(i*37)%len(grids)]
		lat := box.South + (box.North-box.South)*float64(i+1)/float64(len(samples)+1)
		lng := box.West + (box.East-box.West)*float64(len(samples)-i)/float64(len(samples)+1)
		in := CaseInput{Title: smp.title, Source: smp.source, CategoryCode: smp.cat, GridCode: g, Lat: lat, Lng: lng, Address: "示范县演示地址"}
		if smp.source == SourceHotline {
			in.ExternalID = fmt.Sprintf("12345-2026-%04d", i+1)
		}
		res, err := s.Apply(ctx, CmdCreate, 1, createPayload{CaseInput: in, ActorRole: "operator"})
		if err != nil {
			return fmt.Errorf("case %q: %w", smp.title, err)
		}
		var out ChangeResult
		if err := res.Decode(&out); err != nil {
			return err
		}
		for _, a := range smp.path {
			p := transitionPayload{CaseID: out.Case.ID, Action: a, ActorRole: "operator", ActionInput: ActionInput{Note: ActionNames[a]}}
			if a == ActEvaluate {
				p.Score = 5
			}
			if _, err := s.Apply(ctx, CmdTransition, 1, p); err != nil {
				if e := store.AsError(err); e.Code == "conflict" || e.Code == "invalid" {
					break // e.g. no rule for this category: stays in the dispatch queue
				}
				return fmt.Errorf("case %q %s: %w", smp.title, a, err)
			}
		}
	}
	return nil
}
