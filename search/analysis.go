package search

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/go-ego/gse"

	"github.com/yiwang/yiwang/search/meta"
)

// Analyzer names registered with bleve. They are stored in the index
// mapping, so renaming one requires a rebuild (bump schemaVersion).
// yw_bigram and yw_word are no longer used by any field. They stay
// registered because indexes built by yw-search-3 name them in their
// stored mapping, and Open opens such an index once to read its schema
// version and answer ErrSchema (the caller then rebuilds it).
const (
	AnalyzerBigram      = "yw_bigram"       // folded text → CJK bigrams (+ single-char runs), alnum words
	AnalyzerBigramTitle = "yw_bigram_title" // same, plus every CJK unigram (short fields)
	AnalyzerWord        = "yw_word"         // folded text → gse words, sequential positions
	// AnalyzerBigramFolded is yw_bigram for text the caller has already
	// folded (the body: see foldBody), so the costly Fold runs once.
	AnalyzerBigramFolded = "yw_bigram_folded"
)

var t2s = func() map[rune]rune {
	m := make(map[rune]rune, 3000)
	rs := []rune(t2sPairs)
	for i := 0; i+1 < len(rs); i += 2 {
		m[rs[i]] = rs[i+1]
	}
	return m
}()

// t2sBlock is t2s for U+4E00..U+9FFF as a dense table (0: unchanged).
var t2sBlock = func() []rune {
	tbl := make([]rune, 0x9FFF-0x4E00+1)
	for k, v := range t2s {
		if k >= 0x4E00 && k <= 0x9FFF {
			tbl[k-0x4E00] = v
		}
	}
	return tbl
}()

// foldRune maps one rune to its search form: traditional → simplified,
// full-width → half-width, upper → lower case. It is 1:1 on runes, so rune
// offsets in folded text equal those in the original (used by snippets).
func foldRune(r rune) rune {
	switch {
	case r < 0x80:
		if 'A' <= r && r <= 'Z' {
			return r + 32
		}
		return r
	case r >= 0xFF01 && r <= 0xFF5E:
		r -= 0xFEE0
		if 'A' <= r && r <= 'Z' {
			r += 32
		}
		return r
	case r == 0x3000:
		return ' '
	case r >= 0x4E00 && r <= 0x9FFF: // the common CJK block: a table, not a map
		if s := t2sBlock[r-0x4E00]; s != 0 {
			return s
		}
		return r
	}
	if s, ok := t2s[r]; ok {
		return s
	}
	return unicode.ToLower(r)
}

// FoldChars applies foldRune to every rune.
func FoldChars(s string) string { return strings.Map(foldRune, s) }

// Fold is the full normalisation used by every analyzer and every query:
// FoldChars plus Chinese ordinal numerals (第四十四条 → 第44条).
func Fold(s string) string { return meta.NormalizeOrdinals(FoldChars(s)) }

func isHan(r rune) bool {
	switch {
	case r < 0x2E80: // no Han below the CJK radicals
		return false
	case r >= 0x4E00 && r <= 0x9FFF: // CJK Unified Ideographs, the common case
		return true
	}
	return unicode.Is(unicode.Han, r) || r == '〇'
}

func isWordRune(r rune) bool {
	return r < 0x80 && (('a' <= r && r <= 'z') || ('0' <= r && r <= '9')) || unicode.IsLetter(r) && !isHan(r) || unicode.IsDigit(r)
}

// bigramTokens tokenizes folded text. A run of n Han characters yields n-1
// overlapping bigrams at consecutive positions (one position per
// character; the last character's position carries no bigram), or the
// single character when n == 1. With unigrams, every character is also
// emitted at its own position. A run of letters/digits is one token.
// Positions are strictly sequential, so a phrase query made of bigrams (with
// "" for the tail positions, see phraseTerms) matches exactly the substring.
func bigramTokens(text string, unigrams bool, emit func(term string, pos, start, end int)) {
	type ch struct{ start, end int }
	var run []ch // reused for every Han run
	pos := 0
	i := 0
	for i < len(text) {
		r, w := utf8.DecodeRuneInString(text[i:])
		switch {
		case isHan(r):
			// collect the run
			run = run[:0]
			j := i
			for j < len(text) {
				r2, w2 := utf8.DecodeRuneInString(text[j:])
				if !isHan(r2) {
					break
				}
				run = append(run, ch{j, j + w2})
				j += w2
			}
			if len(run) == 1 {
				pos++
				emit(text[run[0].start:run[0].end], pos, run[0].start, run[0].end)
			} else {
				for k := 0; k < len(run); k++ {
					pos++
					if k+1 < len(run) {
						emit(text[run[k].start:run[k+1].end], pos, run[k].start, run[k+1].end)
					}
					if unigrams {
						emit(text[run[k].start:run[k].end], pos, run[k].start, run[k].end)
					}
				}
			}
			i = j
		case isWordRune(r):
			j := i
			for j < len(text) {
				r2, w2 := utf8.DecodeRuneInString(text[j:])
				if !isWordRune(r2) {
					break
				}
				j += w2
			}
			pos++
			emit(text[i:j], pos, i, j)
			i = j
		default:
			i += w
		}
	}
}

// phraseTerms returns the bigram phrase for folded query text: the terms
// at consecutive positions, "" where a position has no bigram (the last
// character of a Han run). Trailing "" are dropped.
func phraseTerms(folded string) []string {
	var terms []string
	bigramTokens(folded, false, func(term string, pos, _, _ int) {
		for len(terms) < pos-1 {
			terms = append(terms, "")
		}
		terms = append(terms, term)
	})
	return terms
}

type bigramAnalyzer struct{ unigrams, folded bool }

func (a bigramAnalyzer) Analyze(in []byte) analysis.TokenStream {
	text := string(in)
	if !a.folded {
		text = Fold(text)
	}
	tb := []byte(text)
	var ta tokenArena
	ts := make(analysis.TokenStream, 0, len(text)/3+1)
	bigramTokens(text, a.unigrams, func(_ string, pos, start, end int) {
		ts = append(ts, ta.token(tb, pos, start, end))
	})
	return ts
}

// tokenArena hands out tokens from slabs, their terms sharing one copy of
// the folded text: indexing a large body otherwise costs two allocations per
// token (bleve does not modify terms once analysed: no token filters run).
type tokenArena struct{ slab []analysis.Token }

func (a *tokenArena) token(text []byte, pos, start, end int) *analysis.Token {
	if len(a.slab) == cap(a.slab) {
		a.slab = make([]analysis.Token, 0, 256)
	}
	a.slab = append(a.slab, analysis.Token{Term: text[start:end:end], Position: pos, Start: start, End: end, Type: analysis.Ideographic})
	return &a.slab[len(a.slab)-1]
}

var (
	segOnce sync.Once
	seg     gse.Segmenter
)

// segmenter returns the shared gse segmenter with the embedded simplified
// dictionary (text is folded to simplified before segmentation). Loading
// takes about a second; it happens once per process.
func segmenter() *gse.Segmenter {
	segOnce.Do(func() {
		seg.SkipLog = true
		if err := seg.LoadDictEmbed("zh_s"); err != nil {
			panic("search: gse dictionary: " + err.Error())
		}
		for _, w := range extraWords {
			seg.AddToken(w, 20000)
		}
	})
	return &seg
}

// extraWords are administrative terms the general dictionary splits badly.
var extraWords = []string{"一网统管", "一网通办", "放管服", "最低生活保障", "低保", "网格员", "发文字号", "行政处罚", "劳动合同", "加班费", "用人单位", "劳动者", "安全生产", "应急预案", "营商环境", "城市运行管理"}

// words segments folded text with gse (shortest-path mode, no search-mode
// overlaps) and calls emit for every word token with sequential positions;
// punctuation and spaces are skipped. Runs of digits/letters are kept whole.
func words(text string, emit func(term string, pos, start, end int)) {
	s := segmenter()
	pos := 0
	off := 0
	for _, w := range s.Slice(text) {
		start := strings.Index(text[off:], w)
		if start < 0 {
			start = 0
		} else {
			start += off
		}
		end := start + len(w)
		off = end
		if !meaningful(w) {
			continue
		}
		pos++
		emit(w, pos, start, end)
	}
}

func meaningful(w string) bool {
	for _, r := range w {
		if isHan(r) || isWordRune(r) {
			return true
		}
	}
	return false
}

type wordAnalyzer struct{}

func (wordAnalyzer) Analyze(in []byte) analysis.TokenStream {
	text := Fold(string(in))
	tb := []byte(text)
	var ta tokenArena
	ts := make(analysis.TokenStream, 0, len(text)/5+1)
	words(text, func(term string, pos, start, end int) {
		t := ta.token(tb, pos, start, end)
		if text[start:end] != term { // not found verbatim in the text
			t.Term = []byte(term)
		}
		ts = append(ts, t)
	})
	return ts
}

func init() {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(registry.RegisterAnalyzer(AnalyzerBigram, func(map[string]interface{}, *registry.Cache) (analysis.Analyzer, error) {
		return bigramAnalyzer{}, nil
	}))
	must(registry.RegisterAnalyzer(AnalyzerBigramTitle, func(map[string]interface{}, *registry.Cache) (analysis.Analyzer, error) {
		return bigramAnalyzer{unigrams: true}, nil
	}))
	must(registry.RegisterAnalyzer(AnalyzerBigramFolded, func(map[string]interface{}, *registry.Cache) (analysis.Analyzer, error) {
		return bigramAnalyzer{folded: true}, nil
	}))
	must(registry.RegisterAnalyzer(AnalyzerWord, func(map[string]interface{}, *registry.Cache) (analysis.Analyzer, error) {
		return wordAnalyzer{}, nil
	}))
}
