//go:build !linux

package ops

// processRSS is unknown here; Collect falls back to the Go runtime's Sys.
func processRSS() uint64 { return 0 }
