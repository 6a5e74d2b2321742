//go:build wasip1

// Command notifier is an example yiwang event hook: when a case is created
// or changes state and it is urgent, it posts the case to a webhook (for an
// SMS gateway, a duty phone system, ...) through the host's outbound HTTP,
// then annotates the case with the outcome.
//
// Settings: webhook_url (required; its host must be in the manifest's hosts
// and approved by the admin).
package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/yiwang/yiwang/plugins/sdk"
)

type caseData struct {
	ID     string `json:"id"`
	Title  string `json:"title"`
	State  string `json:"state"`
	Urgent bool   `json:"urgent"`
	Grid   string `json:"grid,omitempty"`
}

func init() { sdk.HandleEvent(onEvent) }

func onEvent(ev sdk.Event) ([]sdk.Action, error) {
	if ev.Type != "case.created" && ev.Type != "case.state_changed" {
		return nil, nil
	}
	var c caseData
	if err := json.Unmarshal(ev.Data, &c); err != nil {
		return nil, fmt.Errorf("bad case: %w", err)
	}
	if !c.Urgent {
		return nil, nil
	}
	url := sdk.Setting("webhook_url")
	if url == "" {
		return nil, errors.New("webhook_url is not set")
	}
	resp, err := sdk.PostJSON(url, map[string]any{
		"event": ev.Type, "case_id": c.ID, "title": c.Title, "state": c.State, "grid": c.Grid,
		"text": fmt.Sprintf("【紧急案件】%s（%s）", c.Title, c.State),
	})
	if err != nil {
		sdk.Errorf("webhook for case %s failed: %v", c.ID, err)
		return nil, err
	}
	if resp.Status/100 != 2 {
		return nil, fmt.Errorf("webhook answered %d", resp.Status)
	}
	sdk.Infof("case %s notified (%d)", c.ID, resp.Status)
	return []sdk.Action{sdk.Annotate("case", c.ID, "已推送紧急通知")}, nil
}

func main() {}
