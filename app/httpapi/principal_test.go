package httpapi

import (
	"slices"
	"testing"
)

func TestScopeFilter(t *testing.T) {
	tests := []struct {
		name  string
		p     *Principal
		cols  ScopeColumns
		want  string
		nargs int
	}{
		{"all", &Principal{Scope: Scope{Kind: ScopeAll}}, ScopeColumns{Dept: "d"}, "1=1", 0},
		{"dept tree", &Principal{UserID: 4, Scope: Scope{Kind: ScopeDeptTree, DeptIDs: []int64{3, 5}}}, ScopeColumns{Dept: "d"}, "d IN (?,?)", 2},
		{"dept tree or owner", &Principal{UserID: 4, Scope: Scope{Kind: ScopeDeptTree, DeptIDs: []int64{3}}}, ScopeColumns{Dept: "d", Owner: "o"}, "(d IN (?) OR o = ?)", 2},
		{"dept tree without dept column", &Principal{Scope: Scope{Kind: ScopeDeptTree, DeptIDs: []int64{3}}}, ScopeColumns{Grid: "g"}, "0=1", 0},
		{"grid", &Principal{Scope: Scope{Kind: ScopeGrid, GridPrefix: "139999001"}}, ScopeColumns{Grid: "g"}, `(g >= ? AND g < ?)`, 2},
		{"own", &Principal{UserID: 9, Scope: Scope{Kind: ScopeOwn}}, ScopeColumns{Owner: "o"}, "o = ?", 1},
		{"own without owner", &Principal{UserID: 9, Scope: Scope{Kind: ScopeOwn}}, ScopeColumns{Dept: "d"}, "0=1", 0},
		{"nil principal", nil, ScopeColumns{Dept: "d"}, "0=1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, args := tt.p.ScopeFilter(tt.cols)
			if got != tt.want || len(args) != tt.nargs {
				t.Fatalf("got %q %v, want %q with %d args", got, args, tt.want, tt.nargs)
			}
		})
	}
}

func TestInScope(t *testing.T) {
	h := &Principal{UserID: 4, Scope: Scope{Kind: ScopeDeptTree, DeptIDs: []int64{3, 5}}}
	if !h.InScope(5, "", 0) || h.InScope(6, "", 0) || !h.InScope(6, "", 4) {
		t.Fatal("dept tree scope wrong")
	}
	g := &Principal{UserID: 4, Scope: Scope{Kind: ScopeGrid, GridPrefix: "139999001"}}
	if !g.InScope(0, "13999900100101", 0) || g.InScope(0, "13999900200101", 0) {
		t.Fatal("grid scope wrong")
	}
}

func TestRolePermissions(t *testing.T) {
	admin := PermissionsOf(RoleAdmin)
	for _, p := range []string{PermOrgWrite, PermUserWrite, PermAuditRead, PermSystemAdmin} {
		if !slices.Contains(admin, p) {
			t.Errorf("admin lacks %s", p)
		}
	}
	for _, r := range RoleNames() {
		if r == RoleAdmin {
			continue
		}
		perms := PermissionsOf(r)
		for _, p := range []string{PermOrgWrite, PermUserWrite, PermAuditRead, PermSystemAdmin} {
			if slices.Contains(perms, p) {
				t.Errorf("role %s has admin-only %s", r, p)
			}
		}
		if len(perms) == 0 {
			t.Errorf("role %s has no permission", r)
		}
	}
	if ScopeForRoles([]string{RoleHandler}) != ScopeDeptTree || ScopeForRoles([]string{RoleHandler, RoleLeader}) != ScopeAll ||
		ScopeForRoles([]string{RoleGridWorker}) != ScopeGrid || ScopeForRoles(nil) != ScopeOwn {
		t.Fatal("ScopeForRoles")
	}
}
