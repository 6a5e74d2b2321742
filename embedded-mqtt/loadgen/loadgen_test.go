package loadgen

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

type anyDevice struct{}

func (anyDevice) AuthenticateDevice(_ context.Context, id, secret string) (mqtt.Principal, error) {
	if secret != "pw" {
		return mqtt.Principal{}, mqtt.ErrDenied
	}
	if id == "watcher" {
		return mqtt.Principal{User: "watcher", AllDevices: true}, nil
	}
	return mqtt.Principal{Device: id}, nil
}

func (anyDevice) AuthenticateSession(context.Context, string) (mqtt.Principal, error) {
	return mqtt.Principal{}, mqtt.ErrDenied
}

func TestRunAgainstEmbeddedBroker(t *testing.T) {
	var readings atomic.Int64
	b, err := mqtt.New(mqtt.Options{
		TCPAddr: "127.0.0.1:0", TLSAddr: "-", WSAddr: "-", Auth: anyDevice{},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Sink: mqtt.SinkFunc(func(_ context.Context, batch []mqtt.Reading) error {
			readings.Add(int64(len(batch)))
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
	for _, qos := range []byte{0, 1} {
		res, err := Run(context.Background(), Config{
			Addr: b.TCPAddr(), Clients: 10, QoS: qos, Messages: 2000,
			Topic:       func(i int) string { return "yw/d" + strconv.Itoa(i) + "/telemetry" },
			Credentials: func(i int) (string, string) { return "d" + strconv.Itoa(i), "pw" },
			Subscribe:   "yw/+/telemetry", SubUser: "watcher", SubPass: "pw",
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Log(res)
		// deliveries to the QoS 0 subscriber may be dropped on a loaded machine
		if res.Sent != 2000 || (qos == 1 && res.Acked != 2000) || res.Received == 0 || res.Received > res.Sent || res.RecvRate <= 0 {
			t.Fatalf("qos %d: %s", qos, res)
		}
	}
	// refused credentials are an error, not a hang
	if _, err := Run(context.Background(), Config{Addr: b.TCPAddr(), Clients: 2, Messages: 2,
		Credentials: func(int) (string, string) { return "d1", "wrong" }}); err == nil {
		t.Fatal("bad credentials accepted")
	}
}
