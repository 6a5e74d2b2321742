package plugins

import (
	"context"
	"encoding/json"
	"testing"
)

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestSmokeDecoder(t *testing.T) {
	h, _, _ := newTestHost(t, nil)
	installExample(t, h, "examples/decoder", nil, nil)
	tel, err := h.Decode(context.Background(), "lora-water-v1", waterFrame(7, 1234, 3600, -15, 1))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", tel)
}
