package app

import (
	"fmt"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/ops"
	"github.com/yiwang/yiwang/plugins"
)

// The operations module: /metrics, the console's operations page, disk
// warnings and scheduled backups (app/ops, docs/operations.md).
func init() {
	registerModule("ops", func(a *App) httpapi.Module {
		m := ops.New(ops.Options{
			DataDir:         a.cfg.Data,
			Version:         Version(),
			Hub:             a.hub,
			Broker:          a.brokerStatus,
			Checks:          a.healthChecks,
			Backup:          a.cfg.backupConfig(),
			DiskWarnPercent: float64(a.cfg.DiskWarnPercent),
			Logf:            a.logf,
		})
		m.Classify(a.hub)
		return m
	})
}

// defaultBackupAt is the daily backup time when backup_dir is set alone.
const defaultBackupAt = "02:30"

func (c Config) backupConfig() ops.BackupConfig {
	bc := ops.BackupConfig{Dir: c.BackupDir, At: c.BackupAt, Keep: c.BackupKeep}
	if c.BackupEvery != "" {
		bc.Every, _ = time.ParseDuration(c.BackupEvery) // validated
	}
	if bc.Dir != "" && bc.Every == 0 && bc.At == "" {
		bc.At = defaultBackupAt
	}
	return bc
}

func (c *Config) validateOps() error {
	if err := ops.ValidateBackupConfig(c.BackupDir, c.BackupEvery, c.BackupAt, c.BackupKeep); err != nil {
		return err
	}
	if c.BackupEvery != "" && c.BackupAt != "" {
		return fmt.Errorf("backup_every and backup_at: set one of them")
	}
	if c.DiskWarnPercent < 0 || c.DiskWarnPercent > 100 {
		return fmt.Errorf("disk_warn_percent: must be between 1 and 100 (0: default 90)")
	}
	return nil
}

func (a *App) brokerStatus() ops.BrokerStatus {
	if a.iot == nil {
		return ops.BrokerStatus{}
	}
	s := a.iot.BrokerStatus()
	return ops.BrokerStatus{
		Running: s.Running, Address: s.Address, Error: s.Error,
		Connections: s.Connections, MessagesIn: s.MessagesIn, MessagesOut: s.MessagesOut,
		MessagesInPerS: s.MessagesInRate, MessagesOutPerS: s.MessagesOutRate,
		Readings: s.Readings, Dropped: s.Dropped, AuthFailures: s.AuthFailures, QueueLen: s.QueueLen,
	}
}

// HealthReporter is implemented by modules that report the health of their
// parts (e.g. plugins: one entry per plugin), name → problem ("" healthy).
// It is matched by method set so modules need not import app/ops.
type HealthReporter interface {
	HealthChecks() map[string]string
}

// pluginHost is what the plugins module exposes (app/pluginhost).
type pluginHost interface{ Host() *plugins.Host }

func (a *App) healthChecks() map[string]string {
	out := map[string]string{}
	for _, m := range a.modules {
		// Plugins: one entry per installed plugin.
		if ph, ok := m.(pluginHost); ok {
			if h := ph.Host(); h != nil {
				for name, problem := range pluginHealth(h.List()) {
					out[name] = problem
				}
			}
		}
		if h, ok := m.(HealthReporter); ok {
			for k, v := range h.HealthChecks() {
				out[m.Name()+"."+k] = v
			}
		}
	}
	return out
}

// pluginHealth maps installed plugins to health entries: auto-disabled
// (after repeated failures) or failing now is a problem; disabled by an
// administrator is a choice, not a fault.
func pluginHealth(list []plugins.Info) map[string]string {
	out := make(map[string]string, len(list))
	for _, p := range list {
		var problem string
		switch {
		case !p.Enabled && p.DisabledReason != "" && p.DisabledReason != "disabled by admin":
			problem = "disabled: " + p.DisabledReason
		case p.Enabled && p.Metrics.ConsecutiveFailures > 0:
			problem = fmt.Sprintf("%d consecutive failures", p.Metrics.ConsecutiveFailures)
		}
		out["plugin."+p.Name] = problem
	}
	return out
}
