package demo

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"text/tabwriter"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/store"
)

// SeedFunc adds one module's sample data.
type SeedFunc func(ctx context.Context, s *Seeder) error

type namedSeed struct {
	name string
	fn   SeedFunc
}

var (
	regMu    sync.Mutex
	registry []namedSeed
)

// Register adds a seed step that runs once, after the county exists. Names
// must be unique; registering a name twice panics.
func Register(name string, fn SeedFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	for _, s := range registry {
		if s.name == name {
			panic("demo: seed " + name + " registered twice")
		}
	}
	registry = append(registry, namedSeed{name, fn})
}

// Deps are what seeding needs.
type Deps struct {
	Store *store.Store
	Org   *org.Module
	Out   io.Writer
	Logf  func(string, ...any)
}

// Seeder is handed to seed steps.
type Seeder struct {
	Deps
	// Actor is the command actor of demo data ("system:demo").
	Actor  string
	County County
}

// Apply issues a command as the demo actor.
func (s *Seeder) Apply(ctx context.Context, typ string, version int, payload any) (store.Result, error) {
	cmd, err := store.NewCommand(typ, version, payload)
	if err != nil {
		return store.Result{}, err
	}
	cmd.Actor = s.Actor
	return s.Store.Apply(ctx, cmd)
}

// County describes the demo county for seed steps.
type County struct {
	Code string
	Name string
	// Departments maps department names to ids.
	Departments map[string]int64
	// Townships lists township grid codes with their department ids.
	Townships []Township
	// UnitGrids lists the 14-digit unit-grid codes.
	UnitGrids []string
	// Box is the county's bounding box (WGS84).
	Box Box
	// Users maps demo usernames to ids.
	Users map[string]int64
}

// Township is a township of the demo county.
type Township struct {
	Code   string
	Name   string
	DeptID int64
}

// Box is a longitude/latitude rectangle.
type Box struct{ West, South, East, North float64 }

// Module records finished seed steps.
type Module struct{}

var _ httpapi.Module = (*Module)(nil)

// New returns the module.
func New() *Module { return &Module{} }

// Name implements httpapi.Module.
func (m *Module) Name() string { return "demo" }

// CmdSeeded records a finished seed step.
const CmdSeeded = "demo.seeded"

// Register implements httpapi.Module.
func (m *Module) Register(st *store.Store) {
	st.AddMigrations("demo", `CREATE TABLE demo_seed (name TEXT PRIMARY KEY, done_at TEXT NOT NULL)`)
	st.Register(CmdSeeded, 1, func(tx *store.Tx, cmd *store.Command) (any, error) {
		var p struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(cmd.Payload, &p); err != nil || p.Name == "" {
			return nil, store.Errorf("invalid", "demo.seeded needs a name")
		}
		_, err := tx.Exec(`INSERT INTO demo_seed(name, done_at) VALUES(?, ?) ON CONFLICT(name) DO NOTHING`, p.Name, httpapi.FormatDBTime(tx.Now()))
		return map[string]string{"name": p.Name}, err
	})
}

// Routes implements httpapi.Module (the demo has no routes).
func (m *Module) Routes(*httpapi.Router) {}

// Seed creates the demo county and runs the registered steps that have not
// run yet.
func (m *Module) Seed(ctx context.Context, d Deps) error {
	if d.Logf == nil {
		d.Logf = func(string, ...any) {}
	}
	if d.Out == nil {
		d.Out = io.Discard
	}
	s := &Seeder{Deps: d, Actor: "system:demo"}
	done, err := doneSteps(ctx, d.Store.DB())
	if err != nil {
		return err
	}
	if !done["org"] {
		d.Logf("demo: creating the demo county %s", countyName)
		if err := seedOrg(ctx, s); err != nil {
			return fmt.Errorf("demo: county: %w", err)
		}
		if err := markDone(ctx, s, "org"); err != nil {
			return err
		}
	}
	if err := loadCounty(ctx, s); err != nil {
		return err
	}
	regMu.Lock()
	steps := slices.Clone(registry)
	regMu.Unlock()
	for _, step := range steps {
		if done[step.name] {
			continue
		}
		d.Logf("demo: adding sample data: %s", step.name)
		if err := step.fn(ctx, s); err != nil {
			return fmt.Errorf("demo: %s: %w", step.name, err)
		}
		if err := markDone(ctx, s, step.name); err != nil {
			return err
		}
	}
	return nil
}

func doneSteps(ctx context.Context, db *sql.DB) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM demo_seed`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	return out, rows.Err()
}

func markDone(ctx context.Context, s *Seeder, name string) error {
	_, err := s.Apply(ctx, CmdSeeded, 1, map[string]string{"name": name})
	return err
}

// Account is a demo account created in this run.
type Account struct {
	Username string
	Role     string
	Password string
	Token    string
}

func printAccounts(w io.Writer, accounts []Account) {
	if len(accounts) == 0 {
		return
	}
	fmt.Fprintf(w, "\n==== %s 演示账号 / demo accounts — shown ONCE, write them down ====\n", countyName)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "username\trole\tpassword / token")
	for _, a := range accounts {
		ri, _ := httpapi.Role(a.Role)
		secret := a.Password
		if a.Token != "" {
			secret = "API token: " + a.Token
		}
		fmt.Fprintf(tw, "%s\t%s %s\t%s\n", a.Username, a.Role, ri.Title, secret)
	}
	tw.Flush()
	fmt.Fprintln(w, "====")
	fmt.Fprintln(w)
}

func isConflict(err error) bool {
	var se *store.Error
	return errors.As(err, &se) && se.Code == "conflict"
}
