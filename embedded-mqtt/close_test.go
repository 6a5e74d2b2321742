//go:build !race

// mochi's Server.Close waits on a WaitGroup that client goroutines Add to
// from inside themselves; with clients still attached the race detector
// reports that (a mochi issue), so this test runs without -race only.

package mqtt

import (
	"net"
	"testing"
	"time"
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
