package httpapi

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// ScopeKind is the breadth of data a principal may see and change.
type ScopeKind string

// Data scopes.
const (
	// ScopeAll: every record (county-wide roles).
	ScopeAll ScopeKind = "all"
	// ScopeDeptTree: records of the principal's department and the
	// departments below it.
	ScopeDeptTree ScopeKind = "dept_tree"
	// ScopeGrid: records located in the principal's grid (code prefix).
	ScopeGrid ScopeKind = "grid"
	// ScopeOwn: only records the principal created or is assigned.
	ScopeOwn ScopeKind = "own"
)

// Scope is a resolved data scope.
type Scope struct {
	Kind ScopeKind `json:"kind"`
	// DeptIDs is the department subtree (root first) for ScopeDeptTree.
	DeptIDs []int64 `json:"dept_ids,omitempty"`
	// GridPrefix is the grid code prefix for ScopeGrid.
	GridPrefix string `json:"grid_prefix,omitempty"`
}

// Principal is the authenticated caller of a request.
type Principal struct {
	UserID      int64    `json:"user_id"`
	Username    string   `json:"username"`
	Name        string   `json:"name"`
	Roles       []string `json:"roles"`
	Permissions []string `json:"permissions"`
	DeptID      int64    `json:"dept_id,omitempty"`
	GridCode    string   `json:"grid_code,omitempty"`
	Scope       Scope    `json:"scope"`
	// TokenID identifies the session or API token used.
	TokenID int64 `json:"-"`
	// TokenKind is "session" or "api".
	TokenKind string `json:"token_kind"`
	// ViaCookie is true when the request authenticated with the session
	// cookie (browser); unsafe methods then require a same-origin request.
	ViaCookie bool `json:"-"`
	// System names a non-user caller (e.g. "cli" for the local admin key of
	// the yiwang command on the server's own machine); Actor then reports
	// "system:<name>".
	System string `json:"system,omitempty"`

	perms map[string]bool
}

// index builds the permission set from Permissions.
func (p *Principal) index() {
	if p.perms != nil {
		return
	}
	p.perms = make(map[string]bool, len(p.Permissions))
	for _, x := range p.Permissions {
		p.perms[x] = true
	}
}

// Actor is the command actor string for this principal ("user:12").
func (p *Principal) Actor() string {
	if p == nil {
		return "anonymous"
	}
	if p.System != "" {
		return "system:" + p.System
	}
	return "user:" + strconv.FormatInt(p.UserID, 10)
}

// Can tells whether the principal holds permission perm.
func (p *Principal) Can(perm string) bool {
	if p == nil {
		return false
	}
	p.index()
	return p.perms[perm]
}

// HasRole tells whether the principal has role.
func (p *Principal) HasRole(role string) bool {
	return p != nil && slices.Contains(p.Roles, role)
}

// ScopeColumns names the columns of a table that locate a record for data
// scope. An empty name means the table has no such column; a scope that needs
// it then matches nothing.
type ScopeColumns struct {
	Dept  string // department id column
	Grid  string // grid code column
	Owner string // creating / assigned user id column
}

// ScopeFilter returns a SQL boolean expression (with ? placeholders) that
// restricts a query to the principal's data scope, for use in WHERE:
//
//	cond, args := p.ScopeFilter(httpapi.ScopeColumns{Dept: "c.dept_id", Owner: "c.created_by"})
//	rows, err := db.QueryContext(ctx, "SELECT ... WHERE "+cond, args...)
//
// Column names are trusted code, never user input. A nil principal matches
// nothing.
func (p *Principal) ScopeFilter(c ScopeColumns) (string, []any) {
	if p == nil {
		return "0=1", nil
	}
	switch p.Scope.Kind {
	case ScopeAll:
		return "1=1", nil
	case ScopeDeptTree:
		if c.Dept == "" || len(p.Scope.DeptIDs) == 0 {
			return p.ownFilter(c)
		}
		var b strings.Builder
		args := make([]any, 0, len(p.Scope.DeptIDs))
		b.WriteString(c.Dept + " IN (")
		for i, id := range p.Scope.DeptIDs {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
			args = append(args, id)
		}
		b.WriteByte(')')
		if c.Owner != "" {
			return "(" + b.String() + " OR " + c.Owner + " = ?)", append(args, p.UserID)
		}
		return b.String(), args
	case ScopeGrid:
		if c.Grid == "" || p.Scope.GridPrefix == "" {
			return p.ownFilter(c)
		}
		// A range over the code, not LIKE 'prefix%', so an index on the
		// grid column is used (LIKE uses one only on NOCASE columns).
		lo, hi := PrefixRange(p.Scope.GridPrefix)
		cond := "(" + c.Grid + " >= ? AND " + c.Grid + " < ?)"
		args := []any{lo, hi}
		if c.Owner != "" {
			return "(" + cond + " OR " + c.Owner + " = ?)", append(args, p.UserID)
		}
		return cond, args
	default:
		return p.ownFilter(c)
	}
}

func (p *Principal) ownFilter(c ScopeColumns) (string, []any) {
	if c.Owner == "" {
		return "0=1", nil
	}
	return c.Owner + " = ?", []any{p.UserID}
}

// InScope is the single-record form of ScopeFilter, for checks before a
// write: deptID, gridCode and ownerID locate the record (zero values when the
// record has no such attribute).
func (p *Principal) InScope(deptID int64, gridCode string, ownerID int64) bool {
	if p == nil {
		return false
	}
	if ownerID != 0 && ownerID == p.UserID {
		return true
	}
	switch p.Scope.Kind {
	case ScopeAll:
		return true
	case ScopeDeptTree:
		return deptID != 0 && slices.Contains(p.Scope.DeptIDs, deptID)
	case ScopeGrid:
		return p.Scope.GridPrefix != "" && gridCode != "" && strings.HasPrefix(gridCode, p.Scope.GridPrefix)
	default:
		return false
	}
}

// InDeptScope tells whether a department is visible to the principal.
func (p *Principal) InDeptScope(deptID int64) bool { return p.InScope(deptID, "", 0) }

// EscapeLike escapes %, _ and \ for a LIKE pattern with ESCAPE '\'.
func EscapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	if p != nil {
		p.index()
	}
	return context.WithValue(ctx, ctxKey{}, p)
}

// PrincipalFrom returns the principal in ctx, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(ctxKey{}).(*Principal)
	return p
}

// MustPrincipal returns the request's principal. On routes that are not
// Public the router guarantees one; on Public routes it may be nil.
func MustPrincipal(r *http.Request) *Principal {
	return PrincipalFrom(r.Context())
}

// Freeze prepares p for sharing between goroutines (builds its permission
// index). Authenticators that cache principals call it before caching.
func (p *Principal) Freeze() *Principal {
	p.index()
	return p
}
