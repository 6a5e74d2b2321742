// Package storetest starts real single-node stores on real SQLite files for
// the tests of modules that write through the store.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/yiwang/yiwang/store"
)

// New starts a single-node store in t.TempDir(). Each register function is
// called before Start so modules can register handlers and migrations. The
// store is closed when the test ends.
func New(t testing.TB, register ...func(*store.Store)) *store.Store {
	t.Helper()
	s, err := store.New(store.Config{DataDir: t.TempDir(), NodeID: "test1"})
	if err != nil {
		t.Fatalf("storetest: new: %v", err)
	}
	for _, r := range register {
		r(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatalf("storetest: start: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
