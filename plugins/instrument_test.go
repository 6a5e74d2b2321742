package plugins

import (
	"bytes"
	"testing"
)

func TestInstrumentLoops(t *testing.T) {
	wasm := buildPlugin(t, "examples/decoder")
	out, err := instrumentLoops(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) <= len(wasm) || !bytes.HasPrefix(out, []byte("\x00asm")) {
		t.Fatalf("instrumented %d -> %d bytes", len(wasm), len(out))
	}
	// Not a module, or truncated: refused (the host then falls back).
	for _, bad := range [][]byte{nil, []byte("\x00asm"), fakeWasm, wasm[:len(wasm)/2]} {
		if _, err := instrumentLoops(bad); err == nil {
			t.Errorf("instrumented a bad module of %d bytes", len(bad))
		}
	}
}
