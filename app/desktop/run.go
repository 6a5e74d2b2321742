//go:build desktop

package desktop

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/wailsapp/wails/v2"
	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/options/windows"
	wruntime "github.com/wailsapp/wails/v2/pkg/runtime"
)

// Run runs the desktop app with args (without the program name) and
// returns the exit code.
//
//	yiwang-desktop [--mode standalone|client] [--server URL] [--data DIR]
//	               [--mqtt ADDR] [--demo] [--settings FILE] [--smoke-report FILE]
//
// Flags (and YIWANG_DESKTOP_* variables) override the remembered settings
// for this run only; without a mode the window opens the chooser.
func Run(args []string) int {
	fs := flag.NewFlagSet("yiwang-desktop", flag.ContinueOnError)
	mode := fs.String("mode", "", "standalone or client (default: remembered, else ask)")
	server := fs.String("server", "", "county server URL (client mode)")
	data := fs.String("data", "", "data directory (standalone mode; default "+DefaultDataDir()+")")
	mqtt := fs.String("mqtt", "", "MQTT listen address of the embedded broker (standalone; default :1883)")
	demo := fs.Bool("demo", false, "seed the demo county in a fresh standalone data dir")
	settingsPath := fs.String("settings", DefaultSettingsPath(), "file the chosen mode is remembered in")
	smoke := fs.String("smoke-report", "", "write the page's DOM probe to FILE every second (smoke test)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	// webkit2gtk's DMA-BUF renderer gives a blank window on many GPUs,
	// VMs and X servers without DRI (Xvfb); the shared-memory path is
	// plenty for a console.
	if runtime.GOOS == "linux" && os.Getenv("WEBKIT_DISABLE_DMABUF_RENDERER") == "" {
		os.Setenv("WEBKIT_DISABLE_DMABUF_RENDERER", "1")
	}
	sh, err := NewShell(Options{
		SettingsPath: *settingsPath,
		Env:          os.Environ(),
		Override: func(s *Settings) {
			if *mode != "" {
				s.Mode = *mode
			}
			if *server != "" {
				s.ServerURL = *server
			}
			if *data != "" {
				s.DataDir = *data
			}
			if *mqtt != "" {
				s.MQTT = *mqtt
			}
			if *demo {
				s.Demo = true
			}
		},
		Out:         os.Stdout,
		SmokeReport: *smoke,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "yiwang-desktop:", err)
		return 1
	}
	defer sh.Close()

	err = wails.Run(&options.App{
		Title:     "一网统管 yiwang",
		Width:     1366,
		Height:    768,
		MinWidth:  1024,
		MinHeight: 640,
		AssetServer: &assetserver.Options{
			Handler: sh.Handler(),
		},
		BackgroundColour: &options.RGBA{R: 240, G: 242, B: 245, A: 255},
		OnStartup: func(ctx context.Context) {
			sh.SetEmitter(func(name string, data any) { wruntime.EventsEmit(ctx, name, data) })
			if *smoke != "" {
				// YIWANG_DESKTOP_SMOKE_LOGIN=user:password logs in once the
				// login page is up (client-mode smoke with the live banner).
				login := os.Getenv("YIWANG_DESKTOP_SMOKE_LOGIN")
				// YIWANG_DESKTOP_SMOKE_CHOOSE=standalone|client=URL submits
				// the first-start chooser form in the window.
				choose := os.Getenv("YIWANG_DESKTOP_SMOKE_CHOOSE")
				go func() {
					for ctx.Err() == nil {
						if choose != "" && sh.Settings().Mode == "" && sh.ProbePath() == "/" {
							wruntime.WindowExecJS(ctx, SmokeChooseJS(choose))
							choose = ""
						}
						if user, pw, ok := strings.Cut(login, ":"); ok && sh.ProbePath() == "/login" {
							wruntime.WindowExecJS(ctx, SmokeLoginJS(user, pw))
							login = ""
						}
						time.Sleep(time.Second)
						wruntime.EventsEmit(ctx, EventLive, map[string]any{"type": "desktop.smoke", "time": time.Now().UTC().Format(time.RFC3339)})
						wruntime.WindowExecJS(ctx, SmokeProbeJS)
					}
				}()
			}
		},
		OnShutdown: func(context.Context) { _ = sh.Close() },
		Linux: &linux.Options{
			ProgramName:      "yiwang-desktop",
			WebviewGpuPolicy: linux.WebviewGpuPolicyOnDemand,
		},
		Windows: &windows.Options{},
		Logger:  nil,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "yiwang-desktop:", err)
		return 1
	}
	return 0
}
