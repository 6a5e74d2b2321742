package httpapi

import (
	"context"

	"github.com/yiwang/yiwang/store"
)

// Module is a domain module (org, cases, iot, ...). The composition root
// calls, in order: Register (before the store starts: command handlers and
// migrations), Routes (after the router exists), then Start if the module
// implements Starter, and Stop on shutdown if it implements Stopper.
type Module interface {
	// Name is the module's short name (also its table prefix).
	Name() string
	// Register adds command handlers and schema migrations to the store.
	Register(st *store.Store)
	// Routes adds the module's HTTP routes.
	Routes(r *Router)
}

// Starter is implemented by modules with work to do once the store runs
// (background jobs, subscriptions). ctx ends at shutdown.
type Starter interface {
	Start(ctx context.Context) error
}

// Stopper is implemented by modules that must release resources.
type Stopper interface {
	Stop() error
}
