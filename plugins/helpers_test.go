package plugins

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/yiwang/yiwang/plugins/abi"
)

var (
	buildDir   string
	cacheDir   string
	buildMu    sync.Mutex
	builtWasm  = map[string][]byte{}
	buildErrs  = map[string]error{}
	goBinary   string
	moduleRoot string
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "yiwang-plugins-test-")
	if err != nil {
		panic(err)
	}
	buildDir = filepath.Join(d, "build")
	// The compilation cache outlives the test run: it is keyed by module
	// content and wazero version, so a rerun skips recompiling unchanged
	// plugins (slow under -race).
	cacheDir = filepath.Join(os.TempDir(), "yiwang-plugins-test-wazero-cache")
	goBinary = filepath.Join(runtime.GOROOT(), "bin", "go")
	wd, _ := os.Getwd()
	moduleRoot = filepath.Dir(wd)
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// buildPlugin builds ./plugins/<rel> for wasip1 with the Go toolchain (once
// per test binary) and returns plugin.wasm.
func buildPlugin(tb testing.TB, rel string) []byte {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if b, ok := builtWasm[rel]; ok {
		return b
	}
	if err, ok := buildErrs[rel]; ok {
		tb.Fatal(err)
	}
	out := filepath.Join(buildDir, strings.ReplaceAll(rel, "/", "_")+".wasm")
	cmd := exec.Command(goBinary, "build", "-buildmode=c-shared", "-o", out, "./plugins/"+rel)
	cmd.Dir = moduleRoot
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		buildErrs[rel] = err
		tb.Fatalf("go build %s: %v\n%s", rel, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	builtWasm[rel] = b
	return b
}

func exampleManifest(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(rel, "plugin.json"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// memKV is an in-memory KVStore standing in for the app's replicated one.
type memKV struct {
	mu sync.Mutex
	m  map[string][]byte
}

func newMemKV() *memKV { return &memKV{m: map[string][]byte{}} }

func (k *memKV) Get(_ context.Context, plugin, key string) ([]byte, bool, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	v, ok := k.m[plugin+"\x00"+key]
	return v, ok, nil
}

func (k *memKV) Set(_ context.Context, plugin, key string, v []byte) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.m[plugin+"\x00"+key] = v
	return nil
}

func (k *memKV) Delete(_ context.Context, plugin, key string) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.m, plugin+"\x00"+key)
	return nil
}

func (k *memKV) List(_ context.Context, plugin, prefix string) ([]string, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for kk := range k.m {
		p, key, _ := strings.Cut(kk, "\x00")
		if p == plugin && strings.HasPrefix(key, prefix) {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out, nil
}

type recorder struct {
	mu        sync.Mutex
	audits    []HTTPAudit
	notes     []abi.AnnotateAction
	cases     []abi.OpenCaseAction
	published []string
}

func (r *recorder) RecordHTTP(_ context.Context, a HTTPAudit) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.audits = append(r.audits, a)
}

func (r *recorder) OpenCase(_ context.Context, _ string, c abi.OpenCaseAction) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cases = append(r.cases, c)
	return "case-1", nil
}

func (r *recorder) Annotate(_ context.Context, _ string, a abi.AnnotateAction) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, a)
	return nil
}

func (r *recorder) Publish(_ context.Context, _ string, topic string, payload []byte, _ bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published = append(r.published, topic+" "+string(payload))
	return nil
}

func (r *recorder) auditList() []HTTPAudit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]HTTPAudit(nil), r.audits...)
}

func newTestHost(tb testing.TB, mod func(*Config)) (*Host, *memKV, *recorder) {
	tb.Helper()
	kv, rec := newMemKV(), &recorder{}
	cfg := Config{CacheDir: cacheDir, KV: kv, Audit: rec, Cases: rec, Publisher: rec}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { h.Close() })
	return h, kv, rec
}

// waterFrame builds a lora-water-v1 frame (see examples/decoder).
func waterFrame(fcnt, levelMM, batteryMV uint16, tempDeci int16, flags byte) []byte {
	f := make([]byte, 12)
	f[0], f[1] = 0xA5, 0x01
	binary.BigEndian.PutUint16(f[2:], fcnt)
	binary.BigEndian.PutUint16(f[4:], levelMM)
	binary.BigEndian.PutUint16(f[6:], batteryMV)
	binary.BigEndian.PutUint16(f[8:], uint16(tempDeci))
	f[10] = flags
	for _, b := range f[:11] {
		f[11] ^= b
	}
	return f
}

func installExample(tb testing.TB, h *Host, rel string, edit func(*Manifest), ap func(*Approval)) *Manifest {
	tb.Helper()
	mj := exampleManifest(tb, rel)
	if edit != nil {
		m, err := ParseManifest(mj)
		if err != nil {
			tb.Fatal(err)
		}
		edit(m)
		mj = mustJSON(tb, m)
	}
	pkg, err := Pack(mj, buildPlugin(tb, rel), nil)
	if err != nil {
		tb.Fatal(err)
	}
	m, _ := ParseManifest(mj)
	a := ApproveAll(m, true)
	if ap != nil {
		ap(&a)
	}
	got, err := h.Install(context.Background(), pkg, a)
	if err != nil {
		tb.Fatalf("install %s: %v", rel, err)
	}
	return got
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
