//go:build !race

// mochi's Server.Close waits on a WaitGroup that client goroutines Add to
// from inside themselves; with clients still attached the race detector
// reports that (a mochi issue), so this test runs without -race only.

package mqtt

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/yiwang/yiwang/embedded-mqtt/loadgen"
)

// Close must end even with a client that never sent CONNECT and one that
// stopped reading.
func TestCloseWithStuckClients(t *testing.T) {
	b, _ := startBroker(t, nil)
	idle, err := net.Dial("tcp", b.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	c, _, err := connectV5(t, b.TCPAddr(), "wl-001", "s1", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c
	// let the idle connection reach mochi before Close: mochi's WaitGroup
	// Add in attachClient races with Close's Wait otherwise (a mochi issue)
	time.Sleep(200 * time.Millisecond)
	done := make(chan struct{})
	go func() { _ = b.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung")
	}
}

// Close while the clients of one listener are leaving: mochi's own
// closeListenerClients took the clients' read lock twice, and a client
// leaving in between (a queued write lock) deadlocked Close for good (seen in
// CI: the package timed out after 40 minutes). Many clients on every
// listener make the first listener's departures overlap the next listener's
// disconnect pass. Named TestSystem so `make system` runs it without -race.
func TestSystemCloseWhileClientsLeave(t *testing.T) {
	const rounds, perListener = 150, 12
	for r := 0; r < rounds; r++ {
		b, _ := startBroker(t, nil)
		var conns []*loadgen.Conn
		for _, addr := range []string{b.TCPAddr(), b.TLSAddr()} {
			for i := 0; i < perListener; i++ {
				var nc net.Conn
				var err error
				if addr == b.TLSAddr() {
					nc, err = tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
				} else {
					nc, err = net.Dial("tcp", addr)
				}
				if err != nil {
					t.Fatal(err)
				}
				c, err := loadgen.Connect(nc, fmt.Sprintf("wl-001-%d-%d", r, len(conns)), "wl-001", "s1", 60)
				if err != nil {
					t.Fatalf("round %d: connect: %v", r, err)
				}
				conns = append(conns, c)
			}
		}
		done := make(chan struct{})
		go func() { _ = b.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			// t.Fatal or panic would hang too: startBroker's cleanup calls
			// Close, which waits for this one
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(os.Stderr, "--- FAIL: %s: round %d: Close hung with clients leaving\n%s\n", t.Name(), r, buf)
			os.Exit(1)
		}
		for _, c := range conns {
			c.Close()
		}
	}
}
