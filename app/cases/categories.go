package cases

import (
	"github.com/yiwang/yiwang/app/sla"
)

// Category kinds.
const (
	KindComponent = "component" // 部件
	KindEvent     = "event"     // 事件
)

// Condition is one 立案条件 of a 小类 with its 处置时限 and 结案条件.
type Condition struct {
	ID        int64     `json:"id"`
	Category  string    `json:"category_code"`
	Text      string    `json:"text" doc:"立案条件"`
	Limit     sla.Limit `json:"limit" doc:"处置时限"`
	CloseText string    `json:"close_text" doc:"结案条件"`
}

// Category is a 大类 (level 1) or 小类 (level 2).
type Category struct {
	Code       string      `json:"code"`
	ParentCode string      `json:"parent_code,omitempty"`
	Kind       string      `json:"kind" doc:"component (部件) or event (事件)"`
	Level      int         `json:"level" doc:"1 大类, 2 小类"`
	Name       string      `json:"name"`
	Disabled   bool        `json:"disabled,omitempty"`
	Conditions []Condition `json:"conditions,omitempty"`
	Children   []*Category `json:"children,omitempty"`
}

type seedCond struct {
	Text      string
	Limit     sla.Limit
	CloseText string
}

type seedMinor struct {
	Code, Name string
	// Urgent minors (危及安全) get a clock-hour first condition.
	Urgent bool
	Conds  []seedCond
}

func (s seedMinor) conditions(kind string) []seedCond {
	if len(s.Conds) > 0 {
		return s.Conds
	}
	if kind == KindComponent {
		out := []seedCond{}
		if s.Urgent {
			out = append(out, seedCond{s.Name + "缺失、移位，危及行人车辆安全", sla.Limit{Value: 2, Unit: sla.ClockHours}, "已设置警示并补齐或复位，无安全隐患"})
		}
		return append(out,
			seedCond{s.Name + "破损、缺失或功能障碍", sla.Limit{Value: 2, Unit: sla.WorkDays}, "已修复或更换，恢复正常使用"},
			seedCond{s.Name + "污损、歪斜，影响市容", sla.Limit{Value: 5, Unit: sla.WorkDays}, "已清洗、扶正或修复"})
	}
	if s.Urgent {
		return []seedCond{{"发现" + s.Name, sla.Limit{Value: 2, Unit: sla.ClockHours}, "险情已排除，现场已恢复"}}
	}
	return []seedCond{
		{"发现" + s.Name + "，面积或数量较小", sla.Limit{Value: 4, Unit: sla.WorkHours}, "已清理或制止，现场恢复正常"},
		{"发现" + s.Name + "，面积或数量较大或屡次发生", sla.Limit{Value: 2, Unit: sla.WorkDays}, "已清理或依法处理，现场恢复正常"},
	}
}

type seedMajor struct {
	Code, Name, Kind string
	Subs             []seedMinor
}

// seedCategories is a standard-like set after GB/T 30428.2 (数字化城市管理
// 信息系统 管理部件和事件): component codes C + 大类 + 小类, event codes E + 大类 +
// 小类. Sensor alarms use e.g. C0101-C0108 (井盖), E0405 (道路积水), E0601
// (空气质量超标), E0407 (火灾隐患/烟感).
var seedCategories = []seedMajor{
	{"C01", "公用设施", KindComponent, []seedMinor{
		{Code: "C0101", Name: "上水井盖", Urgent: true}, {Code: "C0102", Name: "污水井盖", Urgent: true},
		{Code: "C0103", Name: "雨水井盖", Urgent: true}, {Code: "C0104", Name: "雨水箅子", Urgent: true},
		{Code: "C0105", Name: "电力井盖", Urgent: true}, {Code: "C0106", Name: "路灯井盖", Urgent: true},
		{Code: "C0107", Name: "通信井盖", Urgent: true}, {Code: "C0108", Name: "燃气井盖", Urgent: true},
		{Code: "C0109", Name: "消火栓", Urgent: true}, {Code: "C0110", Name: "路灯"},
		{Code: "C0111", Name: "变压器（箱）"}, {Code: "C0112", Name: "水位监测站"},
	}},
	{"C02", "道路交通", KindComponent, []seedMinor{
		{Code: "C0201", Name: "停车场"}, {Code: "C0202", Name: "公交站亭"}, {Code: "C0203", Name: "过街天桥"},
		{Code: "C0204", Name: "交通标志牌"}, {Code: "C0205", Name: "交通信号灯", Urgent: true},
		{Code: "C0206", Name: "道路护栏"}, {Code: "C0207", Name: "隔离墩"},
	}},
	{"C03", "市容环境", KindComponent, []seedMinor{
		{Code: "C0301", Name: "公共厕所"}, {Code: "C0302", Name: "垃圾箱"}, {Code: "C0303", Name: "垃圾收集站"},
		{Code: "C0304", Name: "户外广告设施"}, {Code: "C0305", Name: "公共座椅"},
	}},
	{"C04", "园林绿化", KindComponent, []seedMinor{
		{Code: "C0401", Name: "古树名木"}, {Code: "C0402", Name: "行道树"}, {Code: "C0403", Name: "绿地"},
		{Code: "C0404", Name: "花坛花箱"},
	}},
	{"C05", "房屋土地", KindComponent, []seedMinor{
		{Code: "C0501", Name: "宣传栏"}, {Code: "C0502", Name: "人防工事"},
	}},
	{"C06", "其他设施", KindComponent, []seedMinor{
		{Code: "C0601", Name: "监控电子眼"}, {Code: "C0602", Name: "环境监测设备"}, {Code: "C0603", Name: "消防设施"},
	}},
	{"E01", "市容环境", KindEvent, []seedMinor{
		{Code: "E0101", Name: "私搭乱建"}, {Code: "E0102", Name: "暴露垃圾"}, {Code: "E0103", Name: "积存垃圾渣土"},
		{Code: "E0104", Name: "道路不洁"}, {Code: "E0105", Name: "水域不洁"}, {Code: "E0106", Name: "绿地脏乱"},
		{Code: "E0107", Name: "废弃车辆"}, {Code: "E0108", Name: "乱堆物堆料"}, {Code: "E0109", Name: "油烟污染"},
	}},
	{"E02", "宣传广告", KindEvent, []seedMinor{
		{Code: "E0201", Name: "非法小广告"}, {Code: "E0202", Name: "违规张贴悬挂宣传品"}, {Code: "E0203", Name: "破损广告招牌"},
	}},
	{"E03", "施工管理", KindEvent, []seedMinor{
		{Code: "E0301", Name: "施工扰民"}, {Code: "E0302", Name: "工地扬尘"}, {Code: "E0303", Name: "无证掘路"},
		{Code: "E0304", Name: "施工废弃料"},
	}},
	{"E04", "突发事件", KindEvent, []seedMinor{
		{Code: "E0401", Name: "路面塌陷", Urgent: true}, {Code: "E0402", Name: "自来水管破裂", Urgent: true},
		{Code: "E0403", Name: "燃气管道破裂", Urgent: true}, {Code: "E0404", Name: "下水道堵塞", Urgent: true},
		{Code: "E0405", Name: "道路积水", Urgent: true}, {Code: "E0406", Name: "道路破损"},
		{Code: "E0407", Name: "火灾隐患", Urgent: true},
	}},
	{"E05", "街面秩序", KindEvent, []seedMinor{
		{Code: "E0501", Name: "无照经营游商"}, {Code: "E0502", Name: "占道经营"}, {Code: "E0503", Name: "店外经营"},
		{Code: "E0504", Name: "机动车乱停放"}, {Code: "E0505", Name: "非机动车乱停放"}, {Code: "E0506", Name: "露天烧烤"},
	}},
	{"E06", "其他事件", KindEvent, []seedMinor{
		{Code: "E0601", Name: "空气质量超标"}, {Code: "E0602", Name: "噪声超标"}, {Code: "E0603", Name: "水质异常"},
		{Code: "E0604", Name: "群众诉求"},
	}},
}
