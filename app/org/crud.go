package org

import (
	"context"
	"database/sql"
	"net/http"
	"slices"
	"strconv"

	"github.com/yiwang/yiwang/app/httpapi"
)

// listPage runs a paged query: selectSQL and countSQL end with their FROM
// clause; q supplies WHERE, ORDER BY and LIMIT.
func listPage[T any](ctx context.Context, db *sql.DB, w http.ResponseWriter, q *httpapi.ListQuery, selectSQL, countSQL string, scan func(scanner) (*T, error)) error {
	page, err := queryPage(ctx, db, q, selectSQL+" "+q.WhereSQL()+" "+q.OrderBy()+" "+q.LimitSQL(), countSQL+" "+q.WhereSQL(), -1, false, scan)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, page)
}

// queryPage runs pageSQL and, unless the page tells the total itself,
// countSQL (both with q's arguments); knownTotal >= 0 skips the count (used
// for unfiltered lists of large tables), capped says countSQL is
// q.CappedCountSQL.
func queryPage[T any](ctx context.Context, db *sql.DB, q *httpapi.ListQuery, pageSQL, countSQL string, knownTotal int, capped bool, scan func(scanner) (*T, error)) (httpapi.Page[T], error) {
	page := httpapi.Page[T]{Items: []T{}}
	rows, err := db.QueryContext(ctx, pageSQL, q.Args()...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, *v)
	}
	if err := rows.Err(); err != nil {
		return page, err
	}
	switch {
	case knownTotal >= 0:
		page.Total = knownTotal
	case len(page.Items) > 0 && len(page.Items) < q.Limit, q.Offset == 0 && len(page.Items) == 0:
		page.Total = q.Offset + len(page.Items) // the last page
	default:
		var n int
		if err := db.QueryRowContext(ctx, countSQL, q.Args()...).Scan(&n); err != nil {
			return page, err
		}
		page.SetTotal(q, n, capped)
	}
	return page, nil
}

func (m *Module) count(ctx context.Context, name string) (int, error) {
	var n int
	err := m.st.DB().QueryRowContext(ctx, `SELECT n FROM org_count WHERE name = ?`, name).Scan(&n)
	return n, err
}

// ---- departments ----

var deptList = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "d.id", "name": "d.name", "sort": "d.sort", "path": "d.path", "created_at": "d.created_at"},
	DefaultSort: "path", Tiebreak: "d.id", MaxLimit: 5000,
	Search: []string{"d.name", "d.code"},
	Filters: map[string]httpapi.Filter{
		"parent_id": {Column: "coalesce(d.parent_id, 0)", Kind: httpapi.FilterInt, Doc: "0 for top-level departments"},
		"kind":      {Column: "d.kind", Kind: httpapi.FilterString},
		"under":     {Kind: httpapi.FilterInt, Doc: "a department id: it and every department below it", Func: underFilter},
	},
}

func underFilter(v string) (string, []any, error) {
	var id int64
	for _, c := range v {
		if c < '0' || c > '9' || id > 1e15 {
			return "", nil, errInteger
		}
		id = id*10 + int64(c-'0')
	}
	return "substr(d.path, 1, length((SELECT path FROM org_department WHERE id = ?))) = (SELECT path FROM org_department WHERE id = ?)", []any{id, id}, nil
}

var errInteger = httpapi.FieldError("value", "must be an integer")

func (m *Module) deptRoutes(r *httpapi.Router) {
	tags := []string{"departments"}
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/departments", Perm: httpapi.PermOrgRead, Tags: tags,
		Summary: "List departments (within the caller's data scope)", List: deptList, Response: httpapi.Page[Department]{}, Handler: m.listDepts})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/departments", Perm: httpapi.PermOrgWrite, Tags: tags,
		Summary: "Create a department", Request: DepartmentInput{}, Response: Department{}, Status: http.StatusCreated, Handler: m.createDept})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/departments/{id}", Perm: httpapi.PermOrgRead, Tags: tags,
		Summary: "Get a department", Response: Department{}, Handler: m.getDept})
	r.Handle(httpapi.Route{Method: "PATCH", Path: "/api/v1/departments/{id}", Perm: httpapi.PermOrgWrite, Tags: tags,
		Summary: "Change or move a department", Request: DepartmentPatch{}, Response: Department{}, Handler: m.updateDept})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/departments/{id}", Perm: httpapi.PermOrgWrite, Tags: tags,
		Summary: "Delete an unused department", Status: http.StatusNoContent, Handler: m.deleteDept})
}

func (m *Module) listDepts(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, deptList)
	if err != nil {
		return err
	}
	q.Scope(httpapi.MustPrincipal(r), httpapi.ScopeColumns{Dept: "d.id"})
	return listPage(r.Context(), m.st.DB(), w, &q, `SELECT `+deptCols+` FROM org_department d`, `SELECT count(*) FROM org_department d`, scanDept)
}

// visibleDept reads a department through the caller's data scope: one
// outside it is "not found", never "forbidden", so existence does not leak.
func (m *Module) visibleDept(r *http.Request) (*Department, error) {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return nil, err
	}
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(httpapi.ScopeColumns{Dept: "d.id"})
	d, err := scanDept(m.st.DB().QueryRowContext(r.Context(), `SELECT `+deptCols+` FROM org_department d WHERE d.id = ? AND `+cond, append([]any{id}, args...)...))
	if err != nil {
		return nil, notFound("department", id, err)
	}
	return d, nil
}

func (m *Module) getDept(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDept(r)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, d)
}

func (m *Module) createDept(w http.ResponseWriter, r *http.Request) error {
	var in DepartmentInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if in.ParentID != nil && !p.InDeptScope(*in.ParentID) {
		return httpapi.FieldError("parent_id", "is outside your data scope")
	}
	var d Department
	if err := m.apply(r, CmdDepartmentCreate, in, &d); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, d)
}

func (m *Module) updateDept(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDept(r)
	if err != nil {
		return err
	}
	var in DepartmentPatch
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if in.ParentID != nil && *in.ParentID != 0 && !httpapi.MustPrincipal(r).InDeptScope(*in.ParentID) {
		return httpapi.FieldError("parent_id", "is outside your data scope")
	}
	var out Department
	if err := m.apply(r, CmdDepartmentUpdate, deptUpdatePayload{ID: d.ID, DepartmentPatch: in}, &out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) deleteDept(w http.ResponseWriter, r *http.Request) error {
	d, err := m.visibleDept(r)
	if err != nil {
		return err
	}
	if err := m.apply(r, CmdDepartmentDelete, idPayload{ID: d.ID}, nil); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

// ---- grids ----

var gridList = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "g.id", "code": "g.code", "name": "g.name", "created_at": "g.created_at"},
	DefaultSort: "code", Tiebreak: "g.id", MaxLimit: 2000,
	Search: []string{"g.name", "g.code"},
	Filters: map[string]httpapi.Filter{
		"parent_code": {Column: "g.parent_code", Kind: httpapi.FilterString},
		"level":       {Column: "g.level", Kind: httpapi.FilterInt, Doc: "1 county, 2 township, 3 community, 4 unit grid"},
		"dept_id":     {Column: "g.dept_id", Kind: httpapi.FilterInt},
		"code_prefix": {Column: "g.code", Kind: httpapi.FilterPrefix, Doc: "grids whose code starts with this (a subtree)"},
	},
	Extra: []string{"geometry"},
}

func (m *Module) gridRoutes(r *httpapi.Router) {
	tags := []string{"grids"}
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/grids", Perm: httpapi.PermOrgRead, Tags: tags,
		Summary: "List grids (within the caller's data scope)", List: gridList, Response: httpapi.Page[Grid]{},
		Query: []httpapi.Param{{Name: "geometry", Type: "boolean", Description: "include boundaries"}}, Handler: m.listGrids})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/grids", Perm: httpapi.PermOrgWrite, Tags: tags,
		Summary: "Create a grid", Request: GridInput{}, Response: Grid{}, Status: http.StatusCreated, MaxBody: 4 << 20, Handler: m.createGrid})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/grids/{id}", Perm: httpapi.PermOrgRead, Tags: tags,
		Summary: "Get a grid with its boundary", Response: Grid{}, Handler: m.getGrid})
	r.Handle(httpapi.Route{Method: "PATCH", Path: "/api/v1/grids/{id}", Perm: httpapi.PermOrgWrite, Tags: tags,
		Summary: "Change a grid", Request: GridPatch{}, Response: Grid{}, MaxBody: 4 << 20, Handler: m.updateGrid})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/grids/{id}", Perm: httpapi.PermOrgWrite, Tags: tags,
		Summary: "Delete an unused grid", Status: http.StatusNoContent, Handler: m.deleteGrid})
}

var gridScope = httpapi.ScopeColumns{Dept: "g.dept_id", Grid: "g.code"}

func (m *Module) listGrids(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, gridList)
	if err != nil {
		return err
	}
	withGeo := false
	if v := r.URL.Query().Get("geometry"); v != "" {
		withGeo = v == "true" || v == "1"
		if !withGeo && v != "false" && v != "0" {
			return httpapi.FieldError("geometry", "must be true or false")
		}
	}
	q.Scope(httpapi.MustPrincipal(r), gridScope)
	return listPage(r.Context(), m.st.DB(), w, &q, `SELECT `+gridCols(withGeo)+` FROM org_grid g`, `SELECT count(*) FROM org_grid g`, scanGrid)
}

func (m *Module) visibleGrid(r *http.Request) (*Grid, error) {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return nil, err
	}
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(gridScope)
	g, err := scanGrid(m.st.DB().QueryRowContext(r.Context(), `SELECT `+gridCols(true)+` FROM org_grid g WHERE g.id = ? AND `+cond, append([]any{id}, args...)...))
	if err != nil {
		return nil, notFound("grid", id, err)
	}
	return g, nil
}

func (m *Module) getGrid(w http.ResponseWriter, r *http.Request) error {
	g, err := m.visibleGrid(r)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, g)
}

func (m *Module) createGrid(w http.ResponseWriter, r *http.Request) error {
	var in GridInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if !p.InScope(derefID(in.DeptID), in.Code, 0) && p.Scope.Kind != httpapi.ScopeAll {
		return httpapi.FieldError("code", "is outside your data scope")
	}
	var g Grid
	if err := m.apply(r, CmdGridCreate, in, &g); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, g)
}

func (m *Module) updateGrid(w http.ResponseWriter, r *http.Request) error {
	g, err := m.visibleGrid(r)
	if err != nil {
		return err
	}
	var in GridPatch
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	var out Grid
	if err := m.apply(r, CmdGridUpdate, gridUpdatePayload{ID: g.ID, GridPatch: in}, &out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) deleteGrid(w http.ResponseWriter, r *http.Request) error {
	g, err := m.visibleGrid(r)
	if err != nil {
		return err
	}
	if err := m.apply(r, CmdGridDelete, idPayload{ID: g.ID}, nil); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

// ---- users ----

// userList: every sort key is backed by an index (ids grow with creation
// time, so created_at sorts by id). The q and role filters each come in two
// SQL forms, chosen per request by how many accounts they match (see
// listUsers): userList is the narrow form, also used for the OpenAPI
// document.
var userList = userSpec(false, false)

// userSpecs[broadSearch][broadRole].
var userSpecs = [2][2]*httpapi.ListSpec{{userList, userSpec(false, true)}, {userSpec(true, false), userSpec(true, true)}}

// userSpec builds the user list spec. Narrow forms drive the query from an
// index on the filter and sort the (few) matches; broad forms keep the
// index off the filter (unary +, EXISTS) so SQLite walks the sort order and
// stops after one page, instead of collecting and sorting a million matches.
func userSpec(broadSearch, broadRole bool) *httpapi.ListSpec {
	// q is a prefix of the username or the name (a substring match would
	// scan every account).
	search := func(q string) (string, []any) {
		lo, hi := httpapi.PrefixRange(q)
		return "((u.username >= ? AND u.username < ?) OR (u.name >= ? AND u.name < ?))", []any{lo, hi, lo, hi}
	}
	if broadSearch {
		search = func(q string) (string, []any) {
			lo, hi := httpapi.PrefixRange(q)
			return "((+u.username >= ? AND +u.username < ?) OR (+u.name >= ? AND +u.name < ?))", []any{lo, hi, lo, hi}
		}
	}
	role := "u.id IN (SELECT user_id FROM org_user_role WHERE role = ?)"
	if broadRole {
		role = "EXISTS (SELECT 1 FROM org_user_role r WHERE r.role = ? AND r.user_id = u.id)"
	}
	return &httpapi.ListSpec{
		Sort:        map[string]string{"id": "u.id", "username": "u.username", "name": "u.name", "created_at": "u.id", "last_login_at": "u.last_login_at"},
		DefaultSort: "id", Tiebreak: "u.id",
		SearchFunc: search,
		Filters: map[string]httpapi.Filter{
			"after_id": {Kind: httpapi.FilterInt, Doc: "keyset pagination: users with a larger id (use with sort=id); total stays the collection's", Func: func(v string) (string, []any, error) {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return "", nil, errInteger
				}
				return "u.id > ?", []any{n}, nil
			}},
			"dept_id":   {Column: "u.dept_id", Kind: httpapi.FilterInt},
			"grid_code": {Column: "u.grid_code", Kind: httpapi.FilterPrefix, Doc: "grid code prefix"},
			"disabled":  {Column: "u.disabled", Kind: httpapi.FilterBool},
			"role": {Kind: httpapi.FilterString, Func: func(v string) (string, []any, error) {
				if !httpapi.IsRole(v) {
					return "", nil, httpapi.FieldError("role", "unknown role")
				}
				return role, []any{v}, nil
			}},
		},
	}
}

// broadShare: a filter matching at least 1/broadShare of all accounts is
// "broad" (walking the sort order finds a page within ~broadShare rows).
const broadShare = 300

// broadFilters tells which of the request's q and role filters are broad,
// from counts over their own indexes capped at httpapi.CountCap+1 (a few ms
// at most); many says one of them alone matches more than CountCap.
func (m *Module) broadFilters(ctx context.Context, q *httpapi.ListQuery, role string) (search, roles, many bool, err error) {
	total, err := m.count(ctx, "user")
	if err != nil {
		return false, false, false, err
	}
	broad := func(n int) bool {
		many = many || n > httpapi.CountCap
		return n > total/broadShare && n > 1000
	}
	db := m.st.DB()
	if q.Q != "" {
		lo, hi := httpapi.PrefixRange(q.Q)
		var n int
		err = db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM (SELECT 1 FROM org_user WHERE username >= ? AND username < ? LIMIT ?))
			+ (SELECT count(*) FROM (SELECT 1 FROM org_user WHERE name >= ? AND name < ? LIMIT ?))`, lo, hi, httpapi.CountCap+1, lo, hi, httpapi.CountCap+1).Scan(&n)
		if err != nil {
			return false, false, false, err
		}
		search = broad(n)
	}
	if role != "" {
		var n int
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM org_user_role WHERE role = ? LIMIT ?)`, role, httpapi.CountCap+1).Scan(&n)
		if err != nil {
			return false, false, false, err
		}
		roles = broad(n)
	}
	return search, roles, many, nil
}

var userScope = httpapi.ScopeColumns{Dept: "u.dept_id", Grid: "u.grid_code", Owner: "u.id"}

// userScopeFor drops the "or myself" alternative when the principal's own
// department or grid already covers it: an OR defeats the index and turns
// a department's page into a scan of every account.
func userScopeFor(p *httpapi.Principal) httpapi.ScopeColumns {
	c := userScope
	switch p.Scope.Kind {
	case httpapi.ScopeDeptTree:
		if p.InScope(p.DeptID, "", 0) {
			c.Owner = ""
		}
	case httpapi.ScopeGrid:
		if p.InScope(0, p.GridCode, 0) {
			c.Owner = ""
		}
	}
	return c
}

func (m *Module) userRoutes(r *httpapi.Router) {
	tags := []string{"users"}
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/users", Perm: httpapi.PermUserRead, Tags: tags,
		Summary: "List users (within the caller's data scope)", List: userList, Response: httpapi.Page[User]{}, Handler: m.listUsers})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/users", Perm: httpapi.PermUserWrite, Tags: tags,
		Summary: "Create a user", Request: UserInput{}, Response: User{}, Status: http.StatusCreated, MaxBody: 8192, Handler: m.createUser})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/users/{id}", Perm: httpapi.PermUserRead, Tags: tags,
		Summary: "Get a user", Response: User{}, Handler: m.getUser})
	r.Handle(httpapi.Route{Method: "PATCH", Path: "/api/v1/users/{id}", Perm: httpapi.PermUserWrite, Tags: tags,
		Summary: "Change a user (roles, department, disable, unlock)", Request: UserPatch{}, Response: User{}, Handler: m.updateUser})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/users/{id}", Perm: httpapi.PermUserWrite, Tags: tags,
		Summary: "Delete a user and revoke their tokens", Status: http.StatusNoContent, Handler: m.deleteUser})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/users/{id}/password", Perm: httpapi.PermUserWrite, Tags: tags,
		Summary: "Set a user's password (revokes their sessions)", Request: PasswordSet{}, Status: http.StatusNoContent, MaxBody: 4096, Handler: m.setUserPassword})
}

func (m *Module) listUsers(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, userList)
	if err != nil {
		return err
	}
	// The count always uses the narrow search (an index range stops at the
	// cap); the page and the count use the role form that suits its size.
	// Both forms of a filter take the same arguments, so the count runs
	// with the page's (queryPage).
	countQ := q
	broadSearch, broadRole, many, err := m.broadFilters(r.Context(), &q, r.URL.Query().Get("role"))
	if err != nil {
		return err
	}
	if broadSearch || broadRole {
		if q, err = httpapi.ParseList(r, userSpecs[b2i(broadSearch)][b2i(broadRole)]); err != nil {
			return err
		}
		if countQ, err = httpapi.ParseList(r, userSpecs[0][b2i(broadRole)]); err != nil {
			return err
		}
	}
	p := httpapi.MustPrincipal(r)
	known := -1
	// The total of an unfiltered county-wide list comes from a counter; with
	// keyset pagination (after_id) it is the collection's total too, not
	// what follows the cursor, so paging a million rows stays cheap.
	onlyCursor := q.Filtered() && len(r.URL.Query()["after_id"]) == 1 && q.Q == "" && onlyKeys(r, "after_id", "limit", "sort", "offset")
	if (!q.Filtered() || onlyCursor) && p.Scope.Kind == httpapi.ScopeAll {
		if known, err = m.count(r.Context(), "user"); err != nil {
			return err
		}
	}
	// A deep page of the unfiltered list is read from the nearer end.
	reversed := !q.Filtered() && known >= 0 && q.FromEnd(known)
	// One filter alone over the county matching more than the cap: the
	// capped total is known without counting.
	skipCount := many && p.Scope.Kind == httpapi.ScopeAll && (onlyKeys(r, "q", "limit", "offset", "sort") || onlyKeys(r, "role", "limit", "offset", "sort"))
	if skipCount {
		known = httpapi.CountCap
	}
	q.Scope(p, userScopeFor(p))
	countQ.Scope(p, userScopeFor(p))
	// A deferred join (keys from an index, then 50 full rows) and a total
	// counted up to httpapi.CountCap: a million accounts stay fast.
	page, err := queryPage(r.Context(), m.st.DB(), &q, q.DeferredSQL(`SELECT `+userCols+userFrom, "u.id", "FROM org_user u"),
		countQ.CappedCountSQL("FROM org_user u"), known, true, scanUser)
	if err != nil {
		return err
	}
	if reversed {
		slices.Reverse(page.Items)
	}
	switch {
	case skipCount && len(page.Items) == q.Limit:
		page.SetTotal(&q, httpapi.CountCap+1, true)
	case skipCount && len(page.Items) > 0:
		page.Total = q.Offset + len(page.Items) // the last page
	case skipCount:
		// Past the end: count after all (rare).
		var n int
		if err := m.st.DB().QueryRowContext(r.Context(), countQ.CappedCountSQL("FROM org_user u"), q.Args()...).Scan(&n); err != nil {
			return err
		}
		page.SetTotal(&q, n, true)
	}
	return httpapi.JSON(w, http.StatusOK, page)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func onlyKeys(r *http.Request, keys ...string) bool {
	for k := range r.URL.Query() {
		found := false
		for _, x := range keys {
			found = found || k == x
		}
		if !found {
			return false
		}
	}
	return true
}

func (m *Module) visibleUser(r *http.Request) (*User, error) {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return nil, err
	}
	p := httpapi.MustPrincipal(r)
	cond, args := p.ScopeFilter(userScopeFor(p))
	u, err := scanUser(m.st.DB().QueryRowContext(r.Context(), `SELECT `+userCols+userFrom+` WHERE u.id = ? AND `+cond, append([]any{id}, args...)...))
	if err != nil {
		return nil, notFound("user", id, err)
	}
	return u, nil
}

func (m *Module) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := m.visibleUser(r)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, u)
}

func (m *Module) createUser(w http.ResponseWriter, r *http.Request) error {
	var in UserInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	if p.Scope.Kind != httpapi.ScopeAll && !p.InScope(derefID(in.DeptID), in.GridCode, 0) {
		return httpapi.FieldError("dept_id", "is outside your data scope")
	}
	payload := userCreatePayload{UserInput: in}
	if in.Password != "" {
		h, err := HashPassword(in.Password)
		if err != nil {
			return err
		}
		payload.PasswordHash = h
		payload.Password = ""
	}
	var u User
	if err := m.apply(r, CmdUserCreate, payload, &u); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, u)
}

func (m *Module) updateUser(w http.ResponseWriter, r *http.Request) error {
	u, err := m.visibleUser(r)
	if err != nil {
		return err
	}
	var in UserPatch
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	var out User
	if err := m.apply(r, CmdUserUpdate, userUpdatePayload{ID: u.ID, UserPatch: in}, &out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := m.visibleUser(r)
	if err != nil {
		return err
	}
	if u.ID == httpapi.MustPrincipal(r).UserID {
		return httpapi.Errorf("conflict", "you cannot delete your own account")
	}
	if err := m.apply(r, CmdUserDelete, idPayload{ID: u.ID}, nil); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

func (m *Module) setUserPassword(w http.ResponseWriter, r *http.Request) error {
	u, err := m.visibleUser(r)
	if err != nil {
		return err
	}
	var in PasswordSet
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if msg := CheckPasswordPolicy(in.Password, u.Username); msg != "" {
		return httpapi.FieldError("password", msg)
	}
	must := true
	if in.MustChangePassword != nil {
		must = *in.MustChangePassword
	}
	h, err := HashPassword(in.Password)
	if err != nil {
		return err
	}
	if err := m.apply(r, CmdUserSetPassword, setPasswordPayload{ID: u.ID, PasswordHash: h, MustChange: must}, nil); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	r.SetAuthenticator(m)
	m.authRoutes(r)
	m.deptRoutes(r)
	m.gridRoutes(r)
	m.userRoutes(r)
	m.xlsxRoutes(r)
}
