package org

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
)

// GridLevelOf returns the level of a grid code from its length, and the
// parent code (empty for a county), or an error message.
//
// Codes: 6 digits county (administrative division code), +3 township,
// +3 community/village, +2 unit-grid serial = 14 digits.
func GridLevelOf(code string) (level int, parent string, msg string) {
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, "", "must consist of digits"
		}
	}
	switch len(code) {
	case 6:
		if code[0] < '1' || code[0] > '8' || code[2:] == "0000" || code[4:] == "00" {
			return 0, "", "is not a county-level administrative division code"
		}
		return LevelCounty, "", ""
	case 9:
		if code[6:] == "000" {
			return 0, "", "township segment (digits 7-9) must not be 000"
		}
		return LevelTownship, code[:6], ""
	case 12:
		if code[9:] == "000" {
			return 0, "", "community segment (digits 10-12) must not be 000"
		}
		return LevelCommunity, code[:9], ""
	case 14:
		if code[12:] == "00" {
			return 0, "", "unit-grid serial (digits 13-14) must not be 00"
		}
		return LevelUnit, code[:12], ""
	}
	return 0, "", "must have 6 (county), 9 (township), 12 (community) or 14 (unit grid) digits"
}

// maxGeometryPoints bounds a grid boundary.
const maxGeometryPoints = 20000

// NormalizeGeometry validates a GeoJSON Polygon or MultiPolygon (a bare
// geometry or a Feature holding one) in WGS84 and returns the geometry
// re-encoded compactly.
func NormalizeGeometry(raw json.RawMessage) (json.RawMessage, error) {
	var g struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
		Geometry    json.RawMessage `json:"geometry"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, fmt.Errorf("must be a GeoJSON object")
	}
	if g.Type == "Feature" {
		if len(g.Geometry) == 0 {
			return nil, fmt.Errorf("feature has no geometry")
		}
		return NormalizeGeometry(g.Geometry)
	}
	points := 0
	checkPolygon := func(rings [][][]float64) error {
		if len(rings) == 0 {
			return fmt.Errorf("polygon has no ring")
		}
		for _, ring := range rings {
			if len(ring) < 4 {
				return fmt.Errorf("a ring needs at least 4 positions")
			}
			for _, pos := range ring {
				if len(pos) < 2 || len(pos) > 3 {
					return fmt.Errorf("a position has 2 or 3 numbers")
				}
				lon, lat := pos[0], pos[1]
				if math.IsNaN(lon) || math.IsNaN(lat) || lon < -180 || lon > 180 || lat < -90 || lat > 90 {
					return fmt.Errorf("position [%g,%g] is outside WGS84 longitude/latitude", lon, lat)
				}
			}
			first, last := ring[0], ring[len(ring)-1]
			if first[0] != last[0] || first[1] != last[1] {
				return fmt.Errorf("a ring must be closed (first position = last)")
			}
			points += len(ring)
		}
		if points > maxGeometryPoints {
			return fmt.Errorf("more than %d positions", maxGeometryPoints)
		}
		return nil
	}
	switch g.Type {
	case "Polygon":
		var rings [][][]float64
		if err := json.Unmarshal(g.Coordinates, &rings); err != nil {
			return nil, fmt.Errorf("polygon coordinates must be an array of rings")
		}
		if err := checkPolygon(rings); err != nil {
			return nil, err
		}
		return json.Marshal(map[string]any{"type": "Polygon", "coordinates": rings})
	case "MultiPolygon":
		var polys [][][][]float64
		if err := json.Unmarshal(g.Coordinates, &polys); err != nil {
			return nil, fmt.Errorf("multipolygon coordinates must be an array of polygons")
		}
		if len(polys) == 0 {
			return nil, fmt.Errorf("multipolygon has no polygon")
		}
		for _, p := range polys {
			if err := checkPolygon(p); err != nil {
				return nil, err
			}
		}
		return json.Marshal(map[string]any{"type": "MultiPolygon", "coordinates": polys})
	}
	return nil, fmt.Errorf("type must be Polygon, MultiPolygon or a Feature of one")
}

// validRoles checks a role list.
func validRoles(v *httpapi.Validator, field string, roles []string) {
	if len(roles) == 0 {
		v.Add(field, "at least one role is required")
		return
	}
	seen := map[string]bool{}
	for _, r := range roles {
		if !httpapi.IsRole(r) {
			v.Add(field, "unknown role "+r+"; roles: "+strings.Join(httpapi.RoleNames(), ", "))
			return
		}
		if seen[r] {
			v.Add(field, "role "+r+" given twice")
			return
		}
		seen[r] = true
	}
}

func validScope(v *httpapi.Validator, field, s string) {
	if s != "" {
		v.OneOf(field, s, string(httpapi.ScopeAll), string(httpapi.ScopeDeptTree), string(httpapi.ScopeGrid), string(httpapi.ScopeOwn))
	}
}
