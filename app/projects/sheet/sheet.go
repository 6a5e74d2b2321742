// Package sheet is the small .xlsx layer shared by the projects and
// investment modules: a column table with Chinese headers (and English
// aliases), a writer for exports and a reader that turns the first sheet
// into rows keyed by column, so import handlers can validate every row and
// show every error in a preview before anything is written.
package sheet

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/yiwang/yiwang/store"
)

// ContentType is the media type of .xlsx.
const ContentType = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

// Column is one sheet column: its key, header (first) and aliases.
type Column struct {
	Key     string
	Headers []string
	// Required columns must appear in an imported sheet.
	Required bool
}

// Row is one data row with its problems.
type Row struct {
	Row    int               `json:"row" doc:"row number in the sheet (header is row 1)"`
	Values map[string]string `json:"values"`
	Errors map[string]string `json:"errors,omitempty"`
}

// Report answers an import in preview or commit mode.
type Report struct {
	Rows    []Row `json:"rows"`
	Valid   int   `json:"valid"`
	Invalid int   `json:"invalid"`
	Applied bool  `json:"applied"`
}

// Finish counts valid and invalid rows (clearing empty error maps).
func (r *Report) Finish() {
	r.Valid, r.Invalid = 0, 0
	for i := range r.Rows {
		if len(r.Rows[i].Errors) == 0 {
			r.Rows[i].Errors = nil
			r.Valid++
		} else {
			r.Invalid++
		}
	}
}

// Write renders rows (values in column order) as a one-sheet workbook.
func Write(sheetName string, cols []Column, rows [][]any) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheetName); err != nil {
		return nil, err
	}
	head := make([]any, len(cols))
	for i, c := range cols {
		head[i] = c.Headers[0]
	}
	if err := f.SetSheetRow(sheetName, "A1", &head); err != nil {
		return nil, err
	}
	for n, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, n+2)
		if err := f.SetSheetRow(sheetName, cell, &r); err != nil {
			return nil, err
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Serve writes an .xlsx download.
func Serve(w http.ResponseWriter, filename string, body []byte) error {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(filename))
	_, err := w.Write(body)
	return err
}

// Read parses the first sheet: row 1 holds headers (unknown headers are
// refused, naming the known ones), later non-empty rows become Rows.
func Read(body []byte, cols []Column, maxRows int) ([]Row, error) {
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
			for _, name := range c.Headers {
				if strings.EqualFold(name, h) {
					key = c.Key
				}
			}
		}
		if key == "" {
			var names []string
			for _, c := range cols {
				names = append(names, c.Headers[0])
			}
			return nil, store.Errorf("invalid", "unknown column %q; columns: %s", h, strings.Join(names, ", "))
		}
		if seen[key] {
			return nil, store.Errorf("invalid", "column %q appears twice", h)
		}
		seen[key] = true
		index[i] = key
	}
	for _, c := range cols {
		if c.Required && !seen[c.Key] {
			return nil, store.Errorf("invalid", "column %s is required", c.Headers[0])
		}
	}
	var out []Row
	for n, row := range rows[1:] {
		vals := map[string]string{}
		empty := true
		for i, v := range row {
			if k, ok := index[i]; ok {
				v = strings.TrimSpace(v)
				vals[k] = v
				if v != "" {
					empty = false
				}
			}
		}
		if empty {
			continue
		}
		out = append(out, Row{Row: n + 2, Values: vals})
	}
	if len(out) > maxRows {
		return nil, store.Errorf("invalid", "at most %d rows per import", maxRows)
	}
	return out, nil
}

// ReadRequest reads an import body and the commit flag.
func ReadRequest(r *http.Request, cols []Column, maxRows int) ([]Row, bool, error) {
	commit := false
	for k, v := range r.URL.Query() {
		if k != "commit" {
			return nil, false, &store.Error{Code: "invalid", Message: k + ": unknown parameter", Fields: map[string]string{k: "unknown parameter"}}
		}
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return nil, false, &store.Error{Code: "invalid", Message: "commit: must be true or false", Fields: map[string]string{"commit": "must be true or false"}}
		}
		commit = b
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, false, err
	}
	rows, err := Read(body, cols, maxRows)
	return rows, commit, err
}

// Float parses an optional number into *dst, recording an error.
func Float(v map[string]string, key string, dst *float64, errs map[string]string) {
	if s := v[key]; s != "" {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			errs[key] = fmt.Sprintf("%q is not a number", s)
			return
		}
		*dst = f
	}
}

// Int parses an optional integer into *dst, recording an error.
func Int(v map[string]string, key string, dst *int, errs map[string]string) {
	if s := v[key]; s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			errs[key] = fmt.Sprintf("%q is not a whole number", s)
			return
		}
		*dst = n
	}
}

// Merge copies a validation error's fields into errs.
func Merge(errs map[string]string, err error) {
	if err == nil {
		return
	}
	e := store.AsError(err)
	for k, v := range e.Fields {
		errs[k] = v
	}
	if len(e.Fields) == 0 {
		errs["row"] = e.Message
	}
}
