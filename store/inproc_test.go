package store_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store"
)

// startCluster runs n real store nodes in this process, talking raft over
// TCP on 127.0.0.1 (TLS when tlsConf is set) and HTTP through httptest
// servers. Node 0 bootstraps; the others join through it.
func startCluster(tb testing.TB, n int, tlsConf *tls.Config, register func(*store.Store)) []*store.Store {
	tb.Helper()
	const secret = "inproc-secret"
	nodes := make([]*store.Store, n)
	urls := make([]string, n)
	for i := 0; i < n; i++ {
		mux := http.NewServeMux()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		srv := httptest.NewUnstartedServer(mux)
		srv.Listener = ln
		srv.Start()
		tb.Cleanup(srv.Close)
		cfg := store.Config{
			DataDir: tb.TempDir(), NodeID: fmt.Sprintf("n%d", i+1), RaftAddr: "127.0.0.1:0",
			HTTPAdvertise: srv.URL, Secret: secret, RaftTLS: tlsConf,
			ElectionTimeout: 300 * time.Millisecond,
		}
		if i > 0 {
			cfg.JoinURL = urls[0]
		}
		s, err := store.New(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		register(s)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		if err := s.Start(ctx); err != nil {
			cancel()
			tb.Fatal(err)
		}
		cancel()
		mux.Handle("/api/internal/cluster/", s.HTTPHandler())
		urls[i] = srv.URL
		nodes[i] = s
		tb.Cleanup(func() { s.Close() })
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		st := nodes[0].Status()
		ok := len(st.Nodes) == n
		for _, nd := range st.Nodes {
			ok = ok && nd.HTTPAddr != ""
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("cluster did not form: %+v", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nodes
}

func leaderOf(tb testing.TB, nodes []*store.Store) *store.Store {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range nodes {
			if n.IsLeader() {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatal("no leader")
	return nil
}

func TestRaftOverMutualTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test")
	}
	tlsConf := testTLS(t)
	nodes := startCluster(t, 3, tlsConf, registerKV)
	// Writes on a follower are forwarded; reads after ConsistentRead see them.
	var follower *store.Store
	for _, n := range nodes {
		if !n.IsLeader() {
			follower = n
			break
		}
	}
	res := put(t, follower, "via-follower", "1")
	if v, ok := get(t, follower.DB(), "via-follower"); !ok || v != "1" {
		t.Fatalf("follower does not see its own acknowledged write (index %d)", res.Index)
	}
	for _, n := range nodes {
		if err := n.ConsistentRead(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, ok := get(t, n.DB(), "via-follower"); !ok {
			t.Fatalf("%s lacks the write after a consistent read", n.NodeID())
		}
	}
	// A node with a certificate from another CA cannot join the raft traffic.
	stranger := testTLS(t).Clone()
	stranger.RootCAs = tlsConf.RootCAs // trusts the cluster, but its own cert is foreign
	conn, err := tls.Dial("tcp", nodes[0].Status().Nodes[0].RaftAddr, stranger)
	if err == nil {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("raft accepted a TLS client whose certificate is from an unknown CA")
	}
	// Remove a node: the cluster shrinks to 2 voters and keeps writing.
	leader := leaderOf(t, nodes)
	var victim *store.Store
	for _, n := range nodes {
		if n != leader {
			victim = n
		}
	}
	if err := leader.RemoveNode(context.Background(), victim.NodeID()); err != nil {
		t.Fatal(err)
	}
	if got := len(leader.Status().Nodes); got != 2 {
		t.Fatalf("%d nodes after removal", got)
	}
	put(t, leader, "after-remove", "1")
}

// testTLS makes a CA and one certificate for 127.0.0.1 used by every node
// (server and client auth, verified both ways).
func testTLS(t testing.TB) *tls.Config {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "yiwang test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, _ := x509.CreateCertificate(rand.Reader, caTpl, caTpl, &caKey.PublicKey, caKey)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		RootCAs:      pool, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
		ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12,
	}
}
