package cases

import (
	"context"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Read API for the command-centre screen (app/dashboard): aggregates in
// the caller's data scope. The dashboard never reads cases tables.

// Funnel counts the cases created since a time by how far they got.
type Funnel struct {
	Reported   int `json:"reported"`
	Accepted   int `json:"accepted"`   // 立案
	Dispatched int `json:"dispatched"` // 派遣
	Handled    int `json:"handled"`    // 处置反馈
	Closed     int `json:"closed"`     // 结案
}

// CaseFunnel counts the cases created at or after since in p's scope.
func (m *Module) CaseFunnel(ctx context.Context, p *httpapi.Principal, since time.Time) (Funnel, error) {
	cond, args := scopeFilter(p)
	args = append(args, dbt(since))
	var f Funnel
	err := m.st.DB().QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(registered_at != ''), 0), coalesce(sum(dispatched_at != ''), 0),
		coalesce(sum(feedback_at != ''), 0), coalesce(sum(closed_at != ''), 0)
		FROM cases_case WHERE `+cond+` AND created_at >= ? AND state NOT IN ('void', 'merged')`, args...).
		Scan(&f.Reported, &f.Accepted, &f.Dispatched, &f.Handled, &f.Closed)
	return f, err
}

// OpenByTownship counts the open cases in p's scope per township grid
// code (cases without a location are counted under "").
func (m *Module) OpenByTownship(ctx context.Context, p *httpapi.Principal) (map[string]int, error) {
	cond, args := scopeFilter(p)
	rows, err := m.st.DB().QueryContext(ctx, `SELECT township_code, count(*) FROM cases_case `+openIndex(p)+
		`WHERE open = 1 AND `+cond+` GROUP BY township_code`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var code string
		var n int
		if err := rows.Scan(&code, &n); err != nil {
			return nil, err
		}
		out[code] = n
	}
	return out, rows.Err()
}

// Counts a dashboard indicator can show (county-wide).
const (
	CountOpen    = "open"    // cases in progress
	CountOverdue = "overdue" // open cases past their stage deadline
	CountToday   = "today"   // cases created since local midnight
	CountClosed  = "closed"  // cases closed since local midnight
)

// CountCases counts cases county-wide: what is one of the Count*
// constants, source and category (a 大类 or 小类 code prefix) optionally
// narrow it. now fixes "today" (local day of now).
func (m *Module) CountCases(ctx context.Context, what, source, category string, now time.Time) (int, error) {
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location())
	var cond string
	var args []any
	switch what {
	case CountOpen:
		cond = "open = 1"
	case CountOverdue:
		cond, args = "open = 1 AND stage_deadline != '' AND stage_deadline < ?", []any{dbt(now)}
	case CountToday:
		cond, args = "created_at >= ?", []any{dbt(midnight)}
	case CountClosed:
		cond, args = "closed_at >= ?", []any{dbt(midnight)}
	default:
		return 0, store.Errorf("invalid", "unknown case count %q", what)
	}
	if source != "" {
		cond += " AND source = ?"
		args = append(args, source)
	}
	if category != "" {
		cond += " AND category_code >= ? AND category_code < ?"
		args = append(args, category, category+"\xff")
	}
	var n int
	err := m.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM cases_case WHERE `+cond, args...).Scan(&n)
	return n, err
}
