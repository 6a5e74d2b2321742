package audit

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// ActorNames resolves actor ids ("user:12") to display names.
type ActorNames func(ctx context.Context, actors []string) map[string]string

// Module serves the audit API.
type Module struct {
	st    *store.Store
	names ActorNames
}

var _ httpapi.Module = (*Module)(nil)

// New returns the module; names may be nil.
func New(names ActorNames) *Module { return &Module{names: names} }

// Name implements httpapi.Module.
func (m *Module) Name() string { return "audit" }

// Register implements httpapi.Module (the audit log belongs to the store).
func (m *Module) Register(st *store.Store) { m.st = st }

// Entry is one command log row as the API shows it.
type Entry struct {
	Index     uint64          `json:"index"`
	CmdID     string          `json:"cmd_id"`
	Type      string          `json:"type"`
	Version   int             `json:"v"`
	Actor     string          `json:"actor"`
	ActorName string          `json:"actor_name,omitempty"`
	Time      time.Time       `json:"time"`
	Payload   json.RawMessage `json:"payload,omitempty"`
	Error     *store.Error    `json:"error,omitempty"`
	Hash      string          `json:"hash"`
}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	tags := []string{"audit"}
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/audit", Perm: httpapi.PermAuditRead, Tags: tags,
		Summary: "Search the audit log (every write and every login attempt)", Query: filterParams(false),
		Response: httpapi.Page[Entry]{}, Handler: m.list})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/audit/export", Perm: httpapi.PermAuditRead, Tags: tags,
		Summary: "Export the audit log as CSV or .xlsx (at most 100000 rows)", Query: filterParams(true),
		ResponseContentType: "text/csv", NoTimeout: true, Handler: m.export})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/audit/verify", Perm: httpapi.PermAuditRead, Tags: tags,
		Summary: "Verify the hash chain of the audit log", Response: store.AuditReport{}, NoTimeout: true, Handler: m.verify})
}

func filterParams(export bool) []httpapi.Param {
	ps := []httpapi.Param{
		{Name: "actor", Description: `actor id, e.g. user:12, system, anonymous`},
		{Name: "type", Description: "command type or prefix, e.g. auth. or org.user.create"},
		{Name: "since", Description: "RFC 3339 time or date (inclusive)"},
		{Name: "until", Description: "RFC 3339 time or date (exclusive)"},
		{Name: "q", Description: "text contained in the payload"},
		{Name: "errors", Type: "boolean", Description: "only refused commands"},
		{Name: "order", Description: "desc (default) or asc"},
	}
	if export {
		return append(ps, httpapi.Param{Name: "format", Description: "csv (default) or xlsx"})
	}
	return append(ps, httpapi.Param{Name: "limit", Type: "integer"}, httpapi.Param{Name: "offset", Type: "integer"})
}

func parseFilter(r *http.Request, export bool) (store.LogFilter, string, error) {
	var v httpapi.Validator
	f := store.LogFilter{Limit: 50}
	format := "csv"
	q := r.URL.Query()
	for key, vals := range q {
		if len(vals) != 1 {
			v.Add(key, "must be given once")
			continue
		}
		val := vals[0]
		switch key {
		case "actor":
			v.Text(key, val, 1, 64)
			f.Actor = val
		case "type":
			v.Text(key, val, 1, 64)
			f.TypePrefix = val
		case "since", "until":
			t, err := httpapi.ParseTime(val)
			if err != nil {
				v.Add(key, err.Error())
				continue
			}
			// The log stores Unix nanoseconds: keep times inside their range.
			if t.Before(minTime) {
				t = minTime
			} else if t.After(maxTime) {
				t = maxTime
			}
			if key == "since" {
				f.Since = t
			} else {
				f.Until = t
			}
		case "q":
			v.Text(key, val, 1, 100)
			f.Text = val
		case "errors":
			b, err := strconv.ParseBool(val)
			v.Check(err == nil, key, "must be true or false")
			f.OnlyErrors = b
		case "order":
			v.OneOf(key, val, "asc", "desc")
			f.Ascending = val == "asc"
		case "limit", "offset":
			if export {
				v.Add(key, "unknown parameter")
				continue
			}
			n, err := strconv.Atoi(val)
			if key == "limit" {
				v.Check(err == nil && n >= 1 && n <= 1000, key, "must be an integer between 1 and 1000")
				f.Limit = n
			} else {
				v.Check(err == nil && n >= 0, key, "must be a non-negative integer")
				f.Offset = n
			}
		case "format":
			if !export {
				v.Add(key, "unknown parameter")
				continue
			}
			v.OneOf(key, val, "csv", "xlsx")
			format = val
		default:
			v.Add(key, "unknown parameter")
		}
	}
	return f, format, v.Err()
}

func (m *Module) list(w http.ResponseWriter, r *http.Request) error {
	f, _, err := parseFilter(r, false)
	if err != nil {
		return err
	}
	rows, total, err := m.st.QueryLog(r.Context(), f)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Entry]{Items: m.entries(r.Context(), rows), Total: total})
}

func (m *Module) entries(ctx context.Context, rows []store.LogEntry) []Entry {
	out := make([]Entry, len(rows))
	actors := map[string]bool{}
	for i, e := range rows {
		out[i] = Entry{Index: e.Index, CmdID: e.CmdID, Type: e.Type, Version: e.Version, Actor: e.Actor, Time: e.Time, Hash: e.Hash,
			Payload: Redact(e.Payload)}
		if e.Error != "" {
			var se store.Error
			if json.Unmarshal([]byte(e.Error), &se) != nil || se.Message == "" {
				se = store.Error{Code: "refused", Message: e.Error}
			}
			out[i].Error = &se
		}
		actors[e.Actor] = true
	}
	if m.names != nil && len(actors) > 0 {
		list := make([]string, 0, len(actors))
		for a := range actors {
			list = append(list, a)
		}
		names := m.names(ctx, list)
		for i := range out {
			out[i].ActorName = names[out[i].Actor]
		}
	}
	return out
}

// sensitive keys are replaced by "[redacted]" wherever they occur.
var sensitive = map[string]bool{"password": true, "password_hash": true, "token_hash": true, "secret": true, "token": true, "old_password": true, "new_password": true}

// Redact returns payload with sensitive values replaced; invalid JSON is
// returned as a JSON string.
func Redact(payload []byte) json.RawMessage {
	if len(payload) == 0 {
		return nil
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		b, _ := json.Marshal(string(payload))
		return b
	}
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, val := range t {
				if sensitive[strings.ToLower(k)] {
					t[k] = "[redacted]"
				} else {
					t[k] = walk(val)
				}
			}
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		}
		return x
	}
	b, err := json.Marshal(walk(v))
	if err != nil {
		return nil
	}
	return b
}

const maxExport = 100000

var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func (m *Module) export(w http.ResponseWriter, r *http.Request) error {
	f, format, err := parseFilter(r, true)
	if err != nil {
		return err
	}
	var all []Entry
	f.Limit = 1000
	for f.Offset = 0; f.Offset < maxExport; f.Offset += f.Limit {
		rows, _, err := m.st.QueryLog(r.Context(), f)
		if err != nil {
			return err
		}
		all = append(all, m.entries(r.Context(), rows)...)
		if len(rows) < f.Limit {
			break
		}
	}
	header := []string{"序号 index", "时间 time", "操作人 actor", "姓名 name", "类型 type", "版本 v", "结果 result", "内容 payload", "哈希 hash"}
	record := func(e Entry) []string {
		result := "ok"
		if e.Error != nil {
			result = e.Error.Code + ": " + e.Error.Message
		}
		return []string{strconv.FormatUint(e.Index, 10), e.Time.In(httpapi.ChinaTime).Format("2006-01-02 15:04:05.000"), e.Actor, e.ActorName,
			e.Type, strconv.Itoa(e.Version), result, string(e.Payload), e.Hash}
	}
	stamp := time.Now().In(httpapi.ChinaTime).Format("20060102-150405")
	if format == "xlsx" {
		x := excelize.NewFile()
		defer x.Close()
		sw, err := x.NewStreamWriter(x.GetSheetName(0))
		if err != nil {
			return err
		}
		row := func(i int, vals []string) error {
			cells := make([]any, len(vals))
			for j, s := range vals {
				cells[j] = s
			}
			cell, _ := excelize.CoordinatesToCellName(1, i)
			return sw.SetRow(cell, cells)
		}
		if err := row(1, header); err != nil {
			return err
		}
		for i, e := range all {
			if err := row(i+2, record(e)); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.xlsx"`, stamp))
		return x.Write(w)
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.csv"`, stamp))
	// A UTF-8 byte order mark lets Excel open the Chinese headers correctly.
	if _, err := w.Write([]byte("\ufeff")); err != nil {
		return nil
	}
	cw := csv.NewWriter(w)
	_ = cw.Write(header)
	for _, e := range all {
		rec := record(e)
		for i, s := range rec {
			rec[i] = csvSafe(s)
		}
		if err := cw.Write(rec); err != nil {
			return nil
		}
	}
	cw.Flush()
	return nil
}

// csvSafe defuses spreadsheet formula injection.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (m *Module) verify(w http.ResponseWriter, r *http.Request) error {
	rep, err := m.st.VerifyAudit(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, rep)
}
