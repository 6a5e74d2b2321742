package search

import (
	"testing"
	"unicode"
)

func TestIsHanTable(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if want := unicode.Is(unicode.Han, r) || r == '〇'; isHan(r) != want {
			t.Fatalf("isHan(%U) = %v", r, !want)
		}
	}
}
