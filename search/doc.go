// Package search is the engine behind the knowledge base (知识库): a bleve
// (scorch) index of policies, regulations, cases, plans and standards, with
// Chinese analysis built for how county staff search. Text extraction lives
// in search/extract, metadata parsing (智能解析) in search/meta.
//
// The package never imports app/ or store/. app/kb keeps documents in the
// replicated store and feeds them here; the index is derived state: it can
// be thrown away and rebuilt (Rebuild), and it records the last store index
// it applied (Watermark/SetWatermark) so it resumes after a restart.
//
// # Two fields per text
//
// Chinese has no spaces, and no single tokenization serves both recall and
// precision:
//
//   - A bigram field (analyzer yw_bigram): every Han run of n characters is
//     emitted as n-1 overlapping bigrams at consecutive positions, one
//     position per character. A query chunk becomes a phrase query of its
//     bigrams ("" placeholders where a position carries no bigram), which
//     matches exactly the substring, whatever a segmenter would think of it.
//     This gives phrase and substring recall: 最低生活保障, 劳动法第44条,
//     a name the dictionary has never seen. Titles additionally index every
//     character (yw_bigram_title) so one-character title searches work.
//   - A word field (analyzer yw_word): gse in shortest-path mode, one token
//     per word, positions strictly sequential. gse's search mode (CutSearch)
//     is deliberately not used: it emits overlapping sub-words (中华 /
//     人民 / 共和国 / 中华人民共和国) whose positions collide and break phrase
//     queries. Words are what Related weights (TF-IDF) and what ranks titles.
//
// The document record carries the bigram body (for search and phrases); its
// sections (each 第X条 article, or ~200-character paragraph runs for texts
// without articles, plus the preamble) carry the word field. So the costly
// segmentation happens once per text, and article-level results come for
// free: a section's id is docID#art-44, the anchor the document reader uses.
//
// # Normalisation
//
// Index and query text go through the same Fold: traditional → simplified
// (a table generated from OpenCC's TSCharacters, see t2s_table.go; no pure-Go
// OpenCC port resolves from the module proxy), full-width → half-width,
// lower case, and Chinese ordinals 第四十四条 → 第44条 (meta.NormalizeOrdinals),
// so 第四十四条 and 第44条 are the same tokens. FoldChars (without the ordinal
// step) is 1:1 on runes, which lets snippets find matches in folded text and
// highlight the original.
//
// # Synonyms at query time
//
// bleve's synonym support works on single tokens and silently drops
// multi-token terms, which is exactly what Chinese abbreviations are
// (低保 ↔ 最低生活保障 is 2 vs 5 bigrams). Synonyms are therefore applied to
// the query: a chunk containing a dictionary member becomes a disjunction of
// phrase queries over every member (the literal scores a little higher).
// The dictionary (Synonyms) is editable at runtime (SetSynonyms,
// LoadSynonyms) and never requires a reindex.
//
// # Ranking
//
// Search requires every query chunk (or a synonym) to match the title or the
// body as a phrase, then adds score for: an exact title (title_key holds the
// folded title and the title without 中华人民共和国 or a trailing （修正）),
// words in the title, the whole query as a title phrase, a 发文字号 match
// (full 国办发〔2017〕39号 or partial 国办发39号 / 39号文, on num_code,
// num_year, num_seq), and 现行有效 status. Scoring is BM25. A 第X条 in the
// query is taken out of the text query and resolved on the top hits to the
// section docID#art-X, which is returned with its text and anchor.
//
// # Related
//
// Related(text) extracts key terms with gse, weights them by sqrt(tf) ×
// idf where idf comes from the index's own section statistics (so words
// common in law, like 规定, weigh little; anonymised names like 张某 are
// dropped, and so are words found in fewer than 3 sections: a company's
// trade or a medical detail in the facts is incidental, not a sign of the
// law that applies), runs one weighted disjunction over the sections and groups hits
// by document (best section plus diminishing credit for more), adds a
// document-level score (the same terms as phrases over whole bodies, which
// rewards broad coverage of the topic), and multiplies by a small prior for
// legal force (法律 > 司法解释/行政法规 > others, 国家 level). Each hit
// carries the articles that matched. Optionally 《…》 citations in the text
// are resolved by title and boosted.
//
// # Bulk indexing
//
// Bulk (imports, Rebuild) writes its batches two (up to four, by
// GOMAXPROCS) at a time, the caller's batch size and a 4 MB text budget
// split between them: bleve analyses a batch's documents in parallel but
// maps them and builds the zap segment in the calling goroutine, so a
// single writer leaves a core idle, and analysed batches in flight are what
// sets the peak RSS of an import. Analysis hands out
// tokens from slabs whose terms share one copy of the folded text. The
// CPU cost is about half analysis (gse ≈ 30 % of the total, bigrams ≈ 8 %)
// and half segment building; see BENCHMARKS.md for CPU seconds per MB.
//
// Figures (indexing MB/s, query latency, Related quality against the stock
// bleve cjk analyzer) are produced by Bench and recorded in
// search/BENCHMARKS.md.
package search
