package iot

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/yiwang/yiwang/app/live"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

// Hooks for the plugin host (app/pluginhost), which the composition root
// builds after this module: a payload decoder per device type in front of
// the broker's JSON decoder, and a tap on the module's published events.
// Both must be set before the store starts (Register creates the broker).

// PayloadDecoder turns a raw telemetry payload of a device of deviceType
// into telemetry: the content of a JSON telemetry message
// ({"ts":..., "values":{...}}) already parsed, so the broker's publish path
// does not format and re-parse JSON. It returns an error wrapping
// ErrNoPayloadDecoder for device types it does not decode (the broker's
// JSON decoder is used); any other error counts the payload as malformed.
// It must be safe for concurrent use; it runs in the broker's publish path.
type PayloadDecoder func(deviceType string, payload []byte) (Telemetry, error)

// Telemetry is decoded telemetry. TS is unix milliseconds (0: the time the
// message was received). Values are numbers (any Go integer or float type,
// json.Number), booleans (1/0) or numeric strings, as in JSON telemetry;
// other values, NaN, infinities and bad metric names are skipped and make
// the payload count as malformed.
type Telemetry struct {
	TS     int64          `json:"ts,omitempty"`
	Values map[string]any `json:"values"`
}

// ErrNoPayloadDecoder is what a PayloadDecoder returns for device types it
// does not handle.
var ErrNoPayloadDecoder = errors.New("iot: no payload decoder for device type")

// SetDecoder installs dec in front of the JSON decoder. Call it before the
// store starts (before Register creates the broker).
func (m *Module) SetDecoder(dec PayloadDecoder) error {
	if m.broker != nil || m.st != nil {
		return errors.New("iot: SetDecoder after Register")
	}
	prev := m.opts.Broker
	m.opts.Broker = func(o *mqtt.Options) {
		if prev != nil {
			prev(o)
		}
		inner := o.DecoderFor
		o.DecoderFor = func(deviceType string) mqtt.Decoder {
			var next mqtt.Decoder = mqtt.JSONDecoder{}
			if inner != nil {
				if d := inner(deviceType); d != nil {
					next = d
				}
			}
			return hookDecoder{typ: deviceType, dec: dec, next: next}
		}
	}
	return nil
}

type hookDecoder struct {
	typ  string
	dec  PayloadDecoder
	next mqtt.Decoder
}

var (
	minTelemetryTS = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTelemetryTS = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Decode implements mqtt.Decoder with the rules of the broker's JSON
// decoder, so a plugin's bad output is a malformed payload like any other
// (counted per device, never stored, never a crash: the broker recovers
// decoder panics too).
func (d hookDecoder) Decode(device string, payload []byte, received time.Time) ([]mqtt.Reading, error) {
	tel, err := d.dec(d.typ, payload)
	if errors.Is(err, ErrNoPayloadDecoder) {
		return d.next.Decode(device, payload, received)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", mqtt.ErrMalformed, err)
	}
	ts := received
	if tel.TS != 0 {
		ts = time.UnixMilli(tel.TS).UTC()
		if ts.Before(minTelemetryTS) || ts.After(maxTelemetryTS) {
			return nil, fmt.Errorf("%w: ts out of range", mqtt.ErrMalformed)
		}
	}
	keys := make([]string, 0, len(tel.Values))
	for k := range tel.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]mqtt.Reading, 0, len(keys))
	var bad []string
	for _, k := range keys {
		v, ok := readingValue(tel.Values[k])
		if !ok || !validMetricName(k) {
			bad = append(bad, strconv.Quote(k))
			continue
		}
		out = append(out, mqtt.Reading{Device: device, Metric: k, Value: v, TS: ts})
	}
	switch {
	case len(bad) > 0:
		return out, fmt.Errorf("%w: unusable values: %s", mqtt.ErrMalformed, strings.Join(bad, ", "))
	case len(out) == 0:
		return nil, fmt.Errorf("%w: no values", mqtt.ErrMalformed)
	}
	return out, nil
}

func validMetricName(k string) bool {
	if k == "" || len(k) > mqtt.MaxMetricLen || !utf8.ValidString(k) {
		return false
	}
	return !strings.ContainsFunc(k, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '/' || r == '+' || r == '#' })
}

func readingValue(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case float32:
		f = float64(x)
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case int32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case uint32:
		f = float64(x)
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case json.Number:
		return readingValue(x.String())
	case string:
		p, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		if err != nil {
			return 0, false
		}
		f = p
	default:
		return 0, false
	}
	return f, !math.IsNaN(f) && !math.IsInf(f, 0)
}

// AddEventHook adds fn to the receivers of every message the module
// publishes (alarm.raised, alarm.cleared, device.status, ...), on every
// node, after Options.OnEvent. Call it before the store starts.
func (m *Module) AddEventHook(fn EventHook) error {
	if m.st != nil {
		return errors.New("iot: AddEventHook after Register")
	}
	prev := m.opts.OnEvent
	m.opts.OnEvent = func(msg live.Message, aud live.Audience) {
		if prev != nil {
			prev(msg, aud)
		}
		fn(msg, aud)
	}
	return nil
}
