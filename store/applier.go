package store

import (
	"context"
	"sync"

	"github.com/hashicorp/raft"
)

// Group commit across raft batches.
//
// hashicorp/raft hands the FSM committed entries in the batches its leader
// wrote them, and under load those are mostly single entries: a client gets
// its answer, sends its next command, and the leader writes that one entry
// at once. Applying each in its own SQLite transaction made every command
// pay a full commit (WAL frames for every page it touched); telemetry
// batches, which touch hundreds of pages, paid it hundreds of times over.
//
// So ApplyBatch only queues the entries and returns a promise per entry; one
// applier goroutine takes everything queued so far and applies it in one
// transaction (fsm.applyBatch, unchanged). Order is kept: a single queue, a
// single applier. Raft's own notion of "applied" runs slightly ahead of the
// database, which is why Snapshot and Restore drain the queue first (they
// run on raft's FSM goroutine, so nothing is queued behind them), and why
// the store's reads and waits use its own applied index, never raft's.
// The queue is bounded: ApplyBatch blocks when it is full, which pushes back
// on raft as a synchronous FSM would.

// snapshotBytes triggers a raft snapshot when this many bytes of commands
// were applied since the last one. Raft's own trigger counts entries, and a
// bulk import is a few large entries: without this, every restart re-read
// it from the raft log (hundreds of MB of allocations and RSS).
const snapshotBytes = 256 << 20

const (
	maxQueuedLogs  = 4096 // ApplyBatch blocks above this
	maxLogsPerTxn  = 2048 // one transaction takes at most this many entries
	maxBytesPerTxn = 64 << 20
)

type applyBatch struct {
	logs  []*raft.Log
	resps []any
	done  chan struct{}
}

// asyncResponse is what raft returns from ApplyFuture.Response().
type asyncResponse struct {
	b *applyBatch
	i int
}

// wait returns the entry's response once its transaction committed.
func (r *asyncResponse) wait(ctx context.Context, closed <-chan struct{}) (*fsmResponse, error) {
	select {
	case <-r.b.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-closed:
		return nil, &Error{Code: "unavailable", Message: "store is shutting down"}
	}
	resp, _ := r.b.resps[r.i].(*fsmResponse)
	return resp, nil
}

type applyQueue struct {
	mu       sync.Mutex
	cond     *sync.Cond
	q        []*applyBatch
	queued   int
	busy     bool
	started  bool
	stopping bool
	stopped  chan struct{}
}

// enqueue hands a raft batch to the applier and returns its promises.
func (f *fsm) enqueue(logs []*raft.Log) []any {
	aq := &f.aq
	aq.mu.Lock()
	if !aq.started {
		aq.started = true
		aq.cond = sync.NewCond(&aq.mu)
		aq.stopped = make(chan struct{})
		go f.runApplier()
	}
	for aq.queued >= maxQueuedLogs && !aq.stopping {
		aq.cond.Wait()
	}
	b := &applyBatch{logs: logs, resps: make([]any, len(logs)), done: make(chan struct{})}
	aq.q = append(aq.q, b)
	aq.queued += len(logs)
	aq.cond.Broadcast()
	aq.mu.Unlock()
	out := make([]any, len(logs))
	for i := range out {
		out[i] = &asyncResponse{b: b, i: i}
	}
	return out
}

func (f *fsm) runApplier() {
	aq := &f.aq
	defer close(aq.stopped)
	for {
		aq.mu.Lock()
		for len(aq.q) == 0 && !aq.stopping {
			aq.cond.Wait()
		}
		if len(aq.q) == 0 {
			aq.mu.Unlock()
			return
		}
		// Take whole raft batches up to the transaction limits.
		var take []*applyBatch
		n, size := 0, 0
		for len(aq.q) > 0 {
			b := aq.q[0]
			bs := 0
			for _, l := range b.logs {
				bs += len(l.Data)
			}
			if len(take) > 0 && (n+len(b.logs) > maxLogsPerTxn || size+bs > maxBytesPerTxn) {
				break
			}
			take = append(take, b)
			n += len(b.logs)
			size += bs
			aq.q = aq.q[1:]
		}
		aq.busy = true
		aq.mu.Unlock()

		logs := take[0].logs
		if len(take) > 1 {
			logs = make([]*raft.Log, 0, n)
			for _, b := range take {
				logs = append(logs, b.logs...)
			}
		}
		resp := f.applyNow(logs)
		f.sinceSnapshot.Add(int64(size))
		off := 0
		for _, b := range take {
			copy(b.resps, resp[off:off+len(b.logs)])
			off += len(b.logs)
			close(b.done)
		}

		aq.mu.Lock()
		aq.busy = false
		aq.queued -= n
		aq.cond.Broadcast()
		aq.mu.Unlock()
	}
}

// applyNow applies entries in one transaction: without savepoints first,
// and if any handler refuses, again with a savepoint per command. Handlers
// are deterministic, so both paths give the same state.
func (f *fsm) applyNow(logs []*raft.Log) []any {
	if h, _ := f.s.halted.Load().(string); h != "" {
		return make([]any, len(logs))
	}
	f.applyMu.Lock()
	defer f.applyMu.Unlock()
	resp, outcome := f.applyBatch(logs, false)
	if outcome == needSavepoints {
		resp, _ = f.applyBatch(logs, true)
	}
	return resp
}

// drain waits until everything queued has been applied.
func (f *fsm) drain() {
	aq := &f.aq
	aq.mu.Lock()
	defer aq.mu.Unlock()
	if !aq.started {
		return
	}
	for len(aq.q) > 0 || aq.busy {
		aq.cond.Wait()
	}
}

// stopApplier applies what is queued and ends the applier (after raft has
// shut down, before the database closes).
func (f *fsm) stopApplier() {
	aq := &f.aq
	aq.mu.Lock()
	if !aq.started {
		aq.mu.Unlock()
		return
	}
	aq.stopping = true
	aq.cond.Broadcast()
	aq.mu.Unlock()
	<-aq.stopped
}

// idle reports whether nothing is queued or being applied.
func (f *fsm) idle() bool {
	aq := &f.aq
	aq.mu.Lock()
	defer aq.mu.Unlock()
	return len(aq.q) == 0 && !aq.busy
}

// durableRaftIndex is the raft index up to which every entry is in the
// database, counting entries that carry no command (a new leader's no-op,
// configuration changes, barriers), which the FSM never sees. Raft counts an
// entry applied only after ApplyBatch queued it; reading raft's index first
// and then finding the queue idle proves every command up to it is
// applied. It returns 0 while the applier is busy.
func (s *Store) durableRaftIndex() uint64 {
	if s.raft == nil || s.fsm == nil {
		return 0
	}
	x := s.raft.AppliedIndex()
	if !s.fsm.idle() {
		return 0
	}
	return x
}

// catchUpNoops moves the applied index over entries without a command, so
// a read barrier or the health "lag" does not wait for the next write.
func (s *Store) catchUpNoops() {
	if h, _ := s.halted.Load().(string); h != "" {
		return
	}
	x := s.durableRaftIndex()
	if x == 0 {
		return
	}
	idx := s.offset.Load() + x
	for {
		cur := s.applied.Load()
		if idx <= cur || s.applied.CompareAndSwap(cur, idx) {
			break
		}
	}
}
