package plugins

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Package file names and limits.
const (
	ManifestFile  = "plugin.json"
	WasmFile      = "plugin.wasm"
	SignatureFile = "signature"

	MaxPackageSize  = 64 << 20 // compressed .ywp
	MaxWasmSize     = 64 << 20 // uncompressed plugin.wasm
	MaxManifestSize = 64 << 10
	maxSigSize      = 4 << 10
	maxRatio        = 200 // uncompressed/compressed per entry: zip bomb guard
)

// Package is a parsed .ywp file.
type Package struct {
	Manifest     *Manifest
	ManifestJSON []byte
	Wasm         []byte
	Signature    *Signature // nil when unsigned
	// Digest is the hex sha256 of the signed message (see SignedMessage):
	// the identity of the package contents.
	Digest string
}

// Signature is the content of the "signature" file.
type Signature struct {
	Alg string `json:"alg"` // "ed25519"
	Key string `json:"key"` // base64 public key
	Sig string `json:"sig"` // base64 signature over SignedMessage
}

// FileName is the conventional package file name, name-version.ywp.
func FileName(m *Manifest) string { return m.Name + "-" + m.Version + ".ywp" }

// SignedMessage is what the ed25519 signature covers: a domain prefix and
// the sha256 of plugin.json and of plugin.wasm.
func SignedMessage(manifestJSON, wasm []byte) []byte {
	mh := sha256.Sum256(manifestJSON)
	wh := sha256.Sum256(wasm)
	msg := []byte("yiwang-plugin-v1\x00")
	msg = append(msg, mh[:]...)
	return append(msg, wh[:]...)
}

// Pack builds a .ywp package from plugin.json bytes and plugin.wasm. When
// key is not nil the package is signed with it. The manifest is validated
// first so a bad plugin fails at pack time, not at install.
func Pack(manifestJSON, wasm []byte, key ed25519.PrivateKey) ([]byte, error) {
	if _, err := ParseManifest(manifestJSON); err != nil {
		return nil, err
	}
	if len(wasm) == 0 || len(wasm) > MaxWasmSize {
		return nil, fmt.Errorf("plugin.wasm: size %d out of range", len(wasm))
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, b []byte) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: time.Unix(0, 0).UTC()})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	if err := add(ManifestFile, manifestJSON); err != nil {
		return nil, err
	}
	if err := add(WasmFile, wasm); err != nil {
		return nil, err
	}
	if key != nil {
		sig := Signature{Alg: "ed25519",
			Key: base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey)),
			Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(key, SignedMessage(manifestJSON, wasm)))}
		b, _ := json.Marshal(sig)
		if err := add(SignatureFile, b); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// PackDir is `yiwang plugin pack DIR`: it reads DIR/plugin.json and
// DIR/plugin.wasm, packs (and signs, if key is not nil) them and writes
// DIR/name-version.ywp, returning its path.
func PackDir(dir string, key ed25519.PrivateKey) (string, error) {
	mj, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return "", err
	}
	wasm, err := os.ReadFile(filepath.Join(dir, WasmFile))
	if err != nil {
		return "", err
	}
	pkg, err := Pack(mj, wasm, key)
	if err != nil {
		return "", err
	}
	m, _ := ParseManifest(mj)
	out := filepath.Join(dir, FileName(m))
	return out, os.WriteFile(out, pkg, 0o644)
}

// ReadPackage parses a .ywp, refusing oversize packages, zip bombs,
// unexpected or duplicate entries and bad manifests. It does not check the
// signature's trust (see Host.Validate) but does check that a present
// signature is well-formed and valid for its key.
func ReadPackage(b []byte) (*Package, error) {
	if len(b) > MaxPackageSize {
		return nil, fmt.Errorf("package is %d bytes, limit %d", len(b), MaxPackageSize)
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("package is not a zip file: %w", err)
	}
	if len(zr.File) > 3 {
		return nil, fmt.Errorf("package has %d entries, want plugin.json, plugin.wasm and optionally signature", len(zr.File))
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		limit := map[string]int64{ManifestFile: MaxManifestSize, WasmFile: MaxWasmSize, SignatureFile: maxSigSize}[f.Name]
		if limit == 0 {
			return nil, fmt.Errorf("package: unexpected entry %q", f.Name)
		}
		if _, dup := files[f.Name]; dup {
			return nil, fmt.Errorf("package: duplicate entry %q", f.Name)
		}
		if f.UncompressedSize64 > uint64(limit) {
			return nil, fmt.Errorf("package: %s declares %d bytes, limit %d", f.Name, f.UncompressedSize64, limit)
		}
		if f.CompressedSize64 > 0 && f.UncompressedSize64/f.CompressedSize64 > maxRatio {
			return nil, fmt.Errorf("package: %s compression ratio is suspicious (zip bomb?)", f.Name)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("package: %s: %w", f.Name, err)
		}
		// Never trust the declared size: read at most limit+1 bytes.
		data, err := io.ReadAll(io.LimitReader(rc, limit+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("package: %s: %w", f.Name, err)
		}
		if int64(len(data)) > limit {
			return nil, fmt.Errorf("package: %s exceeds %d bytes", f.Name, limit)
		}
		files[f.Name] = data
	}
	p := &Package{ManifestJSON: files[ManifestFile], Wasm: files[WasmFile]}
	if p.ManifestJSON == nil {
		return nil, errors.New("package: plugin.json is missing")
	}
	if len(p.Wasm) == 0 {
		return nil, errors.New("package: plugin.wasm is missing")
	}
	if !bytes.HasPrefix(p.Wasm, []byte("\x00asm")) {
		return nil, errors.New("package: plugin.wasm is not a WebAssembly module")
	}
	if p.Manifest, err = ParseManifest(p.ManifestJSON); err != nil {
		return nil, err
	}
	msg := SignedMessage(p.ManifestJSON, p.Wasm)
	d := sha256.Sum256(msg)
	p.Digest = hex.EncodeToString(d[:])
	if sb, ok := files[SignatureFile]; ok {
		var s Signature
		if err := json.Unmarshal(sb, &s); err != nil {
			return nil, fmt.Errorf("package: bad signature file: %w", err)
		}
		if s.Alg != "ed25519" {
			return nil, fmt.Errorf("package: signature algorithm %q not supported", s.Alg)
		}
		key, err1 := base64.StdEncoding.DecodeString(s.Key)
		sig, err2 := base64.StdEncoding.DecodeString(s.Sig)
		if err1 != nil || err2 != nil || len(key) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return nil, errors.New("package: malformed signature")
		}
		if !ed25519.Verify(ed25519.PublicKey(key), msg, sig) {
			return nil, errors.New("package: signature does not match the contents (tampered?)")
		}
		p.Signature = &s
	}
	return p, nil
}

// KeyID is a short, printable id of a public key (first 8 bytes of its
// sha256, hex).
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// signerKey returns the public key of a package's signature.
func (p *Package) signerKey() ed25519.PublicKey {
	if p.Signature == nil {
		return nil
	}
	k, _ := base64.StdEncoding.DecodeString(p.Signature.Key)
	return k
}
