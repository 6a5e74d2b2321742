package meta

import "strings"

// agencyCodes maps the agency code of a 发文字号 to the issuing body.
// Longer codes are tried first (国办发 before 国发).
var agencyCodes = map[string]string{
	"国发": "国务院", "国函": "国务院", "国令": "国务院", "国务院令": "国务院",
	"国办发": "国务院办公厅", "国办函": "国务院办公厅", "国办发明电": "国务院办公厅",
	"中发": "中共中央、国务院", "中办发": "中共中央办公厅、国务院办公厅",
	"主席令": "国家主席", "中华人民共和国主席令": "国家主席",
	"法释": "最高人民法院", "法发": "最高人民法院", "法": "最高人民法院",
	"高检发释字": "最高人民检察院", "高检发": "最高人民检察院",
	"财税": "财政部、国家税务总局", "财预": "财政部", "财社": "财政部", "财政部令": "财政部",
	"人社部发": "人力资源社会保障部", "人社部规": "人力资源社会保障部", "人社部函": "人力资源社会保障部", "人力资源社会保障部令": "人力资源社会保障部",
	"发改": "国家发展改革委", "发改投资": "国家发展改革委", "国家发展改革委令": "国家发展改革委",
	"公通字": "公安部", "公安部令": "公安部",
	"民发": "民政部", "民函": "民政部", "民政部令": "民政部",
	"建城": "住房城乡建设部", "建办": "住房城乡建设部", "住房和城乡建设部令": "住房城乡建设部",
	"环发": "生态环境部", "生态环境部令": "生态环境部",
	"教发": "教育部", "教育部令": "教育部",
	"工信部": "工业和信息化部", "商务部令": "商务部",
	"国家税务总局公告": "国家税务总局", "税总发": "国家税务总局", "国家税务总局令": "国家税务总局",
	"国家市场监督管理总局令": "国家市场监督管理总局", "国市监": "国家市场监督管理总局",
	"应急": "应急管理部", "应急管理部令": "应急管理部",
	"自然资规": "自然资源部", "自然资源部令": "自然资源部",
	"交通运输部令": "交通运输部", "农业农村部令": "农业农村部", "水利部令": "水利部",
}

// province abbreviations used in local document codes.
var provinceAbbr = map[string]string{
	"京": "北京市", "津": "天津市", "沪": "上海市", "渝": "重庆市", "冀": "河北省", "晋": "山西省",
	"内蒙古": "内蒙古自治区", "辽": "辽宁省", "吉": "吉林省", "黑": "黑龙江省", "苏": "江苏省",
	"浙": "浙江省", "皖": "安徽省", "闽": "福建省", "赣": "江西省", "鲁": "山东省", "豫": "河南省",
	"鄂": "湖北省", "湘": "湖南省", "粤": "广东省", "桂": "广西壮族自治区", "琼": "海南省",
	"川": "四川省", "黔": "贵州省", "贵": "贵州省", "云": "云南省", "滇": "云南省", "藏": "西藏自治区",
	"陕": "陕西省", "甘": "甘肃省", "青": "青海省", "宁": "宁夏回族自治区", "新": "新疆维吾尔自治区",
}

var localSuffix = []struct{ suffix, body string }{
	{"政办发", "人民政府办公厅"}, {"政办函", "人民政府办公厅"}, {"府办发", "人民政府办公厅"}, {"政办", "人民政府办公厅"}, {"府办", "人民政府办公厅"},
	{"政发", "人民政府"}, {"政函", "人民政府"}, {"府发", "人民政府"}, {"府函", "人民政府"}, {"府规", "人民政府"}, {"政规", "人民政府"}, {"政", "人民政府"}, {"府", "人民政府"},
}

func exactKnownCode(code string) bool {
	_, ok := agencyCodes[code]
	if ok {
		return true
	}
	for abbr := range provinceAbbr {
		for _, ls := range localSuffix {
			if code == abbr+ls.suffix {
				return true
			}
		}
	}
	return false
}

// agencyByCode derives the issuing body from a 发文字号 agency code:
// 国办发 → 国务院办公厅, 京政发 → 北京市人民政府.
func agencyByCode(code string) (string, bool) {
	if a, ok := agencyCodes[code]; ok {
		return a, true
	}
	for abbr, prov := range provinceAbbr {
		if !strings.HasPrefix(code, abbr) {
			continue
		}
		rest := strings.TrimPrefix(code, abbr)
		for _, ls := range localSuffix {
			if strings.HasPrefix(rest, ls.suffix) {
				return prov + ls.body, true
			}
		}
	}
	// longest known prefix: 国办发明电 → 国办发
	best := ""
	for c := range agencyCodes {
		if len(c) > len(best) && strings.HasPrefix(code, c) && len([]rune(c)) >= 2 {
			best = c
		}
	}
	if best != "" {
		return agencyCodes[best], true
	}
	// 某某部令 → 某某部
	if strings.HasSuffix(code, "令") && len([]rune(code)) > 2 {
		return strings.TrimSuffix(code, "令"), true
	}
	if strings.HasSuffix(code, "公告") && len([]rune(code)) > 2 {
		return strings.TrimSuffix(code, "公告"), true
	}
	return "", false
}

// AgencyByCode is the exported form of the code table lookup.
func AgencyByCode(code string) (string, bool) { return agencyByCode(code) }

// LevelOf classifies an issuing body as 国家, 省, 市 or 县.
func LevelOf(issuer string) string {
	if issuer == "" {
		return ""
	}
	for _, p := range []string{"北京市", "天津市", "上海市", "重庆市"} {
		if strings.HasPrefix(issuer, p) {
			return "省"
		}
	}
	switch {
	case strings.Contains(issuer, "国务院"), strings.Contains(issuer, "全国人民代表大会"), strings.Contains(issuer, "中共中央"),
		strings.HasPrefix(issuer, "最高人民"), strings.HasPrefix(issuer, "国家"), strings.HasPrefix(issuer, "中华人民共和国"),
		strings.HasSuffix(issuer, "部") && !strings.ContainsAny(issuer, "省市县"), strings.HasSuffix(issuer, "总局"), strings.HasSuffix(issuer, "委员会") && !strings.ContainsAny(issuer, "省市县"):
		return "国家"
	case strings.Contains(issuer, "省"), strings.Contains(issuer, "自治区"):
		if i := strings.Index(issuer, "省"); i >= 0 && strings.Contains(issuer[i:], "市") {
			return "市"
		}
		return "省"
	case strings.Contains(issuer, "县"), strings.Contains(issuer, "旗"), strings.Contains(issuer, "区人民"):
		return "县"
	case strings.Contains(issuer, "市"), strings.Contains(issuer, "州"):
		return "市"
	}
	return ""
}
