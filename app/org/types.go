package org

import (
	"encoding/json"
	"time"
)

// Department kinds.
const (
	KindCounty   = "county"   // 县委县政府、指挥中心等县级机构
	KindBureau   = "bureau"   // 委办局
	KindTownship = "township" // 乡镇/街道
	KindUnit     = "unit"     // 内设科室、站所、村（社区）
)

// DepartmentKinds lists the kinds with their Chinese names.
var DepartmentKinds = map[string]string{
	KindCounty:   "县级机构",
	KindBureau:   "委办局",
	KindTownship: "乡镇街道",
	KindUnit:     "科室站所",
}

// Department is one node of the department tree.
type Department struct {
	ID        int64     `json:"id"`
	ParentID  *int64    `json:"parent_id"`
	Name      string    `json:"name"`
	Kind      string    `json:"kind"`
	Code      string    `json:"code,omitempty"`
	Phone     string    `json:"phone,omitempty"`
	Sort      int       `json:"sort"`
	Path      string    `json:"path" doc:"ancestor ids, e.g. /1/4/9/"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Grid levels.
const (
	LevelCounty    = 1
	LevelTownship  = 2
	LevelCommunity = 3
	LevelUnit      = 4
)

// Grid is one node of the grid tree.
type Grid struct {
	ID         int64           `json:"id"`
	Code       string          `json:"code"`
	ParentCode string          `json:"parent_code,omitempty"`
	Level      int             `json:"level" doc:"1 county, 2 township, 3 community/village, 4 unit grid"`
	Name       string          `json:"name"`
	DeptID     *int64          `json:"dept_id"`
	Geometry   json.RawMessage `json:"geometry,omitempty" doc:"GeoJSON Polygon or MultiPolygon (WGS84)"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// User is an account (never carries its password hash).
type User struct {
	ID                 int64      `json:"id"`
	Username           string     `json:"username"`
	Name               string     `json:"name"`
	Phone              string     `json:"phone,omitempty"`
	Email              string     `json:"email,omitempty"`
	DeptID             *int64     `json:"dept_id"`
	DeptName           string     `json:"dept_name,omitempty"`
	GridCode           string     `json:"grid_code,omitempty"`
	Roles              []string   `json:"roles"`
	DataScope          string     `json:"data_scope,omitempty" doc:"override of the role's data scope: all, dept_tree, grid, own"`
	Disabled           bool       `json:"disabled"`
	MustChangePassword bool       `json:"must_change_password"`
	HasPassword        bool       `json:"has_password"`
	LockedUntil        *time.Time `json:"locked_until,omitempty"`
	LastLoginAt        *time.Time `json:"last_login_at,omitempty"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
}

// Token is a session or API token (never carries the secret).
type Token struct {
	ID          int64      `json:"id"`
	UserID      int64      `json:"user_id"`
	Username    string     `json:"username,omitempty"`
	Kind        string     `json:"kind" doc:"session or api"`
	Name        string     `json:"name,omitempty"`
	Permissions []string   `json:"permissions,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	RevokedAt   *time.Time `json:"revoked_at,omitempty"`
}
