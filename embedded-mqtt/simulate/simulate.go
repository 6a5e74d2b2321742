// Package simulate publishes realistic sensor readings for the demo county
// (water level 水位, air quality PM2.5/PM10/AQI, manhole cover tilt/open 井盖,
// smoke 烟感) to an MQTT broker, one real MQTT client (Eclipse Paho) per
// device, with occasional excursions over the alarm thresholds. It backs
// `yiwang simulate --mqtt ADDR --devices N --rate R/s`; device credentials
// come from the caller (the device registry), so the simulated devices go
// through the same authentication and ACL as real ones.
package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// Device is one simulated device and its credentials.
type Device struct {
	ID     string
	Secret string
	Type   string // one of Types
}

// Config of a simulation run.
type Config struct {
	// Broker is "host:port" or a URL (tcp://, tls://, ws://).
	Broker  string
	Devices []Device
	// Rate is the total number of telemetry messages per second across all
	// devices (default: one message per device every 10 s).
	Rate float64
	// Duration bounds the run (0 = until ctx is done).
	Duration time.Duration
	QoS      byte
	// ExcursionProb is each reading's chance of starting an excursion over
	// the alarm threshold (default 0.002; 1 forces one right away).
	ExcursionProb float64
	// Seed makes the series reproducible (default: derived from device ids).
	Seed uint64
	// ConnectParallel bounds concurrent connection attempts (default 32).
	ConnectParallel int
	// Logf receives progress lines (nil = silent).
	Logf func(format string, args ...any)
}

// Stats of a run.
type Stats struct {
	Connected  int64 `json:"connected"`
	Published  int64 `json:"published"`
	Failed     int64 `json:"failed"`
	Excursions int64 `json:"excursions"`
}

// DemoDevices returns n devices cycling through the types, with ids like
// "sim-wl-0001"; secret gives each id's secret (from the registry).
func DemoDevices(n int, secret func(id string) string) []Device {
	prefix := map[string]string{TypeWaterLevel: "wl", TypeAirQuality: "aq", TypeManhole: "mh", TypeSmoke: "sm"}
	out := make([]Device, n)
	for i := range out {
		typ := Types[i%len(Types)]
		id := fmt.Sprintf("sim-%s-%04d", prefix[typ], i/len(Types)+1)
		out[i] = Device{ID: id, Type: typ}
		if secret != nil {
			out[i].Secret = secret(id)
		}
	}
	return out
}

type simDevice struct {
	Device
	client paho.Client
	sensor *Sensor
	mu     sync.Mutex
}

// Run connects the devices and publishes until the duration ends or ctx is
// done. It fails only if no device could connect.
func Run(ctx context.Context, cfg Config) (Stats, error) {
	var st Stats
	if len(cfg.Devices) == 0 {
		return st, errors.New("simulate: no devices")
	}
	if cfg.Rate <= 0 {
		cfg.Rate = float64(len(cfg.Devices)) / 10
	}
	if cfg.ExcursionProb <= 0 {
		cfg.ExcursionProb = 0.002
	}
	if cfg.ConnectParallel <= 0 {
		cfg.ConnectParallel = 32
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	broker := cfg.Broker
	if !strings.Contains(broker, "://") {
		broker = "tcp://" + broker
	}
	devs := make([]*simDevice, len(cfg.Devices))
	var connected atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.ConnectParallel)
	for i, d := range cfg.Devices {
		h := fnv.New64a()
		h.Write([]byte(d.ID))
		sd := &simDevice{Device: d, sensor: NewSensor(d.Type, cfg.Seed^h.Sum64())}
		sd.sensor.ExcursionProb = cfg.ExcursionProb
		devs[i] = sd
		o := paho.NewClientOptions().AddBroker(broker).SetClientID(d.ID).
			SetUsername(d.ID).SetPassword(d.Secret).SetCleanSession(true).
			SetAutoReconnect(true).SetConnectRetry(false).
			SetConnectTimeout(10*time.Second).SetKeepAlive(60*time.Second).
			SetWill("yw/"+d.ID+"/event", `{"type":"offline"}`, 1, false)
		sd.client = paho.NewClient(o)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tok := sd.client.Connect()
			if !tok.WaitTimeout(15*time.Second) || tok.Error() != nil {
				logf("simulate: %s: connect: %v", sd.ID, tok.Error())
				return
			}
			connected.Add(1)
			attrs, _ := json.Marshal(map[string]any{"type": sd.Type, "model": "YW-SIM-" + strings.ToUpper(sd.Type), "fw": "1.0.0"})
			sd.client.Publish("yw/"+sd.ID+"/attributes", 1, true, attrs)
		}()
	}
	wg.Wait()
	defer func() {
		for _, d := range devs {
			d.client.Disconnect(250)
		}
	}()
	st.Connected = connected.Load()
	if st.Connected == 0 {
		return st, errors.New("simulate: no device could connect")
	}
	logf("simulate: %d/%d devices connected to %s, %.1f msg/s", st.Connected, len(devs), cfg.Broker, cfg.Rate)
	if cfg.Duration > 0 { // the duration counts from the end of the connect phase
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, cfg.Duration)
		defer cancel()
	}

	var published, failed atomic.Int64
	const tick = 10 * time.Millisecond
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	perTick := cfg.Rate * tick.Seconds()
	var credit float64
	next := 0
	lastLog := time.Now()
	var pending sync.WaitGroup
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case now := <-ticker.C:
			credit += perTick
			for ; credit >= 1; credit-- {
				d := devs[next]
				next = (next + 1) % len(devs)
				if !d.client.IsConnectionOpen() {
					failed.Add(1)
					continue
				}
				d.mu.Lock()
				values := d.sensor.Next(now)
				d.mu.Unlock()
				payload, _ := json.Marshal(map[string]any{"ts": now.UnixMilli(), "values": values})
				tok := d.client.Publish("yw/"+d.ID+"/telemetry", cfg.QoS, false, payload)
				pending.Add(1)
				go func() {
					defer pending.Done()
					if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
						failed.Add(1)
						return
					}
					published.Add(1)
				}()
			}
			if time.Since(lastLog) >= 10*time.Second {
				logf("simulate: published %d, failed %d", published.Load(), failed.Load())
				lastLog = time.Now()
			}
		}
	}
	pending.Wait()
	st.Published, st.Failed = published.Load(), failed.Load()
	for _, d := range devs {
		st.Excursions += int64(d.sensor.Excursions)
	}
	logf("simulate: done: %+v", st)
	return st, nil
}
