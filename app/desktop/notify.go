package desktop

import (
	"encoding/json"
	"strings"
)

// Notifier shows a native desktop notification.
type Notifier interface {
	Notify(title, body string) error
}

// NotifierFunc adapts a function.
type NotifierFunc func(title, body string) error

// Notify calls f.
func (f NotifierFunc) Notify(title, body string) error { return f(title, body) }

var _ Notifier = NotifierFunc(nil)

// NotificationFor chooses the events worth a native notification: new
// alarms and 督办/催办 (names and aliases of docs/api-console.md).
func NotificationFor(typ string, data json.RawMessage) (title, body string, ok bool) {
	var d struct {
		Title      string `json:"title"`
		Severity   string `json:"severity"`
		DeviceName string `json:"device_name"`
		GridName   string `json:"grid_name"`
		Code       string `json:"code"`
	}
	_ = json.Unmarshal(data, &d)
	join := func(parts ...string) string {
		var out []string
		for _, p := range parts {
			if p != "" {
				out = append(out, p)
			}
		}
		return strings.Join(out, " · ")
	}
	switch typ {
	case "alarm.raised", "alarm.raise", "iot.alarm.raise":
		return "告警 " + d.Title, join(severityName(d.Severity), d.DeviceName, d.GridName), true
	case "case.supervised", "case.supervise":
		return "督办 " + d.Title, join(d.Code, "请尽快处置"), true
	case "case.urged", "case.urge":
		return "催办 " + d.Title, join(d.Code, "请尽快处置"), true
	}
	return "", "", false
}

func severityName(s string) string {
	switch s {
	case "critical":
		return "紧急"
	case "major":
		return "重要"
	case "minor":
		return "次要"
	case "warning":
		return "预警"
	case "info":
		return "提示"
	}
	return s
}
