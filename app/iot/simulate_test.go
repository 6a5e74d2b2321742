package iot

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestSimulate: the simulator creates its devices through the API, gets
// their secrets, and publishes through the broker's authentication; the
// readings land in the store.
func TestSimulate(t *testing.T) {
	e := newEnv(t, envOpts{mqtt: true})
	call := func(method, path string, in, out any) error {
		var body io.Reader
		if in != nil {
			b, _ := json.Marshal(in)
			body = bytes.NewReader(b)
		}
		req, _ := http.NewRequest(method, e.srv.URL+path, body)
		req.Header.Set("Authorization", "Bearer admin-token")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		if out != nil {
			return json.Unmarshal(b, out)
		}
		return nil
	}
	// One device exists already (its secret is rotated), seven are created.
	// (Published is checked loosely: the ticker-driven rate falls behind on
	// a loaded machine.)
	e.createDevice(DeviceInput{ID: "sim-wl-0001", Name: "已有", Type: "water_level"})
	st, err := Simulate(context.Background(), SimulateOptions{MQTT: e.addr(), Devices: 8, Rate: 40, Duration: 2 * time.Second, QoS: 1, Call: call, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	if st.Connected != 8 || st.Published < 8 || st.Failed != 0 {
		t.Fatalf("simulate stats: %+v", st)
	}
	eventually(t, 5*time.Second, "simulated readings stored", func() bool {
		var n int
		_ = e.st.DB().QueryRow(`SELECT count(DISTINCT device) FROM iot_reading`).Scan(&n)
		return n == 8
	})
}
