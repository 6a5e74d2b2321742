package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"time"
)

// Background checkpoints.
//
// SQLite's automatic checkpoint runs inside the commit that crosses the
// threshold, on the committing connection: here that is the FSM, so every
// few thousand pages one apply paid for copying the WAL into the main file
// and two fsyncs, and the whole cluster's write path stalled with it. The
// writer therefore never checkpoints (wal_autocheckpoint=0); a dedicated
// connection runs PASSIVE checkpoints on another core. PASSIVE never blocks
// the writer or readers; when it has caught up, the writer's next
// transaction rewinds the WAL to its start, so the file stays bounded.
//
// While the database is frozen for a raw-file snapshot or backup (freeze.go)
// the checkpointer does nothing: the main file must not change.

const checkpointEvery = 250 * time.Millisecond

func (s *Store) startCheckpointer() error {
	db, err := sql.Open("sqlite", dsn(filepath.Join(s.cfg.DataDir, dbFile), false))
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s.ckptDB = db
	s.ckptDone = make(chan struct{})
	s.ckptStop = make(chan struct{})
	go s.checkpointLoop()
	return nil
}

func (s *Store) checkpointLoop() {
	defer close(s.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var last uint64
	for {
		select {
		case <-s.ckptStop:
			return
		case <-t.C:
		}
		applied := s.applied.Load()
		if applied == last {
			continue
		}
		if err := s.checkpoint(context.Background()); err != nil {
			s.logf("store: background checkpoint: %v", err)
			continue
		}
		last = applied
	}
}

// checkpoint runs one PASSIVE checkpoint unless the database is frozen.
func (s *Store) checkpoint(ctx context.Context) error {
	s.ckptMu.Lock()
	defer s.ckptMu.Unlock()
	s.freezeMu.Lock()
	frozen := s.frozen > 0
	s.freezeMu.Unlock()
	if frozen {
		return nil
	}
	var busy, logFrames, done int
	return s.ckptDB.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logFrames, &done)
}

func (s *Store) stopCheckpointer() {
	if s.ckptDB == nil {
		return
	}
	close(s.ckptStop)
	<-s.ckptDone
	s.ckptDB.Close()
	s.ckptDB = nil
}
