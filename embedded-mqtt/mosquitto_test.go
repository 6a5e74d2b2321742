package mqtt

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mosq runs a mosquitto client tool against the broker's TCP listener.
func mosq(t *testing.T, b *Broker, tool string, args ...string) (string, error) {
	t.Helper()
	path := needTool(t, tool)
	host, port := hostPort(b.TCPAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, append([]string{"-h", host, "-p", port}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func TestMosquittoPubTelemetry(t *testing.T) {
	b, sink := startBroker(t, nil)
	for _, v := range []string{"mqttv311", "mqttv5"} {
		for _, q := range []string{"0", "1", "2"} {
			out, err := mosq(t, b, "mosquitto_pub", "-V", v, "-q", q, "-u", "wl-001", "-P", "s1",
				"-t", "yw/wl-001/telemetry", "-m", `{"ts":1732252800,"values":{"water_level":2.31}}`)
			if err != nil {
				t.Fatalf("%s q%s: %v: %s", v, q, err, out)
			}
		}
	}
	rs := sink.waitReadings(t, 6)
	for _, r := range rs {
		if r.Device != "wl-001" || r.Metric != "water_level" || r.Value != 2.31 || r.TS.Unix() != 1732252800 {
			t.Fatalf("bad reading %+v", r)
		}
	}
}

func TestMosquittoSubRetainedAndQoS(t *testing.T) {
	b, _ := startBroker(t, nil)
	// retained attributes published first, read later by a fresh subscriber
	if out, err := mosq(t, b, "mosquitto_pub", "-q", "1", "-r", "-u", "wl-001", "-P", "s1",
		"-t", "yw/wl-001/attributes", "-m", `{"fw":"1.2.0"}`); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, q := range []string{"0", "1", "2"} {
		out, err := mosq(t, b, "mosquitto_sub", "-V", "mqttv5", "-q", q, "-u", "wl-001", "-P", "s1",
			"-t", "yw/wl-001/#", "-C", "1", "-W", "5", "-v")
		if err != nil {
			t.Fatalf("sub q%s: %v: %s", q, err, out)
		}
		if !strings.Contains(out, `yw/wl-001/attributes {"fw":"1.2.0"}`) {
			t.Fatalf("retained message not received: %q", out)
		}
	}
}

func TestMosquittoSubLive(t *testing.T) {
	b, _ := startBroker(t, nil)
	sub := exec.Command(needTool(t, "mosquitto_sub"), "-h", "127.0.0.1", "-p", func() string { _, p := hostPort(b.TCPAddr()); return p }(),
		"-q", "2", "-u", "gw-100", "-P", "sg", "-t", "yw/mh-101/event", "-C", "3", "-W", "10")
	var out bytes.Buffer
	sub.Stdout, sub.Stderr = &out, &out
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, b, "yw/mh-101/event")
	for i, q := range []string{"0", "1", "2"} {
		if o, err := mosq(t, b, "mosquitto_pub", "-q", q, "-u", "mh-101", "-P", "sm", "-t", "yw/mh-101/event",
			"-m", "open-"+string(rune('a'+i))); err != nil {
			t.Fatalf("%v: %s", err, o)
		}
	}
	if err := sub.Wait(); err != nil {
		t.Fatalf("sub: %v: %s", err, out.String())
	}
	if got := out.String(); got != "open-a\nopen-b\nopen-c\n" {
		t.Fatalf("got %q", got)
	}
}

func waitSubscribed(t testing.TB, b *Broker, topic string) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if len(b.srv.Topics.Subscribers(topic).Subscriptions) > 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no subscriber for %s", topic)
}

func TestMosquittoAuthRefused(t *testing.T) {
	b, _ := startBroker(t, nil)
	for _, v := range []string{"mqttv311", "mqttv5"} {
		out, err := mosq(t, b, "mosquitto_pub", "-V", v, "-u", "wl-001", "-P", "wrong", "-t", "yw/wl-001/telemetry", "-m", "{}")
		if err == nil {
			t.Fatalf("%s: wrong password accepted: %s", v, out)
		}
		if !strings.Contains(strings.ToLower(out), "not authori") && !strings.Contains(strings.ToLower(out), "bad user name or password") {
			t.Fatalf("%s: unexpected output %q", v, out)
		}
	}
	if b.Stats().AuthFailures != 2 {
		t.Fatalf("auth failures = %d", b.Stats().AuthFailures)
	}
}

func TestMosquittoACLRefused(t *testing.T) {
	b, sink := startBroker(t, nil)
	// v5 QoS 1: PUBACK 0x87, the tool reports it and does not hang
	out, _ := mosq(t, b, "mosquitto_pub", "-V", "mqttv5", "-q", "1", "-u", "wl-001", "-P", "s1",
		"-t", "yw/aq-002/telemetry", "-m", `{"pm25":10}`)
	if !strings.Contains(strings.ToLower(out), "not authori") {
		t.Fatalf("v5: expected not authorized, got %q", out)
	}
	// v3 QoS 1: disconnected, the tool exits (with an error) instead of waiting
	start := time.Now()
	out, err := mosq(t, b, "mosquitto_pub", "-V", "mqttv311", "-q", "1", "-u", "wl-001", "-P", "s1",
		"-t", "yw/aq-002/telemetry", "-m", `{"pm25":10}`)
	if err == nil && time.Since(start) > 10*time.Second {
		t.Fatalf("v3: publish hung: %q", out)
	}
	// subscribing to another device's topics is refused
	out, _ = mosq(t, b, "mosquitto_sub", "-V", "mqttv5", "-u", "wl-001", "-P", "s1", "-t", "yw/aq-002/#", "-C", "1", "-W", "3")
	if !strings.Contains(out, "denied") {
		t.Fatalf("subscribe to foreign topic: %q", out)
	}
	if c := b.Counters("wl-001"); c.Denied < 3 {
		t.Fatalf("denied counter = %+v", c)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(sink.snapshot()); n != 0 {
		t.Fatalf("refused publishes reached the sink: %d readings", n)
	}
}

func TestMosquittoOversizeRefused(t *testing.T) {
	b, sink := startBroker(t, nil)
	garbage := make([]byte, 1<<20)
	_, _ = rand.Read(garbage)
	f := filepath.Join(t.TempDir(), "garbage.bin")
	if err := os.WriteFile(f, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"mqttv311", "mqttv5"} {
		start := time.Now()
		out, _ := mosq(t, b, "mosquitto_pub", "-V", v, "-q", "1", "-u", "wl-001", "-P", "s1",
			"-t", "yw/wl-001/telemetry", "-f", f)
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: oversize publish hung: %q", v, out)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for b.Counters("wl-001").Oversize < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := b.Counters("wl-001"); c.Oversize != 2 {
		t.Fatalf("oversize counter = %+v", c)
	}
	if s := b.Stats(); s.Oversize != 2 {
		t.Fatalf("stats oversize = %d", s.Oversize)
	}
	// the broker is still fine
	if out, err := mosq(t, b, "mosquitto_pub", "-q", "1", "-u", "wl-001", "-P", "s1", "-t", "yw/wl-001/telemetry", "-m", `{"water_level":1}`); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	sink.waitReadings(t, 1)
}

func TestMosquittoMalformedKeepsRest(t *testing.T) {
	b, sink := startBroker(t, func(o *Options) { o.BatchDelay = 200 * time.Millisecond })
	// one connection, five messages in one batch window, two malformed
	lines := strings.Join([]string{
		`{"water_level":1.5}`,
		`{"water_level":`,
		`{"ts":"2024-11-22T08:00:00+08:00","values":{"water_level":1.6,"battery":"3.61"}}`,
		`not json at all`,
		`{"water_level":1.7,"status":"ok"}`,
	}, "\n") + "\n"
	path := needTool(t, "mosquitto_pub")
	host, port := hostPort(b.TCPAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "-h", host, "-p", port, "-q", "1", "-u", "wl-001", "-P", "s1", "-t", "yw/wl-001/telemetry", "-l")
	cmd.Stdin = strings.NewReader(lines)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	rs := sink.waitReadings(t, 4)
	if len(rs) != 4 || rs[0].Value != 1.5 || rs[3].Value != 1.7 {
		t.Fatalf("readings %+v", rs)
	}
	c := b.Counters("wl-001")
	if c.Malformed != 3 { // two unusable payloads + one with an unusable "status" value
		t.Fatalf("malformed = %+v", c)
	}
}
