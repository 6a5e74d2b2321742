package pluginhost

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strconv"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/plugins"
	"github.com/yiwang/yiwang/store"
)

// InstallInput is POST /api/v1/plugins and POST /api/v1/plugins/inspect.
type InstallInput struct {
	// Package is the .ywp file (base64 in JSON).
	Package []byte `json:"package"`
	// Approval is the admin's decision; on inspect it may be omitted.
	Approval *plugins.Approval `json:"approval,omitempty"`
}

// Validate implements httpapi.Validatable.
func (in *InstallInput) Validate() error {
	var v httpapi.Validator
	v.Check(len(in.Package) > 0, "package", "is required")
	return v.Err()
}

// Inspection is what POST /api/v1/plugins/inspect answers: the manifest
// to show for approval and whether the package would install as approved.
type Inspection struct {
	Manifest    *plugins.Manifest `json:"manifest"`
	Digest      string            `json:"digest"`
	Signed      bool              `json:"signed"`
	SignerKeyID string            `json:"signer_key_id,omitempty"`
	Installed   string            `json:"installed_version,omitempty"`
	// Problem is why the package would be refused with the approval given
	// (or with everything approved and the unsigned override when none).
	Problem string `json:"problem,omitempty"`
}

// Plugin is one installed plugin: the replicated state and this node's
// view (metrics, load error).
type Plugin struct {
	plugins.Info
	InstalledAt  string `json:"installed_at"`
	InstalledBy  string `json:"installed_by"`
	AutoDisabled bool   `json:"auto_disabled,omitempty"`
	// Loaded is false when this node could not load the package.
	Loaded bool `json:"loaded"`
}

const maxPackage = 64 << 20

// Routes implements httpapi.Module.
func (m *Module) Routes(r *httpapi.Router) {
	perm := PermPluginAdmin
	tags := []string{"plugins"}
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/plugins", Summary: "Installed plugins with this node's call metrics", Tags: tags,
		Perm: perm, Response: httpapi.Page[Plugin]{}, Handler: m.list})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/plugins/inspect", Summary: "Read a plugin package: manifest, permissions and hosts to approve, signer, problems", Tags: tags,
		Perm: perm, Request: InstallInput{}, Response: Inspection{}, MaxBody: maxPackage, Handler: m.inspect})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/plugins", Summary: "Install or upgrade a plugin with the admin's approval (replicated to every node)", Tags: tags,
		Perm: perm, Request: InstallInput{}, Response: Plugin{}, Status: http.StatusCreated, MaxBody: maxPackage, Handler: m.install})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/plugins/{name}", Summary: "One plugin", Tags: tags,
		Perm: perm, Response: Plugin{}, Handler: m.get})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/plugins/{name}/enable", Summary: "Enable a plugin (clears its failure streak)", Tags: tags,
		Perm: perm, Response: Plugin{}, Handler: m.enable})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/plugins/{name}/disable", Summary: "Disable a plugin on every node", Tags: tags,
		Perm: perm, Response: Plugin{}, Handler: m.disable})
	r.Handle(httpapi.Route{Method: "DELETE", Path: "/api/v1/plugins/{name}", Summary: "Remove a plugin (its key-value data is kept unless purge=true)", Tags: tags,
		Perm: perm, Status: http.StatusNoContent, Query: []httpapi.Param{{Name: "purge", Type: "boolean", Description: "also delete the plugin's key-value data"}}, Handler: m.remove})
	r.Handle(httpapi.Route{Method: "GET", Path: "/api/v1/plugins/{name}/logs", Summary: "This node's recent log lines of a plugin", Tags: tags,
		Perm: perm, Response: httpapi.Page[plugins.LogLine]{}, Query: []httpapi.Param{{Name: "n", Type: "integer", Description: "lines (default 200)"}}, Handler: m.logs})
	r.Handle(httpapi.Route{Method: "POST", Path: "/api/v1/plugins/{name}/jobs/{job}/run", Summary: "Run a plugin's cron job now", Tags: tags,
		Perm: perm, Response: plugins.Outcome{}, Handler: m.runJob})
	m.keyRoutes(r)
}

func (m *Module) view(ctx context.Context, r *row) Plugin {
	p := Plugin{InstalledAt: r.InstalledAt, InstalledBy: r.InstalledBy, AutoDisabled: r.AutoDisabled}
	if h := m.hostPtr.Load(); h != nil {
		if info, err := h.Get(r.Name); err == nil && info.Digest == r.Digest {
			p.Info, p.Loaded = info, true
		}
	}
	if !p.Loaded {
		p.Info = plugins.Info{Name: r.Name, Version: r.Version, Digest: r.Digest, Permissions: r.Approval.Permissions, Hosts: r.Approval.Hosts}
		if pk, err := plugins.ReadPackage(r.Package); err == nil {
			man := pk.Manifest
			p.Description, p.Author, p.Permissions, p.Events, p.DeviceTypes, p.Topics, p.Cron = man.Description, man.Author, man.Permissions, man.Events, man.DeviceTypes, man.Topics, man.Cron
			p.Signed = pk.Signature != nil
		}
	}
	// The replicated state wins over this node's copy.
	p.Enabled = r.Enabled
	if !r.Enabled {
		p.DisabledReason = r.DisabledReason
	} else {
		p.DisabledReason = ""
	}
	return p
}

func (m *Module) list(w http.ResponseWriter, r *http.Request) error {
	rs, err := m.rows(r.Context())
	if err != nil {
		return err
	}
	out := httpapi.Page[Plugin]{Items: []Plugin{}, Total: len(rs)}
	for _, row := range rs {
		out.Items = append(out.Items, m.view(r.Context(), row))
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) byName(r *http.Request) (*row, error) {
	name := r.PathValue("name")
	row, err := m.getRow(r.Context(), name)
	if err != nil {
		return nil, err
	}
	if row == nil {
		return nil, store.Errorf("not_found", "plugin %s is not installed", name)
	}
	return row, nil
}

func (m *Module) get(w http.ResponseWriter, r *http.Request) error {
	row, err := m.byName(r)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, m.view(r.Context(), row))
}

// onHost is the installed plugin a request names and this node's host.
func (m *Module) onHost(r *http.Request) (*row, *plugins.Host, error) {
	row, err := m.byName(r)
	if err != nil {
		return nil, nil, err
	}
	h, err := m.hostOrErr()
	return row, h, err
}

func (m *Module) hostOrErr() (*plugins.Host, error) {
	h := m.hostPtr.Load()
	if h == nil {
		return nil, store.Errorf("unavailable", "the plugin host is not running")
	}
	return h, nil
}

func (m *Module) inspect(w http.ResponseWriter, r *http.Request) error {
	var in InstallInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	h, err := m.hostOrErr()
	if err != nil {
		return err
	}
	pk, err := plugins.ReadPackage(in.Package)
	if err != nil {
		return store.Errorf("invalid", "%v", err)
	}
	out := Inspection{Manifest: pk.Manifest, Digest: pk.Digest, Signed: pk.Signature != nil}
	if pk.Signature != nil {
		if k, err := base64.StdEncoding.DecodeString(pk.Signature.Key); err == nil && len(k) == ed25519.PublicKeySize {
			out.SignerKeyID = plugins.KeyID(k)
		}
	}
	if row, _ := m.getRow(r.Context(), pk.Manifest.Name); row != nil {
		out.Installed = row.Version
	}
	ap := plugins.ApproveAll(pk.Manifest, true)
	if in.Approval != nil {
		ap = *in.Approval
	}
	if _, err := h.Validate(r.Context(), in.Package, ap); err != nil {
		out.Problem = err.Error()
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (m *Module) install(w http.ResponseWriter, r *http.Request) error {
	var in InstallInput
	if err := httpapi.Decode(r, &in); err != nil {
		return err
	}
	if in.Approval == nil {
		return &store.Error{Code: "invalid", Message: "approval: the admin's approval (permissions, hosts) is required", Fields: map[string]string{"approval": "is required"}}
	}
	h, err := m.hostOrErr()
	if err != nil {
		return err
	}
	ap := *in.Approval
	ap.ApprovedBy = httpapi.MustPrincipal(r).Actor()
	man, err := h.Validate(r.Context(), in.Package, ap)
	if err != nil {
		return store.Errorf("invalid", "%v", err)
	}
	if row, _ := m.getRow(r.Context(), man.Name); row != nil && row.Version == man.Version {
		return store.Errorf("conflict", "plugin %s version %s is already installed (bump the version to upgrade)", man.Name, man.Version)
	}
	res, err := httpapi.Apply(r, m.st, CmdInstall, 1, InstallPayload{Package: in.Package, Approval: ap})
	if err != nil {
		return err
	}
	var ir InstallResult
	if err := res.Decode(&ir); err != nil {
		return err
	}
	// The subscription loads it; wait for that so the answer shows the
	// plugin running (or why it is not).
	row, err := m.getRow(r.Context(), ir.Name)
	if err != nil || row == nil {
		return store.Errorf("conflict", "plugin %s was removed meanwhile", ir.Name)
	}
	m.reconcile(context.WithoutCancel(r.Context()), ir.Name)
	return httpapi.JSON(w, http.StatusCreated, m.view(r.Context(), row))
}

func (m *Module) setEnabled(w http.ResponseWriter, r *http.Request, on bool) error {
	row, err := m.byName(r)
	if err != nil {
		return err
	}
	if on {
		_, err = httpapi.Apply(r, m.st, CmdEnable, 1, NamePayload{Name: row.Name})
	} else {
		_, err = httpapi.Apply(r, m.st, CmdDisable, 1, DisablePayload{Name: row.Name, Reason: "disabled by " + httpapi.MustPrincipal(r).Actor()})
	}
	if err != nil {
		return err
	}
	m.reconcile(context.WithoutCancel(r.Context()), row.Name)
	return m.get(w, r)
}

func (m *Module) enable(w http.ResponseWriter, r *http.Request) error {
	return m.setEnabled(w, r, true)
}
func (m *Module) disable(w http.ResponseWriter, r *http.Request) error {
	return m.setEnabled(w, r, false)
}

func (m *Module) remove(w http.ResponseWriter, r *http.Request) error {
	row, err := m.byName(r)
	if err != nil {
		return err
	}
	purge, _ := strconv.ParseBool(r.URL.Query().Get("purge"))
	if _, err := httpapi.Apply(r, m.st, CmdRemove, 1, NamePayload{Name: row.Name, Purge: purge}); err != nil {
		return err
	}
	m.reconcile(context.WithoutCancel(r.Context()), row.Name)
	return httpapi.NoContent(w)
}

func (m *Module) logs(w http.ResponseWriter, r *http.Request) error {
	row, h, err := m.onHost(r)
	if err != nil {
		return err
	}
	n := 200
	if s := r.URL.Query().Get("n"); s != "" {
		if n, err = strconv.Atoi(s); err != nil || n < 0 {
			return &store.Error{Code: "invalid", Message: "n: must be a non-negative integer", Fields: map[string]string{"n": "must be a non-negative integer"}}
		}
	}
	lines, err := h.Logs(row.Name, n)
	if errors.Is(err, plugins.ErrNotFound) {
		lines, err = nil, nil
	}
	if err != nil {
		return err
	}
	if lines == nil {
		lines = []plugins.LogLine{}
	}
	return httpapi.JSON(w, http.StatusOK, httpapi.Page[plugins.LogLine]{Items: lines, Total: len(lines)})
}

func (m *Module) runJob(w http.ResponseWriter, r *http.Request) error {
	row, h, err := m.onHost(r)
	if err != nil {
		return err
	}
	job := r.PathValue("job")
	info, err := h.Get(row.Name)
	if err != nil {
		return store.Errorf("unavailable", "plugin %s is not loaded on this node", row.Name)
	}
	if !slices.ContainsFunc(info.Cron, func(c plugins.CronEntry) bool { return c.Name == job }) {
		return store.Errorf("not_found", "plugin %s has no job %q", row.Name, job)
	}
	o := h.RunJob(r.Context(), row.Name, job)
	if o.Err != nil {
		return store.Errorf("conflict", "%v", o.Err)
	}
	return httpapi.JSON(w, http.StatusOK, o)
}
