package app

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
)

// TestAlarmOpensRealCase wires the whole chain in one real server: a device
// registered through the API publishes over the threshold to the embedded
// broker → the rule raises an alarm → the cases module opens a case with
// the device's location and grid, placed by the dispatch rules → a reading
// under the clear condition clears the alarm and the clear is noted on the
// case's timeline.
func TestAlarmOpensRealCase(t *testing.T) {
	iotClearSettle = 200 * time.Millisecond
	defer func() { iotClearSettle = 0 }()
	s := startServer(t)
	admin := s.tokens["admin"]
	broker := s.a.IoT().Broker()
	if broker == nil {
		t.Fatal("no embedded broker")
	}
	lat, lng := 30.61, 114.32
	var dev iot.DeviceCreated
	s.must("POST", "/api/v1/devices", admin, iot.DeviceInput{Name: "河滨路积水监测", Type: "water_level", GridCode: "13999900100101",
		Address: "河滨路下穿通道", Lat: &lat, Lng: &lng}, 201, &dev)
	var rule iot.Rule
	s.must("POST", "/api/v1/alarm-rules", admin, iot.RuleInput{Name: "下穿通道积水", DeviceID: dev.ID, Metric: "water_level",
		Kind: iot.KindThreshold, Op: "gt", Threshold: 0.3, Hysteresis: 0.05, Severity: "critical", CaseCategory: "E0405"}, 201, &rule)

	o := paho.NewClientOptions().AddBroker("tcp://" + broker.TCPAddr()).SetClientID("t-" + dev.ID).
		SetUsername(dev.ID).SetPassword(dev.Secret).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	cl := paho.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("device connect: %v", tok.Error())
	}
	defer cl.Disconnect(100)
	pub := func(v float64) {
		t.Helper()
		tok := cl.Publish("yw/"+dev.ID+"/telemetry", 1, false, fmt.Sprintf(`{"values":{"water_level":%g}}`, v))
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	pub(0.45)

	var found cases.Case
	waitFor(t, 15*time.Second, "case opened from the alarm", func() bool {
		var page httpapi.Page[cases.Case]
		s.must("GET", "/api/v1/cases?source=sensor&limit=50", admin, nil, 200, &page)
		for _, c := range page.Items {
			if c.GridCode == "13999900100101" && c.CategoryCode == "E0405" {
				found = c
				return true
			}
		}
		return false
	})
	if found.Address != "河滨路下穿通道" || found.Lat != lat || found.Lng != lng || found.Severity != "critical" || found.ExternalID == "" {
		t.Fatalf("case opened as %+v", found)
	}
	// The alarm records its case.
	var alarms httpapi.Page[iot.Alarm]
	s.must("GET", "/api/v1/alarms?status=active&device_id="+url.QueryEscape(dev.ID), admin, nil, 200, &alarms)
	if len(alarms.Items) != 1 || alarms.Items[0].CaseID == nil || *alarms.Items[0].CaseID != found.ID || alarms.Items[0].ID != found.ExternalID {
		t.Fatalf("active alarms %+v, case %d (%s)", alarms.Items, found.ID, found.ExternalID)
	}
	// A department handler outside 水利局 cannot see it (scope holds for
	// sensor cases too).
	if code, _, _ := s.do("GET", fmt.Sprintf("/api/v1/cases/%d", found.ID), s.tokens["handler"], nil); code == 200 && found.DeptID != s.deptOf(t, "handler") {
		t.Errorf("handler of another department reads the sensor case")
	}

	pub(0.1)
	var d cases.Detail
	waitFor(t, 15*time.Second, "clear noted on the case", func() bool {
		s.must("GET", fmt.Sprintf("/api/v1/cases/%d", found.ID), admin, nil, 200, &d)
		for _, st := range d.Steps {
			if strings.Contains(st.Note, "解除") {
				return true
			}
		}
		return false
	})
	s.must("GET", "/api/v1/alarms?status=cleared&device_id="+url.QueryEscape(dev.ID), admin, nil, 200, &alarms)
	if len(alarms.Items) != 1 {
		t.Fatalf("cleared alarms: %+v", alarms.Items)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *testServer) deptOf(t *testing.T, user string) int64 {
	var me struct {
		DeptID int64 `json:"dept_id"`
	}
	s.must("GET", "/api/v1/me", s.tokens[user], nil, 200, &me)
	return me.DeptID
}
