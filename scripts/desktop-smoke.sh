#!/usr/bin/env bash
# Desktop smoke test (issue 8): build the Linux desktop app (cgo,
# -tags desktop,production,webkit2_41), run it under Xvfb in standalone mode
# against a temp data dir, wait for the embedded server's health, take a
# screenshot and check that the console's login page rendered (DOM probe,
# proxy log, pixels). Then cross-compile the Windows .exe and check it is a
# PE file, and check the server binary does not depend on Wails.
#
# Needs: go, gcc, pkg-config, libwebkit2gtk-4.1-dev, xvfb (xvfb-run), xauth,
# x11-apps (xwd), imagemagick (convert), curl.
#
#   scripts/desktop-smoke.sh            # artifacts in a new /tmp folder (printed)
#   SMOKE_OUT=dir scripts/desktop-smoke.sh
#   YW_DESKTOP_BIN=path   skip the Linux build and test this binary
#   SMOKE_SKIP_WINDOWS=1  skip the Windows cross-compile
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${SMOKE_OUT:-$(mktemp -d /tmp/yw-desktop-smoke.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
echo "desktop-smoke: artifacts in $OUT"

fail() { echo "desktop-smoke: FAIL: $*" >&2; [ -f "$OUT/desktop.log" ] && tail -40 "$OUT/desktop.log" >&2; exit 1; }
for tool in go xvfb-run xauth xwd convert curl; do
	command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install xvfb xauth x11-apps imagemagick curl libwebkit2gtk-4.1-dev)"
done

# 1. The server must not depend on Wails.
if go list -deps . | grep -q '^github.com/wailsapp/'; then
	fail "the server binary (go list -deps .) imports github.com/wailsapp"
fi
echo "desktop-smoke: server binary has no Wails dependency"

# 2. Build the Linux desktop binary.
BIN=${YW_DESKTOP_BIN:-}
if [ -z "$BIN" ]; then
	BIN="$OUT/yiwang-desktop"
	t0=$(date +%s)
	CGO_ENABLED=1 go build -tags desktop,production,webkit2_41 -o "$BIN" ./app/desktop/cmd/yiwang-desktop || fail "linux desktop build"
	echo "desktop-smoke: linux build took $(( $(date +%s) - t0 ))s ($(du -h "$BIN" | cut -f1))"
fi

# 3. Run it under Xvfb (standalone, demo county, temp data dir, settings
# file in the temp dir so no first-start chooser and no ~/.config writes).
cat > "$OUT/inside-xvfb.sh" <<'INNER'
#!/usr/bin/env bash
set -u
OUT=$1 BIN=$2
export LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
"$BIN" --mode standalone --data "$OUT/data" --settings "$OUT/settings.json" \
	--mqtt 127.0.0.1:0 --demo --smoke-report "$OUT/dom.json" >"$OUT/desktop.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null' EXIT
url=""
for _ in $(seq 1 120); do
	kill -0 $pid 2>/dev/null || { echo "inside: the app exited" >&2; exit 3; }
	url=$(sed -n 's/.*standalone server on \(http:[^,]*\),.*/\1/p' "$OUT/desktop.log" | head -1)
	[ -n "$url" ] && curl -fsS "$url/api/health" >"$OUT/health.json" 2>/dev/null && break
	sleep 0.5
done
[ -s "$OUT/health.json" ] || { echo "inside: no server health" >&2; exit 4; }
echo "inside: server healthy at $url: $(cat "$OUT/health.json")"
for _ in $(seq 1 120); do
	grep -q '"password":true' "$OUT/dom.json" 2>/dev/null && break
	sleep 0.5
done
sleep 2 # let fonts and styles settle
xwd -root -silent | convert xwd:- png:"$OUT/shot.png"
INNER
chmod +x "$OUT/inside-xvfb.sh"
t0=$(date +%s)
xvfb-run -a -s "-screen 0 1366x768x24" "$OUT/inside-xvfb.sh" "$OUT" "$BIN" || fail "run under Xvfb (exit $?)"
echo "desktop-smoke: window up and screenshot taken in $(( $(date +%s) - t0 ))s"

# 4. Checks: the DOM, the proxy log, the pixels.
[ -f "$OUT/dom.json" ] || fail "the page never reported its DOM (blank window?)"
echo "desktop-smoke: dom: $(cat "$OUT/dom.json")"
grep -q '"path":"/login"' "$OUT/dom.json" || fail "the page is not /login"
grep -q '"password":true' "$OUT/dom.json" || fail "no password field on the page"
grep -q '"runtime":true' "$OUT/dom.json" || fail "window.runtime (Wails) missing: live events would not reach the console"
grep -q '登录' "$OUT/dom.json" || fail "the login page text is missing"
grep -Eq '"events":[1-9]' "$OUT/dom.json" || fail "the page received no yw:event runtime event (live updates would not reach the console)"
grep -q 'desktop: proxy GET / 200' "$OUT/desktop.log" || fail "index.html was not served through the proxy"
grep -Eq 'desktop: proxy GET /assets/Login-[^ ]*\.js 200' "$OUT/desktop.log" || fail "the login bundle was not loaded"
[ -f "$OUT/shot.png" ] || fail "no screenshot"
colours=$(convert "$OUT/shot.png" -format %k info:)
# Share of the most common colour (a blank window is one colour).
top=$(convert "$OUT/shot.png" -format %c histogram:info:- | awk '$1+0 > max {max = $1+0} END {print max+0}')
total=$((1366 * 768))
share=$(( 100 * top / total ))
echo "desktop-smoke: screenshot $OUT/shot.png: $colours colours, most common colour covers ${share}%"
[ "$colours" -ge 64 ] || fail "screenshot has only $colours colours: blank window?"
[ "$share" -le 90 ] || fail "one colour covers ${share}% of the screen: blank window?"
# The login page's known look at 1366x768: a white card in the middle on a
# dark blue background.
lum() { convert "$OUT/shot.png" -crop "1x1+$1+$2" -format '%[fx:int(255*luminance)]' info:; }
card=$(lum 860 300) bg=$(lum 50 700)
echo "desktop-smoke: luminance of the login card $card (want > 230), of the background $bg (want < 90)"
[ "$card" -gt 230 ] && [ "$bg" -lt 90 ] || fail "the screenshot does not look like the login page (card $card, background $bg)"

# 5. First start: no remembered mode shows the chooser; submitting it
# (standalone) in the window saves the choice and opens the console's
# first-run setup page on the fresh data dir.
cat > "$OUT/inside-xvfb-first.sh" <<'INNER'
#!/usr/bin/env bash
set -u
OUT=$1 BIN=$2
export LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
YIWANG_DESKTOP_DATA="$OUT/data-first" YIWANG_DESKTOP_MQTT=127.0.0.1:0 YIWANG_DESKTOP_SMOKE_CHOOSE=standalone \
	"$BIN" --settings "$OUT/first-settings.json" --smoke-report "$OUT/dom-first.json" >"$OUT/desktop-first.log" 2>&1 &
app=$!
trap 'kill $app 2>/dev/null; wait $app 2>/dev/null' EXIT
for _ in $(seq 1 120); do grep -q '"path":"/setup"' "$OUT/dom-first.json" 2>/dev/null && break; sleep 0.5; done
sleep 1
xwd -root -silent | convert xwd:- png:"$OUT/shot-first-setup.png"
INNER
chmod +x "$OUT/inside-xvfb-first.sh"
xvfb-run -a -s "-screen 0 1366x768x24" "$OUT/inside-xvfb-first.sh" "$OUT" "$BIN" || fail "first start (exit $?)"
grep -q '选择运行方式' "$OUT/desktop-first.log" || fail "first start did not show the mode chooser"
grep -q '"path":"/setup"' "$OUT/dom-first.json" || fail "after choosing standalone the setup page did not open: $(cat "$OUT/dom-first.json")"
grep -q '"mode": "standalone"' "$OUT/first-settings.json" || fail "the chosen mode was not remembered"
echo "desktop-smoke: first start: chooser → standalone remembered → setup page ($OUT/shot-first-setup.png)"

# 6. Client mode against a real `yiwang serve` (SMOKE_SKIP_CLIENT=1 skips):
# log in inside the window, a write on the server reaches the page as a
# yw:event, then the server goes away (red banner) and comes back.
if [ "${SMOKE_SKIP_CLIENT:-}" != 1 ]; then
	SRV=${YW_SERVER_BIN:-}
	if [ -z "$SRV" ]; then
		SRV="$OUT/yiwang"
		CGO_ENABLED=0 go build -o "$SRV" . || fail "server build"
	fi
	cat > "$OUT/inside-xvfb-client.sh" <<'INNER'
#!/usr/bin/env bash
set -u
OUT=$1 BIN=$2 SRV=$3
export LIBGL_ALWAYS_SOFTWARE=1 NO_AT_BRIDGE=1
port=$(( 20000 + RANDOM % 20000 ))
url="http://127.0.0.1:$port"
serve() { "$SRV" serve --data "$OUT/server-data" --http "127.0.0.1:$port" --mqtt 127.0.0.1:0 --demo >>"$OUT/server.log" 2>&1 & srv=$!; }
healthy() { for _ in $(seq 1 120); do curl -fsS "$url/api/health" >/dev/null 2>&1 && return 0; sleep 0.5; done; return 1; }
dom() { cat "$OUT/dom-client.json" 2>/dev/null; }
waitdom() { for _ in $(seq 1 "$2"); do dom | grep -Eq "$1" && return 0; sleep 0.5; done; echo "inside: page never matched $1: $(dom)" >&2; return 1; }
serve
trap 'kill $srv $app 2>/dev/null; wait 2>/dev/null' EXIT
healthy || { echo "inside: server did not start" >&2; exit 4; }
pw=$(awk '$1 == "admin" && $2 == "admin" {print $NF; exit}' "$OUT/server.log")
[ -n "$pw" ] || { echo "inside: no demo admin password in server.log" >&2; exit 4; }
YIWANG_DESKTOP_SMOKE_LOGIN="admin:$pw" "$BIN" --mode client --server "$url" --settings "$OUT/client-settings.json" \
	--smoke-report "$OUT/dom-client.json" >"$OUT/desktop-client.log" 2>&1 &
app=$!
waitdom '"path":"/(home)?"' 120 || exit 5
waitdom '"password":false' 20 || exit 5
sleep 2
tok=$(curl -fsS -XPOST "$url/api/v1/auth/login" -H 'Content-Type: application/json' -d "{\"username\":\"admin\",\"password\":\"$pw\"}" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
curl -fsS -XPOST "$url/api/v1/departments" -H 'Content-Type: application/json' -H "Authorization: Bearer $tok" -d '{"name":"桌面冒烟测试局","kind":"bureau"}' >/dev/null || exit 6
waitdom '"live":[1-9]' 20 || exit 6
echo "inside: logged in, live event reached the page: $(dom)"
xwd -root -silent | convert xwd:- png:"$OUT/shot-client.png"
kill $srv; wait $srv 2>/dev/null
waitdom '"banner":true' 60 || exit 7
echo "inside: server stopped, banner shown"
xwd -root -silent | convert xwd:- png:"$OUT/shot-client-away.png"
serve
healthy || exit 8
waitdom '"banner":false' 60 || exit 8
echo "inside: server back, banner gone"
INNER
	chmod +x "$OUT/inside-xvfb-client.sh"
	t0=$(date +%s)
	xvfb-run -a -s "-screen 0 1366x768x24" "$OUT/inside-xvfb-client.sh" "$OUT" "$BIN" "$SRV" || {
		tail -20 "$OUT/desktop-client.log" >&2; fail "client mode (exit $?)"; }
	echo "desktop-smoke: client mode ok in $(( $(date +%s) - t0 ))s (screenshots $OUT/shot-client.png, $OUT/shot-client-away.png)"
fi

# 7. The Windows .exe cross-compiles (pure Go) and is a PE file.
if [ "${SMOKE_SKIP_WINDOWS:-}" != 1 ]; then
	t0=$(date +%s)
	CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -tags desktop,production -ldflags "-H windowsgui" \
		-o "$OUT/yiwang-desktop.exe" ./app/desktop/cmd/yiwang-desktop || fail "windows cross-compile"
	[ "$(head -c2 "$OUT/yiwang-desktop.exe")" = MZ ] || fail "yiwang-desktop.exe has no MZ header"
	peoff=$(od -An -tu4 -j60 -N4 "$OUT/yiwang-desktop.exe" | tr -d ' ')
	[ "$(od -An -c -j"$peoff" -N4 "$OUT/yiwang-desktop.exe" | tr -d ' ')" = 'PE\0\0' ] || fail "yiwang-desktop.exe has no PE signature"
	echo "desktop-smoke: windows .exe cross-compiled in $(( $(date +%s) - t0 ))s, PE file ($(du -h "$OUT/yiwang-desktop.exe" | cut -f1))"
fi
echo "desktop-smoke: PASS (screenshot: $OUT/shot.png)"
