package org

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Command types of the org module. Every write of the module is one of
// these, so each is in the replicated, hash-chained command log.
const (
	CmdSetup            = "org.setup"
	CmdSettingsUpdate   = "org.settings.update"
	CmdDepartmentCreate = "org.department.create"
	CmdDepartmentUpdate = "org.department.update"
	CmdDepartmentDelete = "org.department.delete"
	CmdDepartmentImport = "org.department.import"
	CmdGridCreate       = "org.grid.create"
	CmdGridUpdate       = "org.grid.update"
	CmdGridDelete       = "org.grid.delete"
	CmdGridImport       = "org.grid.import"
	CmdUserCreate       = "org.user.create"
	CmdUserUpdate       = "org.user.update"
	CmdUserDelete       = "org.user.delete"
	CmdUserImport       = "org.user.import"
	CmdUserSetPassword  = "org.user.set_password"
	CmdLogin            = "auth.login"
	CmdLoginFailed      = "auth.login_failed"
	CmdLogout           = "auth.logout"
	CmdTokenCreate      = "auth.token.create"
	CmdTokenRevoke      = "auth.token.revoke"
)

// Lockout policy.
const (
	MaxFailedLogins = 5
	LockDuration    = 15 * time.Minute
	SessionTTL      = 12 * time.Hour
)

// Payloads. Passwords never enter a command: only argon2id hashes, computed
// by the caller (hashing is random, handlers must be deterministic).

type setupPayload struct {
	CountyName   string `json:"county_name"`
	CountyCode   string `json:"county_code,omitempty"`
	Username     string `json:"username"`
	Name         string `json:"name"`
	PasswordHash string `json:"password_hash"`
	// OnlyIfNoAdmin refuses when an administrator exists (first run).
	OnlyIfNoAdmin bool `json:"only_if_no_admin"`
}

type idPayload struct {
	ID int64 `json:"id"`
}

type deptUpdatePayload struct {
	ID int64 `json:"id"`
	DepartmentPatch
}

type gridUpdatePayload struct {
	ID int64 `json:"id"`
	GridPatch
}

type userCreatePayload struct {
	UserInput
	PasswordHash string `json:"password_hash,omitempty"`
}

type userUpdatePayload struct {
	ID int64 `json:"id"`
	UserPatch
}

type setPasswordPayload struct {
	ID           int64  `json:"id"`
	PasswordHash string `json:"password_hash"`
	MustChange   bool   `json:"must_change"`
	// KeepTokenID is the session that stays valid (the one changing its own
	// password); every other session of the user is revoked.
	KeepTokenID int64 `json:"keep_token_id,omitempty"`
}

type loginPayload struct {
	UserID    int64     `json:"user_id"`
	Username  string    `json:"username"`
	TokenHash string    `json:"token_hash"`
	ExpiresAt time.Time `json:"expires_at"`
	IP        string    `json:"ip,omitempty"`
}

type loginFailedPayload struct {
	UserID   int64  `json:"user_id,omitempty"`
	Username string `json:"username"`
	Reason   string `json:"reason"` // password, unknown_user, locked, disabled, token_only, no_password
	IP       string `json:"ip,omitempty"`
}

type loginFailedResult struct {
	Failed      int       `json:"failed"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

type tokenCreatePayload struct {
	UserID      int64     `json:"user_id"`
	Kind        string    `json:"kind"`
	Name        string    `json:"name"`
	Permissions []string  `json:"permissions,omitempty"`
	TokenHash   string    `json:"token_hash"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

type deptImportRow struct {
	DepartmentInput
	ParentName string `json:"parent_name,omitempty"`
}

type importPayload[T any] struct {
	Rows []T `json:"rows"`
}

func (m *Module) register(st *store.Store) {
	st.AddMigrations("org", migrations...)
	reg := func(typ string, h store.Handler) { st.Register(typ, 1, h) }
	reg(CmdSetup, applySetup)
	reg(CmdSettingsUpdate, applySettingsUpdate)
	reg(CmdDepartmentCreate, applyDeptCreate)
	reg(CmdDepartmentUpdate, applyDeptUpdate)
	reg(CmdDepartmentDelete, applyDeptDelete)
	reg(CmdDepartmentImport, applyDeptImport)
	reg(CmdGridCreate, applyGridCreate)
	reg(CmdGridUpdate, applyGridUpdate)
	reg(CmdGridDelete, applyGridDelete)
	reg(CmdGridImport, applyGridImport)
	reg(CmdUserCreate, applyUserCreate)
	reg(CmdUserUpdate, applyUserUpdate)
	reg(CmdUserDelete, applyUserDelete)
	reg(CmdUserImport, applyUserImport)
	reg(CmdUserSetPassword, applySetPassword)
	reg(CmdLogin, applyLogin)
	reg(CmdLoginFailed, applyLoginFailed)
	reg(CmdLogout, applyLogout)
	reg(CmdTokenCreate, applyTokenCreate)
	reg(CmdTokenRevoke, applyTokenRevoke)
}

func decodePayload(cmd *store.Command, v any) error {
	if err := json.Unmarshal(cmd.Payload, v); err != nil {
		return store.Errorf("invalid", "%s: malformed payload: %v", cmd.Type, err)
	}
	return nil
}

func ts(t time.Time) string { return httpapi.FormatDBTime(t) }

func nullID(p *int64) any {
	if p == nil || *p == 0 {
		return nil
	}
	return *p
}

func bump(tx *store.Tx, name string, delta int) error {
	_, err := tx.Exec(`UPDATE org_count SET n = n + ? WHERE name = ?`, delta, name)
	return err
}

// ---- settings and setup ----

func applySetup(tx *store.Tx, cmd *store.Command) (any, error) {
	var p setupPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if p.OnlyIfNoAdmin {
		n, err := countAdmins(tx.Tx)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, store.Errorf("conflict", "setup is already done: an administrator exists")
		}
	}
	if p.CountyName != "" {
		if err := setSetting(tx, "county_name", p.CountyName); err != nil {
			return nil, err
		}
	}
	if p.CountyCode != "" {
		if err := setSetting(tx, "county_code", p.CountyCode); err != nil {
			return nil, err
		}
	}
	name := p.Name
	if name == "" {
		name = "系统管理员"
	}
	in := UserInput{Username: p.Username, Name: name, Roles: []string{httpapi.RoleAdmin}}
	return createUser(tx, &in, p.PasswordHash)
}

func applySettingsUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p CountySettings
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := setSetting(tx, "county_name", p.Name); err != nil {
		return nil, err
	}
	return p, setSetting(tx, "county_code", p.Code)
}

func setSetting(tx *store.Tx, key, value string) error {
	_, err := tx.Exec(`INSERT INTO org_setting(key, value) VALUES(?, ?)
		ON CONFLICT(key) DO UPDATE SET value = excluded.value`, key, value)
	return err
}

func countAdmins(q queryer) (int, error) {
	var n int
	err := q.QueryRow(`SELECT count(*) FROM org_user_role r JOIN org_user u ON u.id = r.user_id WHERE r.role = 'admin' AND u.disabled = 0`).Scan(&n)
	return n, err
}

type queryer interface {
	QueryRow(query string, args ...any) *sql.Row
}

// ---- departments ----

func applyDeptCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in DepartmentInput
	if err := decodePayload(cmd, &in); err != nil {
		return nil, err
	}
	return createDept(tx, &in)
}

func createDept(tx *store.Tx, in *DepartmentInput) (*Department, error) {
	var v httpapi.Validator
	in.check(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	parentPath := "/"
	if in.ParentID != nil {
		d, err := deptByID(tx.Tx, *in.ParentID)
		if err != nil {
			return nil, fieldRef("parent_id", err)
		}
		parentPath = d.Path
	}
	if err := checkSiblingName(tx.Tx, in.ParentID, in.Name, 0); err != nil {
		return nil, err
	}
	now := ts(tx.Now())
	res, err := tx.Exec(`INSERT INTO org_department(parent_id, name, kind, code, phone, sort, path, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, '', ?, ?)`, nullID(in.ParentID), in.Name, in.Kind, in.Code, in.Phone, in.Sort, now, now)
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	path := parentPath + strconv.FormatInt(id, 10) + "/"
	if _, err := tx.Exec(`UPDATE org_department SET path = ? WHERE id = ?`, path, id); err != nil {
		return nil, err
	}
	if err := bump(tx, "department", 1); err != nil {
		return nil, err
	}
	return deptByID(tx.Tx, id)
}

func fieldRef(field string, err error) error {
	var se *store.Error
	if errors.As(err, &se) && se.Code == "not_found" {
		return &store.Error{Code: "invalid", Message: field + ": " + se.Message, Fields: map[string]string{field: se.Message}}
	}
	return err
}

func checkSiblingName(q queryer, parent *int64, name string, exceptID int64) error {
	var n int
	err := q.QueryRow(`SELECT count(*) FROM org_department WHERE coalesce(parent_id, 0) = ? AND name = ? AND id != ?`,
		derefID(parent), name, exceptID).Scan(&n)
	if err != nil {
		return err
	}
	if n > 0 {
		return &store.Error{Code: "conflict", Message: "a department named " + name + " already exists there", Fields: map[string]string{"name": "already exists under this parent"}}
	}
	return nil
}

func derefID(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func applyDeptUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p deptUpdatePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.DepartmentPatch.Validate(); err != nil {
		return nil, err
	}
	d, err := deptByID(tx.Tx, p.ID)
	if err != nil {
		return nil, err
	}
	if p.Name != nil {
		d.Name = *p.Name
	}
	if p.Kind != nil {
		d.Kind = *p.Kind
	}
	if p.Code != nil {
		d.Code = *p.Code
	}
	if p.Phone != nil {
		d.Phone = *p.Phone
	}
	if p.Sort != nil {
		d.Sort = *p.Sort
	}
	oldPath := d.Path
	if p.ParentID != nil {
		newParentPath := "/"
		if *p.ParentID == 0 {
			d.ParentID = nil
		} else {
			parent, err := deptByID(tx.Tx, *p.ParentID)
			if err != nil {
				return nil, fieldRef("parent_id", err)
			}
			if strings.HasPrefix(parent.Path, oldPath) {
				return nil, &store.Error{Code: "invalid", Message: "a department cannot move below itself", Fields: map[string]string{"parent_id": "is the department itself or one of its descendants"}}
			}
			id := parent.ID
			d.ParentID = &id
			newParentPath = parent.Path
		}
		d.Path = newParentPath + strconv.FormatInt(d.ID, 10) + "/"
	}
	if err := checkSiblingName(tx.Tx, d.ParentID, d.Name, d.ID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`UPDATE org_department SET parent_id = ?, name = ?, kind = ?, code = ?, phone = ?, sort = ?, updated_at = ? WHERE id = ?`,
		nullID(d.ParentID), d.Name, d.Kind, d.Code, d.Phone, d.Sort, ts(tx.Now()), d.ID); err != nil {
		return nil, err
	}
	if d.Path != oldPath {
		if _, err := tx.Exec(`UPDATE org_department SET path = ? || substr(path, ?) WHERE substr(path, 1, ?) = ?`,
			d.Path, len(oldPath)+1, len(oldPath), oldPath); err != nil {
			return nil, err
		}
	}
	return deptByID(tx.Tx, d.ID)
}

func applyDeptDelete(tx *store.Tx, cmd *store.Command) (any, error) {
	var p idPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if _, err := deptByID(tx.Tx, p.ID); err != nil {
		return nil, err
	}
	var children, users, grids int
	if err := tx.QueryRow(`SELECT
		(SELECT count(*) FROM org_department WHERE parent_id = ?),
		(SELECT count(*) FROM org_user WHERE dept_id = ?),
		(SELECT count(*) FROM org_grid WHERE dept_id = ?)`, p.ID, p.ID, p.ID).Scan(&children, &users, &grids); err != nil {
		return nil, err
	}
	if children+users+grids > 0 {
		return nil, store.Errorf("conflict", "department is in use: %d sub-departments, %d users, %d grids", children, users, grids)
	}
	if _, err := tx.Exec(`DELETE FROM org_department WHERE id = ?`, p.ID); err != nil {
		return nil, err
	}
	return map[string]int64{"id": p.ID}, bump(tx, "department", -1)
}

func applyDeptImport(tx *store.Tx, cmd *store.Command) (any, error) {
	var p importPayload[deptImportRow]
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	out := make([]*Department, 0, len(p.Rows))
	for i, row := range p.Rows {
		in := row.DepartmentInput
		if row.ParentName != "" {
			id, err := deptIDByName(tx.Tx, row.ParentName)
			if err != nil {
				return nil, rowError(i, err)
			}
			in.ParentID = &id
		}
		d, err := createDept(tx, &in)
		if err != nil {
			return nil, rowError(i, err)
		}
		out = append(out, d)
	}
	return map[string]any{"created": len(out)}, nil
}

func rowError(i int, err error) error {
	e := store.AsError(err)
	if e.Code == "internal" {
		return err
	}
	return &store.Error{Code: e.Code, Message: fmt.Sprintf("row %d: %s", i+1, e.Message), Fields: e.Fields}
}

// deptIDByName resolves a department by its (county-unique) name.
func deptIDByName(q interface {
	Query(string, ...any) (*sql.Rows, error)
}, name string) (int64, error) {
	rows, err := q.Query(`SELECT id FROM org_department WHERE name = ? LIMIT 2`, name)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return 0, err
		}
		ids = append(ids, id)
	}
	switch len(ids) {
	case 0:
		return 0, store.Errorf("invalid", "no department named %s", name)
	case 1:
		return ids[0], rows.Err()
	}
	return 0, store.Errorf("invalid", "more than one department is named %s", name)
}

// ---- grids ----

func applyGridCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var in GridInput
	if err := decodePayload(cmd, &in); err != nil {
		return nil, err
	}
	return createGrid(tx, &in)
}

func createGrid(tx *store.Tx, in *GridInput) (*Grid, error) {
	var v httpapi.Validator
	in.check(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	level, parent, _ := GridLevelOf(in.Code)
	if parent != "" {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM org_grid WHERE code = ?`, parent).Scan(&n); err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, &store.Error{Code: "invalid", Message: "parent grid " + parent + " does not exist", Fields: map[string]string{"code": "parent grid " + parent + " does not exist"}}
		}
	} else {
		// One county per installation.
		var other string
		err := tx.QueryRow(`SELECT code FROM org_grid WHERE level = 1 AND code != ?`, in.Code).Scan(&other)
		if err == nil {
			return nil, &store.Error{Code: "invalid", Message: "the county grid is " + other, Fields: map[string]string{"code": "must start with the county code " + other}}
		}
	}
	if in.DeptID != nil {
		if _, err := deptByID(tx.Tx, *in.DeptID); err != nil {
			return nil, fieldRef("dept_id", err)
		}
	}
	var exists int
	if err := tx.QueryRow(`SELECT count(*) FROM org_grid WHERE code = ?`, in.Code).Scan(&exists); err != nil {
		return nil, err
	}
	if exists > 0 {
		return nil, &store.Error{Code: "conflict", Message: "grid " + in.Code + " already exists", Fields: map[string]string{"code": "already exists"}}
	}
	now := ts(tx.Now())
	res, err := tx.Exec(`INSERT INTO org_grid(code, parent_code, level, name, dept_id, geometry, created_at, updated_at)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?)`, in.Code, parent, level, in.Name, nullID(in.DeptID), string(in.Geometry), now, now)
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	if err := bump(tx, "grid", 1); err != nil {
		return nil, err
	}
	return gridByID(tx.Tx, id, true)
}

func applyGridUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p gridUpdatePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.GridPatch.Validate(); err != nil {
		return nil, err
	}
	g, err := gridByID(tx.Tx, p.ID, true)
	if err != nil {
		return nil, err
	}
	if p.Name != nil {
		g.Name = *p.Name
	}
	if p.DeptID != nil {
		if *p.DeptID == 0 {
			g.DeptID = nil
		} else {
			if _, err := deptByID(tx.Tx, *p.DeptID); err != nil {
				return nil, fieldRef("dept_id", err)
			}
			g.DeptID = p.DeptID
		}
	}
	if len(p.Geometry) > 0 {
		if string(p.Geometry) == "null" {
			g.Geometry = nil
		} else {
			g.Geometry = p.Geometry
		}
	}
	if _, err := tx.Exec(`UPDATE org_grid SET name = ?, dept_id = ?, geometry = ?, updated_at = ? WHERE id = ?`,
		g.Name, nullID(g.DeptID), string(g.Geometry), ts(tx.Now()), g.ID); err != nil {
		return nil, err
	}
	return gridByID(tx.Tx, g.ID, true)
}

func applyGridDelete(tx *store.Tx, cmd *store.Command) (any, error) {
	var p idPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	g, err := gridByID(tx.Tx, p.ID, false)
	if err != nil {
		return nil, err
	}
	var children, users int
	if err := tx.QueryRow(`SELECT (SELECT count(*) FROM org_grid WHERE parent_code = ?), (SELECT count(*) FROM org_user WHERE grid_code = ?)`,
		g.Code, g.Code).Scan(&children, &users); err != nil {
		return nil, err
	}
	if children+users > 0 {
		return nil, store.Errorf("conflict", "grid is in use: %d child grids, %d users", children, users)
	}
	if _, err := tx.Exec(`DELETE FROM org_grid WHERE id = ?`, p.ID); err != nil {
		return nil, err
	}
	return map[string]int64{"id": p.ID}, bump(tx, "grid", -1)
}

func applyGridImport(tx *store.Tx, cmd *store.Command) (any, error) {
	var p importPayload[GridInput]
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	// Parents first, whatever the sheet's order.
	rows := slices.Clone(p.Rows)
	sort.SliceStable(rows, func(i, j int) bool { return len(rows[i].Code) < len(rows[j].Code) })
	for i := range rows {
		if _, err := createGrid(tx, &rows[i]); err != nil {
			return nil, fmt.Errorf("grid %s: %w", rows[i].Code, err)
		}
	}
	return map[string]any{"created": len(rows)}, nil
}

// ---- users ----

func applyUserCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p userCreatePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	return createUser(tx, &p.UserInput, p.PasswordHash)
}

func createUser(tx *store.Tx, in *UserInput, hash string) (*User, error) {
	in.Password = ""
	var v httpapi.Validator
	in.check(&v)
	if err := v.Err(); err != nil {
		return nil, err
	}
	if err := checkUserRefs(tx, in.DeptID, in.GridCode); err != nil {
		return nil, err
	}
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM org_user WHERE username = ?`, in.Username).Scan(&n); err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, &store.Error{Code: "conflict", Message: "username " + in.Username + " is taken", Fields: map[string]string{"username": "is taken"}}
	}
	now := ts(tx.Now())
	res, err := tx.Exec(`INSERT INTO org_user(username, name, phone, email, dept_id, grid_code, roles, data_scope, password_hash,
		must_change_password, created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		in.Username, in.Name, in.Phone, in.Email, nullID(in.DeptID), in.GridCode, joinRoles(in.Roles), in.DataScope, hash,
		in.MustChangePassword, now, now)
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	if err := bump(tx, "user", 1); err != nil {
		return nil, err
	}
	return userByID(tx.Tx, id)
}

func checkUserRefs(tx *store.Tx, deptID *int64, grid string) error {
	if deptID != nil && *deptID != 0 {
		if _, err := deptByID(tx.Tx, *deptID); err != nil {
			return fieldRef("dept_id", err)
		}
	}
	if grid != "" {
		var n int
		if err := tx.QueryRow(`SELECT count(*) FROM org_grid WHERE code = ?`, grid).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return &store.Error{Code: "invalid", Message: "grid " + grid + " does not exist", Fields: map[string]string{"grid_code": "does not exist"}}
		}
	}
	return nil
}

func joinRoles(roles []string) string {
	r := slices.Clone(roles)
	sort.Strings(r)
	return strings.Join(r, ",")
}

func splitRoles(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

func applyUserUpdate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p userUpdatePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if err := p.UserPatch.Validate(); err != nil {
		return nil, err
	}
	u, err := userByID(tx.Tx, p.ID)
	if err != nil {
		return nil, err
	}
	wasAdmin := slices.Contains(u.Roles, httpapi.RoleAdmin) && !u.Disabled
	if p.Name != nil {
		u.Name = *p.Name
	}
	if p.Phone != nil {
		u.Phone = *p.Phone
	}
	if p.Email != nil {
		u.Email = *p.Email
	}
	if p.DeptID != nil {
		if *p.DeptID == 0 {
			u.DeptID = nil
		} else {
			u.DeptID = p.DeptID
		}
	}
	if p.GridCode != nil {
		u.GridCode = *p.GridCode
	}
	if p.Roles != nil {
		u.Roles = *p.Roles
	}
	if p.DataScope != nil {
		u.DataScope = *p.DataScope
	}
	if p.Disabled != nil {
		u.Disabled = *p.Disabled
	}
	if err := checkUserRefs(tx, u.DeptID, u.GridCode); err != nil {
		return nil, err
	}
	isAdmin := slices.Contains(u.Roles, httpapi.RoleAdmin) && !u.Disabled
	if wasAdmin && !isAdmin {
		if err := keepOneAdmin(tx); err != nil {
			return nil, err
		}
	}
	q := `UPDATE org_user SET name = ?, phone = ?, email = ?, dept_id = ?, grid_code = ?, roles = ?, data_scope = ?, disabled = ?, updated_at = ?`
	if p.Unlock {
		q += `, failed_logins = 0, locked_until = ''`
	}
	if _, err := tx.Exec(q+` WHERE id = ?`, u.Name, u.Phone, u.Email, nullID(u.DeptID), u.GridCode, joinRoles(u.Roles), u.DataScope,
		u.Disabled, ts(tx.Now()), u.ID); err != nil {
		return nil, err
	}
	if u.Disabled {
		if _, err := tx.Exec(`UPDATE org_token SET revoked_at = ? WHERE user_id = ? AND revoked_at = ''`, ts(tx.Now()), u.ID); err != nil {
			return nil, err
		}
	}
	return userByID(tx.Tx, u.ID)
}

// keepOneAdmin refuses a change that would leave fewer than one enabled
// administrator (called before the change is written, so the current admin
// still counts).
func keepOneAdmin(tx *store.Tx) error {
	n, err := countAdmins(tx.Tx)
	if err != nil {
		return err
	}
	if n <= 1 {
		return store.Errorf("conflict", "this is the last enabled administrator")
	}
	return nil
}

func applyUserDelete(tx *store.Tx, cmd *store.Command) (any, error) {
	var p idPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	u, err := userByID(tx.Tx, p.ID)
	if err != nil {
		return nil, err
	}
	if slices.Contains(u.Roles, httpapi.RoleAdmin) && !u.Disabled {
		if err := keepOneAdmin(tx); err != nil {
			return nil, err
		}
	}
	if _, err := tx.Exec(`DELETE FROM org_token WHERE user_id = ?`, p.ID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`DELETE FROM org_user WHERE id = ?`, p.ID); err != nil {
		return nil, err
	}
	return map[string]int64{"id": p.ID}, bump(tx, "user", -1)
}

func applyUserImport(tx *store.Tx, cmd *store.Command) (any, error) {
	var p importPayload[userCreatePayload]
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	for i := range p.Rows {
		if _, err := createUser(tx, &p.Rows[i].UserInput, p.Rows[i].PasswordHash); err != nil {
			return nil, rowError(i, err)
		}
	}
	return map[string]any{"created": len(p.Rows)}, nil
}

func applySetPassword(tx *store.Tx, cmd *store.Command) (any, error) {
	var p setPasswordPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(p.PasswordHash, "$argon2id$") {
		return nil, store.Errorf("invalid", "password hash must be argon2id")
	}
	if _, err := userByID(tx.Tx, p.ID); err != nil {
		return nil, err
	}
	now := ts(tx.Now())
	if _, err := tx.Exec(`UPDATE org_user SET password_hash = ?, must_change_password = ?, failed_logins = 0, locked_until = '', updated_at = ? WHERE id = ?`,
		p.PasswordHash, p.MustChange, now, p.ID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`UPDATE org_token SET revoked_at = ? WHERE user_id = ? AND kind = 'session' AND revoked_at = '' AND id != ?`,
		now, p.ID, p.KeepTokenID); err != nil {
		return nil, err
	}
	return map[string]int64{"id": p.ID}, nil
}

// ---- authentication ----

func applyLogin(tx *store.Tx, cmd *store.Command) (any, error) {
	var p loginPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	var disabled bool
	var locked string
	if err := tx.QueryRow(`SELECT disabled, locked_until FROM org_user WHERE id = ?`, p.UserID).Scan(&disabled, &locked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.Errorf("unauthorized", "invalid username or password")
		}
		return nil, err
	}
	now := tx.Now()
	if disabled || (locked != "" && locked > ts(now)) {
		return nil, store.Errorf("unauthorized", "account is disabled or locked")
	}
	if _, err := tx.Exec(`UPDATE org_user SET failed_logins = 0, locked_until = '', last_login_at = ? WHERE id = ?`, ts(now), p.UserID); err != nil {
		return nil, err
	}
	res, err := tx.Exec(`INSERT INTO org_token(hash, user_id, kind, ip, created_at, expires_at) VALUES(?, ?, 'session', ?, ?, ?)`,
		p.TokenHash, p.UserID, p.IP, ts(now), ts(p.ExpiresAt))
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	// Expired sessions of this user are pruned as it logs in.
	if _, err := tx.Exec(`DELETE FROM org_token WHERE user_id = ? AND kind = 'session' AND ((expires_at != '' AND expires_at < ?) OR revoked_at != '')`,
		p.UserID, ts(now.Add(-24*time.Hour))); err != nil {
		return nil, err
	}
	return map[string]int64{"token_id": id}, nil
}

func applyLoginFailed(tx *store.Tx, cmd *store.Command) (any, error) {
	var p loginFailedPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	var r loginFailedResult
	if p.UserID == 0 || p.Reason != "password" {
		return r, nil // recorded in the log; no counter to move
	}
	var failed int
	var locked string
	if err := tx.QueryRow(`SELECT failed_logins, locked_until FROM org_user WHERE id = ?`, p.UserID).Scan(&failed, &locked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, nil
		}
		return nil, err
	}
	now := tx.Now()
	if locked != "" && locked <= ts(now) {
		failed = 0 // the previous lock has expired: start counting again
		locked = ""
	}
	failed++
	if failed >= MaxFailedLogins {
		locked = ts(now.Add(LockDuration))
		r.LockedUntil = now.Add(LockDuration)
	}
	r.Failed = failed
	if _, err := tx.Exec(`UPDATE org_user SET failed_logins = ?, locked_until = ? WHERE id = ?`, failed, locked, p.UserID); err != nil {
		return nil, err
	}
	return r, nil
}

func applyLogout(tx *store.Tx, cmd *store.Command) (any, error) {
	var p idPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`UPDATE org_token SET revoked_at = ? WHERE id = ? AND revoked_at = ''`, ts(tx.Now()), p.ID); err != nil {
		return nil, err
	}
	return map[string]int64{"id": p.ID}, nil
}

func applyTokenCreate(tx *store.Tx, cmd *store.Command) (any, error) {
	var p tokenCreatePayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	u, err := userByID(tx.Tx, p.UserID)
	if err != nil {
		return nil, fieldRef("user_id", err)
	}
	if u.Disabled {
		return nil, store.Errorf("invalid", "user %s is disabled", u.Username)
	}
	allowed := httpapi.PermissionsOf(u.Roles...)
	for _, perm := range p.Permissions {
		if !slices.Contains(allowed, perm) {
			return nil, &store.Error{Code: "invalid", Message: "user " + u.Username + " does not hold permission " + perm,
				Fields: map[string]string{"permissions": "must be a subset of the user's permissions"}}
		}
	}
	if len(p.TokenHash) != 64 {
		return nil, store.Errorf("invalid", "token hash must be hex SHA-256")
	}
	res, err := tx.Exec(`INSERT INTO org_token(hash, user_id, kind, name, permissions, created_at, expires_at) VALUES(?, ?, 'api', ?, ?, ?, ?)`,
		p.TokenHash, p.UserID, p.Name, strings.Join(p.Permissions, ","), ts(tx.Now()), ts(p.ExpiresAt))
	if err != nil {
		return nil, err
	}
	id, _ := res.LastInsertId()
	return tokenByID(tx.Tx, id)
}

func applyTokenRevoke(tx *store.Tx, cmd *store.Command) (any, error) {
	var p idPayload
	if err := decodePayload(cmd, &p); err != nil {
		return nil, err
	}
	if _, err := tokenByID(tx.Tx, p.ID); err != nil {
		return nil, err
	}
	if _, err := tx.Exec(`UPDATE org_token SET revoked_at = ? WHERE id = ? AND revoked_at = ''`, ts(tx.Now()), p.ID); err != nil {
		return nil, err
	}
	return tokenByID(tx.Tx, p.ID)
}
