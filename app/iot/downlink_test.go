package iot

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/yiwang/yiwang/app/httpapi"
)

// TestDownlinkCommand: a command from the API reaches the device on
// yw/{id}/cmd/{cmd}; the PUBACK and the device's reply are recorded.
func TestDownlinkCommand(t *testing.T) {
	e := newEnv(t, envOpts{mqtt: true})
	d := e.createDevice(DeviceInput{Name: "MH", Type: "manhole"})
	cl, err := pahoClient(t, e.addr(), d.ID, d.Secret)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan paho.Message, 1)
	tok := cl.Subscribe("yw/"+d.ID+"/cmd/+", 1, func(_ paho.Client, m paho.Message) { got <- m })
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	var c DownlinkCommand
	e.mustCall("POST", "/api/v1/devices/"+d.ID+"/commands", CommandInput{Name: "reboot", Params: json.RawMessage(`{"delay":5}`)}, &c, http.StatusCreated)
	var msg paho.Message
	select {
	case msg = <-got:
	case <-time.After(5 * time.Second):
		t.Fatal("command not delivered")
	}
	if msg.Topic() != "yw/"+d.ID+"/cmd/"+c.ID || !strings.Contains(string(msg.Payload()), `"delay":5`) {
		t.Fatalf("delivered %s %s", msg.Topic(), msg.Payload())
	}
	if err := publish(t, cl, msg.Topic()+"/reply", 1, `{"ok":true}`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "reply recorded", func() bool {
		var page httpapi.Page[DownlinkCommand]
		e.call("GET", "/api/v1/devices/"+d.ID+"/commands", nil, &page)
		return len(page.Items) == 1 && page.Items[0].State == "replied" && string(page.Items[0].Reply) == `{"ok":true}`
	})
	// A device that is not connected: the command is recorded as failed.
	other := e.createDevice(DeviceInput{Name: "MH2", Type: "manhole"})
	e.mustCall("POST", "/api/v1/devices/"+other.ID+"/commands", CommandInput{Name: "reboot"}, &c, http.StatusCreated)
	if c.State != "failed" || c.Error == "" {
		t.Fatalf("command to an absent device: %+v", c)
	}
}

// TestGatewayPublishesForChildren: a gateway publishes its children's
// readings on their topics; a device that is not its child is refused.
func TestGatewayPublishesForChildren(t *testing.T) {
	e := newEnv(t, envOpts{mqtt: true})
	gw := e.createDevice(DeviceInput{Name: "GW", Type: "gateway", IsGateway: true})
	child := e.createDevice(DeviceInput{Name: "MH-1", Type: "manhole", GatewayID: gw.ID})
	stranger := e.createDevice(DeviceInput{Name: "MH-2", Type: "manhole"})
	var bad DeviceCreated
	if code := e.call("POST", "/api/v1/devices", DeviceInput{Name: "X", Type: "manhole", GatewayID: stranger.ID}, &bad); code != http.StatusBadRequest {
		t.Fatalf("child of a non-gateway: %d", code)
	}
	cl, err := pahoClient(t, e.addr(), gw.ID, gw.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(t, cl, "yw/"+child.ID+"/telemetry", 1, `{"tilt":1.5,"open":0}`); err != nil {
		t.Fatal(err)
	}
	_ = publish(t, cl, "yw/"+stranger.ID+"/telemetry", 0, `{"tilt":80}`)
	eventually(t, 5*time.Second, "child reading stored", func() bool {
		var d Device
		e.call("GET", "/api/v1/devices/"+child.ID, nil, &d)
		return d.Latest["tilt"].Value == 1.5 && d.Status == StatusOnline
	})
	var s Device
	e.mustCall("GET", "/api/v1/devices/"+stranger.ID, nil, &s, 200)
	if len(s.Latest) != 0 {
		t.Fatalf("gateway published for a device that is not its child: %+v", s.Latest)
	}
}

// TestConsoleSessionOverWebSocket: a console connects over MQTT/WebSocket
// with its session token (validated like the HTTP API) and may subscribe
// only to devices in its data scope; a bad token is refused.
func TestConsoleSessionOverWebSocket(t *testing.T) {
	e := newEnv(t, envOpts{mqtt: true})
	dept := int64(3)
	mine := e.createDevice(DeviceInput{Name: "Mine", Type: "water_level", OwnerDeptID: &dept})
	theirs := e.createDevice(DeviceInput{Name: "Theirs", Type: "water_level"})
	e.tokens["handler-token"] = (&httpapi.Principal{UserID: 9, Username: "handler", Roles: []string{httpapi.RoleHandler},
		Permissions: httpapi.PermissionsOf(httpapi.RoleHandler), DeptID: 3, Scope: httpapi.Scope{Kind: httpapi.ScopeDeptTree, DeptIDs: []int64{3}}}).Freeze()
	wsURL := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/mqtt"
	connect := func(token string) (paho.Client, error) {
		o := paho.NewClientOptions().AddBroker(wsURL).SetClientID(fmt.Sprint("console-", time.Now().UnixNano())).
			SetUsername("$session").SetPassword(token).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
		c := paho.NewClient(o)
		tok := c.Connect()
		if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			return nil, fmt.Errorf("connect: %v", tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		return c, nil
	}
	if _, err := connect("not-a-token"); err == nil {
		t.Fatal("bad session token accepted")
	}
	c, err := connect("handler-token")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	sub := func(topic string) byte {
		tok := c.Subscribe(topic, 0, func(_ paho.Client, m paho.Message) { got <- m.Topic() })
		tok.WaitTimeout(5 * time.Second)
		return tok.(*paho.SubscribeToken).Result()[topic]
	}
	if code := sub("yw/" + mine.ID + "/telemetry"); code >= 0x80 {
		t.Fatalf("subscribe to an own device refused: %#x", code)
	}
	if code := sub("yw/" + theirs.ID + "/telemetry"); code < 0x80 {
		t.Fatalf("subscribe to a device out of scope granted: %#x", code)
	}
	dc, err := pahoClient(t, e.addr(), mine.ID, mine.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(t, dc, "yw/"+mine.ID+"/telemetry", 1, `{"water_level":1.1}`); err != nil {
		t.Fatal(err)
	}
	select {
	case topic := <-got:
		if topic != "yw/"+mine.ID+"/telemetry" {
			t.Fatalf("console got %s", topic)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("console did not receive the device's telemetry")
	}
}
