package org

import (
	"encoding/json"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
)

// DepartmentInput creates a department.
type DepartmentInput struct {
	ParentID *int64 `json:"parent_id"`
	Name     string `json:"name"`
	Kind     string `json:"kind,omitempty" doc:"county, bureau (委办局), township (乡镇街道), unit; default bureau"`
	Code     string `json:"code,omitempty"`
	Phone    string `json:"phone,omitempty"`
	Sort     int    `json:"sort,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *DepartmentInput) Validate() error {
	var v httpapi.Validator
	in.check(&v)
	return v.Err()
}

func (in *DepartmentInput) check(v *httpapi.Validator) {
	if in.Kind == "" {
		in.Kind = KindBureau
	}
	v.Text("name", in.Name, 1, 64)
	v.OneOf("kind", in.Kind, KindCounty, KindBureau, KindTownship, KindUnit)
	v.Text("code", in.Code, 0, 32)
	v.Phone("phone", in.Phone)
	v.Range("sort", int64(in.Sort), -1_000_000, 1_000_000)
	if in.ParentID != nil {
		v.Check(*in.ParentID > 0, "parent_id", "must be a department id")
	}
}

// DepartmentPatch changes a department; absent fields are unchanged.
// parent_id 0 moves the department to the top level.
type DepartmentPatch struct {
	ParentID *int64  `json:"parent_id,omitempty"`
	Name     *string `json:"name,omitempty"`
	Kind     *string `json:"kind,omitempty"`
	Code     *string `json:"code,omitempty"`
	Phone    *string `json:"phone,omitempty"`
	Sort     *int    `json:"sort,omitempty"`
}

// Validate implements httpapi.Validatable.
func (p *DepartmentPatch) Validate() error {
	var v httpapi.Validator
	if p.Name != nil {
		v.Text("name", *p.Name, 1, 64)
	}
	if p.Kind != nil {
		v.OneOf("kind", *p.Kind, KindCounty, KindBureau, KindTownship, KindUnit)
	}
	if p.Code != nil {
		v.Text("code", *p.Code, 0, 32)
	}
	if p.Phone != nil {
		v.Phone("phone", *p.Phone)
	}
	if p.Sort != nil {
		v.Range("sort", int64(*p.Sort), -1_000_000, 1_000_000)
	}
	if p.ParentID != nil {
		v.Check(*p.ParentID >= 0, "parent_id", "must be a department id or 0 for the top level")
	}
	return v.Err()
}

// GridInput creates a grid.
type GridInput struct {
	Code     string          `json:"code" doc:"6, 9, 12 or 14 digits; the parent (code minus its last segment) must exist"`
	Name     string          `json:"name"`
	DeptID   *int64          `json:"dept_id,omitempty"`
	Geometry json.RawMessage `json:"geometry,omitempty"`
}

// Validate implements httpapi.Validatable (and normalises the geometry).
func (in *GridInput) Validate() error {
	var v httpapi.Validator
	in.check(&v)
	return v.Err()
}

func (in *GridInput) check(v *httpapi.Validator) {
	if _, _, msg := GridLevelOf(in.Code); msg != "" {
		v.Add("code", msg)
	}
	v.Text("name", in.Name, 1, 64)
	if in.DeptID != nil {
		v.Check(*in.DeptID > 0, "dept_id", "must be a department id")
	}
	if len(in.Geometry) > 0 && string(in.Geometry) != "null" {
		g, err := NormalizeGeometry(in.Geometry)
		if err != nil {
			v.Add("geometry", err.Error())
		} else {
			in.Geometry = g
		}
	} else {
		in.Geometry = nil
	}
}

// GridPatch changes a grid (its code is its identity and never changes).
type GridPatch struct {
	Name     *string         `json:"name,omitempty"`
	DeptID   *int64          `json:"dept_id,omitempty" doc:"0 clears"`
	Geometry json.RawMessage `json:"geometry,omitempty" doc:"null removes the boundary"`
}

// Validate implements httpapi.Validatable.
func (p *GridPatch) Validate() error {
	var v httpapi.Validator
	if p.Name != nil {
		v.Text("name", *p.Name, 1, 64)
	}
	if p.DeptID != nil {
		v.Check(*p.DeptID >= 0, "dept_id", "must be a department id or 0")
	}
	if len(p.Geometry) > 0 && string(p.Geometry) != "null" {
		g, err := NormalizeGeometry(p.Geometry)
		if err != nil {
			v.Add("geometry", err.Error())
		} else {
			p.Geometry = g
		}
	}
	return v.Err()
}

// UserInput creates a user. Password is optional: without it the account
// cannot log in until an administrator sets one.
type UserInput struct {
	Username           string   `json:"username"`
	Name               string   `json:"name"`
	Phone              string   `json:"phone,omitempty"`
	Email              string   `json:"email,omitempty"`
	DeptID             *int64   `json:"dept_id,omitempty"`
	GridCode           string   `json:"grid_code,omitempty"`
	Roles              []string `json:"roles"`
	DataScope          string   `json:"data_scope,omitempty"`
	Password           string   `json:"password,omitempty"`
	MustChangePassword bool     `json:"must_change_password,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *UserInput) Validate() error {
	var v httpapi.Validator
	in.check(&v)
	if in.Password != "" {
		if msg := CheckPasswordPolicy(in.Password, in.Username); msg != "" {
			v.Add("password", msg)
		}
	}
	return v.Err()
}

func (in *UserInput) check(v *httpapi.Validator) {
	v.Username("username", in.Username)
	v.Text("name", in.Name, 1, 64)
	v.Phone("phone", in.Phone)
	v.Email("email", in.Email)
	if in.DeptID != nil {
		v.Check(*in.DeptID > 0, "dept_id", "must be a department id")
	}
	if in.GridCode != "" {
		if _, _, msg := GridLevelOf(in.GridCode); msg != "" {
			v.Add("grid_code", msg)
		}
	}
	validRoles(v, "roles", in.Roles)
	validScope(v, "data_scope", in.DataScope)
}

// UserPatch changes a user; absent fields are unchanged.
type UserPatch struct {
	Name      *string   `json:"name,omitempty"`
	Phone     *string   `json:"phone,omitempty"`
	Email     *string   `json:"email,omitempty"`
	DeptID    *int64    `json:"dept_id,omitempty" doc:"0 clears"`
	GridCode  *string   `json:"grid_code,omitempty" doc:"empty clears"`
	Roles     *[]string `json:"roles,omitempty"`
	DataScope *string   `json:"data_scope,omitempty" doc:"empty: the roles' default"`
	Disabled  *bool     `json:"disabled,omitempty"`
	Unlock    bool      `json:"unlock,omitempty" doc:"clear a lockout after failed logins"`
}

// Validate implements httpapi.Validatable.
func (p *UserPatch) Validate() error {
	var v httpapi.Validator
	if p.Name != nil {
		v.Text("name", *p.Name, 1, 64)
	}
	if p.Phone != nil {
		v.Phone("phone", *p.Phone)
	}
	if p.Email != nil {
		v.Email("email", *p.Email)
	}
	if p.DeptID != nil {
		v.Check(*p.DeptID >= 0, "dept_id", "must be a department id or 0")
	}
	if p.GridCode != nil && *p.GridCode != "" {
		if _, _, msg := GridLevelOf(*p.GridCode); msg != "" {
			v.Add("grid_code", msg)
		}
	}
	if p.Roles != nil {
		validRoles(&v, "roles", *p.Roles)
	}
	if p.DataScope != nil {
		validScope(&v, "data_scope", *p.DataScope)
	}
	return v.Err()
}

// LoginInput is the body of POST /api/v1/auth/login.
type LoginInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Validate implements httpapi.Validatable.
func (in *LoginInput) Validate() error {
	var v httpapi.Validator
	v.Check(in.Username != "" && len(in.Username) <= 64, "username", "is required (at most 64 bytes)")
	v.Check(in.Password != "" && len(in.Password) <= 512, "password", "is required (at most 512 bytes)")
	return v.Err()
}

// LoginOutput answers a successful login.
type LoginOutput struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
	User      Me        `json:"user"`
}

// PasswordChange is the body of POST /api/v1/me/password.
type PasswordChange struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// PasswordSet is the body of POST /api/v1/users/{id}/password (admin).
type PasswordSet struct {
	Password           string `json:"password"`
	MustChangePassword *bool  `json:"must_change_password,omitempty" doc:"default true"`
}

// TokenInput creates an API token.
type TokenInput struct {
	UserID      int64    `json:"user_id"`
	Name        string   `json:"name"`
	Permissions []string `json:"permissions,omitempty" doc:"subset of the user's permissions; empty: all of them"`
	ExpiresDays int      `json:"expires_days,omitempty" doc:"0: never expires"`
}

// Validate implements httpapi.Validatable.
func (in *TokenInput) Validate() error {
	var v httpapi.Validator
	v.Check(in.UserID > 0, "user_id", "is required")
	v.Text("name", in.Name, 1, 64)
	for _, p := range in.Permissions {
		if !httpapi.IsPermission(p) {
			v.Add("permissions", "unknown permission "+p)
		}
	}
	v.Range("expires_days", int64(in.ExpiresDays), 0, 3650)
	return v.Err()
}

// TokenCreated answers token creation; the secret is shown once.
type TokenCreated struct {
	Token
	Secret string `json:"token"`
}

// Me is the current user as GET /api/v1/me shows it.
type Me struct {
	User
	Permissions []string       `json:"permissions"`
	Department  *Department    `json:"department,omitempty"`
	Scope       httpapi.Scope  `json:"scope"`
	TokenKind   string         `json:"token_kind"`
	County      CountySettings `json:"county"`
}

// CountySettings are the county-wide settings.
type CountySettings struct {
	Name string `json:"name"`
	Code string `json:"code,omitempty"`
}

// SetupInput is the first-run form.
type SetupInput struct {
	CountyName string `json:"county_name"`
	CountyCode string `json:"county_code,omitempty"`
	Username   string `json:"username"`
	Name       string `json:"name,omitempty"`
	Password   string `json:"password"`
}

// Validate implements httpapi.Validatable.
func (in *SetupInput) Validate() error {
	var v httpapi.Validator
	v.Text("county_name", in.CountyName, 1, 64)
	if in.CountyCode != "" {
		if lvl, _, msg := GridLevelOf(in.CountyCode); msg != "" || lvl != LevelCounty {
			v.Add("county_code", "must be a 6-digit county code")
		}
	}
	v.Username("username", in.Username)
	v.Text("name", in.Name, 0, 64)
	if msg := CheckPasswordPolicy(in.Password, in.Username); msg != "" {
		v.Add("password", msg)
	}
	return v.Err()
}

// SetupStatus tells the console whether first-run setup is needed.
type SetupStatus struct {
	NeedsSetup bool   `json:"needs_setup"`
	CountyName string `json:"county_name,omitempty"`
	// LocalOnly reminds that setup is accepted from this machine only.
	LocalOnly bool `json:"local_only"`
	// FromLocal tells whether this request came from this machine.
	FromLocal bool `json:"from_local"`
}
