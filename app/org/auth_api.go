package org

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

func (m *Module) authRoutes(r *httpapi.Router) {
	tags := []string{"auth"}
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/auth/login", Public: true, Tags: tags,
		Summary:     "Log in with username and password",
		Description: "Returns a session token and sets the HttpOnly yw_session cookie. Failures are audited; " + "after 5 consecutive failures the account is locked for 15 minutes.",
		Request:     LoginInput{}, Response: LoginOutput{}, MaxBody: 4096, Handler: m.login})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/auth/logout", Tags: tags,
		Summary: "Revoke the current session", Handler: m.logout, Status: http.StatusNoContent})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/me", Tags: tags,
		Summary: "The current user with roles, permissions, department and data scope", Response: Me{}, Handler: m.me})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/me/password", Tags: tags,
		Summary: "Change my password (other sessions are revoked)", Request: PasswordChange{}, Status: http.StatusNoContent,
		MaxBody: 4096, Handler: m.changePassword})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/roles", Tags: tags,
		Summary: "Roles and their permissions", Response: []httpapi.RoleInfo{}, Handler: m.roles})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/tokens", Tags: tags, Perm: httpapi.PermSystemAdmin,
		Summary: "List API tokens", Response: httpapi.Page[Token]{}, List: tokenList, Handler: m.listTokens})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/tokens", Tags: tags, Perm: httpapi.PermSystemAdmin,
		Summary: "Create an API token for an integrator (the secret is shown once)", Request: TokenInput{},
		Response: TokenCreated{}, Status: http.StatusCreated, Handler: m.createTokenAPI})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/tokens/{id}", Tags: tags, Perm: httpapi.PermSystemAdmin,
		Summary: "Revoke an API token", Response: Token{}, Handler: m.revokeToken})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/setup/status", Public: true, Tags: []string{"setup"},
		Summary: "Whether first-run setup is needed", Response: SetupStatus{}, Handler: m.setupStatus})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/setup", Public: true, Tags: []string{"setup"},
		Summary:     "First-run setup: county name and the administrator (from this machine only)",
		Description: "Accepted only while no administrator exists and only from a loopback address.",
		Request:     SetupInput{}, Response: LoginOutput{}, Status: http.StatusCreated, MaxBody: 4096, Handler: m.setup})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/settings", Tags: []string{"settings"},
		Summary: "County settings", Response: CountySettings{}, Handler: m.getSettings})
	r.Handle(httpapi.Route{Method: "PUT", Path: "/api/v1/settings", Tags: []string{"settings"}, Perm: httpapi.PermOrgWrite,
		Summary: "Change county settings", Request: CountySettings{}, Response: CountySettings{}, Handler: m.putSettings})
}

func remoteIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

var errBadLogin = &store.Error{Code: "unauthorized", Message: "invalid username or password"}

type loginUser struct {
	id          int64
	username    string
	hash        string
	roles       []string
	disabled    bool
	lockedUntil time.Time
}

func (m *Module) login(w http.ResponseWriter, r *http.Request) error {
	var in LoginInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	out, err := m.Login(r.Context(), in.Username, in.Password, remoteIP(r))
	if err != nil {
		return err
	}
	setSessionCookie(w, r, out.Token, out.ExpiresAt)
	return httpapi.JSON(w, http.StatusOK, out)
}

// Login checks a password and opens a session. Every outcome is recorded as
// a command (auth.login or auth.login_failed), so failures count towards the
// lockout on every node and survive restarts.
func (m *Module) Login(ctx context.Context, username, password, ip string) (*LoginOutput, error) {
	var u loginUser
	var roles, locked string
	err := m.st.DB().QueryRowContext(ctx, `SELECT id, username, password_hash, roles, disabled, locked_until FROM org_user WHERE username = ?`,
		username).Scan(&u.id, &u.username, &u.hash, &roles, &u.disabled, &locked)
	fail := func(userID int64, reason string, ret error) error {
		var res loginFailedResult
		actor := "anonymous"
		if userID != 0 {
			actor = actorOfUser(userID)
		}
		if err := m.applyAs(ctx, actor, CmdLoginFailed, loginFailedPayload{UserID: userID, Username: username, Reason: reason, IP: ip}, &res); err != nil {
			return err
		}
		if !res.LockedUntil.IsZero() {
			return &store.Error{Code: httpapi.CodeTooManyRequests, Message: "too many failed logins: account locked until " + res.LockedUntil.In(httpapi.ChinaTime).Format("2006-01-02 15:04:05")}
		}
		return ret
	}
	if errors.Is(err, sql.ErrNoRows) {
		CheckPassword(dummyHash, password)
		return nil, fail(0, "unknown_user", errBadLogin)
	}
	if err != nil {
		return nil, err
	}
	u.roles = splitRoles(roles)
	u.lockedUntil = httpapi.ParseDBTime(locked)
	now := time.Now()
	if now.Before(u.lockedUntil) {
		return nil, fail(u.id, "locked", &store.Error{Code: httpapi.CodeTooManyRequests,
			Message: "too many failed logins: account locked until " + u.lockedUntil.In(httpapi.ChinaTime).Format("2006-01-02 15:04:05")})
	}
	if u.hash == "" {
		CheckPassword(dummyHash, password)
		return nil, fail(u.id, "no_password", errBadLogin)
	}
	if !CheckPassword(u.hash, password) {
		return nil, fail(u.id, "password", errBadLogin)
	}
	if u.disabled {
		return nil, fail(u.id, "disabled", &store.Error{Code: "forbidden", Message: "account is disabled"})
	}
	if len(u.roles) > 0 && !slices.ContainsFunc(u.roles, func(r string) bool {
		ri, _ := httpapi.Role(r)
		return !ri.TokenOnly
	}) {
		return nil, fail(u.id, "token_only", &store.Error{Code: "forbidden", Message: "this account uses API tokens and cannot log in"})
	}
	token, hash := newToken(sessionPrefix)
	exp := now.Add(SessionTTL)
	if err := m.applyAs(ctx, actorOfUser(u.id), CmdLogin, loginPayload{UserID: u.id, Username: u.username, TokenHash: hash, ExpiresAt: exp, IP: ip}, nil); err != nil {
		return nil, err
	}
	p, err := m.principalForToken(ctx, hash)
	if err != nil {
		return nil, err
	}
	me, err := m.meOf(ctx, p)
	if err != nil {
		return nil, err
	}
	return &LoginOutput{Token: token, ExpiresAt: exp, User: *me}, nil
}

func setSessionCookie(w http.ResponseWriter, r *http.Request, token string, exp time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: SessionCookie, Value: token, Path: "/", Expires: exp, MaxAge: int(time.Until(exp).Seconds()),
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode,
	})
}

func (m *Module) logout(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	if p.TokenKind == "session" {
		if err := m.apply(r, CmdLogout, idPayload{ID: p.TokenID}, nil); err != nil {
			return err
		}
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	return httpapi.NoContent(w)
}

func (m *Module) me(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	me, err := m.meOf(r.Context(), p)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, me)
}

func (m *Module) meOf(ctx context.Context, p *httpapi.Principal) (*Me, error) {
	me := &Me{Permissions: p.Permissions, Scope: p.Scope, TokenKind: p.TokenKind}
	if p.Permissions == nil {
		me.Permissions = []string{}
	}
	if p.System != "" {
		me.User = User{Username: p.Username, Name: p.Name, Roles: p.Roles}
	} else {
		u, err := userByID(m.st.DB(), p.UserID)
		if err != nil {
			return nil, err
		}
		me.User = *u
		if u.DeptID != nil {
			if d, err := deptByID(m.st.DB(), *u.DeptID); err == nil {
				me.Department = d
			}
		}
	}
	s, err := m.Settings(ctx)
	if err != nil {
		return nil, err
	}
	me.County = s
	return me, nil
}

func (m *Module) changePassword(w http.ResponseWriter, r *http.Request) error {
	p := httpapi.MustPrincipal(r)
	var in PasswordChange
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if p.System != "" || p.TokenKind != "session" {
		return store.Errorf("forbidden", "only a logged-in user can change their password")
	}
	var hash string
	if err := m.st.DB().QueryRowContext(r.Context(), `SELECT password_hash FROM org_user WHERE id = ?`, p.UserID).Scan(&hash); err != nil {
		return notFound("user", p.UserID, err)
	}
	if !CheckPassword(hash, in.OldPassword) {
		return &store.Error{Code: "invalid", Message: "old_password: is wrong", Fields: map[string]string{"old_password": "is wrong"}}
	}
	if msg := CheckPasswordPolicy(in.NewPassword, p.Username); msg != "" {
		return httpapi.FieldError("new_password", msg)
	}
	if in.NewPassword == in.OldPassword {
		return httpapi.FieldError("new_password", "must differ from the old password")
	}
	newHash, err := HashPassword(in.NewPassword)
	if err != nil {
		return err
	}
	if err := m.apply(r, CmdUserSetPassword, setPasswordPayload{ID: p.UserID, PasswordHash: newHash, KeepTokenID: p.TokenID}, nil); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}

func (m *Module) roles(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, http.StatusOK, httpapi.Roles())
}

var tokenList = &httpapi.ListSpec{
	Sort:        map[string]string{"id": "t.id", "created_at": "t.created_at", "name": "t.name"},
	DefaultSort: "-id", Tiebreak: "t.id",
	Filters: map[string]httpapi.Filter{
		"user_id": {Column: "t.user_id", Kind: httpapi.FilterInt},
		"kind":    {Column: "t.kind", Kind: httpapi.FilterString, Doc: "session or api"},
		"active": {Kind: httpapi.FilterBool, Func: func(v string) (string, []any, error) {
			switch v {
			case "true", "1":
				return "t.revoked_at = '' AND (t.expires_at = '' OR t.expires_at > ?)", []any{httpapi.FormatDBTime(time.Now())}, nil
			case "false", "0":
				return "(t.revoked_at != '' OR (t.expires_at != '' AND t.expires_at <= ?))", []any{httpapi.FormatDBTime(time.Now())}, nil
			}
			return "", nil, errors.New("must be true or false")
		}},
	},
}

func (m *Module) listTokens(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, tokenList)
	if err != nil {
		return err
	}
	from := ` FROM org_token t JOIN org_user u ON u.id = t.user_id `
	return listPage(r.Context(), m.st.DB(), w, &q, `SELECT `+tokenCols+from, `SELECT count(*)`+from, scanToken)
}

func (m *Module) createTokenAPI(w http.ResponseWriter, r *http.Request) error {
	var in TokenInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	out, err := m.CreateToken(r.Context(), httpapi.MustPrincipal(r).Actor(), in)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, out)
}

// CreateToken creates an API token; the secret is returned once and only
// its hash is stored.
func (m *Module) CreateToken(ctx context.Context, actor string, in TokenInput) (*TokenCreated, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	secret, hash := newToken(apiPrefix)
	p := tokenCreatePayload{UserID: in.UserID, Kind: "api", Name: in.Name, Permissions: in.Permissions, TokenHash: hash}
	if in.ExpiresDays > 0 {
		p.ExpiresAt = time.Now().Add(time.Duration(in.ExpiresDays) * 24 * time.Hour)
	}
	var t Token
	if err := m.applyAs(ctx, actor, CmdTokenCreate, p, &t); err != nil {
		return nil, err
	}
	return &TokenCreated{Token: t, Secret: secret}, nil
}

func (m *Module) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id, err := httpapi.PathInt64(r, "id")
	if err != nil {
		return err
	}
	var t Token
	if err := m.apply(r, CmdTokenRevoke, idPayload{ID: id}, &t); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, t)
}

// ---- first run ----

// NeedsSetup tells whether no enabled administrator exists.
func (m *Module) NeedsSetup(ctx context.Context) (bool, error) {
	// Through org_user_role: /api/health asks this on every call, and a
	// LIKE over the roles of a million accounts took a second.
	var n int
	err := m.st.DB().QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM org_user_role r JOIN org_user u ON u.id = r.user_id
		WHERE r.role = 'admin' AND u.disabled = 0)`).Scan(&n)
	return n == 0, err
}

func (m *Module) setupStatus(w http.ResponseWriter, r *http.Request) error {
	needs, err := m.NeedsSetup(r.Context())
	if err != nil {
		return err
	}
	s, err := m.Settings(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, SetupStatus{NeedsSetup: needs, CountyName: s.Name, LocalOnly: true, FromLocal: httpapi.IsLoopback(r)})
}

func (m *Module) setup(w http.ResponseWriter, r *http.Request) error {
	if !httpapi.IsLoopback(r) {
		return store.Errorf("forbidden", "first-run setup is accepted from this machine only (http://127.0.0.1)")
	}
	var in SetupInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if _, err := m.Setup(r.Context(), "system:setup", in, true); err != nil {
		return err
	}
	out, err := m.Login(r.Context(), in.Username, in.Password, remoteIP(r))
	if err != nil {
		return err
	}
	setSessionCookie(w, r, out.Token, out.ExpiresAt)
	return httpapi.JSON(w, http.StatusCreated, out)
}

// Setup stores the county settings and creates an administrator. With
// onlyIfNoAdmin it refuses once an administrator exists (first run).
func (m *Module) Setup(ctx context.Context, actor string, in SetupInput, onlyIfNoAdmin bool) (*User, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	var u User
	err = m.applyAs(ctx, actor, CmdSetup, setupPayload{CountyName: in.CountyName, CountyCode: in.CountyCode,
		Username: in.Username, Name: in.Name, PasswordHash: hash, OnlyIfNoAdmin: onlyIfNoAdmin}, &u)
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// CreateAdmin creates an administrator account (yiwang admin create).
func (m *Module) CreateAdmin(ctx context.Context, actor, username, password string) (*User, error) {
	var v httpapi.Validator
	v.Username("user", username)
	if msg := CheckPasswordPolicy(password, username); msg != "" {
		v.Add("password", msg)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return nil, err
	}
	in := UserInput{Username: username, Name: "系统管理员", Roles: []string{httpapi.RoleAdmin}}
	var u User
	if err := m.applyAs(ctx, actor, CmdUserCreate, userCreatePayload{UserInput: in, PasswordHash: hash}, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// Settings reads the county settings.
func (m *Module) Settings(ctx context.Context) (CountySettings, error) {
	var s CountySettings
	rows, err := m.st.DB().QueryContext(ctx, `SELECT key, value FROM org_setting WHERE key IN ('county_name', 'county_code')`)
	if err != nil {
		return s, err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return s, err
		}
		if k == "county_name" {
			s.Name = v
		} else {
			s.Code = v
		}
	}
	return s, rows.Err()
}

func (m *Module) getSettings(w http.ResponseWriter, r *http.Request) error {
	s, err := m.Settings(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, s)
}

func (m *Module) putSettings(w http.ResponseWriter, r *http.Request) error {
	var in CountySettings
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	var v httpapi.Validator
	v.Text("name", in.Name, 1, 64)
	if in.Code != "" {
		if lvl, _, msg := GridLevelOf(in.Code); msg != "" || lvl != LevelCounty {
			v.Add("code", "must be a 6-digit county code")
		}
	}
	if err := v.Err(); err != nil {
		return err
	}
	var out CountySettings
	if err := m.apply(r, CmdSettingsUpdate, in, &out); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}
