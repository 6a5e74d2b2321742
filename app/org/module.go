package org

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

// Options configure the module.
type Options struct {
	Logf func(format string, args ...any)
	// LocalKey, when set, is a secret the yiwang command on this machine
	// presents (as a Bearer token, from loopback only) to act as the
	// system administrator; the server writes it to its data dir at start.
	LocalKey string
}

// Module is the org module: departments, grids, users, roles, sessions and
// API tokens. It is also the httpapi.Authenticator.
type Module struct {
	opts Options
	st   *store.Store

	mu     sync.Mutex
	cache  map[string]cacheEntry
	cancel func()
}

type cacheEntry struct {
	p   *httpapi.Principal
	exp time.Time
}

// principalTTL bounds how long a resolved principal is reused; every org
// event also clears the cache.
const principalTTL = 30 * time.Second

var (
	_ httpapi.Module        = (*Module)(nil)
	_ httpapi.Starter       = (*Module)(nil)
	_ httpapi.Authenticator = (*Module)(nil)
)

// New returns the module.
func New(opts Options) *Module {
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	return &Module{opts: opts, cache: map[string]cacheEntry{}}
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "org" }

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	m.st = st
	m.register(st)
}

// Start subscribes to the module's own events to keep the principal cache
// coherent on every node (followers included).
func (m *Module) Start(ctx context.Context) error {
	cancel := m.st.Subscribe("org.auth-cache", m.st.AppliedIndex(), func(ev store.Event) {
		t := ev.Cmd.Type
		if t == CmdLogin || t == CmdLoginFailed || t == CmdTokenCreate {
			return // these never change an existing principal
		}
		if strings.HasPrefix(t, "org.") || strings.HasPrefix(t, "auth.") {
			m.invalidate()
		}
	})
	m.mu.Lock()
	m.cancel = cancel
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		cancel()
	}()
	return nil
}

// Stop implements httpapi.Stopper.
func (m *Module) Stop() error {
	m.mu.Lock()
	c := m.cancel
	m.mu.Unlock()
	if c != nil {
		c()
	}
	return nil
}

func (m *Module) invalidate() {
	m.mu.Lock()
	clear(m.cache)
	m.mu.Unlock()
}

// Store returns the store the module writes through.
func (m *Module) Store() *store.Store { return m.st }

// Authenticate implements httpapi.Authenticator: a Bearer token or the
// yw_session cookie.
func (m *Module) Authenticate(r *http.Request) (*httpapi.Principal, error) {
	token, viaCookie := credentials(r)
	if token == "" {
		return nil, nil
	}
	if m.opts.LocalKey != "" && subtle.ConstantTimeCompare([]byte(token), []byte(m.opts.LocalKey)) == 1 {
		if !httpapi.IsLoopback(r) {
			return nil, httpapi.ErrUnauthorized
		}
		return localAdmin, nil
	}
	if !strings.HasPrefix(token, sessionPrefix) && !strings.HasPrefix(token, apiPrefix) || len(token) > 100 {
		return nil, &store.Error{Code: "unauthorized", Message: "invalid token"}
	}
	p, err := m.principalForToken(r.Context(), tokenHash(token))
	if err == errBadToken && !m.st.IsLeader() {
		// A session created a moment ago through another node (login
		// there, next request here) may not be applied on this follower
		// yet: catch up with the leader once and look again.
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		if m.st.ConsistentRead(ctx) == nil {
			p, err = m.principalForToken(r.Context(), tokenHash(token))
		}
		cancel()
	}
	if err != nil {
		return nil, err
	}
	if viaCookie {
		c := *p
		c.ViaCookie = true
		return &c, nil
	}
	return p, nil
}

// localAdmin is the principal of the local admin key.
var localAdmin = (&httpapi.Principal{
	Username: "local-admin", Name: "本机管理命令", System: "cli",
	Roles: []string{httpapi.RoleAdmin}, Permissions: httpapi.PermissionsOf(httpapi.RoleAdmin),
	Scope: httpapi.Scope{Kind: httpapi.ScopeAll}, TokenKind: "local",
}).Freeze()

// SessionCookie is the name of the console's session cookie.
const SessionCookie = "yw_session"

func credentials(r *http.Request) (token string, viaCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
			return strings.TrimSpace(h[7:]), false
		}
		return "", false
	}
	if c, err := r.Cookie(SessionCookie); err == nil {
		return c.Value, true
	}
	return "", false
}

var errBadToken = &store.Error{Code: "unauthorized", Message: "token is invalid, expired or revoked"}

func (m *Module) principalForToken(ctx context.Context, hash string) (*httpapi.Principal, error) {
	now := time.Now()
	m.mu.Lock()
	e, ok := m.cache[hash]
	m.mu.Unlock()
	if ok && now.Before(e.exp) {
		return e.p, nil
	}
	var (
		tokenID                          int64
		kind, perms, expires, revoked    string
		userID                           int64
		username, name, roles, dataScope string
		dept                             sql.NullInt64
		grid                             string
		disabled                         bool
	)
	err := m.st.DB().QueryRowContext(ctx, `SELECT t.id, t.kind, t.permissions, t.expires_at, t.revoked_at,
		u.id, u.username, u.name, u.roles, u.data_scope, u.dept_id, u.grid_code, u.disabled
		FROM org_token t JOIN org_user u ON u.id = t.user_id WHERE t.hash = ?`, hash).Scan(
		&tokenID, &kind, &perms, &expires, &revoked, &userID, &username, &name, &roles, &dataScope, &dept, &grid, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errBadToken
	}
	if err != nil {
		return nil, err
	}
	exp := httpapi.ParseDBTime(expires)
	if revoked != "" || disabled || (!exp.IsZero() && !now.Before(exp)) {
		return nil, errBadToken
	}
	p := &httpapi.Principal{
		UserID: userID, Username: username, Name: name, Roles: splitRoles(roles),
		GridCode: grid, TokenID: tokenID, TokenKind: kind,
	}
	if dept.Valid {
		p.DeptID = dept.Int64
	}
	p.Permissions = httpapi.PermissionsOf(p.Roles...)
	if kind == "api" && perms != "" {
		want := strings.Split(perms, ",")
		var keep []string
		for _, x := range p.Permissions {
			for _, w := range want {
				if x == w {
					keep = append(keep, x)
				}
			}
		}
		p.Permissions = keep
	}
	if p.Scope, err = m.resolveScope(ctx, p, dataScope); err != nil {
		return nil, err
	}
	p.Freeze()
	cacheUntil := now.Add(principalTTL)
	if !exp.IsZero() && exp.Before(cacheUntil) {
		cacheUntil = exp
	}
	m.mu.Lock()
	if len(m.cache) > 10000 {
		clear(m.cache)
	}
	m.cache[hash] = cacheEntry{p: p, exp: cacheUntil}
	m.mu.Unlock()
	return p, nil
}

// resolveScope turns a user's scope kind into the concrete scope.
func (m *Module) resolveScope(ctx context.Context, p *httpapi.Principal, override string) (httpapi.Scope, error) {
	kind := httpapi.ScopeKind(override)
	if kind == "" {
		kind = httpapi.ScopeForRoles(p.Roles)
	}
	switch kind {
	case httpapi.ScopeAll:
		return httpapi.Scope{Kind: kind}, nil
	case httpapi.ScopeDeptTree:
		if p.DeptID == 0 {
			return httpapi.Scope{Kind: httpapi.ScopeOwn}, nil
		}
		ids, err := m.DeptSubtree(ctx, p.DeptID)
		if err != nil {
			return httpapi.Scope{}, err
		}
		return httpapi.Scope{Kind: kind, DeptIDs: ids}, nil
	case httpapi.ScopeGrid:
		if p.GridCode == "" {
			return httpapi.Scope{Kind: httpapi.ScopeOwn}, nil
		}
		return httpapi.Scope{Kind: kind, GridPrefix: p.GridCode}, nil
	}
	return httpapi.Scope{Kind: httpapi.ScopeOwn}, nil
}

// DeptSubtree returns the id of a department and of every department below
// it, root first.
func (m *Module) DeptSubtree(ctx context.Context, id int64) ([]int64, error) {
	rows, err := m.st.DB().QueryContext(ctx, `SELECT d.id FROM org_department d, org_department r
		WHERE r.id = ? AND substr(d.path, 1, length(r.path)) = r.path ORDER BY length(d.path), d.id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var x int64
		if err := rows.Scan(&x); err != nil {
			return nil, err
		}
		ids = append(ids, x)
	}
	return ids, rows.Err()
}

// apply issues a command as the request's principal and clears the local
// principal cache when the command may change principals.
func (m *Module) apply(r *http.Request, typ string, payload any, out any) error {
	res, err := httpapi.Apply(r, m.st, typ, 1, payload)
	if err != nil {
		return err
	}
	m.invalidateAfter(typ)
	if out != nil {
		return res.Decode(out)
	}
	return nil
}

// applyAs issues a command with an explicit actor (login, CLI).
func (m *Module) applyAs(ctx context.Context, actor, typ string, payload any, out any) error {
	cmd, err := store.NewCommand(typ, 1, payload)
	if err != nil {
		return err
	}
	cmd.Actor = actor
	res, err := m.st.Apply(ctx, cmd)
	if err != nil {
		return err
	}
	m.invalidateAfter(typ)
	if out != nil {
		return res.Decode(out)
	}
	return nil
}

func (m *Module) invalidateAfter(typ string) {
	if typ != CmdLogin && typ != CmdLoginFailed && typ != CmdTokenCreate {
		m.invalidate()
	}
}

func actorOfUser(id int64) string { return "user:" + strconv.FormatInt(id, 10) }
