package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/kb"
)

func init() {
	registerModule("kb", func(a *App) httpapi.Module {
		return kb.New(kb.Options{DataDir: a.Config().Data, Logf: a.Logf, Cases: a.closedCase})
	})
}

// KB is the knowledge-base module (nil if not registered).
func (a *App) KB() *kb.Module {
	for _, m := range a.modules {
		if k, ok := m.(*kb.Module); ok {
			return k
		}
	}
	return nil
}

// closedCase reads a closed case for the knowledge base through the cases
// module's Go API, in the caller's permissions and data scope.
func (a *App) closedCase(ctx context.Context, p *httpapi.Principal, id int64) (*kb.CaseText, error) {
	if !p.Can(httpapi.PermCaseRead) {
		return nil, httpapi.Errorf(httpapi.CodeForbidden, "permission %s required", httpapi.PermCaseRead)
	}
	c, err := a.Cases().Case(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.InScope(c.DeptID, c.GridCode, c.CreatedBy) {
		return nil, httpapi.ErrNotFound
	}
	if c.Open {
		return nil, httpapi.Errorf(httpapi.CodeConflict, "case %d is still open (%s): only closed cases are kept", id, c.StateName)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", c.Title)
	line := func(label, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s：%s\n", label, v)
		}
	}
	line("案件编号", fmt.Sprint(c.ID))
	line("来源", c.Source)
	line("类别", c.CategoryCode)
	line("地址", c.Address)
	if !c.CreatedAt.IsZero() {
		line("受理时间", c.CreatedAt.Format("2006年1月2日"))
	}
	if !c.ClosedAt.IsZero() {
		line("结案时间", c.ClosedAt.Format("2006年1月2日"))
	}
	line("办理结果", c.StateName)
	fmt.Fprintf(&b, "\n基本案情\n\n%s\n", c.Description)
	return &kb.CaseText{Title: c.Title, Text: b.String(), Tags: []string{"一网统管案件"}}, nil
}
