package demo

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
)

const (
	countyName = "示范县"
	countyCode = "139999"
)

// countyBox is a plausible box on the North China Plain (fictional county).
var countyBox = Box{West: 114.50, South: 37.60, East: 114.90, North: 37.90}

var centre = "县城市运行管理服务中心"

var bureaus = []string{"城管局", "住建局", "生态环境局", "水利局", "应急管理局", "交通运输局", "市场监管局",
	"发改局", "商务局", "公安局", "自然资源和规划局", "卫健局"}

var townships = []string{"城关镇", "东城街道", "西城街道", "河口镇", "青山镇", "柳林乡", "石桥镇", "白沙乡"}

var communityStems = []string{"东关", "西关", "南街", "北街", "新华", "和平", "建设", "胜利", "红旗", "团结", "光明", "幸福",
	"永安", "长兴", "富民", "兴旺", "春风", "桃园", "柳河", "杏林", "清泉", "石佛", "王庄", "李庄"}

const (
	communitiesPerTownship = 6 // 3 × 2
	unitsPerCommunity      = 8 // 4 × 2
)

func rect(w, s, e, n float64) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"type": "Polygon", "coordinates": [][][]float64{{{w, s}, {e, s}, {e, n}, {w, n}, {w, s}}}})
	return b
}

func round6(x float64) float64 { return float64(int64(x*1e6+0.5)) / 1e6 }

// cell splits box into cols × rows and returns cell i (row-major, north first).
func cell(b Box, cols, rows, i int) Box {
	cw, ch := (b.East-b.West)/float64(cols), (b.North-b.South)/float64(rows)
	c, r := i%cols, i/cols
	return Box{West: round6(b.West + float64(c)*cw), East: round6(b.West + float64(c+1)*cw),
		North: round6(b.North - float64(r)*ch), South: round6(b.North - float64(r+1)*ch)}
}

func seedOrg(ctx context.Context, s *Seeder) error {
	o := s.Org
	if err := ensureSettings(ctx, s); err != nil {
		return err
	}
	// Departments.
	ids := map[string]int64{}
	ensureDept := func(name, kind string) error {
		if id, err := o.DepartmentByName(ctx, name); err == nil {
			ids[name] = id
			return nil
		}
		d, err := o.CreateDepartment(ctx, s.Actor, org.DepartmentInput{Name: name, Kind: kind, Sort: len(ids)})
		if err != nil {
			return err
		}
		ids[name] = d.ID
		return nil
	}
	if err := ensureDept(centre, org.KindCounty); err != nil {
		return err
	}
	for _, b := range bureaus {
		if err := ensureDept(b, org.KindBureau); err != nil {
			return err
		}
	}
	for _, t := range townships {
		if err := ensureDept(t, org.KindTownship); err != nil {
			return err
		}
	}
	// Grids: county → townships → communities → unit grids.
	if _, err := o.Grid(ctx, countyCode); err != nil {
		var grids []org.GridInput
		grids = append(grids, org.GridInput{Code: countyCode, Name: countyName, Geometry: rect(countyBox.West, countyBox.South, countyBox.East, countyBox.North)})
		stem := 0
		for ti, tname := range townships {
			tb := cell(countyBox, 4, 2, ti)
			tcode := fmt.Sprintf("%s%03d", countyCode, ti+1)
			dept := ids[tname]
			grids = append(grids, org.GridInput{Code: tcode, Name: tname, DeptID: &dept, Geometry: rect(tb.West, tb.South, tb.East, tb.North)})
			suffix := "社区"
			if tname[len(tname)-3:] == "乡" {
				suffix = "村"
			}
			for ci := 0; ci < communitiesPerTownship; ci++ {
				cb := cell(tb, 3, 2, ci)
				ccode := fmt.Sprintf("%s%03d", tcode, ci+1)
				cname := communityStems[stem%len(communityStems)] + suffix
				if stem >= len(communityStems) {
					cname = tname[:len(tname)-3] + cname
				}
				stem++
				grids = append(grids, org.GridInput{Code: ccode, Name: cname, DeptID: &dept, Geometry: rect(cb.West, cb.South, cb.East, cb.North)})
				for ui := 0; ui < unitsPerCommunity; ui++ {
					ub := cell(cb, 4, 2, ui)
					grids = append(grids, org.GridInput{Code: fmt.Sprintf("%s%02d", ccode, ui+1), Name: fmt.Sprintf("%s第%d网格", cname, ui+1),
						DeptID: &dept, Geometry: rect(ub.West, ub.South, ub.East, ub.North)})
				}
			}
		}
		if err := o.CreateGrids(ctx, s.Actor, grids); err != nil {
			return err
		}
	}
	// One account per role.
	firstGrid := fmt.Sprintf("%s%03d%03d%02d", countyCode, 1, 1, 1)
	dept := func(n string) *int64 { id := ids[n]; return &id }
	users := []org.UserInput{
		{Username: "admin", Name: "系统管理员", Roles: []string{httpapi.RoleAdmin}, DeptID: dept(centre)},
		{Username: "commander", Name: "张指挥", Roles: []string{httpapi.RoleCommander}, DeptID: dept(centre), Phone: "13800000001"},
		{Username: "operator", Name: "李坐席", Roles: []string{httpapi.RoleOperator}, DeptID: dept(centre), Phone: "13800000002"},
		{Username: "handler", Name: "王处置", Roles: []string{httpapi.RoleHandler}, DeptID: dept("城管局"), Phone: "13800000003"},
		{Username: "handler2", Name: "赵处置", Roles: []string{httpapi.RoleHandler}, DeptID: dept("住建局"), Phone: "13800000004"},
		{Username: "gridworker", Name: "刘网格", Roles: []string{httpapi.RoleGridWorker}, DeptID: dept(townships[0]), GridCode: firstGrid, Phone: "13800000005"},
		{Username: "leader", Name: "陈县长", Roles: []string{httpapi.RoleLeader}, DeptID: dept(centre)},
		{Username: "viewer", Name: "访客", Roles: []string{httpapi.RoleViewer}},
		{Username: "integrator", Name: "示例集成商", Roles: []string{httpapi.RoleIntegrator}},
	}
	var accounts []Account
	for _, in := range users {
		if _, err := o.UserByUsername(ctx, in.Username); err == nil {
			continue // never reset an existing account
		}
		acc := Account{Username: in.Username, Role: in.Roles[0]}
		if in.Roles[0] != httpapi.RoleIntegrator {
			in.Password = org.RandomPassword()
			in.MustChangePassword = false
			acc.Password = in.Password
		}
		u, err := o.CreateUser(ctx, s.Actor, in)
		if err != nil {
			if isConflict(err) {
				continue
			}
			return err
		}
		if in.Roles[0] == httpapi.RoleIntegrator {
			tok, err := o.CreateToken(ctx, s.Actor, org.TokenInput{UserID: u.ID, Name: "demo"})
			if err != nil {
				return err
			}
			acc.Token = tok.Secret
		}
		accounts = append(accounts, acc)
	}
	printAccounts(s.Out, accounts)
	return nil
}

func ensureSettings(ctx context.Context, s *Seeder) error {
	cur, err := s.Org.Settings(ctx)
	if err != nil {
		return err
	}
	if cur.Name != "" {
		return nil
	}
	_, err = s.Apply(ctx, org.CmdSettingsUpdate, 1, org.CountySettings{Name: countyName, Code: countyCode})
	return err
}

// loadCounty fills s.County from the database.
func loadCounty(ctx context.Context, s *Seeder) error {
	c := County{Code: countyCode, Name: countyName, Departments: map[string]int64{}, Box: countyBox, Users: map[string]int64{}}
	for _, n := range append(append([]string{centre}, bureaus...), townships...) {
		if id, err := s.Org.DepartmentByName(ctx, n); err == nil {
			c.Departments[n] = id
		}
	}
	for i, t := range townships {
		c.Townships = append(c.Townships, Township{Code: fmt.Sprintf("%s%03d", countyCode, i+1), Name: t, DeptID: c.Departments[t]})
	}
	codes, err := s.Org.GridCodes(ctx, org.LevelUnit)
	if err != nil {
		return err
	}
	c.UnitGrids = codes
	for _, u := range []string{"admin", "commander", "operator", "handler", "handler2", "gridworker", "leader", "viewer", "integrator"} {
		if user, err := s.Org.UserByUsername(ctx, u); err == nil {
			c.Users[u] = user.ID
		}
	}
	s.County = c
	return nil
}
