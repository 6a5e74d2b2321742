package projects

import (
	"fmt"
	"math"
)

// Status colours.
const (
	Green  = "green"
	Yellow = "yellow"
	Red    = "red"
)

// Rules decide a project's red/yellow/green status. Each rule has a yellow
// and a red threshold; the status is the worst colour any rule gives. A zero
// threshold disables that colour for the rule.
type Rules struct {
	// InvestYellowPct / InvestRedPct: cumulative completed investment behind
	// the cumulative plan (through the latest reported month) by at least
	// this many percent of the plan.
	InvestYellowPct float64 `json:"invest_yellow_pct"`
	InvestRedPct    float64 `json:"invest_red_pct"`
	// MilestoneYellowDays / MilestoneRedDays: an unfinished milestone is
	// past its planned finish by at least this many days.
	MilestoneYellowDays int `json:"milestone_yellow_days"`
	MilestoneRedDays    int `json:"milestone_red_days"`
	// OverdueIssuesYellow / OverdueIssuesRed: at least this many open
	// problem-list issues are past their deadline (or already under 督办
	// by the scheduler).
	OverdueIssuesYellow int `json:"overdue_issues_yellow"`
	OverdueIssuesRed    int `json:"overdue_issues_red"`
}

// DefaultRules are used until project.rules.set stores others.
func DefaultRules() Rules {
	return Rules{InvestYellowPct: 10, InvestRedPct: 30, MilestoneYellowDays: 1, MilestoneRedDays: 30, OverdueIssuesYellow: 1, OverdueIssuesRed: 3}
}

// Check returns "" or what is wrong with r.
func (r Rules) Check() string {
	switch {
	case r.InvestYellowPct < 0 || r.InvestRedPct < 0 || r.InvestYellowPct > 100 || r.InvestRedPct > 100:
		return "investment thresholds must be between 0 and 100"
	case r.InvestRedPct != 0 && r.InvestYellowPct > r.InvestRedPct:
		return "invest_yellow_pct must not exceed invest_red_pct"
	case r.MilestoneYellowDays < 0 || r.MilestoneRedDays < 0:
		return "milestone thresholds must not be negative"
	case r.MilestoneRedDays != 0 && r.MilestoneYellowDays > r.MilestoneRedDays:
		return "milestone_yellow_days must not exceed milestone_red_days"
	case r.OverdueIssuesYellow < 0 || r.OverdueIssuesRed < 0:
		return "issue thresholds must not be negative"
	case r.OverdueIssuesRed != 0 && r.OverdueIssuesYellow > r.OverdueIssuesRed:
		return "overdue_issues_yellow must not exceed overdue_issues_red"
	}
	return ""
}

// Facts are the inputs of the rules for one project at one instant.
type Facts struct {
	CumPlan          float64 `json:"cum_plan"`
	CumDone          float64 `json:"cum_done"`
	MaxMilestoneLate int     `json:"max_milestone_late_days"`
	OverdueIssues    int     `json:"overdue_issues"`
}

// BehindPct is how far completed investment is behind plan, in percent of
// the plan (0 when ahead or without plan).
func (f Facts) BehindPct() float64 {
	if f.CumPlan <= 0 || f.CumDone >= f.CumPlan {
		return 0
	}
	return math.Round((f.CumPlan-f.CumDone)/f.CumPlan*10000) / 100
}

func worse(a, b string) string {
	rank := map[string]int{Green: 0, Yellow: 1, Red: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Evaluate applies r to f: the status and one reason per rule that fired.
func Evaluate(r Rules, f Facts) (string, []string) {
	status, reasons := Green, []string{}
	grade := func(v, yellow, red float64) string {
		switch {
		case red > 0 && v >= red:
			return Red
		case yellow > 0 && v >= yellow:
			return Yellow
		}
		return Green
	}
	if b := f.BehindPct(); b > 0 {
		if c := grade(b, r.InvestYellowPct, r.InvestRedPct); c != Green {
			status = worse(status, c)
			reasons = append(reasons, fmt.Sprintf("%s: 投资完成滞后计划 %.2f%%", c, b))
		}
	}
	if c := grade(float64(f.MaxMilestoneLate), float64(r.MilestoneYellowDays), float64(r.MilestoneRedDays)); c != Green {
		status = worse(status, c)
		reasons = append(reasons, fmt.Sprintf("%s: 节点滞后 %d 天", c, f.MaxMilestoneLate))
	}
	if c := grade(float64(f.OverdueIssues), float64(r.OverdueIssuesYellow), float64(r.OverdueIssuesRed)); c != Green {
		status = worse(status, c)
		reasons = append(reasons, fmt.Sprintf("%s: 超期未办结问题 %d 个", c, f.OverdueIssues))
	}
	return status, reasons
}
