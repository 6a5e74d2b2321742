package ops

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/yiwang/yiwang/store"
)

// Overview is GET /api/v1/admin/ops: this node's figures at one moment.
type Overview struct {
	Time    time.Time    `json:"time"`
	Version string       `json:"version"`
	Raft    store.Status `json:"raft"`
	// Disk is the file system holding the data directory.
	Disk DiskUsage `json:"disk"`
	// BackupDisk is the file system of backup_dir (when configured).
	BackupDisk       *DiskUsage    `json:"backup_disk,omitempty"`
	DataDirBytes     int64         `json:"data_dir_bytes"`
	DatabaseBytes    int64         `json:"database_bytes"` // yiwang.db with its WAL
	RaftBytes        int64         `json:"raft_bytes"`     // raft log and snapshots
	SearchIndexBytes int64         `json:"search_index_bytes"`
	Broker           *BrokerStatus `json:"broker,omitempty"`
	LiveConnections  int           `json:"live_connections"`
	Process          Process       `json:"process"`
	Checks           []Check       `json:"checks"`
	Warnings         []Warning     `json:"warnings"`
	Backup           BackupState   `json:"backup"`
}

// DiskUsage is a file system's space.
type DiskUsage struct {
	Path        string  `json:"path"`
	TotalBytes  uint64  `json:"total_bytes"`
	FreeBytes   uint64  `json:"free_bytes"` // available to this process
	UsedBytes   uint64  `json:"used_bytes"`
	UsedPercent float64 `json:"used_percent"`
	Error       string  `json:"error,omitempty"`
}

// Process is this process's resource use.
type Process struct {
	RSSBytes      uint64  `json:"rss_bytes"`
	HeapBytes     uint64  `json:"heap_bytes"`
	Goroutines    int     `json:"goroutines"`
	UptimeSeconds float64 `json:"uptime_seconds"`
	GoVersion     string  `json:"go_version"`
}

// Check is one component's health.
type Check struct {
	Name    string `json:"name"`
	OK      bool   `json:"ok"`
	Problem string `json:"problem,omitempty"`
}

// Warning is a condition an administrator must act on.
type Warning struct {
	Kind    string `json:"kind"` // disk, backup_disk, backup
	Message string `json:"message"`
	// Short is a language-neutral summary (path and figures) for
	// notifications, e.g. "/var/lib/yiwang 93.1% (6.9 GiB free)".
	Short string `json:"short"`
	// Disk is the disk's state for the disk kinds (the console words it).
	Disk  *DiskUsage `json:"disk,omitempty"`
	Since time.Time  `json:"since"`
}

// Collect reads every figure now.
func (m *Module) Collect(ctx context.Context) Overview {
	ov := Overview{Time: m.opts.Now().UTC(), Version: m.opts.Version, Raft: m.st.Status()}
	dir := m.opts.DataDir
	ov.Disk = diskUsage(dir)
	if m.opts.Backup.Dir != "" {
		d := diskUsage(m.opts.Backup.Dir)
		ov.BackupDisk = &d
	}
	ov.DataDirBytes = dirSize(dir)
	for _, f := range []string{"yiwang.db", "yiwang.db-wal", "yiwang.db-shm"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err == nil {
			ov.DatabaseBytes += fi.Size()
		}
	}
	ov.RaftBytes = dirSize(filepath.Join(dir, "raft"))
	for _, d := range m.opts.SearchDirs {
		ov.SearchIndexBytes += dirSize(filepath.Join(dir, d))
	}
	if m.opts.Broker != nil {
		b := m.opts.Broker()
		ov.Broker = &b
	}
	if m.opts.Hub != nil {
		ov.LiveConnections = m.opts.Hub.Connections()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	ov.Process = Process{RSSBytes: processRSS(), HeapBytes: ms.HeapAlloc, Goroutines: runtime.NumGoroutine(),
		UptimeSeconds: time.Since(m.started).Seconds(), GoVersion: runtime.Version()}
	if ov.Process.RSSBytes == 0 {
		ov.Process.RSSBytes = ms.Sys
	}
	ov.Checks = m.checks(ov)
	ov.Warnings = m.currentWarnings()
	ov.Backup = m.backupState(ctx)
	return ov
}

func (m *Module) checks(ov Overview) []Check {
	out := []Check{{Name: "store", OK: ov.Raft.Halted == "" && ov.Raft.State != "shutdown", Problem: ov.Raft.Halted}}
	if ov.Broker != nil {
		out = append(out, Check{Name: "mqtt", OK: ov.Broker.Error == "", Problem: ov.Broker.Error})
	}
	if m.opts.Checks != nil {
		extra := m.opts.Checks()
		names := make([]string, 0, len(extra))
		for n := range extra {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			out = append(out, Check{Name: n, OK: extra[n] == "", Problem: extra[n]})
		}
	}
	return out
}

// dirSize is the total size of the regular files under dir (0 when absent).
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func diskUsage(path string) DiskUsage {
	du := DiskUsage{Path: path}
	total, free, err := statDisk(path)
	if err != nil {
		du.Error = err.Error()
		return du
	}
	du.TotalBytes, du.FreeBytes = total, free
	if total >= free {
		du.UsedBytes = total - free
	}
	if total > 0 {
		du.UsedPercent = math.Round(float64(du.UsedBytes)*10000/float64(total)) / 100
	}
	return du
}

// ---- Prometheus text format ----

type promWriter struct{ b bytes.Buffer }

func (p *promWriter) family(name, typ, help string) {
	fmt.Fprintf(&p.b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

// sample writes one line; labels alternate name, value.
func (p *promWriter) sample(name string, v float64, labels ...string) {
	p.b.WriteString(name)
	if len(labels) > 0 {
		p.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				p.b.WriteByte(',')
			}
			p.b.WriteString(labels[i])
			p.b.WriteString(`="`)
			p.b.WriteString(escapeLabel(labels[i+1]))
			p.b.WriteByte('"')
		}
		p.b.WriteByte('}')
	}
	p.b.WriteByte(' ')
	p.b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
	p.b.WriteByte('\n')
}

func (p *promWriter) one(name, typ, help string, v float64, labels ...string) {
	p.family(name, typ, help)
	p.sample(name, v, labels...)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Prometheus renders the overview in the text exposition format.
func (ov Overview) Prometheus() []byte {
	var p promWriter
	r := ov.Raft
	p.one("yiwang_build_info", "gauge", "Version of this node.", 1, "version", ov.Version, "node", r.NodeID, "go_version", ov.Process.GoVersion)
	p.family("yiwang_disk_total_bytes", "gauge", "Size of the file system holding the directory.")
	p.sample("yiwang_disk_total_bytes", float64(ov.Disk.TotalBytes), "dir", "data")
	if ov.BackupDisk != nil {
		p.sample("yiwang_disk_total_bytes", float64(ov.BackupDisk.TotalBytes), "dir", "backup")
	}
	p.family("yiwang_disk_free_bytes", "gauge", "Free space available to yiwang on the file system holding the directory.")
	p.sample("yiwang_disk_free_bytes", float64(ov.Disk.FreeBytes), "dir", "data")
	if ov.BackupDisk != nil {
		p.sample("yiwang_disk_free_bytes", float64(ov.BackupDisk.FreeBytes), "dir", "backup")
	}
	p.family("yiwang_disk_used_ratio", "gauge", "Used fraction of the file system holding the directory.")
	p.sample("yiwang_disk_used_ratio", ov.Disk.UsedPercent/100, "dir", "data")
	if ov.BackupDisk != nil {
		p.sample("yiwang_disk_used_ratio", ov.BackupDisk.UsedPercent/100, "dir", "backup")
	}
	p.one("yiwang_data_dir_bytes", "gauge", "Size of the data directory.", float64(ov.DataDirBytes))
	p.one("yiwang_database_bytes", "gauge", "Size of the SQLite database with its WAL.", float64(ov.DatabaseBytes))
	p.one("yiwang_raft_storage_bytes", "gauge", "Size of the raft log and snapshots.", float64(ov.RaftBytes))
	p.one("yiwang_search_index_bytes", "gauge", "Size of the search index directories.", float64(ov.SearchIndexBytes))

	p.family("yiwang_raft_state", "gauge", "Raft state of this node (1 for the current state).")
	for _, s := range []string{"leader", "follower", "candidate", "shutdown"} {
		p.sample("yiwang_raft_state", b2f(r.State == s), "state", s)
	}
	p.one("yiwang_raft_term", "gauge", "Current raft term.", float64(r.Term))
	p.one("yiwang_raft_applied_index", "gauge", "Store index applied to the database.", float64(r.AppliedIndex))
	p.one("yiwang_raft_commit_index", "gauge", "Store index committed by the cluster.", float64(r.CommitIndex))
	p.one("yiwang_raft_last_log_index", "gauge", "Last store index in the raft log.", float64(r.LastIndex))
	p.one("yiwang_raft_apply_lag", "gauge", "Committed entries not yet applied on this node.", float64(r.Lag))
	p.one("yiwang_raft_peers", "gauge", "Members of the raft configuration.", float64(len(r.Nodes)))
	p.one("yiwang_raft_has_leader", "gauge", "1 when the cluster has a known leader.", b2f(r.Leader != ""))
	p.one("yiwang_store_halted", "gauge", "1 when this node stopped applying (a command it cannot apply: upgrade it).", b2f(r.Halted != ""))

	if b := ov.Broker; b != nil {
		p.one("yiwang_mqtt_up", "gauge", "1 when the MQTT broker listens.", b2f(b.Running && b.Error == ""))
		p.one("yiwang_mqtt_connections", "gauge", "Connected MQTT clients.", float64(b.Connections))
		p.one("yiwang_mqtt_messages_received_total", "counter", "MQTT messages received.", float64(b.MessagesIn))
		p.one("yiwang_mqtt_messages_sent_total", "counter", "MQTT messages sent.", float64(b.MessagesOut))
		p.one("yiwang_mqtt_messages_received_per_second", "gauge", "Recent rate of MQTT messages received.", b.MessagesInPerS)
		p.one("yiwang_mqtt_messages_sent_per_second", "gauge", "Recent rate of MQTT messages sent.", b.MessagesOutPerS)
		p.one("yiwang_mqtt_readings_total", "counter", "Telemetry readings accepted.", float64(b.Readings))
		p.one("yiwang_mqtt_readings_dropped_total", "counter", "Telemetry readings given up on.", float64(b.Dropped))
		p.one("yiwang_mqtt_auth_failures_total", "counter", "Failed device authentications.", float64(b.AuthFailures))
		p.one("yiwang_mqtt_queue_length", "gauge", "Readings waiting to be written.", float64(b.QueueLen))
	}
	p.one("yiwang_live_connections", "gauge", "Open console event streams.", float64(ov.LiveConnections))

	p.family("yiwang_health_ok", "gauge", "1 when the component is healthy.")
	for _, c := range ov.Checks {
		p.sample("yiwang_health_ok", b2f(c.OK), "component", c.Name)
	}
	p.family("yiwang_warning", "gauge", "1 for each active operations warning.")
	for _, w := range ov.Warnings {
		p.sample("yiwang_warning", 1, "kind", w.Kind)
	}

	bk := ov.Backup
	p.one("yiwang_backup_enabled", "gauge", "1 when scheduled backups are configured on this node.", b2f(bk.Enabled))
	if bk.LastOK != nil {
		p.one("yiwang_backup_last_success_timestamp_seconds", "gauge", "Time of the newest verified backup.", float64(bk.LastOK.FinishedAt.Unix()))
		p.one("yiwang_backup_last_size_bytes", "gauge", "Size of the newest verified backup.", float64(bk.LastOK.Size))
	}
	p.one("yiwang_backup_last_failed", "gauge", "1 when the newest backup attempt failed.", b2f(bk.Last != nil && !bk.Last.OK))
	p.one("yiwang_backup_files", "gauge", "Backup files in this node's backup directory.", float64(len(bk.Files)))

	pr := ov.Process
	p.one("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", float64(pr.RSSBytes))
	p.one("go_memstats_heap_alloc_bytes", "gauge", "Bytes of allocated heap objects.", float64(pr.HeapBytes))
	p.one("go_goroutines", "gauge", "Number of goroutines.", float64(pr.Goroutines))
	p.one("yiwang_uptime_seconds", "gauge", "Seconds since this process started.", pr.UptimeSeconds)
	return p.b.Bytes()
}
