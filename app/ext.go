package app

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
)

// Extension points of the composition root. Files in this package add a
// command or a module with an init function, so each feature (knowledge
// base, plugins, dashboard, operations) lives in its own file and the
// central switch and module list stay short:
//
//	func init() { registerCommand("kb", "yiwang kb import|search|... ", (*cli).kb) }
//	func init() { registerModule("kb", func(a *App) httpapi.Module { return kb.New(...) }) }

type extraCommand struct {
	usage string
	run   func(c *cli, args []string) error
}

var extraCommands = map[string]extraCommand{}

// registerCommand adds a top-level CLI command. usage is one or more lines
// for the help text (already indented like the others).
func registerCommand(name, usage string, run func(c *cli, args []string) error) {
	if _, dup := extraCommands[name]; dup {
		panic("app: command registered twice: " + name)
	}
	extraCommands[name] = extraCommand{usage: usage, run: run}
}

type extraModule struct {
	name string
	new  func(a *App) httpapi.Module
}

var extraModules []extraModule

// registerModule adds a module built after the core domain modules
// (a.Cases(), a.IoT(), a.Projects(), a.Investment() are set by then).
// Modules are registered with the store in name order so every node applies
// migrations in the same order.
func registerModule(name string, new func(a *App) httpapi.Module) {
	extraModules = append(extraModules, extraModule{name: name, new: new})
	sort.Slice(extraModules, func(i, j int) bool { return extraModules[i].name < extraModules[j].name })
}

// iotClearSettle overrides how long a cleared alarm must stay cleared before
// the clear is noted on its case (0: the module's default, 5 minutes).
// Tests shorten it.
var iotClearSettle time.Duration

// caseAdapter lets iot open cases without importing the cases module.
type caseAdapter struct{ cs *cases.Module }

func (c caseAdapter) OpenFromAlarm(ctx context.Context, a iot.AlarmCase) (int64, error) {
	return c.cs.OpenFromAlarm(ctx, cases.AlarmInput(a))
}

func (c caseAdapter) NoteAlarmCleared(ctx context.Context, caseID int64, alarmID string, clearedAt time.Time, note string) error {
	return c.cs.NoteAlarmCleared(ctx, caseID, alarmID, clearedAt, note)
}

// fullUsage is the help text with the registered commands inserted before
// the "version" line.
func fullUsage() string {
	names := make([]string, 0, len(extraCommands))
	for n := range extraCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	var extra string
	for _, n := range names {
		extra += extraCommands[n].usage
		if len(extra) > 0 && extra[len(extra)-1] != '\n' {
			extra += "\n"
		}
	}
	const marker = "  yiwang version"
	i := strings.Index(usage, marker)
	if i < 0 {
		return usage + extra
	}
	return usage[:i] + extra + usage[i:]
}
