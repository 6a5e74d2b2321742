package mqtt

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// batcher collects decoded readings from many client goroutines and hands
// them to the sink in batches, by count (BatchSize) or by time (BatchDelay
// after the first reading of a batch). The queue is a bounded channel of
// per-message reading slices: enqueue waits at most EnqueueTimeout, so a
// stalled sink pushes back on publishers (TCP flow control) without ever
// holding a client's packet loop indefinitely.
type batcher struct {
	opts    *Options
	log     *slog.Logger
	queue   chan []Reading
	batches chan []Reading
	stop    chan struct{}
	wg      sync.WaitGroup

	onDrop func(batch []Reading, err error)

	readings, written, nbatches, batchErrors, dropped atomic.Int64
}

func newBatcher(o *Options, onDrop func([]Reading, error)) *batcher {
	return &batcher{
		opts:    o,
		log:     o.Logger,
		queue:   make(chan []Reading, o.QueueSize),
		batches: make(chan []Reading, o.SinkWorkers),
		stop:    make(chan struct{}),
		onDrop:  onDrop,
	}
}

func (b *batcher) start() {
	b.wg.Add(1)
	go b.collect()
	for i := 0; i < b.opts.SinkWorkers; i++ {
		b.wg.Add(1)
		go b.write()
	}
}

// enqueue queues the readings of one message. It reports false when the
// queue stayed full for EnqueueTimeout (or the batcher is stopping).
func (b *batcher) enqueue(rs []Reading) bool {
	select {
	case b.queue <- rs:
		b.readings.Add(int64(len(rs)))
		return true
	default:
	}
	t := time.NewTimer(b.opts.EnqueueTimeout)
	defer t.Stop()
	select {
	case b.queue <- rs:
		b.readings.Add(int64(len(rs)))
		return true
	case <-t.C:
	case <-b.stop:
	}
	return false
}

func (b *batcher) collect() {
	defer b.wg.Done()
	defer close(b.batches)
	size := b.opts.BatchSize
	cur := make([]Reading, 0, size)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	flush := func() {
		if len(cur) == 0 {
			return
		}
		b.batches <- cur
		cur = make([]Reading, 0, size)
		if armed {
			timer.Stop()
			armed = false
		}
	}
	for {
		select {
		case rs := <-b.queue:
			cur = append(cur, rs...)
			if len(cur) >= size {
				flush()
			} else if !armed {
				timer.Reset(b.opts.BatchDelay)
				armed = true
			}
		case <-timer.C:
			armed = false
			flush()
		case <-b.stop:
			// drain what is queued, then finish
			for {
				select {
				case rs := <-b.queue:
					cur = append(cur, rs...)
					if len(cur) >= size {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

func (b *batcher) write() {
	defer b.wg.Done()
	for batch := range b.batches {
		b.writeOne(batch)
	}
}

func (b *batcher) writeOne(batch []Reading) {
	backoff := 50 * time.Millisecond
	var err error
	for attempt := 1; attempt <= b.opts.SinkRetries; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), b.opts.SinkTimeout)
		err = b.opts.Sink.WriteBatch(ctx, batch)
		cancel()
		if err == nil {
			b.nbatches.Add(1)
			b.written.Add(int64(len(batch)))
			return
		}
		b.batchErrors.Add(1)
		b.log.Warn("mqtt: telemetry batch failed", "readings", len(batch), "attempt", attempt, "error", err)
		if attempt == b.opts.SinkRetries {
			break
		}
		select {
		case <-time.After(backoff):
		case <-b.stop:
			// shutting down: one last attempt happens on the next loop turn
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
	b.dropped.Add(int64(len(batch)))
	b.log.Error("mqtt: telemetry batch given up", "readings", len(batch), "error", err)
	if b.onDrop != nil {
		b.onDrop(batch, err)
	}
}

// close flushes the queue into the sink and waits for the writers.
func (b *batcher) close() {
	close(b.stop)
	b.wg.Wait()
}
