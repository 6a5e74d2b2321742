package mqtt

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"
)

func connectV5(t *testing.T, addr, user, pass string, onPub func(*paho.Publish)) (*paho.Client, *paho.Connack, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn}
	if onPub != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { onPub(pr.Packet); return true, nil },
		}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{
		ClientID: user + "-v5", KeepAlive: 30, CleanStart: true,
		Username: user, UsernameFlag: true, Password: []byte(pass), PasswordFlag: true,
	})
	if err == nil {
		t.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	}
	return c, ca, err
}

func TestPahoV5ReasonCodes(t *testing.T) {
	b, sink := startBroker(t, func(o *Options) { o.MaxPayload = 4096 })
	_, ca, err := connectV5(t, b.TCPAddr(), "wl-001", "nope", nil)
	if err == nil || ca == nil || ca.ReasonCode != 0x86 {
		t.Fatalf("bad password: connack %+v err %v", ca, err)
	}
	c, _, err := connectV5(t, b.TCPAddr(), "wl-001", "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cases := []struct {
		name, topic string
		qos         byte
		payload     []byte
		want        byte
	}{
		{"ok", "yw/wl-001/telemetry", 1, []byte(`{"water_level":2.31}`), 0x00},
		{"other device", "yw/aq-002/telemetry", 1, []byte(`{"pm25":3}`), 0x87},
		{"other device qos2", "yw/aq-002/telemetry", 2, []byte(`{"pm25":3}`), 0x87},
		{"command topic", "yw/wl-001/cmd/1", 1, []byte(`{}`), 0x87},
		{"unknown topic", "foo/bar", 1, []byte(`x`), 0x87},
		{"malformed", "yw/wl-001/telemetry", 1, []byte(`{"water_level":}`), 0x99},
		{"oversize", "yw/wl-001/telemetry", 1, []byte(strings.Repeat("x", 5000)), 0x95},
		{"ok qos2", "yw/wl-001/telemetry", 2, []byte(`{"water_level":2.32}`), 0x00},
	}
	for _, tc := range cases {
		pr, err := c.Publish(ctx, &paho.Publish{Topic: tc.topic, QoS: tc.qos, Payload: tc.payload})
		if pr == nil {
			t.Fatalf("%s: no response: %v", tc.name, err)
		}
		if pr.ReasonCode != tc.want {
			t.Fatalf("%s: reason 0x%02x, want 0x%02x (%v)", tc.name, pr.ReasonCode, tc.want, err)
		}
	}
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "yw/wl-001/cmd/+", QoS: 1}, {Topic: "yw/aq-002/#", QoS: 1}, {Topic: "#", QoS: 0}, {Topic: "$SYS/#", QoS: 0},
	}})
	if sa == nil {
		t.Fatal(err)
	}
	if want := []byte{1, 0x87, 0x87, 0x87}; string(sa.Reasons) != string(want) {
		t.Fatalf("suback reasons %x, want %x", sa.Reasons, want)
	}
	rs := sink.waitReadings(t, 2)
	if len(rs) != 2 {
		t.Fatalf("readings %+v", rs)
	}
	cnt := b.Counters("wl-001")
	if cnt.Malformed != 1 || cnt.Oversize != 1 || cnt.Denied < 4 {
		t.Fatalf("counters %+v", cnt)
	}
}

func TestPahoV5Downlink(t *testing.T) {
	var mu sync.Mutex
	var states []CommandState
	var reply []byte
	done := make(chan struct{})
	b, _ := startBroker(t, func(o *Options) {
		o.OnCommand = func(st CommandStatus) {
			mu.Lock()
			defer mu.Unlock()
			states = append(states, st.State)
			if st.State == CommandReplied {
				reply = st.Reply
				close(done)
			}
		}
	})
	if err := b.Send("wl-001", "c1", []byte(`{"op":"reboot"}`)); !errors.Is(err, ErrNotSubscribed) {
		t.Fatalf("send to offline device: %v", err)
	}
	var dev *paho.Client
	dev, _, err := connectV5(t, b.TCPAddr(), "wl-001", "s1", func(p *paho.Publish) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = dev.Publish(ctx, &paho.Publish{Topic: p.Topic + "/reply", QoS: 1, Payload: []byte(`{"ok":true,"got":` + string(p.Payload) + `}`)})
		}()
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := dev.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "yw/wl-001/cmd/+", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Send("wl-001", "c1", []byte(`{"op":"reboot"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("no reply; states %v", states)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 3 || states[0] != CommandSent || states[1] != CommandDelivered || states[2] != CommandReplied {
		t.Fatalf("states %v", states)
	}
	if string(reply) != `{"ok":true,"got":{"op":"reboot"}}` {
		t.Fatalf("reply %s", reply)
	}
}

func v3opts(broker, user, pass, id string) *pahov3.ClientOptions {
	return pahov3.NewClientOptions().AddBroker(broker).SetClientID(id).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).
		SetConnectTimeout(5 * time.Second).SetProtocolVersion(4)
}

func connectV3(t *testing.T, o *pahov3.ClientOptions) pahov3.Client {
	t.Helper()
	c := pahov3.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func wait(t *testing.T, tok pahov3.Token) {
	t.Helper()
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("token: %v", tok.Error())
	}
}

func TestPahoV3QoSRetainWill(t *testing.T) {
	var evMu sync.Mutex
	var events []ConnEvent
	b, _ := startBroker(t, func(o *Options) {
		o.OnConnection = func(e ConnEvent) { evMu.Lock(); events = append(events, e); evMu.Unlock() }
	})
	url := "tcp://" + b.TCPAddr()
	got := make(chan string, 16)
	gw := connectV3(t, v3opts(url, "gw-100", "sg", "gw"))
	wait(t, gw.Subscribe("yw/mh-101/#", 2, func(_ pahov3.Client, m pahov3.Message) {
		got <- m.Topic() + " " + string(m.Payload())
	}))

	// the child device: will on its own event topic, connection cut abruptly
	var raw net.Conn
	o := v3opts(url, "mh-101", "sm", "mh").SetWill("yw/mh-101/event", `{"offline":true}`, 1, false)
	o.SetCustomOpenConnectionFn(func(u *urlT, _ pahov3.ClientOptions) (net.Conn, error) {
		c, err := net.Dial("tcp", u.Host)
		raw = c
		return c, err
	})
	dev := pahov3.NewClient(o)
	wait(t, dev.Connect())
	for q := byte(0); q <= 2; q++ {
		wait(t, dev.Publish("yw/mh-101/event", q, false, []byte{'0' + q}))
	}
	wait(t, dev.Publish("yw/mh-101/attributes", 1, true, []byte(`{"tilt":0.5}`)))
	for _, want := range []string{"yw/mh-101/event 0", "yw/mh-101/event 1", "yw/mh-101/event 2", `yw/mh-101/attributes {"tilt":0.5}`} {
		select {
		case g := <-got:
			if g != want {
				t.Fatalf("got %q want %q", g, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("timeout waiting for %q", want)
		}
	}
	_ = raw.Close()
	select {
	case g := <-got:
		if g != `yw/mh-101/event {"offline":true}` {
			t.Fatalf("will: got %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("will not delivered")
	}
	// retained: a new subscriber gets the attributes
	late := make(chan string, 1)
	c2 := connectV3(t, v3opts(url, "mh-101", "sm", "mh-2"))
	wait(t, c2.Subscribe("yw/mh-101/attributes", 1, func(_ pahov3.Client, m pahov3.Message) { late <- string(m.Payload()) }))
	select {
	case g := <-late:
		if g != `{"tilt":0.5}` {
			t.Fatalf("retained %q", g)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("retained not delivered")
	}
	time.Sleep(50 * time.Millisecond)
	evMu.Lock()
	defer evMu.Unlock()
	var conn, disc int
	for _, e := range events {
		if e.Device == "mh-101" && e.Connected {
			conn++
		}
		if e.Device == "mh-101" && !e.Connected && e.Reason != "" {
			disc++
		}
	}
	if conn != 2 || disc != 1 {
		t.Fatalf("connection events %+v", events)
	}
}

func TestPahoV3ACLDisconnects(t *testing.T) {
	b, _ := startBroker(t, nil)
	lost := make(chan error, 1)
	o := v3opts("tcp://"+b.TCPAddr(), "wl-001", "s1", "wl").
		SetConnectionLostHandler(func(_ pahov3.Client, err error) { lost <- err })
	c := connectV3(t, o)
	tok := c.Publish("yw/aq-002/telemetry", 1, false, `{"pm25":1}`)
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Fatal("v3 client publishing to a foreign topic was not disconnected")
	}
	if !tok.WaitTimeout(5 * time.Second) {
		t.Fatal("publish token still pending after disconnect")
	}
	// a will aimed at another device's topic is discarded
	o = v3opts("tcp://"+b.TCPAddr(), "wl-001", "s1", "wl2").SetWill("yw/aq-002/event", "spoof", 0, false)
	connectV3(t, o)
	if b.Counters("wl-001").Denied < 2 {
		t.Fatalf("denied %+v", b.Counters("wl-001"))
	}
	// wrong credentials
	bad := pahov3.NewClient(v3opts("tcp://"+b.TCPAddr(), "wl-001", "x", "bad"))
	if tk := bad.Connect(); tk.WaitTimeout(5*time.Second) && tk.Error() == nil {
		t.Fatal("wrong password accepted")
	}
}

func TestWebSocketConsoleSession(t *testing.T) {
	b, _ := startBroker(t, nil)
	hs := httptest.NewServer(b.WebSocketHandler())
	defer hs.Close()
	for _, wsURL := range []string{"ws://" + b.WSAddr() + "/mqtt", "ws" + strings.TrimPrefix(hs.URL, "http") + "/mqtt"} {
		got := make(chan string, 4)
		con := connectV3(t, v3opts(wsURL, SessionUsername, "tok-scope", "console"))
		wait(t, con.Subscribe("yw/wl-001/telemetry", 0, func(_ pahov3.Client, m pahov3.Message) { got <- string(m.Payload()) }))
		tok := con.Subscribe("yw/aq-002/telemetry", 0, nil)
		wait(t, tok)
		if st := tok.(*pahov3.SubscribeToken).Result()["yw/aq-002/telemetry"]; st != 0x80 {
			t.Fatalf("scoped console subscribed to a foreign device: %x", st)
		}
		dev := connectV3(t, v3opts("tcp://"+b.TCPAddr(), "wl-001", "s1", "wl"))
		wait(t, dev.Publish("yw/wl-001/telemetry", 1, false, `{"water_level":3.2}`))
		select {
		case g := <-got:
			if g != `{"water_level":3.2}` {
				t.Fatalf("got %q", g)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("console did not receive telemetry")
		}
		dev.Disconnect(50)
		con.Disconnect(50)
	}
	// a device secret is not a session token, and sessions are WebSocket only
	bad := pahov3.NewClient(v3opts("ws://"+b.WSAddr()+"/mqtt", SessionUsername, "s1", "x"))
	if tk := bad.Connect(); tk.WaitTimeout(5*time.Second) && tk.Error() == nil {
		t.Fatal("bad session token accepted")
	}
	bad = pahov3.NewClient(v3opts("tcp://"+b.TCPAddr(), SessionUsername, "tok-all", "x"))
	if tk := bad.Connect(); tk.WaitTimeout(5*time.Second) && tk.Error() == nil {
		t.Fatal("session accepted over plain tcp")
	}
}

func TestTLSGeneratedCertPersisted(t *testing.T) {
	dir := t.TempDir()
	b, sink := startBroker(t, func(o *Options) { o.CertDir = dir })
	pem, err := os.ReadFile(filepath.Join(dir, GeneratedCertFile))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	o := v3opts("tls://"+b.TLSAddr(), "wl-001", "s1", "wl").SetTLSConfig(&tls.Config{RootCAs: pool, ServerName: "localhost"})
	c := connectV3(t, o)
	wait(t, c.Publish("yw/wl-001/telemetry", 1, false, `{"water_level":0.9}`))
	sink.waitReadings(t, 1)
	c.Disconnect(50)
	_ = b.Close()
	// a second start reuses the certificate
	startBroker(t, func(o *Options) { o.CertDir = dir })
	pem2, _ := os.ReadFile(filepath.Join(dir, GeneratedCertFile))
	if string(pem) != string(pem2) {
		t.Fatal("certificate regenerated on restart")
	}
}

type urlT = url.URL
