package mqtt_test

import (
	"context"
	"log"
	"time"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

// devices stands for app/iot's device registry.
type devices struct{}

func (devices) AuthenticateDevice(ctx context.Context, id, secret string) (mqtt.Principal, error) {
	// app/iot: look the device up, compare the secret hash, refuse retired
	// devices; a gateway lists its children.
	if id == "wl-001" && secret == "s3cret" {
		return mqtt.Principal{Device: id, Type: "water_level"}, nil
	}
	return mqtt.Principal{}, mqtt.ErrDenied
}

func (devices) AuthenticateSession(ctx context.Context, token string) (mqtt.Principal, error) {
	// app/iot: resolve the console session, scope it by the user's data scope.
	return mqtt.Principal{}, mqtt.ErrDenied
}

// This is how app/iot wires the broker: the registry authenticates, the
// sink turns each batch into one telemetry.batch store command, callbacks
// update online/offline state, events and command status.
func Example_wiring() {
	b, err := mqtt.New(mqtt.Options{
		TCPAddr: "127.0.0.1:0", // default ":1883"
		TLSAddr: "-",           // default ":8883", certificate generated into CertDir
		WSAddr:  "-",           // or mount b.WebSocketHandler() at /mqtt
		Auth:    devices{},
		Sink: mqtt.SinkFunc(func(ctx context.Context, batch []mqtt.Reading) error {
			// return st.Apply(ctx, store.Command{Type: "telemetry.batch", ...})
			return nil
		}),
		OnConnection: func(e mqtt.ConnEvent) { /* mark e.Device online/offline */ },
		OnMessage:    func(m mqtt.Message) { /* device events, attributes */ },
		OnCommand:    func(s mqtt.CommandStatus) { /* update the command row */ },
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	_ = b.Send("wl-001", "42", []byte(`{"op":"set_interval","seconds":60}`)) // ErrNotSubscribed while offline
	_ = b.Stats()                                                            // for /metrics
	_ = b.Counters("wl-001")                                                 // for the device page
	time.Sleep(10 * time.Millisecond)
	// Output:
}
