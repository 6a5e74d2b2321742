package meta

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestDocNumbers(t *testing.T) {
	cases := []struct{ in, want, issuer string }{
		{"国办发〔2017〕39号", "国办发〔2017〕39号", "国务院办公厅"},
		{"国办发[2017]39号", "国办发〔2017〕39号", "国务院办公厅"},
		{"国办发（2017）第39号", "国办发〔2017〕39号", "国务院办公厅"},
		{"国办发【2017】39号", "国办发〔2017〕39号", "国务院办公厅"},
		{"国办发(2017)39号", "国办发〔2017〕39号", "国务院办公厅"},
		{"京政发[2018]3号", "京政发〔2018〕3号", "北京市人民政府"},
		{"根据国发〔2016〕55号文件精神", "国发〔2016〕55号", "国务院"},
		{"国务院令第699号", "国务院令第699号", "国务院"},
		{"国务院令699号", "国务院令第699号", "国务院"},
		{"国家税务总局公告2019年第12号", "国家税务总局公告2019年第12号", "国家税务总局"},
		{"公告2019年第12号", "公告2019年第12号", ""},
		{"沪府办发〔2020〕１号", "沪府办发〔2020〕1号", "上海市人民政府办公厅"},
		{"粤府〔2019〕12号", "粤府〔2019〕12号", "广东省人民政府"},
		{"中华人民共和国主席令第二十四号", "主席令第24号", "国家主席"},
		{"国家市场监督管理总局令第49号", "国家市场监督管理总局令第49号", "国家市场监督管理总局"},
	}
	for _, c := range cases {
		n, ok := FindDocNumber(c.in)
		if !ok || n.Text != c.want {
			t.Errorf("FindDocNumber(%q) = %q, %v; want %q", c.in, n.Text, ok, c.want)
			continue
		}
		a, _ := AgencyByCode(n.Code)
		if a != c.issuer {
			t.Errorf("issuer of %q (code %q) = %q, want %q", c.in, n.Code, a, c.issuer)
		}
	}
}

func TestNumberQuery(t *testing.T) {
	cases := []struct {
		in   string
		code string
		year int
		seq  int
	}{
		{"39号文", "", 0, 39},
		{"国办发39号", "国办发", 0, 39},
		{"国办发〔2017〕39号", "国办发", 2017, 39},
		{"国办发2017年39号", "国办发", 2017, 39},
		{"国家市场监督管理总局令第52号", "国家市场监督管理总局令", 0, 52}, // an 11-character code, as the parser stores it
	}
	for _, c := range cases {
		q, ok := ParseNumberQuery(c.in)
		if !ok || q.Code != c.code || q.Year != c.year || q.Seq != c.seq {
			t.Errorf("ParseNumberQuery(%q) = %+v %v", c.in, q, ok)
		}
	}
	if _, ok := ParseNumberQuery("劳动法第四十四条"); ok {
		t.Error("article reference parsed as a number")
	}
}

func TestChineseNumber(t *testing.T) {
	cases := map[string]int{"四十四": 44, "十": 10, "十四": 14, "一百零一": 101, "一百二十": 120, "二〇一七": 2017, "１２": 12, "两千零五": 2005, "一千二百六十": 1260, "三万": 30000}
	for in, want := range cases {
		if n, ok := ChineseNumber(in); !ok || n != want {
			t.Errorf("ChineseNumber(%q) = %d %v, want %d", in, n, ok, want)
		}
	}
	if _, ok := ChineseNumber("一网"); ok {
		t.Error("一网 parsed as a number")
	}
	if got := NormalizeOrdinals("劳动法第四十四条和第一百零一条之一，第三章"); got != "劳动法第44条和第101条之一，第3章" {
		t.Errorf("NormalizeOrdinals = %q", got)
	}
}

func TestDates(t *testing.T) {
	cases := map[string]string{"二〇一七年五月十二日": "2017-05-12", "2017年5月12日": "2017-05-12", "二○二一年十二月三十一日": "2021-12-31", "２０１９年１０月１日": "2019-10-01"}
	for in, want := range cases {
		if d, ok := ParseDate(in); !ok || d != want {
			t.Errorf("ParseDate(%q) = %q %v, want %q", in, d, ok, want)
		}
	}
}

func TestParseNotice(t *testing.T) {
	text := `国务院办公厅关于进一步激发社会领域投资活力的意见
国办发〔2017〕21号

各省、自治区、直辖市人民政府，国务院各部委、各直属机构：
社会领域投资……

国务院办公厅
二〇一七年三月七日
`
	md := Parse("", text)
	if md.Title != "国务院办公厅关于进一步激发社会领域投资活力的意见" || md.Number != "国办发〔2017〕21号" || md.Issuer != "国务院办公厅" ||
		md.Written != "2017-03-07" || md.DocType != "意见" || md.Level != "国家" || md.Status != StatusCurrent {
		t.Errorf("notice: %+v", md)
	}
	md = Parse("某市关于印发办法的通知（已废止）", "京政发[2018]3号\n正文")
	if md.Status != StatusRepealed || md.Number != "京政发〔2018〕3号" || md.Issuer != "北京市人民政府" || md.Level != "省" || md.DocType != "通知" {
		t.Errorf("repealed: %+v", md)
	}
}

func TestParseLaw(t *testing.T) {
	text := `# 中华人民共和国劳动法

1994年7月5日 第八届全国人民代表大会常务委员会第八次会议通过

2018年12月29日 第十三届全国人民代表大会常务委员会第七次会议《关于修改〈中华人民共和国劳动法〉等七部法律的决定》第二次修正

<!-- INFO END -->

## 第一章 总则

第一条 为了保护劳动者的合法权益，制定本法。

第二条 在中华人民共和国境内的企业适用本法。

国家机关参照执行。

## 第四章 工作时间和休息休假

第四十四条 有下列情形之一的，用人单位应当按照下列标准支付工资报酬：

（一）安排劳动者延长工作时间的，支付不低于工资的百分之一百五十的工资报酬；

第一百零一条之一 测试。
`
	md := Parse("中华人民共和国劳动法", text)
	if md.DocType != "法律" || md.Written != "1994-07-05" || md.Issuer != "全国人民代表大会常务委员会" || md.Level != "国家" {
		t.Errorf("law: %+v", md)
	}
	if len(md.Articles) != 4 {
		t.Fatalf("articles: %+v", md.Articles)
	}
	a := md.Articles[2]
	if a.Num != 44 || a.Anchor != "art-44" || a.Label != "第四十四条" || a.Text[:len("有下列")] != "有下列" {
		t.Errorf("article 44: %+v", a)
	}
	if md.Articles[1].Text != "在中华人民共和国境内的企业适用本法。\n\n国家机关参照执行。" {
		t.Errorf("article 2 text %q", md.Articles[1].Text)
	}
	if b := md.Articles[3]; b.Num != 101 || b.Sub != 1 || b.Anchor != "art-101-1" {
		t.Errorf("article 101-1: %+v", b)
	}
	r, ok := ParseArticleRef("劳动法 第四十四条")
	if !ok || r.Num != 44 || r.Rest != "劳动法" {
		t.Errorf("ParseArticleRef: %+v", r)
	}
}

// TestNormalizeOrdinalsMatchesRegexp holds the hand-written scanner equal to
// the regular-expression rule on random strings over the characters that
// matter (第, numerals, units, others).
func TestNormalizeOrdinalsMatchesRegexp(t *testing.T) {
	alphabet := []string{"第", "第", "一", "十", "百", "零", "〇", "4", "４", "条", "款", "章", "部", "分", "号", "次", "法", "，", "a", "两", "万", "之"}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		var b strings.Builder
		for n := rng.IntN(12); n >= 0; n-- {
			b.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		s := b.String()
		if got, want := NormalizeOrdinals(s), normalizeOrdinalsRe(s); got != want {
			t.Fatalf("NormalizeOrdinals(%q) = %q, regexp gives %q", s, got, want)
		}
	}
}
