package investment

import (
	"strings"
	"testing"
)

var validCodes = []string{
	"91110000600037341L", // 中国石油天然气股份有限公司 (GB 32100 example set)
	"91350100M000100Y43", // GB 32100-2015 sample
}

func TestCreditCodeValid(t *testing.T) {
	for _, c := range validCodes {
		if msg := ValidateCreditCode(c); msg != "" {
			t.Errorf("%s refused: %s", c, msg)
		}
	}
}

func TestCreditCodeInvalid(t *testing.T) {
	for _, tc := range []struct{ code, want string }{
		{"", "18位"},
		{"91110000600037341", "18位"},
		{"91110000600037341LL", "18位"},
		{"91110000600037341l", "第18位字符"},
		{"9111000060003734IL", "第17位字符"},
		{"91110000600037342L", "组织机构代码校验位"},
		{"91110000600037341M", "第18位应为 \"L\""},
		{"911A0000600037341L", "行政区划"},
	} {
		got := ValidateCreditCode(tc.code)
		if got == "" || !strings.Contains(got, tc.want) {
			t.Errorf("%q: got %q, want containing %q", tc.code, got, tc.want)
		}
	}
}

// Every single-character change of a valid code is refused: the credit
// check character catches any one substitution (31 is prime and every
// weight is coprime with it).
func TestCreditCodeEverySubstitutionRefused(t *testing.T) {
	n := 0
	for _, c := range validCodes {
		for i := 0; i < 18; i++ {
			for ch := byte(0x21); ch < 0x7f; ch++ {
				if ch == c[i] {
					continue
				}
				b := []byte(c)
				b[i] = ch
				n++
				if msg := ValidateCreditCode(string(b)); msg == "" {
					t.Fatalf("%s (position %d → %q) accepted", b, i+1, ch)
				}
			}
		}
	}
	if n < 2*18*90 {
		t.Fatalf("only %d variants tried", n)
	}
}

func TestOrgCheckChar(t *testing.T) {
	for body, want := range map[string]byte{"60003734": '1', "M000100Y": '4'} {
		got, err := OrgCheckChar(body)
		if err != nil || got != want {
			t.Errorf("%s: got %q %v, want %q", body, got, err, want)
		}
	}
}
