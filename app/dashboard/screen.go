package dashboard

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
	"github.com/yiwang/yiwang/app/org"
)

// Screen is GET /api/v1/dashboard/screen (docs/api-console.md).
type Screen struct {
	CountyName  string           `json:"county_name"`
	GeneratedAt time.Time        `json:"generated_at"`
	Indicators  []IndicatorValue `json:"indicators"`
	Alarms      []ScreenAlarm    `json:"alarms"`
	Grids       FeatureColl      `json:"grids"`
	Funnel      cases.Funnel     `json:"funnel"`
	Overdue     []OverdueCase    `json:"overdue"`
	Projects    ProjectBoard     `json:"projects"`
	Devices     iot.DeviceCounts `json:"devices"`
}

// IndicatorValue is an indicator with its current value.
type IndicatorValue struct {
	Indicator
	Value  *float64   `json:"value"`
	Status string     `json:"status" doc:"normal, warning, critical, nodata"`
	Trend  []float64  `json:"trend"`
	At     *time.Time `json:"value_at,omitempty"`
}

// ScreenAlarm is one line of the alarm feed.
type ScreenAlarm struct {
	ID         string    `json:"id"`
	Severity   string    `json:"severity"`
	Title      string    `json:"title"`
	DeviceName string    `json:"device_name,omitempty"`
	GridName   string    `json:"grid_name,omitempty"`
	Time       time.Time `json:"time"`
	State      string    `json:"state"`
}

// FeatureColl is a GeoJSON FeatureCollection of township grids.
type FeatureColl struct {
	Type     string    `json:"type"`
	Features []Feature `json:"features"`
}

// Feature is one township polygon with its open-case count.
type Feature struct {
	Type       string          `json:"type"`
	Properties FeatureProps    `json:"properties"`
	Geometry   json.RawMessage `json:"geometry"`
}

// FeatureProps are a feature's properties.
type FeatureProps struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OpenCases int    `json:"open_cases"`
}

// OverdueCase is one line of the overdue list.
type OverdueCase struct {
	ID           int64     `json:"id"`
	Title        string    `json:"title"`
	Department   string    `json:"department,omitempty"`
	GridName     string    `json:"grid_name,omitempty"`
	Deadline     time.Time `json:"deadline"`
	OverdueHours int       `json:"overdue_hours"`
	Level        string    `json:"level,omitempty" doc:"urge (催办) or supervise (督办)"`
}

// ProjectBoard is the projects part of the screen.
type ProjectBoard struct {
	Green  int            `json:"green"`
	Yellow int            `json:"yellow"`
	Red    int            `json:"red"`
	Items  []ProjectState `json:"items"`
}

// ProjectState is one project on the screen.
type ProjectState struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	Status   string  `json:"status"`
	Stage    string  `json:"stage"`
	Progress float64 `json:"progress"`
}

// Screen limits.
const (
	maxAlarms   = 30
	maxOverdue  = 20
	maxProjects = 10
	trendHours  = 24
)

func (m *Module) screen(w http.ResponseWriter, r *http.Request) error {
	s, err := m.Screen(r.Context(), httpapi.MustPrincipal(r))
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, s)
}

// Screen assembles the screen for p.
func (m *Module) Screen(ctx context.Context, p *httpapi.Principal) (*Screen, error) {
	now := m.opts.Now()
	s := &Screen{GeneratedAt: now.UTC(), Indicators: []IndicatorValue{}, Alarms: []ScreenAlarm{}, Overdue: []OverdueCase{},
		Grids: FeatureColl{Type: "FeatureCollection", Features: []Feature{}}, Projects: ProjectBoard{Items: []ProjectState{}}}
	if set, err := m.opts.Org.Settings(ctx); err == nil {
		s.CountyName = set.Name
	}
	var err error
	if s.Indicators, err = m.indicatorValues(ctx, now); err != nil {
		return nil, err
	}
	towns, err := m.townships(ctx)
	if err != nil {
		return nil, err
	}
	townName := func(grid string) string {
		for _, g := range towns {
			if strings.HasPrefix(grid, g.Code) {
				return g.Name
			}
		}
		return ""
	}
	if p.Can(httpapi.PermCaseRead) {
		open, err := m.opts.Cases.OpenByTownship(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, g := range towns {
			s.Grids.Features = append(s.Grids.Features, Feature{Type: "Feature", Geometry: g.Geometry,
				Properties: FeatureProps{Code: g.Code, Name: g.Name, OpenCases: open[g.Code]}})
		}
		since := time.Date(now.Year(), 1, 1, 0, 0, 0, 0, now.Location())
		if s.Funnel, err = m.opts.Cases.CaseFunnel(ctx, p, since); err != nil {
			return nil, err
		}
		if s.Overdue, err = m.overdue(ctx, p, now, townName); err != nil {
			return nil, err
		}
	} else {
		for _, g := range towns {
			s.Grids.Features = append(s.Grids.Features, Feature{Type: "Feature", Geometry: g.Geometry, Properties: FeatureProps{Code: g.Code, Name: g.Name}})
		}
	}
	if p.Can(httpapi.PermIoTRead) {
		alarms, err := m.opts.IoT.RecentAlarms(ctx, p, maxAlarms)
		if err != nil {
			return nil, err
		}
		for _, a := range alarms {
			s.Alarms = append(s.Alarms, ScreenAlarm{ID: a.ID, Severity: a.Severity, Title: a.Title, DeviceName: a.DeviceName,
				GridName: townName(a.GridCode), Time: a.RaisedAt, State: a.Status})
		}
		if s.Devices, err = m.opts.IoT.CountDevices(ctx, p, ""); err != nil {
			return nil, err
		}
	}
	if p.Can(httpapi.PermProjectRead) {
		b, err := m.opts.Projects.Board(ctx, p, maxProjects)
		if err != nil {
			return nil, err
		}
		s.Projects = ProjectBoard{Green: b.Green, Yellow: b.Yellow, Red: b.Red, Items: []ProjectState{}}
		for _, pr := range b.Items {
			s.Projects.Items = append(s.Projects.Items, ProjectState{ID: pr.ID, Name: pr.Name, Status: pr.Status, Stage: pr.Stage, Progress: math.Round(pr.Progress*1000) / 1000})
		}
	}
	return s, nil
}

// townships are the level-2 grids with a polygon, in code order.
func (m *Module) townships(ctx context.Context) ([]*org.Grid, error) {
	codes, err := m.opts.Org.GridCodes(ctx, 2)
	if err != nil {
		return nil, err
	}
	out := make([]*org.Grid, 0, len(codes))
	for _, c := range codes {
		g, err := m.opts.Org.Grid(ctx, c)
		if err != nil {
			continue // deleted meanwhile
		}
		if len(g.Geometry) == 0 || string(g.Geometry) == "null" {
			continue
		}
		out = append(out, g)
	}
	return out, nil
}

func (m *Module) overdue(ctx context.Context, p *httpapi.Principal, now time.Time, townName func(string) string) ([]OverdueCase, error) {
	page, err := m.opts.Cases.Overdue(ctx, p, httpapi.ListQuery{Limit: maxOverdue}, now)
	if err != nil {
		return nil, err
	}
	depts := map[int64]string{}
	out := []OverdueCase{}
	for _, c := range page.Items {
		name, ok := depts[c.DeptID]
		if !ok && c.DeptID != 0 {
			if d, err := m.opts.Org.Department(ctx, c.DeptID); err == nil {
				name = d.Name
			}
			depts[c.DeptID] = name
		}
		level := ""
		switch {
		case c.Supervised:
			level = "supervise"
		case c.Urged:
			level = "urge"
		}
		grid := c.GridCode
		if grid == "" {
			grid = c.TownshipCode
		}
		out = append(out, OverdueCase{ID: c.ID, Title: c.Title, Department: name, GridName: townName(grid), Deadline: c.StageDeadline,
			OverdueHours: int(now.Sub(c.StageDeadline).Hours()), Level: level})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Deadline.Before(out[j].Deadline) })
	return out, nil
}
