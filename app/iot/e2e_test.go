package iot

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/yiwang/yiwang/app/live"
)

func pahoClient(t *testing.T, addr, user, pass string) (paho.Client, error) {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("paho-%s-%d", user, time.Now().UnixNano())).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c, nil
}

func publish(t *testing.T, c paho.Client, topic string, qos byte, payload string) error {
	t.Helper()
	tok := c.Publish(topic, qos, false, payload)
	if !tok.WaitTimeout(10 * time.Second) {
		return fmt.Errorf("publish timed out")
	}
	return tok.Error()
}

func mosquittoPub(t *testing.T, addr, user, pass, topic, msg string, extra ...string) ([]byte, error) {
	t.Helper()
	bin := needTool(t, "mosquitto_pub")
	host, port, _ := strings.Cut(addr, ":")
	args := append([]string{"-h", host, "-p", port, "-u", user, "-P", pass, "-i", "mp-" + user, "-t", topic, "-m", msg}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, bin, args...).CombinedOutput()
}

// TestAlarmEndToEnd: a water-level sensor registered through the API
// publishes over the threshold with mosquitto_pub → alarm (seen by an SSE
// subscriber of the live hub) → the case opener is called with the device,
// its location and grid, and the link is recorded; a Paho client publishes
// a reading under the clear condition → the alarm clears and the clear is
// noted on the case.
func TestAlarmEndToEnd(t *testing.T) {
	e := newEnv(t, envOpts{mqtt: true})
	dept := int64(7)
	dev := e.createDevice(DeviceInput{Name: "城东水位计1号", Type: "water_level", Model: "WL-200", Supplier: "某传感科技", Implementer: "某集成公司",
		OwnerDeptID: &dept, GridCode: "13999900100101", Address: "城东大道与河滨路口", Lat: f64(30.123456), Lng: f64(114.654321),
		ComponentID: "1399990101000123"})
	if dev.ID == "" || len(dev.Secret) < 20 {
		t.Fatalf("created device: %+v", dev)
	}
	var rule Rule
	e.mustCall("POST", "/api/v1/alarm-rules", RuleInput{Name: "水位超警戒", DeviceType: "water_level", Metric: "water_level", Kind: KindThreshold,
		Op: "gt", Threshold: 3.0, Hysteresis: 0.2, Severity: "major", CaseCategory: "0501"}, &rule, http.StatusCreated)

	events := e.sse("alarm.,device.")
	time.Sleep(100 * time.Millisecond)

	out, err := mosquittoPub(t, e.addr(), dev.ID, dev.Secret, "yw/"+dev.ID+"/telemetry", `{"ts":`+fmt.Sprint(time.Now().UnixMilli())+`,"values":{"water_level":3.42,"battery":3.6}}`, "-q", "1")
	if err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
	var raised live.Message
	deadline := time.After(10 * time.Second)
	for raised.Type == "" {
		select {
		case msg := <-events:
			if msg.Type == "alarm.raised" {
				raised = msg
			}
		case <-deadline:
			t.Fatal("no alarm.raised on the live stream")
		}
	}
	if !strings.Contains(string(raised.Data), dev.ID) {
		t.Fatalf("alarm event without the device: %s", raised.Data)
	}
	act := e.alarms("?status=active")
	if len(act) != 1 || act[0].DeviceID != dev.ID || act[0].Severity != "major" || act[0].GridCode != "13999900100101" {
		t.Fatalf("active alarms: %+v", act)
	}
	eventually(t, 10*time.Second, "case opened and linked", func() bool {
		a := e.alarms("?status=active")
		return len(a) == 1 && a[0].CaseID != nil
	})
	opened, _ := e.cases.snapshot()
	if len(opened) != 1 {
		t.Fatalf("cases opened: %+v", opened)
	}
	c := opened[0]
	if c.DeviceID != dev.ID || c.GridCode != "13999900100101" || c.Address != "城东大道与河滨路口" || c.Lat != 30.123456 || c.Lng != 114.654321 ||
		c.ComponentID != "1399990101000123" || c.CategoryCode != "0501" || c.Severity != "major" || c.AlarmID != act[0].ID {
		t.Fatalf("case opened with %+v", c)
	}

	// A reading inside the hysteresis band does not clear; one below does.
	cl, err := pahoClient(t, e.addr(), dev.ID, dev.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(t, cl, "yw/"+dev.ID+"/telemetry", 1, `{"water_level":2.9}`); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if a := e.alarms("?status=active"); len(a) != 1 {
		t.Fatalf("alarm cleared inside the hysteresis band: %+v", a)
	}
	if err := publish(t, cl, "yw/"+dev.ID+"/telemetry", 1, `{"water_level":2.5}`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "alarm cleared", func() bool { return len(e.alarms("?status=cleared")) == 1 })
	eventually(t, 10*time.Second, "clear noted on the case", func() bool {
		_, cleared := e.cases.snapshot()
		return len(cleared) == 1
	})
	_, cleared := e.cases.snapshot()
	if cleared[0].AlarmID != act[0].ID || cleared[0].CaseID != 1001 || !strings.Contains(cleared[0].Note, "2.5") {
		t.Fatalf("clear noted as %+v", cleared[0])
	}
	eventually(t, 5*time.Second, "case_noted recorded", func() bool {
		a := e.alarms("?status=cleared")[0]
		return a.CaseNoted && a.ClearedAt != nil
	})
	for {
		select {
		case msg := <-events:
			if msg.Type == "alarm.cleared" {
				goto clearedSeen
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no alarm.cleared on the live stream")
		}
	}
clearedSeen:
	// Telemetry landed: latest values and the raw series.
	var d Device
	e.mustCall("GET", "/api/v1/devices/"+dev.ID, nil, &d, 200)
	if d.Latest["water_level"].Value != 2.5 || d.Latest["battery"].Value != 3.6 || d.Status != StatusOnline {
		t.Fatalf("device: %+v", d)
	}
	var s Series
	e.mustCall("GET", "/api/v1/devices/"+dev.ID+"/telemetry?metric=water_level&res=raw", nil, &s, 200)
	if len(s.Points) != 3 {
		t.Fatalf("raw series: %+v", s)
	}
	e.mustCall("GET", "/api/v1/devices/"+dev.ID+"/telemetry?metric=water_level&res=1h", nil, &s, 200)
	if len(s.Points) < 1 || s.Points[0].N < 1 {
		t.Fatalf("1h series: %+v", s)
	}
}
