package iot

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

func sheet(t *testing.T, rows [][]any) []byte {
	f := excelize.NewFile()
	defer f.Close()
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (e *env) upload(path string, body []byte) (int, ImportReport) {
	req, _ := http.NewRequest("POST", e.srv.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer admin-token")
	req.Header.Set("Content-Type", xlsxType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rep ImportReport
	_ = json.Unmarshal(b, &rep)
	if resp.StatusCode != 200 {
		e.t.Logf("%s: %d %s", path, resp.StatusCode, b)
	}
	return resp.StatusCode, rep
}

// TestExcelImportExport: a preview lists every row's errors and writes
// nothing; a clean sheet commits all rows (gateways first) and answers the
// one-time secrets, which work; the export reads back.
func TestExcelImportExport(t *testing.T) {
	e := newEnv(t, envOpts{mqtt: true})
	header := []any{"设备编号", "设备名称", "设备类型", "型号", "供应商", "实施单位", "网格编码", "安装地址", "经度", "纬度", "部件编码", "所属网关", "是否网关"}
	bad := sheet(t, [][]any{header,
		{"xl-gw", "网关1", "gateway", "G1", "甲", "乙", "13999900100101", "路口", "114.6", "37.7", "", "", "是"},
		{"xl-1", "井盖1", "manhole", "M", "甲", "乙", "1399990010010", "路口", "114.6", "37.7", "12345", "xl-gw", "否"},
		{"xl-1", "井盖2", "manhole", "M", "甲", "乙", "", "", "abc", "", "", "nope", ""},
	})
	code, rep := e.upload("/api/v1/devices/import?commit=true", bad)
	if code != 200 || rep.Applied || rep.Invalid != 2 || rep.Valid != 1 {
		t.Fatalf("bad sheet: %d %+v", code, rep)
	}
	r2 := rep.Rows[1].Errors
	if r2["grid_code"] == "" || r2["component_id"] == "" {
		t.Fatalf("row 3 errors: %v", r2)
	}
	r3 := rep.Rows[2].Errors
	if r3["id"] == "" || r3["lng"] == "" || r3["gateway_id"] == "" {
		t.Fatalf("row 4 errors: %v", r3)
	}
	var n int
	_ = e.st.DB().QueryRow(`SELECT count(*) FROM iot_device`).Scan(&n)
	if n != 0 {
		t.Fatalf("a sheet with errors wrote %d devices", n)
	}
	good := sheet(t, [][]any{header,
		{"xl-1", "井盖1", "manhole", "M", "甲", "乙", "13999900100101", "路口", "114.6", "37.7", "1399990103000001", "xl-gw", "否"},
		{"xl-gw", "网关1", "gateway", "G1", "甲", "乙", "13999900100101", "路口", "114.6", "37.7", "", "", "是"},
	})
	code, rep = e.upload("/api/v1/devices/import", good)
	if code != 200 || rep.Applied || rep.Valid != 2 {
		t.Fatalf("preview: %d %+v", code, rep)
	}
	code, rep = e.upload("/api/v1/devices/import?commit=true", good)
	if code != 200 || !rep.Applied || len(rep.Secrets) != 2 {
		t.Fatalf("commit: %d %+v", code, rep)
	}
	for _, s := range rep.Secrets {
		if _, err := pahoClient(t, e.addr(), s.ID, s.Secret); err != nil {
			t.Fatalf("imported device %s cannot connect: %v", s.ID, err)
		}
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/devices/export", nil)
	req.Header.Set("Authorization", "Bearer admin-token")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	f, err := excelize.OpenReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("Sheet1")
	if len(rows) != 3 || rows[1][0] != "xl-1" || rows[1][11] != "1399990103000001" || rows[2][13] != "是" {
		t.Fatalf("export: %v", rows)
	}
}

// TestRetentionPrune: cut-offs per metric remove old raw readings and
// rollups, keep recent ones.
func TestRetentionPrune(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.createDevice(DeviceInput{Name: "W", Type: "water_level"})
	e.mustCall("PUT", "/api/v1/telemetry/retention", Retention{Metric: "water_level", RawDays: 1, MinuteDays: 2, HourDays: 3}, nil, 200)
	now := time.Now()
	var b []mqtt.Reading
	for _, age := range []time.Duration{2 * time.Minute, 36 * time.Hour, 60 * time.Hour, 100 * time.Hour} {
		b = append(b, mqtt.Reading{Device: d.ID, Metric: "water_level", Value: 1, TS: now.Add(-age)},
			mqtt.Reading{Device: d.ID, Metric: "battery", Value: 3.6, TS: now.Add(-age)})
	}
	if err := e.m.WriteBatch(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Prune(context.Background()); err != nil {
		t.Fatal(err)
	}
	count := func(q string) int {
		var n int
		if err := e.st.DB().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM iot_reading WHERE metric = 'water_level'`); n != 1 {
		t.Fatalf("water_level raw kept %d, want 1", n)
	}
	if n := count(`SELECT count(*) FROM iot_rollup WHERE metric = 'water_level' AND res = 60`); n != 2 {
		t.Fatalf("water_level 1m kept %d, want 2", n)
	}
	if n := count(`SELECT count(*) FROM iot_rollup WHERE metric = 'water_level' AND res = 3600`); n != 3 {
		t.Fatalf("water_level 1h kept %d, want 3", n)
	}
	if n := count(`SELECT count(*) FROM iot_reading WHERE metric = 'battery'`); n != 4 {
		t.Fatalf("battery (default 30 days) kept %d, want 4", n)
	}
}
