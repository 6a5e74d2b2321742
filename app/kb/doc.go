// Package kb is the knowledge base (政策法规及案例知识库) module: documents,
// their 时效性 and the links between them (修改/废止/替代), and the synonym
// dictionary live in the replicated store; the full-text index (package
// search) is derived from them on every node.
//
// # Why it is built this way
//
// The store is the truth. Every change is a command (kb.document.create,
// kb.document.update, kb.document.delete, kb.link.create, kb.link.delete,
// kb.synonyms.set) applied on every node; metadata (智能解析: title,
// 发文字号, 发文机关, dates, level, status) is parsed by the API handler
// before the command is issued, so handlers stay deterministic and every
// node holds the same values.
//
// The index is derived state. Each node keeps a bleve index under
// DATA/kb-index and feeds it from the store's post-commit events
// (Store.Subscribe): a kb command's result names the documents it touched,
// and the indexer re-reads those from the tables and indexes (or deletes)
// them. Re-reading the current row makes events idempotent, so replaying
// one twice is harmless. The index records the last store index it applied
// (search.Index.SetWatermark); on start the subscription resumes from that
// watermark, so a restart replays only what the index has not seen. A
// snapshot restore (store.EventRestored), a schema change of the index
// (search.ErrSchema) or `yiwang kb reindex` rebuild the index from the
// tables in a sibling directory and swap it in.
//
// The command log keeps only the hash of create/update payloads
// (store.NoLogPayload): the text lives once, in kb_document, and the
// indexer needs only the commands' results.
//
// Import extracts text (search/extract: size limits, zip-bomb, encryption
// and corruption checks, no side effects) and parses metadata before
// anything is written; a file whose text hash is already stored is skipped,
// so a bulk import can be re-run safely. Closed yiwang cases worth keeping
// become 案例 through the cases module's Go API (Options.Cases), in the
// caller's permissions and data scope.
//
// API (kb.read / kb.write): GET /api/v1/kb/search, /suggest, /status,
// /documents[/{id}], /synonyms; POST /related, /import (multipart),
// /documents, /links, /cases/{id}, /reindex; PATCH/DELETE /documents/{id};
// DELETE /links; PUT /synonyms. CLI: yiwang kb import|search|related|reindex
// (app/cli_kb.go).
package kb
