package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestRaftTLSConfig: the three raft_tls_* keys build a mutual-TLS config
// that verifies peers against the CA; a half-configured set, a missing file
// or a CA file without a certificate is refused with the key's name.
func TestRaftTLSConfig(t *testing.T) {
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "yiwang test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node1"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	ca, cert, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "node.pem"), filepath.Join(dir, "node.key")
	writePEM(t, ca, "CERTIFICATE", caDER)
	writePEM(t, cert, "CERTIFICATE", der)
	writePEM(t, keyFile, "EC PRIVATE KEY", keyDER)

	if c, err := (Config{}).raftTLS(); c != nil || err != nil {
		t.Fatalf("no raft TLS configured: %v %v", c, err)
	}
	c, err := (Config{RaftTLSCert: cert, RaftTLSKey: keyFile, RaftTLSCA: ca}).raftTLS()
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientAuth != tls.RequireAndVerifyClientCert || len(c.Certificates) != 1 || c.RootCAs == nil {
		t.Fatalf("not mutual TLS: %+v", c)
	}
	// The node certificate verifies against the configured pool.
	leaf, _ := x509.ParseCertificate(der)
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: c.RootCAs, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("peer certificate does not verify: %v", err)
	}

	bad := []struct {
		cfg  Config
		want string
	}{
		{Config{RaftTLSCert: cert, RaftTLSKey: keyFile}, "must be set together"},
		{Config{RaftTLSCert: cert, RaftTLSKey: filepath.Join(dir, "nope"), RaftTLSCA: ca}, "raft_tls_key"},
		{Config{RaftTLSCert: cert, RaftTLSKey: keyFile, RaftTLSCA: keyFile}, "raft_tls_ca"},
	}
	for _, b := range bad {
		if _, err := b.cfg.raftTLS(); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: err %v, want it to mention %q", b.cfg, err, b.want)
		}
	}
}
