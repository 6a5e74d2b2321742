package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Store is one node of the replicated store.
//
// Lifecycle: New → Register/AddMigrations (every module) → Start → use →
// Close. Register and AddMigrations must be called before Start.
type Store struct {
	cfg Config
}

type registration struct {
	typ          string
	version      int
	h            Handler
	noLogPayload bool
}

// Tx is what a Handler works in: the FSM's SQLite transaction for this
// command, plus the leader-assigned facts.
type Tx struct {
	*sql.Tx
	Cmd   *Command
	Index uint64
	n     int
}

// Now is the leader-assigned command time. Use it instead of time.Now.
func (t *Tx) Now() time.Time { return t.Cmd.Time }

// Actor is who issued the command ("user:12", "device:abc", "system").
func (t *Tx) Actor() string { return t.Cmd.Actor }

// NewID returns a new ID that is unique in the cluster and identical on every
// node: it is derived from the command ID and a per-command counter.
func (t *Tx) NewID() string { panic("todo") }

// BackupInfo describes a backup file.
type BackupInfo struct {
	Index   uint64    `json:"index"`
	NodeID  string    `json:"node_id"`
	Time    time.Time `json:"time"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Version string    `json:"version,omitempty"`
}

// New creates a node; nothing is opened until Start.
func New(cfg Config) (*Store, error) { panic("todo") }

// Register adds the handler for one version of a command type.
func (s *Store) Register(typ string, version int, h Handler, opts ...RegisterOption) { panic("todo") }

// AddMigrations declares a module's schema steps (step 1 first).
func (s *Store) AddMigrations(module string, steps ...Migration) { panic("todo") }

// Start opens the database, runs migrations, starts raft and bootstraps a
// single-node cluster or joins Config.JoinURL. It returns when this node has
// caught up with the log it had before shutdown.
func (s *Store) Start(ctx context.Context) error { panic("todo") }

// Close stops raft and closes the database.
func (s *Store) Close() error { panic("todo") }

// Apply replicates cmd and returns once it is applied on this node. On a
// follower the command is forwarded to the leader.
func (s *Store) Apply(ctx context.Context, cmd Command) (Result, error) { panic("todo") }

// DB is the local read-only connection pool (WAL; may be slightly stale on a
// follower). Never write through it.
func (s *Store) DB() *sql.DB { panic("todo") }

// ConsistentRead blocks until this node has applied everything the leader had
// committed when it was called (a linearizable read barrier).
func (s *Store) ConsistentRead(ctx context.Context) error { panic("todo") }

// Subscribe delivers every event with index > from to fn, in log order, on a
// goroutine of its own. Events older than what is in memory are replayed from
// the command log table first. cancel stops delivery.
func (s *Store) Subscribe(name string, from uint64, fn func(Event)) (cancel func()) { panic("todo") }

// Status reports raft state for /api/health.
func (s *Store) Status() Status { panic("todo") }

// IsLeader tells whether this node currently leads.
func (s *Store) IsLeader() bool { panic("todo") }

// NodeID is this node's ID.
func (s *Store) NodeID() string { return s.cfg.NodeID }

// AppliedIndex is the last raft index applied to SQLite on this node.
func (s *Store) AppliedIndex() uint64 { panic("todo") }

// WaitApplied blocks until the local applied index reaches index.
func (s *Store) WaitApplied(ctx context.Context, index uint64) error { panic("todo") }

// Backup writes an online, consistent backup of the database to w.
func (s *Store) Backup(ctx context.Context, w io.Writer) (BackupInfo, error) { panic("todo") }

// HTTPHandler serves cluster-internal endpoints (join, forward, read index);
// mount it at /api/internal/cluster/.
func (s *Store) HTTPHandler() http.Handler { panic("todo") }

// RemoveNode removes a member (leader only; forwarded otherwise).
func (s *Store) RemoveNode(ctx context.Context, id string) error { panic("todo") }

// LogEntry is one applied command as recorded in the command log (which is
// also the hash-chained audit trail).
type LogEntry struct {
	Index   uint64          `json:"index"`
	CmdID   string          `json:"cmd_id"`
	Type    string          `json:"type"`
	Version int             `json:"v"`
	Actor   string          `json:"actor"`
	Time    time.Time       `json:"time"`
	Payload json.RawMessage `json:"payload,omitempty"`
	// Error is the refusal message when the handler refused the command
	// (refused commands are logged too; they changed nothing).
	Error string `json:"error,omitempty"`
	Hash  string `json:"hash"`
}

// LogFilter selects command log entries. Zero fields do not filter.
type LogFilter struct {
	Actor      string
	TypePrefix string // e.g. "auth." or "case.create"
	Since      time.Time
	Until      time.Time
	Text       string // substring of the payload
	OnlyErrors bool
	Limit      int // default 50, max 1000
	Offset     int
	Ascending  bool // default newest first
}

// QueryLog reads the command log (for the audit pages and exports).
func (s *Store) QueryLog(ctx context.Context, f LogFilter) ([]LogEntry, int, error) { panic("todo") }

// AuditReport is the result of verifying the hash chain.
type AuditReport struct {
	Rows     int64  `json:"rows"`
	OK       bool   `json:"ok"`
	FirstBad uint64 `json:"first_bad_index,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// VerifyAudit checks the hash chain of the command log in the live database.
func (s *Store) VerifyAudit(ctx context.Context) (AuditReport, error) { panic("todo") }
