//go:build wasip1

// Command alarm2case is a test fixture for the server's host functions: on
// alarm.raised it publishes the alarm on county/alarms/{device} (host
// function) and asks the host to open an urgent case for it and to publish
// a summary (actions).
package main

import (
	"encoding/json"

	"github.com/yiwang/yiwang/plugins/sdk"
)

type alarm struct {
	ID       string  `json:"id"`
	DeviceID string  `json:"device_id"`
	Title    string  `json:"title"`
	Value    float64 `json:"value"`
}

func init() {
	sdk.HandleEvent(func(ev sdk.Event) ([]sdk.Action, error) {
		var a alarm
		if err := json.Unmarshal(ev.Data, &a); err != nil {
			return nil, err
		}
		if err := sdk.Publish("county/alarms/"+a.DeviceID, ev.Data); err != nil {
			return nil, err
		}
		sdk.Infof("alarm %s on %s forwarded", a.ID, a.DeviceID)
		summary, _ := json.Marshal(map[string]any{"alarm": a.ID, "device": a.DeviceID})
		return []sdk.Action{
			sdk.OpenCase(sdk.OpenCaseAction{Title: "物联告警转案件 " + a.DeviceID, Description: "告警 " + a.ID, Urgent: true, SourceRef: "alarm:" + a.ID}),
			sdk.PublishTo("county/alarms/summary", summary),
			sdk.PublishTo("elsewhere/not-declared", summary),
		}, nil
	})
}

func main() {}
