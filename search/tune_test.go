package search

import (
	"context"
	"os"
	"testing"
)

// TestTuneRelated prints recall@10 on the held-out cases for a grid of
// Related weights (YIWANG_TUNE=1; YIWANG_CORPUS_INDEX keeps the index).
func TestTuneRelated(t *testing.T) {
	if os.Getenv("YIWANG_TUNE") == "" {
		t.Skip("set YIWANG_TUNE=1")
	}
	ix, docs := corpusIndex(t)
	defer func(a, b, c, d float64, n, m, k int) {
		relatedSectionWeight, relatedDocWeight, relatedPrior, relatedCaseWeight, relatedTerms, relatedMinDF, relatedCases = a, b, c, d, n, m, k
	}(relatedSectionWeight, relatedDocWeight, relatedPrior, relatedCaseWeight, relatedTerms, relatedMinDF, relatedCases)
	for _, v := range []struct {
		sec, doc, prior, cases float64
		terms, minDF, k        int
	}{
		{1, 1, 1, 0, 24, 2, 5}, {1, 1, 1, 0.5, 24, 2, 5}, {1, 1, 1, 1, 24, 2, 5}, {1, 1, 1, 2, 24, 2, 5},
		{1, 1, 1, 1, 24, 2, 3}, {1, 1, 1, 1, 24, 2, 8}, {1, 1, 1, 1, 32, 2, 5}, {1, 1, 1, 1, 16, 2, 5},
	} {
		relatedSectionWeight, relatedDocWeight, relatedPrior, relatedCaseWeight, relatedTerms, relatedMinDF, relatedCases = v.sec, v.doc, v.prior, v.cases, v.terms, v.minDF, v.k
		ix.idf.Clear()
		ev := ix.evalRelated(context.Background(), docs)
		t.Logf("sec %.1f doc %.1f prior %.1f cases %.1f×%d terms %d mindf %d: recall@10 %.3f any %.2f (%d pairs)", v.sec, v.doc, v.prior, v.cases, v.k, v.terms, v.minDF, ev.recall, ev.anyHit, ev.pairs)
	}
}

// TestTuneRelatedDebug prints, for every held-out case, the cited laws and
// where Related ranks them (YIWANG_TUNE=debug).
func TestTuneRelatedDebug(t *testing.T) {
	if os.Getenv("YIWANG_TUNE") != "debug" {
		t.Skip("set YIWANG_TUNE=debug")
	}
	ix, docs := corpusIndex(t)
	ctx := context.Background()
	testGold = func(g map[string]bool) { t.Logf("gold %v", g) }
	defer func() { testGold = nil }()
	evalCases(docs, func(title string) string {
		idx, done := ix.bleve()
		defer done()
		return ix.byTitle(idx, title)
	}, func(facts, self string) []string {
		r, _ := ix.Related(ctx, facts, 50, RelatedOptions{Kinds: []string{KindPolicy}, Exclude: []string{self}})
		var top []string
		for i, h := range r.Hits {
			if i < 10 {
				top = append(top, h.Title)
			}
		}
		kts := ix.KeyTerms(facts, 12)
		t.Logf("%s\n  terms %v\n  top %v", self, kts, top)
		return ids(r)[:min(10, len(r.Hits))]
	})
}
