package iot

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"time"

	"github.com/yiwang/yiwang/embedded-mqtt/simulate"
)

// SimulateOptions configure `yiwang simulate`.
type SimulateOptions struct {
	MQTT     string
	Devices  int
	Rate     float64
	Duration time.Duration
	QoS      int
	// Call performs an API request against the running server (the CLI
	// passes its local-admin-key client): method, path, request body,
	// response value.
	Call func(method, path string, in, out any) error
	Logf func(format string, args ...any)
}

// BindSimulateFlags registers --mqtt, --devices, --rate, --duration and
// --qos on fs.
func BindSimulateFlags(fs *flag.FlagSet) *SimulateOptions {
	o := &SimulateOptions{}
	fs.StringVar(&o.MQTT, "mqtt", "127.0.0.1:1883", "broker address (host:port or tcp://, ws:// URL)")
	fs.IntVar(&o.Devices, "devices", 24, "number of simulated devices (the demo county's sim-* devices, created when missing)")
	fs.Func("rate", "telemetry messages per second across all devices, e.g. 50 or 50/s (default one per device every 10 s)", func(s string) error {
		var r float64
		if _, err := fmt.Sscanf(s, "%g", &r); err != nil || r <= 0 {
			return fmt.Errorf("must be a positive number (per second)")
		}
		o.Rate = r
		return nil
	})
	fs.DurationVar(&o.Duration, "duration", 0, "stop after this long (default: until interrupted)")
	fs.IntVar(&o.QoS, "qos", 0, "MQTT QoS of telemetry (0 or 1)")
	return o
}

// Simulate runs the simulator against the demo county's devices: it
// creates the sim-* devices that do not exist yet and rotates the secrets
// of those that do (secrets are only ever shown once), then publishes
// realistic readings with real MQTT clients through the broker's normal
// authentication and ACL.
func Simulate(ctx context.Context, o SimulateOptions) (simulate.Stats, error) {
	if o.Devices <= 0 || o.Devices > 100000 {
		return simulate.Stats{}, fmt.Errorf("--devices must be 1 to 100000")
	}
	if o.QoS < 0 || o.QoS > 1 {
		return simulate.Stats{}, fmt.Errorf("--qos must be 0 or 1")
	}
	logf := o.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	devs := simulate.DemoDevices(o.Devices, nil)
	for i := range devs {
		d := &devs[i]
		var out DeviceCreated
		err := o.Call("POST", "/api/v1/devices/"+url.PathEscape(d.ID)+"/secret", nil, &out)
		if err != nil {
			in := DeviceInput{ID: d.ID, Name: "模拟设备 " + d.ID, Type: d.Type}
			if err2 := o.Call("POST", "/api/v1/devices", in, &out); err2 != nil {
				return simulate.Stats{}, fmt.Errorf("device %s: %v (rotate: %v)", d.ID, err2, err)
			}
		}
		d.Secret = out.Secret
	}
	logf("simulate: %d devices ready", len(devs))
	return simulate.Run(ctx, simulate.Config{Broker: o.MQTT, Devices: devs, Rate: o.Rate, Duration: o.Duration, QoS: byte(o.QoS), Logf: logf})
}
