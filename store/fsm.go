package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// fsm applies committed log entries to SQLite. A batch of entries is applied
// in one SQLite transaction (group commit); each command runs in a savepoint
// so a refused command leaves no trace while its neighbours commit.
type fsm struct {
	s    *Store
	head string // hash of the newest _log row

	// applyMu is held while a batch applies; freeze takes it to checkpoint
	// between batches.
	applyMu sync.Mutex

	aq applyQueue // entries waiting for the applier (applier.go)

	sinceSnapshot atomic.Int64 // command bytes applied since the last snapshot

	// Statements prepared once on the single writer connection.
	stmtMu             sync.Mutex
	insLog, idem, meta *sql.Stmt
}

func (f *fsm) stmts() (insLog, idem, meta *sql.Stmt, err error) {
	f.stmtMu.Lock()
	defer f.stmtMu.Unlock()
	if f.insLog == nil {
		w := f.s.writer
		if f.insLog, err = w.Prepare(`INSERT INTO _log(idx,cmd_id,type,v,actor,ts,idem,payload,payload_hash,result,error,prev_hash,hash)
			VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)`); err != nil {
			return
		}
		if f.idem, err = w.Prepare(`SELECT idx, cmd_id, ts, result, error FROM _log WHERE idem=?`); err != nil {
			return
		}
		if f.meta, err = w.Prepare(`INSERT INTO _meta(key,value) VALUES(?,?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`); err != nil {
			return
		}
	}
	return f.insLog, f.idem, f.meta, nil
}

var (
	_ raft.BatchingFSM = (*fsm)(nil)
	_ raft.FSMSnapshot = (*fsmSnapshot)(nil)
)

type fsmResponse struct {
	Index uint64
	CmdID string
	Time  time.Time
	Value json.RawMessage
	Err   *Error
}

func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	s := f.s
	if h, _ := s.halted.Load().(string); h != "" {
		<-s.closeCh
		return make([]any, len(logs))
	}
	// Queued for the applier, which groups raft batches into one
	// transaction (applier.go).
	return f.enqueue(logs)
}

type batchOutcome int

const (
	batchDone batchOutcome = iota
	needSavepoints
	batchHalted
)

func (f *fsm) applyBatch(logs []*raft.Log, savepoints bool) ([]any, batchOutcome) {
	s := f.s
	resp := make([]any, len(logs))
	ctx := context.Background()
	insLog, idemStmt, metaStmt, err := f.stmts()
	if err != nil {
		f.halt(fmt.Sprintf("prepare statements: %v", err))
		return resp, batchHalted
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		f.halt(fmt.Sprintf("cannot begin transaction: %v", err))
		return resp, batchHalted
	}
	insLog, idemStmt, metaStmt = tx.Stmt(insLog), tx.Stmt(idemStmt), tx.Stmt(metaStmt)
	fail := func(what string, err error) ([]any, batchOutcome) {
		tx.Rollback()
		f.halt(fmt.Sprintf("%s: %v", what, err))
		return resp, batchHalted
	}
	appliedRaft := s.appliedRaft.Load()
	offset := s.offset.Load()
	head := f.head
	lastRaft := appliedRaft
	var events []Event
	nodesChanged := false
	seenIdem := map[string]*fsmResponse{}

	for i, l := range logs {
		if l.Index <= appliedRaft {
			continue // applied before a restart or contained in a restored snapshot
		}
		lastRaft = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		idx := offset + l.Index
		var cmd Command
		if err := decodeEntry(l.Data, &cmd); err != nil {
			resp[i] = &fsmResponse{Index: idx, Err: &Error{Code: "invalid", Message: "undecodable log entry: " + err.Error()}}
			continue
		}
		// Exactly once: a retried command returns the first result.
		if cmd.IdempotencyKey != "" {
			if r, ok := seenIdem[cmd.IdempotencyKey]; ok {
				resp[i] = r
				continue
			}
			if r, ok, err := lookupIdem(idemStmt, cmd.IdempotencyKey); err != nil {
				return fail("idempotency lookup", err)
			} else if ok {
				resp[i] = r
				continue
			}
		}
		reg := s.handler(cmd.Type, cmd.Version)
		if reg == nil {
			// This node is older than the command: never guess. Commit what
			// came before and stop applying until the binary is upgraded.
			if err := f.finish(tx, metaStmt, lastRaft-1, offset, head); err != nil {
				f.halt(err.Error())
				return resp, batchHalted
			}
			f.head = head
			s.publish(events, nodesChanged)
			f.halt(fmt.Sprintf("command %s v%d at index %d is unknown to this node: upgrade yiwang on this node", cmd.Type, cmd.Version, idx))
			<-s.closeCh
			return resp, batchHalted
		}
		if savepoints {
			if _, err := tx.Exec(`SAVEPOINT cmd`); err != nil {
				return fail("savepoint", err)
			}
		}
		t := &Tx{Tx: tx, Cmd: &cmd, Index: idx}
		value, herr := callHandler(reg.h, t)
		var out json.RawMessage
		if herr == nil && value != nil {
			b, err := json.Marshal(value)
			if err != nil {
				herr = &Error{Code: "internal", Message: "marshal result: " + err.Error()}
			} else {
				out = b
			}
		}
		if herr != nil && !savepoints {
			tx.Rollback()
			return resp, needSavepoints
		}
		if savepoints {
			if herr != nil {
				if _, err := tx.Exec(`ROLLBACK TO cmd`); err != nil {
					return fail("rollback to savepoint", err)
				}
			}
			if _, err := tx.Exec(`RELEASE cmd`); err != nil {
				return fail("release savepoint", err)
			}
		}
		var errMsg string
		var rerr *Error
		if herr != nil {
			rerr = AsError(herr)
			b, _ := json.Marshal(rerr)
			errMsg = string(b)
		}
		payload := []byte(cmd.Payload)
		if reg.noLogPayload {
			payload = nil
		}
		row := logRow{
			Idx: idx, CmdID: cmd.ID, Type: cmd.Type, V: cmd.Version, Actor: cmd.Actor,
			TS: cmd.Time.UnixNano(), Idem: cmd.IdempotencyKey, PayloadHash: sha(cmd.Payload),
			Result: out, Error: errMsg, PrevHash: head,
		}
		row.Hash = row.computeHash()
		if err := insertLog(insLog, &row, payload); err != nil {
			return fail("write command log", err)
		}
		head = row.Hash
		r := &fsmResponse{Index: idx, CmdID: cmd.ID, Time: cmd.Time, Value: out, Err: rerr}
		resp[i] = r
		if cmd.IdempotencyKey != "" {
			seenIdem[cmd.IdempotencyKey] = r
		}
		if rerr == nil {
			if cmd.Type[0] == '_' {
				nodesChanged = true
			} else {
				events = append(events, Event{Index: idx, Cmd: cmd, Result: out})
			}
		}
	}
	if err := f.finish(tx, metaStmt, lastRaft, offset, head); err != nil {
		f.halt(err.Error())
		return resp, batchHalted
	}
	f.head = head
	s.publish(events, nodesChanged)
	return resp, batchDone
}

// finish records the applied raft index and commits.
func (f *fsm) finish(tx *sql.Tx, meta *sql.Stmt, lastRaft, offset uint64, head string) error {
	s := f.s
	if lastRaft > s.appliedRaft.Load() {
		if err := execMeta(meta, metaRaftApplied, lastRaft); err != nil {
			tx.Rollback()
			return fmt.Errorf("record applied index: %v", err)
		}
	}
	if head != f.head {
		if err := execMeta(meta, metaLastHash, head); err != nil {
			tx.Rollback()
			return fmt.Errorf("record audit head: %v", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %v", err)
	}
	if lastRaft > s.appliedRaft.Load() {
		s.appliedRaft.Store(lastRaft)
		if idx := offset + lastRaft; idx > s.applied.Load() {
			s.applied.Store(idx)
		}
	}
	return nil
}

func (s *Store) publish(events []Event, nodesChanged bool) {
	if nodesChanged {
		if err := s.reloadNodes(context.Background(), s.writer); err != nil {
			s.logf("store: reload nodes: %v", err)
		}
	}
	s.notifyApplied()
	if len(events) > 0 {
		s.hub.publish(events)
	}
}

func (f *fsm) halt(reason string) {
	f.s.logf("store: HALTED: %s", reason)
	f.s.halted.Store(reason)
}

func callHandler(h Handler, t *Tx) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Code: "internal", Message: fmt.Sprintf("handler for %s panicked: %v", t.Cmd.Type, r)}
			_ = debug.Stack
		}
	}()
	return h(t, t.Cmd)
}

func execMeta(st *sql.Stmt, key string, v any) error {
	_, err := st.Exec(key, fmt.Sprint(v))
	return err
}

func lookupIdem(st *sql.Stmt, key string) (*fsmResponse, bool, error) {
	var r fsmResponse
	var ts int64
	var result []byte
	var errMsg sql.NullString
	err := st.QueryRow(key).
		Scan(&r.Index, &r.CmdID, &ts, &result, &errMsg)
	if err == sql.ErrNoRows {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	r.Time = time.Unix(0, ts).UTC()
	r.Value = result
	if errMsg.Valid && errMsg.String != "" {
		var e Error
		if json.Unmarshal([]byte(errMsg.String), &e) == nil {
			r.Err = &e
		} else {
			r.Err = &Error{Code: "internal", Message: errMsg.String}
		}
	}
	return &r, true, nil
}

// logRow is one _log row; its hash covers the previous row's hash.
type logRow struct {
	Idx         uint64
	CmdID       string
	Type        string
	V           int
	Actor       string
	TS          int64
	Idem        string
	PayloadHash string
	Result      []byte
	Error       string
	PrevHash    string
	Hash        string
}

func (r *logRow) computeHash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%d\n%s\n%s\n%d\n%s\n%d\n%s\n%s\n%s\n%s",
		r.PrevHash, r.Idx, r.CmdID, r.Type, r.V, r.Actor, r.TS, r.Idem, r.PayloadHash, sha(r.Result), r.Error)
	return hex.EncodeToString(h.Sum(nil))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func insertLog(st *sql.Stmt, r *logRow, payload []byte) error {
	var p any
	if payload != nil {
		p = payload
	}
	var res any
	if r.Result != nil {
		res = []byte(r.Result)
	}
	_, err := st.Exec(r.Idx, r.CmdID, r.Type, r.V, r.Actor, r.TS, nullIfEmpty(r.Idem), p, r.PayloadHash, res, nullIfEmpty(r.Error), r.PrevHash, r.Hash)
	return err
}

// Snapshot is cheap: the copy is made in Persist, concurrently with writes.
// The copy may contain entries newer than the snapshot's index; that is safe
// because the database carries its own applied raft index and the FSM skips
// entries it already holds.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.drain() // the database must hold every entry raft counts as applied
	f.sinceSnapshot.Store(0)
	return &fsmSnapshot{s: f.s}, nil
}

type fsmSnapshot struct{ s *Store }

func (p *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := p.s.snapshotTo(context.Background(), sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (p *fsmSnapshot) Release() {}

// Restore replaces the database with a snapshot's (a follower catching up).
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.drain()
	s := f.s
	tmp, err := os.CreateTemp(s.cfg.DataDir, "restore-*.db")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	// A snapshot from a node on a newer version is refused before it
	// replaces anything here.
	if err := checkSchemaFile(context.Background(), tmp.Name(), s.migrations); err != nil {
		f.halt(fmt.Sprintf("refusing snapshot: %v", err))
		return err
	}
	if err := s.restoreFromFile(context.Background(), tmp.Name()); err != nil {
		return err
	}
	s.logf("store: restored snapshot, applied index now %d", s.applied.Load())
	return nil
}

// restoreFromFile copies a database file into the live database through the
// SQLite backup API (readers keep their connections), then reloads meta and
// re-runs migrations.
func (s *Store) restoreFromFile(ctx context.Context, path string) error {
	conn, err := s.writer.Conn(ctx)
	if err != nil {
		return err
	}
	err = conn.Raw(func(dc any) error {
		r, ok := dc.(restorer)
		if !ok {
			return fmt.Errorf("sqlite driver has no restore")
		}
		bk, err := r.NewRestore(path)
		if err != nil {
			return err
		}
		if _, err := bk.Step(-1); err != nil {
			bk.Finish()
			return err
		}
		return bk.Finish()
	})
	conn.Close()
	if err != nil {
		return fmt.Errorf("restore database: %w", err)
	}
	for _, stmt := range internalSchema {
		if _, err := s.writer.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if err := migrate(ctx, s.writer, s.migrations); err != nil {
		return err
	}
	before := s.applied.Load()
	if err := s.loadMeta(ctx); err != nil {
		return err
	}
	s.notifyApplied()
	s.hub.publish([]Event{{Index: s.applied.Load(), Cmd: Command{Type: EventRestored, Version: 1,
		Payload: json.RawMessage(strconv.Quote(fmt.Sprintf("restored from index %d to %d", before, s.applied.Load())))}}})
	return nil
}

// EventRestored is the type of the event subscribers receive after the
// database was replaced by a snapshot: derived state must be rebuilt.
const EventRestored = "_store.restored"

// copyDatabase writes a consistent copy of the database to a temp file in the
// data dir using the SQLite online backup API from a read connection (WAL:
// writers are not blocked).
func (s *Store) copyDatabase(ctx context.Context) (string, error) {
	tmp, err := os.CreateTemp(s.cfg.DataDir, "copy-*.db")
	if err != nil {
		return "", err
	}
	name := tmp.Name()
	tmp.Close()
	os.Remove(name)
	conn, err := s.reader.Conn(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		b, ok := dc.(backuper)
		if !ok {
			return fmt.Errorf("sqlite driver has no backup")
		}
		bk, err := b.NewBackup(name)
		if err != nil {
			return err
		}
		if _, err := bk.Step(-1); err != nil {
			bk.Finish()
			return err
		}
		return bk.Finish()
	})
	if err != nil {
		os.Remove(name)
		return "", fmt.Errorf("copy database: %w", err)
	}
	// The copy keeps the WAL flag; make it a self-contained rollback-journal
	// file so it can be shipped and opened anywhere.
	db, err := sql.Open("sqlite", "file:"+name)
	if err == nil {
		_, err = db.Exec(`PRAGMA journal_mode=DELETE`)
		db.Close()
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	for _, suf := range []string{"-wal", "-shm"} {
		os.Remove(name + suf)
	}
	return filepath.Clean(name), nil
}
