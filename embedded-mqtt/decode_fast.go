package mqtt

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// fastDecode handles the common telemetry shapes without reflection or
// maps: a flat object of plain ASCII keys and JSON numbers, optionally with
// "ts" (number or escape-free string) and one flat "values" object of
// numbers. Anything else (escapes, booleans, nesting, duplicates, bad
// numbers) returns ok=false and the encoding/json path decides, so the
// result is always the same as JSONDecoder's slow path; a differential fuzz
// test checks this.
func fastDecode(device string, p []byte, received time.Time) ([]Reading, bool) {
	d := fastDec{p: p}
	d.ws()
	if !d.eat('{') {
		return nil, false
	}
	var top, vals []kv
	var tsRaw []byte
	hasValues := false
	if !d.object(func(key string, raw []byte, isObj bool) bool {
		switch {
		case key == "ts" && !isObj:
			if tsRaw != nil || len(raw) > 0 && raw[0] != '"' && !isNumber(raw) {
				return false // a bare ts must be a JSON number (1000000000. is not)
			}
			tsRaw = raw
			return true
		case key == "values":
			if hasValues || !isObj {
				return false
			}
			hasValues = true
			return d.object(func(k string, r []byte, obj bool) bool {
				if obj || !isNumber(r) {
					return false
				}
				vals = append(vals, kv{k, r})
				return true
			})
		case isObj || !isNumber(raw):
			return false
		}
		top = append(top, kv{key, raw})
		return true
	}) {
		return nil, false
	}
	d.ws()
	if d.i != len(d.p) {
		return nil, false
	}
	ts := received
	if tsRaw != nil {
		t, err := parseTS(tsRaw)
		if err != nil {
			return nil, false
		}
		ts = t
	}
	src := top
	if hasValues {
		src = vals
	}
	if len(src) == 0 || hasDup(top) || hasDup(vals) {
		return nil, false
	}
	out := make([]Reading, 0, len(src))
	for _, e := range src {
		if !validMetric(e.k) {
			return nil, false
		}
		f, err := strconv.ParseFloat(string(e.v), 64)
		if err != nil {
			return nil, false
		}
		out = append(out, Reading{Device: device, Metric: e.k, Value: f, TS: ts})
	}
	slices.SortFunc(out, func(a, b Reading) int { return strings.Compare(a.Metric, b.Metric) })
	return out, true
}

type kv struct {
	k string
	v []byte
}

func hasDup(s []kv) bool {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[i].k == s[j].k {
				return true
			}
		}
	}
	return false
}

type fastDec struct {
	p []byte
	i int
}

func (d *fastDec) ws() {
	for d.i < len(d.p) {
		switch d.p[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *fastDec) eat(c byte) bool {
	if d.i < len(d.p) && d.p[d.i] == c {
		d.i++
		return true
	}
	return false
}

// object parses members after '{' up to and including '}'. For each member
// it calls fn with the key and either the raw scalar (number or plain
// string) or isObj=true with the decoder positioned after the '{' of a
// nested object, which fn must consume.
func (d *fastDec) object(fn func(key string, raw []byte, isObj bool) bool) bool {
	d.ws()
	if d.eat('}') {
		return true
	}
	for {
		d.ws()
		key, ok := d.str()
		if !ok {
			return false
		}
		d.ws()
		if !d.eat(':') {
			return false
		}
		d.ws()
		if d.eat('{') {
			if !fn(key, nil, true) {
				return false
			}
		} else {
			start := d.i
			if d.i < len(d.p) && d.p[d.i] == '"' {
				if _, ok := d.str(); !ok {
					return false
				}
			} else {
				for d.i < len(d.p) && (d.p[d.i] == '-' || d.p[d.i] == '+' || d.p[d.i] == '.' ||
					d.p[d.i] == 'e' || d.p[d.i] == 'E' || (d.p[d.i] >= '0' && d.p[d.i] <= '9')) {
					d.i++
				}
				if d.i == start {
					return false
				}
			}
			if !fn(key, d.p[start:d.i], false) {
				return false
			}
		}
		d.ws()
		if d.eat('}') {
			return true
		}
		if !d.eat(',') {
			return false
		}
	}
}

// str reads a string without escapes, ASCII printable only.
func (d *fastDec) str() (string, bool) {
	if !d.eat('"') {
		return "", false
	}
	start := d.i
	for d.i < len(d.p) {
		c := d.p[d.i]
		switch {
		case c == '"':
			s := string(d.p[start:d.i])
			d.i++
			return s, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", false
		}
		d.i++
	}
	return "", false
}

// isNumber checks the JSON number grammar
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func isNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	}
	return i == len(b)
}
