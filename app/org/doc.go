// Package org is the organisation and identity module: the department tree
// (委办局, 乡镇街道), the grid tree (county → township → community/village →
// unit grid, 14-digit codes), users with roles, sessions, API tokens, first-
// run setup, and Excel import/export. It is also the httpapi.Authenticator.
//
// # Why it is built this way
//
// Every write is a store command (org.*, auth.*), including logins and
// failed logins: the command log is the audit trail, and lockout counters
// replicate and survive restarts because they live in SQLite, written by the
// FSM like everything else. Handlers are deterministic; what is random
// (argon2id salts, session tokens) is produced before the command is issued,
// and only hashes enter the log — never a password or a token.
//
// Passwords use argon2id (19 MiB, t=2, p=1; parameters stored per hash so
// they can be raised), compared in constant time; an unknown user costs the
// same time as a wrong password. Tokens are 256-bit random values with a
// recognisable prefix (yws_ session, ywt_ API); the store keeps their
// SHA-256. Resolved principals are cached for at most 30 s and the cache is
// cleared by every org/auth event on every node, and at once on the node
// that made the change.
//
// Data scope is applied in SQL through httpapi.Principal.ScopeFilter on every
// list, read, export and write; a record outside the caller's scope is "not
// found" rather than "forbidden", so its existence does not leak.
//
// Departments keep a materialised path ("/1/4/9/") so a subtree is one
// indexed prefix comparison; grids are identified by their code, whose
// prefix is the parent.
//
// The users list stays under 50 ms p99 at a million accounts
// (docs/bench-app.md): every filter and sort has an index (roles through
// org_user_role, kept by triggers); the page is a deferred join, so OFFSET
// skips narrow index entries and only the page's rows are read in full;
// pages past the middle of the unfiltered list are read from the other
// end; q and role come in a narrow form (index, then sort the matches) and
// a broad one (walk the sort order), chosen by a capped count of the
// filter's own index; totals of filtered lists are counted up to
// httpapi.CountCap and flagged total_capped beyond, and the unfiltered
// total comes from a counter maintained by the handlers.
//
// Imports parse the whole sheet, report every row's problems (preview), and
// write only an error-free sheet, as one command: all rows or none.
package org
