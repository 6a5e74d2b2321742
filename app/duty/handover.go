package duty

import (
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Handover is a shift handover note (交接班记录).
type Handover struct {
	ID             int64      `json:"id"`
	DeptID         int64      `json:"dept_id"`
	DepartmentName string     `json:"department_name"`
	Date           string     `json:"date"`
	Shift          string     `json:"shift"`
	UserID         int64      `json:"user_id"`
	UserName       string     `json:"user_name"`
	Note           string     `json:"note"`
	OpenItems      string     `json:"open_items,omitempty" doc:"matters the next shift must follow up"`
	CreatedAt      time.Time  `json:"created_at"`
	AckedAt        *time.Time `json:"acked_at,omitempty" doc:"when the next shift took over"`
	AckedBy        int64      `json:"acked_by,omitempty"`
	AckedByName    string     `json:"acked_by_name,omitempty"`
}

// HandoverInput writes a handover note. DeptID defaults to the author's
// department.
type HandoverInput struct {
	DeptID    int64  `json:"dept_id,omitempty"`
	Date      string `json:"date"`
	Shift     string `json:"shift"`
	Note      string `json:"note"`
	OpenItems string `json:"open_items,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *HandoverInput) Validate() error {
	var v httpapi.Validator
	validDate(&v, "date", in.Date)
	v.Text("shift", in.Shift, 1, 32)
	v.Required("note", in.Note)
	v.MultilineText("note", in.Note, 4000)
	v.MultilineText("open_items", in.OpenItems, 4000)
	v.Check(in.DeptID >= 0, "dept_id", "must not be negative")
	return v.Err()
}

type handoverPayload struct {
	HandoverInput
	DepartmentName string `json:"department_name"`
	UserID         int64  `json:"user_id"`
	UserName       string `json:"user_name"`
}

type ackPayload struct {
	ID       int64  `json:"id"`
	UserID   int64  `json:"user_id"`
	UserName string `json:"user_name"`
}

func applyHandoverCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p handoverPayload
	if err := httpapi.DecodeBytes(cmd.Payload, &p); err != nil {
		return nil, err
	}
	r, err := tx.Exec(`INSERT INTO duty_handover(dept_id, department_name, date, shift, user_id, user_name, note, open_items, created_at)
		VALUES (?,?,?,?,?,?,?,?,?)`, p.DeptID, p.DepartmentName, p.Date, p.Shift, p.UserID, p.UserName, p.Note, p.OpenItems, httpapi.FormatDBTime(tx.Now()))
	if err != nil {
		return nil, err
	}
	id, _ := r.LastInsertId()
	return handoverByID(tx, id)
}

func applyHandoverAck(tx *store.Tx, cmd *store.Command) (any, error) {
	var p ackPayload
	if err := httpapi.DecodeBytes(cmd.Payload, &p); err != nil {
		return nil, err
	}
	h, err := handoverByID(tx, p.ID)
	if err != nil {
		return nil, err
	}
	if h.AckedAt != nil {
		return nil, store.Errorf("conflict", "handover %d was already taken over by %s", h.ID, h.AckedByName)
	}
	if h.UserID == p.UserID {
		return nil, store.Errorf("conflict", "the one handing over cannot take over the same shift")
	}
	if _, err := tx.Exec(`UPDATE duty_handover SET acked_at = ?, acked_by = ?, acked_by_name = ? WHERE id = ?`,
		httpapi.FormatDBTime(tx.Now()), p.UserID, p.UserName, p.ID); err != nil {
		return nil, err
	}
	return handoverByID(tx, p.ID)
}

const handoverCols = `id, dept_id, department_name, date, shift, user_id, user_name, note, open_items, created_at, acked_at, acked_by, acked_by_name`

func scanHandover(s interface{ Scan(...any) error }) (*Handover, error) {
	var h Handover
	var at, acked string
	if err := s.Scan(&h.ID, &h.DeptID, &h.DepartmentName, &h.Date, &h.Shift, &h.UserID, &h.UserName, &h.Note, &h.OpenItems, &at, &acked, &h.AckedBy, &h.AckedByName); err != nil {
		return nil, err
	}
	h.CreatedAt = httpapi.ParseDBTime(at)
	if acked != "" {
		t := httpapi.ParseDBTime(acked)
		h.AckedAt = &t
	}
	return &h, nil
}

func handoverByID(q rowQueryer, id int64) (*Handover, error) {
	h, err := scanHandover(q.QueryRow(`SELECT `+handoverCols+` FROM duty_handover WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "handover %d not found", id)
	}
	return h, err
}

var handoverList = &httpapi.ListSpec{
	Sort:        map[string]string{"created_at": "created_at", "date": "date"},
	DefaultSort: "-created_at",
	Filters: map[string]httpapi.Filter{
		"date":    {Column: "date", Kind: httpapi.FilterString},
		"dept_id": {Column: "dept_id", Kind: httpapi.FilterInt},
		"acked":   {Doc: "true: taken over; false: waiting", Func: boolCond("acked_at != ''", "acked_at = ''")},
	},
	Search:   []string{"note", "open_items", "user_name"},
	Tiebreak: "id",
}

func boolCond(yes, no string) func(string) (string, []any, error) {
	return func(v string) (string, []any, error) {
		switch v {
		case "true", "1":
			return yes, nil, nil
		case "false", "0":
			return no, nil, nil
		}
		return "", nil, httpapi.FieldError("acked", "must be true or false")
	}
}

func (m *Module) listHandovers(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, handoverList)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	cond, args := deptFilter(p, "dept_id")
	q.And("("+cond+" OR user_id = ?)", append(args, p.UserID)...)
	return listPage(r.Context(), w, m.st.DB(), q, "duty_handover", handoverCols, scanHandover)
}

func (m *Module) createHandover(w http.ResponseWriter, r *http.Request) error {
	var in HandoverInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if in.DeptID == 0 {
		in.DeptID = p.DeptID
	}
	if in.DeptID == 0 {
		return httpapi.FieldError("dept_id", "is required (you belong to no department)")
	}
	name, err := m.deptName(r.Context(), in.DeptID, "dept_id")
	if err != nil {
		return err
	}
	if !inMyDepts(p, in.DeptID) {
		return store.Errorf("forbidden", "department %d is outside your data scope", in.DeptID)
	}
	res, err := httpapi.Apply(r, m.st, CmdHandoverCreate, 1, handoverPayload{HandoverInput: in, DepartmentName: name, UserID: p.UserID, UserName: p.Name})
	if err != nil {
		return err
	}
	var h Handover
	if err := res.Decode(&h); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, &h)
}

func (m *Module) ackHandover(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	h, err := handoverByID(m.st.DB(), id)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if !inMyDepts(p, h.DeptID) {
		if h.UserID == p.UserID {
			return store.Errorf("conflict", "the one handing over cannot take over the same shift")
		}
		return store.Errorf("not_found", "handover %d not found", id)
	}
	res, err := httpapi.Apply(r, m.st, CmdHandoverAck, 1, ackPayload{ID: id, UserID: p.UserID, UserName: p.Name})
	if err != nil {
		return err
	}
	var out Handover
	if err := res.Decode(&out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, &out)
}
