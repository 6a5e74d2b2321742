package plugins

import (
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"
)

// repack writes a zip with the given entries (signature may be nil).
func repack(t *testing.T, manifest, wasm, signature []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range []struct {
		name string
		b    []byte
	}{{ManifestFile, manifest}, {WasmFile, wasm}, {SignatureFile, signature}} {
		if e.b == nil {
			continue
		}
		w, _ := zw.Create(e.name)
		w.Write(e.b)
	}
	zw.Close()
	return buf.Bytes()
}

func zipOf(t *testing.T, entries map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range entries {
		w, _ := zw.Create(n)
		w.Write(b)
	}
	zw.Close()
	return buf.Bytes()
}

const goodManifest = `{"name":"demo","version":"1.0.0","abi":1,"permissions":["decode"],"device_types":["demo-v1"]}`

var fakeWasm = []byte("\x00asm\x01\x00\x00\x00")

func TestReadPackageRefusesBadPackages(t *testing.T) {
	bomb := bytes.Repeat([]byte{0}, 16<<20) // deflates ~1000:1
	for name, tc := range map[string]struct {
		pkg  []byte
		want string
	}{
		"not zip":        {[]byte("hello"), "not a zip"},
		"zip bomb":       {zipOf(t, map[string][]byte{ManifestFile: []byte(goodManifest), WasmFile: bomb}), "zip bomb"},
		"manifest bomb":  {zipOf(t, map[string][]byte{ManifestFile: bytes.Repeat([]byte(" "), 1<<20), WasmFile: fakeWasm}), "plugin.json"},
		"extra entry":    {zipOf(t, map[string][]byte{ManifestFile: []byte(goodManifest), WasmFile: fakeWasm, "../../etc/x": {1}}), "unexpected entry"},
		"no wasm":        {zipOf(t, map[string][]byte{ManifestFile: []byte(goodManifest)}), "plugin.wasm is missing"},
		"not wasm":       {zipOf(t, map[string][]byte{ManifestFile: []byte(goodManifest), WasmFile: []byte("MZ")}), "not a WebAssembly"},
		"bad json":       {zipOf(t, map[string][]byte{ManifestFile: []byte(`{`), WasmFile: fakeWasm}), "plugin.json"},
		"unknown field":  {zipOf(t, map[string][]byte{ManifestFile: []byte(`{"name":"demo","nope":1}`), WasmFile: fakeWasm}), "unknown field"},
		"wrong abi":      {manifestPkg(t, `"abi":2`), "abi version 2 is not supported"},
		"bad name":       {manifestPkg(t, `"name":"../etc"`), "bad name"},
		"bad version":    {manifestPkg(t, `"version":"latest"`), "bad version"},
		"unknown perm":   {manifestPkg(t, `"permissions":["decode","root"]`), "unknown permission"},
		"undeclared":     {manifestPkg(t, `"hosts":["a.example.cn"]`), `needs permission "http"`},
		"bad cron":       {manifestPkg(t, `"permissions":["decode","cron"],"cron":[{"name":"x","schedule":"every day"}]`), "bad schedule"},
		"bad host":       {manifestPkg(t, `"permissions":["decode","http"],"hosts":["https://x/y"]`), "bad host"},
		"unknown event":  {manifestPkg(t, `"permissions":["decode","events"],"events":["world.ended"]`), "unknown event"},
		"bad signature":  {zipOf(t, map[string][]byte{ManifestFile: []byte(goodManifest), WasmFile: fakeWasm, SignatureFile: []byte(`{"alg":"ed25519","key":"AA==","sig":"AA=="}`)}), "malformed signature"},
		"no permissions": {manifestPkg(t, `"permissions":[],"device_types":[]`), "no permissions"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ReadPackage(tc.pkg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// manifestPkg overrides fields of goodManifest (later keys win in Go's JSON decoder).
func manifestPkg(t *testing.T, override string) []byte {
	m := strings.TrimSuffix(goodManifest, "}") + "," + override + "}"
	return zipOf(t, map[string][]byte{ManifestFile: []byte(m), WasmFile: fakeWasm})
}

func TestValidateChecksApprovalAndModule(t *testing.T) {
	h, _, _ := newTestHost(t, nil)
	ctx := context.Background()
	mj := exampleManifest(t, "examples/notifier")
	m := mustManifest(t, mj)
	pkg, err := Pack(mj, buildPlugin(t, "examples/notifier"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ap := ApproveAll(m, true)
	ap.Permissions = []string{"events", "cases"}
	if _, err := h.Validate(ctx, pkg, ap); err == nil || !strings.Contains(err.Error(), `permission "http" was not approved`) {
		t.Fatalf("missing approval: %v", err)
	}
	ap = ApproveAll(m, true)
	ap.Hosts = []string{"other.example.cn"}
	if _, err := h.Validate(ctx, pkg, ap); err == nil || !strings.Contains(err.Error(), "not declared") {
		t.Fatalf("undeclared host approved: %v", err)
	}
	// A module that is not a yiwang plugin.
	junk, _ := Pack([]byte(goodManifest), fakeWasm, nil)
	if _, err := h.Validate(ctx, junk, ApproveAll(mustManifest(t, []byte(goodManifest)), true)); err == nil || !strings.Contains(err.Error(), "does not export") {
		t.Fatalf("empty module: %v", err)
	}
	// Two plugins cannot decode the same device type.
	installExample(t, h, "examples/decoder", nil, nil)
	dm := mustManifest(t, exampleManifest(t, "examples/decoder"))
	dm.Name = "copycat"
	dup, _ := Pack(mustJSON(t, dm), buildPlugin(t, "examples/decoder"), nil)
	if _, err := h.Validate(ctx, dup, ApproveAll(dm, true)); err == nil || !strings.Contains(err.Error(), "already decoded") {
		t.Fatalf("duplicate device type: %v", err)
	}
}

func TestPackDirAndTopics(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/"+ManifestFile, []byte(goodManifest))
	writeFile(t, dir+"/"+WasmFile, fakeWasm)
	out, err := PackDir(dir, nil)
	if err != nil || !strings.HasSuffix(out, "demo-1.0.0.ywp") {
		t.Fatalf("PackDir: %q %v", out, err)
	}
	for _, tc := range []struct {
		filter, topic string
		ok            bool
	}{
		{"yiwang/plugin/x/#", "yiwang/plugin/x/a/b", true},
		{"yiwang/+/x", "yiwang/a/x", true},
		{"yiwang/+/x", "yiwang/a/y", false},
		{"a/b", "a/b/c", false},
		{"a/#", "a/+", false},
	} {
		if got := topicAllowed([]string{tc.filter}, tc.topic); got != tc.ok {
			t.Errorf("topicAllowed(%q, %q) = %v", tc.filter, tc.topic, got)
		}
	}
}
