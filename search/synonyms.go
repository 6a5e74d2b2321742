package search

import (
	"bufio"
	"io"
	"sort"
	"strings"
	"sync"
)

// Synonyms is an editable dictionary of equivalent terms (synonyms and
// abbreviations). It is applied at query time: a query containing one
// member is expanded to phrase alternatives with every other member, so
// multi-word members (最低生活保障) work and editing the dictionary never
// needs a reindex.
type Synonyms struct {
	mu     sync.RWMutex
	groups [][]string
	byTerm map[string]int // folded term → group
	terms  []string       // folded terms, longest first
}

// DefaultSynonymText is the dictionary a new knowledge base starts with.
// One group per line, members separated by spaces, commas or ↔; # comments.
const DefaultSynonymText = `# 同义词/简称词典：每行一组
低保 最低生活保障
特困 特困人员救助供养
一网统管 城市运行管理 城市运行一网统管
一网通办 政务服务一网通办
放管服 简政放权、放管结合、优化服务 简政放权放管结合优化服务
五险一金 社会保险和住房公积金
社保 社会保险
医保 医疗保险 基本医疗保险
公积金 住房公积金
工伤 工伤保险
加班费 加班工资 延长工作时间工资报酬
双减 减轻义务教育阶段学生作业负担和校外培训负担
河长制 河湖长制
网格员 网格管理员
营商环境 优化营商环境
12345 12345热线 政务服务便民热线
城管 城市管理
综合执法 综合行政执法
安监 安全生产监督管理
消协 消费者协会
人社 人力资源和社会保障 人力资源社会保障
发改委 发展和改革委员会 发展改革委
住建 住房和城乡建设 住房城乡建设
`

// ParseSynonyms reads a dictionary in the DefaultSynonymText format.
func ParseSynonyms(r io.Reader) ([][]string, error) {
	var groups [][]string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		f := strings.FieldsFunc(l, func(r rune) bool {
			return r == ' ' || r == '\t' || r == ',' || r == '，' || r == '↔' || r == '=' || r == '|' || r == '　'
		})
		if len(f) >= 2 {
			groups = append(groups, f)
		}
	}
	return groups, sc.Err()
}

// NewSynonyms builds a dictionary from groups of equivalent terms.
func NewSynonyms(groups [][]string) *Synonyms {
	s := &Synonyms{}
	s.Replace(groups)
	return s
}

// DefaultSynonyms returns the built-in dictionary.
func DefaultSynonyms() *Synonyms {
	g, _ := ParseSynonyms(strings.NewReader(DefaultSynonymText))
	return NewSynonyms(g)
}

// Replace swaps the dictionary content atomically.
func (s *Synonyms) Replace(groups [][]string) {
	by := map[string]int{}
	var clean [][]string
	for _, g := range groups {
		var members []string
		for _, t := range g {
			t = Fold(strings.TrimSpace(t))
			if t != "" {
				members = append(members, t)
			}
		}
		if len(members) < 2 {
			continue
		}
		for _, t := range members {
			if _, dup := by[t]; !dup {
				by[t] = len(clean)
			}
		}
		clean = append(clean, members)
	}
	terms := make([]string, 0, len(by))
	for t := range by {
		terms = append(terms, t)
	}
	sort.Slice(terms, func(i, j int) bool {
		if len(terms[i]) != len(terms[j]) {
			return len(terms[i]) > len(terms[j])
		}
		return terms[i] < terms[j]
	})
	s.mu.Lock()
	s.groups, s.byTerm, s.terms = clean, by, terms
	s.mu.Unlock()
}

// Groups returns a copy of the dictionary.
func (s *Synonyms) Groups() [][]string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([][]string, len(s.groups))
	for i, g := range s.groups {
		out[i] = append([]string(nil), g...)
	}
	return out
}

// Expand returns the folded query chunk plus its variants with each known
// term replaced by the other members of its group (longest match first,
// at most max variants).
func (s *Synonyms) Expand(chunk string, max int) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []string{chunk}
	seen := map[string]bool{chunk: true}
	for _, t := range s.terms {
		if len(out) >= max {
			break
		}
		if !strings.Contains(chunk, t) {
			continue
		}
		// do not expand a term that is only part of a longer matched term
		// (最低生活保障 contains no 低保, but 城市运行一网统管 contains 一网统管).
		for _, alt := range s.groups[s.byTerm[t]] {
			if alt == t {
				continue
			}
			v := strings.Replace(chunk, t, alt, 1)
			if !seen[v] && len(out) < max {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// SetSynonyms replaces the index's synonym dictionary (query time only).
func (ix *Index) SetSynonyms(groups [][]string) { ix.syn.Replace(groups) }

// LoadSynonyms replaces the dictionary from text in the DefaultSynonymText format.
func (ix *Index) LoadSynonyms(r io.Reader) error {
	g, err := ParseSynonyms(r)
	if err != nil {
		return err
	}
	ix.syn.Replace(g)
	return nil
}

// Synonyms returns the index's dictionary.
func (ix *Index) Synonyms() *Synonyms { return ix.syn }
