package iot

import (
	"bytes"
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

// Excel import and export of the device registry. An import is read
// completely and every row validated (fields, duplicates inside the sheet
// and against the registry, gateway references) before anything is
// written; committing writes all rows in one command and answers with each
// new device's one-time secret.

const (
	xlsxType      = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	maxImportSize = 10 << 20
	maxImportRows = 2000 // each row costs an argon2id hash on commit
)

// ImportRow is one data row with its problems.
type ImportRow struct {
	Row    int               `json:"row" doc:"row number in the sheet (header is row 1)"`
	Values map[string]string `json:"values"`
	Errors map[string]string `json:"errors,omitempty"`
}

// ImportReport answers an import in preview or commit mode.
type ImportReport struct {
	Rows    []ImportRow `json:"rows"`
	Valid   int         `json:"valid"`
	Invalid int         `json:"invalid"`
	Applied bool        `json:"applied"`
	// Secrets are the new devices' one-time secrets (commit only).
	Secrets []DeviceSecret `json:"secrets,omitempty"`
}

// DeviceSecret is a device id with its one-time secret.
type DeviceSecret struct {
	ID     string `json:"id"`
	Secret string `json:"secret"`
}

type column struct {
	key     string
	headers []string
}

var deviceColumns = []column{
	{"id", []string{"设备编号", "id"}},
	{"name", []string{"设备名称", "name", "名称"}},
	{"type", []string{"设备类型", "type", "类型"}},
	{"model", []string{"型号", "model"}},
	{"supplier", []string{"供应商", "supplier"}},
	{"implementer", []string{"实施单位", "implementer"}},
	{"owner_dept_id", []string{"业主单位ID", "owner_dept_id"}},
	{"grid_code", []string{"网格编码", "grid_code"}},
	{"address", []string{"安装地址", "address", "地址"}},
	{"lng", []string{"经度", "lng"}},
	{"lat", []string{"纬度", "lat"}},
	{"component_id", []string{"部件编码", "component_id"}},
	{"gateway_id", []string{"所属网关", "gateway_id"}},
	{"is_gateway", []string{"是否网关", "is_gateway"}},
	{"status", []string{"状态", "status"}},
	{"last_seen", []string{"最后在线", "last_seen"}},
}

func (m *Module) exportDevices(w http.ResponseWriter, r *http.Request) error {
	for k := range r.URL.Query() {
		return httpapi.FieldError(k, "unknown parameter")
	}
	cond, args := httpapi.MustPrincipal(r).ScopeFilter(scopeCols)
	rows, err := m.st.DB().QueryContext(r.Context(), `SELECT `+deviceCols+` FROM iot_device WHERE `+cond+` ORDER BY id`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	f := excelize.NewFile()
	defer f.Close()
	sheet := f.GetSheetName(0)
	header := make([]any, len(deviceColumns))
	for i, c := range deviceColumns {
		header[i] = c.headers[0]
	}
	if err := f.SetSheetRow(sheet, "A1", &header); err != nil {
		return err
	}
	n := 2
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return err
		}
		vals := []any{d.ID, d.Name, d.Type, d.Model, d.Supplier, d.Implementer, "", d.GridCode, d.Address, "", "", d.ComponentID, d.GatewayID, "否", d.Status, ""}
		if d.OwnerDeptID != nil {
			vals[6] = strconv.FormatInt(*d.OwnerDeptID, 10)
		}
		if d.Lat != nil {
			vals[9], vals[10] = strconv.FormatFloat(*d.Lng, 'f', 6, 64), strconv.FormatFloat(*d.Lat, 'f', 6, 64)
		}
		if d.IsGateway {
			vals[13] = "是"
		}
		if d.LastSeen != nil {
			vals[15] = d.LastSeen.In(chinaTime).Format("2006-01-02 15:04:05")
		}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		if err := f.SetSheetRow(sheet, cell, &vals); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		return err
	}
	w.Header().Set("Content-Type", xlsxType)
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="devices-%s.xlsx"`, time.Now().In(chinaTime).Format("20060102")))
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(buf.Bytes())
	return err
}

func readSheet(body []byte) ([]ImportRow, error) {
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
		for _, c := range deviceColumns {
			for _, name := range c.headers {
				if strings.EqualFold(name, h) {
					key = c.key
				}
			}
		}
		if key == "" {
			var names []string
			for _, c := range deviceColumns {
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
	if !seen["name"] || !seen["type"] {
		return nil, store.Errorf("invalid", "columns 设备名称 and 设备类型 are required")
	}
	var out []ImportRow
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
		out = append(out, ImportRow{Row: n + 2, Values: vals})
	}
	if len(out) > maxImportRows {
		return nil, store.Errorf("invalid", "at most %d rows per import", maxImportRows)
	}
	return out, nil
}

func rowInput(v map[string]string) (DeviceInput, map[string]string) {
	errs := map[string]string{}
	in := DeviceInput{ID: v["id"], Name: v["name"], Type: v["type"], Model: v["model"], Supplier: v["supplier"], Implementer: v["implementer"],
		GridCode: v["grid_code"], Address: v["address"], ComponentID: v["component_id"], GatewayID: v["gateway_id"]}
	if s := v["owner_dept_id"]; s != "" {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
			in.OwnerDeptID = &id
		} else {
			errs["owner_dept_id"] = "must be a department id"
		}
	}
	for _, k := range []string{"lat", "lng"} {
		if s := v[k]; s != "" {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				errs[k] = "must be a number"
				continue
			}
			if k == "lat" {
				in.Lat = &f
			} else {
				in.Lng = &f
			}
		}
	}
	switch strings.ToLower(v["is_gateway"]) {
	case "", "否", "no", "false", "0":
	case "是", "yes", "true", "1":
		in.IsGateway = true
	default:
		errs["is_gateway"] = "must be 是 or 否"
	}
	if err := in.Validate(); err != nil {
		if se, ok := err.(*store.Error); ok {
			for k, msg := range se.Fields {
				errs[k] = msg
			}
			if len(se.Fields) == 0 {
				errs["row"] = se.Message
			}
		} else {
			errs["row"] = err.Error()
		}
	}
	return in, errs
}

func (m *Module) importDevices(w http.ResponseWriter, r *http.Request) error {
	commit := false
	for k, v := range r.URL.Query() {
		if k != "commit" {
			return httpapi.FieldError(k, "unknown parameter")
		}
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return httpapi.FieldError("commit", "must be true or false")
		}
		commit = b
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	rows, err := readSheet(body)
	if err != nil {
		return err
	}
	p := httpapi.MustPrincipal(r)
	rep := &ImportReport{Rows: rows}
	ids := map[string]int{}
	gateways := map[string]bool{}
	inputs := make([]DeviceInput, len(rows))
	for i := range rows {
		in, errs := rowInput(rows[i].Values)
		inputs[i] = in
		if in.ID != "" {
			if prev, dup := ids[in.ID]; dup {
				errs["id"] = fmt.Sprintf("duplicate of row %d", prev)
			} else if _, err := deviceByID(m.st.DB(), in.ID); err == nil {
				errs["id"] = "a device with this id exists"
			}
			ids[in.ID] = rows[i].Row
			if in.IsGateway {
				gateways[in.ID] = true
			}
		}
		var dept int64
		if in.OwnerDeptID != nil {
			dept = *in.OwnerDeptID
		}
		if p.Scope.Kind != httpapi.ScopeAll && !p.InScope(dept, in.GridCode, 0) {
			errs["owner_dept_id"] = "outside your data scope"
		}
		rows[i].Errors = errs
	}
	for i := range rows {
		gw := inputs[i].GatewayID
		if gw == "" || gateways[gw] {
			continue
		}
		if d, err := deviceByID(m.st.DB(), gw); err != nil || !d.IsGateway || d.Status == StatusRetired {
			rows[i].Errors["gateway_id"] = "no such active gateway (in the registry or the sheet)"
		}
	}
	for i := range rows {
		if len(rows[i].Errors) == 0 {
			rows[i].Errors = nil
			rep.Valid++
		} else {
			rep.Invalid++
		}
	}
	if !commit || rep.Invalid > 0 || rep.Valid == 0 {
		return httpapi.JSON(w, http.StatusOK, rep)
	}
	payload := deviceImportPayload{}
	secrets := make([]string, len(inputs))
	for i, in := range inputs {
		s, h, err := newSecret()
		if err != nil {
			return err
		}
		secrets[i] = s
		payload.Rows = append(payload.Rows, deviceCreatePayload{DeviceInput: in, SecretHash: h})
	}
	// The handler puts gateways first (stable); mirror that order to pair
	// ids with secrets.
	order := make([]int, 0, len(inputs))
	for i, in := range inputs {
		if in.IsGateway {
			order = append(order, i)
		}
	}
	for i, in := range inputs {
		if !in.IsGateway {
			order = append(order, i)
		}
	}
	var res deviceImportResult
	if _, err := m.apply(r.Context(), p.Actor(), CmdDeviceImport, payload, &res); err != nil {
		return err
	}
	for k, id := range res.IDs {
		rep.Secrets = append(rep.Secrets, DeviceSecret{ID: id, Secret: secrets[order[k]]})
	}
	rep.Applied = true
	return httpapi.JSON(w, http.StatusOK, rep)
}
