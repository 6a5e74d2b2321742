package duty

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Entry is one person on duty for a shift of a day in a department.
type Entry struct {
	ID             int64     `json:"id"`
	Date           string    `json:"date" doc:"YYYY-MM-DD"`
	Shift          string    `json:"shift" doc:"e.g. 白班 08:00-17:30, 夜班"`
	DeptID         int64     `json:"dept_id"`
	DepartmentName string    `json:"department_name"`
	UserID         int64     `json:"user_id"`
	UserName       string    `json:"user_name"`
	Phone          string    `json:"phone,omitempty"`
	Role           string    `json:"role" doc:"leader (带班领导) or member (值班员)"`
	Note           string    `json:"note,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	CreatedBy      string    `json:"created_by,omitempty"`
}

// EntryInput puts someone on the roster.
type EntryInput struct {
	Date   string `json:"date"`
	Shift  string `json:"shift"`
	DeptID int64  `json:"dept_id"`
	UserID int64  `json:"user_id"`
	Role   string `json:"role,omitempty"`
	Note   string `json:"note,omitempty"`
}

func validDate(v *httpapi.Validator, field, s string) {
	_, err := time.Parse(time.DateOnly, s)
	v.Check(err == nil, field, "must be a date YYYY-MM-DD")
}

// Validate implements httpapi.Validatable.
func (in *EntryInput) Validate() error {
	var v httpapi.Validator
	validDate(&v, "date", in.Date)
	v.Text("shift", in.Shift, 1, 32)
	v.Check(in.DeptID > 0, "dept_id", "is required")
	v.Check(in.UserID > 0, "user_id", "is required")
	if in.Role == "" {
		in.Role = "member"
	}
	v.OneOf("role", in.Role, "leader", "member")
	v.Text("note", in.Note, 0, 200)
	return v.Err()
}

type entryPayload struct {
	EntryInput
	DepartmentName string `json:"department_name"`
	UserName       string `json:"user_name"`
	Phone          string `json:"phone"`
}

type idPayload struct {
	ID int64 `json:"id"`
}

func applyRosterAdd(tx *store.Tx, cmd *store.Command) (any, error) {
	var p entryPayload
	if err := httpapi.DecodeBytes(cmd.Payload, &p); err != nil {
		return nil, err
	}
	r, err := tx.Exec(`INSERT INTO duty_roster(date, shift, dept_id, department_name, user_id, user_name, phone, role, note, created_at, created_by)
		VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`, p.Date, p.Shift, p.DeptID, p.DepartmentName, p.UserID, p.UserName, p.Phone,
		p.Role, p.Note, httpapi.FormatDBTime(tx.Now()), tx.Actor())
	if err != nil {
		return nil, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil, store.Errorf("conflict", "%s is already on the %s %s roster of this department", p.UserName, p.Date, p.Shift)
	}
	id, _ := r.LastInsertId()
	return entryByID(tx, id)
}

func applyRosterRemove(tx *store.Tx, cmd *store.Command) (any, error) {
	var p idPayload
	if err := httpapi.DecodeBytes(cmd.Payload, &p); err != nil {
		return nil, err
	}
	e, err := entryByID(tx, p.ID)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`DELETE FROM duty_roster WHERE id = ?`, p.ID); err != nil {
		return nil, err
	}
	return e, nil
}

const entryCols = `id, date, shift, dept_id, department_name, user_id, user_name, phone, role, note, created_at, created_by`

func scanEntry(s interface{ Scan(...any) error }) (*Entry, error) {
	var e Entry
	var at string
	if err := s.Scan(&e.ID, &e.Date, &e.Shift, &e.DeptID, &e.DepartmentName, &e.UserID, &e.UserName, &e.Phone, &e.Role, &e.Note, &at, &e.CreatedBy); err != nil {
		return nil, err
	}
	e.CreatedAt = httpapi.ParseDBTime(at)
	return &e, nil
}

type rowQueryer interface {
	QueryRow(query string, args ...any) *sql.Row
}

func entryByID(q rowQueryer, id int64) (*Entry, error) {
	e, err := scanEntry(q.QueryRow(`SELECT `+entryCols+` FROM duty_roster WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "roster entry %d not found", id)
	}
	return e, err
}

var rosterList = &httpapi.ListSpec{
	Sort:        map[string]string{"date": "date", "shift": "shift", "department_name": "department_name", "user_name": "user_name"},
	DefaultSort: "-date",
	Filters: map[string]httpapi.Filter{
		"date":    {Column: "date", Kind: httpapi.FilterString},
		"from":    {Doc: "first date (YYYY-MM-DD)", Func: dateBound("date >= ?")},
		"to":      {Doc: "last date (YYYY-MM-DD)", Func: dateBound("date <= ?")},
		"dept_id": {Column: "dept_id", Kind: httpapi.FilterInt},
		"user_id": {Column: "user_id", Kind: httpapi.FilterInt},
		"shift":   {Column: "shift", Kind: httpapi.FilterString},
	},
	Search:   []string{"user_name", "department_name", "shift", "phone"},
	Tiebreak: "id",
}

func dateBound(cond string) func(string) (string, []any, error) {
	return func(v string) (string, []any, error) {
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			return "", nil, httpapi.FieldError(strings.Fields(cond)[0], "must be a date YYYY-MM-DD")
		}
		return cond, []any{v}, nil
	}
}

func (m *Module) listRoster(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, rosterList)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	cond, args := p.ScopeFilter(httpapi.ScopeColumns{Dept: "dept_id", Owner: "user_id"})
	if p.Scope.Kind == httpapi.ScopeGrid || p.Scope.Kind == httpapi.ScopeOwn {
		// Grid workers see their own department's roster.
		dc, da := deptFilter(p, "dept_id")
		cond, args = "("+cond+" OR "+dc+")", append(args, da...)
	}
	q.And(cond, args...)
	return listPage(r.Context(), w, m.st.DB(), q, "duty_roster", entryCols, scanEntry)
}

// listPage runs a scoped list query over one table.
func listPage[T any](ctx context.Context, w http.ResponseWriter, db *sql.DB, q httpapi.ListQuery, table, cols string, scan func(interface{ Scan(...any) error }) (*T, error)) error {
	var total int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+cols+` FROM `+table+` `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []T{}
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return err
		}
		items = append(items, *x)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[T]{Items: items, Total: total})
}

// deptName checks that a department exists and returns its name.
func (m *Module) deptName(ctx context.Context, id int64, field string) (string, error) {
	d, err := m.opts.Org.Department(ctx, id)
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) && se.Code == "not_found" {
			return "", httpapi.FieldError(field, "no such department")
		}
		return "", err
	}
	return d.Name, nil
}

func (m *Module) addRoster(w http.ResponseWriter, r *http.Request) error {
	var in EntryInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	ctx := r.Context()
	dname, err := m.deptName(ctx, in.DeptID, "dept_id")
	if err != nil {
		return err
	}
	if !inMyDepts(p, in.DeptID) {
		return store.Errorf("forbidden", "department %d is outside your data scope", in.DeptID)
	}
	u, err := m.opts.Org.User(ctx, in.UserID)
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) && se.Code == "not_found" {
			return httpapi.FieldError("user_id", "no such user")
		}
		return err
	}
	if u.Disabled {
		return httpapi.FieldError("user_id", "user is disabled")
	}
	res, err := httpapi.Apply(r, m.st, CmdRosterAdd, 1, entryPayload{EntryInput: in, DepartmentName: dname, UserName: u.Name, Phone: u.Phone})
	if err != nil {
		return err
	}
	var e Entry
	if err := res.Decode(&e); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, &e)
}

func (m *Module) removeRoster(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	e, err := entryByID(m.st.DB(), id)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if !p.InScope(e.DeptID, "", e.UserID) && !inMyDepts(p, e.DeptID) {
		return store.Errorf("not_found", "roster entry %d not found", id)
	}
	if !inMyDepts(p, e.DeptID) {
		return store.Errorf("forbidden", "department %d is outside your data scope", e.DeptID)
	}
	if _, err := httpapi.Apply(r, m.st, CmdRosterRemove, 1, idPayload{ID: id}); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}
