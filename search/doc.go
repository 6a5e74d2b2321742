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
// # One positional bigram field per text
//
// Chinese has no spaces. The body is indexed once, as bigrams (analyzer
// yw_bigram_folded; titles use yw_bigram_title): every Han run of n
// characters is emitted as n-1 overlapping bigrams at consecutive
// positions, one position per character. A query chunk becomes a phrase
// query of its bigrams ("" placeholders where a position carries no
// bigram), which matches exactly the substring, whatever a segmenter would
// think of it: 最低生活保障, 劳动法第44条, a name no dictionary has seen.
// Titles additionally index every character so one-character title
// searches work.
//
// gse runs on queries and on Related's input text, never at index time
// (so an import or a rebuild does not even load its dictionary). Earlier
// versions also indexed every section with a gse word field; segmentation was ~30 % of indexing CPU and the second copy of
// every token most of the rest, and the field is no longer needed (see
// Related). gse's search mode (CutSearch) is deliberately not used
// anywhere: it emits overlapping sub-words whose positions collide and
// break phrase queries.
//
// Sections (each 第X条 article, or ~200-character paragraph runs for texts
// without articles, plus the preamble) are not index records of their own:
// the document's stored "sections" field lists each one's key, label and
// byte range in the stored text, and sec_off where each starts in the
// folded body. A section's id is docID#art-44 (art-44 is the anchor the
// document reader uses), so a 第X条 in a query resolves to the article of
// the hit. Until yw-search-5 every section was a bleve document storing a
// copy of its text: ~40 per document (147,000 on the corpus), ≈ 12 % of
// indexing CPU, and they inflated the document count that bleve's BM25
// idf and average length use.
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
// Related(text) extracts key terms with gse, weighted by sqrt(tf) × idf
// where idf comes from the index's own document statistics (the document
// frequency of a term's rarest body bigram, read from the term dictionary;
// so words common in law, like 规定, weigh little; anonymised names like
// 张某 are dropped, and so are words almost no document contains). It then
// runs one query, the key terms as weighted phrases over bodies, with match
// locations: the document score rewards broad coverage of the topic, and
// the locations, mapped to sections through sec_off, score each article
// BM25-style (best article plus diminishing credit for more), which favours
// a law with one article that concentrates the terms. The same query over
// 案例 finds the most similar cases, and the laws they cite (《…》, stored
// as cites at index time, resolved by title) get a vote weighted by the
// case's similarity: a precedent is the best evidence of which law applies
// to a set of facts. Scores are normalised and summed, then multiplied by a
// small prior for legal force (法律 > 司法解释/行政法规 > others, 国家
// level). Each hit carries the articles that matched. Optionally 《…》
// citations in the text itself are resolved by title and boosted.
//
// # Bulk indexing
//
// Bulk (imports, Rebuild) writes its batches two (up to four, by
// GOMAXPROCS) at a time, the caller's batch size and a 16 MB text budget
// split between them: bleve analyses a batch's documents in parallel but
// maps them and builds the zap segment in the calling goroutine, so a
// single writer leaves a core idle, and analysed batches in flight are what
// sets the peak RSS of an import. While a Bulk runs the collector runs at
// GOGC 400 under a memory limit 800 MB above the heap in use at its start.
// The body is folded once (foldBody) and handed to an analyzer that does
// not fold again. Analysis hands out tokens from slabs whose terms share
// one copy of the folded text. What is left is bleve's own per-token cost:
// building the term-frequency maps and the zap segment (postings,
// locations, dictionaries) and merging segments; see BENCHMARKS.md.
//
// Figures (indexing MB/s, query latency, Related quality against the stock
// bleve cjk analyzer) are produced by Bench and recorded in
// search/BENCHMARKS.md.
package search
