package org

import (
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Column lists and scanners shared by handlers (in the FSM transaction) and
// the read API (on the read-only pool).

const deptCols = `d.id, d.parent_id, d.name, d.kind, d.code, d.phone, d.sort, d.path, d.created_at, d.updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanDept(s scanner) (*Department, error) {
	var d Department
	var parent sql.NullInt64
	var created, updated string
	if err := s.Scan(&d.ID, &parent, &d.Name, &d.Kind, &d.Code, &d.Phone, &d.Sort, &d.Path, &created, &updated); err != nil {
		return nil, err
	}
	if parent.Valid {
		p := parent.Int64
		d.ParentID = &p
	}
	d.CreatedAt, d.UpdatedAt = httpapi.ParseDBTime(created), httpapi.ParseDBTime(updated)
	return &d, nil
}

func notFound(what string, id any, err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return &store.Error{Code: "not_found", Message: what + " not found"}
	}
	return err
}

func deptByID(q queryer, id int64) (*Department, error) {
	d, err := scanDept(q.QueryRow(`SELECT `+deptCols+` FROM org_department d WHERE d.id = ?`, id))
	if err != nil {
		return nil, notFound("department", id, err)
	}
	return d, nil
}

func gridCols(withGeometry bool) string {
	geo := `''`
	if withGeometry {
		geo = `g.geometry`
	}
	return `g.id, g.code, g.parent_code, g.level, g.name, g.dept_id, ` + geo + `, g.created_at, g.updated_at`
}

func scanGrid(s scanner) (*Grid, error) {
	var g Grid
	var dept sql.NullInt64
	var geo, created, updated string
	if err := s.Scan(&g.ID, &g.Code, &g.ParentCode, &g.Level, &g.Name, &dept, &geo, &created, &updated); err != nil {
		return nil, err
	}
	if dept.Valid {
		d := dept.Int64
		g.DeptID = &d
	}
	if geo != "" {
		g.Geometry = json.RawMessage(geo)
	}
	g.CreatedAt, g.UpdatedAt = httpapi.ParseDBTime(created), httpapi.ParseDBTime(updated)
	return &g, nil
}

func gridByID(q queryer, id int64, withGeometry bool) (*Grid, error) {
	g, err := scanGrid(q.QueryRow(`SELECT `+gridCols(withGeometry)+` FROM org_grid g WHERE g.id = ?`, id))
	if err != nil {
		return nil, notFound("grid", id, err)
	}
	return g, nil
}

const userCols = `u.id, u.username, u.name, u.phone, u.email, u.dept_id, coalesce(d.name, ''), u.grid_code, u.roles, u.data_scope,
	u.disabled, u.must_change_password, u.password_hash != '', u.locked_until, u.last_login_at, u.created_at, u.updated_at`

const userFrom = ` FROM org_user u LEFT JOIN org_department d ON d.id = u.dept_id`

func scanUser(s scanner) (*User, error) {
	var u User
	var dept sql.NullInt64
	var roles, locked, last, created, updated string
	if err := s.Scan(&u.ID, &u.Username, &u.Name, &u.Phone, &u.Email, &dept, &u.DeptName, &u.GridCode, &roles, &u.DataScope,
		&u.Disabled, &u.MustChangePassword, &u.HasPassword, &locked, &last, &created, &updated); err != nil {
		return nil, err
	}
	if dept.Valid {
		d := dept.Int64
		u.DeptID = &d
	}
	u.Roles = splitRoles(roles)
	u.LockedUntil = timePtr(locked)
	u.LastLoginAt = timePtr(last)
	u.CreatedAt, u.UpdatedAt = httpapi.ParseDBTime(created), httpapi.ParseDBTime(updated)
	return &u, nil
}

func timePtr(s string) *time.Time {
	if s == "" {
		return nil
	}
	t := httpapi.ParseDBTime(s)
	if t.IsZero() {
		return nil
	}
	return &t
}

func userByID(q queryer, id int64) (*User, error) {
	u, err := scanUser(q.QueryRow(`SELECT `+userCols+userFrom+` WHERE u.id = ?`, id))
	if err != nil {
		return nil, notFound("user", id, err)
	}
	return u, nil
}

const tokenCols = `t.id, t.user_id, u.username, t.kind, t.name, t.permissions, t.created_at, t.expires_at, t.revoked_at`

func scanToken(s scanner) (*Token, error) {
	var t Token
	var perms, created, expires, revoked string
	if err := s.Scan(&t.ID, &t.UserID, &t.Username, &t.Kind, &t.Name, &perms, &created, &expires, &revoked); err != nil {
		return nil, err
	}
	if perms != "" {
		t.Permissions = strings.Split(perms, ",")
	}
	t.CreatedAt = httpapi.ParseDBTime(created)
	t.ExpiresAt = timePtr(expires)
	t.RevokedAt = timePtr(revoked)
	return &t, nil
}

func tokenByID(q queryer, id int64) (*Token, error) {
	t, err := scanToken(q.QueryRow(`SELECT `+tokenCols+` FROM org_token t JOIN org_user u ON u.id = t.user_id WHERE t.id = ?`, id))
	if err != nil {
		return nil, notFound("token", id, err)
	}
	return t, nil
}
