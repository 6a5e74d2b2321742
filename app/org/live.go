package org

import (
	"encoding/json"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/store"
)

// LiveClassifiers registers how org events reach consoles: authentication
// events never do; departments, grids and users reach those whose data scope
// covers them.
func (m *Module) LiveClassifiers(h *live.Hub) {
	h.Drop("auth.", CmdSetup)
	h.Classify("org.", func(ev store.Event) (live.Message, live.Audience, bool) {
		var res struct {
			ID       int64  `json:"id"`
			DeptID   *int64 `json:"dept_id"`
			ParentID *int64 `json:"parent_id"`
			Code     string `json:"code"`
		}
		_ = json.Unmarshal(ev.Result, &res)
		msg := live.Message{Data: ev.Result}
		t := ev.Cmd.Type
		switch {
		case strings.HasPrefix(t, "org.department."):
			aud := live.Audience{Perm: httpapi.PermOrgRead}
			if res.ID != 0 {
				aud.DeptIDs = append(aud.DeptIDs, res.ID)
			}
			return msg, aud, true
		case strings.HasPrefix(t, "org.grid."):
			aud := live.Audience{Perm: httpapi.PermOrgRead}
			if res.DeptID != nil {
				aud.DeptIDs = []int64{*res.DeptID}
			}
			if res.Code != "" {
				aud.GridCodes = []string{res.Code}
			}
			return msg, aud, true
		case strings.HasPrefix(t, "org.user."):
			aud := live.Audience{Perm: httpapi.PermUserRead}
			if res.DeptID != nil {
				aud.DeptIDs = []int64{*res.DeptID}
			}
			if res.ID != 0 {
				aud.UserIDs = []int64{res.ID}
			}
			if t == CmdUserSetPassword {
				msg.Data = nil
			}
			return msg, aud, true
		case t == CmdSettingsUpdate:
			return msg, live.Audience{Public: true}, true
		}
		return live.Message{}, live.Audience{}, false
	})
}
