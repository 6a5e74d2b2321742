package store

import (
	"encoding/json"
	"testing"
	"time"
)

func TestEntryRoundTrip(t *testing.T) {
	in := Command{Type: "a.b", Version: 2, Payload: json.RawMessage(`{"x":[1,2,3],"s":"中文"}`), Actor: "user:1",
		IdempotencyKey: "k", ID: "01ABC", Time: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)}
	b, err := encodeEntry(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out Command
	if err := decodeEntry(b, &out); err != nil {
		t.Fatal(err)
	}
	if string(out.Payload) != string(in.Payload) || out.Type != in.Type || out.Version != 2 || !out.Time.Equal(in.Time) || out.IdempotencyKey != "k" {
		t.Fatalf("%+v", out)
	}
	for _, bad := range [][]byte{nil, {0x02}, {0x01}, {0x01, 0x7f, '{'}, b[:5]} {
		if err := decodeEntry(bad, &out); err == nil {
			t.Fatalf("accepted %q", bad)
		}
	}
	noPayload := Command{Type: "x", Version: 1}
	b, _ = encodeEntry(&noPayload)
	out = Command{}
	if err := decodeEntry(b, &out); err != nil || out.Payload != nil {
		t.Fatalf("%v %q", err, out.Payload)
	}
}
