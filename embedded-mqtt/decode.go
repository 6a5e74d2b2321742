package mqtt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// JSONDecoder is the built-in decoder. It accepts
//
//	{"ts": 1732252800, "values": {"water_level": 2.31, "battery": 3.6}}
//	{"water_level": 2.31}
//
// ts is optional (default: receive time) and may be epoch seconds, epoch
// milliseconds (values above 1e12), or an RFC 3339 string. Values must be
// numbers, booleans (1/0) or numeric strings; other values are skipped and
// make the payload count as malformed while the usable values are kept.
type JSONDecoder struct{}

var _ Decoder = JSONDecoder{}

// MaxMetricLen bounds metric names.
const MaxMetricLen = 64

// ErrMalformed wraps every decoding error.
var ErrMalformed = errors.New("malformed payload")

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, a...))
}

// Decode implements Decoder.
func (JSONDecoder) Decode(device string, payload []byte, received time.Time) ([]Reading, error) {
	if rs, ok := fastDecode(device, payload, received); ok {
		return rs, nil
	}
	return slowDecode(device, payload, received)
}

// slowDecode is the encoding/json path: the reference semantics, and the
// one that explains what is wrong with a malformed payload.
func slowDecode(device string, payload []byte, received time.Time) ([]Reading, error) {
	payload = bytes.TrimSpace(payload)
	if len(payload) == 0 || payload[0] != '{' {
		return nil, malformed("not a json object")
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil {
		return nil, malformed("%v", err)
	}
	ts := received
	if raw, ok := top["ts"]; ok {
		t, err := parseTS(raw)
		if err != nil {
			return nil, err
		}
		ts = t
	}
	values, bare := top, true
	if raw, ok := top["values"]; ok {
		values, bare = nil, false
		if err := json.Unmarshal(raw, &values); err != nil || values == nil {
			return nil, malformed("values is not an object")
		}
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		if k == "ts" && bare {
			continue // bare form: ts is not a metric
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Reading, 0, len(keys))
	var bad []string
	for _, k := range keys {
		if !validMetric(k) {
			bad = append(bad, strconv.Quote(k))
			continue
		}
		v, ok := parseValue(values[k])
		if !ok {
			bad = append(bad, k)
			continue
		}
		out = append(out, Reading{Device: device, Metric: k, Value: v, TS: ts})
	}
	if len(bad) > 0 {
		return out, malformed("unusable values: %s", strings.Join(bad, ", "))
	}
	if len(out) == 0 {
		return nil, malformed("no values")
	}
	return out, nil
}

func validMetric(k string) bool {
	if k == "" || len(k) > MaxMetricLen || !utf8.ValidString(k) {
		return false
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f || r == '/' || r == '+' || r == '#' {
			return false
		}
	}
	return true
}

func parseValue(raw json.RawMessage) (float64, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return 0, false
	}
	switch raw[0] {
	case 't':
		return 1, string(raw) == "true"
	case 'f':
		return 0, string(raw) == "false"
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(f, 0) {
			return 0, false
		}
		return f, true
	}
	return 0, false
}

var (
	minTS = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTS = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func parseTS(raw json.RawMessage) (time.Time, error) {
	raw = bytes.TrimSpace(raw)
	var t time.Time
	if len(raw) > 0 && raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return t, malformed("bad ts")
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			t = epoch(f)
		} else if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return t, malformed("bad ts %q", s)
		}
	} else {
		f, err := strconv.ParseFloat(string(raw), 64)
		if err != nil {
			return t, malformed("bad ts")
		}
		t = epoch(f)
	}
	if t.Before(minTS) || t.After(maxTS) {
		return time.Time{}, malformed("ts out of range")
	}
	return t.UTC(), nil
}

// epoch interprets f as seconds, or milliseconds when it is above 1e12.
func epoch(f float64) time.Time {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1e15 {
		return time.Time{}
	}
	if f > 1e12 {
		ms := int64(f)
		return time.UnixMilli(ms)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9))
}
