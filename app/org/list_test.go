package org

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/yiwang/yiwang/app/httpapi"
)

// TestUserListPastCountCap: with more users than httpapi.CountCap, the
// deferred-join page returns the same rows as a plain walk, broad filters
// answer a capped total flagged total_capped, narrow ones an exact total,
// and the role filter follows role changes and deletions (org_user_role
// kept by triggers).
func TestUserListPastCountCap(t *testing.T) {
	e := newEnv(t)
	var lo LoginOutput
	e.must("POST", "/api/setup", "", SetupInput{CountyName: "示范县", CountyCode: "139999", Username: "root", Password: "correct-horse-9"}, 201, &lo)
	admin := lo.Token
	ctx := context.Background()
	n := httpapi.CountCap + 500
	for i := 0; i < n; i += 2500 {
		users := make([]UserInput, min(2500, n-i))
		for j := range users {
			k := i + j
			role := httpapi.RoleViewer
			if k%1000 == 7 {
				role = httpapi.RoleOperator
			}
			users[j] = UserInput{Username: fmt.Sprintf("u%06d", k), Name: fmt.Sprintf("用户%06d", (k*7919)%n), Roles: []string{role}}
		}
		if err := e.m.ImportUsersUnhashed(ctx, "system:test", users); err != nil {
			t.Fatal(err)
		}
	}
	type page = httpapi.Page[User]
	get := func(path string) page {
		t.Helper()
		var p page
		e.must("GET", path, admin, nil, 200, &p)
		return p
	}
	usernames := func(p page) []string {
		var out []string
		for _, u := range p.Items {
			out = append(out, u.Username)
		}
		return out
	}

	// Unfiltered: the counter's exact total; deep pages line up.
	all := get("/api/v1/users?limit=3&offset=10000")
	if all.Total != n+1 || all.TotalCapped || len(all.Items) != 3 {
		t.Fatalf("deep page: total %d capped %v items %d", all.Total, all.TotalCapped, len(all.Items))
	}
	prev := get("/api/v1/users?limit=2&offset=9999")
	if got, want := usernames(prev)[1], usernames(all)[0]; got != want {
		t.Fatalf("offset 10000 starts at %s, offset 9999's second row is %s", want, got)
	}
	// Pages in the second half are read from the other end: they must be
	// the mirror of the reversed order's pages.
	tail := get(fmt.Sprintf("/api/v1/users?limit=5&offset=%d", n-1))
	if len(tail.Items) != 2 || tail.Items[0].ID > tail.Items[1].ID {
		t.Fatalf("last page: %v", usernames(tail))
	}
	fwd := usernames(get("/api/v1/users?limit=4&offset=9000&sort=name"))
	back := usernames(get(fmt.Sprintf("/api/v1/users?limit=4&offset=%d&sort=-name", n+1-9004)))
	slices.Reverse(back)
	if !slices.Equal(fwd, back) {
		t.Fatalf("sort=name offset 9000: %v, mirrored %v", fwd, back)
	}
	byName := get("/api/v1/users?limit=20&offset=5000&sort=name")
	if !slices.IsSortedFunc(byName.Items, func(a, b User) int { return strings.Compare(a.Name, b.Name) }) || len(byName.Items) != 20 {
		t.Fatalf("sort=name page not sorted: %v", usernames(byName))
	}
	desc := get("/api/v1/users?limit=5&sort=-id")
	if desc.Items[0].ID < desc.Items[4].ID {
		t.Fatalf("sort=-id: %v", usernames(desc))
	}

	// Broad filter: capped total, flagged; beyond the cap the total is at
	// least the page's end.
	broad := get("/api/v1/users?q=u&limit=10")
	if !broad.TotalCapped || broad.Total != httpapi.CountCap || len(broad.Items) != 10 {
		t.Fatalf("broad search: total %d capped %v", broad.Total, broad.TotalCapped)
	}
	far := get("/api/v1/users?q=u&limit=10&offset=10200")
	if !far.TotalCapped || far.Total != 10210 {
		t.Fatalf("broad search past the cap: total %d capped %v", far.Total, far.TotalCapped)
	}
	last := get("/api/v1/users?q=u&limit=100&offset=10450")
	if last.TotalCapped || last.Total != n || len(last.Items) != 50 {
		t.Fatalf("last page of a broad search: total %d capped %v items %d", last.Total, last.TotalCapped, len(last.Items))
	}
	// A broad role (EXISTS form) pages in id order like the plain list.
	viewers := get("/api/v1/users?role=viewer&limit=5&offset=6")
	if !viewers.TotalCapped || viewers.Total != httpapi.CountCap || usernames(viewers)[0] != "u000006" || usernames(viewers)[1] != "u000008" {
		t.Fatalf("broad role: total %d capped %v %v", viewers.Total, viewers.TotalCapped, usernames(viewers))
	}
	// Narrow filters: exact.
	if p := get("/api/v1/users?q=u00012&limit=5"); p.Total != 10 || p.TotalCapped || usernames(p)[0] != "u000120" {
		t.Fatalf("prefix search: total %d %v", p.Total, usernames(p))
	}
	ops := get("/api/v1/users?role=operator&limit=500")
	if ops.Total != 11 || ops.TotalCapped {
		t.Fatalf("role filter: total %d", ops.Total)
	}
	for _, u := range ops.Items {
		if !slices.Contains(u.Roles, httpapi.RoleOperator) {
			t.Fatalf("role filter returned %s with %v", u.Username, u.Roles)
		}
	}
	// Role changes and deletions reach the filter.
	id := ops.Items[0].ID
	e.must("PATCH", fmt.Sprintf("/api/v1/users/%d", id), admin, map[string]any{"roles": []string{"viewer", "leader"}}, 200, nil)
	if p := get("/api/v1/users?role=operator"); p.Total != 10 {
		t.Fatalf("after a role change: %d operators", p.Total)
	}
	if p := get("/api/v1/users?role=leader"); p.Total != 1 || p.Items[0].ID != id {
		t.Fatalf("after a role change: leaders %v", usernames(p))
	}
	e.must("DELETE", fmt.Sprintf("/api/v1/users/%d", id), admin, nil, 204, nil)
	if p := get("/api/v1/users?role=leader"); p.Total != 0 {
		t.Fatalf("after a deletion: leaders %v", usernames(p))
	}
	// The last administrator is still protected (counted through org_user_role).
	var me Me
	e.must("GET", "/api/v1/me", admin, nil, 200, &me)
	e.must("PATCH", fmt.Sprintf("/api/v1/users/%d", me.ID), admin, map[string]any{"roles": []string{"viewer"}}, 409, nil)
	if p := get("/api/v1/users?role=admin"); p.Total != 1 {
		t.Fatalf("admins %v", usernames(p))
	}
	if p := get("/api/v1/users?disabled=true"); p.Total != 0 {
		t.Fatalf("disabled %v", usernames(p))
	}
}
