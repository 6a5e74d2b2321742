package iot

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
	"github.com/yiwang/yiwang/embedded-mqtt/loadgen"
)

// Benchmarks with the real broker and the real store: loadgen clients
// publish over MQTT, the broker batches, telemetry.batch commands go through
// raft into SQLite, and the figure is rows counted in iot_reading.
//
//	go test -run '^$' -bench 'Telemetry|AlarmLatency' -benchtime 1x ./app/iot/

func benchDevices(b testing.TB, e *env, n int, typ string) []*DeviceCreated {
	devs := make([]*DeviceCreated, n)
	for i := range devs {
		devs[i] = e.createDevice(DeviceInput{ID: fmt.Sprintf("bench-%s-%04d", typ, i), Name: fmt.Sprintf("压测设备%d", i), Type: typ,
			GridCode: "13999900100101"})
	}
	return devs
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkTelemetryPersisted measures readings persisted per second
// through broker + raft + SQLite. YW_BENCH_DEVICES (default 200) clients
// publish QoS 1 messages of YW_BENCH_VALUES (default 10) readings each.
func BenchmarkTelemetryPersisted(b *testing.B) {
	nDev := envInt("YW_BENCH_DEVICES", 200)
	nVal := envInt("YW_BENCH_VALUES", 10)
	msgs := envInt("YW_BENCH_MESSAGES", 20000)
	e := newEnv(b, envOpts{mqtt: true, broker: func(o *mqtt.Options) {
		o.BatchSize = envInt("YW_BENCH_BATCH", o.BatchSize)
		o.SinkWorkers = envInt("YW_BENCH_WORKERS", o.SinkWorkers)
	}})
	devs := benchDevices(b, e, nDev, "water_level")
	// A realistic rule set: one threshold rule on the metric every message carries.
	e.rule(RuleInput{Name: "超警戒", DeviceType: "water_level", Metric: "v0", Kind: KindThreshold, Op: "gt", Threshold: 1e9, Severity: "major"})
	base := time.Now().Add(-time.Hour).UnixMilli()
	payload := func(i, seq int) []byte {
		var sb strings.Builder
		sb.WriteString(`{"ts":`)
		sb.WriteString(strconv.FormatInt(base+int64(seq), 10))
		sb.WriteString(`,"values":{`)
		for k := 0; k < nVal; k++ {
			if k > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `"v%d":%d.%d`, k, (seq+k)%50, i%10)
		}
		sb.WriteString(`}}`)
		return []byte(sb.String())
	}
	want := int64(msgs/nDev*nDev) * int64(nVal)
	b.ResetTimer()
	start := time.Now()
	res, err := loadgen.Run(context.Background(), loadgen.Config{
		Addr: e.addr(), Clients: nDev, QoS: 1, Messages: msgs, Duration: 5 * time.Minute, Window: 32,
		Topic:       func(i int) string { return "yw/" + devs[i].ID + "/telemetry" },
		Credentials: func(i int) (string, string) { return devs[i].ID, devs[i].Secret },
		Payload:     payload,
	})
	if err != nil {
		b.Fatal(err)
	}
	pubDone := time.Since(start)
	var n int64
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if err := e.st.DB().QueryRow(`SELECT count(*) FROM iot_reading`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n >= want {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start) - res.ConnectIn
	b.StopTimer()
	st := e.m.Broker().Stats()
	b.Logf("loadgen: %s; publish phase %s", res, pubDone.Round(time.Millisecond))
	b.Logf("persisted %d/%d readings in %s (from first publish): %.0f readings/s; batches=%d avg %.0f readings/batch, dropped=%d",
		n, want, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), st.Batches, float64(st.ReadingsWritten)/float64(max(st.Batches, 1)), st.Dropped)
	if n != want {
		b.Fatalf("persisted %d readings, want %d", n, want)
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "readings/s")
}

// BenchmarkAlarmLatency measures publish → alarm.raised received by a
// console subscribed to the live hub's SSE stream, while YW_BENCH_BG
// (default 5000) readings/s of background telemetry flow.
func BenchmarkAlarmLatency(b *testing.B) {
	bgRate := envInt("YW_BENCH_BG", 5000)
	samples := envInt("YW_BENCH_SAMPLES", 100)
	e := newEnv(b, envOpts{mqtt: true, broker: func(o *mqtt.Options) {
		o.BatchDelay = time.Duration(envInt("YW_BENCH_BATCH_DELAY_MS", int(o.BatchDelay/time.Millisecond))) * time.Millisecond
	}})
	const bgDevices = 100
	devs := benchDevices(b, e, bgDevices, "air_quality")
	probe := e.createDevice(DeviceInput{ID: "probe-wl", Name: "探针水位计", Type: "water_level", GridCode: "13999900100101"})
	zero := int64(0)
	e.rule(RuleInput{Name: "超警戒", DeviceType: "water_level", Metric: "water_level", Kind: KindThreshold, Op: "gt", Threshold: 3, DebounceS: &zero, Severity: "major"})
	e.rule(RuleInput{Name: "PM2.5", DeviceType: "air_quality", Metric: "pm25", Kind: KindThreshold, Op: "gt", Threshold: 1e9, Severity: "major"})

	events := e.sse("alarm.")
	time.Sleep(200 * time.Millisecond)
	bgCtx, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan loadgen.Result, 1)
	go func() {
		res, err := loadgen.Run(bgCtx, loadgen.Config{
			Addr: e.addr(), Clients: bgDevices, QoS: 0, Rate: float64(bgRate) / bgDevices, Duration: 10 * time.Minute,
			Topic:       func(i int) string { return "yw/" + devs[i].ID + "/telemetry" },
			Credentials: func(i int) (string, string) { return devs[i].ID, devs[i].Secret },
			Payload: func(i, seq int) []byte {
				return []byte(`{"ts":` + strconv.FormatInt(time.Now().UnixMilli(), 10) + `,"values":{"pm25":` + strconv.Itoa(20+seq%30) + `}}`)
			},
		})
		if err != nil {
			b.Log(err)
		}
		bgDone <- res
	}()
	time.Sleep(2 * time.Second) // background at full rate
	cl, err := pahoConnect(e.addr(), probe.ID, probe.Secret)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Disconnect(100)
	var lat []time.Duration
	b.ResetTimer()
	// next returns the next alarm event of the probe of type typ.
	next := func(typ string, timeout time.Duration) (time.Time, bool) {
		deadline := time.After(timeout)
		for {
			select {
			case msg := <-events:
				at := time.Now()
				if msg.Type != typ { // Hub.Publish ignores ?types=
					continue
				}
				var a Alarm
				_ = json.Unmarshal(msg.Data, &a)
				if a.DeviceID != probe.ID {
					continue
				}
				return at, true
			case <-deadline:
				return time.Time{}, false
			}
		}
	}
	for i := 0; i < samples; i++ {
		// Clear first and wait for the clear to be applied (the broker's
		// sink workers may apply two batches out of order, and a reading
		// older than the last one evaluated is not evaluated again), then
		// go over the threshold and time the alarm.
		cl.Publish("yw/"+probe.ID+"/telemetry", 1, false, `{"water_level":1.0}`).Wait()
		if i > 0 {
			if _, ok := next("alarm.cleared", 20*time.Second); !ok {
				b.Fatalf("sample %d: alarm did not clear", i)
			}
		}
		time.Sleep(20 * time.Millisecond)
		t0 := time.Now()
		cl.Publish("yw/"+probe.ID+"/telemetry", 0, false, `{"water_level":3.5}`)
		at, ok := next("alarm.raised", 20*time.Second)
		if !ok {
			st := e.m.Broker().Stats()
			b.Fatalf("sample %d: no alarm within 20 s (broker queue %d/%d, written %d of %d readings)", i, st.QueueLen, st.QueueCap, st.ReadingsWritten, st.Readings)
		}
		lat = append(lat, at.Sub(t0))
	}
	b.StopTimer()
	stopBG()
	bg := <-bgDone
	if os.Getenv("YW_BENCH_VERBOSE") != "" {
		b.Logf("samples: %v", lat)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*p))] }
	st := e.m.Broker().Stats()
	b.Logf("background: %s (target %d readings/s); broker readings written %d", bg, bgRate, st.ReadingsWritten)
	b.Logf("alarm latency over %d samples: p50 %s p90 %s p99 %s max %s", len(lat), pct(0.5).Round(time.Microsecond),
		pct(0.9).Round(time.Microsecond), pct(0.99).Round(time.Microsecond), lat[len(lat)-1].Round(time.Microsecond))
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50-ms")
}

func pahoConnect(addr, user, pass string) (paho.Client, error) {
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID("probe-" + user).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	tok := c.Connect()
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		return nil, fmt.Errorf("connect: %v", tok.Error())
	}
	return c, nil
}
