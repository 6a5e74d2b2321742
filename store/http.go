package store

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/raft"
)

// HTTPHandler serves cluster-internal endpoints; mount it at
// /api/internal/cluster/. Every request must carry the cluster secret.
func (s *Store) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/internal/cluster/join", s.handleJoin)
	mux.HandleFunc("POST /api/internal/cluster/apply", s.handleApply)
	mux.HandleFunc("POST /api/internal/cluster/readindex", s.handleReadIndex)
	mux.HandleFunc("POST /api/internal/cluster/remove", s.handleRemove)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Secret == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get(secretHeader)), []byte(s.cfg.Secret)) != 1 {
			writeErr(w, http.StatusForbidden, &Error{Code: "forbidden", Message: "cluster secret missing or wrong"})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<20)
		mux.ServeHTTP(w, r)
	})
}

func writeErr(w http.ResponseWriter, status int, e *Error) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

func statusFor(e *Error) int {
	switch e.Code {
	case "invalid", "unknown_command":
		return http.StatusBadRequest
	case "forbidden":
		return http.StatusForbidden
	case "not_found":
		return http.StatusNotFound
	case "conflict", "unsupported_version":
		return http.StatusConflict
	case "not_leader", "unavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func asWireError(err error) *Error {
	if retryable(err) {
		return &Error{Code: "not_leader", Message: err.Error()}
	}
	return AsError(err)
}

// handleApply runs a forwarded command on the leader. If this node stopped
// leading meanwhile it answers not_leader and the follower retries with the
// same idempotency key.
func (s *Store) handleApply(w http.ResponseWriter, r *http.Request) {
	var cmd Command
	if err := json.NewDecoder(r.Body).Decode(&cmd); err != nil {
		writeErr(w, http.StatusBadRequest, &Error{Code: "invalid", Message: "bad command: " + err.Error()})
		return
	}
	if !s.IsLeader() {
		writeErr(w, http.StatusServiceUnavailable, &Error{Code: "not_leader", Message: "not the leader"})
		return
	}
	res, err := s.applyLeader(r.Context(), cmd)
	if err != nil {
		e := asWireError(err)
		writeErr(w, statusFor(e), e)
		return
	}
	writeJSON(w, res)
}

func (s *Store) handleJoin(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ID == "" || req.RaftAddr == "" {
		writeErr(w, http.StatusBadRequest, &Error{Code: "invalid", Message: "join needs id and raft_addr"})
		return
	}
	if !s.IsLeader() {
		base, err := s.leaderHTTP()
		if err != nil {
			writeErr(w, http.StatusServiceUnavailable, &Error{Code: "not_leader", Message: err.Error()})
			return
		}
		body, _ := json.Marshal(req)
		if err := s.postInternal(r.Context(), base+"/api/internal/cluster/join", body, nil); err != nil {
			e := asWireError(err)
			writeErr(w, statusFor(e), e)
			return
		}
		writeJSON(w, map[string]bool{"ok": true})
		return
	}
	cf := s.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		writeErr(w, http.StatusServiceUnavailable, &Error{Code: "unavailable", Message: err.Error()})
		return
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID == raft.ServerID(req.ID) && srv.Address == raft.ServerAddress(req.RaftAddr) {
			writeJSON(w, map[string]bool{"ok": true}) // already a member
			return
		}
		if srv.ID != raft.ServerID(req.ID) && srv.Address == raft.ServerAddress(req.RaftAddr) {
			writeErr(w, http.StatusConflict, &Error{Code: "conflict", Message: fmt.Sprintf("raft address %s is used by node %s", req.RaftAddr, srv.ID)})
			return
		}
	}
	s.logf("store: adding voter %s at %s", req.ID, req.RaftAddr)
	if err := s.raft.AddVoter(raft.ServerID(req.ID), raft.ServerAddress(req.RaftAddr), 0, 30*time.Second).Error(); err != nil {
		e := asWireError(err)
		writeErr(w, statusFor(e), e)
		return
	}
	writeJSON(w, map[string]bool{"ok": true})
}

func (s *Store) handleReadIndex(w http.ResponseWriter, r *http.Request) {
	idx, err := s.leaderReadIndex()
	if err != nil {
		e := asWireError(err)
		writeErr(w, statusFor(e), e)
		return
	}
	writeJSON(w, map[string]uint64{"index": idx})
}

func (s *Store) handleRemove(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.ID == "" {
		writeErr(w, http.StatusBadRequest, &Error{Code: "invalid", Message: "remove needs id"})
		return
	}
	if err := s.RemoveNode(r.Context(), req.ID); err != nil {
		e := asWireError(err)
		writeErr(w, statusFor(e), e)
		return
	}
	writeJSON(w, map[string]bool{"ok": true})
}

// leaderReadIndex confirms leadership with a quorum and returns the commit
// index as a store index.
func (s *Store) leaderReadIndex() (uint64, error) {
	if !s.IsLeader() {
		return 0, ErrNotLeader
	}
	commit := s.raft.CommitIndex()
	if err := s.raft.VerifyLeader().Error(); err != nil {
		return 0, retryableError{err}
	}
	return s.offset.Load() + commit, nil
}

// ConsistentRead blocks until this node has applied everything the leader had
// committed when it was called (a linearizable read barrier).
func (s *Store) ConsistentRead(ctx context.Context) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ApplyTimeout)
		defer cancel()
	}
	for {
		var idx uint64
		var err error
		if s.IsLeader() {
			idx, err = s.leaderReadIndex()
		} else if s.cfg.Secret == "" {
			err = &Error{Code: "unavailable", Message: "no leader to confirm the read"}
		} else {
			var base string
			base, err = s.leaderHTTP()
			if err == nil {
				var out struct {
					Index uint64 `json:"index"`
				}
				err = s.postInternal(ctx, base+"/api/internal/cluster/readindex", []byte("{}"), &out)
				idx = out.Index
			}
		}
		if err == nil {
			return s.WaitApplied(ctx, idx)
		}
		if !retryable(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return &Error{Code: "unavailable", Message: "no leader confirmed the read in time"}
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RemoveNode removes a member from the cluster (on the leader; forwarded
// otherwise).
func (s *Store) RemoveNode(ctx context.Context, id string) error {
	if !s.IsLeader() {
		if s.cfg.Secret == "" {
			return &Error{Code: "unavailable", Message: "not the leader and no cluster secret to forward with"}
		}
		base, err := s.leaderHTTP()
		if err != nil {
			return err
		}
		body, _ := json.Marshal(map[string]string{"id": id})
		return s.postInternal(ctx, base+"/api/internal/cluster/remove", body, nil)
	}
	if err := s.raft.RemoveServer(raft.ServerID(id), 0, 30*time.Second).Error(); err != nil {
		return retryableError{err}
	}
	cmd, _ := NewCommand(cmdNodeRemove, 1, map[string]string{"ID": id})
	cmd.Actor = "node:" + s.cfg.NodeID
	cmd.IdempotencyKey = "auto:" + newULID()
	_, err := s.applyRetrying(ctx, cmd)
	if err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}
