package duty

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Message is a group message to departments (融合通信-lite).
type Message struct {
	ID         int64       `json:"id"`
	Body       string      `json:"body"`
	FromUserID int64       `json:"from_user_id"`
	FromName   string      `json:"from_name"`
	FromDeptID int64       `json:"from_dept_id,omitempty"`
	CaseID     int64       `json:"case_id,omitempty"`
	CaseTitle  string      `json:"case_title,omitempty"`
	AlarmID    string      `json:"alarm_id,omitempty"`
	AlarmTitle string      `json:"alarm_title,omitempty"`
	DeptIDs    []int64     `json:"dept_ids"`
	Recipients []Recipient `json:"recipients"`
	// Title is what a notification shows (the start of the body).
	Title     string    `json:"title"`
	CreatedAt time.Time `json:"created_at"`
	// Unread is true when one of the caller's departments has not read it.
	Unread bool `json:"unread"`
}

// Recipient is a receiving department with its read receipt.
type Recipient struct {
	DeptID         int64      `json:"dept_id"`
	DepartmentName string     `json:"department_name"`
	ReadAt         *time.Time `json:"read_at,omitempty"`
}

// MessageInput sends a message.
type MessageInput struct {
	DeptIDs []int64 `json:"dept_ids"`
	Body    string  `json:"body"`
	CaseID  int64   `json:"case_id,omitempty"`
	AlarmID string  `json:"alarm_id,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *MessageInput) Validate() error {
	var v httpapi.Validator
	v.Check(len(in.DeptIDs) >= 1 && len(in.DeptIDs) <= 50, "dept_ids", "must list 1 to 50 departments")
	seen := map[int64]bool{}
	for _, d := range in.DeptIDs {
		v.Check(d > 0, "dept_ids", "must be department ids")
		v.Check(!seen[d], "dept_ids", "lists a department twice")
		seen[d] = true
	}
	v.Required("body", in.Body)
	v.MultilineText("body", in.Body, 2000)
	v.Check(in.CaseID >= 0, "case_id", "must not be negative")
	v.Text("alarm_id", in.AlarmID, 0, 64)
	return v.Err()
}

type messagePayload struct {
	MessageInput
	DeptNames  []string `json:"dept_names"`
	FromUserID int64    `json:"from_user_id"`
	FromName   string   `json:"from_name"`
	FromDeptID int64    `json:"from_dept_id"`
	CaseTitle  string   `json:"case_title"`
	AlarmTitle string   `json:"alarm_title"`
}

type readPayload struct {
	ID      int64   `json:"id"`
	DeptIDs []int64 `json:"dept_ids"`
	UserID  int64   `json:"user_id"`
}

func applyMessageSend(tx *store.Tx, cmd *store.Command) (any, error) {
	var p messagePayload
	if err := httpapi.DecodeBytes(cmd.Payload, &p); err != nil {
		return nil, err
	}
	if len(p.DeptNames) != len(p.DeptIDs) {
		return nil, store.Errorf("invalid", "duty.message_send: department names do not match")
	}
	now := httpapi.FormatDBTime(tx.Now())
	r, err := tx.Exec(`INSERT INTO duty_message(body, from_user_id, from_name, from_dept_id, case_id, case_title, alarm_id, alarm_title, created_at)
		VALUES (?,?,?,?,?,?,?,?,?)`, p.Body, p.FromUserID, p.FromName, p.FromDeptID, p.CaseID, p.CaseTitle, p.AlarmID, p.AlarmTitle, now)
	if err != nil {
		return nil, err
	}
	id, _ := r.LastInsertId()
	for i, d := range p.DeptIDs {
		if _, err := tx.Exec(`INSERT INTO duty_message_dept(message_id, dept_id, department_name) VALUES (?,?,?)`, id, d, p.DeptNames[i]); err != nil {
			return nil, err
		}
	}
	return messageByID(context.Background(), tx, id)
}

func applyMessageRead(tx *store.Tx, cmd *store.Command) (any, error) {
	var p readPayload
	if err := httpapi.DecodeBytes(cmd.Payload, &p); err != nil {
		return nil, err
	}
	for _, d := range p.DeptIDs {
		if _, err := tx.Exec(`UPDATE duty_message_dept SET read_at = ?, read_by = ? WHERE message_id = ? AND dept_id = ? AND read_at = ''`,
			httpapi.FormatDBTime(tx.Now()), p.UserID, p.ID, d); err != nil {
			return nil, err
		}
	}
	return messageByID(context.Background(), tx, p.ID)
}

type queryContexter interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const messageCols = `m.id, m.body, m.from_user_id, m.from_name, m.from_dept_id, m.case_id, m.case_title, m.alarm_id, m.alarm_title, m.created_at`

func scanMessage(s interface{ Scan(...any) error }) (*Message, error) {
	var x Message
	var at string
	if err := s.Scan(&x.ID, &x.Body, &x.FromUserID, &x.FromName, &x.FromDeptID, &x.CaseID, &x.CaseTitle, &x.AlarmID, &x.AlarmTitle, &at); err != nil {
		return nil, err
	}
	x.CreatedAt = httpapi.ParseDBTime(at)
	x.Title = title(x.Body)
	return &x, nil
}

func title(body string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(body), "\n")
	if r := []rune(line); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return line
}

func messageByID(ctx context.Context, q queryContexter, id int64) (*Message, error) {
	x, err := scanMessage(q.QueryRowContext(ctx, `SELECT `+messageCols+` FROM duty_message m WHERE m.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.Errorf("not_found", "message %d not found", id)
	}
	if err != nil {
		return nil, err
	}
	if err := fillRecipients(ctx, q, []*Message{x}); err != nil {
		return nil, err
	}
	return x, nil
}

func fillRecipients(ctx context.Context, q queryContexter, msgs []*Message) error {
	if len(msgs) == 0 {
		return nil
	}
	byID := map[int64]*Message{}
	args := make([]any, len(msgs))
	for i, x := range msgs {
		byID[x.ID] = x
		x.DeptIDs, x.Recipients = []int64{}, []Recipient{}
		args[i] = x.ID
	}
	rows, err := q.QueryContext(ctx, `SELECT message_id, dept_id, department_name, read_at FROM duty_message_dept
		WHERE message_id IN (?`+repeat(",?", len(msgs)-1)+`) ORDER BY message_id, dept_id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var mid int64
		var rc Recipient
		var at string
		if err := rows.Scan(&mid, &rc.DeptID, &rc.DepartmentName, &at); err != nil {
			return err
		}
		if at != "" {
			t := httpapi.ParseDBTime(at)
			rc.ReadAt = &t
		}
		x := byID[mid]
		x.DeptIDs = append(x.DeptIDs, rc.DeptID)
		x.Recipients = append(x.Recipients, rc)
	}
	return rows.Err()
}

var messageList = &httpapi.ListSpec{
	Sort:        map[string]string{"created_at": "m.created_at"},
	DefaultSort: "-created_at",
	Filters: map[string]httpapi.Filter{
		"case_id":  {Column: "m.case_id", Kind: httpapi.FilterInt},
		"alarm_id": {Column: "m.alarm_id", Kind: httpapi.FilterString},
		"dept_id":  {Doc: "sent to this department", Func: intCond("dept_id", "m.id IN (SELECT message_id FROM duty_message_dept WHERE dept_id = ?)")},
	},
	Search:   []string{"m.body", "m.from_name", "m.case_title", "m.alarm_title"},
	Tiebreak: "m.id",
}

func intCond(field, cond string) func(string) (string, []any, error) {
	return func(v string) (string, []any, error) {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return "", nil, httpapi.FieldError(field, "must be a positive integer")
		}
		return cond, []any{n}, nil
	}
}

// visibleCond restricts messages to those sent by p or to p's departments.
func visibleCond(p *httpapi.Principal) (string, []any) {
	cond, args := deptFilter(p, "r.dept_id")
	return "(m.from_user_id = ? OR EXISTS (SELECT 1 FROM duty_message_dept r WHERE r.message_id = m.id AND " + cond + "))",
		append([]any{p.UserID}, args...)
}

func (m *Module) listMessages(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, messageList)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	vc, va := visibleCond(p)
	q.And(vc, va...)
	ctx := r.Context()
	db := m.st.DB()
	var total int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM duty_message m `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	rows, err := db.QueryContext(ctx, `SELECT `+messageCols+` FROM duty_message m `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	var msgs []*Message
	for rows.Next() {
		x, err := scanMessage(rows)
		if err != nil {
			rows.Close()
			return err
		}
		msgs = append(msgs, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := fillRecipients(ctx, db, msgs); err != nil {
		return err
	}
	items := make([]Message, 0, len(msgs))
	for _, x := range msgs {
		markUnread(p, x)
		items = append(items, *x)
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Message]{Items: items, Total: total})
}

// recipientDepts are the message's recipient departments among p's.
func recipientDepts(p *httpapi.Principal, x *Message) []int64 {
	all, mine := myDepts(p)
	if all {
		mine = []int64{p.DeptID} // county-wide roles read for their own department
	}
	var out []int64
	for _, d := range x.DeptIDs {
		if slices.Contains(mine, d) {
			out = append(out, d)
		}
	}
	return out
}

func markUnread(p *httpapi.Principal, x *Message) {
	for _, rc := range x.Recipients {
		if rc.ReadAt == nil && slices.Contains(recipientDepts(p, x), rc.DeptID) {
			x.Unread = true
		}
	}
}

func (m *Module) visibleMessage(r *http.Request) (*Message, error) {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return nil, err
	}
	cond, args := visibleCond(httpapi.MustPrincipal(r))
	var n int
	if err := m.st.DB().QueryRowContext(r.Context(), `SELECT count(*) FROM duty_message m WHERE m.id = ? AND `+cond, append([]any{id}, args...)...).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, store.Errorf("not_found", "message %d not found", id)
	}
	x, err := messageByID(r.Context(), m.st.DB(), id)
	if err != nil {
		return nil, err
	}
	markUnread(httpapi.MustPrincipal(r), x)
	return x, nil
}

func (m *Module) getMessage(w http.ResponseWriter, r *http.Request) error {
	x, err := m.visibleMessage(r)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, x)
}

func (m *Module) sendMessage(w http.ResponseWriter, r *http.Request) error {
	var in MessageInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	ctx := r.Context()
	pl := messagePayload{MessageInput: in, FromUserID: p.UserID, FromName: p.Name, FromDeptID: p.DeptID}
	for _, d := range in.DeptIDs {
		name, err := m.deptName(ctx, d, "dept_ids")
		if err != nil {
			return err
		}
		pl.DeptNames = append(pl.DeptNames, name)
	}
	if in.CaseID != 0 {
		c, err := m.opts.Cases.Case(ctx, in.CaseID)
		if err == nil && !p.InScope(c.DeptID, c.GridCode, c.CreatedBy) {
			err = store.Errorf("not_found", "case %d not found", in.CaseID)
		}
		if err != nil {
			return linkError(err, "case_id", "no such case in your data scope")
		}
		pl.CaseTitle = c.Title
	}
	if in.AlarmID != "" {
		a, err := m.opts.IoT.Alarm(ctx, in.AlarmID)
		if err == nil {
			var dept int64
			if a.DeptID != nil {
				dept = *a.DeptID
			}
			if !p.InScope(dept, a.GridCode, 0) {
				err = store.Errorf("not_found", "alarm %s not found", in.AlarmID)
			}
		}
		if err != nil {
			return linkError(err, "alarm_id", "no such alarm in your data scope")
		}
		pl.AlarmTitle = a.Title
	}
	res, err := httpapi.Apply(r, m.st, CmdMessageSend, 1, pl)
	if err != nil {
		return err
	}
	var x Message
	if err := res.Decode(&x); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, &x)
}

func linkError(err error, field, msg string) error {
	var se *store.Error
	if errors.As(err, &se) && se.Code == "not_found" {
		return httpapi.FieldError(field, msg)
	}
	return err
}

func (m *Module) readMessage(w http.ResponseWriter, r *http.Request) error {
	x, err := m.visibleMessage(r)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	depts := recipientDepts(p, x)
	if len(depts) == 0 {
		return store.Errorf("conflict", "only a recipient department can mark message %d read", x.ID)
	}
	res, err := httpapi.Apply(r, m.st, CmdMessageRead, 1, readPayload{ID: x.ID, DeptIDs: depts, UserID: p.UserID})
	if err != nil {
		return err
	}
	var out Message
	if err := res.Decode(&out); err != nil {
		return err
	}
	markUnread(p, &out)
	return httpapi.JSON(w, http.StatusOK, &out)
}
