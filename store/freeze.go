package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Fast consistent copies of a live WAL database.
//
// With every WAL frame checkpointed into the main file and automatic
// checkpoints paused, the main file cannot change: new commits only append
// to the WAL. The main file can then be copied as plain bytes (disk speed)
// while writes go on. Only the checkpoint runs with the FSM paused, and it
// copies at most what the background checkpointer (checkpoint.go) has not
// copied yet, a fraction of a second of writes.

// freeze checkpoints the WAL fully and pauses auto-checkpoints. release
// resumes them. Freezes nest (a snapshot and a backup may overlap).
func (s *Store) freeze(ctx context.Context) (release func(), index uint64, err error) {
	s.fsm.applyMu.Lock()
	defer s.fsm.applyMu.Unlock()
	s.ckptMu.Lock() // no background checkpoint in between
	defer s.ckptMu.Unlock()
	index = s.applied.Load()
	var busy, logFrames, done int
	if err := s.writer.QueryRowContext(ctx, `PRAGMA wal_checkpoint(FULL)`).Scan(&busy, &logFrames, &done); err != nil {
		return nil, 0, fmt.Errorf("checkpoint: %w", err)
	}
	if busy != 0 || done < logFrames {
		return nil, 0, fmt.Errorf("checkpoint incomplete (busy=%d, %d of %d frames)", busy, done, logFrames)
	}
	s.freezeMu.Lock()
	s.frozen++ // the background checkpointer skips while frozen
	s.freezeMu.Unlock()
	return func() {
		s.freezeMu.Lock()
		defer s.freezeMu.Unlock()
		s.frozen--
	}, index, nil
}

// copyMainFile writes the frozen main database file to w.
func (s *Store) copyMainFile(w io.Writer) (int64, error) {
	fh, err := os.Open(filepath.Join(s.cfg.DataDir, dbFile))
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	return io.Copy(w, fh)
}

// snapshotTo writes a consistent copy of the database to w: frozen raw copy
// when the checkpoint succeeds, the SQLite backup API otherwise.
func (s *Store) snapshotTo(ctx context.Context, w io.Writer) error {
	release, _, err := s.freeze(ctx)
	if err == nil {
		defer release()
		_, err = s.copyMainFile(w)
		return err
	}
	s.logf("store: fast snapshot unavailable (%v); using the backup API", err)
	tmp, err := s.copyDatabase(ctx)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	fh, err := os.Open(tmp)
	if err != nil {
		return err
	}
	defer fh.Close()
	_, err = io.Copy(w, fh)
	return err
}
