package mqtt

import "strings"

// Topic kinds of the yw/{device}/... scheme (see doc.go).
const (
	KindTelemetry  = "telemetry"
	KindEvent      = "event"
	KindAttributes = "attributes"
	KindCommand    = "cmd"
	KindReply      = "reply"
)

// TopicPrefix is the first level of every device topic.
const TopicPrefix = "yw"

// TelemetryTopic and the other helpers build topic names.
func TelemetryTopic(device string) string  { return TopicPrefix + "/" + device + "/telemetry" }
func EventTopic(device string) string      { return TopicPrefix + "/" + device + "/event" }
func AttributesTopic(device string) string { return TopicPrefix + "/" + device + "/attributes" }
func CommandTopic(device, id string) string {
	return TopicPrefix + "/" + device + "/cmd/" + id
}
func ReplyTopic(device, id string) string { return CommandTopic(device, id) + "/reply" }

type topic struct {
	device, kind, cmdID string
}

// parseTopic parses a concrete (wildcard-free) topic name of the scheme.
// It runs for every publish (ACL and ingest), so it does not allocate.
func parseTopic(name string) (topic, bool) {
	rest, ok := strings.CutPrefix(name, TopicPrefix+"/")
	if !ok {
		return topic{}, false
	}
	device, rest, ok := strings.Cut(rest, "/")
	if !ok || !validID(device) {
		return topic{}, false
	}
	t := topic{device: device}
	switch rest {
	case KindTelemetry, KindEvent, KindAttributes:
		t.kind = rest
		return t, true
	}
	id, ok := strings.CutPrefix(rest, KindCommand+"/")
	if !ok {
		return topic{}, false
	}
	id, tail, sub := strings.Cut(id, "/")
	switch {
	case !validID(id):
		return topic{}, false
	case !sub:
		t.kind, t.cmdID = KindCommand, id
	case tail == "reply":
		t.kind, t.cmdID = KindReply, id
	default:
		return topic{}, false
	}
	return t, true
}

// validID accepts device and command ids usable as one topic level.
func validID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' || c == '+' || c == '#' || c < 0x20 || c == '|' {
			return false
		}
	}
	return true
}

// filterDevice returns the device level of a subscription filter
// "yw/{device}/..." when it names one device without wildcards there.
func filterDevice(filter string) (string, bool) {
	parts := strings.SplitN(filter, "/", 3)
	if len(parts) < 2 || parts[0] != TopicPrefix || !validID(parts[1]) {
		return "", false
	}
	return parts[1], true
}
