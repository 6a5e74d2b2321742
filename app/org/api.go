package org

import (
	"context"
	"strconv"
	"strings"
)

// Go API for other modules (they never read org tables directly).

// Department returns a department by id.
func (m *Module) Department(ctx context.Context, id int64) (*Department, error) {
	return deptByID(m.st.DB(), id)
}

// DepartmentByName returns the id of the department with that (unique) name.
func (m *Module) DepartmentByName(ctx context.Context, name string) (int64, error) {
	return deptIDByName(m.st.DB(), name)
}

// User returns a user by id.
func (m *Module) User(ctx context.Context, id int64) (*User, error) {
	return userByID(m.st.DB(), id)
}

// UserByUsername returns a user by login name.
func (m *Module) UserByUsername(ctx context.Context, username string) (*User, error) {
	var id int64
	if err := m.st.DB().QueryRowContext(ctx, `SELECT id FROM org_user WHERE username = ?`, username).Scan(&id); err != nil {
		return nil, notFound("user", username, err)
	}
	return userByID(m.st.DB(), id)
}

// Grid returns a grid by code (with its boundary).
func (m *Module) Grid(ctx context.Context, code string) (*Grid, error) {
	g, err := scanGrid(m.st.DB().QueryRowContext(ctx, `SELECT `+gridCols(true)+` FROM org_grid g WHERE g.code = ?`, code))
	if err != nil {
		return nil, notFound("grid", code, err)
	}
	return g, nil
}

// GridCodes lists the codes of grids at a level (4 = unit grids), in order.
func (m *Module) GridCodes(ctx context.Context, level int) ([]string, error) {
	rows, err := m.st.DB().QueryContext(ctx, `SELECT code FROM org_grid WHERE level = ? ORDER BY code`, level)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// ActorNames maps command actors ("user:12") to "name (username)".
func (m *Module) ActorNames(ctx context.Context, actors []string) map[string]string {
	out := map[string]string{}
	var ids []any
	var ph []string
	for _, a := range actors {
		if rest, ok := strings.CutPrefix(a, "user:"); ok {
			if id, err := strconv.ParseInt(rest, 10, 64); err == nil {
				ids = append(ids, id)
				ph = append(ph, "?")
			}
		}
	}
	if len(ids) == 0 {
		return out
	}
	rows, err := m.st.DB().QueryContext(ctx, `SELECT id, name, username FROM org_user WHERE id IN (`+strings.Join(ph, ",")+`)`, ids...)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name, username string
		if rows.Scan(&id, &name, &username) == nil {
			out["user:"+strconv.FormatInt(id, 10)] = name + " (" + username + ")"
		}
	}
	return out
}

// CreateDepartment creates a department as actor.
func (m *Module) CreateDepartment(ctx context.Context, actor string, in DepartmentInput) (*Department, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var d Department
	if err := m.applyAs(ctx, actor, CmdDepartmentCreate, in, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// CreateGrids creates grids in one command (parents before children,
// whatever the order given): all or none.
func (m *Module) CreateGrids(ctx context.Context, actor string, grids []GridInput) error {
	for i := range grids {
		if err := grids[i].Validate(); err != nil {
			return err
		}
	}
	return m.applyAs(ctx, actor, CmdGridImport, importPayload[GridInput]{Rows: grids}, nil)
}

// CreateUser creates a user as actor; a non-empty in.Password is hashed
// (argon2id) before the command is issued.
func (m *Module) CreateUser(ctx context.Context, actor string, in UserInput) (*User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	p := userCreatePayload{UserInput: in}
	if in.Password != "" {
		h, err := HashPassword(in.Password)
		if err != nil {
			return nil, err
		}
		p.PasswordHash = h
		p.Password = ""
	}
	var u User
	if err := m.applyAs(ctx, actor, CmdUserCreate, p, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// ImportUsersUnhashed creates users in batches without passwords (they
// cannot log in until one is set). For bulk loads such as benchmarks.
func (m *Module) ImportUsersUnhashed(ctx context.Context, actor string, users []UserInput) error {
	p := importPayload[userCreatePayload]{Rows: make([]userCreatePayload, len(users))}
	for i, u := range users {
		u.Password = ""
		p.Rows[i] = userCreatePayload{UserInput: u}
	}
	return m.applyAs(ctx, actor, CmdUserImport, p, nil)
}
