package pluginhost

import (
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/yiwang/yiwang/plugins"
	"github.com/yiwang/yiwang/store"
)

// Commands of the module.
const (
	CmdInstall  = "plugin.install"
	CmdEnable   = "plugin.enable"
	CmdDisable  = "plugin.disable"
	CmdRemove   = "plugin.remove"
	CmdKVSet    = "plugin.kv_set"
	CmdKVDelete = "plugin.kv_delete"
	CmdHTTPCall = "plugin.http_call"
)

var migrations = []store.Migration{
	`CREATE TABLE plugins_plugin(
		name TEXT PRIMARY KEY,
		version TEXT NOT NULL,
		digest TEXT NOT NULL,
		package BLOB NOT NULL,
		approval TEXT NOT NULL,
		enabled INTEGER NOT NULL,
		disabled_reason TEXT NOT NULL DEFAULT '',
		auto_disabled INTEGER NOT NULL DEFAULT 0,
		installed_at TEXT NOT NULL,
		installed_by TEXT NOT NULL,
		updated_at TEXT NOT NULL,
		updated_index INTEGER NOT NULL)`,
	`CREATE TABLE plugins_kv(
		plugin TEXT NOT NULL,
		key TEXT NOT NULL,
		value BLOB NOT NULL,
		PRIMARY KEY(plugin, key)) WITHOUT ROWID`,
}

// InstallPayload is plugin.install: the package and the admin's approval.
type InstallPayload struct {
	Package  []byte           `json:"package"`
	Approval plugins.Approval `json:"approval"`
}

// NamePayload is plugin.enable and plugin.remove.
type NamePayload struct {
	Name string `json:"name"`
	// Purge (remove) also deletes the plugin's key-value data.
	Purge bool `json:"purge,omitempty"`
}

// DisablePayload is plugin.disable.
type DisablePayload struct {
	Name   string `json:"name"`
	Reason string `json:"reason,omitempty"`
	// Auto: disabled by the host after repeated failures.
	Auto bool `json:"auto,omitempty"`
}

// KVPayload is plugin.kv_set and plugin.kv_delete.
type KVPayload struct {
	Plugin string `json:"plugin"`
	Key    string `json:"key"`
	Value  []byte `json:"value,omitempty"`
}

// InstallResult is what plugin.install returns.
type InstallResult struct {
	Name         string `json:"name"`
	Version      string `json:"version"`
	Digest       string `json:"digest"`
	UpgradedFrom string `json:"upgraded_from,omitempty"`
}

func (m *Module) registerCommands(st *store.Store) {
	st.AddMigrations("plugins", append(slices.Clone(migrations), keyMigrations...)...)
	m.registerKeyCommands(st)
	st.Register(CmdInstall, 1, m.applyInstall, store.NoLogPayload())
	st.Register(CmdEnable, 1, m.applyEnable)
	st.Register(CmdDisable, 1, m.applyDisable)
	st.Register(CmdRemove, 1, m.applyRemove)
	st.Register(CmdKVSet, 1, m.applyKVSet)
	st.Register(CmdKVDelete, 1, m.applyKVDelete)
	st.Register(CmdHTTPCall, 1, m.applyHTTPCall)
}

func decode(cmd *store.Command, v any) error {
	if err := json.Unmarshal(cmd.Payload, v); err != nil {
		return store.Errorf("invalid", "payload: %v", err)
	}
	return nil
}

func now(tx *store.Tx) string { return tx.Now().UTC().Format("2006-01-02T15:04:05.000Z") }

// applyInstall stores a package (install or upgrade). It only parses the
// package (deterministic); signature, permissions and compilation were
// checked by the node that accepted the request.
func (m *Module) applyInstall(tx *store.Tx, cmd *store.Command) (any, error) {
	var p InstallPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	pk, err := plugins.ReadPackage(p.Package)
	if err != nil {
		return nil, store.Errorf("invalid", "%v", err)
	}
	man := pk.Manifest
	ap, _ := json.Marshal(p.Approval)
	res := InstallResult{Name: man.Name, Version: man.Version, Digest: pk.Digest}
	var old string
	err = tx.QueryRow(`SELECT version FROM plugins_plugin WHERE name = ?`, man.Name).Scan(&old)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.Exec(`INSERT INTO plugins_plugin(name, version, digest, package, approval, enabled, installed_at, installed_by, updated_at, updated_index)
			VALUES(?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`, man.Name, man.Version, pk.Digest, p.Package, string(ap), now(tx), tx.Actor(), now(tx), tx.Index)
	case err != nil:
	case old == man.Version:
		return nil, store.Errorf("conflict", "plugin %s version %s is already installed (bump the version to upgrade)", man.Name, man.Version)
	default:
		res.UpgradedFrom = old
		_, err = tx.Exec(`UPDATE plugins_plugin SET version = ?, digest = ?, package = ?, approval = ?, enabled = 1, disabled_reason = '',
			auto_disabled = 0, installed_at = ?, installed_by = ?, updated_at = ?, updated_index = ? WHERE name = ?`,
			man.Version, pk.Digest, p.Package, string(ap), now(tx), tx.Actor(), now(tx), tx.Index, man.Name)
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

func setState(tx *store.Tx, name string, enabled bool, reason string, auto bool) error {
	r, err := tx.Exec(`UPDATE plugins_plugin SET enabled = ?, disabled_reason = ?, auto_disabled = ?, updated_at = ?, updated_index = ? WHERE name = ?`,
		enabled, reason, auto, now(tx), tx.Index, name)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return store.Errorf("not_found", "plugin %s is not installed", name)
	}
	return nil
}

func (m *Module) applyEnable(tx *store.Tx, cmd *store.Command) (any, error) {
	var p NamePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	return p, setState(tx, p.Name, true, "", false)
}

func (m *Module) applyDisable(tx *store.Tx, cmd *store.Command) (any, error) {
	var p DisablePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if p.Reason == "" {
		p.Reason = "disabled by " + tx.Actor()
	}
	if p.Auto {
		// A node's failure report racing an admin's enable or an upgrade:
		// only disable what is still enabled.
		var enabled bool
		if err := tx.QueryRow(`SELECT enabled FROM plugins_plugin WHERE name = ?`, p.Name).Scan(&enabled); err != nil || !enabled {
			return p, nil
		}
	}
	return p, setState(tx, p.Name, false, truncate(p.Reason, 1000), p.Auto)
}

func (m *Module) applyRemove(tx *store.Tx, cmd *store.Command) (any, error) {
	var p NamePayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	r, err := tx.Exec(`DELETE FROM plugins_plugin WHERE name = ?`, p.Name)
	if err != nil {
		return nil, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil, store.Errorf("not_found", "plugin %s is not installed", p.Name)
	}
	if p.Purge {
		if _, err := tx.Exec(`DELETE FROM plugins_kv WHERE plugin = ?`, p.Name); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func checkKV(tx *store.Tx, p KVPayload) error {
	if p.Key == "" || len(p.Key) > plugins.MaxKeyLen {
		return store.Errorf("invalid", "key must be 1 to %d bytes", plugins.MaxKeyLen)
	}
	if len(p.Value) > plugins.MaxValueLen {
		return store.Errorf("invalid", "value longer than %d bytes", plugins.MaxValueLen)
	}
	var one int
	if err := tx.QueryRow(`SELECT 1 FROM plugins_plugin WHERE name = ?`, p.Plugin).Scan(&one); err != nil {
		return store.Errorf("not_found", "plugin %s is not installed", p.Plugin)
	}
	return nil
}

func (m *Module) applyKVSet(tx *store.Tx, cmd *store.Command) (any, error) {
	var p KVPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if err := checkKV(tx, p); err != nil {
		return nil, err
	}
	if p.Value == nil {
		p.Value = []byte{}
	}
	_, err := tx.Exec(`INSERT INTO plugins_kv(plugin, key, value) VALUES(?, ?, ?)
		ON CONFLICT(plugin, key) DO UPDATE SET value = excluded.value`, p.Plugin, p.Key, p.Value)
	return nil, err
}

func (m *Module) applyKVDelete(tx *store.Tx, cmd *store.Command) (any, error) {
	var p KVPayload
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if err := checkKV(tx, p); err != nil {
		return nil, err
	}
	_, err := tx.Exec(`DELETE FROM plugins_kv WHERE plugin = ? AND key = ?`, p.Plugin, p.Key)
	return nil, err
}

// applyHTTPCall records an outbound HTTP call of a plugin. The command log
// (the audit trail) is the record; there is no table.
func (m *Module) applyHTTPCall(tx *store.Tx, cmd *store.Command) (any, error) {
	var p plugins.HTTPAudit
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	if p.Plugin == "" || !strings.HasPrefix(tx.Actor(), "plugin:") {
		return nil, store.Errorf("forbidden", "plugin.http_call is recorded by the plugin host only")
	}
	return nil, nil
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}
