//go:build wasip1

package sdk

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// appendDecodeResult encodes a decode result without reflection: the
// decoder runs once per device message, and encoding/json's reflection
// dominates a small decoder's cost inside wasm.
func appendDecodeResult(b []byte, t Telemetry, errMsg string) []byte {
	if errMsg != "" {
		b = append(b, `{"error":`...)
		b = appendString(b, errMsg)
		return append(b, '}')
	}
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, t.TS, 10)
	b = append(b, `,"values":{`...)
	first := true
	for k, v := range t.Values {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendValue(b, v)
	}
	return append(b, "}}"...)
}

func appendValue(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case string:
		return appendString(b, x)
	case float64:
		return appendFloat(b, x)
	case float32:
		return appendFloat(b, float64(x))
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case int8:
		return strconv.AppendInt(b, int64(x), 10)
	case int16:
		return strconv.AppendInt(b, int64(x), 10)
	case int32:
		return strconv.AppendInt(b, int64(x), 10)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case uint:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10)
	case uint64:
		return strconv.AppendUint(b, x, 10)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return append(b, "null"...)
	}
	return append(b, j...)
}

func appendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "null"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

const hex = "0123456789abcdef"

func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		j, _ := json.Marshal(s) // replaces invalid bytes
		return append(b, j...)
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Reading builds one telemetry reading directly into the result buffer,
// without a map or boxing: the fast path for decoders (see HandleDecodeTo).
// Keys must be unique; the host keeps the last of duplicates.
type Reading struct {
	ts int64
	b  []byte
}

func (r *Reading) key(k string) {
	if len(r.b) > 0 {
		r.b = append(r.b, ',')
	}
	r.b = appendString(r.b, k)
	r.b = append(r.b, ':')
}

// TS sets the reading's time in unix milliseconds (default 0: the time the
// host received the message).
func (r *Reading) TS(unixMilli int64) *Reading { r.ts = unixMilli; return r }

// Float adds a number (NaN and ±Inf become null).
func (r *Reading) Float(k string, v float64) *Reading {
	r.key(k)
	r.b = appendFloat(r.b, v)
	return r
}

// Int adds an integer.
func (r *Reading) Int(k string, v int64) *Reading {
	r.key(k)
	r.b = strconv.AppendInt(r.b, v, 10)
	return r
}

// Bool adds a boolean.
func (r *Reading) Bool(k string, v bool) *Reading {
	r.key(k)
	r.b = strconv.AppendBool(r.b, v)
	return r
}

// String adds a string.
func (r *Reading) String(k, v string) *Reading {
	r.key(k)
	r.b = appendString(r.b, v)
	return r
}

// Value adds any JSON-encodable value.
func (r *Reading) Value(k string, v any) *Reading {
	r.key(k)
	r.b = appendValue(r.b, v)
	return r
}

func (r *Reading) appendTo(b []byte) []byte {
	b = append(b, `{"ts":`...)
	b = strconv.AppendInt(b, r.ts, 10)
	b = append(b, `,"values":{`...)
	b = append(b, r.b...)
	return append(b, "}}"...)
}
