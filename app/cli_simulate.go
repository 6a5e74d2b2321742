package app

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/yiwang/yiwang/app/iot"
)

func init() {
	registerCommand("simulate", "  yiwang simulate [--devices N] [--rate R/s] [--duration D] [--mqtt ADDR]\n                                           publish realistic readings from simulated demo devices\n", (*cli).simulate)
}

func (c *cli) simulate(args []string) error {
	fs := c.flags("simulate")
	o := iot.BindSimulateFlags(fs)
	rf := c.remoteFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	call, err := rf.call(c)
	if err != nil {
		return err
	}
	o.Call = call
	o.Logf = func(f string, a ...any) { fmt.Fprintf(c.stderr, f+"\n", a...) }
	ctx := c.ctx
	if ctx == nil {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	stats, err := iot.Simulate(ctx, *o)
	b, _ := json.Marshal(stats)
	fmt.Fprintln(c.stdout, string(b))
	return err
}
