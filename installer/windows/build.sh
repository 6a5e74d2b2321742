#!/usr/bin/env bash
# installer/windows/build.sh VERSION SERVER_EXE [DESKTOP_EXE] OUTFILE
# Builds the yiwang Windows setup with makensis. DESKTOP_EXE may be "" (server
# only). Signs yiwang.exe, yiwang-desktop.exe, the uninstaller and the setup
# with osslsigncode when a certificate is configured (see sign.sh).
set -euo pipefail
if [ $# -ne 4 ]; then
	echo "usage: $0 VERSION SERVER_EXE DESKTOP_EXE|'' OUTFILE" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
VERSION=$1 SERVER_EXE=$2 DESKTOP_EXE=$3 OUTFILE=$4
abs() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
[ -f "$SERVER_EXE" ] || { echo "build.sh: $SERVER_EXE not found" >&2; exit 1; }
command -v makensis >/dev/null || { echo "build.sh: makensis not installed (apt-get install nsis)" >&2; exit 1; }
mkdir -p "$(dirname "$OUTFILE")"
OUTFILE=$(abs "$OUTFILE")

# The version resource needs four numbers: 1.2.3+4.gabc → 1.2.3.4, 0.0.0+git.12.abc → 0.0.0.12.
nums=$(echo "$VERSION" | grep -oE '[0-9]+' | head -n4 | tr '\n' ' ')
set -- $nums 0 0 0 0
VIVERSION="$1.$2.$3.$4"

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
cp "$SERVER_EXE" "$STAGE/yiwang.exe"
args=(-V2 -INPUTCHARSET UTF8 "-DVERSION=$VERSION" "-DVIVERSION=$VIVERSION"
	"-DSERVER_EXE=$STAGE/yiwang.exe" "-DOUTFILE=$OUTFILE")
if [ -n "$DESKTOP_EXE" ]; then
	[ -f "$DESKTOP_EXE" ] || { echo "build.sh: $DESKTOP_EXE not found" >&2; exit 1; }
	cp "$DESKTOP_EXE" "$STAGE/yiwang-desktop.exe"
	args+=("-DDESKTOP_EXE=$STAGE/yiwang-desktop.exe")
fi
if "$HERE/sign.sh" --configured; then
	for f in "$STAGE"/*.exe; do "$HERE/sign.sh" "$f"; done
	args+=("-DSIGN_CMD=$HERE/sign.sh")
fi
makensis "${args[@]}" "$HERE/yiwang.nsi"
echo "build.sh: wrote $OUTFILE ($(du -h "$OUTFILE" | cut -f1))"
