package pluginhost

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/live"
	"github.com/yiwang/yiwang/plugins"
	"github.com/yiwang/yiwang/plugins/abi"
	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

// These tests need no WebAssembly compilation (fast under -race): the
// replicated state, the KV store and the API's refusals. Running plugins
// end to end is tested in package app (plugins_e2e_test.go).

// A wasm module header: enough for ReadPackage, not for the host to load.
var fakeWasm = []byte("\x00asm\x01\x00\x00\x00")

func manifest(version string) string {
	return `{"name": "demo-decoder", "version": "` + version + `", "abi": 1, "permissions": ["decode", "kv"], "device_types": ["demo-v1"]}`
}

func pack(t *testing.T, man string) []byte {
	t.Helper()
	b, err := plugins.Pack([]byte(man), fakeWasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func newModule(t *testing.T) (*Module, *store.Store) {
	t.Helper()
	m, err := New(Options{Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.New(t, m.Register)
	return m, st
}

func apply(t *testing.T, st *store.Store, actor, typ string, payload any) (store.Result, error) {
	t.Helper()
	cmd, err := store.NewCommand(typ, 1, payload)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Actor = actor
	return st.Apply(context.Background(), cmd)
}

func code(err error) string {
	if e := store.AsError(err); e != nil {
		return e.Code
	}
	return ""
}

func TestInstallStateAndKV(t *testing.T) {
	m, st := newModule(t)
	ctx := context.Background()
	ap := plugins.Approval{Permissions: []string{"decode", "kv"}, AllowUnsigned: true}
	if _, err := apply(t, st, "user:1", CmdInstall, InstallPayload{Package: pack(t, manifest("1.0.0")), Approval: ap}); err != nil {
		t.Fatal(err)
	}
	if _, err := apply(t, st, "user:1", CmdInstall, InstallPayload{Package: pack(t, manifest("1.0.0")), Approval: ap}); code(err) != "conflict" {
		t.Fatalf("same version again: %v", err)
	}
	if _, err := apply(t, st, "user:1", CmdInstall, InstallPayload{Package: []byte("not a zip"), Approval: ap}); code(err) != "invalid" {
		t.Fatalf("garbage package: %v", err)
	}

	kv := kvStore{m}
	if err := kv.Set(ctx, "demo-decoder", "count/2026-12-05", []byte("41")); err != nil {
		t.Fatal(err)
	}
	kv.Set(ctx, "demo-decoder", "count/2026-12-06", []byte("7"))
	kv.Set(ctx, "demo-decoder", "other", []byte("x"))
	if err := kv.Set(ctx, "not-installed", "k", []byte("v")); code(err) != "not_found" {
		t.Fatalf("kv of an unknown plugin: %v", err)
	}
	if err := kv.Set(ctx, "demo-decoder", "", []byte("v")); code(err) != "invalid" {
		t.Fatalf("empty key: %v", err)
	}
	if v, ok, err := kv.Get(ctx, "demo-decoder", "count/2026-12-05"); err != nil || !ok || string(v) != "41" {
		t.Fatalf("get: %q %v %v", v, ok, err)
	}
	if keys, err := kv.List(ctx, "demo-decoder", "count/"); err != nil || strings.Join(keys, ",") != "count/2026-12-05,count/2026-12-06" {
		t.Fatalf("list: %v %v", keys, err)
	}
	if err := kv.Delete(ctx, "demo-decoder", "other"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := kv.Get(ctx, "demo-decoder", "other"); ok {
		t.Fatal("deleted key still there")
	}

	// Upgrade keeps the data.
	res, err := apply(t, st, "user:1", CmdInstall, InstallPayload{Package: pack(t, manifest("1.1.0")), Approval: ap})
	if err != nil {
		t.Fatal(err)
	}
	var ir InstallResult
	res.Decode(&ir)
	if ir.UpgradedFrom != "1.0.0" || ir.Version != "1.1.0" {
		t.Fatalf("upgrade result %+v", ir)
	}
	if keys, _ := kv.List(ctx, "demo-decoder", ""); len(keys) != 2 {
		t.Fatalf("keys after upgrade: %v", keys)
	}

	// Auto-disable only disables what is enabled, and says so.
	apply(t, st, "system:plugins", CmdDisable, DisablePayload{Name: "demo-decoder", Reason: "disabled after 5 consecutive failures", Auto: true})
	r, _ := m.getRow(ctx, "demo-decoder")
	if r.Enabled || !r.AutoDisabled || !strings.Contains(r.DisabledReason, "5 consecutive") || r.Version != "1.1.0" {
		t.Fatalf("after auto-disable: %+v", r)
	}
	apply(t, st, "user:1", CmdDisable, DisablePayload{Name: "demo-decoder", Reason: "by admin"})
	apply(t, st, "system:plugins", CmdDisable, DisablePayload{Name: "demo-decoder", Reason: "late failure report", Auto: true})
	if r, _ = m.getRow(ctx, "demo-decoder"); r.DisabledReason != "by admin" || r.AutoDisabled {
		t.Fatalf("an auto report overwrote the admin's disable: %+v", r)
	}
	apply(t, st, "user:1", CmdEnable, NamePayload{Name: "demo-decoder"})
	if r, _ = m.getRow(ctx, "demo-decoder"); !r.Enabled || r.DisabledReason != "" {
		t.Fatalf("after enable: %+v", r)
	}
	if _, err := apply(t, st, "user:1", CmdEnable, NamePayload{Name: "nope"}); code(err) != "not_found" {
		t.Fatalf("enable unknown: %v", err)
	}

	// Only the host records http calls.
	if _, err := apply(t, st, "user:1", CmdHTTPCall, plugins.HTTPAudit{Plugin: "demo-decoder", URL: "http://x"}); code(err) != "forbidden" {
		t.Fatalf("http_call by a user: %v", err)
	}

	// Remove keeps the data unless purged.
	apply(t, st, "user:1", CmdRemove, NamePayload{Name: "demo-decoder"})
	if r, _ = m.getRow(ctx, "demo-decoder"); r != nil {
		t.Fatal("row still there after remove")
	}
	var n int
	st.DB().QueryRow(`SELECT count(*) FROM plugins_kv WHERE plugin = 'demo-decoder'`).Scan(&n)
	if n != 2 {
		t.Fatalf("kv rows after remove: %d", n)
	}
	apply(t, st, "user:1", CmdInstall, InstallPayload{Package: pack(t, manifest("2.0.0")), Approval: ap})
	apply(t, st, "user:1", CmdRemove, NamePayload{Name: "demo-decoder", Purge: true})
	st.DB().QueryRow(`SELECT count(*) FROM plugins_kv WHERE plugin = 'demo-decoder'`).Scan(&n)
	if n != 0 {
		t.Fatalf("kv rows after purge: %d", n)
	}
}

// apiHarness starts the module with its routes behind an authenticator
// that makes "Bearer viewer" a viewer and anyone else an admin.
func apiHarness(t *testing.T) (*store.Store, func(method, path, who string, body any) (int, string)) {
	t.Helper()
	m, st := newModule(t)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	rt := httpapi.NewRouter(httpapi.Options{Title: "t", Logf: t.Logf})
	admin := &httpapi.Principal{Username: "admin", Roles: []string{httpapi.RoleAdmin}, Permissions: httpapi.PermissionsOf(httpapi.RoleAdmin), UserID: 1}
	viewer := &httpapi.Principal{Username: "viewer", Roles: []string{httpapi.RoleViewer}, Permissions: httpapi.PermissionsOf(httpapi.RoleViewer), UserID: 2}
	rt.SetAuthenticator(httpapi.AuthenticatorFunc(func(r *http.Request) (*httpapi.Principal, error) {
		if r.Header.Get("Authorization") == "Bearer viewer" {
			return viewer, nil
		}
		return admin, nil
	}))
	m.Routes(rt)
	return st, func(method, path, who string, body any) (int, string) {
		var rd *bytes.Reader
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
		req := httptest.NewRequest(method, path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+who)
		w := httptest.NewRecorder()
		rt.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
}

// TestAPIRefusals: the admin API explains why a package is refused before
// anything is stored.
func TestAPIRefusals(t *testing.T) {
	st, do := apiHarness(t)
	good := pack(t, manifest("1.0.0"))
	abi2 := strings.Replace(manifest("1.0.0"), `"abi": 1`, `"abi": 2`, 1)
	for _, c := range []struct {
		name, who string
		body      any
		status    int
		want      string
	}{
		{"viewer", "viewer", InstallInput{Package: good, Approval: &plugins.Approval{}}, 403, "system.admin"},
		{"no approval", "admin", InstallInput{Package: good}, 400, "approval"},
		{"unsigned", "admin", InstallInput{Package: good, Approval: &plugins.Approval{Permissions: []string{"decode", "kv"}}}, 400, "not signed"},
		{"permission not approved", "admin", InstallInput{Package: good, Approval: &plugins.Approval{Permissions: []string{"decode"}, AllowUnsigned: true}}, 400, `permission \"kv\" was not approved`},
		{"abi", "admin", InstallInput{Package: zipRaw(t, abi2), Approval: &plugins.Approval{AllowUnsigned: true}}, 400, "abi version 2 is not supported"},
		{"not wasm", "admin", InstallInput{Package: good, Approval: &plugins.Approval{Permissions: []string{"decode", "kv"}, AllowUnsigned: true}}, 400, "demo-decoder"},
	} {
		status, body := do("POST", "/api/v1/plugins", c.who, c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("%s: %d %s, want %d containing %q", c.name, status, body, c.status, c.want)
		}
	}
	if status, body := do("POST", "/api/v1/plugins/inspect", "admin", InstallInput{Package: good}); status != 200 || !strings.Contains(body, `"device_types":["demo-v1"]`) || !strings.Contains(body, `"problem"`) {
		t.Errorf("inspect: %d %s", status, body)
	}
	var n int
	st.DB().QueryRow(`SELECT count(*) FROM plugins_plugin`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d plugins stored after refusals", n)
	}
	if status, body := do("GET", "/api/v1/plugins", "admin", nil); status != 200 || !strings.Contains(body, `"total":0`) {
		t.Errorf("list: %d %s", status, body)
	}
}

// zipRaw packs without validating the manifest (PackDir refuses abi 2).
func zipRaw(t *testing.T, man string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct {
		name string
		b    []byte
	}{{"plugin.json", []byte(man)}, {"plugin.wasm", fakeWasm}} {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(f.b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestEventMapping: alarms from the iot hook, project stage/status changes
// and case events from the store become plugin events, in order.
func TestEventMapping(t *testing.T) {
	m, _ := newModule(t)
	if err := m.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	got := make(chan abi.Event, 10)
	cancel := m.Subscribe(func(ev abi.Event) { got <- ev })
	defer cancel()

	at := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	m.onIoTEvent(live.Message{Type: "alarm.raised", Time: at, Data: json.RawMessage(`{"id":"al1","severity":"major"}`)}, live.Audience{})
	m.onIoTEvent(live.Message{Type: "device.status", Time: at, Data: json.RawMessage(`{"id":"d1"}`)}, live.Audience{})
	proj := func(typ, stage, status string) {
		m.onStoreEvent(store.Event{Index: 9, Cmd: store.Command{Type: typ, Time: at},
			Result: json.RawMessage(`{"id":5,"name":"东区管网","stage":"` + stage + `","status":"` + status + `"}`)})
	}
	proj("project.update", "construction", "green")    // first sight, not a transition: nothing
	proj("project.recompute", "construction", "green") // unchanged: nothing
	proj("project.recompute", "construction", "red")   // status change
	proj("project.transition", "completed", "red")     // stage change
	m.onIoTEvent(live.Message{Type: "alarm.cleared", Time: at, Data: json.RawMessage(`{"id":"al1"}`)}, live.Audience{})

	want := []string{"alarm.raised al1", "project.status_changed 5 construction/green", "project.status_changed 5 construction/red", "alarm.cleared al1"}
	for i, w := range want {
		select {
		case ev := <-got:
			var d struct {
				Previous string `json:"previous"`
			}
			json.Unmarshal(ev.Data, &d)
			s := ev.Type + " " + ev.ID
			if d.Previous != "" {
				s += " " + d.Previous
			}
			if s != w || !ev.Time.Equal(at) {
				t.Fatalf("event %d = %q at %v, want %q", i, s, ev.Time, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d (%s) not delivered", i, w)
		}
	}
	select {
	case ev := <-got:
		t.Fatalf("unexpected event %+v", ev)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestTrustedKeys: a package signed by a key the admin trusts (replicated
// key table) passes the signature check without the unsigned override.
func TestTrustedKeys(t *testing.T) {
	_, do := apiHarness(t)
	pub, priv, _ := ed25519.GenerateKey(nil)
	signed, err := plugins.Pack([]byte(manifest("1.0.0")), fakeWasm, priv)
	if err != nil {
		t.Fatal(err)
	}
	install := InstallInput{Package: signed, Approval: &plugins.Approval{Permissions: []string{"decode", "kv"}}}
	if status, body := do("POST", "/api/v1/plugins", "admin", install); status != 400 || !strings.Contains(body, "signed by untrusted key "+plugins.KeyID(pub)) {
		t.Fatalf("untrusted: %d %s", status, body)
	}
	if status, body := do("POST", "/api/v1/plugin-keys", "admin", KeyInput{Key: "bm90IGEga2V5"}); status != 400 || !strings.Contains(body, "ed25519") {
		t.Fatalf("bad key: %d %s", status, body)
	}
	if status, body := do("POST", "/api/v1/plugin-keys", "viewer", KeyInput{Key: base64.StdEncoding.EncodeToString(pub)}); status != 403 {
		t.Fatalf("viewer adds a key: %d %s", status, body)
	}
	status, body := do("POST", "/api/v1/plugin-keys", "admin", KeyInput{Key: base64.StdEncoding.EncodeToString(pub), Comment: "某集成公司"})
	if status != 201 || !strings.Contains(body, plugins.KeyID(pub)) {
		t.Fatalf("add key: %d %s", status, body)
	}
	// Trusted now: the check moves on to the module (which is a stub here).
	if status, body := do("POST", "/api/v1/plugins", "admin", install); status != 400 || strings.Contains(body, "signed") {
		t.Fatalf("trusted: %d %s", status, body)
	}
	if status, body := do("GET", "/api/v1/plugin-keys", "admin", nil); status != 200 || !strings.Contains(body, "某集成公司") {
		t.Fatalf("list keys: %d %s", status, body)
	}
	if status, body := do("DELETE", "/api/v1/plugin-keys/"+plugins.KeyID(pub), "admin", nil); status != 204 {
		t.Fatalf("remove key: %d %s", status, body)
	}
	if status, body := do("POST", "/api/v1/plugins", "admin", install); status != 400 || !strings.Contains(body, "untrusted") {
		t.Fatalf("after removing the key: %d %s", status, body)
	}
}
