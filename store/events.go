package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"sync"
	"time"
)

// hub keeps the most recent events in memory. A subscriber that falls behind
// what the ring holds (slow, or resuming from an old watermark) reads the
// gap back from the command log table, so memory stays bounded and no
// subscriber is ever dropped or skipped.
type hub struct {
	mu      sync.Mutex
	ring    []Event
	evicted uint64 // highest index evicted from the ring
	notify  chan struct{}
	closed  bool
}

const ringSize = 8192

func newHub() *hub { return &hub{notify: make(chan struct{})} }

func (h *hub) publish(evs []Event) {
	h.mu.Lock()
	h.ring = append(h.ring, evs...)
	if over := len(h.ring) - ringSize; over > 0 {
		h.evicted = h.ring[over-1].Index
		h.ring = append(h.ring[:0:0], h.ring[over:]...)
	}
	close(h.notify)
	h.notify = make(chan struct{})
	h.mu.Unlock()
}

func (h *hub) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.notify)
		h.notify = make(chan struct{})
	}
	h.mu.Unlock()
}

// since returns ring events with Index >= next; ok is false when events at or
// after next may have been evicted (the caller must read the table).
func (h *hub) since(next uint64) (evs []Event, wait chan struct{}, ok bool, closed bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if next <= h.evicted {
		return nil, nil, false, h.closed
	}
	// ring is ordered by index; find the first >= next
	lo, hi := 0, len(h.ring)
	for lo < hi {
		m := (lo + hi) / 2
		if h.ring[m].Index < next {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(h.ring) {
		evs = append([]Event(nil), h.ring[lo:]...)
	}
	return evs, h.notify, true, h.closed
}

// Subscribe delivers every event with index > from to fn, in log order, on a
// goroutine of its own. Events older than what is in memory are replayed from
// the command log table first (Event.Replayed). Commands registered with
// NoLogPayload replay without payload. cancel stops delivery and waits for fn
// to return.
func (s *Store) Subscribe(name string, from uint64, fn func(Event)) (cancel func()) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		next := from + 1
		// Catch up from the table while the wanted range is older than the
		// ring; also covers a fresh subscriber with from == 0.
		if from < s.applied.Load() {
			if n, ok := s.replay(ctx, next, fn); ok {
				next = n
			} else {
				return
			}
		}
		for {
			evs, wait, ok, closed := s.hub.since(next)
			if !ok {
				n, alive := s.replay(ctx, next, fn)
				if !alive {
					return
				}
				next = n
				continue
			}
			for _, e := range evs {
				if ctx.Err() != nil {
					return
				}
				fn(e)
				next = e.Index + 1
				if e.Cmd.Type == EventRestored {
					// The log table was replaced: resume after it.
					next = e.Index + 1
				}
			}
			if len(evs) > 0 {
				continue
			}
			if closed {
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-wait:
			case <-s.closeCh:
				return
			}
		}
	}()
	return func() {
		stop()
		<-done
	}
}

// replay reads successful commands with idx >= next from the log table up to
// what is applied now and returns the next index to read.
func (s *Store) replay(ctx context.Context, next uint64, fn func(Event)) (uint64, bool) {
	for {
		upto := s.applied.Load()
		if next > upto {
			return next, true
		}
		rows, err := s.reader.QueryContext(ctx, `SELECT idx, cmd_id, type, v, actor, ts, idem, payload, result
			FROM _log WHERE idx >= ? AND idx <= ? AND error IS NULL AND type NOT LIKE '\_%' ESCAPE '\'
			ORDER BY idx LIMIT 1000`, next, upto)
		if err != nil {
			if ctx.Err() != nil || s.isClosed() {
				return next, false
			}
			s.logf("store: replay events: %v", err)
			select {
			case <-ctx.Done():
				return next, false
			case <-time.After(time.Second):
			}
			continue
		}
		n := 0
		var batch []Event
		for rows.Next() {
			var e Event
			var ts int64
			var idem sql.NullString
			var payload, result []byte
			if err := rows.Scan(&e.Index, &e.Cmd.ID, &e.Cmd.Type, &e.Cmd.Version, &e.Cmd.Actor, &ts, &idem, &payload, &result); err != nil {
				break
			}
			e.Cmd.Time = time.Unix(0, ts).UTC()
			e.Cmd.IdempotencyKey = idem.String
			if payload != nil {
				e.Cmd.Payload = json.RawMessage(payload)
			}
			if result != nil {
				e.Result = json.RawMessage(result)
			}
			e.Replayed = true
			batch = append(batch, e)
			n++
		}
		rows.Close()
		for _, e := range batch {
			if ctx.Err() != nil {
				return next, false
			}
			fn(e)
		}
		if n < 1000 {
			return upto + 1, true
		}
		next = batch[len(batch)-1].Index + 1
	}
}
