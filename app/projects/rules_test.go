package projects

import "testing"

func TestEvaluate(t *testing.T) {
	r := DefaultRules() // invest 10/30 %, milestone 1/30 days, issues 1/3
	for _, tc := range []struct {
		name    string
		r       Rules
		f       Facts
		want    string
		reasons int
	}{
		{"no data", r, Facts{}, Green, 0},
		{"on plan", r, Facts{CumPlan: 100, CumDone: 100}, Green, 0},
		{"ahead", r, Facts{CumPlan: 100, CumDone: 150}, Green, 0},
		{"behind 9.99%", r, Facts{CumPlan: 10000, CumDone: 9001}, Green, 0},
		{"behind exactly 10%", r, Facts{CumPlan: 100, CumDone: 90}, Yellow, 1},
		{"behind 29%", r, Facts{CumPlan: 100, CumDone: 71}, Yellow, 1},
		{"behind exactly 30%", r, Facts{CumPlan: 100, CumDone: 70}, Red, 1},
		{"nothing done", r, Facts{CumPlan: 100}, Red, 1},
		{"milestone 1 day late", r, Facts{MaxMilestoneLate: 1}, Yellow, 1},
		{"milestone 30 days late", r, Facts{MaxMilestoneLate: 30}, Red, 1},
		{"one overdue issue", r, Facts{OverdueIssues: 1}, Yellow, 1},
		{"three overdue issues", r, Facts{OverdueIssues: 3}, Red, 1},
		{"worst wins", r, Facts{CumPlan: 100, CumDone: 85, OverdueIssues: 3}, Red, 2},
		{"all yellow", r, Facts{CumPlan: 100, CumDone: 85, MaxMilestoneLate: 5, OverdueIssues: 1}, Yellow, 3},
		{"red disabled", Rules{InvestYellowPct: 5}, Facts{CumPlan: 100}, Yellow, 1},
		{"all disabled", Rules{}, Facts{CumPlan: 100, MaxMilestoneLate: 99, OverdueIssues: 9}, Green, 0},
		{"custom milestone", Rules{MilestoneYellowDays: 7, MilestoneRedDays: 14}, Facts{MaxMilestoneLate: 6}, Green, 0},
	} {
		got, reasons := Evaluate(tc.r, tc.f)
		if got != tc.want || len(reasons) != tc.reasons {
			t.Errorf("%s: got %s %v, want %s with %d reasons", tc.name, got, reasons, tc.want, tc.reasons)
		}
	}
}

func TestRulesCheck(t *testing.T) {
	if msg := DefaultRules().Check(); msg != "" {
		t.Fatal(msg)
	}
	for _, r := range []Rules{
		{InvestYellowPct: 40, InvestRedPct: 30},
		{InvestYellowPct: -1},
		{InvestRedPct: 101},
		{MilestoneYellowDays: 10, MilestoneRedDays: 5},
		{OverdueIssuesYellow: -1},
		{OverdueIssuesYellow: 4, OverdueIssuesRed: 3},
	} {
		if r.Check() == "" {
			t.Errorf("%+v accepted", r)
		}
	}
}
