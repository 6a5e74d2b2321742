// Package systemtest holds end-to-end tests that build the real yiwang
// binary and run it as separate processes (a 3-node cluster on 127.0.0.1,
// SIGKILL of the leader, restart). It has no non-test code; tests named
// TestSystem* run in `make system`, without -race, and skip in -short mode.
package systemtest
