package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/oklog/ulid/v2"
)

// Store is one node of the replicated store.
//
// Lifecycle: New → Register/AddMigrations (every module) → Start → use →
// Close. Register and AddMigrations must be called before Start.
type Store struct {
	cfg Config

	mu         sync.Mutex
	started    bool
	closed     bool
	handlers   map[cmdKey]*registration
	migrations []moduleMigrations

	writer *sql.DB // used by the FSM only
	reader *sql.DB

	raft      *raft.Raft
	transport raft.Transport
	boltStore *raftboltdb.BoltStore
	snaps     raft.SnapshotStore
	fsm       *fsm

	applied     atomic.Uint64 // store index applied to SQLite
	appliedRaft atomic.Uint64 // raft index applied to SQLite
	offset      atomic.Uint64 // store index - raft index
	waitMu      sync.Mutex
	appliedCh   chan struct{} // closed and replaced after every applied batch

	freezeMu sync.Mutex
	frozen   int
	ckptMu   sync.Mutex // one checkpoint at a time (background or freeze)
	ckptDB   *sql.DB    // the background checkpointer's connection
	ckptDone chan struct{}
	ckptStop chan struct{}

	halted  atomic.Value // string
	closeCh chan struct{}

	hub *hub

	clockMu  sync.Mutex
	lastTime time.Time

	nodesMu sync.RWMutex
	nodes   map[string]nodeRow // replicated _nodes, cached

	httpClient *http.Client
	logf       func(format string, args ...any)
}

type cmdKey struct {
	typ     string
	version int
}

type registration struct {
	typ          string
	version      int
	h            Handler
	noLogPayload bool
}

type nodeRow struct {
	Node
	Commands []string `json:"commands"`
}

// Tx is what a Handler works in: the FSM's SQLite transaction for this
// command, plus the leader-assigned facts.
type Tx struct {
	*sql.Tx
	Cmd *Command
	// Index is the store index this command is applied at.
	Index uint64
	n     int
}

// Now is the leader-assigned command time. Use it instead of time.Now.
func (t *Tx) Now() time.Time { return t.Cmd.Time }

// Actor is who issued the command ("user:12", "device:abc", "system").
func (t *Tx) Actor() string { return t.Cmd.Actor }

// NewID returns a new ID that is unique in the cluster and identical on every
// node: it is derived from the command ID and a per-command counter.
func (t *Tx) NewID() string {
	t.n++
	if t.n == 1 {
		return t.Cmd.ID
	}
	return fmt.Sprintf("%s%d", t.Cmd.ID, t.n)
}

// New creates a node; nothing is opened until Start.
func New(cfg Config) (*Store, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("store: DataDir is required")
	}
	if cfg.JoinURL != "" && cfg.Secret == "" {
		return nil, errors.New("store: joining a cluster needs the cluster secret")
	}
	if cfg.JoinURL != "" && cfg.RaftAddr == "" {
		return nil, errors.New("store: joining a cluster needs a raft address (--raft)")
	}
	if cfg.RaftAdvertise == "" {
		cfg.RaftAdvertise = cfg.RaftAddr
	}
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 30 * time.Second
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = 8192
	}
	if cfg.SnapshotInterval == 0 {
		cfg.SnapshotInterval = 30 * time.Second
	}
	logf := cfg.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s := &Store{
		cfg:       cfg,
		handlers:  map[cmdKey]*registration{},
		appliedCh: make(chan struct{}),
		closeCh:   make(chan struct{}),
		hub:       newHub(),
		nodes:     map[string]nodeRow{},
		logf:      logf,
	}
	s.halted.Store("")
	s.httpClient = &http.Client{
		Timeout:   cfg.ApplyTimeout + 5*time.Second,
		Transport: &http.Transport{TLSClientConfig: cfg.HTTPClientTLS, MaxIdleConnsPerHost: 64},
	}
	s.registerInternal()
	return s, nil
}

// Register adds the handler for one version of a command type. Register every
// version the node can still apply: an old node refuses versions it lacks.
func (s *Store) Register(typ string, version int, h Handler, opts ...RegisterOption) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		panic("store: Register after Start")
	}
	if typ == "" || version < 1 || h == nil {
		panic("store: Register needs a type, a version >= 1 and a handler")
	}
	k := cmdKey{typ, version}
	if _, dup := s.handlers[k]; dup {
		panic(fmt.Sprintf("store: %s v%d registered twice", typ, version))
	}
	r := &registration{typ: typ, version: version, h: h}
	for _, o := range opts {
		o(r)
	}
	s.handlers[k] = r
}

// Commands lists the registered "type:version" pairs, sorted.
func (s *Store) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.handlers))
	for k := range s.handlers {
		out = append(out, fmt.Sprintf("%s:%d", k.typ, k.version))
	}
	sort.Strings(out)
	return out
}

func (s *Store) handler(typ string, version int) *registration {
	return s.handlers[cmdKey{typ, version}] // read-only after Start
}

// Start opens the database, runs migrations, starts raft and bootstraps a
// single-node cluster or joins Config.JoinURL. It returns when this node has
// caught up with the log it had before shutdown (or, when joining, once the
// join request was accepted).
func (s *Store) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("store: already started")
	}
	s.started = true
	s.mu.Unlock()

	if err := os.MkdirAll(s.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("store: data dir: %w", err)
	}
	if s.cfg.NodeID == "" {
		id, err := loadOrCreateNodeID(s.cfg.DataDir)
		if err != nil {
			return err
		}
		s.cfg.NodeID = id
	} else if err := writeNodeIDIfMissing(s.cfg.DataDir, s.cfg.NodeID); err != nil {
		return err
	}
	w, r, err := openDBs(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	s.writer, s.reader = w, r
	if err := migrate(ctx, s.writer, s.migrations); err != nil {
		s.closeDBs()
		return err
	}
	if err := s.loadMeta(ctx); err != nil {
		s.closeDBs()
		return fmt.Errorf("store: read meta: %w", err)
	}
	if err := s.startCheckpointer(); err != nil {
		s.closeDBs()
		return fmt.Errorf("store: %w", err)
	}
	if err := s.startRaft(ctx); err != nil {
		s.closeDBs()
		return err
	}
	return nil
}

func (s *Store) loadMeta(ctx context.Context) error {
	ra, err := getMetaUint(ctx, s.writer, metaRaftApplied)
	if err != nil {
		return err
	}
	off, err := getMetaUint(ctx, s.writer, metaOffset)
	if err != nil {
		return err
	}
	s.appliedRaft.Store(ra)
	s.offset.Store(off)
	var idx uint64
	var head string
	err = s.writer.QueryRowContext(ctx, `SELECT idx, hash FROM _log ORDER BY idx DESC LIMIT 1`).Scan(&idx, &head)
	if err != nil && err != sql.ErrNoRows {
		return err
	}
	applied := off + ra
	if idx > applied {
		applied = idx
	}
	s.applied.Store(applied)
	s.fsmHead(head)
	return s.reloadNodes(ctx, s.writer)
}

func (s *Store) fsmHead(h string) {
	if s.fsm == nil {
		s.fsm = &fsm{s: s}
	}
	s.fsm.head = h
}

func (s *Store) closeDBs() {
	s.stopCheckpointer()
	if s.reader != nil {
		s.reader.Close()
	}
	if s.writer != nil {
		s.writer.Close()
	}
}

// Close stops raft and closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed || !s.started {
		s.closed = true
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.closeCh)
	var errs []error
	if s.raft != nil {
		if err := s.raft.Shutdown().Error(); err != nil {
			errs = append(errs, err)
		}
	}
	if s.fsm != nil {
		s.fsm.stopApplier()
	}
	if c, ok := s.transport.(interface{ Close() error }); ok {
		c.Close()
	}
	if s.boltStore != nil {
		errs = append(errs, s.boltStore.Close())
	}
	s.hub.close()
	s.closeDBs()
	return errors.Join(errs...)
}

func (s *Store) isClosed() bool {
	select {
	case <-s.closeCh:
		return true
	default:
		return false
	}
}

// DB is the local read-only connection pool (WAL; may be slightly stale on a
// follower). Never write through it.
func (s *Store) DB() *sql.DB { return s.reader }

// NodeID is this node's ID.
func (s *Store) NodeID() string { return s.cfg.NodeID }

// DataDir is where this node keeps its files.
func (s *Store) DataDir() string { return s.cfg.DataDir }

// AppliedIndex is the last store index applied to SQLite on this node.
func (s *Store) AppliedIndex() uint64 { return s.applied.Load() }

// WaitApplied blocks until the local applied index reaches index.
func (s *Store) WaitApplied(ctx context.Context, index uint64) error {
	for {
		s.waitMu.Lock()
		ch := s.appliedCh
		s.waitMu.Unlock()
		if s.applied.Load() >= index {
			return nil
		}
		s.catchUpNoops()
		if s.applied.Load() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(20 * time.Millisecond): // no-op entries bring no notification
		case <-ctx.Done():
			return &Error{Code: "unavailable", Message: fmt.Sprintf("waiting for index %d (applied %d): %v", index, s.applied.Load(), ctx.Err())}
		case <-s.closeCh:
			return ErrClosed
		}
	}
}

func (s *Store) notifyApplied() {
	s.waitMu.Lock()
	close(s.appliedCh)
	s.appliedCh = make(chan struct{})
	s.waitMu.Unlock()
}

// now returns the leader's command time: wall clock, never going backwards.
func (s *Store) now() time.Time {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	t := time.Now().UTC().Truncate(time.Microsecond)
	if !t.After(s.lastTime) {
		t = s.lastTime.Add(time.Microsecond)
	}
	s.lastTime = t
	return t
}

func newULID() string {
	return ulid.MustNew(ulid.Now(), rand.Reader).String()
}

// Apply replicates cmd and returns once it is applied on this node. On a
// follower the command is forwarded to the leader. Every command carries an
// idempotency key (the caller's, or one made here) so that the retries Apply
// makes itself across a leader change apply it exactly once.
func (s *Store) Apply(ctx context.Context, cmd Command) (Result, error) {
	if s.isClosed() {
		return Result{}, ErrClosed
	}
	if cmd.Type == "" || cmd.Version < 1 {
		return Result{}, &Error{Code: "invalid", Message: "command needs a type and a version"}
	}
	if strings.HasPrefix(cmd.Type, "_") {
		return Result{}, &Error{Code: "forbidden", Message: "command types starting with _ are internal"}
	}
	if s.handler(cmd.Type, cmd.Version) == nil {
		return Result{}, &Error{Code: "unknown_command", Message: fmt.Sprintf("unknown command %s v%d", cmd.Type, cmd.Version)}
	}
	if len(cmd.Payload) > 0 && !json.Valid(cmd.Payload) {
		return Result{}, &Error{Code: "invalid", Message: "command payload is not valid JSON"}
	}
	if cmd.IdempotencyKey == "" {
		cmd.IdempotencyKey = "auto:" + newULID()
	}
	return s.applyRetrying(ctx, cmd)
}

func (s *Store) applyRetrying(ctx context.Context, cmd Command) (Result, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ApplyTimeout)
		defer cancel()
	}
	backoff := 20 * time.Millisecond
	for {
		res, err := s.applyOnce(ctx, cmd)
		if err == nil {
			if err := s.WaitApplied(ctx, res.Index); err != nil {
				return res, err
			}
			return res, nil
		}
		if !retryable(err) {
			return Result{}, err
		}
		select {
		case <-ctx.Done():
			return Result{}, &Error{Code: "unavailable", Message: fmt.Sprintf("no leader could apply %s in time: %v", cmd.Type, err)}
		case <-s.closeCh:
			return Result{}, ErrClosed
		case <-time.After(backoff):
		}
		if backoff < 500*time.Millisecond {
			backoff *= 2
		}
	}
}

type retryableError struct{ err error }

func (e retryableError) Error() string { return e.err.Error() }
func (e retryableError) Unwrap() error { return e.err }

func retryable(err error) bool {
	var re retryableError
	if errors.As(err, &re) {
		return true
	}
	return errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
		errors.Is(err, raft.ErrEnqueueTimeout) || errors.Is(err, raft.ErrLeadershipTransferInProgress) ||
		err == ErrNotLeader
}

// applyOnce applies on the leader or forwards once.
func (s *Store) applyOnce(ctx context.Context, cmd Command) (Result, error) {
	if s.raft.State() != raft.Leader {
		return s.forwardApply(ctx, cmd)
	}
	return s.applyLeader(ctx, cmd)
}

// applyLeader completes the command and puts it through raft. Only the leader
// may call it.
func (s *Store) applyLeader(ctx context.Context, cmd Command) (Result, error) {
	if s.handler(cmd.Type, cmd.Version) == nil && !strings.HasPrefix(cmd.Type, "_") {
		return Result{}, &Error{Code: "unknown_command", Message: fmt.Sprintf("unknown command %s v%d", cmd.Type, cmd.Version)}
	}
	if missing := s.nodesLacking(cmd.Type, cmd.Version); len(missing) > 0 {
		return Result{}, &Error{Code: "unsupported_version", Message: fmt.Sprintf(
			"command %s v%d is not known to node(s) %s yet: finish upgrading the cluster first", cmd.Type, cmd.Version, strings.Join(missing, ", "))}
	}
	cmd.ID = newULID()
	cmd.Time = s.now()
	data, err := encodeEntry(&cmd)
	if err != nil {
		return Result{}, err
	}
	timeout := s.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return Result{}, &Error{Code: "unavailable", Message: "deadline passed before apply"}
		}
	}
	f := s.raft.Apply(data, timeout)
	if err := f.Error(); err != nil {
		return Result{}, retryableError{err}
	}
	var resp *fsmResponse
	switch r := f.Response().(type) {
	case *asyncResponse:
		resp, err = r.wait(ctx, s.closeCh)
		if err != nil {
			return Result{}, retryableError{err}
		}
	case *fsmResponse:
		resp = r
	}
	if resp == nil {
		return Result{}, &Error{Code: "internal", Message: "no response from the state machine"}
	}
	if resp.Err != nil {
		return Result{}, resp.Err
	}
	return Result{Index: resp.Index, CmdID: resp.CmdID, Time: resp.Time, Value: resp.Value}, nil
}

// nodesLacking names the cluster members that announced a command set which
// does not include typ:version.
func (s *Store) nodesLacking(typ string, version int) []string {
	if strings.HasPrefix(typ, "_") {
		return nil
	}
	want := fmt.Sprintf("%s:%d", typ, version)
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return nil
	}
	s.nodesMu.RLock()
	defer s.nodesMu.RUnlock()
	var missing []string
	for _, srv := range cf.Configuration().Servers {
		if string(srv.ID) == s.cfg.NodeID {
			// This node has the handler (checked by the caller), even if
			// its announcement of the new binary's commands is not applied
			// yet (the first commands after an upgrade, e.g. --demo).
			continue
		}
		n, ok := s.nodes[string(srv.ID)]
		if !ok || len(n.Commands) == 0 {
			continue // not announced yet: nothing known against it
		}
		i := sort.SearchStrings(n.Commands, want)
		if i >= len(n.Commands) || n.Commands[i] != want {
			missing = append(missing, string(srv.ID))
		}
	}
	return missing
}

// IsLeader tells whether this node currently leads.
func (s *Store) IsLeader() bool { return s.raft != nil && s.raft.State() == raft.Leader }

// Status reports raft state for /api/health.
func (s *Store) Status() Status {
	s.catchUpNoops()
	st := Status{NodeID: s.cfg.NodeID, AppliedIndex: s.applied.Load()}
	if h, _ := s.halted.Load().(string); h != "" {
		st.Halted = h
	}
	if s.raft == nil {
		st.State = "shutdown"
		return st
	}
	st.State = strings.ToLower(s.raft.State().String())
	addr, id := s.raft.LeaderWithID()
	st.Leader = string(id)
	st.LeaderAddr = string(addr)
	off := s.offset.Load()
	st.CommitIndex = off + s.raft.CommitIndex()
	st.LastIndex = off + s.raft.LastIndex()
	if st.CommitIndex > st.AppliedIndex {
		st.Lag = st.CommitIndex - st.AppliedIndex
	}
	if t, err := parseUint(s.raft.Stats()["term"]); err == nil {
		st.Term = t
	}
	st.Nodes = s.Nodes()
	return st
}

// Nodes lists the members of the raft configuration with what the replicated
// state knows of them.
func (s *Store) Nodes() []Node {
	if s.raft == nil {
		return nil
	}
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return nil
	}
	s.nodesMu.RLock()
	defer s.nodesMu.RUnlock()
	var out []Node
	for _, srv := range cf.Configuration().Servers {
		n := Node{ID: string(srv.ID), RaftAddr: string(srv.Address), Suffrage: strings.ToLower(srv.Suffrage.String())}
		if row, ok := s.nodes[n.ID]; ok {
			n.HTTPAddr = row.HTTPAddr
			n.Version = row.Version
		}
		out = append(out, n)
	}
	return out
}

func loadOrCreateNodeID(dir string) (string, error) {
	p := filepath.Join(dir, "node-id")
	b, err := os.ReadFile(p)
	if err == nil {
		id := strings.TrimSpace(string(b))
		if id != "" {
			return id, nil
		}
	}
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, host)
	if host == "" {
		host = "node"
	}
	id := host + "-" + strings.ToLower(newULID()[20:])
	if err := os.WriteFile(p, []byte(id+"\n"), 0o640); err != nil {
		return "", fmt.Errorf("store: write node id: %w", err)
	}
	return id, nil
}

func writeNodeIDIfMissing(dir, id string) error {
	p := filepath.Join(dir, "node-id")
	b, err := os.ReadFile(p)
	if err == nil {
		if have := strings.TrimSpace(string(b)); have != "" && have != id {
			return fmt.Errorf("store: data dir %s belongs to node %q, not %q", dir, have, id)
		}
		return nil
	}
	return os.WriteFile(p, []byte(id+"\n"), 0o640)
}

// Snapshot asks raft for a snapshot now (normally raft takes them by itself
// every SnapshotThreshold entries) and returns its size in bytes.
func (s *Store) Snapshot() (int64, error) {
	f := s.raft.Snapshot()
	if err := f.Error(); err != nil {
		return 0, err
	}
	meta, rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	rc.Close()
	return meta.Size, nil
}
