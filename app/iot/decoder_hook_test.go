package iot

import (
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

func TestHookDecoder(t *testing.T) {
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	var out Telemetry
	var outErr error
	d := hookDecoder{typ: "bin-v1", next: mqtt.JSONDecoder{}, dec: func(typ string, p []byte) (Telemetry, error) {
		if typ != "bin-v1" {
			t.Fatalf("type %q", typ)
		}
		if string(p) == "json please" {
			return Telemetry{}, ErrNoPayloadDecoder
		}
		return out, outErr
	}}
	metrics := func(rs []mqtt.Reading) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.Metric+"="+strconv.FormatFloat(r.Value, 'g', -1, 64))
		}
		return strings.Join(s, ",")
	}

	out = Telemetry{Values: map[string]any{"level_m": 2.31, "alarm": true, "fcnt": int64(7), "v": "3.5", "n": json.Number("4")}}
	rs, err := d.Decode("dev1", []byte{0xA5}, now)
	if err != nil || metrics(rs) != "alarm=1,fcnt=7,level_m=2.31,n=4,v=3.5" || !rs[0].TS.Equal(now) || rs[0].Device != "dev1" {
		t.Fatalf("good telemetry: %v %v", rs, err)
	}
	out = Telemetry{TS: now.Add(-time.Minute).UnixMilli(), Values: map[string]any{"a/b": 1.0, "nan": math.NaN(), "obj": map[string]any{}, "ok": 1.5}}
	rs, err = d.Decode("dev1", []byte{1}, now)
	if !errors.Is(err, mqtt.ErrMalformed) || metrics(rs) != "ok=1.5" || !rs[0].TS.Equal(now.Add(-time.Minute)) {
		t.Fatalf("partly bad telemetry: %v %v", rs, err)
	}
	for _, c := range []struct {
		tel  Telemetry
		err  error
		want string
	}{
		{Telemetry{TS: 1, Values: map[string]any{"x": 1.0}}, nil, "ts out of range"},
		{Telemetry{Values: map[string]any{}}, nil, "no values"},
		{Telemetry{}, errors.New("plugin x: frame is 9 bytes, want 12"), "frame is 9 bytes"},
	} {
		out, outErr = c.tel, c.err
		rs, err := d.Decode("dev1", []byte{1}, now)
		if len(rs) != 0 || !errors.Is(err, mqtt.ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v %v, want malformed %q", c.tel, rs, err, c.want)
		}
	}
	outErr = nil
	// Types without a decoder fall through to JSON.
	rs, err = d.Decode("dev1", []byte("json please"), now)
	if !errors.Is(err, mqtt.ErrMalformed) || len(rs) != 0 {
		t.Fatalf("fallback to the JSON decoder: %v %v", rs, err)
	}
}
