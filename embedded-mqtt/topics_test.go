package mqtt

import (
	"strings"
	"testing"
)

// splitParseTopic is the original strings.Split implementation of
// parseTopic, kept as the reference for the allocation-free one.
func splitParseTopic(name string) (topic, bool) {
	parts := strings.Split(name, "/")
	if len(parts) < 3 || parts[0] != TopicPrefix || !validID(parts[1]) {
		return topic{}, false
	}
	t := topic{device: parts[1]}
	switch {
	case len(parts) == 3 && (parts[2] == KindTelemetry || parts[2] == KindEvent || parts[2] == KindAttributes):
		t.kind = parts[2]
	case len(parts) == 4 && parts[2] == KindCommand && validID(parts[3]):
		t.kind, t.cmdID = KindCommand, parts[3]
	case len(parts) == 5 && parts[2] == KindCommand && validID(parts[3]) && parts[4] == "reply":
		t.kind, t.cmdID = KindReply, parts[3]
	default:
		return topic{}, false
	}
	return t, true
}

func TestParseTopicMatchesReference(t *testing.T) {
	for _, name := range []string{
		"yw/d1/telemetry", "yw/d1/event", "yw/d1/attributes", "yw/d1/cmd/7", "yw/d1/cmd/7/reply",
		"yw/d1/cmd/7/reply/x", "yw/d1/cmd/7/other", "yw/d1/cmd/", "yw/d1/cmd", "yw/d1/telemetry/x",
		"yw//telemetry", "yw/d+/event", "yw/d#/event", "yw/a|b/event", "xx/d1/event", "yw/d1", "yw",
		"", "/yw/d1/event", "yw/d1/", "yw/d1/Event", "yw/d1/cmd/+/reply", "yw/d1/cmd//reply",
	} {
		got, gok := parseTopic(name)
		want, wok := splitParseTopic(name)
		if got != want || gok != wok {
			t.Errorf("parseTopic(%q) = %+v %v, want %+v %v", name, got, gok, want, wok)
		}
	}
	if n := testing.AllocsPerRun(100, func() { parseTopic("yw/dev-1/cmd/42/reply") }); n != 0 {
		t.Errorf("parseTopic allocates %v times", n)
	}
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"yw/d1/telemetry", "yw/d1/cmd/7/reply", "yw/d1/cmd/7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, gok := parseTopic(name)
		want, wok := splitParseTopic(name)
		if got != want || gok != wok {
			t.Fatalf("parseTopic(%q) = %+v %v, want %+v %v", name, got, gok, want, wok)
		}
	})
}
