package mqtt

import (
	"errors"
	"math"
	"testing"
	"time"
)

func TestJSONDecoder(t *testing.T) {
	now := time.Date(2026, 11, 22, 5, 0, 0, 0, time.UTC)
	ts := time.Unix(1732252800, 0).UTC()
	cases := []struct {
		in        string
		n         int
		ts        time.Time
		malformed bool
	}{
		{`{"ts":1732252800,"values":{"water_level":2.31}}`, 1, ts, false},
		{`{"ts":1732252800000,"values":{"water_level":2.31}}`, 1, ts, false},
		{`{"ts":"2024-11-22T05:20:00Z","values":{"pm25":35,"pm10":60,"aqi":50}}`, 3, ts, false},
		{`{"ts":"1732252800","water_level":2.31}`, 1, ts, false},
		{`{"water_level":2.31}`, 1, now, false},
		{` {"cover_open":true,"tilt":1.5} `, 2, now, false},
		{`{"water_level":"2.31"}`, 1, now, false},
		{`{"water_level":2.31,"note":"hi"}`, 1, now, true},
		{`{"a":{"b":1}}`, 0, now, true},
		{`{"values":[1,2]}`, 0, now, true},
		{`{"ts":"yesterday","values":{"a":1}}`, 0, now, true},
		{`{"ts":-5,"values":{"a":1}}`, 0, now, true},
		{`{}`, 0, now, true},
		{`[1]`, 0, now, true},
		{``, 0, now, true},
		{"\x00\x01garbage", 0, now, true},
		{`{"a":1e999}`, 0, now, true},
		{`{"":1}`, 0, now, true},
	}
	for _, tc := range cases {
		rs, err := JSONDecoder{}.Decode("d1", []byte(tc.in), now)
		if len(rs) != tc.n {
			t.Errorf("%s: %d readings, want %d (%v)", tc.in, len(rs), tc.n, err)
			continue
		}
		if (err != nil) != tc.malformed {
			t.Errorf("%s: err %v, malformed want %v", tc.in, err, tc.malformed)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: error does not wrap ErrMalformed: %v", tc.in, err)
		}
		for _, r := range rs {
			if !r.TS.Equal(tc.ts) || r.Device != "d1" {
				t.Errorf("%s: reading %+v, want ts %v", tc.in, r, tc.ts)
			}
		}
	}
	rs, _ := JSONDecoder{}.Decode("d1", []byte(`{"values":{"pm25":35.5,"pm10":60}}`), now)
	if rs[0].Metric != "pm10" || rs[0].Value != 60 || rs[1].Metric != "pm25" || rs[1].Value != 35.5 {
		t.Fatalf("%+v", rs)
	}
}

func FuzzJSONDecoder(f *testing.F) {
	for _, s := range []string{
		`{"ts":1732252800,"values":{"water_level":2.31}}`,
		`{"water_level":2.31}`,
		`{"ts":"2024-11-22T05:20:00+08:00","values":{"pm25":"35"}}`,
		`{"ts":1732252800123,"cover_open":true}`,
		`{"values":{"a":{"b":1}}}`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	now := time.Unix(1732252800, 0)
	f.Fuzz(func(t *testing.T, payload []byte) {
		rs, err := JSONDecoder{}.Decode("dev", payload, now)
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Fatalf("unexpected error type %v", err)
		}
		if err == nil && len(rs) == 0 {
			t.Fatal("no readings and no error")
		}
		for _, r := range rs {
			if r.Device != "dev" || !validMetric(r.Metric) || math.IsNaN(r.Value) || math.IsInf(r.Value, 0) {
				t.Fatalf("bad reading %+v", r)
			}
			if r.TS.Before(minTS) || r.TS.After(maxTS) {
				t.Fatalf("ts out of range %+v", r)
			}
		}
	})
}

// FuzzFastDecodeMatchesSlow: whenever the fast path accepts a payload, the
// encoding/json path must produce exactly the same readings without error.
func FuzzFastDecodeMatchesSlow(f *testing.F) {
	for _, s := range []string{
		`{"ts":1732252800,"values":{"water_level":2.31}}`,
		`{"water_level":2.31,"battery":3.6}`,
		`{"ts":"2024-11-22T05:20:00+08:00","values":{"pm25":35,"ts":1}}`,
		`{"ts":1732252800123,"tilt":-0.5e1}`,
		`{"a":1,"a":2}`,
		`{"values":{"a":1},"x":2}`,
		`{"a":01}`,
		`{"a":1e999}`,
	} {
		f.Add([]byte(s))
	}
	now := time.Unix(1732252800, 0)
	f.Fuzz(func(t *testing.T, payload []byte) {
		fast, ok := fastDecode("dev", payload, now)
		if !ok {
			return
		}
		slow, err := slowDecode("dev", payload, now)
		if err != nil {
			t.Fatalf("fast path accepted what the reference refuses: %q: %v", payload, err)
		}
		if len(fast) != len(slow) {
			t.Fatalf("%q: fast %+v slow %+v", payload, fast, slow)
		}
		for i := range fast {
			if fast[i].Metric != slow[i].Metric || fast[i].Value != slow[i].Value || !fast[i].TS.Equal(slow[i].TS) || fast[i].Device != slow[i].Device {
				t.Fatalf("%q: fast %+v slow %+v", payload, fast, slow)
			}
		}
	})
}

func BenchmarkJSONDecoder(b *testing.B) {
	p := []byte(`{"ts":1732252800123,"values":{"pm25":35.5,"pm10":60,"aqi":50,"temperature":21.5,"humidity":55}}`)
	now := time.Now()
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			_, _ = JSONDecoder{}.Decode("dev", p, now)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			_, _ = slowDecode("dev", p, now)
		}
	})
}
