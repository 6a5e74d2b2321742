package simulate

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

type registry map[string]Device

func (r registry) AuthenticateDevice(_ context.Context, id, secret string) (mqtt.Principal, error) {
	d, ok := r[id]
	if !ok || d.Secret != secret {
		return mqtt.Principal{}, mqtt.ErrDenied
	}
	return mqtt.Principal{Device: id, Type: d.Type}, nil
}

func (registry) AuthenticateSession(context.Context, string) (mqtt.Principal, error) {
	return mqtt.Principal{}, mqtt.ErrDenied
}

func TestSimulatorAgainstBroker(t *testing.T) {
	devs := DemoDevices(8, func(id string) string { return "secret-" + id })
	reg := registry{}
	for _, d := range devs {
		reg[d.ID] = d
	}
	var mu sync.Mutex
	max := map[string]float64{}
	n := 0
	b, err := mqtt.New(mqtt.Options{
		TCPAddr: "127.0.0.1:0", TLSAddr: "-", WSAddr: "-", Auth: reg,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sink: mqtt.SinkFunc(func(_ context.Context, batch []mqtt.Reading) error {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range batch {
				n++
				if r.Value > max[r.Metric] {
					max[r.Metric] = r.Value
				}
			}
			return nil
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	// one device with a wrong secret is refused but does not stop the run
	devs = append(devs, Device{ID: "sim-wl-9999", Secret: "x", Type: TypeWaterLevel})
	st, err := Run(context.Background(), Config{
		Broker: b.TCPAddr(), Devices: devs, Rate: 400, Duration: 1500 * time.Millisecond, QoS: 1, ExcursionProb: 0.2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.Connected != 8 || st.Published < 300 {
		t.Fatalf("stats %+v", st)
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if n < int(st.Published)*2 {
		t.Fatalf("%d readings for %d messages", n, st.Published)
	}
	for metric, thr := range map[string]float64{"water_level": WaterLevelAlarm, "pm25": PM25Alarm, "tilt": TiltAlarm, "smoke": SmokeAlarm, "cover_open": 1, "aqi": 150} {
		if max[metric] < thr {
			t.Errorf("%s never crossed %v (max %v)", metric, thr, max[metric])
		}
	}
}

func TestSensorSeries(t *testing.T) {
	start := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
	for _, typ := range Types {
		s := NewSensor(typ, 42)
		above := 0
		for i := 0; i < 20000; i++ {
			v := s.Next(start.Add(time.Duration(i) * 30 * time.Second))
			switch typ {
			case TypeWaterLevel:
				if v["water_level"] < 0 || v["water_level"] > 6 {
					t.Fatalf("water level %v", v)
				}
				if v["water_level"] >= WaterLevelAlarm {
					above++
				}
			case TypeAirQuality:
				if v["pm25"] < 0 || v["pm10"] < v["pm25"] || v["aqi"] < 0 || v["aqi"] > 500 {
					t.Fatalf("air %v", v)
				}
				if v["pm25"] >= PM25Alarm {
					above++
				}
			case TypeManhole:
				if v["tilt"] >= TiltAlarm {
					above++
				}
			case TypeSmoke:
				if v["alarm"] == 1 {
					above++
				}
			}
		}
		// occasional, not constant: a few excursions over 20,000 readings
		if s.Excursions == 0 || above == 0 || above > 20000/10 {
			t.Errorf("%s: %d excursions, %d readings over the threshold", typ, s.Excursions, above)
		}
	}
	if got := IAQI(35, pm25Breaks); got != 50 {
		t.Fatalf("IAQI(35) = %v", got)
	}
	if got := IAQI(150, pm25Breaks); got != 200 {
		t.Fatalf("IAQI(150) = %v", got)
	}
}
