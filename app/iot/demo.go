package iot

import (
	"context"
	"fmt"
	"strings"

	"github.com/yiwang/yiwang/app/demo"
	"github.com/yiwang/yiwang/embedded-mqtt/simulate"
)

// Demo county devices: DemoDevicesPerType of each simulated type, with the
// ids `yiwang simulate` uses (sim-wl-0001, ...), placed in unit grids with
// an owner department, and one alarm rule per type at the thresholds the
// simulator's excursions cross, opening cases of the matching category.

// DemoDevicesPerType is how many devices of each type the demo county has.
const DemoDevicesPerType = 6

type demoType struct {
	typ, name, dept, metric, op, category, model string
	threshold                                    float64
	hysteresis                                   float64
	duration                                     int64
}

var demoTypes = []demoType{
	{simulate.TypeWaterLevel, "水位计", "水利局", "water_level", "gt", "E0405", "YW-WL200", simulate.WaterLevelAlarm, 0.2, 60},
	{simulate.TypeAirQuality, "空气质量监测站", "生态环境局", "pm25", "gt", "E0601", "YW-AQ10", simulate.PM25Alarm, 10, 300},
	{simulate.TypeManhole, "智能井盖", "城管局", "tilt", "gt", "C0103", "YW-MH3", simulate.TiltAlarm, 2, 0},
	{simulate.TypeSmoke, "烟感", "应急管理局", "smoke", "ge", "E0407", "YW-SM1", simulate.SmokeAlarm, 0.05, 0},
}

func init() {
	demo.Register("iot", seedDemo)
}

func seedDemo(ctx context.Context, s *demo.Seeder) error {
	ids := simulate.DemoDevices(DemoDevicesPerType*len(simulate.Types), nil)
	grids := s.County.UnitGrids
	box := s.County.Box
	for i, d := range ids {
		var dt demoType
		for _, x := range demoTypes {
			if x.typ == d.Type {
				dt = x
			}
		}
		in := DeviceInput{ID: d.ID, Name: fmt.Sprintf("%s%s", dt.name, strings.ToUpper(d.ID[4:])), Type: d.Type, Model: dt.model,
			Supplier: "示范物联科技有限公司", Implementer: "示范县智慧城市建设运营公司"}
		if id, ok := s.County.Departments[dt.dept]; ok {
			in.OwnerDeptID = &id
		}
		if len(grids) > 0 {
			in.GridCode = grids[(i*37)%len(grids)]
		}
		// Spread over the county deterministically.
		fx, fy := float64((i*7919)%997)/997, float64((i*104729)%991)/991
		lng := box.West + (box.East-box.West)*(0.05+0.9*fx)
		lat := box.South + (box.North-box.South)*(0.05+0.9*fy)
		in.Lng, in.Lat = &lng, &lat
		in.Address = fmt.Sprintf("示范县%s附近", in.GridCode)
		if d.Type == simulate.TypeManhole {
			in.ComponentID = fmt.Sprintf("%s0103%06d", "139999", i+1)
		}
		if err := in.Validate(); err != nil {
			return fmt.Errorf("demo device %s: %w", d.ID, err)
		}
		_, hash, err := newSecret()
		if err != nil {
			return err
		}
		if _, err := s.Apply(ctx, CmdDeviceCreate, 1, deviceCreatePayload{DeviceInput: in, SecretHash: hash}); err != nil {
			if strings.Contains(err.Error(), "already exists") {
				continue
			}
			return err
		}
	}
	for _, dt := range demoTypes {
		in := RuleInput{Name: dt.name + "告警", DeviceType: dt.typ, Metric: dt.metric, Kind: KindThreshold, Op: dt.op,
			Threshold: dt.threshold, Hysteresis: dt.hysteresis, DurationS: dt.duration, Severity: "major", CaseCategory: dt.category}
		if _, err := s.Apply(ctx, CmdRuleCreate, 1, in); err != nil {
			return err
		}
	}
	return nil
}
