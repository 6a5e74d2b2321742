package ops

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
)

const cmdBackupRecord = "ops.backup.record"

// retryFailedAfter is how soon a failed scheduled backup is tried again
// (or the interval, when shorter).
const retryFailedAfter = 15 * time.Minute

// BackupRecord is one backup attempt in the replicated history.
type BackupRecord struct {
	ID         int64     `json:"id"`
	NodeID     string    `json:"node_id"`
	File       string    `json:"file"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	OK         bool      `json:"ok"`
	Error      string    `json:"error,omitempty"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256,omitempty"`
	StoreIndex uint64    `json:"store_index"`
	// Deleted is when retention deleted the file ("" while it exists).
	Deleted string `json:"deleted,omitempty"`
	Trigger string `json:"trigger"` // schedule or manual
}

type backupRecordPayload struct {
	BackupRecord
	// DeletedFiles are files of the same node removed by retention.
	DeletedFiles []string `json:"deleted_files,omitempty"`
}

// BackupFile is a backup file present in this node's backup directory.
type BackupFile struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

// BackupState is the backup part of the overview.
type BackupState struct {
	Enabled bool   `json:"enabled"`
	Dir     string `json:"dir,omitempty"`
	Every   string `json:"every,omitempty"`
	At      string `json:"at,omitempty"`
	Keep    int    `json:"keep"`
	// OnThisNode: this node leads, so scheduled backups run here.
	OnThisNode bool          `json:"on_this_node"`
	Running    bool          `json:"running"`
	NextDue    *time.Time    `json:"next_due,omitempty"`
	Last       *BackupRecord `json:"last,omitempty"`
	LastOK     *BackupRecord `json:"last_ok,omitempty"`
	Files      []BackupFile  `json:"files"`
}

func (m *Module) applyBackupRecord(tx *store.Tx, cmd *store.Command) (any, error) {
	var p backupRecordPayload
	if err := json.Unmarshal(cmd.Payload, &p); err != nil {
		return nil, &store.Error{Code: "invalid", Message: err.Error()}
	}
	r := p.BackupRecord
	if r.NodeID == "" || r.File == "" {
		return nil, &store.Error{Code: "invalid", Message: "node_id and file are required"}
	}
	if r.Trigger == "" {
		r.Trigger = "schedule"
	}
	res, err := tx.Exec(`INSERT INTO ops_backup(node_id,file,started_at,finished_at,ok,error,size,sha256,store_index,trigger)
		VALUES(?,?,?,?,?,?,?,?,?,?)`, r.NodeID, r.File, r.StartedAt.UTC().Format(time.RFC3339Nano), r.FinishedAt.UTC().Format(time.RFC3339Nano),
		r.OK, r.Error, r.Size, r.SHA256, int64(r.StoreIndex), r.Trigger)
	if err != nil {
		return nil, err
	}
	r.ID, _ = res.LastInsertId()
	for _, f := range p.DeletedFiles {
		if _, err := tx.Exec(`UPDATE ops_backup SET deleted=? WHERE node_id=? AND file=? AND deleted=''`,
			tx.Now().UTC().Format(time.RFC3339), r.NodeID, f); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// backupName is the file name of a backup: its time (China time, sortable)
// and store index.
func backupName(t time.Time, index uint64) string {
	return fmt.Sprintf("yiwang-%s-%d.backup", t.In(httpapi.ChinaTime).Format("20060102-150405"), index)
}

func isBackupName(n string) bool {
	return strings.HasPrefix(n, "yiwang-") && strings.HasSuffix(n, ".backup")
}

// RunBackup writes a backup into backup_dir, verifies it, applies
// retention and records the attempt in the replicated history. The error is
// the attempt's failure (also recorded and logged).
func (m *Module) RunBackup(ctx context.Context, trigger string) (BackupRecord, error) {
	cfg := m.opts.Backup
	if cfg.Dir == "" {
		return BackupRecord{}, &store.Error{Code: "invalid", Message: "no backup_dir is configured on this node"}
	}
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		return BackupRecord{}, &store.Error{Code: "conflict", Message: "a backup is being written"}
	}
	m.running = true
	m.mu.Unlock()
	defer func() { m.mu.Lock(); m.running = false; m.mu.Unlock() }()

	rec := BackupRecord{NodeID: m.st.NodeID(), StartedAt: m.opts.Now().UTC(), Trigger: trigger}
	info, file, err := m.writeVerified(ctx, cfg.Dir)
	rec.FinishedAt = m.opts.Now().UTC()
	var deleted []string
	if err != nil {
		rec.File = file
		if rec.File == "" {
			rec.File = "(none)"
		}
		rec.Error = err.Error()
		m.setWarning(Warning{Kind: "backup", Message: fmt.Sprintf("backup to %s failed: %v", cfg.Dir, err), Short: cfg.Dir + ": " + err.Error()})
	} else {
		rec.OK, rec.File, rec.Size, rec.SHA256, rec.StoreIndex = true, file, info.Size, info.SHA256, info.Index
		m.clearWarning("backup")
		var rerr error
		deleted, rerr = Retain(cfg.Dir, cfg.Keep)
		for _, d := range deleted {
			m.opts.Logf("ops: retention deleted backup %s", filepath.Join(cfg.Dir, d))
		}
		if rerr != nil {
			m.opts.Logf("ops: WARNING: retention in %s: %v", cfg.Dir, rerr)
		}
		m.opts.Logf("ops: backup %s written and verified (index %d, %s, %s)", filepath.Join(cfg.Dir, file), info.Index, HumanBytes(uint64(info.Size)), rec.FinishedAt.Sub(rec.StartedAt).Round(time.Millisecond))
	}
	cmd, cerr := store.NewCommand(cmdBackupRecord, 1, backupRecordPayload{BackupRecord: rec, DeletedFiles: deleted})
	if cerr == nil {
		cmd.Actor = "system:ops"
		var res store.Result
		if res, cerr = m.st.Apply(ctx, cmd); cerr == nil {
			_ = res.Decode(&rec)
		}
	}
	if cerr != nil {
		m.opts.Logf("ops: WARNING: could not record the backup attempt: %v", cerr)
	}
	m.mu.Lock()
	m.localLast = &rec
	m.mu.Unlock()
	return rec, err
}

// writeVerified writes NAME.partial, verifies it and renames it.
func (m *Module) writeVerified(ctx context.Context, dir string) (store.BackupInfo, string, error) {
	if err := ensureDir(dir); err != nil {
		return store.BackupInfo{}, "", err
	}
	f, err := os.CreateTemp(dir, "yiwang-*.backup.partial")
	if err != nil {
		return store.BackupInfo{}, "", fmt.Errorf("backup directory: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = m.st.Backup(ctx, f)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return store.BackupInfo{}, "", fmt.Errorf("writing the backup: %w", err)
	}
	info, err := store.VerifyBackup(tmp)
	if err != nil {
		return info, "", fmt.Errorf("the backup just written does not verify: %w", err)
	}
	name := backupName(info.Time, info.Index)
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return info, "", err
	}
	return info, name, nil
}

// ensureDir creates the backup directory itself but not its parents: a
// backup_dir on a removable disk that is not mounted must fail rather than
// fill the system disk under the empty mount point.
func ensureDir(dir string) error {
	if err := os.Mkdir(dir, 0o750); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("backup directory: %w (is the disk mounted?)", err)
	}
	return nil
}

// Retain keeps the newest keep backup files (yiwang-*.backup) in dir and
// deletes the others, returning their names. keep <= 0 keeps everything.
func Retain(dir string, keep int) ([]string, error) {
	if keep <= 0 {
		return nil, nil
	}
	files, err := ListBackupFiles(dir)
	if err != nil || len(files) <= keep {
		return nil, err
	}
	var deleted []string
	var errs []error
	for _, f := range files[keep:] {
		if err := os.Remove(filepath.Join(dir, f.Name)); err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, f.Name)
	}
	return deleted, errors.Join(errs...)
}

// ListBackupFiles lists the backup files in dir, newest first (by name,
// which starts with the time).
func ListBackupFiles(dir string) ([]BackupFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []BackupFile
	for _, e := range ents {
		if !e.Type().IsRegular() || !isBackupName(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, BackupFile{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime().UTC()})
	}
	sort.Slice(out, func(i, j int) bool { return backupKey(out[i].Name) > backupKey(out[j].Name) })
	return out, nil
}

// backupKey orders names by time, then by index as a number.
func backupKey(name string) string {
	s := strings.TrimSuffix(strings.TrimPrefix(name, "yiwang-"), ".backup")
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if n, err := strconv.ParseUint(s[i+1:], 10, 64); err == nil {
			return fmt.Sprintf("%s-%020d", s[:i], n)
		}
	}
	return s
}

// lastAttempts returns the newest attempt and the newest success.
func (m *Module) lastAttempts(ctx context.Context) (last, lastOK *BackupRecord, err error) {
	q := `SELECT id,node_id,file,started_at,finished_at,ok,error,size,sha256,store_index,deleted,trigger FROM ops_backup `
	last, err = m.scanOne(ctx, q+`ORDER BY started_at DESC, id DESC LIMIT 1`)
	if err != nil {
		return nil, nil, err
	}
	lastOK, err = m.scanOne(ctx, q+`WHERE ok=1 ORDER BY started_at DESC, id DESC LIMIT 1`)
	return last, lastOK, err
}

func (m *Module) scanOne(ctx context.Context, q string, args ...any) (*BackupRecord, error) {
	rows, err := m.st.DB().QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	recs, err := scanRecords(rows)
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	return &recs[0], nil
}

func scanRecords(rows *sql.Rows) ([]BackupRecord, error) {
	defer rows.Close()
	var out []BackupRecord
	for rows.Next() {
		var r BackupRecord
		var started, finished string
		var idx int64
		if err := rows.Scan(&r.ID, &r.NodeID, &r.File, &started, &finished, &r.OK, &r.Error, &r.Size, &r.SHA256, &idx, &r.Deleted, &r.Trigger); err != nil {
			return nil, err
		}
		r.StartedAt, _ = time.Parse(time.RFC3339Nano, started)
		r.FinishedAt, _ = time.Parse(time.RFC3339Nano, finished)
		r.StoreIndex = uint64(idx)
		out = append(out, r)
	}
	return out, rows.Err()
}

// nextDue is when the next scheduled backup is due given the newest attempt.
func (c BackupConfig) nextDue(last *BackupRecord, now time.Time) time.Time {
	if last == nil {
		return now
	}
	if !last.OK {
		retry := retryFailedAfter
		if c.At == "" && c.Every < retry {
			retry = c.Every
		}
		return last.StartedAt.Add(retry)
	}
	if c.At != "" {
		at, _ := parseAt(c.At)
		// The first occurrence of HH:MM (China time) after the last backup.
		l := last.StartedAt.In(httpapi.ChinaTime)
		next := time.Date(l.Year(), l.Month(), l.Day(), at/60, at%60, 0, 0, httpapi.ChinaTime)
		if !next.After(l) {
			next = next.AddDate(0, 0, 1)
		}
		return next
	}
	return last.StartedAt.Add(c.Every)
}

func (m *Module) backupDue(ctx context.Context) (bool, error) {
	last, _, err := m.lastAttempts(ctx)
	if err != nil {
		return false, err
	}
	// An attempt this node could not record still counts.
	m.mu.Lock()
	if l := m.localLast; l != nil && (last == nil || l.StartedAt.After(last.StartedAt)) {
		last = l
	}
	m.mu.Unlock()
	now := m.opts.Now()
	return !now.Before(m.opts.Backup.nextDue(last, now)), nil
}

// parseAt parses "HH:MM" into minutes after midnight.
func parseAt(s string) (int, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("backup_at: %q is not a time of day HH:MM", s)
	}
	return t.Hour()*60 + t.Minute(), nil
}

// ValidateBackupConfig checks the configuration values (for app.Config).
func ValidateBackupConfig(dir, every, at string, keep int) error {
	if every != "" {
		d, err := time.ParseDuration(every)
		if err != nil || d < time.Minute {
			return fmt.Errorf("backup_every: %q is not a duration of at least 1m (e.g. 24h, 6h)", every)
		}
	}
	if at != "" {
		if _, err := parseAt(at); err != nil {
			return err
		}
	}
	if keep < 0 {
		return fmt.Errorf("backup_keep: must be 0 (keep all) or more")
	}
	if dir == "" && (every != "" || at != "") {
		return fmt.Errorf("backup_every/backup_at need backup_dir")
	}
	return nil
}

func (m *Module) backupState(ctx context.Context) BackupState {
	c := m.opts.Backup
	bs := BackupState{Enabled: c.Enabled(), Dir: c.Dir, At: c.At, Keep: c.Keep, OnThisNode: m.st.IsLeader()}
	if c.Every > 0 {
		bs.Every = c.Every.String()
	}
	m.mu.Lock()
	bs.Running = m.running
	m.mu.Unlock()
	last, lastOK, err := m.lastAttempts(ctx)
	if err == nil {
		bs.Last, bs.LastOK = last, lastOK
		if bs.Enabled {
			due := c.nextDue(last, m.opts.Now()).UTC()
			bs.NextDue = &due
		}
	}
	bs.Files, _ = ListBackupFiles(c.Dir)
	if bs.Files == nil {
		bs.Files = []BackupFile{}
	}
	return bs
}

var backupList = &httpapi.ListSpec{
	Sort:        map[string]string{"started_at": "started_at", "size": "size"},
	DefaultSort: "-started_at",
	Tiebreak:    "id",
	Filters: map[string]httpapi.Filter{
		"node_id": {Column: "node_id", Kind: httpapi.FilterString},
		"ok":      {Column: "ok", Kind: httpapi.FilterBool},
	},
}

func (m *Module) listBackups(w http.ResponseWriter, r *http.Request) error {
	q, err := httpapi.ParseList(r, backupList)
	if err != nil {
		return err
	}
	var total int
	if err := m.st.DB().QueryRowContext(r.Context(), `SELECT count(*) FROM ops_backup `+q.WhereSQL(), q.Args()...).Scan(&total); err != nil {
		return err
	}
	rows, err := m.st.DB().QueryContext(r.Context(), `SELECT id,node_id,file,started_at,finished_at,ok,error,size,sha256,store_index,deleted,trigger
		FROM ops_backup `+q.WhereSQL()+` `+q.OrderBy()+` `+q.LimitSQL(), q.Args()...)
	if err != nil {
		return err
	}
	items, err := scanRecords(rows)
	if err != nil {
		return err
	}
	if items == nil {
		items = []BackupRecord{}
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[BackupRecord]{Items: items, Total: total})
}

func (m *Module) runBackupNow(w http.ResponseWriter, r *http.Request) error {
	rec, err := m.RunBackup(r.Context(), "manual")
	if err != nil {
		var se *store.Error
		if errors.As(err, &se) {
			return err
		}
		return &store.Error{Code: "unavailable", Message: err.Error()}
	}
	return httpapi.JSON(w, http.StatusCreated, rec)
}
