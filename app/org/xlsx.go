package org

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Excel import and export of departments, grids and users. An import is
// read completely, every row is validated (fields, references to existing
// records and to earlier rows, duplicates), and only a sheet without errors
// is written, as one command: all rows or none.

const (
	xlsxType      = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	maxImportSize = 10 << 20
	maxImportRows = 5000
	maxUserRows   = 2000 // each new user costs an argon2id hash
)

// ImportRow is one data row of an uploaded sheet with its problems.
type ImportRow struct {
	Row    int               `json:"row" doc:"row number in the sheet (header is row 1)"`
	Values map[string]string `json:"values"`
	Errors map[string]string `json:"errors,omitempty"`
}

// ImportReport answers an import, in preview or commit mode.
type ImportReport struct {
	Rows    []ImportRow `json:"rows"`
	Valid   int         `json:"valid"`
	Invalid int         `json:"invalid"`
	Applied bool        `json:"applied"`
	// Passwords lists the one-time passwords of imported users (shown
	// once; users must change them at first login).
	Passwords []OneTimePassword `json:"passwords,omitempty"`
}

// OneTimePassword is an initial password handed to a new user.
type OneTimePassword struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type column struct {
	key     string
	headers []string // accepted header names; the first is written on export
}

var (
	deptColumns = []column{
		{"name", []string{"名称", "name", "部门名称"}},
		{"parent", []string{"上级部门", "parent"}},
		{"kind", []string{"类型", "kind"}},
		{"code", []string{"编码", "code"}},
		{"phone", []string{"电话", "phone"}},
		{"sort", []string{"排序", "sort"}},
	}
	gridColumns = []column{
		{"code", []string{"网格编码", "code"}},
		{"name", []string{"名称", "name", "网格名称"}},
		{"dept", []string{"责任部门", "dept", "department"}},
		{"geometry", []string{"边界GeoJSON", "geometry", "边界"}},
	}
	userColumns = []column{
		{"username", []string{"用户名", "username"}},
		{"name", []string{"姓名", "name"}},
		{"phone", []string{"手机", "phone", "电话"}},
		{"email", []string{"邮箱", "email"}},
		{"dept", []string{"部门", "dept", "department"}},
		{"grid_code", []string{"网格编码", "grid_code"}},
		{"roles", []string{"角色", "roles"}},
		{"data_scope", []string{"数据范围", "data_scope"}},
	}
)

func (m *Module) xlsxRoutes(r *httpapi.Router) {
	commit := []httpapi.Param{{Name: "commit", Type: "boolean", Description: "write the rows when none has an error (default: preview only)"}}
	for _, x := range []struct {
		path, what    string
		readP, writeP string
		export        httpapi.HandlerFunc
		imp           httpapi.HandlerFunc
		tag           string
	}{
		{"/api/v1/departments", "departments", httpapi.PermOrgRead, httpapi.PermOrgWrite, m.exportDepts, m.importDepts, "departments"},
		{"/api/v1/grids", "grids", httpapi.PermOrgRead, httpapi.PermOrgWrite, m.exportGrids, m.importGrids, "grids"},
		{"/api/v1/users", "users", httpapi.PermUserRead, httpapi.PermUserWrite, m.exportUsers, m.importUsers, "users"},
	} {
		r.Handle(httpapi.Route{Method: "GET", Path: x.path + "/export", Perm: x.readP, Tags: []string{x.tag},
			Summary: "Export " + x.what + " as .xlsx (within the caller's data scope)", ResponseContentType: xlsxType, NoTimeout: true, Handler: x.export})
		r.Handle(httpapi.Route{Method: "POST", Path: x.path + "/import", Perm: x.writeP, Tags: []string{x.tag},
			Summary:            "Import " + x.what + " from .xlsx: preview every row's errors, or commit all rows at once",
			RequestContentType: xlsxType, Response: ImportReport{}, Query: commit, MaxBody: maxImportSize, Handler: x.imp})
	}
}

func writeXLSX(w http.ResponseWriter, name string, cols []column, rows [][]string) error {
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	header := make([]any, len(cols))
	for i, c := range cols {
		header[i] = c.headers[0]
	}
	if err := f.SetSheetRow(sheet, "A1", &header); err != nil {
		return err
	}
	for i, row := range rows {
		vals := make([]any, len(row))
		for j, v := range row {
			vals[j] = v
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow(sheet, cell, &vals); err != nil {
			return err
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", xlsxType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s-%s.xlsx"`, name, time.Now().In(httpapi.ChinaTime).Format("20060102")))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(buf.Bytes())
	return err
}

// readSheet reads the first sheet of an uploaded workbook into rows keyed
// by column key. Unknown headers are refused so a misspelt column is not
// silently dropped.
func readSheet(r *http.Request, cols []column, maxRows int) ([]ImportRow, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 {
		return nil, store.Errorf("invalid", "request body must be an .xlsx file")
	}
	f, err := excelize.OpenReader(bytes.NewReader(body), excelize.Options{UnzipSizeLimit: 64 << 20, UnzipXMLSizeLimit: 32 << 20})
	if err != nil {
		return nil, store.Errorf("invalid", "not a readable .xlsx file: %v", err)
	}
	defer f.Close()
	sheets := f.GetSheetList()
	if len(sheets) == 0 {
		return nil, store.Errorf("invalid", "the workbook has no sheet")
	}
	rows, err := f.GetRows(sheets[0])
	if err != nil {
		return nil, store.Errorf("invalid", "cannot read sheet %s: %v", sheets[0], err)
	}
	if len(rows) == 0 {
		return nil, store.Errorf("invalid", "the sheet is empty: row 1 must hold the column headers")
	}
	index := map[int]string{}
	seen := map[string]bool{}
	for i, h := range rows[0] {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		key := ""
		for _, c := range cols {
			for _, name := range c.headers {
				if strings.EqualFold(name, h) {
					key = c.key
				}
			}
		}
		if key == "" {
			var names []string
			for _, c := range cols {
				names = append(names, c.headers[0])
			}
			return nil, store.Errorf("invalid", "unknown column %q; columns: %s", h, strings.Join(names, ", "))
		}
		if seen[key] {
			return nil, store.Errorf("invalid", "column %q appears twice", h)
		}
		seen[key] = true
		index[i] = key
	}
	var out []ImportRow
	for n, row := range rows[1:] {
		vals := map[string]string{}
		empty := true
		for i, v := range row {
			if key, ok := index[i]; ok {
				v = strings.TrimSpace(v)
				vals[key] = v
				if v != "" {
					empty = false
				}
			}
		}
		if empty {
			continue
		}
		out = append(out, ImportRow{Row: n + 2, Values: vals})
		if len(out) > maxRows {
			return nil, store.Errorf("invalid", "at most %d rows per import", maxRows)
		}
	}
	if len(out) == 0 {
		return nil, store.Errorf("invalid", "the sheet has no data rows")
	}
	return out, nil
}

func wantCommit(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("commit")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, httpapi.FieldError("commit", "must be true or false")
	}
	return b, nil
}

func finishReport(rep *ImportReport) {
	for _, row := range rep.Rows {
		if len(row.Errors) > 0 {
			rep.Invalid++
		} else {
			rep.Valid++
		}
	}
}

// commitError refuses a commit with errors, naming each bad row.
func commitError(rep *ImportReport) error {
	fields := map[string]string{}
	for _, row := range rep.Rows {
		if len(row.Errors) > 0 {
			var parts []string
			for k, v := range row.Errors {
				parts = append(parts, k+": "+v)
			}
			fields["row "+strconv.Itoa(row.Row)] = strings.Join(parts, "; ")
		}
	}
	return &store.Error{Code: "invalid", Message: fmt.Sprintf("%d of %d rows have errors; nothing was written", rep.Invalid, len(rep.Rows)), Fields: fields}
}

var kindByTitle = map[string]string{"委办局": KindBureau, "乡镇街道": KindTownship, "乡镇": KindTownship, "街道": KindTownship, "县级机构": KindCounty, "科室站所": KindUnit}

// ---- departments ----

func (m *Module) exportDepts(w http.ResponseWriter, r *http.Request) error {
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(httpapi.ScopeColumns{Dept: "d.id"})
	rows, err := m.st.DB().QueryContext(r.Context(), `SELECT d.name, coalesce(p.name, ''), d.kind, d.code, d.phone, d.sort
		FROM org_department d LEFT JOIN org_department p ON p.id = d.parent_id WHERE `+cond+` ORDER BY d.path`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var name, parent, kind, code, phone string
		var sort int
		if err := rows.Scan(&name, &parent, &kind, &code, &phone, &sort); err != nil {
			return err
		}
		out = append(out, []string{name, parent, DepartmentKinds[kind], code, phone, strconv.Itoa(sort)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return writeXLSX(w, "departments", deptColumns, out)
}

func (m *Module) importDepts(w http.ResponseWriter, r *http.Request) error {
	commit, err := wantCommit(r)
	if err != nil {
		return err
	}
	rows, err := readSheet(r, deptColumns, maxImportRows)
	if err != nil {
		return err
	}
	rep := &ImportReport{Rows: rows}
	inFile := map[string]bool{}
	var payload importPayload[deptImportRow]
	for i := range rep.Rows {
		row := &rep.Rows[i]
		vals := row.Values
		var v httpapi.Validator
		in := deptImportRow{DepartmentInput: DepartmentInput{Name: vals["name"], Code: vals["code"], Phone: vals["phone"]}, ParentName: vals["parent"]}
		if k := vals["kind"]; k != "" {
			if mapped, ok := kindByTitle[k]; ok {
				in.Kind = mapped
			} else {
				in.Kind = k
			}
		}
		if s := vals["sort"]; s != "" {
			n, err := strconv.Atoi(s)
			v.Check(err == nil, "sort", "must be an integer")
			in.Sort = n
		}
		in.check(&v)
		if in.ParentName != "" && !inFile[in.ParentName] {
			if _, err := deptIDByName(m.st.DB(), in.ParentName); err != nil {
				v.Add("parent", store.AsError(err).Message)
			}
		}
		key := in.ParentName + "\x00" + in.Name
		if inFile[key] {
			v.Add("name", "appears twice under the same parent in this sheet")
		}
		if !v.Has("name") {
			var n int
			_ = m.st.DB().QueryRowContext(r.Context(), `SELECT count(*) FROM org_department d LEFT JOIN org_department p ON p.id = d.parent_id
				WHERE d.name = ? AND coalesce(p.name, '') = ?`, in.Name, in.ParentName).Scan(&n)
			v.Check(n == 0, "name", "already exists under this parent")
		}
		inFile[key] = true
		inFile[in.Name] = true
		row.Errors = v.Fields()
		payload.Rows = append(payload.Rows, in)
	}
	finishReport(rep)
	if !commit {
		return httpapi.JSON(w, http.StatusOK, rep)
	}
	if rep.Invalid > 0 {
		return commitError(rep)
	}
	if err := m.apply(r, CmdDepartmentImport, payload, nil); err != nil {
		return err
	}
	rep.Applied = true
	return httpapi.JSON(w, http.StatusOK, rep)
}

// ---- grids ----

func (m *Module) exportGrids(w http.ResponseWriter, r *http.Request) error {
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(gridScope)
	rows, err := m.st.DB().QueryContext(r.Context(), `SELECT g.code, g.name, coalesce(d.name, ''), g.geometry
		FROM org_grid g LEFT JOIN org_department d ON d.id = g.dept_id WHERE `+cond+` ORDER BY g.code`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		var code, name, dept, geo string
		if err := rows.Scan(&code, &name, &dept, &geo); err != nil {
			return err
		}
		out = append(out, []string{code, name, dept, geo})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return writeXLSX(w, "grids", gridColumns, out)
}

func (m *Module) importGrids(w http.ResponseWriter, r *http.Request) error {
	commit, err := wantCommit(r)
	if err != nil {
		return err
	}
	rows, err := readSheet(r, gridColumns, maxImportRows)
	if err != nil {
		return err
	}
	rep := &ImportReport{Rows: rows}
	codes := map[string]bool{}
	for _, row := range rows {
		codes[row.Values["code"]] = true
	}
	var payload importPayload[GridInput]
	for i := range rep.Rows {
		row := &rep.Rows[i]
		var v httpapi.Validator
		in := GridInput{Code: row.Values["code"], Name: row.Values["name"]}
		if g := row.Values["geometry"]; g != "" {
			in.Geometry = json.RawMessage(g)
		}
		if d := row.Values["dept"]; d != "" {
			id, err := deptIDByName(m.st.DB(), d)
			if err != nil {
				v.Add("dept", store.AsError(err).Message)
			} else {
				in.DeptID = &id
			}
		}
		in.check(&v)
		if !v.Has("code") {
			_, parent, _ := GridLevelOf(in.Code)
			var n int
			_ = m.st.DB().QueryRowContext(r.Context(), `SELECT count(*) FROM org_grid WHERE code = ?`, in.Code).Scan(&n)
			v.Check(n == 0, "code", "already exists")
			if parent != "" && !codes[parent] {
				_ = m.st.DB().QueryRowContext(r.Context(), `SELECT count(*) FROM org_grid WHERE code = ?`, parent).Scan(&n)
				v.Check(n > 0, "code", "parent grid "+parent+" is neither in the sheet nor in the system")
			}
		}
		for j := 0; j < i; j++ {
			if rep.Rows[j].Values["code"] == in.Code {
				v.Add("code", fmt.Sprintf("appears twice (also row %d)", rep.Rows[j].Row))
			}
		}
		row.Errors = v.Fields()
		payload.Rows = append(payload.Rows, in)
	}
	finishReport(rep)
	if !commit {
		return httpapi.JSON(w, http.StatusOK, rep)
	}
	if rep.Invalid > 0 {
		return commitError(rep)
	}
	if err := m.apply(r, CmdGridImport, payload, nil); err != nil {
		return err
	}
	rep.Applied = true
	return httpapi.JSON(w, http.StatusOK, rep)
}

// ---- users ----

var roleByTitle = func() map[string]string {
	out := map[string]string{}
	for _, r := range httpapi.Roles() {
		out[r.Title] = r.Name
		out[r.Name] = r.Name
	}
	return out
}()

func (m *Module) exportUsers(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	cond, args := p.ScopeFilter(userScopeFor(p))
	rows, err := m.st.DB().QueryContext(r.Context(), `SELECT u.username, u.name, u.phone, u.email, coalesce(d.name, ''), u.grid_code, u.roles, u.data_scope
		`+userFrom+` WHERE `+cond+` ORDER BY u.id LIMIT 100000`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		rec := make([]string, 8)
		if err := rows.Scan(&rec[0], &rec[1], &rec[2], &rec[3], &rec[4], &rec[5], &rec[6], &rec[7]); err != nil {
			return err
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return writeXLSX(w, "users", userColumns, out)
}

func (m *Module) importUsers(w http.ResponseWriter, r *http.Request) error {
	commit, err := wantCommit(r)
	if err != nil {
		return err
	}
	rows, err := readSheet(r, userColumns, maxUserRows)
	if err != nil {
		return err
	}
	rep := &ImportReport{Rows: rows}
	var inputs []UserInput
	seen := map[string]int{}
	for i := range rep.Rows {
		row := &rep.Rows[i]
		vals := row.Values
		var v httpapi.Validator
		in := UserInput{Username: vals["username"], Name: vals["name"], Phone: vals["phone"], Email: vals["email"],
			GridCode: vals["grid_code"], DataScope: vals["data_scope"], MustChangePassword: true}
		for _, part := range strings.FieldsFunc(vals["roles"], func(r rune) bool { return r == ',' || r == '，' || r == '、' || r == ' ' }) {
			if name, ok := roleByTitle[part]; ok {
				in.Roles = append(in.Roles, name)
			} else {
				in.Roles = append(in.Roles, part)
			}
		}
		if d := vals["dept"]; d != "" {
			id, err := deptIDByName(m.st.DB(), d)
			if err != nil {
				v.Add("dept", store.AsError(err).Message)
			} else {
				in.DeptID = &id
			}
		}
		in.check(&v)
		if !v.Has("username") {
			if prev, dup := seen[strings.ToLower(in.Username)]; dup {
				v.Add("username", fmt.Sprintf("appears twice (also row %d)", prev))
			}
			seen[strings.ToLower(in.Username)] = row.Row
			var n int
			_ = m.st.DB().QueryRowContext(r.Context(), `SELECT count(*) FROM org_user WHERE username = ?`, in.Username).Scan(&n)
			v.Check(n == 0, "username", "is taken")
		}
		if in.GridCode != "" && !v.Has("grid_code") {
			var n int
			_ = m.st.DB().QueryRowContext(r.Context(), `SELECT count(*) FROM org_grid WHERE code = ?`, in.GridCode).Scan(&n)
			v.Check(n > 0, "grid_code", "does not exist")
		}
		row.Errors = v.Fields()
		inputs = append(inputs, in)
	}
	finishReport(rep)
	if !commit {
		return httpapi.JSON(w, http.StatusOK, rep)
	}
	if rep.Invalid > 0 {
		return commitError(rep)
	}
	payload, pws, err := hashUsers(r.Context(), inputs)
	if err != nil {
		return err
	}
	if err := m.apply(r, CmdUserImport, payload, nil); err != nil {
		return err
	}
	rep.Applied = true
	rep.Passwords = pws
	return httpapi.JSON(w, http.StatusOK, rep)
}

// hashUsers gives every imported user a random one-time password.
func hashUsers(ctx context.Context, inputs []UserInput) (importPayload[userCreatePayload], []OneTimePassword, error) {
	var p importPayload[userCreatePayload]
	var pws []OneTimePassword
	for _, in := range inputs {
		if err := ctx.Err(); err != nil {
			return p, nil, err
		}
		pw := RandomPassword()
		h, err := HashPassword(pw)
		if err != nil {
			return p, nil, err
		}
		p.Rows = append(p.Rows, userCreatePayload{UserInput: in, PasswordHash: h})
		pws = append(pws, OneTimePassword{Username: in.Username, Password: pw})
	}
	return p, pws, nil
}
