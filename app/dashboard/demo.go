package dashboard

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/yiwang/yiwang/app/demo"
	"github.com/yiwang/yiwang/app/iot"
	mqtt "github.com/yiwang/yiwang/embedded-mqtt"
	"github.com/yiwang/yiwang/embedded-mqtt/simulate"
	"github.com/yiwang/yiwang/store"
)

// Demo county: the default vital signs (environment, water, safety,
// traffic, services) over the demo devices and cases, and the last day of
// readings of the demo devices (hourly, from the simulator's sensor model)
// so the trends are not empty on first start.

func init() {
	demo.Register("dashboard", seedDemo)
}

func f(x float64) *float64 { return &x }

func th(warning, critical float64, dir string) Threshold {
	return Threshold{Warning: f(warning), Critical: f(critical), Direction: dir}
}

// DemoIndicators are the demo county's indicators.
var DemoIndicators = []IndicatorInput{
	{Key: "pm25", Name: "PM2.5 最高值", Category: "environment", Metric: "pm25", Aggregation: "max", DeviceType: simulate.TypeAirQuality, Threshold: th(75, 115, "above"), Unit: "μg/m³", Sort: 10},
	{Key: "aqi", Name: "空气质量指数", Category: "environment", Metric: "aqi", Aggregation: "avg", DeviceType: simulate.TypeAirQuality, Threshold: th(100, 150, "above"), Sort: 11},
	{Key: "river_level", Name: "城区河道水位", Category: "water", Metric: "water_level", Aggregation: "max", DeviceType: simulate.TypeWaterLevel, Threshold: th(2.8, 3.0, "above"), Unit: "m", Sort: 20},
	{Key: "flow_rate", Name: "河道平均流量", Category: "water", Metric: "flow_rate", Aggregation: "avg", DeviceType: simulate.TypeWaterLevel, Unit: "m³/s", Sort: 21},
	{Key: "manhole_tilt", Name: "井盖最大倾角", Category: "safety", Metric: "tilt", Aggregation: "max", DeviceType: simulate.TypeManhole, Threshold: th(5, 10, "above"), Unit: "°", Sort: 30},
	{Key: "smoke_alarms", Name: "烟感告警", Category: "safety", Metric: MetricAlarmsActive, Aggregation: "count", DeviceType: simulate.TypeSmoke, Threshold: th(1, 3, "above"), Unit: "处", Sort: 31},
	{Key: "active_alarms", Name: "未消除告警", Category: "safety", Metric: MetricAlarmsActive, Aggregation: "count", Threshold: th(5, 10, "above"), Unit: "条", Sort: 32},
	{Key: "road_cases", Name: "道路交通部件在办", Category: "traffic", Metric: MetricCasesOpen, Aggregation: "count", CaseCategory: "C02", Threshold: th(10, 20, "above"), Unit: "件", Sort: 40},
	{Key: "street_order", Name: "街面秩序在办", Category: "traffic", Metric: MetricCasesOpen, Aggregation: "count", CaseCategory: "E05", Threshold: th(10, 20, "above"), Unit: "件", Sort: 41},
	{Key: "hotline_today", Name: "12345今日受理", Category: "services", Metric: MetricCasesToday, Aggregation: "count", CaseSource: "hotline", Threshold: th(300, 500, "above"), Unit: "件", Sort: 50},
	{Key: "overdue_cases", Name: "超期案件", Category: "services", Metric: MetricCasesOverdue, Aggregation: "count", Threshold: th(5, 15, "above"), Unit: "件", Sort: 51},
	{Key: "devices_online", Name: "设备在线率", Category: "services", Metric: MetricDevicesOnlineRatio, Aggregation: "latest", Threshold: th(90, 80, "below"), Unit: "%", Sort: 52},
}

// demoHistoryHours is how much reading history the demo county gets.
const demoHistoryHours = 24

// demoExcursions put a few demo devices past their alarm rule in the last
// hours, so the alarm feed (and the cases iot opens from alarms) is not
// empty on first start.
var demoExcursions = map[string]struct {
	metric string
	value  float64
	hours  int
}{
	"sim-sm-0002": {"smoke", 0.21, 1},
	"sim-aq-0003": {"pm25", 128, 2},
	"sim-mh-0004": {"tilt", 14.5, 1},
}

func seedDemo(ctx context.Context, s *demo.Seeder) error {
	for _, in := range DemoIndicators {
		in := in
		if err := in.Validate(); err != nil {
			return fmt.Errorf("demo indicator %s: %w", in.Key, err)
		}
		if _, err := s.Apply(ctx, CmdIndicatorCreate, 1, in); err != nil && !isConflict(err) {
			return err
		}
	}
	// One reading per device and hour, ending an hour ago (live readings
	// from `yiwang simulate` or real devices carry on from there).
	now := time.Now().Truncate(time.Hour)
	devs := simulate.DemoDevices(iot.DemoDevicesPerType*len(simulate.Types), nil)
	var batch []mqtt.Reading
	for i, d := range devs {
		sensor := simulate.NewSensor(d.Type, uint64(i+1))
		sensor.ExcursionProb = 0
		for h := demoHistoryHours; h >= 1; h-- {
			t := now.Add(-time.Duration(h) * time.Hour)
			vals := sensor.Next(t)
			if x, ok := demoExcursions[d.ID]; ok && h <= x.hours {
				vals[x.metric] = x.value
			}
			for metric, v := range vals {
				batch = append(batch, mqtt.Reading{Device: d.ID, Metric: metric, Value: v, TS: t})
			}
		}
	}
	_, err := s.Apply(ctx, iot.CmdTelemetryBatch, 1, iot.BatchPayload(batch))
	return err
}

func isConflict(err error) bool {
	var se *store.Error
	return errors.As(err, &se) && se.Code == "conflict"
}
