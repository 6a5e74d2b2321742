package ops

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/store"
)

// BrokerStatus is what the MQTT broker of this node reports.
type BrokerStatus struct {
	Running         bool    `json:"running"`
	Address         string  `json:"address,omitempty"`
	Error           string  `json:"error,omitempty"`
	Connections     int64   `json:"connections"`
	MessagesIn      int64   `json:"messages_in"`
	MessagesOut     int64   `json:"messages_out"`
	MessagesInPerS  float64 `json:"messages_in_per_s"`
	MessagesOutPerS float64 `json:"messages_out_per_s"`
	Readings        int64   `json:"readings"`
	Dropped         int64   `json:"dropped"`
	AuthFailures    int64   `json:"auth_failures"`
	QueueLen        int     `json:"queue_len"`
}

// BackupConfig schedules backups. Dir empty disables them.
type BackupConfig struct {
	Dir   string        // where backup files go (local or removable disk)
	Every time.Duration // interval between backups (when At is empty)
	At    string        // "HH:MM" China time, daily (takes precedence over Every)
	Keep  int           // newest files kept in Dir (0: keep all)
}

// Enabled tells whether backups are scheduled.
func (c BackupConfig) Enabled() bool { return c.Dir != "" && (c.Every > 0 || c.At != "") }

// Options configure the module.
type Options struct {
	DataDir string
	Version string
	// Hub receives disk warnings as transient live events (optional).
	Hub *live.Hub
	// Broker reports this node's MQTT broker (optional).
	Broker func() BrokerStatus
	// Checks reports component health (e.g. plugins): name → problem, ""
	// when healthy (optional).
	Checks func() map[string]string
	Backup BackupConfig
	// DiskWarnPercent warns when the data disk is this full (default 90).
	DiskWarnPercent float64
	// DiskWarnFree warns when less than this many bytes are free (default
	// 1 GiB; negative disables).
	DiskWarnFree int64
	// CheckEvery is the period of the disk check and backup scheduler
	// (default 30 s).
	CheckEvery time.Duration
	// SearchDirs are the search index directories, relative to DataDir
	// (default "kb-index", "search").
	SearchDirs []string
	Logf       func(string, ...any)
	// Now replaces the clock (tests).
	Now func() time.Time
}

// Module is the operations module.
type Module struct {
	opts    Options
	st      *store.Store
	started time.Time

	mu        sync.Mutex
	warnings  map[string]Warning // by kind
	lastLog   map[string]time.Time
	running   bool          // a backup is being written
	localLast *BackupRecord // this node's newest attempt (recorded or not)

	stop chan struct{}
	done chan struct{}
}

var _ httpapi.Module = (*Module)(nil)

// PermMetrics reads /metrics. Scrapers use an API token limited to it.
var PermMetrics = httpapi.DefinePermission("system.metrics", "读取运行指标（/metrics）", httpapi.RoleAdmin, httpapi.RoleIntegrator)

// New returns the module.
func New(opts Options) *Module {
	if opts.DiskWarnPercent == 0 {
		opts.DiskWarnPercent = 90
	}
	if opts.DiskWarnFree == 0 {
		opts.DiskWarnFree = 1 << 30
	}
	if opts.CheckEvery == 0 {
		opts.CheckEvery = 30 * time.Second
	}
	if opts.SearchDirs == nil {
		opts.SearchDirs = []string{"kb-index", "search"}
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Module{opts: opts, started: time.Now(), warnings: map[string]Warning{}, lastLog: map[string]time.Time{}}
}

// Name implements httpapi.Module.
func (m *Module) Name() string { return "ops" }

// Register implements httpapi.Module: the replicated backup history.
func (m *Module) Register(st *store.Store) {
	m.st = st
	if m.opts.DataDir == "" {
		m.opts.DataDir = st.DataDir()
	}
	st.AddMigrations("ops", `CREATE TABLE ops_backup(
		id INTEGER PRIMARY KEY,
		node_id TEXT NOT NULL,
		file TEXT NOT NULL,
		started_at TEXT NOT NULL,
		finished_at TEXT NOT NULL,
		ok INTEGER NOT NULL,
		error TEXT NOT NULL DEFAULT '',
		size INTEGER NOT NULL DEFAULT 0,
		sha256 TEXT NOT NULL DEFAULT '',
		store_index INTEGER NOT NULL DEFAULT 0,
		deleted TEXT NOT NULL DEFAULT '',
		trigger TEXT NOT NULL DEFAULT 'schedule')`,
		`CREATE INDEX ops_backup_started ON ops_backup(started_at)`)
	st.Register(cmdBackupRecord, 1, m.applyBackupRecord)
}

// Classify sends the backup history's events to administrators only.
func (m *Module) Classify(h *live.Hub) {
	h.Classify("ops.", func(ev store.Event) (live.Message, live.Audience, bool) {
		return live.Message{Type: "ops.backup", Data: live.ResultData(ev)}, live.Audience{Perm: httpapi.PermSystemAdmin, Public: true}, true
	})
}

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	tags := []string{"system"}
	r.Handle(httpapi.Route{Method: "GET", Path: "/metrics", Perm: PermMetrics, Tags: tags,
		Summary: "Prometheus metrics of this node (permission system.metrics)",
		Description: "Text exposition format 0.0.4. A scraper uses an API token limited to system.metrics: " +
			"yiwang token create --user USER --name prometheus --scope system.metrics (USER an administrator or integrator).",
		ResponseContentType: "text/plain; version=0.0.4", Handler: m.metrics})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/admin/ops", Perm: httpapi.PermSystemAdmin, Tags: tags,
		Summary:  "Operations overview of this node: disk, database, raft, broker, search index, health, warnings, backups",
		Response: Overview{}, Handler: m.overview})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/admin/backups", Perm: httpapi.PermSystemAdmin, Tags: tags,
		Summary: "Backup history of the cluster, newest first", List: backupList, Response: httpapi.Page[BackupRecord]{},
		Handler: m.listBackups})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/admin/backups", Perm: httpapi.PermSystemAdmin, Tags: tags,
		Summary: "Take a verified backup now into this node's backup_dir (retention applies)", Status: http.StatusCreated,
		Response: BackupRecord{}, NoTimeout: true, Handler: m.runBackupNow})
}

// Start implements httpapi.Starter: the disk check and the backup scheduler.
func (m *Module) Start(ctx context.Context) error {
	if m.opts.Backup.At != "" {
		if _, err := parseAt(m.opts.Backup.At); err != nil {
			return err
		}
	}
	m.stop, m.done = make(chan struct{}), make(chan struct{})
	if m.opts.Backup.Enabled() {
		m.opts.Logf("ops: scheduled backups to %s (%s, keep %d) on the leader", m.opts.Backup.Dir, m.opts.Backup.describe(), m.opts.Backup.Keep)
	}
	go m.loop(ctx)
	return nil
}

// Stop implements httpapi.Stopper.
func (m *Module) Stop() error {
	if m.stop != nil {
		close(m.stop)
		<-m.done
		m.stop = nil
	}
	return nil
}

func (m *Module) loop(ctx context.Context) {
	defer close(m.done)
	t := time.NewTicker(m.opts.CheckEvery)
	defer t.Stop()
	for {
		m.Tick(ctx)
		select {
		case <-ctx.Done():
			return
		case <-m.stop:
			return
		case <-t.C:
		}
	}
}

// Tick runs one round of the disk check and the backup scheduler (the loop
// calls it every CheckEvery; tests call it directly).
func (m *Module) Tick(ctx context.Context) {
	m.checkDisks()
	if m.opts.Backup.Enabled() && m.st.IsLeader() {
		if due, _ := m.backupDue(ctx); due {
			if _, err := m.RunBackup(ctx, "schedule"); err != nil {
				m.opts.Logf("ops: ERROR: scheduled backup failed: %v", err)
			}
		}
	}
}

func (m *Module) metrics(w http.ResponseWriter, r *http.Request) error {
	ov := m.Collect(r.Context())
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(ov.Prometheus())
	return err
}

func (m *Module) overview(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, http.StatusOK, m.Collect(r.Context()))
}

func (c BackupConfig) describe() string {
	if c.At != "" {
		return "daily at " + c.At
	}
	return fmt.Sprintf("every %s", c.Every)
}
