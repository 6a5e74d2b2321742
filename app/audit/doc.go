// Package audit is the administrators' view of the command log: search
// (actor, type, time range, text, refusals), export as CSV or .xlsx, and
// verification of the hash chain.
//
// # Why it is built this way
//
// There is no separate audit table: the store's replicated command log
// already records every write and every login attempt (successful or not),
// in order, hash-chained. This package only reads it through
// store.QueryLog and store.VerifyAudit, so the audit trail cannot disagree
// with what actually happened. Secrets never enter commands (only hashes),
// and the few hash fields are still redacted on display and export.
// Actor ids ("user:12") are resolved to names through a function the
// composition root supplies, so this package does not read other modules'
// tables.
package audit
