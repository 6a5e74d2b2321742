package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needTool skips when a tool is absent locally and fails under CI.
func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is required in CI but not installed", name)
			}
			t.Skipf("%s not installed", name)
		}
	}
}

// windowsExe cross-compiles a tiny Windows program to stand in for yiwang.exe.
func windowsExe(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":  "module standin\n\ngo 1.22\n",
		"main.go": "package main\n\nfunc main() { println(\"yiwang stand-in\") }\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	exe := filepath.Join(dir, "yiwang.exe")
	cmd := exec.Command("go", "build", "-o", exe, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build stand-in: %v\n%s", err, b)
	}
	return exe
}

// buildSetup runs installer/windows/build.sh on a stand-in server exe and
// returns the setup's path.
func buildSetup(t *testing.T, env ...string) string {
	t.Helper()
	needTool(t, "makensis")
	dir := t.TempDir()
	server := windowsExe(t, dir)
	out := filepath.Join(dir, "setup.exe")
	cmd := exec.Command("../windows/build.sh", "1.2.3+4.gabc", server, "", out)
	cmd.Env = append(os.Environ(), env...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build.sh: %v\n%s", err, b)
	}
	return out
}

func inspectFile(t *testing.T, path string) (Info, error) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Inspect(bytes.NewReader(b), int64(len(b)))
}

func inspectBytes(b []byte) (Info, error) {
	return Inspect(bytes.NewReader(b), int64(len(b)))
}

func TestBuiltSetupIsValidAndDamageIsDetected(t *testing.T) {
	setup := buildSetup(t)
	info, err := inspectFile(t, setup)
	if err != nil {
		t.Fatal(err)
	}
	if !info.GUI || info.NSISOffset == 0 || info.Signed {
		t.Errorf("unexpected info %+v", info)
	}
	var out strings.Builder
	if err := run(setup, false, &out); err != nil || !strings.Contains(out.String(), "CRC ok") {
		t.Errorf("run: %v %q", err, out.String())
	}
	if err := run(setup, true, &out); err == nil {
		t.Error("-signed accepted an unsigned setup")
	}

	good, _ := os.ReadFile(setup)
	altered := bytes.Clone(good)
	altered[info.NSISOffset+info.NSISLength/2] ^= 0x55
	if _, err := inspectBytes(altered); err == nil || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("altered byte: %v", err)
	}
	if _, err := inspectBytes(good[:len(good)-1000]); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated file: %v", err)
	}
	if _, err := inspectBytes(good[:info.NSISOffset]); err == nil || !strings.Contains(err.Error(), "not an NSIS installer") {
		t.Errorf("stub only: %v", err)
	}
	if _, err := inspectBytes([]byte("MZ but not really a PE file at all")); err == nil || !strings.Contains(err.Error(), "not a PE") {
		t.Errorf("garbage: %v", err)
	}
}

// A setup built with a certificate configured is Authenticode-signed by
// osslsigncode and still passes the NSIS CRC check.
func TestSignedSetup(t *testing.T) {
	needTool(t, "makensis", "osslsigncode", "openssl")
	dir := t.TempDir()
	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	gen := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
		"-subj", "/CN=yiwang test signing", "-keyout", key, "-out", cert)
	if b, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v\n%s", err, b)
	}
	setup := buildSetup(t, "SIGN_CERT="+cert, "SIGN_KEY="+key)
	info, err := inspectFile(t, setup)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Signed {
		t.Fatal("setup not signed")
	}
	verify := exec.Command("osslsigncode", "verify", "-CAfile", cert, "-in", setup)
	if b, err := verify.CombinedOutput(); err != nil {
		t.Fatalf("osslsigncode verify: %v\n%s", err, b)
	}
}
