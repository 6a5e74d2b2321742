// Command yiwang is a county's whole 一网统管 platform in one binary.
package main

import (
	"os"

	"github.com/yiwang/yiwang/app"
)

func main() { os.Exit(app.Main(os.Args[1:])) }
