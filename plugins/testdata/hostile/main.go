//go:build wasip1

// Command hostile is a test fixture: a decoder whose device type selects a
// misbehaviour. The tests pack the same binary under several manifests.
package main

import (
	"errors"
	"os"
	"strings"

	"github.com/yiwang/yiwang/plugins/sdk"
)

var hoard [][]byte

func init() {
	sdk.HandleDecode(func(deviceType string, p []byte) (sdk.Telemetry, error) {
		switch deviceType {
		case "loop":
			n := 0
			for {
				n++
			}
		case "membomb":
			for {
				hoard = append(hoard, make([]byte, 8<<20))
			}
		case "panic":
			panic("hostile plugin panics")
		case "exit":
			os.Exit(3)
		case "readfile":
			b, err := os.ReadFile("/etc/passwd")
			if err != nil {
				return sdk.Telemetry{}, errors.New("readfile: " + err.Error())
			}
			return sdk.Telemetry{Values: map[string]any{"passwd": string(b)}}, nil
		case "http":
			_, err := sdk.HTTP(sdk.HTTPRequest{Method: "GET", URL: string(p)})
			if err != nil {
				return sdk.Telemetry{}, errors.New("http: " + err.Error())
			}
			return sdk.Telemetry{Values: map[string]any{"leaked": true}}, nil
		case "clock":
			return sdk.Telemetry{Values: map[string]any{"now": sdk.Now().UnixNano()}}, nil
		}
		return sdk.Telemetry{Values: map[string]any{"echo": strings.ToUpper(string(p))}}, nil
	})
}

func main() {}
