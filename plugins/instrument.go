package plugins

import (
	"errors"
	"fmt"
)

// Timeouts without wazero's WithCloseOnContextDone.
//
// WithCloseOnContextDone makes wazero leave native code for Go at every
// loop header to check whether the module was closed. Go-compiled wasm
// enters a loop at every function call (its resumable-stack prologue), so
// that multiplied a small decoder's cost by 5-10x. Instead the host
// rewrites the module once, at load: it adds a counter global and, right
// after every `loop` instruction, code that increments it and, every
// yieldEvery loop headers, calls the module's own imported WASI
// sched_yield. The host implements that yield per instance (ModuleConfig.
// WithOsyield): it returns at once unless the call's watchdog has fired,
// in which case it aborts the call with a deadline exit. Leaving native
// code regularly also matters for the host: the Go runtime cannot preempt
// a goroutine inside wazero-compiled code, so a guest that never left it
// would stall every stop-the-world GC of the process (and with it the
// watchdog). A module the rewriter does not fully understand (an opcode
// it does not know, no sched_yield import) falls back to
// WithCloseOnContextDone, slow but safe.

// yieldEvery is how many loop headers pass between two yields (a power of two).
const yieldEvery = 1024

var errUninstrumentable = errors.New("module cannot be instrumented")

// instrumentLoops returns a rewritten copy of a wasm binary (see above).
func instrumentLoops(wasm []byte) ([]byte, error) {
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, errUninstrumentable
	}
	out := append([]byte(nil), wasm[:8]...)
	var importedGlobals, definedGlobals uint32
	yieldFn := -1
	var sawGlobal, sawCode bool
	var cntIdx uint32
	for i := 8; i < len(wasm); {
		id := wasm[i]
		size, n, err := readU32(wasm, i+1)
		if err != nil {
			return nil, err
		}
		start := i + 1 + n
		end := start + int(size)
		if end > len(wasm) {
			return nil, errUninstrumentable
		}
		body := wasm[start:end]
		i = end
		switch id {
		case 2: // imports: count imported globals
			g, y, err := scanImports(body)
			if err != nil {
				return nil, err
			}
			importedGlobals, yieldFn = g, y
		case 6: // globals: append the counter
			cnt, n, err := readU32(body, 0)
			if err != nil {
				return nil, err
			}
			definedGlobals = cnt
			cntIdx = importedGlobals + definedGlobals
			nb := appendU32(nil, cnt+1)
			nb = append(nb, body[n:]...)
			nb = append(nb, 0x7F, 0x01, 0x41, 0x00, 0x0B) // mut i32 = i32.const 0
			body = nb
			sawGlobal = true
		case 10: // code: instrument loops
			if !sawGlobal || yieldFn < 0 {
				return nil, errUninstrumentable
			}
			nb, err := instrumentCode(body, cntIdx, uint32(yieldFn))
			if err != nil {
				return nil, err
			}
			body = nb
			sawCode = true
		}
		out = append(out, id)
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	if !sawGlobal || !sawCode {
		return nil, errUninstrumentable
	}
	return out, nil
}

// scanImports counts imported globals and finds the function index of
// wasi_snapshot_preview1.sched_yield (-1 if not imported).
func scanImports(b []byte) (globals uint32, yieldFn int, err error) {
	yieldFn = -1
	cnt, i, err := readU32(b, 0)
	if err != nil {
		return 0, 0, err
	}
	funcs := 0
	for range cnt {
		var names [2]string
		for k := range 2 { // module and field names
			l, n, err := readU32(b, i)
			if err != nil {
				return 0, 0, err
			}
			if i+n+int(l) > len(b) {
				return 0, 0, errUninstrumentable
			}
			names[k] = string(b[i+n : i+n+int(l)])
			i += n + int(l)
		}
		if i >= len(b) {
			return 0, 0, errUninstrumentable
		}
		kind := b[i]
		i++
		switch kind {
		case 0: // func: type index
			_, n, err := readU32(b, i)
			if err != nil {
				return 0, 0, err
			}
			i += n
			if names == [2]string{"wasi_snapshot_preview1", "sched_yield"} {
				yieldFn = funcs
			}
			funcs++
		case 1: // table: reftype + limits
			i++
			if i, err = skipLimits(b, i); err != nil {
				return 0, 0, err
			}
		case 2: // memory: limits
			if i, err = skipLimits(b, i); err != nil {
				return 0, 0, err
			}
		case 3: // global: valtype + mut
			i += 2
			globals++
		default:
			return 0, 0, errUninstrumentable
		}
	}
	return globals, yieldFn, nil
}

func skipLimits(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errUninstrumentable
	}
	flags := b[i]
	i++
	if flags > 1 {
		return 0, errUninstrumentable // shared/64-bit memories: not expected
	}
	for range int(flags) + 1 {
		_, n, err := readU32(b, i)
		if err != nil {
			return 0, err
		}
		i += n
	}
	return i, nil
}

func instrumentCode(b []byte, cntIdx, yieldFn uint32) ([]byte, error) {
	cnt, i, err := readU32(b, 0)
	if err != nil {
		return nil, err
	}
	// cnt++; if cnt&(yieldEvery-1) == 0 { drop(sched_yield()) }
	check := appendU32([]byte{0x23}, cntIdx)             // global.get cnt
	check = append(check, 0x41, 0x01, 0x6A, 0x24)        // i32.const 1; i32.add; global.set
	check = appendU32(check, cntIdx)                     //   cnt
	check = appendU32(append(check, 0x23), cntIdx)       // global.get cnt
	check = appendU32(append(check, 0x41), yieldEvery-1) // i32.const 1023 (same bytes as signed LEB)
	check = append(check, 0x71, 0x45, 0x04, 0x40, 0x10)  // i32.and; i32.eqz; if; call
	check = appendU32(check, yieldFn)
	check = append(check, 0x1A, 0x0B) // drop; end
	out := appendU32(make([]byte, 0, len(b)+len(b)/8), cnt)
	var fn []byte
	for range cnt {
		size, n, err := readU32(b, i)
		if err != nil {
			return nil, err
		}
		i += n
		end := i + int(size)
		if end > len(b) {
			return nil, errUninstrumentable
		}
		body := b[i:end]
		i = end
		// Locals.
		groups, j, err := readU32(body, 0)
		if err != nil {
			return nil, err
		}
		for range groups {
			_, n, err := readU32(body, j)
			if err != nil {
				return nil, err
			}
			j += n + 1
		}
		if j > len(body) {
			return nil, errUninstrumentable
		}
		fn = append(fn[:0], body[:j]...)
		for j < len(body) {
			next, isLoop, err := skipInstr(body, j)
			if err != nil {
				return nil, err
			}
			// A crafted module could name the counter's future index to
			// reset it and never yield: refuse to instrument it (it is
			// invalid as written, so the fallback compile rejects it).
			if op := body[j]; op == 0x23 || op == 0x24 {
				if g, _, err := readU32(body, j+1); err != nil || g >= cntIdx {
					return nil, errUninstrumentable
				}
			}
			fn = append(fn, body[j:next]...)
			if isLoop {
				fn = append(fn, check...)
			}
			j = next
		}
		out = appendU32(out, uint32(len(fn)))
		out = append(out, fn...)
	}
	if i != len(b) {
		return nil, errUninstrumentable
	}
	return out, nil
}

// skipInstr returns the offset after the instruction at i.
func skipInstr(b []byte, i int) (next int, isLoop bool, err error) {
	op := b[i]
	i++
	leb := func(k int) {
		for range k {
			if err != nil {
				return
			}
			var n int
			_, n, err = readLEB(b, i)
			i += n
		}
	}
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0B || op == 0x0F || op == 0x1A || op == 0x1B || op == 0xD1:
	case op == 0x02 || op == 0x03 || op == 0x04: // block, loop, if
		if i >= len(b) {
			return 0, false, errUninstrumentable
		}
		switch bt := b[i]; {
		case bt == 0x40 || (bt >= 0x6F && bt <= 0x7F):
			i++
		default:
			leb(1)
		}
		isLoop = op == 0x03
	case op == 0x0C || op == 0x0D || op == 0x10 || op == 0x12: // br, br_if, call, return_call
		leb(1)
	case op == 0x0E: // br_table
		var cnt uint32
		var n int
		cnt, n, err = readU32(b, i)
		i += n
		leb(int(cnt) + 1)
	case op == 0x11 || op == 0x13: // call_indirect
		leb(2)
	case op == 0x1C: // select t*
		var cnt uint32
		var n int
		cnt, n, err = readU32(b, i)
		i += n + int(cnt)
	case op >= 0x20 && op <= 0x26: // locals, globals, table.get/set
		leb(1)
	case op >= 0x28 && op <= 0x3E: // memarg
		var align uint64
		var n int
		align, n, err = readLEB(b, i)
		i += n
		if align&0x40 != 0 {
			leb(1) // memory index
		}
		leb(1)
	case op == 0x3F || op == 0x40:
		leb(1)
	case op == 0x41 || op == 0x42:
		leb(1)
	case op == 0x43:
		i += 4
	case op == 0x44:
		i += 8
	case op >= 0x45 && op <= 0xC4:
	case op == 0xD0:
		i++
	case op == 0xD2:
		leb(1)
	case op == 0xFC:
		var sub uint64
		var n int
		sub, n, err = readLEB(b, i)
		i += n
		switch {
		case sub <= 7:
		case sub == 8 || sub == 10 || sub == 12 || sub == 14:
			leb(2)
		case sub == 9 || sub == 11 || sub == 13 || (sub >= 15 && sub <= 17):
			leb(1)
		default:
			return 0, false, errUninstrumentable
		}
	default:
		return 0, false, fmt.Errorf("%w: opcode 0x%02x", errUninstrumentable, op)
	}
	if err != nil || i > len(b) {
		return 0, false, errUninstrumentable
	}
	return i, isLoop, nil
}

func readLEB(b []byte, i int) (uint64, int, error) {
	var v uint64
	for n := 0; n < 10; n++ {
		if i+n >= len(b) {
			return 0, 0, errUninstrumentable
		}
		c := b[i+n]
		v |= uint64(c&0x7F) << (7 * n)
		if c&0x80 == 0 {
			return v, n + 1, nil
		}
	}
	return 0, 0, errUninstrumentable
}

func readU32(b []byte, i int) (uint32, int, error) {
	v, n, err := readLEB(b, i)
	if err != nil || v > 1<<32-1 {
		return 0, 0, errUninstrumentable
	}
	return uint32(v), n, nil
}

func appendU32(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if v != 0 {
			b = append(b, c|0x80)
			continue
		}
		return append(b, c)
	}
}
