package meta

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Metadata is what 智能解析 finds in a document.
type Metadata struct {
	Title     string    `json:"title"`
	Number    string    `json:"doc_number,omitempty"` // normalised 发文字号
	Issuer    string    `json:"issuer,omitempty"`     // 发文机关
	Written   string    `json:"written,omitempty"`    // 成文日期, YYYY-MM-DD
	Published string    `json:"published,omitempty"`  // 发布日期, YYYY-MM-DD
	DocType   string    `json:"doc_type,omitempty"`   // 文种
	Level     string    `json:"level,omitempty"`      // 国家/省/市/县
	Status    string    `json:"status,omitempty"`     // 现行有效/已修改/已废止
	Articles  []Article `json:"articles,omitempty"`
}

// Article is an addressable 第X条 section.
type Article struct {
	Num    int    `json:"num"`    // 44 for 第四十四条
	Sub    int    `json:"sub"`    // 1 for 第一百零一条之一
	Label  string `json:"label"`  // 第四十四条 as written
	Anchor string `json:"anchor"` // art-44, art-101-1
	Text   string `json:"text"`   // article text without the label
	Offset int    `json:"offset"` // byte offset of the label in the text
}

// Statuses.
const (
	StatusCurrent  = "现行有效"
	StatusAmended  = "已修改"
	StatusRepealed = "已废止"
)

var (
	articleRe = regexp.MustCompile(`(?m)^[ \t　]*(第([` + cnNumChars + `]{1,8})条(?:之([一二三四五六七八九十]))?)[ \t　]*`)
	dateRe    = regexp.MustCompile(`([12][0-9]{3}|[一二三四五六七八九〇零○Ｏ]{4})\s*年\s*([0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*月\s*([0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*日`)
	issuerRe  = regexp.MustCompile(`(全国人民代表大会(?:常务委员会)?|国务院(?:办公厅)?|中共中央(?:办公厅)?|最高人民法院|最高人民检察院|[\p{Han}]{2,12}(?:人民代表大会常务委员会|人民代表大会|人民政府办公厅|人民政府办公室|人民政府|部|委员会|总局|局|厅|委))`)
)

// Anchor returns the anchor used for an article number: art-44, art-101-1.
func Anchor(num, sub int) string {
	if sub > 0 {
		return fmt.Sprintf("art-%d-%d", num, sub)
	}
	return fmt.Sprintf("art-%d", num)
}

// ParseArticles splits text into 第X条 articles (a label at the start of a
// line). Text before the first article and headings (## 第一章) are not
// part of any article.
func ParseArticles(text string) []Article {
	ms := articleRe.FindAllStringSubmatchIndex(text, -1)
	var out []Article
	for i, m := range ms {
		n, ok := ChineseNumber(text[m[4]:m[5]])
		if !ok || n <= 0 {
			continue
		}
		sub := 0
		if m[6] >= 0 {
			sub, _ = ChineseNumber(text[m[6]:m[7]])
		}
		end := len(text)
		if i+1 < len(ms) {
			end = ms[i+1][0]
		}
		body := text[m[1]:end]
		// stop at the next heading
		if h := strings.Index(body, "\n#"); h >= 0 {
			body = body[:h]
		}
		out = append(out, Article{Num: n, Sub: sub, Label: text[m[2]:m[3]], Anchor: Anchor(n, sub), Text: strings.TrimSpace(body), Offset: m[2]})
	}
	return out
}

// ParseDate converts 2017年5月12日 or 二〇一七年五月十二日 to 2017-05-12.
func ParseDate(s string) (string, bool) {
	m := dateRe.FindStringSubmatch(halfDigits(s))
	if m == nil {
		return "", false
	}
	return dateOf(m)
}

func dateOf(m []string) (string, bool) {
	y, ok1 := ChineseNumber(m[1])
	mo, ok2 := ChineseNumber(m[2])
	d, ok3 := ChineseNumber(m[3])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1900 || y > 2200 {
		return "", false
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, mo, d), true
}

type dateHit struct {
	at   int
	date string
	ctx  string // text after the date on the same line
}

func findDates(s string) []dateHit {
	var out []dateHit
	for _, m := range dateRe.FindAllStringSubmatchIndex(s, -1) {
		subs := []string{s[m[0]:m[1]], s[m[2]:m[3]], s[m[4]:m[5]], s[m[6]:m[7]]}
		d, ok := dateOf(subs)
		if !ok {
			continue
		}
		rest := s[m[1]:]
		if nl := strings.IndexByte(rest, '\n'); nl >= 0 {
			rest = rest[:nl]
		}
		if len(rest) > 120 {
			rest = rest[:120]
		}
		out = append(out, dateHit{m[0], d, rest})
	}
	return out
}

// Parse extracts metadata from a document's title hint and text.
func Parse(titleHint, text string) Metadata {
	text = strings.ReplaceAll(text, "\r\n", "\n")
	var md Metadata
	md.Title = strings.TrimSpace(titleHint)
	if md.Title == "" {
		md.Title = firstLine(text)
	}
	head := text
	if len(head) > 3000 {
		head = head[:3000]
	}
	// 发文字号: in the title or the head of the document, else in the tail
	// (signature block).
	if n, ok := FindDocNumber(md.Title); ok {
		md.Number = n.Text
	} else if n, ok := FindDocNumber(head); ok {
		md.Number = n.Text
	}
	var code string
	if md.Number != "" {
		n, _ := FindDocNumber(md.Number)
		code = n.Code
	}
	// 发文机关
	if a, ok := agencyByCode(code); ok {
		md.Issuer = a
	}
	if md.Issuer == "" {
		md.Issuer = issuerFromText(md.Title, head, text)
	}
	md.Level = LevelOf(md.Issuer)
	// dates
	hs := findDates(head)
	for _, h := range hs {
		c := h.ctx
		switch {
		case md.Published == "" && (strings.Contains(c, "公布") || strings.Contains(c, "发布") || strings.Contains(c, "印发")):
			md.Published = h.date
		case md.Written == "" && (strings.Contains(c, "通过") || strings.Contains(c, "成文") || strings.Contains(c, "签发")):
			md.Written = h.date
		}
	}
	if strings.Contains(head, "发布日期") {
		if d, ok := ParseDate(head[strings.Index(head, "发布日期"):]); ok {
			md.Published = d
		}
	}
	if strings.Contains(head, "成文日期") {
		if d, ok := ParseDate(head[strings.Index(head, "成文日期"):]); ok {
			md.Written = d
		}
	}
	if md.Written == "" {
		// official documents: the date under the signature, at the end
		tail := text
		if len(tail) > 600 {
			tail = tail[len(tail)-600:]
		}
		if ts := findDates(tail); len(ts) > 0 {
			md.Written = ts[len(ts)-1].date
		} else if len(hs) > 0 {
			md.Written = hs[0].date
		}
	}
	if md.Published == "" {
		md.Published = md.Written
	}
	md.Articles = ParseArticles(text)
	md.DocType = docType(md.Title, md.Issuer, head, md.Number)
	md.Status = statusOf(md.Title, head)
	return md
}

func firstLine(text string) string {
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(l), "#"))
		if l != "" {
			if len([]rune(l)) > 80 {
				l = string([]rune(l)[:80])
			}
			return l
		}
	}
	return ""
}

func issuerFromText(title, head, text string) string {
	// 国务院关于…的通知 → 国务院
	if i := strings.Index(title, "关于"); i > 0 {
		if m := issuerRe.FindString(title[:i]); m != "" {
			return m
		}
	}
	for _, l := range strings.Split(head, "\n") {
		if strings.Contains(l, "通过") || strings.Contains(l, "公布") || strings.Contains(l, "发布") {
			if m := issuerRe.FindString(l); m != "" {
				m = strings.TrimPrefix(m, "次会议")
				return trimOrdinalPrefix(m)
			}
		}
	}
	return ""
}

var sessionRe = regexp.MustCompile(`^.*?(?:第[` + cnNumChars + `]+届|会议)`)

func trimOrdinalPrefix(s string) string {
	return strings.TrimSpace(sessionRe.ReplaceAllString(s, ""))
}

var docTypeSuffix = []string{"通知", "意见", "办法", "决定", "规定", "细则", "公告", "通告", "批复", "方案", "规划", "决议", "规则", "条例", "解释", "纲要", "指引", "指南", "标准", "预案"}

func docType(title, issuer, head, number string) string {
	t := strings.TrimSpace(title)
	if i := strings.LastIndex(t, "（"); i > 0 && strings.HasSuffix(t, "）") {
		t = t[:i]
	} else if i := strings.LastIndex(t, "("); i > 0 && strings.HasSuffix(t, ")") {
		t = t[:i]
	}
	judicial := strings.Contains(issuer, "最高人民法院") || strings.Contains(issuer, "最高人民检察院") || strings.Contains(head, "最高人民法院审判委员会") || strings.Contains(head, "最高人民检察院检察委员会")
	switch {
	case judicial && (strings.Contains(t, "解释") || strings.Contains(t, "规定") || strings.Contains(t, "批复") || strings.Contains(t, "决定")):
		return "司法解释"
	case strings.HasSuffix(t, "宪法") || strings.Contains(t, "宪法修正案"):
		return "宪法"
	case strings.HasSuffix(t, "法") || strings.HasSuffix(t, "法典") || strings.Contains(t, "修正案"):
		return "法律"
	case strings.Contains(head, "全国人民代表大会常务委员会") && strings.Contains(t, "决定"):
		return "法律"
	}
	local := strings.Contains(head, "人民代表大会常务委员会") && !strings.Contains(head, "全国人民代表大会常务委员会")
	if strings.HasSuffix(t, "条例") || strings.HasSuffix(t, "规定") || strings.HasSuffix(t, "办法") || strings.HasSuffix(t, "细则") {
		switch {
		case local:
			return "地方性法规"
		case strings.HasPrefix(issuer, "国务院") && strings.Contains(number, "令"), strings.HasSuffix(t, "条例") && (strings.Contains(head, "国务院令") || strings.Contains(head, "国务院第") || issuer == "国务院"):
			return "行政法规"
		case strings.Contains(number, "令") && LevelOf(issuer) == "国家":
			return "部门规章"
		case strings.Contains(number, "令"):
			return "地方政府规章"
		}
	}
	for _, s := range docTypeSuffix {
		if strings.HasSuffix(t, s) {
			return s
		}
	}
	if number != "" {
		return "规范性文件"
	}
	return ""
}

func statusOf(title, head string) string {
	h := head
	if len(h) > 600 {
		h = h[:600]
	}
	s := title + "\n" + h
	switch {
	case strings.Contains(s, "已废止") || strings.Contains(s, "已失效") || strings.Contains(s, "时效性：失效") || strings.Contains(s, "（废止）"):
		return StatusRepealed
	case strings.Contains(s, "已被修改") || strings.Contains(s, "已修改") || strings.Contains(s, "时效性：已修改"):
		return StatusAmended
	}
	return StatusCurrent
}

// ArticleRef is a 第X条 reference in a query.
type ArticleRef struct {
	Num, Sub int
	Rest     string // the query without the reference
}

var articleRefRe = regexp.MustCompile(`第\s*([` + cnNumChars + `]{1,8})\s*条(?:之([一二三四五六七八九十]))?`)

// ParseArticleRef finds "第四十四条" / "第44条" in a query.
func ParseArticleRef(q string) (ArticleRef, bool) {
	m := articleRefRe.FindStringSubmatchIndex(q)
	if m == nil {
		return ArticleRef{}, false
	}
	n, ok := ChineseNumber(q[m[2]:m[3]])
	if !ok {
		return ArticleRef{}, false
	}
	r := ArticleRef{Num: n, Rest: strings.TrimSpace(q[:m[0]] + " " + q[m[1]:])}
	if m[4] >= 0 {
		r.Sub, _ = ChineseNumber(q[m[4]:m[5]])
	}
	return r, true
}

// Year returns the year of a YYYY-MM-DD date, 0 when empty.
func Year(date string) int {
	if len(date) < 4 {
		return 0
	}
	y, _ := strconv.Atoi(date[:4])
	return y
}
