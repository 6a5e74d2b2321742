// Package store is yiwang's replicated state: SQLite (modernc.org/sqlite,
// pure Go) behind a hashicorp/raft command log. One node and three nodes run
// the same code path.
//
// Every change of state is a Command applied with Store.Apply. The leader
// completes it (ID, time, idempotency key), raft replicates it, and the FSM
// applies committed entries in batches, one SQLite transaction per batch, by
// calling the handler registered for the command's type and version. Reads go
// to a read-only connection pool. After commit, events go to subscribers in
// log order. See DESIGN.md for why it is built this way.
package store
