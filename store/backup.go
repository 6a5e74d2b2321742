package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// A backup file is a one-line text header, a JSON line describing the backup
// (including the SHA-256 of the database bytes), then the SQLite database
// itself. The header lets `yiwang backup verify` detect truncation and
// tampering before anything is restored.
const backupMagic = "YIWANG-BACKUP 1\n"

// BackupInfo describes a backup file.
type BackupInfo struct {
	Index   uint64    `json:"index"`
	NodeID  string    `json:"node_id"`
	Time    time.Time `json:"time"`
	Size    int64     `json:"size"`
	SHA256  string    `json:"sha256"`
	Version string    `json:"version,omitempty"`
}

// Backup writes an online, consistent backup of the database to w while
// writes go on.
func (s *Store) Backup(ctx context.Context, w io.Writer) (BackupInfo, error) {
	info := BackupInfo{NodeID: s.cfg.NodeID, Time: time.Now().UTC(), Version: Version}
	release, idx, err := s.freeze(ctx)
	if err == nil {
		defer release()
		info.Index = idx
		return info, writeBackup(filepath.Join(s.cfg.DataDir, dbFile), &info, w)
	}
	s.logf("store: fast backup unavailable (%v); using the backup API", err)
	tmp, err := s.copyDatabase(ctx)
	if err != nil {
		return BackupInfo{}, err
	}
	defer os.Remove(tmp)
	if info.Index, err = appliedIndexOf(ctx, tmp); err != nil {
		return info, err
	}
	return info, writeBackup(tmp, &info, w)
}

func appliedIndexOf(ctx context.Context, path string) (uint64, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ra, err := getMetaUint(ctx, db, metaRaftApplied)
	if err != nil {
		return 0, err
	}
	off, err := getMetaUint(ctx, db, metaOffset)
	if err != nil {
		return 0, err
	}
	var last uint64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(idx),0) FROM _log`).Scan(&last); err != nil {
		return 0, err
	}
	if off+ra > last {
		last = off + ra
	}
	return last, nil
}

func writeBackup(dbPath string, info *BackupInfo, w io.Writer) error {
	fh, err := os.Open(dbPath)
	if err != nil {
		return err
	}
	defer fh.Close()
	h := sha256.New()
	n, err := io.Copy(h, fh)
	if err != nil {
		return err
	}
	info.Size = n
	info.SHA256 = hex.EncodeToString(h.Sum(nil))
	meta, _ := json.Marshal(info)
	if _, err := io.WriteString(w, backupMagic+string(meta)+"\n"); err != nil {
		return err
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = io.Copy(w, fh)
	return err
}

// readBackupHeader parses the header and leaves r at the database bytes.
func readBackupHeader(r *bufio.Reader) (BackupInfo, error) {
	var info BackupInfo
	magic, err := r.ReadString('\n')
	if err != nil || magic != backupMagic {
		return info, errors.New("not a yiwang backup file (bad header)")
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return info, errors.New("backup header is truncated")
	}
	if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &info); err != nil {
		return info, fmt.Errorf("backup header is damaged: %v", err)
	}
	return info, nil
}

// VerifyBackup checks a backup file: header, size, checksum, and that the
// database inside passes PRAGMA integrity_check and holds the index the header
// names. It writes nothing but a temporary copy.
func VerifyBackup(path string) (BackupInfo, error) {
	tmp, info, err := extractBackup(path, os.TempDir())
	if err != nil {
		return info, err
	}
	defer func() {
		for _, suf := range []string{"", "-wal", "-shm"} {
			os.Remove(tmp + suf)
		}
	}()
	if err := checkDatabaseFile(tmp, info.Index); err != nil {
		return info, err
	}
	return info, nil
}

func extractBackup(path, dir string) (string, BackupInfo, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", BackupInfo{}, err
	}
	defer fh.Close()
	br := bufio.NewReaderSize(fh, 1<<20)
	info, err := readBackupHeader(br)
	if err != nil {
		return "", info, err
	}
	out, err := os.CreateTemp(dir, "verify-*.db")
	if err != nil {
		return "", info, err
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), br)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", info, err
	}
	if n != info.Size {
		os.Remove(out.Name())
		return "", info, fmt.Errorf("backup is truncated or padded: %d bytes of database, header says %d", n, info.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != info.SHA256 {
		os.Remove(out.Name())
		return "", info, fmt.Errorf("backup checksum mismatch: the file was altered or damaged (sha256 %s, header says %s)", got, info.SHA256)
	}
	return out.Name(), info, nil
}

func checkDatabaseFile(path string, wantIndex uint64) error {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return err
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil {
		return fmt.Errorf("backup database unreadable: %v", err)
	}
	if res != "ok" {
		return fmt.Errorf("backup database fails integrity_check: %s", res)
	}
	db.Close()
	idx, err := appliedIndexOf(context.Background(), path)
	if err != nil {
		return fmt.Errorf("backup database lacks store metadata: %v", err)
	}
	if idx != wantIndex {
		return fmt.Errorf("backup database is at index %d, header says %d", idx, wantIndex)
	}
	return nil
}

// RestoreBackup verifies a backup and installs it as the database of a new
// data dir. The node started on that dir bootstraps a fresh single-node
// cluster whose store indexes continue after the backup's, so watermarks and
// the audit chain stay monotonic.
func RestoreBackup(path, dataDir string) (BackupInfo, error) {
	if _, err := os.Stat(filepath.Join(dataDir, dbFile)); err == nil {
		return BackupInfo{}, fmt.Errorf("%s already holds a database: restore into a new, empty data dir", dataDir)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "raft")); err == nil {
		return BackupInfo{}, fmt.Errorf("%s already holds raft state: restore into a new, empty data dir", dataDir)
	}
	if err := os.MkdirAll(dataDir, 0o750); err != nil {
		return BackupInfo{}, err
	}
	tmp, info, err := extractBackup(path, dataDir)
	if err != nil {
		return info, err
	}
	if err := checkDatabaseFile(tmp, info.Index); err != nil {
		os.Remove(tmp)
		return info, err
	}
	db, err := sql.Open("sqlite", "file:"+tmp)
	if err != nil {
		os.Remove(tmp)
		return info, err
	}
	ctx := context.Background()
	err = func() error {
		defer db.Close()
		// Leave WAL mode so the file is self-contained before it is renamed.
		if _, err := db.Exec(`PRAGMA journal_mode=DELETE`); err != nil {
			return err
		}
		if err := setMeta(ctx, db, metaOffset, info.Index); err != nil {
			return err
		}
		if err := setMeta(ctx, db, metaRaftApplied, 0); err != nil {
			return err
		}
		// The old cluster's members are not this one's.
		_, err := db.Exec(`DELETE FROM _nodes`)
		return err
	}()
	if err != nil {
		os.Remove(tmp)
		return info, err
	}
	for _, suf := range []string{"-wal", "-shm"} {
		os.Remove(tmp + suf)
	}
	if err := os.Rename(tmp, filepath.Join(dataDir, dbFile)); err != nil {
		os.Remove(tmp)
		return info, err
	}
	return info, nil
}
