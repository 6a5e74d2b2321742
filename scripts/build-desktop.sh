#!/usr/bin/env bash
# Build the yiwang desktop app (Wails v2, app/desktop) into dist/:
#   dist/yiwang-desktop-linux-amd64      cgo + libwebkit2gtk-4.1
#                                        (-tags desktop,production,webkit2_41)
#   dist/yiwang-desktop-windows-amd64.exe pure Go cross-compile (WebView2)
#                                        (CGO_ENABLED=0 GOOS=windows -tags desktop,production)
# No wails CLI and no download: plain go build with the tags.
#
#   scripts/build-desktop.sh            # both
#   scripts/build-desktop.sh linux      # or: windows
#
# Needs for Linux: gcc, pkg-config, libwebkit2gtk-4.1-dev (apt). Windows
# needs nothing extra; the .exe runs on Windows 10/11 with the WebView2
# runtime (preinstalled on Windows 11, installable offline on 10).
# Timings on the 2-core dev VM (2026-11-22, shared with other builds):
#   empty GOCACHE: linux 156 s (cgo webkit bindings + all of yiwang), then
#   windows 60 s (std + deps for windows); warm cache: linux 10 s, windows 7 s.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p dist
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
LDFLAGS="-s -w -X github.com/yiwang/yiwang/app.version=$VERSION"
targets=${*:-linux windows}

for t in $targets; do
	t0=$(date +%s)
	case $t in
	linux)
		out=dist/yiwang-desktop-linux-amd64
		CGO_ENABLED=1 go build -trimpath -tags desktop,production,webkit2_41 -ldflags "$LDFLAGS" -o "$out" ./app/desktop/cmd/yiwang-desktop
		;;
	windows)
		out=dist/yiwang-desktop-windows-amd64.exe
		CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -tags desktop,production -ldflags "$LDFLAGS -H windowsgui" -o "$out" ./app/desktop/cmd/yiwang-desktop
		;;
	*)
		echo "build-desktop: unknown target $t (linux or windows)" >&2
		exit 2
		;;
	esac
	echo "build-desktop: $out ($(du -h "$out" | cut -f1)) in $(( $(date +%s) - t0 ))s"
done
