package cases

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
	"github.com/yiwang/yiwang/store"
)

const caseCols = `id, title, description, source, external_id, category_code, condition_id, state, open, dept_id,
	grid_code, township_code, address, lat, lng, severity, reporter, reporter_phone, created_by, created_at, updated_at,
	registered_at, dispatched_at, feedback_at, closed_at, handle_deadline, limit_value, limit_unit, stage, stage_round,
	stage_started_at, stage_deadline, stage_unit, urge_at, urged, supervised, extension, returns, reworks, reassigns,
	overdue_stages, merged_into, score, steps`

type rowScanner interface{ Scan(dest ...any) error }

func scanCase(r rowScanner) (*Case, error) {
	var c Case
	var open, urged, supervised int
	var createdAt, updatedAt, registeredAt, dispatchedAt, feedbackAt, closedAt, handleDL, stageStart, stageDL, urgeAt, ext string
	var limitValue float64
	var limitUnit, stageUnit string
	err := r.Scan(&c.ID, &c.Title, &c.Description, &c.Source, &c.ExternalID, &c.CategoryCode, &c.ConditionID, &c.State, &open, &c.DeptID,
		&c.GridCode, &c.TownshipCode, &c.Address, &c.Lat, &c.Lng, &c.Severity, &c.Reporter, &c.ReporterPhone, &c.CreatedBy, &createdAt, &updatedAt,
		&registeredAt, &dispatchedAt, &feedbackAt, &closedAt, &handleDL, &limitValue, &limitUnit, &c.Stage, &c.StageRound,
		&stageStart, &stageDL, &stageUnit, &urgeAt, &urged, &supervised, &ext, &c.Returns, &c.Reworks, &c.Reassigns,
		&c.OverdueStages, &c.MergedInto, &c.Score, &c.Steps)
	if err != nil {
		return nil, err
	}
	p := httpapi.ParseDBTime
	c.Open, c.Urged, c.Supervised = open == 1, urged == 1, supervised == 1
	c.CreatedAt, c.UpdatedAt, c.RegisteredAt, c.DispatchedAt = p(createdAt), p(updatedAt), p(registeredAt), p(dispatchedAt)
	c.FeedbackAt, c.ClosedAt, c.HandleDeadline = p(feedbackAt), p(closedAt), p(handleDL)
	c.StageStartedAt, c.StageDeadline, c.UrgeAt = p(stageStart), p(stageDL), p(urgeAt)
	c.StageUnit = sla.Unit(stageUnit)
	if limitUnit != "" {
		c.Limit = &sla.Limit{Value: limitValue, Unit: sla.Unit(limitUnit)}
	}
	if ext != "" {
		c.Extension = &Extension{}
		if err := json.Unmarshal([]byte(ext), c.Extension); err != nil {
			return nil, err
		}
	}
	c.StateName = StateNames[c.State]
	return &c, nil
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func loadCase(ctx context.Context, q queryer, id int64) (*Case, error) {
	c, err := scanCase(q.QueryRowContext(ctx, `SELECT `+caseCols+` FROM cases_case WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "case %d not found", id)
	}
	return c, err
}

func dbt(t time.Time) string { return httpapi.FormatDBTime(t) }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// nextEsc is when the scheduler must next look at the case (NULL: never).
func nextEsc(c *Case) any {
	if !c.Open || c.Stage == "" || c.StageDeadline.IsZero() || c.Supervised {
		return nil
	}
	if !c.Urged && !c.UrgeAt.IsZero() {
		return dbt(c.UrgeAt)
	}
	return dbt(c.StageDeadline)
}

func insertCase(tx *store.Tx, c *Case) error {
	res, err := tx.Exec(`INSERT INTO cases_case(title, description, source, external_id, state, created_by, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?)`, c.Title, c.Description, c.Source, c.ExternalID, c.State, c.CreatedBy, dbt(c.CreatedAt), dbt(c.UpdatedAt))
	if err != nil {
		return err
	}
	c.ID, err = res.LastInsertId()
	if err != nil {
		return err
	}
	return saveCase(tx, c)
}

func saveCase(tx *store.Tx, c *Case) error {
	var limitValue float64
	var limitUnit string
	if c.Limit != nil {
		limitValue, limitUnit = c.Limit.Value, string(c.Limit.Unit)
	}
	ext := ""
	if c.Extension != nil {
		b, _ := json.Marshal(c.Extension)
		ext = string(b)
	}
	c.Open = IsOpen(c.State)
	_, err := tx.Exec(`UPDATE cases_case SET title=?, description=?, category_code=?, condition_id=?, state=?, open=?, dept_id=?,
		grid_code=?, township_code=?, address=?, lat=?, lng=?, severity=?, reporter=?, reporter_phone=?, updated_at=?,
		registered_at=?, dispatched_at=?, feedback_at=?, closed_at=?, handle_deadline=?, limit_value=?, limit_unit=?, stage=?, stage_round=?,
		stage_started_at=?, stage_deadline=?, stage_unit=?, urge_at=?, urged=?, supervised=?, next_esc_at=?, extension=?, returns=?, reworks=?,
		reassigns=?, overdue_stages=?, merged_into=?, score=?, steps=? WHERE id=?`,
		c.Title, c.Description, c.CategoryCode, c.ConditionID, c.State, b2i(c.Open), c.DeptID,
		c.GridCode, c.TownshipCode, c.Address, c.Lat, c.Lng, c.Severity, c.Reporter, c.ReporterPhone, dbt(c.UpdatedAt),
		dbt(c.RegisteredAt), dbt(c.DispatchedAt), dbt(c.FeedbackAt), dbt(c.ClosedAt), dbt(c.HandleDeadline), limitValue, limitUnit, c.Stage, c.StageRound,
		dbt(c.StageStartedAt), dbt(c.StageDeadline), string(c.StageUnit), dbt(c.UrgeAt), b2i(c.Urged), b2i(c.Supervised), nextEsc(c), ext, c.Returns, c.Reworks,
		c.Reassigns, c.OverdueStages, c.MergedInto, c.Score, c.Steps, c.ID)
	return err
}

const attCols = `id, case_id, step_id, sha256, mime, size, name, phase, uploaded_by, created_at`

func scanAttachment(r rowScanner) (Attachment, error) {
	var a Attachment
	var at string
	err := r.Scan(&a.ID, &a.CaseID, &a.StepID, &a.SHA256, &a.MIME, &a.Size, &a.Name, &a.Phase, &a.UploadedBy, &at)
	a.CreatedAt = httpapi.ParseDBTime(at)
	return a, err
}

func loadSettings(ctx context.Context, q queryer) (Settings, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM cases_setting WHERE id = 1`).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultSettings(), nil
	}
	if err != nil {
		return Settings{}, err
	}
	s := DefaultSettings()
	err = json.Unmarshal([]byte(body), &s)
	return s, err
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
