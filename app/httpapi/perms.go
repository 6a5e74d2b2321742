package httpapi

import (
	"fmt"
	"slices"
	"sort"
	"sync"
)

// Built-in roles.
const (
	RoleAdmin      = "admin"       // 系统管理员
	RoleCommander  = "commander"   // 指挥长
	RoleOperator   = "operator"    // 坐席
	RoleHandler    = "handler"     // 部门处置人员
	RoleGridWorker = "grid_worker" // 网格员
	RoleLeader     = "leader"      // 领导
	RoleViewer     = "viewer"      // 访客
	RoleIntegrator = "integrator"  // 集成商 (API token only)
)

// RoleInfo describes a role.
type RoleInfo struct {
	Name  string `json:"name"`
	Title string `json:"title"` // Chinese display name
	// Scope is the default data scope of users holding only this role.
	Scope ScopeKind `json:"scope"`
	// TokenOnly roles cannot log in with a password.
	TokenOnly   bool     `json:"token_only,omitempty"`
	Permissions []string `json:"permissions"`
}

var roleDefs = []RoleInfo{
	{Name: RoleAdmin, Title: "系统管理员", Scope: ScopeAll},
	{Name: RoleCommander, Title: "指挥长", Scope: ScopeAll},
	{Name: RoleOperator, Title: "坐席", Scope: ScopeAll},
	{Name: RoleHandler, Title: "部门处置人员", Scope: ScopeDeptTree},
	{Name: RoleGridWorker, Title: "网格员", Scope: ScopeGrid},
	{Name: RoleLeader, Title: "领导", Scope: ScopeAll},
	{Name: RoleViewer, Title: "访客", Scope: ScopeAll},
	{Name: RoleIntegrator, Title: "集成商", Scope: ScopeAll, TokenOnly: true},
}

// Permission is a named right, granted to roles.
type Permission struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Roles       []string `json:"roles"`
}

var (
	permMu sync.RWMutex
	perms  = map[string]*Permission{}
)

var (
	allInteractive = []string{RoleAdmin, RoleCommander, RoleOperator, RoleHandler, RoleGridWorker, RoleLeader, RoleViewer}
	staff          = []string{RoleAdmin, RoleCommander, RoleOperator, RoleHandler, RoleGridWorker, RoleLeader}
)

// Core permissions. Modules add theirs with DefinePermission.
var (
	PermOrgRead     = DefinePermission("org.read", "查看组织机构与网格", append(slices.Clone(allInteractive), RoleIntegrator)...)
	PermOrgWrite    = DefinePermission("org.write", "管理组织机构与网格", RoleAdmin)
	PermUserRead    = DefinePermission("user.read", "查看用户", RoleAdmin, RoleCommander, RoleOperator, RoleHandler, RoleLeader)
	PermUserWrite   = DefinePermission("user.write", "管理用户", RoleAdmin)
	PermAuditRead   = DefinePermission("audit.read", "查看审计日志", RoleAdmin)
	PermSystemAdmin = DefinePermission("system.admin", "系统管理（备份、令牌、集群）", RoleAdmin)
	PermLive        = DefinePermission("live.subscribe", "接收实时事件", append(slices.Clone(allInteractive), RoleIntegrator)...)

	// Permissions of the domain modules, declared here so the role matrix is
	// in one place; the modules use these names.
	PermCaseRead     = DefinePermission("case.read", "查看案件", append(slices.Clone(allInteractive), RoleIntegrator)...)
	PermCaseCreate   = DefinePermission("case.create", "上报案件", RoleAdmin, RoleCommander, RoleOperator, RoleGridWorker, RoleIntegrator)
	PermCaseDispatch = DefinePermission("case.dispatch", "立案派遣", RoleAdmin, RoleCommander, RoleOperator)
	PermCaseHandle   = DefinePermission("case.handle", "处置反馈", RoleAdmin, RoleCommander, RoleHandler, RoleGridWorker)
	PermCaseClose    = DefinePermission("case.close", "核查结案", RoleAdmin, RoleCommander, RoleOperator)
	PermCaseAssign   = DefinePermission("case.assign", "交办督办", RoleAdmin, RoleCommander, RoleLeader)
	PermIoTRead      = DefinePermission("iot.read", "查看物联感知", append(slices.Clone(allInteractive), RoleIntegrator)...)
	PermIoTWrite     = DefinePermission("iot.write", "管理设备与告警规则", RoleAdmin, RoleIntegrator)
	PermProjectRead  = DefinePermission("project.read", "查看重大项目", append(slices.Clone(staff), RoleViewer, RoleIntegrator)...)
	PermProjectWrite = DefinePermission("project.write", "管理重大项目", RoleAdmin, RoleCommander, RoleHandler)
	PermInvestRead   = DefinePermission("investment.read", "查看招商", append(slices.Clone(staff), RoleViewer)...)
	PermInvestWrite  = DefinePermission("investment.write", "管理招商", RoleAdmin, RoleHandler)
	PermKBRead       = DefinePermission("kb.read", "查询知识库", append(slices.Clone(allInteractive), RoleIntegrator)...)
	PermKBWrite      = DefinePermission("kb.write", "管理知识库", RoleAdmin, RoleOperator)
	PermDashboard    = DefinePermission("dashboard.read", "查看驾驶舱", allInteractive...)
)

// Command-centre screen configuration and duty (值班值守).
var (
	PermDashboardWrite = DefinePermission("dashboard.write", "配置大屏指标", RoleAdmin)
	PermDutyRead       = DefinePermission("duty.read", "值班值守", allInteractive...)
	PermDutyWrite      = DefinePermission("duty.write", "排班、交接班与值班消息", staff...)
)

// DefinePermission declares a permission granted to the given built-in roles
// and returns its name. Call it from a package-level var so the catalogue is
// complete before any request. Defining the same name twice panics.
func DefinePermission(name, description string, roles ...string) string {
	permMu.Lock()
	defer permMu.Unlock()
	if _, dup := perms[name]; dup {
		panic(fmt.Sprintf("httpapi: permission %q defined twice", name))
	}
	for _, r := range roles {
		if !IsRole(r) {
			panic(fmt.Sprintf("httpapi: permission %q granted to unknown role %q", name, r))
		}
	}
	perms[name] = &Permission{Name: name, Description: description, Roles: slices.Clone(roles)}
	return name
}

// IsRole tells whether name is a built-in role.
func IsRole(name string) bool {
	for _, r := range roleDefs {
		if r.Name == name {
			return true
		}
	}
	return false
}

// RoleNames lists the built-in roles.
func RoleNames() []string {
	out := make([]string, len(roleDefs))
	for i, r := range roleDefs {
		out[i] = r.Name
	}
	return out
}

// Role returns a role with its current permission set.
func Role(name string) (RoleInfo, bool) {
	for _, r := range roleDefs {
		if r.Name == name {
			r.Permissions = PermissionsOf(name)
			return r, true
		}
	}
	return RoleInfo{}, false
}

// Roles lists every role with its permissions.
func Roles() []RoleInfo {
	out := make([]RoleInfo, 0, len(roleDefs))
	for _, r := range roleDefs {
		ri, _ := Role(r.Name)
		out = append(out, ri)
	}
	return out
}

// PermissionsOf returns the sorted union of the permissions of roles.
func PermissionsOf(roles ...string) []string {
	permMu.RLock()
	defer permMu.RUnlock()
	set := map[string]bool{}
	for _, p := range perms {
		for _, r := range p.Roles {
			if slices.Contains(roles, r) {
				set[p.Name] = true
			}
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Permissions lists the whole catalogue, sorted by name.
func Permissions() []Permission {
	permMu.RLock()
	defer permMu.RUnlock()
	out := make([]Permission, 0, len(perms))
	for _, p := range perms {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// IsPermission tells whether name is in the catalogue.
func IsPermission(name string) bool {
	permMu.RLock()
	defer permMu.RUnlock()
	_, ok := perms[name]
	return ok
}

// ScopeForRoles is the default data scope for a set of roles: the broadest
// scope any of them has.
func ScopeForRoles(roles []string) ScopeKind {
	rank := map[ScopeKind]int{ScopeOwn: 0, ScopeGrid: 1, ScopeDeptTree: 2, ScopeAll: 3}
	best := ScopeOwn
	for _, name := range roles {
		for _, r := range roleDefs {
			if r.Name == name && rank[r.Scope] > rank[best] {
				best = r.Scope
			}
		}
	}
	return best
}
