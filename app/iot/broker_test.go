package iot

import (
	"context"
	"crypto/rand"
	"net/http"
	"testing"
	"time"

	"github.com/yiwang/yiwang/embedded-mqtt/loadgen"
)

// TestCredentialsAndACL: wrong secrets are refused (mosquitto_pub and
// Paho), a rotated secret replaces the old one, a retired device cannot
// connect, and a device cannot publish into another device's topic.
func TestCredentialsAndACL(t *testing.T) {
	e := newEnv(t, envOpts{mqtt: true})
	a := e.createDevice(DeviceInput{Name: "A", Type: "water_level"})
	b := e.createDevice(DeviceInput{Name: "B", Type: "water_level"})

	if out, err := mosquittoPub(t, e.addr(), a.ID, "wrong-secret", "yw/"+a.ID+"/telemetry", `{"water_level":1}`, "-q", "1"); err == nil {
		t.Fatalf("mosquitto_pub with a wrong secret succeeded: %s", out)
	}
	if _, err := pahoClient(t, e.addr(), a.ID, b.Secret); err == nil {
		t.Fatal("paho connected with another device's secret")
	}
	if _, err := pahoClient(t, e.addr(), "no-such-device", "x"); err == nil {
		t.Fatal("paho connected as an unknown device")
	}
	// The right secret works, twice (the second time from the verified
	// credentials cache).
	for i := 0; i < 2; i++ {
		if out, err := mosquittoPub(t, e.addr(), a.ID, a.Secret, "yw/"+a.ID+"/telemetry", `{"water_level":1.5}`, "-q", "1"); err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, out)
		}
	}
	// A publishes into B's topic: refused (v3 QoS 1: disconnected), nothing
	// stored for B, and the denial is counted on A.
	cl, err := pahoClient(t, e.addr(), a.ID, a.Secret)
	if err != nil {
		t.Fatal(err)
	}
	_ = publish(t, cl, "yw/"+b.ID+"/telemetry", 1, `{"water_level":9.9}`)
	out, err := mosquittoPub(t, e.addr(), a.ID, a.Secret, "yw/"+b.ID+"/telemetry", `{"water_level":9.9}`, "-q", "0")
	_ = out
	_ = err
	time.Sleep(300 * time.Millisecond)
	var db Device
	e.mustCall("GET", "/api/v1/devices/"+b.ID, nil, &db, 200)
	if len(db.Latest) != 0 {
		t.Fatalf("device B got readings published by A: %+v", db.Latest)
	}
	var da Device
	e.mustCall("GET", "/api/v1/devices/"+a.ID, nil, &da, 200)
	if da.Counters == nil || da.Counters.Denied < 1 {
		t.Fatalf("denied publish not counted on A: %+v", da.Counters)
	}

	// Rotation: the old secret stops working at once, the new one works.
	var rot DeviceCreated
	e.mustCall("POST", "/api/v1/devices/"+a.ID+"/secret", nil, &rot, 200)
	if rot.Secret == "" || rot.Secret == a.Secret {
		t.Fatalf("rotated secret: %q", rot.Secret)
	}
	if _, err := pahoClient(t, e.addr(), a.ID, a.Secret); err == nil {
		t.Fatal("old secret still accepted after rotation")
	}
	if _, err := pahoClient(t, e.addr(), a.ID, rot.Secret); err != nil {
		t.Fatalf("new secret refused: %v", err)
	}
	// Retired devices are refused.
	e.mustCall("DELETE", "/api/v1/devices/"+b.ID, nil, nil, http.StatusNoContent)
	if _, err := pahoClient(t, e.addr(), b.ID, b.Secret); err == nil {
		t.Fatal("retired device connected")
	}
}

// TestMalformedAndOversize: a malformed payload is counted on the device
// and visible in the API while the good readings of the same batch are
// stored; 1 MB of garbage is refused and counted.
func TestMalformedAndOversize(t *testing.T) {
	e := newEnv(t, envOpts{mqtt: true})
	d := e.createDevice(DeviceInput{Name: "AQ", Type: "air_quality"})
	other := e.createDevice(DeviceInput{Name: "AQ2", Type: "air_quality"})
	if out, err := mosquittoPub(t, e.addr(), d.ID, d.Secret, "yw/"+d.ID+"/telemetry", `{"pm25": "lots"`, "-q", "1"); err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
	cl, err := pahoClient(t, e.addr(), d.ID, d.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(t, cl, "yw/"+d.ID+"/telemetry", 1, `{"values":{"pm25":"n/a","pm10":88}}`); err != nil {
		t.Fatal(err)
	}
	c2, err := pahoClient(t, e.addr(), other.ID, other.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := publish(t, c2, "yw/"+other.ID+"/telemetry", 1, `{"pm25":35}`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "malformed counted and good values stored", func() bool {
		var x Device
		e.call("GET", "/api/v1/devices/"+d.ID, nil, &x)
		return x.Counters != nil && x.Counters.Malformed == 2 && x.Latest["pm10"].Value == 88
	})
	eventually(t, 5*time.Second, "other device's reading stored, nothing counted on it", func() bool {
		var o Device
		e.call("GET", "/api/v1/devices/"+other.ID, nil, &o)
		return o.Latest["pm25"].Value == 35 && o.Counters != nil && o.Counters.Malformed == 0
	})

	// 1 MB of garbage over a raw connection: refused, counted, broker fine.
	conn, err := loadgen.Dial(context.Background(), e.addr(), "garbage", d.ID, d.Secret, 30)
	if err != nil {
		t.Fatal(err)
	}
	junk := make([]byte, 1<<20)
	rand.Read(junk)
	_ = conn.Publish("yw/"+d.ID+"/telemetry", junk, 0, 0)
	conn.Close()
	eventually(t, 5*time.Second, "oversize counted", func() bool {
		var x Device
		e.call("GET", "/api/v1/devices/"+d.ID, nil, &x)
		return x.Counters != nil && x.Counters.Oversize >= 1
	})
	if err := publish(t, c2, "yw/"+other.ID+"/telemetry", 1, `{"pm25":36}`); err != nil {
		t.Fatalf("broker unusable after garbage: %v", err)
	}
}
