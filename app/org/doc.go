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
// prefix is the parent. Unfiltered user lists read their total from a
// counter maintained by the handlers, so a million accounts list in
// milliseconds.
//
// Imports parse the whole sheet, report every row's problems (preview), and
// write only an error-free sheet, as one command: all rows or none.
package org
