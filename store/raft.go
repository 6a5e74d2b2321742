package store

import (
	"bytes"
	"context"
	"crypto/tls"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	sqlite "modernc.org/sqlite"
)

type backuper interface {
	NewBackup(string) (*sqlite.Backup, error)
}

type restorer interface {
	NewRestore(string) (*sqlite.Backup, error)
}

func parseUint(s string) (uint64, error) { return strconv.ParseUint(s, 10, 64) }

type logfWriter struct{ logf func(string, ...any) }

func (w logfWriter) Write(p []byte) (int, error) {
	w.logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (s *Store) startRaft(ctx context.Context) error {
	conf := raft.DefaultConfig()
	conf.LocalID = raft.ServerID(s.cfg.NodeID)
	conf.NoSnapshotRestoreOnStart = true // SQLite is persistent; see fsm.go
	conf.BatchApplyCh = true
	conf.MaxAppendEntries = 512
	conf.SnapshotThreshold = s.cfg.SnapshotThreshold
	conf.SnapshotInterval = s.cfg.SnapshotInterval
	conf.TrailingLogs = 10240
	if s.cfg.TrailingLogs > 0 {
		conf.TrailingLogs = s.cfg.TrailingLogs
	}
	if s.cfg.RaftAddr == "" && s.cfg.ElectionTimeout == 0 {
		// A node without a network transport is alone forever: there is
		// nobody to wait for, so elect at once.
		s.cfg.ElectionTimeout = 100 * time.Millisecond
	}
	if s.cfg.ElectionTimeout > 0 {
		conf.HeartbeatTimeout = s.cfg.ElectionTimeout
		conf.ElectionTimeout = s.cfg.ElectionTimeout
		conf.LeaderLeaseTimeout = s.cfg.ElectionTimeout / 2
	}
	conf.Logger = hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: logfWriter{s.logf}})

	raftDir := filepath.Join(s.cfg.DataDir, "raft")
	if err := os.MkdirAll(raftDir, 0o750); err != nil {
		return err
	}
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(raftDir, "raft.db")})
	if err != nil {
		return fmt.Errorf("store: open raft log: %w", err)
	}
	s.boltStore = bolt
	logs, err := raft.NewLogCache(1024, bolt)
	if err != nil {
		return err
	}
	snaps, err := raft.NewFileSnapshotStoreWithLogger(raftDir, 2, conf.Logger)
	if err != nil {
		return fmt.Errorf("store: snapshot store: %w", err)
	}
	s.snaps = snaps
	if err := s.restoreLatestSnapshotIfAhead(ctx); err != nil {
		return err
	}

	var trans raft.Transport
	if s.cfg.RaftAddr == "" {
		_, t := raft.NewInmemTransport(raft.ServerAddress(s.cfg.NodeID))
		trans = t
	} else {
		t, err := s.newNetworkTransport()
		if err != nil {
			return err
		}
		trans = t
	}
	s.transport = trans

	hasState, err := raft.HasExistingState(logs, bolt, snaps)
	if err != nil {
		return err
	}
	r, err := raft.NewRaft(conf, s.fsm, logs, bolt, snaps, trans)
	if err != nil {
		return fmt.Errorf("store: start raft: %w", err)
	}
	s.raft = r
	lastAtStart := r.LastIndex()

	if !hasState {
		if s.cfg.JoinURL == "" {
			cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: conf.LocalID, Address: trans.LocalAddr()}}}
			if err := r.BootstrapCluster(cfg).Error(); err != nil {
				return fmt.Errorf("store: bootstrap: %w", err)
			}
		} else if err := s.join(ctx); err != nil {
			return err
		}
	}
	go s.maintain()

	// A lone voter elects itself; wait for that, then catch up with what
	// this node had before it stopped (old entries commit and replay).
	if s.cfg.JoinURL == "" {
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		defer cancel()
		for s.isAlone() && (r.State() != raft.Leader || !s.replayedTo(lastAtStart)) {
			select {
			case <-wctx.Done():
				return fmt.Errorf("store: replaying the log: applied %d of %d: %w", s.appliedRaft.Load(), lastAtStart, wctx.Err())
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	return nil
}

// replayedTo tells whether every entry up to raft index x is in the
// database; the log may end with entries the FSM never sees (see
// durableRaftIndex).
func (s *Store) replayedTo(x uint64) bool {
	return s.appliedRaft.Load() >= x || s.durableRaftIndex() >= x
}

// isAlone tells whether this node is the only voter (it can replay by itself).
func (s *Store) isAlone() bool {
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return false
	}
	return len(cf.Configuration().Servers) <= 1
}

// restoreLatestSnapshotIfAhead handles a database that is behind the newest
// snapshot (deleted or lost after a power failure): raft will not replay the
// entries the snapshot covers, so the database is restored from it first.
func (s *Store) restoreLatestSnapshotIfAhead(ctx context.Context) error {
	list, err := s.snaps.List()
	if err != nil || len(list) == 0 {
		return err
	}
	latest := list[0]
	if latest.Index <= s.appliedRaft.Load() {
		return nil
	}
	_, rc, err := s.snaps.Open(latest.ID)
	if err != nil {
		return fmt.Errorf("store: open snapshot %s: %w", latest.ID, err)
	}
	s.logf("store: database is at raft index %d, behind snapshot %s at %d: restoring it", s.appliedRaft.Load(), latest.ID, latest.Index)
	return s.fsm.Restore(rc)
}

// maintain runs leader-side housekeeping: announce this node and fix its own
// raft address after a restart with a new --raft.
func (s *Store) maintain() {
	announced := false
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.closeCh:
			return
		case <-tick.C:
		}
		if h, _ := s.halted.Load().(string); h != "" {
			continue
		}
		if s.IsLeader() {
			s.fixOwnAddress()
		}
		if s.fsm.sinceSnapshot.Load() >= snapshotBytes {
			s.fsm.sinceSnapshot.Store(0) // once per threshold, even if it fails
			go func() {
				if err := s.raft.Snapshot().Error(); err != nil {
					s.logf("store: size-triggered snapshot: %v", err)
				}
			}()
		}
		if !announced {
			if _, lid := s.raft.LeaderWithID(); lid == "" {
				continue
			}
			if err := s.announce(); err != nil {
				s.logf("store: announce: %v", err)
				continue
			}
			announced = true
			tick.Reset(2 * time.Second)
		}
	}
}

func (s *Store) fixOwnAddress() {
	cf := s.raft.GetConfiguration()
	if cf.Error() != nil {
		return
	}
	for _, srv := range cf.Configuration().Servers {
		if srv.ID == raft.ServerID(s.cfg.NodeID) && srv.Address != s.transport.LocalAddr() && srv.Suffrage == raft.Voter {
			s.logf("store: updating own raft address %s -> %s", srv.Address, s.transport.LocalAddr())
			if err := s.raft.AddVoter(srv.ID, s.transport.LocalAddr(), 0, 5*time.Second).Error(); err != nil {
				s.logf("store: update own address: %v", err)
			}
		}
	}
}

// announce records this node's HTTP address, version and command set in the
// replicated state; the leader uses it to forward and to refuse command
// versions an older node cannot apply.
func (s *Store) announce() error {
	row := nodeRow{Node: Node{ID: s.cfg.NodeID, RaftAddr: string(s.transport.LocalAddr()), HTTPAddr: s.cfg.HTTPAdvertise, Version: Version}, Commands: s.Commands()}
	s.nodesMu.RLock()
	cur, ok := s.nodes[s.cfg.NodeID]
	s.nodesMu.RUnlock()
	if ok && cur.HTTPAddr == row.HTTPAddr && cur.RaftAddr == row.RaftAddr && cur.Version == row.Version && strings.Join(cur.Commands, ",") == strings.Join(row.Commands, ",") {
		return nil
	}
	cmd, _ := NewCommand(cmdNodeAnnounce, 1, row)
	cmd.Actor = "node:" + s.cfg.NodeID
	cmd.IdempotencyKey = "auto:" + newULID()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := s.applyRetrying(ctx, cmd)
	return err
}

// Version is the store's build version, set by the app at link time.
var Version = "dev"

const (
	cmdNodeAnnounce = "_node.announce"
	cmdNodeRemove   = "_node.remove"
)

func (s *Store) registerInternal() {
	s.handlers[cmdKey{cmdNodeAnnounce, 1}] = &registration{typ: cmdNodeAnnounce, version: 1, h: func(tx *Tx, cmd *Command) (any, error) {
		var n nodeRow
		if err := json.Unmarshal(cmd.Payload, &n); err != nil || n.ID == "" {
			return nil, Errorf("invalid", "bad node announcement")
		}
		b, _ := json.Marshal(n.Commands)
		_, err := tx.Exec(`INSERT INTO _nodes(id,raft_addr,http_addr,version,commands) VALUES(?,?,?,?,?)
			ON CONFLICT(id) DO UPDATE SET raft_addr=excluded.raft_addr, http_addr=excluded.http_addr,
			version=excluded.version, commands=excluded.commands`, n.ID, n.RaftAddr, n.HTTPAddr, n.Version, string(b))
		return nil, err
	}}
	s.handlers[cmdKey{cmdNodeRemove, 1}] = &registration{typ: cmdNodeRemove, version: 1, h: func(tx *Tx, cmd *Command) (any, error) {
		var p struct{ ID string }
		if err := json.Unmarshal(cmd.Payload, &p); err != nil || p.ID == "" {
			return nil, Errorf("invalid", "bad node removal")
		}
		_, err := tx.Exec(`DELETE FROM _nodes WHERE id=?`, p.ID)
		return nil, err
	}}
}

func (s *Store) reloadNodes(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, `SELECT id, raft_addr, http_addr, version, commands FROM _nodes`)
	if err != nil {
		return err
	}
	defer rows.Close()
	m := map[string]nodeRow{}
	for rows.Next() {
		var n nodeRow
		var cmds string
		if err := rows.Scan(&n.ID, &n.RaftAddr, &n.HTTPAddr, &n.Version, &cmds); err != nil {
			return err
		}
		_ = json.Unmarshal([]byte(cmds), &n.Commands)
		sort.Strings(n.Commands)
		m[n.ID] = n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	s.nodesMu.Lock()
	s.nodes = m
	s.nodesMu.Unlock()
	return nil
}

func (s *Store) leaderHTTP() (string, error) {
	_, id := s.raft.LeaderWithID()
	if id == "" {
		return "", ErrNotLeader
	}
	s.nodesMu.RLock()
	n, ok := s.nodes[string(id)]
	s.nodesMu.RUnlock()
	if !ok || n.HTTPAddr == "" {
		return "", retryableError{fmt.Errorf("leader %s has not announced its HTTP address yet", id)}
	}
	return strings.TrimRight(n.HTTPAddr, "/"), nil
}

// newNetworkTransport is raft over TCP, or over mutual TLS when RaftTLS is set.
func (s *Store) newNetworkTransport() (raft.Transport, error) {
	adv, err := net.ResolveTCPAddr("tcp", s.cfg.RaftAdvertise)
	if err != nil {
		return nil, fmt.Errorf("store: raft advertise address %q: %w", s.cfg.RaftAdvertise, err)
	}
	ln, err := net.Listen("tcp", s.cfg.RaftAddr)
	if err != nil {
		return nil, fmt.Errorf("store: raft listen %s: %w", s.cfg.RaftAddr, err)
	}
	if adv.Port == 0 { // ":0" in tests
		adv = ln.Addr().(*net.TCPAddr)
	}
	var layer raft.StreamLayer
	if s.cfg.RaftTLS != nil {
		layer = &tlsStream{Listener: tls.NewListener(ln, s.cfg.RaftTLS), adv: adv, cfg: s.cfg.RaftTLS}
	} else {
		layer = &tcpStream{Listener: ln, adv: adv}
	}
	return raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  layer,
		MaxPool: 5,
		Timeout: 10 * time.Second,
		Logger:  hclog.New(&hclog.LoggerOptions{Name: "raft-net", Level: hclog.Warn, Output: logfWriter{s.logf}}),
	}), nil
}

type tcpStream struct {
	net.Listener
	adv net.Addr
}

func (t *tcpStream) Addr() net.Addr { return t.adv }
func (t *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

type tlsStream struct {
	net.Listener
	adv net.Addr
	cfg *tls.Config
}

func (t *tlsStream) Addr() net.Addr { return t.adv }
func (t *tlsStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, "tcp", string(addr), t.cfg)
}

// join asks an existing member to add this node as a voter, retrying until
// the context ends.
func (s *Store) join(ctx context.Context) error {
	body, _ := json.Marshal(joinRequest{ID: s.cfg.NodeID, RaftAddr: string(s.transport.LocalAddr()), HTTPAddr: s.cfg.HTTPAdvertise})
	url := strings.TrimRight(s.cfg.JoinURL, "/") + "/api/internal/cluster/join"
	var last error
	for attempt := 0; attempt < 60; attempt++ {
		err := s.postInternal(ctx, url, body, nil)
		if err == nil {
			return nil
		}
		last = err
		var se *Error
		if errors.As(err, &se) && (se.Code == "forbidden" || se.Code == "invalid") {
			return fmt.Errorf("store: join %s refused: %w", s.cfg.JoinURL, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store: join %s: %v (last error: %v)", s.cfg.JoinURL, ctx.Err(), last)
		case <-time.After(500 * time.Millisecond):
		}
	}
	return fmt.Errorf("store: join %s: %w", s.cfg.JoinURL, last)
}

type joinRequest struct {
	ID       string `json:"id"`
	RaftAddr string `json:"raft_addr"`
	HTTPAddr string `json:"http_addr"`
}

const secretHeader = "X-Yiwang-Cluster-Secret"

// postInternal POSTs JSON to another node's internal endpoint and decodes the
// answer into out, or an *Error.
func (s *Store) postInternal(ctx context.Context, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(secretHeader, s.cfg.Secret)
	resp, err := s.httpClient.Do(req)
	if err != nil {
		return retryableError{err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return retryableError{err}
	}
	if resp.StatusCode != http.StatusOK {
		var env struct {
			Error *Error `json:"error"`
		}
		if json.Unmarshal(data, &env) == nil && env.Error != nil {
			if env.Error.Code == "not_leader" || env.Error.Code == "unavailable" {
				return retryableError{env.Error}
			}
			return env.Error
		}
		return retryableError{fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(data)))}
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// forwardApply sends the command to the leader's internal apply endpoint.
func (s *Store) forwardApply(ctx context.Context, cmd Command) (Result, error) {
	base, err := s.leaderHTTP()
	if err != nil {
		return Result{}, err
	}
	if s.cfg.Secret == "" {
		return Result{}, &Error{Code: "unavailable", Message: "this node is a follower and has no cluster secret to forward writes with"}
	}
	body, _ := json.Marshal(&cmd)
	var res Result
	if err := s.postInternal(ctx, base+"/api/internal/cluster/apply", body, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}
