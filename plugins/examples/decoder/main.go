//go:build wasip1

// Command decoder is an example yiwang payload decoder for a LoRaWAN-like
// water-level sensor frame ("lora-water-v1"). Frame layout, 12 bytes, big
// endian:
//
//	0     magic 0xA5
//	1     frame version, 0x01
//	2-3   frame counter (u16)
//	4-5   water level in millimetres above the gauge zero (u16)
//	6-7   battery voltage in millivolts (u16)
//	8-9   water temperature in 0.1 °C (i16)
//	10    flags: bit0 level alarm, bit1 tamper
//	11    checksum: XOR of bytes 0..10
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
package main

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/yiwang/yiwang/plugins/sdk"
)

const frameLen = 12

// HandleDecodeTo is the fast form: values go straight into the result
// buffer (no map, no reflection), which matters at thousands of frames per
// second. sdk.HandleDecode with a map is the simpler alternative.
func init() { sdk.HandleDecodeTo(decode) }

func decode(deviceType string, p []byte, r *sdk.Reading) error {
	if deviceType != "lora-water-v1" {
		return fmt.Errorf("unsupported device type %q", deviceType)
	}
	if len(p) != frameLen {
		return fmt.Errorf("frame is %d bytes, want %d", len(p), frameLen)
	}
	if p[0] != 0xA5 || p[1] != 0x01 {
		return errors.New("bad magic or frame version")
	}
	var x byte
	for _, b := range p[:11] {
		x ^= b
	}
	if x != p[11] {
		return errors.New("checksum mismatch")
	}
	battery := float64(binary.BigEndian.Uint16(p[6:8])) / 1000
	r.Int("fcnt", int64(binary.BigEndian.Uint16(p[2:4]))).
		Float("level_m", float64(binary.BigEndian.Uint16(p[4:6]))/1000).
		Float("battery_v", battery).
		Float("temperature_c", float64(int16(binary.BigEndian.Uint16(p[8:10])))/10).
		Bool("level_alarm", p[10]&1 != 0).
		Bool("tamper", p[10]&2 != 0).
		Bool("low_battery", battery < 3.3)
	return nil
}

func main() {}
