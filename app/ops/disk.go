package ops

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
)

// Live event types of warnings (transient: not commands).
const (
	EventWarning        = "ops.warning"
	EventWarningCleared = "ops.warning_cleared"
)

// relogEvery is how often a lasting warning is logged again.
const relogEvery = time.Hour

// checkDisks compares the data and backup disks with the thresholds.
func (m *Module) checkDisks() {
	m.checkDisk("disk", "data directory", m.opts.DataDir)
	if d := m.opts.Backup.Dir; d != "" {
		if err := ensureDir(d); err != nil {
			m.setWarning(Warning{Kind: "backup_disk", Message: err.Error(), Short: err.Error()})
			return
		}
		m.checkDisk("backup_disk", "backup directory", d)
	}
}

func (m *Module) checkDisk(kind, what, path string) {
	du := diskUsage(path)
	if du.Error != "" {
		if kind == "backup_disk" {
			m.setWarning(Warning{Kind: kind, Message: fmt.Sprintf("%s %s is not usable: %s", what, path, du.Error), Short: path + ": " + du.Error, Disk: &du})
		}
		return
	}
	var problem string
	switch {
	case du.UsedPercent >= m.opts.DiskWarnPercent:
		problem = fmt.Sprintf("the disk of the %s %s is %.1f%% full (%s free of %s; warning at %.0f%%)",
			what, path, du.UsedPercent, HumanBytes(du.FreeBytes), HumanBytes(du.TotalBytes), m.opts.DiskWarnPercent)
	case m.opts.DiskWarnFree > 0 && du.FreeBytes < uint64(m.opts.DiskWarnFree):
		problem = fmt.Sprintf("the disk of the %s %s has only %s free (warning below %s)",
			what, path, HumanBytes(du.FreeBytes), HumanBytes(uint64(m.opts.DiskWarnFree)))
	}
	if problem == "" {
		m.clearWarning(kind)
		return
	}
	m.setWarning(Warning{Kind: kind, Message: problem, Disk: &du,
		Short: fmt.Sprintf("%s %.1f%% (%s free)", path, du.UsedPercent, HumanBytes(du.FreeBytes))})
}

// setWarning raises (or keeps) a warning: logged when it starts and hourly
// while it lasts, published to administrators' consoles when it starts.
func (m *Module) setWarning(w Warning) {
	now := m.opts.Now()
	m.mu.Lock()
	prev, had := m.warnings[w.Kind]
	w.Since = now.UTC()
	if had {
		w.Since = prev.Since
	}
	m.warnings[w.Kind] = w
	relog := !had || now.Sub(m.lastLog[w.Kind]) >= relogEvery
	if relog {
		m.lastLog[w.Kind] = now
	}
	m.mu.Unlock()
	if relog {
		m.opts.Logf("ops: WARNING: %s", w.Message)
	}
	if !had {
		m.publish(EventWarning, w)
	}
}

func (m *Module) clearWarning(kind string) {
	m.mu.Lock()
	w, had := m.warnings[kind]
	delete(m.warnings, kind)
	delete(m.lastLog, kind)
	m.mu.Unlock()
	if had {
		m.opts.Logf("ops: resolved: %s warning (%s)", kind, w.Message)
		m.publish(EventWarningCleared, w)
	}
}

func (m *Module) publish(typ string, w Warning) {
	if m.opts.Hub == nil {
		return
	}
	data, _ := json.Marshal(struct {
		ID    string `json:"id"`
		Title string `json:"title"`
		Warning
	}{ID: w.Kind + ":" + w.Since.Format(time.RFC3339), Title: w.Short, Warning: w})
	m.opts.Hub.Publish(live.Message{Type: typ, Data: data}, live.Audience{Perm: httpapi.PermSystemAdmin, Public: true})
}

func (m *Module) currentWarnings() []Warning {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Warning, 0, len(m.warnings))
	for _, w := range m.warnings {
		out = append(out, w)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// HumanBytes formats a size with binary units (e.g. "1.5 GiB").
func HumanBytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
