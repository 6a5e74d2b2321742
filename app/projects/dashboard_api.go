package projects

import (
	"context"

	"github.com/yiwang/yiwang/app/httpapi"
)

// Read API for the command-centre screen (app/dashboard).

// StatusBoard counts the projects in p's scope by red/yellow/green status
// and lists up to limit of them, red first, then yellow, then by progress.
type StatusBoard struct {
	Green  int       `json:"green"`
	Yellow int       `json:"yellow"`
	Red    int       `json:"red"`
	Items  []Project `json:"items"`
}

// Board returns the status board of the projects p may see (withdrawn
// projects left out).
func (m *Module) Board(ctx context.Context, p *httpapi.Principal, limit int) (*StatusBoard, error) {
	cond, args := p.ScopeFilter(scopeCols)
	cond += " AND stage != ?"
	args = append(args, StageWithdrawn)
	db := m.st.DB()
	b := &StatusBoard{Items: []Project{}}
	if err := db.QueryRowContext(ctx, `SELECT coalesce(sum(status = 'green'), 0), coalesce(sum(status = 'yellow'), 0), coalesce(sum(status = 'red'), 0)
		FROM projects_project WHERE `+cond, args...).Scan(&b.Green, &b.Yellow, &b.Red); err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+projectCols+` FROM projects_project WHERE `+cond+`
		ORDER BY CASE status WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 ELSE 2 END, cum_done / max(year_plan, 1), id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		pr, err := scanProject(rows)
		if err != nil {
			return nil, err
		}
		b.Items = append(b.Items, *pr)
	}
	return b, rows.Err()
}
