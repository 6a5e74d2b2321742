//go:build desktop

// Command yiwang-desktop is the yiwang desktop app (Wails). Build it with
// scripts/build-desktop.sh: on Linux with cgo and
// -tags desktop,production,webkit2_41; for Windows with CGO_ENABLED=0
// GOOS=windows -tags desktop,production.
package main

import (
	"os"

	"github.com/yiwang/yiwang/app/desktop"
)

func main() { os.Exit(desktop.Run(os.Args[1:])) }
