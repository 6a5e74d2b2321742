package pluginhost

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/plugins"
	"github.com/yiwang/yiwang/store"
)

// Trusted signing keys are replicated like the plugins: plugin.key_add and
// plugin.key_remove change plugins_key, and the host reads the table at
// every package check, so every node trusts the same keys. A plugin signed
// by a trusted key installs without the unsigned override.

// Commands for trusted keys.
const (
	CmdKeyAdd    = "plugin.key_add"
	CmdKeyRemove = "plugin.key_remove"
)

var keyMigrations = []store.Migration{
	`CREATE TABLE plugins_key(
		key_id TEXT PRIMARY KEY,
		key TEXT NOT NULL,
		comment TEXT NOT NULL DEFAULT '',
		added_at TEXT NOT NULL,
		added_by TEXT NOT NULL)`,
}

// KeyInput is POST /api/v1/plugin-keys and plugin.key_add.
type KeyInput struct {
	Key     string `json:"key" doc:"base64 ed25519 public key (32 bytes)"`
	Comment string `json:"comment,omitempty" doc:"whose key, e.g. the integrator's name"`
}

// Validate implements httpapi.Validatable.
func (in *KeyInput) Validate() error {
	var v httpapi.Validator
	in.Key = strings.TrimSpace(in.Key)
	_, err := parseKey(in.Key)
	v.Check(err == nil, "key", "must be a base64 ed25519 public key (32 bytes)")
	v.Text("comment", in.Comment, 0, 200)
	return v.Err()
}

// Key is a trusted signing key.
type Key struct {
	KeyID   string `json:"key_id"`
	Key     string `json:"key"`
	Comment string `json:"comment,omitempty"`
	AddedAt string `json:"added_at"`
	AddedBy string `json:"added_by"`
}

func parseKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err == nil && len(b) != ed25519.PublicKeySize {
		err = store.Errorf("invalid", "key is %d bytes, want %d", len(b), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(b), err
}

func (m *Module) registerKeyCommands(st *store.Store) {
	st.Register(CmdKeyAdd, 1, m.applyKeyAdd)
	st.Register(CmdKeyRemove, 1, m.applyKeyRemove)
}

func (m *Module) applyKeyAdd(tx *store.Tx, cmd *store.Command) (any, error) {
	var in KeyInput
	if err := decode(cmd, &in); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	k, _ := parseKey(in.Key)
	out := Key{KeyID: plugins.KeyID(k), Key: in.Key, Comment: in.Comment, AddedAt: now(tx), AddedBy: tx.Actor()}
	_, err := tx.Exec(`INSERT INTO plugins_key(key_id, key, comment, added_at, added_by) VALUES(?, ?, ?, ?, ?)
		ON CONFLICT(key_id) DO UPDATE SET comment = excluded.comment`, out.KeyID, out.Key, out.Comment, out.AddedAt, out.AddedBy)
	return out, err
}

func (m *Module) applyKeyRemove(tx *store.Tx, cmd *store.Command) (any, error) {
	var p struct {
		KeyID string `json:"key_id"`
	}
	if err := decode(cmd, &p); err != nil {
		return nil, err
	}
	r, err := tx.Exec(`DELETE FROM plugins_key WHERE key_id = ?`, p.KeyID)
	if err != nil {
		return nil, err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return nil, store.Errorf("not_found", "no trusted key %s", p.KeyID)
	}
	return p, nil
}

func (m *Module) keys(ctx context.Context) ([]Key, error) {
	rs, err := m.st.DB().QueryContext(ctx, `SELECT key_id, key, comment, added_at, added_by FROM plugins_key ORDER BY added_at, key_id`)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	out := []Key{}
	for rs.Next() {
		var k Key
		if err := rs.Scan(&k.KeyID, &k.Key, &k.Comment, &k.AddedAt, &k.AddedBy); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rs.Err()
}

// trustedKeys is the host's TrustedKeysFunc.
func (m *Module) trustedKeys() []ed25519.PublicKey {
	ks, err := m.keys(context.Background())
	if err != nil {
		m.logf("plugins: read trusted keys: %v", err)
		return nil
	}
	out := make([]ed25519.PublicKey, 0, len(ks))
	for _, k := range ks {
		if pk, err := parseKey(k.Key); err == nil {
			out = append(out, pk)
		}
	}
	return out
}

func (m *Module) keyRoutes(r *httpapi.Router) {
	tags := []string{"plugins"}
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/plugin-keys", Summary: "Signing keys whose plugins install without the unsigned override", Tags: tags,
		Perm: PermPluginAdmin, Response: httpapi.Page[Key]{}, Handler: m.listKeys})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/plugin-keys", Summary: "Trust a signing key (replicated)", Tags: tags,
		Perm: PermPluginAdmin, Request: KeyInput{}, Response: Key{}, Status: http.StatusCreated, Handler: m.addKey})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/plugin-keys/{id}", Summary: "Stop trusting a signing key (installed plugins stay until their next load)", Tags: tags,
		Perm: PermPluginAdmin, Status: http.StatusNoContent, Handler: m.removeKey})
}

func (m *Module) listKeys(w http.ResponseWriter, r *http.Request) error {
	ks, err := m.keys(r.Context())
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[Key]{Items: ks, Total: len(ks)})
}

func (m *Module) addKey(w http.ResponseWriter, r *http.Request) error {
	var in KeyInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	res, err := httpapi.Apply(r, m.st, CmdKeyAdd, 1, in)
	if err != nil {
		return err
	}
	var k Key
	if err := res.Decode(&k); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusCreated, k)
}

func (m *Module) removeKey(w http.ResponseWriter, r *http.Request) error {
	if _, err := httpapi.Apply(r, m.st, CmdKeyRemove, 1, map[string]string{"key_id": r.PathValue("id")}); err != nil {
		return err
	}
	return httpapi.NoContent(w)
}
