package projects

import (
	"context"
	"fmt"
	"time"

	"github.com/yiwang/yiwang/app/demo"
	"github.com/yiwang/yiwang/app/sla"
)

func init() {
	demo.Register("projects", seedDemo)
}

// seedDemo adds a few major projects of the demo county: one on plan, one
// behind plan, one with a late milestone and an open problem-list issue.
func seedDemo(ctx context.Context, s *demo.Seeder) error {
	dept := s.County.Departments
	year := time.Now().In(sla.China).Year()
	month := int(time.Now().In(sla.China).Month())
	grid := ""
	if len(s.County.UnitGrids) > 0 {
		grid = s.County.UnitGrids[0]
	}
	samples := []struct {
		in   ProjectInput
		dept string
		done float64 // share of the monthly plan completed
		ms   MilestoneInput
	}{
		{ProjectInput{Name: "示范县城南污水处理厂扩建工程", Type: "基础设施", Industry: "水务", Content: "新增日处理能力3万吨及配套管网12公里", TotalInvestment: 36000,
			OwnerName: "李工", LeaderName: "张副县长", PlanStart: fmt.Sprintf("%d-02-01", year), PlanFinish: fmt.Sprintf("%d-12-31", year+1), GridCode: grid}, "住建局", 1.0,
			MilestoneInput{Name: "主体结构封顶", PlannedStart: fmt.Sprintf("%d-03-01", year), PlannedFinish: fmt.Sprintf("%d-12-31", year)}},
		{ProjectInput{Name: "新能源电池材料产业园一期", Type: "产业项目", Industry: "新能源", Content: "年产2万吨正极材料生产线", TotalInvestment: 120000,
			OwnerName: "王科长", LeaderName: "陈县长", PlanStart: fmt.Sprintf("%d-03-01", year), PlanFinish: fmt.Sprintf("%d-06-30", year+2), GridCode: grid}, "发改局", 0.6,
			MilestoneInput{Name: "厂房基础施工", PlannedStart: fmt.Sprintf("%d-01-01", year), PlannedFinish: fmt.Sprintf("%d-01-31", year), ActualStart: fmt.Sprintf("%d-02-20", year)}},
		{ProjectInput{Name: "县人民医院综合楼", Type: "社会民生", Industry: "卫生", Content: "建筑面积4.2万平方米，床位600张", TotalInvestment: 52000,
			OwnerName: "周主任", LeaderName: "刘副县长", PlanStart: fmt.Sprintf("%d-01-15", year), PlanFinish: fmt.Sprintf("%d-12-31", year+1)}, "卫健局", 0.85,
			MilestoneInput{Name: "桩基工程", PlannedStart: fmt.Sprintf("%d-01-15", year), PlannedFinish: fmt.Sprintf("%d-04-30", year), ActualStart: fmt.Sprintf("%d-01-20", year), ActualFinish: fmt.Sprintf("%d-05-20", year)}},
	}
	for _, x := range samples {
		id := dept[x.dept]
		if id == 0 {
			continue
		}
		x.in.DeptID = id
		res, err := s.Apply(ctx, CmdCreate, 1, createPayload{ProjectInput: x.in, DeptName: x.dept})
		if err != nil {
			return fmt.Errorf("project %s: %w", x.in.Name, err)
		}
		var p Project
		if err := res.Decode(&p); err != nil {
			return err
		}
		var plan PlanInput
		plan.ID, plan.Year = p.ID, year
		for i := range plan.Months {
			plan.Months[i] = x.in.TotalInvestment / 24
		}
		if _, err := s.Apply(ctx, CmdPlanSet, 1, plan); err != nil {
			return err
		}
		for mo := 1; mo < month; mo++ {
			amount := float64(int(plan.Months[mo-1]*x.done*100)) / 100
			if _, err := s.Apply(ctx, CmdReport, 1, ReportInput{ID: p.ID, Year: year, Month: mo, Amount: amount}); err != nil {
				return err
			}
		}
		x.ms.ID = p.ID
		if _, err := s.Apply(ctx, CmdMilestoneSet, 1, x.ms); err != nil {
			return err
		}
		if x.done < 0.7 {
			if _, err := s.Apply(ctx, CmdIssueCreate, 1, IssueInput{ProjectID: p.ID, Title: "施工用电增容未到位", Description: "需供电公司加快220kV线路接入",
				DeptID: dept["发改局"], DeptName: "发改局", Limit: sla.Limit{Value: 5, Unit: sla.WorkDays}, UrgeRatio: 0.8}); err != nil {
				return err
			}
		}
	}
	return nil
}
