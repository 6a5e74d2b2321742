package iot

import (
	"context"
	"net/http"
	"testing"
	"time"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

func (e *env) write(dev, metric string, at time.Time, vals ...float64) {
	e.t.Helper()
	var b []mqtt.Reading
	for i, v := range vals {
		b = append(b, mqtt.Reading{Device: dev, Metric: metric, Value: v, TS: at.Add(time.Duration(i) * time.Minute)})
	}
	if err := e.m.WriteBatch(context.Background(), b); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) rule(in RuleInput) *Rule {
	e.t.Helper()
	var r Rule
	e.mustCall("POST", "/api/v1/alarm-rules", in, &r, http.StatusCreated)
	return &r
}

func TestDurationRangeRateRules(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.createDevice(DeviceInput{Name: "W", Type: "water_level"})
	t0 := time.Now().Add(-time.Hour).Truncate(time.Minute)

	// "above 3.0 m for 5 min"
	e.rule(RuleInput{Name: "持续超警戒", DeviceID: d.ID, Metric: "water_level", Kind: KindThreshold, Op: "gt", Threshold: 3, DurationS: 300, Severity: "critical"})
	e.write(d.ID, "water_level", t0, 3.1, 3.2, 3.3, 3.2) // 3 minutes above
	if a := e.alarms("?status=active"); len(a) != 0 {
		t.Fatalf("raised before 5 min: %+v", a)
	}
	e.write(d.ID, "water_level", t0.Add(4*time.Minute), 2.9) // dips: the duration restarts
	e.write(d.ID, "water_level", t0.Add(5*time.Minute), 3.1, 3.1, 3.1, 3.1, 3.1)
	if a := e.alarms("?status=active"); len(a) != 0 {
		t.Fatalf("raised although the condition was interrupted: %+v", a)
	}
	e.write(d.ID, "water_level", t0.Add(10*time.Minute), 3.4)
	if a := e.alarms("?status=active"); len(a) != 1 || a[0].Severity != "critical" || *a[0].Value != 3.4 {
		t.Fatalf("after 5 min above: %+v", a)
	}

	// Range and rate on another metric.
	e.rule(RuleInput{Name: "电压", DeviceID: d.ID, Metric: "battery", Kind: KindRange, Low: 3.3, High: 4.2, Hysteresis: 0.05, Severity: "minor"})
	e.rule(RuleInput{Name: "涨速", DeviceID: d.ID, Metric: "level2", Kind: KindRate, Threshold: 0.5, Severity: "major"})
	e.write(d.ID, "battery", t0, 3.6, 3.2)
	e.write(d.ID, "level2", t0, 1.0, 1.2, 2.0) // +0.8 per minute
	a := e.alarms("?status=active&sort=raised_at")
	if len(a) != 3 {
		t.Fatalf("want 3 active alarms, got %+v", a)
	}
	e.write(d.ID, "battery", t0.Add(2*time.Minute), 3.32) // inside hysteresis: stays
	if len(e.alarms("?status=active")) != 3 {
		t.Fatal("range alarm cleared inside the hysteresis band")
	}
	e.write(d.ID, "battery", t0.Add(3*time.Minute), 3.5)
	e.write(d.ID, "level2", t0.Add(3*time.Minute), 2.1)
	if a := e.alarms("?status=active"); len(a) != 1 {
		t.Fatalf("range and rate alarms should have cleared: %+v", a)
	}
	// Late readings (older than what the rule has seen) do not flap state.
	e.write(d.ID, "battery", t0, 1.0)
	if a := e.alarms("?status=active"); len(a) != 1 {
		t.Fatalf("late reading changed alarms: %+v", a)
	}
}

// TestFlappingSensorOpensOneCase: a sensor that crosses its threshold
// repeatedly within the debounce keeps one alarm (re-opened, flaps
// counted) and therefore one case.
func TestFlappingSensorOpensOneCase(t *testing.T) {
	e := newEnv(t, envOpts{tune: func(o *Options) { o.ClearSettle = time.Hour }})
	d := e.createDevice(DeviceInput{Name: "Smoke", Type: "smoke", GridCode: "13999900100102"})
	debounce := int64(600)
	e.rule(RuleInput{Name: "烟雾", DeviceType: "smoke", Metric: "smoke", Kind: KindThreshold, Op: "ge", Threshold: 0.15, DebounceS: &debounce,
		Severity: "critical", CaseCategory: "0701"})
	t0 := time.Now().Add(-time.Hour)
	for i := 0; i < 6; i++ {
		e.write(d.ID, "smoke", t0.Add(time.Duration(i)*2*time.Minute), 0.2, 0.05)
	}
	all := e.alarms("")
	if len(all) != 1 || all[0].Flaps != 5 || all[0].Status != AlarmCleared {
		t.Fatalf("flapping sensor: %+v", all)
	}
	eventually(t, 5*time.Second, "one case", func() bool {
		o, _ := e.cases.snapshot()
		return len(o) == 1 && len(e.alarms("")) == 1 && e.alarms("")[0].CaseID != nil
	})
	time.Sleep(200 * time.Millisecond)
	opened, cleared := e.cases.snapshot()
	if len(opened) != 1 || len(cleared) != 0 {
		t.Fatalf("opened %d cases, noted %d clears (settle is an hour)", len(opened), len(cleared))
	}
}

// TestAckLifecycle: active → acknowledged → cleared; acknowledging twice
// or a cleared alarm is a conflict.
func TestAckLifecycle(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.createDevice(DeviceInput{Name: "MH", Type: "manhole"})
	e.rule(RuleInput{Name: "井盖倾斜", DeviceType: "manhole", Metric: "tilt", Kind: KindThreshold, Op: "gt", Threshold: 10, Severity: "major"})
	e.write(d.ID, "tilt", time.Now(), 25)
	a := e.alarms("?status=active")[0]
	var acked Alarm
	e.mustCall("POST", "/api/v1/alarms/"+a.ID+"/ack", ackInput{Note: "已通知巡查"}, &acked, 200)
	if acked.Status != AlarmAcknowledged || acked.AckedBy != "user:1" || acked.AckedAt == nil {
		t.Fatalf("acked: %+v", acked)
	}
	e.mustCall("POST", "/api/v1/alarms/"+a.ID+"/ack", nil, nil, http.StatusConflict)
	e.write(d.ID, "tilt", time.Now().Add(time.Second), 1)
	var got Alarm
	e.mustCall("GET", "/api/v1/alarms/"+a.ID, nil, &got, 200)
	if got.Status != AlarmCleared {
		t.Fatalf("acknowledged alarm did not clear: %+v", got)
	}
	e.mustCall("POST", "/api/v1/alarms/"+a.ID+"/ack", nil, nil, http.StatusConflict)
}

// TestOfflineAndNoData: the leader's tick marks an inactive device offline
// and raises its offline alarm; data brings it back and clears the alarm;
// a no-data rule raises when a metric goes silent and clears on data.
func TestOfflineAndNoData(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.createDevice(DeviceInput{Name: "AQ", Type: "air_quality"})
	quiet := e.createDevice(DeviceInput{Name: "AQ-quiet", Type: "air_quality"})
	e.write(quiet.ID, "pm25", time.Now().Add(-2*time.Minute), 30) // reported, then silent
	e.mustCall("PUT", "/api/v1/device-types/air_quality", DeviceType{Name: "空气质量", OfflineAfterS: 60}, nil, 200)
	e.rule(RuleInput{Name: "PM2.5 无数据", DeviceType: "air_quality", Metric: "pm25", Kind: KindNoData, DurationS: 60, Severity: "minor"})
	// Connected two minutes ago, then silent.
	ctx := context.Background()
	if _, err := e.m.apply(ctx, "system:mqtt", CmdDeviceConn, connPayload{Events: []connEvent{{Device: d.ID, Connected: true, At: ms(time.Now().Add(-2 * time.Minute))}}}, nil); err != nil {
		t.Fatal(err)
	}
	var dv Device
	e.mustCall("GET", "/api/v1/devices/"+d.ID, nil, &dv, 200)
	if dv.Status != StatusOnline || !dv.Connected {
		t.Fatalf("after connect: %+v", dv)
	}
	if err := e.m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	e.mustCall("GET", "/api/v1/devices/"+d.ID, nil, &dv, 200)
	if dv.Status != StatusOffline {
		t.Fatalf("inactive device still %s", dv.Status)
	}
	act := e.alarms("?status=active&sort=raised_at")
	kinds := map[string]int{}
	for _, a := range act {
		kinds[a.Kind]++
	}
	if kinds["offline"] != 1 || kinds["rule"] != 1 || len(act) != 2 {
		t.Fatalf("want an offline and a no-data alarm: %+v", act)
	}
	for _, a := range act {
		if (a.Kind == "offline") != (a.DeviceID == d.ID) {
			t.Fatalf("alarm on the wrong device: %+v", a)
		}
	}
	// A second tick raises nothing new.
	if err := e.m.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(e.alarms("")); n != 2 {
		t.Fatalf("second tick: %d alarms", n)
	}
	e.write(d.ID, "pm25", time.Now(), 40)
	e.write(quiet.ID, "pm25", time.Now(), 41)
	e.mustCall("GET", "/api/v1/devices/"+d.ID, nil, &dv, 200)
	if dv.Status != StatusOnline {
		t.Fatalf("device with fresh data is %s", dv.Status)
	}
	if a := e.alarms("?status=active"); len(a) != 0 {
		t.Fatalf("alarms not cleared by data: %+v", a)
	}
	// device.status events reached the hub.
	seen := map[string]bool{}
	for len(e.events) > 0 {
		msg := <-e.events
		seen[msg.Type] = true
	}
	if !seen["device.status"] || !seen["alarm.raised"] || !seen["alarm.cleared"] {
		t.Fatalf("events seen: %v", seen)
	}
}

// TestRestartKeepsAlarmState: alarm state (open alarm, pending duration)
// is in SQLite: after a restart on the same data dir, a clearing reading
// clears the alarm raised before, and a pending duration continues.
func TestRestartKeepsAlarmState(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, envOpts{dir: dir})
	d := e.createDevice(DeviceInput{Name: "W", Type: "water_level"})
	e.rule(RuleInput{Name: "超警戒", DeviceType: "water_level", Metric: "water_level", Kind: KindThreshold, Op: "gt", Threshold: 3, Severity: "major"})
	e.rule(RuleInput{Name: "持续超保证", DeviceType: "water_level", Metric: "water_level", Kind: KindThreshold, Op: "gt", Threshold: 4, DurationS: 300, Severity: "critical"})
	t0 := time.Now().Add(-time.Hour)
	e.write(d.ID, "water_level", t0, 4.1, 4.2, 4.3) // raises >3, >4 pending for 2 min
	before := e.alarms("?status=active")
	if len(before) != 1 {
		t.Fatalf("before restart: %+v", before)
	}
	e.close()

	e2 := newEnv(t, envOpts{dir: dir})
	if a := e2.alarms("?status=active"); len(a) != 1 || a[0].ID != before[0].ID {
		t.Fatalf("after restart: %+v", a)
	}
	e2.write(d.ID, "water_level", t0.Add(3*time.Minute), 4.4, 4.5, 4.4) // reaches 5 min above 4 across the restart
	if a := e2.alarms("?status=active"); len(a) != 2 {
		t.Fatalf("pending duration lost across restart: %+v", a)
	}
	e2.write(d.ID, "water_level", t0.Add(10*time.Minute), 2.0)
	if a := e2.alarms("?status=active"); len(a) != 0 {
		t.Fatalf("not cleared after restart: %+v", a)
	}
	if a := e2.alarms("?status=cleared"); len(a) != 2 {
		t.Fatalf("cleared: %+v", a)
	}
}

// TestRollupsExact: 1-minute and 1-hour series are the same whether the
// readings were folded by telemetry.rollup, folded inline as late
// readings, or are still only raw; a redelivered reading is not counted
// twice.
func TestRollupsExact(t *testing.T) {
	e := newEnv(t, envOpts{})
	d := e.createDevice(DeviceInput{Name: "W", Type: "water_level"})
	t0 := time.Now().Add(-3 * time.Hour).Truncate(time.Hour)
	// 1.0, 2.0, 3.0 in the first minute; 10 in the next.
	e.write(d.ID, "water_level", t0, 1)
	e.write(d.ID, "water_level", t0.Add(20*time.Second), 2)
	if err := e.m.Rollup(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.write(d.ID, "water_level", t0.Add(40*time.Second), 3)           // late: folded inline
	e.write(d.ID, "water_level", t0.Add(20*time.Second), 2)           // redelivery: ignored
	e.write(d.ID, "water_level", time.Now().Add(-30*time.Second), 10) // after the watermark: raw only
	s, err := e.m.Telemetry(context.Background(), d.ID, "water_level", t0.Add(-time.Hour), time.Now().Add(time.Minute), "1m", 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Points) != 2 || s.Points[0].N != 3 || s.Points[0].Value != 2 || *s.Points[0].Min != 1 || *s.Points[0].Max != 3 || s.Points[1].Value != 10 {
		t.Fatalf("1m series: %+v", s.Points)
	}
	h, err := e.m.Telemetry(context.Background(), d.ID, "water_level", t0, time.Now().Add(time.Minute), "1h", 100)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range h.Points {
		n += p.N
	}
	if n != 4 || h.Points[0].N != 3 {
		t.Fatalf("1h series: %+v", h.Points)
	}
	// Fold everything and ask again: same answer.
	if err := e.m.Rollup(context.Background()); err != nil {
		t.Fatal(err)
	}
	s2, _ := e.m.Telemetry(context.Background(), d.ID, "water_level", t0.Add(-time.Hour), time.Now().Add(time.Minute), "1m", 100)
	if len(s2.Points) != 2 || s2.Points[0].N != 3 || s2.Points[1].N != 1 {
		t.Fatalf("1m after folding: %+v", s2.Points)
	}
}
