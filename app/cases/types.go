package cases

import (
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/sla"
)

// Sources of cases.
const (
	SourceStaff   = "staff"   // 坐席/工作人员录入
	SourceGrid    = "grid"    // 网格员上报
	SourceHotline = "hotline" // 12345 热线
	SourceLeader  = "leader"  // 上级交办
	SourceSensor  = "sensor"  // 物联感知告警
	SourceOpen311 = "open311" // Open311 GeoReport v2
)

// SourceNames are the Chinese names of the sources.
var SourceNames = map[string]string{SourceStaff: "坐席录入", SourceGrid: "网格员上报", SourceHotline: "12345热线",
	SourceLeader: "上级交办", SourceSensor: "物联感知", SourceOpen311: "Open311"}

// Case is one case as the API shows it.
type Case struct {
	ID             int64      `json:"id"`
	Title          string     `json:"title"`
	Description    string     `json:"description,omitempty"`
	Source         string     `json:"source"`
	ExternalID     string     `json:"external_id,omitempty" doc:"alarm id, 12345 ticket number, Open311 token"`
	CategoryCode   string     `json:"category_code,omitempty"`
	ConditionID    int64      `json:"condition_id,omitempty"`
	State          string     `json:"state"`
	StateName      string     `json:"state_name"`
	Open           bool       `json:"open"`
	DeptID         int64      `json:"dept_id,omitempty" doc:"responsible department; 0: dispatch centre's queue"`
	GridCode       string     `json:"grid_code,omitempty"`
	TownshipCode   string     `json:"township_code,omitempty"`
	Address        string     `json:"address,omitempty"`
	Lat            float64    `json:"lat,omitempty"`
	Lng            float64    `json:"lng,omitempty"`
	Severity       string     `json:"severity,omitempty"`
	Reporter       string     `json:"reporter,omitempty"`
	ReporterPhone  string     `json:"reporter_phone,omitempty"`
	CreatedBy      int64      `json:"created_by,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	RegisteredAt   time.Time  `json:"registered_at,omitzero"`
	DispatchedAt   time.Time  `json:"dispatched_at,omitzero"`
	FeedbackAt     time.Time  `json:"feedback_at,omitzero"`
	ClosedAt       time.Time  `json:"closed_at,omitzero"`
	HandleDeadline time.Time  `json:"handle_deadline,omitzero" doc:"处置时限 (with approved extensions)"`
	Limit          *sla.Limit `json:"limit,omitempty" doc:"处置时限 of the 立案条件"`
	Stage          string     `json:"stage,omitempty" doc:"timed stage: register, dispatch, handle, verify, close"`
	StageRound     int        `json:"stage_round,omitempty"`
	StageStartedAt time.Time  `json:"stage_started_at,omitzero"`
	StageDeadline  time.Time  `json:"stage_deadline,omitzero"`
	StageUnit      sla.Unit   `json:"stage_unit,omitempty"`
	UrgeAt         time.Time  `json:"urge_at,omitzero"`
	Urged          bool       `json:"urged,omitempty"`
	Supervised     bool       `json:"supervised,omitempty"`
	Extension      *Extension `json:"extension,omitempty" doc:"pending 延期 request"`
	Returns        int        `json:"returns"`
	Reworks        int        `json:"reworks"`
	Reassigns      int        `json:"reassigns"`
	OverdueStages  int        `json:"overdue_stages"`
	MergedInto     int64      `json:"merged_into,omitempty"`
	Score          int        `json:"score,omitempty"`
	Steps          int        `json:"steps"`
	// Computed when read.
	SLAStatus string   `json:"sla_status,omitempty" doc:"ok, warning (临期), overdue (超期)"`
	Remaining string   `json:"remaining,omitempty" doc:"time left in the stage (working time for work units)"`
	Allowed   []string `json:"allowed,omitempty" doc:"actions allowed in the current state"`
}

// Extension is a 延期 request.
type Extension struct {
	Limit       sla.Limit `json:"limit"`
	Reason      string    `json:"reason"`
	RequestedBy string    `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
}

// Step is one timeline entry.
type Step struct {
	ID          int64          `json:"id"`
	CaseID      int64          `json:"case_id"`
	Seq         int            `json:"seq"`
	Action      string         `json:"action"`
	ActionName  string         `json:"action_name"`
	From        string         `json:"from_state"`
	To          string         `json:"to_state"`
	Actor       string         `json:"actor"`
	ActorRole   string         `json:"actor_role,omitempty"`
	At          time.Time      `json:"at"`
	Note        string         `json:"note,omitempty"`
	Reason      string         `json:"reason,omitempty"`
	DeptID      int64          `json:"dept_id,omitempty"`
	Data        map[string]any `json:"data,omitempty"`
	Attachments []Attachment   `json:"attachments,omitempty"`
}

// Attachment is a photo or document; its bytes are in cases_blob.
type Attachment struct {
	ID         int64     `json:"id"`
	CaseID     int64     `json:"case_id,omitempty"`
	StepID     int64     `json:"step_id,omitempty"`
	SHA256     string    `json:"sha256"`
	MIME       string    `json:"mime"`
	Size       int64     `json:"size"`
	Name       string    `json:"name,omitempty"`
	Phase      string    `json:"phase,omitempty" doc:"before (处置前) or after (处置后)"`
	UploadedBy string    `json:"uploaded_by"`
	CreatedAt  time.Time `json:"created_at"`
	URL        string    `json:"url,omitempty"`
}

// Escalation is a recorded 催办 or 督办.
type Escalation struct {
	ID       int64     `json:"id"`
	CaseID   int64     `json:"case_id"`
	Level    string    `json:"level" doc:"urge (催办) or supervise (督办)"`
	Stage    string    `json:"stage"`
	Round    int       `json:"round"`
	At       time.Time `json:"at"`
	Deadline time.Time `json:"deadline"`
	DeptID   int64     `json:"dept_id,omitempty"`
	Actor    string    `json:"actor"`
	Note     string    `json:"note,omitempty"`
}

// Detail is a case with its timeline.
type Detail struct {
	Case
	Steps       []Step       `json:"timeline"`
	Attachments []Attachment `json:"attachments"`
	Escalations []Escalation `json:"escalations"`
}

// Rule is one line of the 权责清单: category × grid → department. An empty
// category or grid prefix matches everything; the most specific rule wins
// (longest grid prefix, then 小类 over 大类 over any).
type Rule struct {
	ID           int64  `json:"id"`
	CategoryCode string `json:"category_code" doc:"小类 or 大类 code; empty: any"`
	GridPrefix   string `json:"grid_prefix" doc:"grid code prefix (township 9 digits, unit grid 14); empty: any"`
	DeptID       int64  `json:"dept_id"`
	Note         string `json:"note,omitempty"`
}

// Validate implements httpapi.Validatable.
func (r *Rule) Validate() error {
	var v httpapi.Validator
	v.Text("category_code", r.CategoryCode, 0, 16)
	v.Text("grid_prefix", r.GridPrefix, 0, 14)
	for _, c := range r.GridPrefix {
		if c < '0' || c > '9' {
			v.Add("grid_prefix", "must be digits")
			break
		}
	}
	v.Check(r.DeptID > 0, "dept_id", "is required")
	v.Text("note", r.Note, 0, 200)
	return v.Err()
}

// Settings are the module's configurable parameters.
type Settings struct {
	// StageLimits are the limits of the stages that are not 处置 (whose
	// limit comes from the 立案条件): register, dispatch, verify, close.
	StageLimits map[string]sla.Limit `json:"stage_limits"`
	// Weights of the composite evaluation score (综合评价).
	Weights Weights `json:"weights"`
	// MergeRadius is how near (metres) a duplicate must be to merge.
	MergeRadius float64 `json:"merge_radius_m"`
	// HandleDefault is the 处置时限 of a case without a 立案条件.
	HandleDefault sla.Limit `json:"handle_default"`
}

// Weights of the composite score; rates are in [0,1], 返工率 and 回退率
// count as (1 - rate).
type Weights struct {
	HandleOnTime float64 `json:"handle_ontime" doc:"按期处置率"`
	CloseOnTime  float64 `json:"close_ontime" doc:"按期结案率"`
	CloseRate    float64 `json:"close_rate" doc:"结案率"`
	Rework       float64 `json:"rework" doc:"返工率 (lower is better)"`
	Return       float64 `json:"return" doc:"回退率 (lower is better)"`
}

// DefaultSettings are used until settings are stored.
func DefaultSettings() Settings {
	return Settings{
		StageLimits: map[string]sla.Limit{
			"register": {Value: 1, Unit: sla.WorkHours},
			"dispatch": {Value: 0.5, Unit: sla.WorkHours},
			"verify":   {Value: 2, Unit: sla.WorkHours},
			"close":    {Value: 1, Unit: sla.WorkHours},
		},
		Weights:       Weights{HandleOnTime: 30, CloseOnTime: 30, CloseRate: 20, Rework: 10, Return: 10},
		MergeRadius:   300,
		HandleDefault: sla.Limit{Value: 2, Unit: sla.WorkDays},
	}
}

// Validate implements httpapi.Validatable.
func (s *Settings) Validate() error {
	var v httpapi.Validator
	for _, st := range []string{"register", "dispatch", "verify", "close"} {
		l, ok := s.StageLimits[st]
		if !ok {
			v.Add("stage_limits."+st, "is required")
			continue
		}
		if msg := l.Check(); msg != "" {
			v.Add("stage_limits."+st, msg)
		}
	}
	for k := range s.StageLimits {
		if k != "register" && k != "dispatch" && k != "verify" && k != "close" {
			v.Add("stage_limits."+k, "unknown stage")
		}
	}
	w := s.Weights
	for name, x := range map[string]float64{"handle_ontime": w.HandleOnTime, "close_ontime": w.CloseOnTime, "close_rate": w.CloseRate, "rework": w.Rework, "return": w.Return} {
		v.Check(x >= 0 && x <= 1000, "weights."+name, "must be between 0 and 1000")
	}
	v.Check(w.HandleOnTime+w.CloseOnTime+w.CloseRate+w.Rework+w.Return > 0, "weights", "must not all be zero")
	v.Check(s.MergeRadius > 0 && s.MergeRadius <= 10000, "merge_radius_m", "must be between 0 and 10000")
	if msg := s.HandleDefault.Check(); msg != "" {
		v.Add("handle_default", msg)
	}
	return v.Err()
}
