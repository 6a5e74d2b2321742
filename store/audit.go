package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// LogEntry is one applied command as recorded in the command log (which is
// also the hash-chained audit trail).
type LogEntry struct {
	Index   uint64    `json:"index"`
	CmdID   string    `json:"cmd_id"`
	Type    string    `json:"type"`
	Version int       `json:"v"`
	Actor   string    `json:"actor"`
	Time    time.Time `json:"time"`
	Payload []byte    `json:"payload,omitempty"`
	// Error is the refusal (JSON of *Error) when the handler refused the
	// command; refused commands are logged too, they changed nothing.
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
func (s *Store) QueryLog(ctx context.Context, f LogFilter) ([]LogEntry, int, error) {
	var where []string
	var args []any
	if f.Actor != "" {
		where = append(where, "actor = ?")
		args = append(args, f.Actor)
	}
	if f.TypePrefix != "" {
		where = append(where, "substr(type, 1, ?) = ?")
		args = append(args, len(f.TypePrefix), f.TypePrefix)
	}
	if !f.Since.IsZero() {
		where = append(where, "ts >= ?")
		args = append(args, f.Since.UnixNano())
	}
	if !f.Until.IsZero() {
		where = append(where, "ts < ?")
		args = append(args, f.Until.UnixNano())
	}
	if f.Text != "" {
		where = append(where, "instr(CAST(payload AS TEXT), ?) > 0")
		args = append(args, f.Text)
	}
	if f.OnlyErrors {
		where = append(where, "error IS NOT NULL")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := s.reader.QueryRowContext(ctx, "SELECT count(*) FROM _log"+cond, args...).Scan(&total); err != nil {
		return nil, 0, err
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	if limit > 1000 {
		limit = 1000
	}
	order := "DESC"
	if f.Ascending {
		order = "ASC"
	}
	q := fmt.Sprintf("SELECT idx, cmd_id, type, v, actor, ts, payload, error, hash FROM _log%s ORDER BY idx %s LIMIT ? OFFSET ?", cond, order)
	rows, err := s.reader.QueryContext(ctx, q, append(args, limit, f.Offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []LogEntry
	for rows.Next() {
		var e LogEntry
		var ts int64
		var errMsg sql.NullString
		if err := rows.Scan(&e.Index, &e.CmdID, &e.Type, &e.Version, &e.Actor, &ts, &e.Payload, &errMsg, &e.Hash); err != nil {
			return nil, 0, err
		}
		e.Time = time.Unix(0, ts).UTC()
		e.Error = errMsg.String
		out = append(out, e)
	}
	return out, total, rows.Err()
}

// AuditReport is the result of verifying the hash chain.
type AuditReport struct {
	Rows     int64  `json:"rows"`
	OK       bool   `json:"ok"`
	FirstBad uint64 `json:"first_bad_index,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// VerifyAudit checks the hash chain of the command log in the live database.
func (s *Store) VerifyAudit(ctx context.Context) (AuditReport, error) {
	return verifyChain(ctx, s.reader)
}

// VerifyAuditFile checks the hash chain of a database file (for example a
// stopped node's data dir or a restored backup), opened read-only.
func VerifyAuditFile(ctx context.Context, dataDir string) (AuditReport, error) {
	db, err := sql.Open("sqlite", dsn(dataDir+"/"+dbFile, true)+"&mode=ro")
	if err != nil {
		return AuditReport{}, err
	}
	defer db.Close()
	return verifyChain(ctx, db)
}

// verifyChain walks the log in index order: every row's payload must match its
// payload hash, its prev_hash must be the previous row's hash and its hash must
// be recomputable. An edited row breaks its own hash; a deleted row breaks the
// link of the row after it; the head hash in _meta catches a deleted tail.
func verifyChain(ctx context.Context, pool *sql.DB) (AuditReport, error) {
	// One read transaction: the rows and the head hash from the same snapshot.
	db, err := pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return AuditReport{}, err
	}
	defer db.Rollback()
	rows, err := db.QueryContext(ctx, `SELECT idx, cmd_id, type, v, actor, ts, idem, payload, payload_hash, result, error, prev_hash, hash FROM _log ORDER BY idx`)
	if err != nil {
		return AuditReport{}, err
	}
	defer rows.Close()
	rep := AuditReport{OK: true}
	prev := ""
	bad := func(idx uint64, why string) {
		if rep.OK {
			rep.OK = false
			rep.FirstBad = idx
			rep.Problem = why
		}
	}
	for rows.Next() {
		var r logRow
		var idem, errMsg sql.NullString
		var payload []byte
		if err := rows.Scan(&r.Idx, &r.CmdID, &r.Type, &r.V, &r.Actor, &r.TS, &idem, &payload, &r.PayloadHash, &r.Result, &errMsg, &r.PrevHash, &r.Hash); err != nil {
			return rep, err
		}
		r.Idem, r.Error = idem.String, errMsg.String
		rep.Rows++
		if !rep.OK {
			continue
		}
		switch {
		case payload != nil && sha(payload) != r.PayloadHash:
			bad(r.Idx, fmt.Sprintf("row %d: payload does not match its hash (edited)", r.Idx))
		case r.PrevHash != prev:
			bad(r.Idx, fmt.Sprintf("row %d: link to the previous row is broken (a row before it was deleted or edited)", r.Idx))
		case r.computeHash() != r.Hash:
			bad(r.Idx, fmt.Sprintf("row %d: hash does not match its content (edited)", r.Idx))
		}
		prev = r.Hash
	}
	if err := rows.Err(); err != nil {
		return rep, err
	}
	var head string
	err = db.QueryRowContext(ctx, `SELECT value FROM _meta WHERE key=?`, metaLastHash).Scan(&head)
	if err != nil && err != sql.ErrNoRows {
		return rep, err
	}
	if rep.OK && head != prev {
		rep.OK = false
		rep.Problem = "the newest rows of the log were deleted (the recorded head hash is not the last row's)"
		var last uint64
		_ = db.QueryRowContext(ctx, `SELECT coalesce(max(idx),0) FROM _log`).Scan(&last)
		rep.FirstBad = last + 1
	}
	return rep, nil
}
