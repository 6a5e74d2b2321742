package investment

import (
	"fmt"
	"strings"
)

// 统一社会信用代码 (GB 32100-2015): 18 characters over the 31-character set
// 0-9 A-Z without I, O, S, V, Z. Position 1 is the registering authority,
// 2 the kind of entity, 3-8 the administrative division code, 9-17 the
// organisation code (GB 11714, whose 9th character is its own check
// character) and 18 the check character over the first 17.

const creditCharset = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var (
	creditWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}
	orgWeights    = [8]int{3, 7, 9, 10, 5, 8, 4, 2}
)

// CreditCheckChar computes the GB 32100-2015 check character of the first 17
// characters of a credit code.
func CreditCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("need 17 characters, got %d", len(first17))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCharset, first17[i])
		if v < 0 {
			return 0, fmt.Errorf("character %d %q is not allowed", i+1, first17[i])
		}
		sum += v * creditWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return creditCharset[c], nil
}

// OrgCheckChar computes the GB 11714 check character of an 8-character
// organisation code body.
func OrgCheckChar(body string) (byte, error) {
	if len(body) != 8 {
		return 0, fmt.Errorf("need 8 characters, got %d", len(body))
	}
	sum := 0
	for i := 0; i < 8; i++ {
		ch := body[i]
		var v int
		switch {
		case ch >= '0' && ch <= '9':
			v = int(ch - '0')
		case ch >= 'A' && ch <= 'Z':
			v = int(ch-'A') + 10
		default:
			return 0, fmt.Errorf("character %q is not allowed", ch)
		}
		sum += v * orgWeights[i]
	}
	c := 11 - sum%11
	switch c {
	case 10:
		return 'X', nil
	case 11:
		return '0', nil
	}
	return byte('0' + c), nil
}

// ValidateCreditCode checks a 统一社会信用代码 and returns "" or a Chinese
// and English message naming the problem.
func ValidateCreditCode(code string) string {
	if len(code) != 18 {
		return fmt.Sprintf("统一社会信用代码应为18位，实际%d位 (must be 18 characters)", len([]rune(code)))
	}
	for i := 0; i < 18; i++ {
		if strings.IndexByte(creditCharset, code[i]) < 0 {
			return fmt.Sprintf("第%d位字符 %q 不合法：只允许数字和除 I、O、S、V、Z 以外的大写字母 (character %d is not allowed)", i+1, string(code[i]), i+1)
		}
	}
	for i := 2; i < 8; i++ {
		if code[i] < '0' || code[i] > '9' {
			return fmt.Sprintf("第3-8位应为行政区划码数字，第%d位为 %q (the administrative division code must be digits)", i+1, string(code[i]))
		}
	}
	oc, err := OrgCheckChar(code[8:16])
	if err != nil {
		return "组织机构代码（第9-17位）不合法: " + err.Error()
	}
	if code[16] != oc {
		return fmt.Sprintf("组织机构代码校验位错误：第17位应为 %q，实际为 %q (GB 11714 check character mismatch)", string(oc), string(code[16]))
	}
	cc, err := CreditCheckChar(code[:17])
	if err != nil {
		return err.Error()
	}
	if code[17] != cc {
		return fmt.Sprintf("统一社会信用代码校验位错误：第18位应为 %q，实际为 %q (GB 32100 check character mismatch)", string(cc), string(code[17]))
	}
	return ""
}
