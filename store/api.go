package store

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Command is one change of state. Callers fill Type, Version, Payload and
// (optionally) Actor and IdempotencyKey; the leader completes ID and Time
// before the command enters the raft log.
type Command struct {
	Type           string          `json:"type"`
	Version        int             `json:"v"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	Actor          string          `json:"actor,omitempty"`
	IdempotencyKey string          `json:"idem,omitempty"`

	// Set by the leader.
	ID   string    `json:"id,omitempty"`
	Time time.Time `json:"time"`
}

// NewCommand marshals payload into a Command of the given type and version.
func NewCommand(typ string, version int, payload any) (Command, error) {
	var raw json.RawMessage
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return Command{}, fmt.Errorf("marshal %s payload: %w", typ, err)
		}
		raw = b
	}
	return Command{Type: typ, Version: version, Payload: raw}, nil
}

// Handler applies one command inside the FSM's SQLite transaction. It must be
// deterministic: use tx.Now() and tx.NewID(), never time.Now or random. A
// returned error rolls back everything the handler wrote (the command becomes
// a no-op on every node) and is returned to the caller; use *Error to give it
// a code the API can map.
type Handler func(tx *Tx, cmd *Command) (any, error)

// Result is what Apply returns once the command is applied on this node.
type Result struct {
	Index uint64          `json:"index"`
	CmdID string          `json:"cmd_id"`
	Time  time.Time       `json:"time"`
	Value json.RawMessage `json:"value,omitempty"`
}

// Decode unmarshals the handler's return value into v.
func (r Result) Decode(v any) error {
	if len(r.Value) == 0 {
		return errors.New("store: empty result")
	}
	return json.Unmarshal(r.Value, v)
}

// Event is delivered to subscribers after a command has been committed and
// applied on this node, in log order. Failed commands produce no event.
type Event struct {
	Index  uint64          `json:"index"`
	Cmd    Command         `json:"cmd"`
	Result json.RawMessage `json:"result,omitempty"`
	// Replayed is true for events read back from the command log table while
	// catching a subscriber up from its watermark.
	Replayed bool `json:"replayed,omitempty"`
}

// Migration is one schema step of a module. Steps are numbered from 1 in the
// order given to AddMigrations and applied once, in order, on every node.
type Migration = string

// RegisterOption tunes how a command type is handled.
type RegisterOption func(*registration)

// NoLogPayload keeps the command's payload out of the command log table (its
// hash is still chained into the audit trail). For high-volume commands such as
// telemetry.batch whose data lives in the module's own tables.
func NoLogPayload() RegisterOption { return func(r *registration) { r.noLogPayload = true } }

// Config configures a node.
type Config struct {
	// DataDir holds yiwang.db, the raft log and snapshots.
	DataDir string
	// NodeID names this node in the cluster. Empty: read from DataDir/node-id,
	// or created from the host name at first start.
	NodeID string
	// RaftAddr is the TCP address raft listens on (e.g. 127.0.0.1:7946).
	// Empty means a single node with an in-memory transport that can never
	// grow; give RaftAddr to be able to add nodes later.
	RaftAddr string
	// RaftAdvertise is the address other nodes use to reach RaftAddr
	// (defaults to RaftAddr).
	RaftAdvertise string
	// HTTPAdvertise is this node's HTTP base URL (e.g. http://10.0.0.5:8080),
	// which other nodes use to forward writes to it when it leads.
	HTTPAdvertise string
	// JoinURL is the HTTP base URL of any member of an existing cluster. When
	// set and this node has no raft state yet, the node joins that cluster
	// instead of bootstrapping its own.
	JoinURL string
	// Secret authenticates cluster traffic (join, forwarding). Required for
	// JoinURL and for accepting joins.
	Secret string
	// RaftTLS, when set, wraps the raft transport in TLS (both directions).
	RaftTLS *tls.Config
	// HTTPClientTLS is used for forwarding to https:// peers.
	HTTPClientTLS *tls.Config
	// Logf receives operational log lines; nil discards them.
	Logf func(format string, args ...any)

	// Tuning; zero values pick defaults.
	SnapshotThreshold uint64        // log entries between snapshots
	SnapshotInterval  time.Duration // how often raft checks
	TrailingLogs      uint64        // log entries kept after a snapshot
	ApplyTimeout      time.Duration // per Apply
	// ElectionTimeout scales raft heartbeat/election/lease timeouts; zero means
	// defaults suitable for a LAN.
	ElectionTimeout time.Duration
}

// Status is what /api/health reports.
type Status struct {
	NodeID       string `json:"node_id"`
	State        string `json:"state"` // leader|follower|candidate|shutdown
	Leader       string `json:"leader"`
	LeaderAddr   string `json:"leader_addr,omitempty"`
	AppliedIndex uint64 `json:"applied_index"`
	CommitIndex  uint64 `json:"commit_index"`
	LastIndex    uint64 `json:"last_log_index"`
	Lag          uint64 `json:"lag"`
	Term         uint64 `json:"term"`
	Nodes        []Node `json:"nodes,omitempty"`
	// Halted is non-empty when this node met a command it cannot apply
	// (e.g. an unknown version) and stopped applying; upgrade it.
	Halted string `json:"halted,omitempty"`
}

// Node is a cluster member as the replicated state knows it.
type Node struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	Suffrage string `json:"suffrage"`
	Version  string `json:"version,omitempty"`
}

// Error is a handler or store error with a stable code that survives
// forwarding between nodes. Codes used across yiwang: invalid, not_found,
// conflict, forbidden, unknown_command, not_leader, unavailable, internal.
type Error struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
	// Allowed lists permitted alternatives (e.g. state transitions) when a
	// conflict is about a state machine.
	Allowed []string `json:"allowed,omitempty"`
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with a code.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// AsError converts any error into an *Error (code internal when unknown).
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return &Error{Code: "unavailable", Message: err.Error()}
	}
	return &Error{Code: "internal", Message: err.Error()}
}

// Errors returned by the store itself.
var (
	ErrNotLeader = &Error{Code: "not_leader", Message: "this node is not the leader and no leader is known"}
	ErrClosed    = &Error{Code: "unavailable", Message: "store is closed"}
)
