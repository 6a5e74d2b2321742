package meta

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DocNumber is a parsed 发文字号.
type DocNumber struct {
	Code string // agency code, e.g. 国办发, 国务院令, 国家税务总局公告
	Year int    // 0 when the form has no year (国务院令第699号)
	Seq  int    // serial number
	Text string // normalised form: 国办发〔2017〕39号, 国务院令第699号, 公告2019年第12号
}

const (
	openBr  = `[〔\[(（【［{｛]`
	closeBr = `[〕\])）】］}｝]`
	hanCode = `[\p{Han}A-Za-z]{1,14}?`
)

var (
	// 国办发〔2017〕39号, 京政发[2018]3号, 国办发〔2017〕第39号
	bracketRe = regexp.MustCompile(`(` + hanCode + `)\s*` + openBr + `\s*([12][0-9]{3})\s*` + closeBr + `\s*第?\s*([0-9]{1,5})\s*号`)
	// 国务院令第699号, 主席令第十二号
	orderRe = regexp.MustCompile(`([\p{Han}]{0,14}令)\s*第?\s*([0-9` + cnNumChars + `]{1,8})\s*号`)
	// 国家税务总局公告2019年第12号
	announceRe = regexp.MustCompile(`([\p{Han}]{0,14}(?:公告|通告))\s*([12][0-9]{3})\s*年\s*第?\s*([0-9]{1,5})\s*号`)
)

// leading words that are never part of an agency code.
var codeNoise = []string{"根据", "依据", "按照", "依照", "参照", "贯彻", "落实", "执行", "关于", "印发", "转发", "文件", "即", "和", "及", "与", "的", "见", "号", "、", "是", "按", "据", "经"}

func cleanCode(code string) string {
	code = strings.TrimSpace(code)
	// prefer the longest known code that is a suffix of the capture.
	rs := []rune(code)
	for i := 0; i < len(rs); i++ {
		if _, ok := agencyByCode(string(rs[i:])); ok && i > 0 {
			if exactKnownCode(string(rs[i:])) {
				return string(rs[i:])
			}
		}
	}
	for changed := true; changed; {
		changed = false
		for _, n := range codeNoise {
			if strings.HasPrefix(code, n) && len(code) > len(n) {
				code = strings.TrimPrefix(code, n)
				changed = true
			}
		}
	}
	// a code is short; keep the tail when a sentence was captured (but
	// not of a known long code: 国家市场监督管理总局令).
	rs = []rune(code)
	if len(rs) > 8 && !exactKnownCode(code) {
		code = string(rs[len(rs)-8:])
	}
	return code
}

// FindDocNumber returns the first 发文字号 in s, normalised.
func FindDocNumber(s string) (DocNumber, bool) {
	all := FindDocNumbers(s, 1)
	if len(all) == 0 {
		return DocNumber{}, false
	}
	return all[0], true
}

// FindDocNumbers returns up to max numbers found in s, in order of appearance.
func FindDocNumbers(s string, max int) []DocNumber {
	s = halfDigits(s)
	type found struct {
		at int
		n  DocNumber
	}
	var fs []found
	// Every form ends with 号: run the patterns only on a short window
	// before each 号 (running them over the whole text backtracks badly).
	for off := 0; ; {
		i := strings.Index(s[off:], "号")
		if i < 0 {
			break
		}
		end := off + i + len("号")
		off = end
		from := end - 100
		if from < 0 {
			from = 0
		}
		for from > 0 && !utf8.RuneStart(s[from]) {
			from++
		}
		w := s[from:end]
		if m := lastMatchEnding(bracketRe, w); m != nil {
			code := cleanCode(w[m[2]:m[3]])
			y, _ := strconv.Atoi(w[m[4]:m[5]])
			q, _ := strconv.Atoi(w[m[6]:m[7]])
			fs = append(fs, found{from + m[0], DocNumber{Code: code, Year: y, Seq: q, Text: code + "〔" + strconv.Itoa(y) + "〕" + strconv.Itoa(q) + "号"}})
			continue
		}
		if m := lastMatchEnding(announceRe, w); m != nil {
			code := cleanCode(w[m[2]:m[3]])
			y, _ := strconv.Atoi(w[m[4]:m[5]])
			q, _ := strconv.Atoi(w[m[6]:m[7]])
			fs = append(fs, found{from + m[0], DocNumber{Code: code, Year: y, Seq: q, Text: code + strconv.Itoa(y) + "年第" + strconv.Itoa(q) + "号"}})
			continue
		}
		if m := lastMatchEnding(orderRe, w); m != nil {
			code := cleanCode(w[m[2]:m[3]])
			q, ok := ChineseNumber(w[m[4]:m[5]])
			if !ok || code == "令" && m[2] == m[3] {
				continue
			}
			fs = append(fs, found{from + m[0], DocNumber{Code: code, Seq: q, Text: code + "第" + strconv.Itoa(q) + "号"}})
		}
	}
	// order by position, drop overlaps
	for i := 1; i < len(fs); i++ {
		for j := i; j > 0 && fs[j].at < fs[j-1].at; j-- {
			fs[j], fs[j-1] = fs[j-1], fs[j]
		}
	}
	var out []DocNumber
	seen := map[string]bool{}
	for _, f := range fs {
		if seen[f.n.Text] {
			continue
		}
		seen[f.n.Text] = true
		out = append(out, f.n)
		if max > 0 && len(out) >= max {
			break
		}
	}
	return out
}

// lastMatchEnding returns the submatch indexes of the match of re that ends
// exactly at the end of w, or nil.
func lastMatchEnding(re *regexp.Regexp, w string) []int {
	for _, m := range re.FindAllStringSubmatchIndex(w, -1) {
		if m[1] == len(w) {
			return m
		}
	}
	return nil
}

// NormalizeDocNumber returns the canonical form of a 发文字号, or s trimmed
// when it does not parse.
func NormalizeDocNumber(s string) string {
	if n, ok := FindDocNumber(s); ok {
		return n.Text
	}
	return strings.TrimSpace(s)
}

// NumberQuery is a possibly partial 发文字号 typed by a user: "39号文",
// "国办发39号", "国办发〔2017〕39号", "2017年39号".
type NumberQuery struct {
	Code string
	Year int
	Seq  int
	Rest string // the query with the number removed
}

var partialRe = regexp.MustCompile(`([\p{Han}]{0,14}?)\s*(?:` + openBr + `?\s*([12][0-9]{3})\s*(?:` + closeBr + `|年)?)?\s*第?\s*([0-9]{1,5})\s*号文?(?:件)?`)

// ParseNumberQuery finds a (partial) document number in a query.
func ParseNumberQuery(q string) (NumberQuery, bool) {
	q = halfDigits(q)
	m := partialRe.FindStringSubmatchIndex(q)
	if m == nil {
		return NumberQuery{}, false
	}
	var nq NumberQuery
	if m[2] >= 0 {
		nq.Code = cleanCode(q[m[2]:m[3]])
	}
	if m[4] >= 0 {
		nq.Year, _ = strconv.Atoi(q[m[4]:m[5]])
	}
	nq.Seq, _ = strconv.Atoi(q[m[6]:m[7]])
	nq.Rest = strings.TrimSpace(q[:m[0]] + " " + q[m[1]:])
	return nq, true
}
