package plugins

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/yiwang/yiwang/plugins/abi"
)

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecoderExample(t *testing.T) {
	h, _, _ := newTestHost(t, nil)
	installExample(t, h, "examples/decoder", nil, nil)
	if p, _ := h.get("lora-water"); !p.instrumented {
		t.Fatal("decoder fell back to WithCloseOnContextDone (slow): instrumentation failed")
	}
	ctx := context.Background()
	tel, err := h.Decode(ctx, "lora-water-v1", waterFrame(7, 1234, 3200, -15, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"fcnt": 7.0, "level_m": 1.234, "battery_v": 3.2, "temperature_c": -1.5,
		"level_alarm": true, "tamper": false, "low_battery": true}
	for k, v := range want {
		if tel.Values[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, tel.Values[k], v, tel.Values)
		}
	}
	// A corrupted frame is the plugin's "bad payload" error, not a failure.
	bad := waterFrame(1, 1, 1, 1, 0)
	bad[5] ^= 0xFF
	_, err = h.Decode(ctx, "lora-water-v1", bad)
	if err == nil || !strings.Contains(err.Error(), "checksum") || IsFailure(err) {
		t.Fatalf("corrupt frame: err = %v", err)
	}
	if _, err := h.Decode(ctx, "no-such-type", nil); !errors.Is(err, ErrNoDecoder) {
		t.Fatalf("unknown type: %v", err)
	}
	info, _ := h.Get("lora-water")
	if info.Metrics.Calls != 2 || info.Metrics.Errors != 1 || info.Metrics.Failures != 0 || !info.Enabled {
		t.Fatalf("metrics: %+v", info.Metrics)
	}
	if got := h.DeviceTypes(); len(got) != 1 || got[0] != "lora-water-v1" {
		t.Fatalf("device types %v", got)
	}
}

type webhook struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []map[string]any
	hits atomic.Int32
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		json.Unmarshal(b, &m)
		w.mu.Lock()
		w.got = append(w.got, m)
		w.mu.Unlock()
		rw.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(w.srv.Close)
	return w
}

func (w *webhook) host() string { u, _ := url.Parse(w.srv.URL); return u.Host }

func caseEvent(t *testing.T, id string, urgent bool) abi.Event {
	return abi.Event{Type: abi.EventCaseCreated, Time: time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC), ID: id,
		Data: mustJSON(t, map[string]any{"id": id, "title": "河道水位超警戒", "state": "立案", "urgent": urgent})}
}

func TestNotifierPostsUrgentCase(t *testing.T) {
	hook := newWebhook(t)
	h, _, rec := newTestHost(t, nil)
	installExample(t, h, "examples/notifier", func(m *Manifest) {
		m.Hosts = []string{hook.host()}
		m.Settings = map[string]string{"webhook_url": hook.srv.URL + "/notify"}
	}, nil)
	ctx := context.Background()

	// Not urgent: nothing happens.
	out := h.Dispatch(ctx, caseEvent(t, "c-1", false))
	if len(out) != 1 || out[0].Err != nil || hook.hits.Load() != 0 {
		t.Fatalf("non-urgent: %+v hits=%d", out, hook.hits.Load())
	}
	// Urgent: posted, annotated, audited.
	out = h.Dispatch(ctx, caseEvent(t, "c-2", true))
	if len(out) != 1 || out[0].Err != nil {
		t.Fatalf("urgent: %+v", out)
	}
	if hook.hits.Load() != 1 || hook.got[0]["case_id"] != "c-2" || !strings.Contains(hook.got[0]["text"].(string), "紧急") {
		t.Fatalf("webhook got %v", hook.got)
	}
	if len(rec.notes) != 1 || rec.notes[0].ID != "c-2" {
		t.Fatalf("annotations %v", rec.notes)
	}
	a := rec.auditList()
	if len(a) != 1 || !a[0].Allowed || a[0].Status != http.StatusAccepted || a[0].Plugin != "urgent-notifier" {
		t.Fatalf("audit %+v", a)
	}
	// Other event types are not delivered.
	if out := h.Dispatch(ctx, abi.Event{Type: abi.EventAlarmRaised}); len(out) != 0 {
		t.Fatalf("alarm delivered: %+v", out)
	}
}

func TestNotifierHostNotApprovedIsRefusedAndAudited(t *testing.T) {
	hook := newWebhook(t)
	h, _, rec := newTestHost(t, nil)
	// The manifest declares the host but the admin approves no host.
	installExample(t, h, "examples/notifier", func(m *Manifest) {
		m.Hosts = []string{hook.host()}
		m.Settings = map[string]string{"webhook_url": hook.srv.URL + "/notify"}
	}, func(a *Approval) { a.Hosts = nil })
	out := h.Dispatch(context.Background(), caseEvent(t, "c-3", true))
	if len(out) != 1 || out[0].Err == nil || !strings.Contains(out[0].Err.Error(), "allow-list") || IsFailure(out[0].Err) {
		t.Fatalf("outcome %+v", out)
	}
	if hook.hits.Load() != 0 {
		t.Fatal("request reached the server")
	}
	a := rec.auditList()
	if len(a) != 1 || a[0].Allowed || !strings.Contains(a[0].Error, "allow-list") {
		t.Fatalf("audit %+v", a)
	}
}

func TestExportCronJob(t *testing.T) {
	hook := newWebhook(t)
	h, kv, _ := newTestHost(t, nil)
	installExample(t, h, "examples/export", func(m *Manifest) {
		m.Cron = []CronEntry{{Name: "daily", Schedule: "@every 1s"}}
		m.Hosts = []string{hook.host()}
		m.Settings = map[string]string{"export_url": hook.srv.URL + "/export"}
	}, nil)
	ctx := context.Background()
	for i := range 3 {
		if out := h.Dispatch(ctx, caseEvent(t, "c"+string(rune('a'+i)), false)); len(out) != 1 || out[0].Err != nil {
			t.Fatalf("event: %+v", out)
		}
	}
	if v, _, _ := kv.Get(ctx, "daily-export", "count/2026-11-22"); string(v) != "3" {
		t.Fatalf("count = %q", v)
	}
	h.Start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if v, ok, _ := kv.Get(ctx, "daily-export", "runs"); ok && string(v) >= "1" {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := h.Logs("daily-export", 0)
			t.Fatalf("cron job did not run; logs: %+v", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// And by hand.
	if o := h.RunJob(ctx, "daily-export", "daily"); o.Err != nil {
		t.Fatal(o.Err)
	}
	keys, _ := kv.List(ctx, "daily-export", "export/")
	if len(keys) != 1 {
		t.Fatalf("export keys %v", keys)
	}
	v, _, _ := kv.Get(ctx, "daily-export", keys[0])
	var ex struct{ Total int }
	if err := json.Unmarshal(v, &ex); err != nil || ex.Total != 3 {
		t.Fatalf("export %s: %v", v, err)
	}
	if hook.hits.Load() < 2 {
		t.Fatalf("export posted %d times", hook.hits.Load())
	}
	if o := h.RunJob(ctx, "daily-export", "nope"); o.Err == nil {
		t.Fatal("unknown job ran")
	}
}

func TestValidateThenLoadOnAnotherNode(t *testing.T) {
	leader, _, _ := newTestHost(t, nil)
	follower, _, _ := newTestHost(t, nil)
	mj := exampleManifest(t, "examples/decoder")
	pkg, err := Pack(mj, buildPlugin(t, "examples/decoder"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := leader.Validate(ctx, pkg, ApproveAll(mustManifest(t, mj), true))
	if err != nil {
		t.Fatal(err)
	}
	if len(leader.List()) != 0 {
		t.Fatal("Validate loaded the plugin")
	}
	// What the app replicates through the store.
	raw := mustJSON(t, Record{Package: pkg, Approval: ApproveAll(m, true), Enabled: true})
	var rec Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatal(err)
	}
	for _, h := range []*Host{leader, follower} {
		if _, err := h.Load(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Decode(ctx, "lora-water-v1", waterFrame(1, 100, 3600, 200, 0)); err != nil {
			t.Fatal(err)
		}
	}
	// A disabled record loads disabled.
	rec.Enabled = false
	if _, err := follower.Load(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := follower.Decode(ctx, "lora-water-v1", waterFrame(1, 100, 3600, 200, 0)); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
}

func mustManifest(t *testing.T, b []byte) *Manifest {
	m, err := ParseManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestManagement(t *testing.T) {
	h, kv, _ := newTestHost(t, nil)
	installExample(t, h, "examples/decoder", nil, nil)
	installExample(t, h, "examples/export", nil, nil)
	ctx := context.Background()
	list := h.List()
	if len(list) != 2 || list[0].Name != "daily-export" || list[1].Name != "lora-water" || list[1].Signed {
		t.Fatalf("list %+v", list)
	}
	frame := waterFrame(1, 100, 3600, 200, 0)
	if err := h.Disable("lora-water"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Decode(ctx, "lora-water-v1", frame); !errors.Is(err, ErrDisabled) {
		t.Fatalf("disabled decode: %v", err)
	}
	if err := h.Enable("lora-water"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Decode(ctx, "lora-water-v1", frame); err != nil {
		t.Fatal(err)
	}
	logs, err := h.Logs("lora-water", 0)
	if err != nil || len(logs) < 3 {
		t.Fatalf("logs %v %v", logs, err)
	}

	// Upgrade keeps the data.
	h.Dispatch(ctx, caseEvent(t, "x", false))
	m := mustManifest(t, exampleManifest(t, "examples/export"))
	m.Version = "1.1.0"
	pkg, _ := Pack(mustJSON(t, m), buildPlugin(t, "examples/export"), nil)
	if _, err := h.Upgrade(ctx, pkg, ApproveAll(m, true)); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Upgrade(ctx, pkg, ApproveAll(m, true)); err == nil {
		t.Fatal("same-version upgrade accepted")
	}
	if o := h.RunJob(ctx, "daily-export", "daily"); o.Err != nil {
		t.Fatal(o.Err)
	}
	keys, _ := kv.List(ctx, "daily-export", "export/")
	v, _, _ := kv.Get(ctx, "daily-export", keys[0])
	if !strings.Contains(string(v), `"total":1`) {
		t.Fatalf("data after upgrade: %s", v)
	}
	info, _ := h.Get("daily-export")
	logs, _ = h.Logs("daily-export", 0)
	if info.Version != "1.1.0" || !strings.Contains(logs[len(logs)-3].Message+logs[len(logs)-2].Message+logs[len(logs)-1].Message+joinLogs(logs), "upgraded from 1.0.0 to 1.1.0") {
		t.Fatalf("after upgrade: %+v %+v", info, logs)
	}

	if err := h.Remove("lora-water"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Decode(ctx, "lora-water-v1", frame); !errors.Is(err, ErrNoDecoder) {
		t.Fatalf("after remove: %v", err)
	}
	if err := h.Remove("lora-water"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second remove: %v", err)
	}
}

func joinLogs(ls []LogLine) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString(l.Message + "\n")
	}
	return b.String()
}

func TestSigning(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	h, _, _ := newTestHost(t, func(c *Config) { c.TrustedKeys = []ed25519.PublicKey{pub} })
	ctx := context.Background()
	mj := exampleManifest(t, "examples/decoder")
	wasm := buildPlugin(t, "examples/decoder")
	m := mustManifest(t, mj)
	strict := ApproveAll(m, false)

	signed, err := Pack(mj, wasm, priv)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Validate(ctx, signed, strict); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}

	// Tampered: same signature file, different manifest.
	pk, _ := ReadPackage(signed)
	tm := mustManifest(t, mj)
	tm.Permissions = append(tm.Permissions, "http")
	tm.Hosts = []string{"evil.example.com"}
	tampered := repack(t, mustJSON(t, tm), wasm, mustJSON(t, pk.Signature))
	for _, ap := range []Approval{strict, ApproveAll(tm, true)} {
		if _, err := h.Validate(ctx, tampered, ap); err == nil || !strings.Contains(err.Error(), "tampered") {
			t.Fatalf("tampered package: %v", err)
		}
	}
	// Tampered wasm.
	w2 := append([]byte(nil), wasm...)
	w2[len(w2)-1] ^= 1
	if _, err := ReadPackage(repack(t, mj, w2, mustJSON(t, pk.Signature))); err == nil {
		t.Fatal("tampered wasm accepted")
	}

	unsigned, _ := Pack(mj, wasm, nil)
	if _, err := h.Validate(ctx, unsigned, strict); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Fatalf("unsigned without override: %v", err)
	}
	if _, err := h.Validate(ctx, unsigned, ApproveAll(m, true)); err != nil {
		t.Fatalf("unsigned with override: %v", err)
	}
	untrusted, _ := Pack(mj, wasm, otherPriv)
	if _, err := h.Validate(ctx, untrusted, strict); err == nil || !strings.Contains(err.Error(), "untrusted key") {
		t.Fatalf("untrusted signer: %v", err)
	}
	if _, err := h.Install(ctx, signed, strict); err != nil {
		t.Fatal(err)
	}
	if info, _ := h.Get("lora-water"); !info.Signed || info.SignerKeyID != KeyID(pub) {
		t.Fatalf("info %+v", info)
	}
}
