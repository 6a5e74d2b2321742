package iot

import (
	"errors"
	"fmt"
	"time"

	"github.com/yiwang/yiwang/app/live"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
)

// Hooks for the plugin host (app/pluginhost), which the composition root
// builds after this module: a payload decoder per device type in front of
// the broker's JSON decoder, and a tap on the module's published events.
// Both must be set before the store starts (Register creates the broker).

// PayloadDecoder turns a raw telemetry payload of a device of deviceType
// into telemetry JSON ({"ts":..., "values":{...}}). It returns an error
// wrapping ErrNoPayloadDecoder for device types it does not decode (the
// broker's JSON decoder is used); any other error counts the payload as
// malformed. It must be safe for concurrent use; it runs in the broker's
// publish path.
type PayloadDecoder func(deviceType string, payload []byte) ([]byte, error)

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

// Decode implements mqtt.Decoder: the plugin's JSON goes through the
// broker's JSON decoder, so a plugin's malformed output is a malformed
// payload like any other (counted, never stored, never a crash: the broker
// recovers decoder panics too).
func (d hookDecoder) Decode(device string, payload []byte, received time.Time) ([]mqtt.Reading, error) {
	out, err := d.dec(d.typ, payload)
	if errors.Is(err, ErrNoPayloadDecoder) {
		return d.next.Decode(device, payload, received)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", mqtt.ErrMalformed, err)
	}
	rs, err := mqtt.JSONDecoder{}.Decode(device, out, received)
	if err != nil && !errors.Is(err, mqtt.ErrMalformed) {
		err = fmt.Errorf("%w: %v", mqtt.ErrMalformed, err)
	}
	return rs, err
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
