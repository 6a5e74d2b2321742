package meta

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

var cnDigit = map[rune]int{
	'零': 0, '〇': 0, '○': 0, 'О': 0, 'Ｏ': 0, '0': 0,
	'一': 1, '壹': 1, '二': 2, '贰': 2, '两': 2, '三': 3, '叁': 3, '四': 4, '肆': 4,
	'五': 5, '伍': 5, '六': 6, '陆': 6, '七': 7, '柒': 7, '八': 8, '捌': 8, '九': 9, '玖': 9,
}

var cnUnit = map[rune]int{'十': 10, '拾': 10, '百': 100, '佰': 100, '千': 1000, '仟': 1000, '万': 10000}

// ChineseNumber parses a number written in Chinese numerals (一百二十三,
// 二〇一七, 十四) or Arabic digits (full- or half-width). ok is false when s
// is not a number.
func ChineseNumber(s string) (n int, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, false
	}
	if v, err := strconv.Atoi(halfDigits(s)); err == nil {
		return v, true
	}
	rs := []rune(s)
	hasUnit := false
	for _, r := range rs {
		if _, u := cnUnit[r]; u {
			hasUnit = true
		} else if _, d := cnDigit[r]; !d {
			return 0, false
		}
	}
	if !hasUnit { // digit by digit: 二〇一七
		for _, r := range rs {
			n = n*10 + cnDigit[r]
		}
		return n, true
	}
	total, section, digit := 0, 0, 0
	for i, r := range rs {
		if d, isD := cnDigit[r]; isD {
			digit = d
			continue
		}
		u := cnUnit[r]
		if u == 10000 {
			section += digit
			total += section * 10000
			section, digit = 0, 0
			continue
		}
		if digit == 0 && (i == 0 || u == 10) {
			digit = 1 // 十四 = 14
		}
		section += digit * u
		digit = 0
	}
	return total + section + digit, true
}

func halfDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '０' && r <= '９' {
			return r - '０' + '0'
		}
		return r
	}, s)
}

const cnNumChars = `零〇○一二两三四五六七八九十百千万0-9０-９`

var ordinalRe = regexp.MustCompile(`第([` + cnNumChars + `]+)(条|款|项|章|节|编|部分|次|号)`)

// NormalizeOrdinals rewrites Chinese ordinals such as 第四十四条 to 第44条 so
// both spellings index and query the same way. It runs on every indexed
// text, so it scans by hand; normalizeOrdinalsRe is the same rule as a
// regular expression (the tests hold the two equal).
func NormalizeOrdinals(s string) string {
	i := strings.Index(s, "第")
	if i < 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for i >= 0 {
		j := i + len("第")
		k := j
		for k < len(s) {
			r, w := utf8.DecodeRuneInString(s[k:])
			if !isOrdinalNumChar(r) {
				break
			}
			k += w
		}
		next := j
		if k > j {
			if u := ordinalUnitLen(s[k:]); u > 0 {
				next = k + u
				if n, ok := ChineseNumber(s[j:k]); ok {
					if b.Len() == 0 {
						b.Grow(len(s))
					}
					b.WriteString(s[last:i])
					b.WriteString("第")
					b.WriteString(strconv.Itoa(n))
					b.WriteString(s[k:next])
					last = next
				}
			}
		}
		i = strings.Index(s[next:], "第")
		if i >= 0 {
			i += next
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isOrdinalNumChar(r rune) bool {
	switch {
	case r >= '0' && r <= '9', r >= '０' && r <= '９':
		return true
	}
	return strings.ContainsRune("零〇○一二两三四五六七八九十百千万", r)
}

var ordinalUnits = []string{"条", "款", "项", "章", "节", "编", "部分", "次", "号"}

func ordinalUnitLen(s string) int {
	for _, u := range ordinalUnits {
		if strings.HasPrefix(s, u) {
			return len(u)
		}
	}
	return 0
}

// normalizeOrdinalsRe is the reference implementation of NormalizeOrdinals.
func normalizeOrdinalsRe(s string) string {
	if !strings.Contains(s, "第") {
		return s
	}
	return ordinalRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := ordinalRe.FindStringSubmatch(m)
		n, ok := ChineseNumber(sub[1])
		if !ok {
			return m
		}
		return "第" + strconv.Itoa(n) + sub[2]
	})
}
