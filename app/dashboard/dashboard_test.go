package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/dashboard"
	"github.com/yiwang/yiwang/app/dashboard/dashtest"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

type screen struct {
	dashboard.Screen
	Indicators []struct {
		Key       string              `json:"key"`
		Value     *float64            `json:"value"`
		Status    string              `json:"status"`
		Trend     []float64           `json:"trend"`
		Category  string              `json:"category"`
		Threshold dashboard.Threshold `json:"threshold"`
	} `json:"indicators"`
}

func (s *screen) indicator(t *testing.T, key string) (v *float64, status string, trend []float64) {
	t.Helper()
	for _, in := range s.Indicators {
		if in.Key == key {
			return in.Value, in.Status, in.Trend
		}
	}
	t.Fatalf("indicator %s missing", key)
	return nil, "", nil
}

func f(x float64) *float64 { return &x }

func TestStatusOf(t *testing.T) {
	above := dashboard.Threshold{Warning: f(2.8), Critical: f(3), Direction: "above"}
	below := dashboard.Threshold{Warning: f(90), Critical: f(80), Direction: "below"}
	for _, c := range []struct {
		v    *float64
		th   dashboard.Threshold
		want string
	}{
		{nil, above, "nodata"}, {f(2.79), above, "normal"}, {f(2.8), above, "warning"}, {f(3), above, "critical"},
		{f(95), below, "normal"}, {f(90), below, "warning"}, {f(80), below, "critical"}, {f(5), dashboard.Threshold{Direction: "above"}, "normal"},
	} {
		if got := dashboard.StatusOf(c.v, c.th); got != c.want {
			t.Errorf("StatusOf(%v, %+v) = %s, want %s", c.v, c.th, got, c.want)
		}
	}
}

func TestScreen(t *testing.T) {
	s := dashtest.Start(t)
	var admin screen
	s.Must("GET", "/api/v1/dashboard/screen", s.Tokens["admin"], nil, 200, &admin)

	t.Run("roles", func(t *testing.T) {
		for _, u := range []string{"commander", "operator", "handler", "gridworker", "leader", "viewer"} {
			s.Must("GET", "/api/v1/dashboard/screen", s.Tokens[u], nil, 200, nil)
		}
		s.Must("GET", "/api/v1/dashboard/screen", s.Tokens["integrator"], nil, 403, nil)
		s.Must("GET", "/api/v1/dashboard/screen", "", nil, 401, nil)
	})

	t.Run("content", func(t *testing.T) {
		if admin.CountyName == "" {
			t.Error("no county name")
		}
		if len(admin.Indicators) != len(dashboard.DemoIndicators) {
			t.Fatalf("%d indicators, want the %d demo ones", len(admin.Indicators), len(dashboard.DemoIndicators))
		}
		seen := map[string]bool{}
		for _, in := range admin.Indicators {
			seen[in.Category] = true
		}
		for _, c := range dashboard.Categories {
			if !seen[c] {
				t.Errorf("no %s indicator", c)
			}
		}
		// The demo's day of readings gives values and hourly trends.
		v, st, trend := admin.indicator(t, "river_level")
		if v == nil || *v <= 0 || *v >= 3 || st != "normal" {
			t.Errorf("river_level = %v (%s), want a normal level from the demo readings", v, st)
		}
		if len(trend) < 20 {
			t.Errorf("river_level trend has %d points, want about 24 hourly ones", len(trend))
		}
		if v, _, _ := admin.indicator(t, "devices_online"); v == nil || *v <= 0 || *v > 100 {
			t.Errorf("devices_online = %v", v)
		}
		if n := len(admin.Grids.Features); n != 8 {
			t.Errorf("%d township polygons, want 8", n)
		}
		open := 0
		for _, g := range admin.Grids.Features {
			if g.Properties.Code == "" || g.Properties.Name == "" || len(g.Geometry) == 0 {
				t.Errorf("bad feature %+v", g.Properties)
			}
			open += g.Properties.OpenCases
		}
		if open == 0 || admin.Funnel.Reported == 0 || admin.Funnel.Reported < admin.Funnel.Closed {
			t.Errorf("open cases %d, funnel %+v", open, admin.Funnel)
		}
		if admin.Devices.Total != 24 {
			t.Errorf("devices %+v, want the 24 demo devices", admin.Devices)
		}
		if p := admin.Projects; p.Green+p.Yellow+p.Red == 0 || len(p.Items) == 0 {
			t.Errorf("projects %+v", p)
		}
	})

	t.Run("scope", func(t *testing.T) {
		// The 城管局 handler sees the bureau's devices (the manholes) and
		// only its cases on the map.
		var h screen
		s.Must("GET", "/api/v1/dashboard/screen", s.Tokens["handler"], nil, 200, &h)
		if h.Devices.Total == 0 || h.Devices.Total >= admin.Devices.Total {
			t.Errorf("handler sees %d devices, admin %d", h.Devices.Total, admin.Devices.Total)
		}
		if h.Funnel.Reported > admin.Funnel.Reported {
			t.Errorf("handler funnel %+v exceeds the county's %+v", h.Funnel, admin.Funnel)
		}
		// Indicators are county-wide.
		if len(h.Indicators) != len(admin.Indicators) {
			t.Errorf("handler sees %d indicators", len(h.Indicators))
		}
	})

	t.Run("live reading", func(t *testing.T) {
		ev := s.Stream(s.Tokens["operator"])
		time.Sleep(100 * time.Millisecond)
		t0 := time.Now()
		err := s.App.IoT().WriteBatch(context.Background(), []mqtt.Reading{{Device: "sim-wl-0002", Metric: "water_level", Value: 3.25, TS: time.Now()}})
		if err != nil {
			t.Fatal(err)
		}
		e, ok := dashtest.WaitEvent(t, ev, 2*time.Second, "indicator.updated", func(d json.RawMessage) bool {
			var u dashboard.IndicatorUpdate
			return json.Unmarshal(d, &u) == nil && u.Key == "river_level"
		})
		if !ok {
			t.Fatal("no indicator.updated for river_level within 2 s")
		}
		var u dashboard.IndicatorUpdate
		_ = json.Unmarshal(e.Data, &u)
		if u.Value == nil || *u.Value != 3.25 || u.Status != "critical" {
			t.Errorf("update %+v, want 3.25 critical", u)
		}
		t.Logf("indicator.updated %v after the batch", time.Since(t0))
		var after screen
		s.Must("GET", "/api/v1/dashboard/screen", s.Tokens["operator"], nil, 200, &after)
		if v, st, _ := after.indicator(t, "river_level"); v == nil || *v != 3.25 || st != "critical" {
			t.Errorf("screen river_level = %v %s after the reading", v, st)
		}
	})
}

func TestIndicatorConfig(t *testing.T) {
	s := dashtest.Start(t)
	admin := s.Tokens["admin"]
	const base = "/api/v1/dashboard/indicators"
	in := map[string]any{"key": "flow_max", "name": "最大流量", "category": "water", "metric": "flow_rate", "aggregation": "max",
		"device_type": "water_level", "threshold": map[string]any{"warning": 2, "critical": 3, "direction": "above"}, "unit": "m³/s", "sort": 25}

	t.Run("permissions", func(t *testing.T) {
		for _, u := range []string{"commander", "operator", "handler", "leader", "viewer"} {
			s.Must("POST", base, s.Tokens[u], in, 403, nil)
			s.Must("PATCH", base+"/river_level", s.Tokens[u], map[string]any{"unit": "cm"}, 403, nil)
			s.Must("DELETE", base+"/river_level", s.Tokens[u], nil, 403, nil)
			s.Must("GET", base, s.Tokens[u], nil, 200, nil)
		}
		s.Must("GET", base, "", nil, 401, nil)
		s.Must("POST", base, "", in, 401, nil)
		s.Must("GET", base, s.Tokens["integrator"], nil, 403, nil)
	})

	t.Run("crud", func(t *testing.T) {
		var got dashboard.Indicator
		s.Must("POST", base, admin, in, 201, &got)
		if got.Key != "flow_max" || got.ThresholdText == "" || got.UpdatedBy == "" {
			t.Errorf("created %+v", got)
		}
		_, b := s.Do("POST", base, admin, in, nil)
		if code, fields := dashtest.ErrorFields(b); code != "conflict" || fields["key"] != "duplicate" {
			t.Errorf("duplicate: %s", b)
		}
		var page struct {
			Items []dashboard.Indicator `json:"items"`
			Total int                   `json:"total"`
		}
		s.Must("GET", base+"?category=water", s.Tokens["viewer"], nil, 200, &page)
		found := false
		for _, x := range page.Items {
			found = found || x.Key == "flow_max"
			if x.Category != "water" {
				t.Errorf("filter leaked %+v", x)
			}
		}
		if !found {
			t.Errorf("flow_max not listed: %+v", page)
		}
		// Lower the threshold below the current value: the screen says critical.
		s.Must("PATCH", base+"/flow_max", admin, map[string]any{"threshold": map[string]any{"warning": 0.01, "critical": 0.02}}, 200, &got)
		if *got.Threshold.Critical != 0.02 || got.Threshold.Direction != "above" || got.Name != "最大流量" {
			t.Errorf("patched %+v", got)
		}
		var sc screen
		s.Must("GET", "/api/v1/dashboard/screen", admin, nil, 200, &sc)
		if v, st, _ := sc.indicator(t, "flow_max"); v == nil || st != "critical" {
			t.Errorf("flow_max = %v %s after lowering the threshold", v, st)
		}
		s.Must("DELETE", base+"/flow_max", admin, nil, 204, nil)
		s.Must("DELETE", base+"/flow_max", admin, nil, 404, nil)
		s.Must("PATCH", base+"/flow_max", admin, map[string]any{"unit": "x"}, 404, nil)
		s.Must("GET", base+"/flow_max", admin, nil, 404, nil)
	})

	t.Run("bad input", func(t *testing.T) {
		mod := func(k string, v any) map[string]any {
			out := map[string]any{}
			for a, b := range in {
				out[a] = b
			}
			out["key"] = "bad_" + k
			if v == nil {
				delete(out, k)
			} else {
				out[k] = v
			}
			return out
		}
		for _, c := range []struct {
			body  any
			field string
		}{
			{mod("key", "Bad Key"), "key"},
			{mod("name", nil), "name"},
			{mod("aggregation", "median"), "aggregation"},
			{mod("metric", "cases.everything"), "metric"},
			{mod("window", "5s"), "window"},
			{mod("category", "水"), "category"},
			{mod("threshold", map[string]any{"warning": 3, "critical": 2, "direction": "above"}), "threshold.critical"},
			{mod("threshold", map[string]any{"warning": 3, "direction": "sideways"}), "threshold.direction"},
			{mod("case_source", "hotline"), "case_source"},
		} {
			code, b := s.Do("POST", base, admin, c.body, nil)
			if _, fields := dashtest.ErrorFields(b); code != http.StatusBadRequest || fields[c.field] == "" {
				t.Errorf("%v: status %d, want 400 on %s: %s", c.body, code, c.field, b)
			}
		}
		s.Must("POST", base, admin, `{"key":"x","unknown":1}`, 400, nil)
		s.Must("POST", base, admin, `not json`, 400, nil)
		s.Must("PATCH", base+"/river_level", admin, map[string]any{"aggregation": "median"}, 400, nil)
		s.Must("GET", base+"?colour=red", admin, nil, 400, nil)
	})

	t.Run("built-in metrics", func(t *testing.T) {
		for i, m := range []string{"cases.open", "cases.overdue", "cases.today", "alarms.active", "devices.online"} {
			body := map[string]any{"key": fmt.Sprintf("b%d", i), "name": m, "category": "services", "metric": m, "aggregation": "count"}
			s.Must("POST", base, admin, body, 201, nil)
		}
		var sc screen
		s.Must("GET", "/api/v1/dashboard/screen", admin, nil, 200, &sc)
		for i := range 5 {
			if v, _, _ := sc.indicator(t, fmt.Sprintf("b%d", i)); v == nil {
				t.Errorf("b%d has no value", i)
			}
		}
		if v, _, _ := sc.indicator(t, "b0"); *v == 0 {
			t.Error("cases.open is 0 in the demo county")
		}
	})
}

// BenchmarkScreen measures GET /api/v1/dashboard/screen on the demo county
// (the console refetches it on live events; the contract asks < 50 ms).
func BenchmarkScreen(b *testing.B) {
	s := dashtest.Start(b)
	tok := s.Tokens["operator"]
	for b.Loop() {
		s.Must("GET", "/api/v1/dashboard/screen", tok, nil, 200, nil)
	}
}
