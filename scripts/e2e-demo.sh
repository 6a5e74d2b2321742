#!/usr/bin/env bash
# End-to-end browser test against a real `yiwang serve --demo`:
#   scripts/e2e-demo.sh [path-to-yiwang-binary]
# Starts the server on 127.0.0.1 with a fresh data dir, reads the demo
# accounts it prints once, and drives Debian's Chromium through
# scripts/e2e/run.sh (playwright-core). Prints the screenshot folder.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-./yiwang}
[ -x "$BIN" ] || { echo "e2e: build the binary first (make build)" >&2; exit 2; }
work=$(mktemp -d /tmp/yiwang-e2e-run.XXXXXX)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
HTTP_PORT=$(port); MQTT_PORT=$(port)
"$BIN" serve --demo --data "$work/data" --http "127.0.0.1:$HTTP_PORT" --mqtt "127.0.0.1:$MQTT_PORT" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null || true' EXIT
base="http://127.0.0.1:$HTTP_PORT"
for i in $(seq 1 120); do
  if curl -fsS "$base/api/health" >/dev/null 2>&1 && grep -q '^====$' "$work/server.log"; then break; fi
  if ! kill -0 $pid 2>/dev/null; then cat "$work/server.log"; echo "e2e: server exited" >&2; exit 1; fi
  sleep 0.5
done
# The demo prints: username  role  title  password (once, between ==== lines).
accounts=$(awk '/demo accounts/{on=1; next} on && /^====$/{on=0} on && !/^username/ {print $1, $2, $NF}' "$work/server.log")
[ -n "$accounts" ] || { cat "$work/server.log"; echo "e2e: no demo accounts printed" >&2; exit 1; }
pw_of() { awk -v r="$1" '$2==r {print $1":"$3; exit}' <<<"$accounts"; }
admin=$(pw_of admin)
export E2E_OUT=${E2E_OUT:-$work/screenshots}
echo "e2e: server $base, screenshots in $E2E_OUT"
roles=""
for r in commander operator handler grid_worker leader viewer; do
  a=$(pw_of $r); [ -n "$a" ] && roles="$roles${roles:+;}$a"
done
export E2E_ROLES_RAW="$roles"
# Live check: a water-level reading published over MQTT by a demo device
# (its secret rotated through the API, as an integrator would) must change
# the river_level indicator on /screen within E2E_LIVE_TIMEOUT_MS (2 s).
if command -v mosquitto_pub >/dev/null 2>&1; then
  token=$(curl -fsS -XPOST "$base/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"${admin%%:*}\",\"password\":\"${admin#*:}\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  dev=sim-wl-0001
  secret=$(curl -fsS -XPOST "$base/api/v1/devices/$dev/secret" -H "Authorization: Bearer $token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
  # A level above every demo reading (and the 3.0 m alarm line), different each run.
  level=$(python3 -c 'import random; print(round(3.3 + random.random(), 3))')
  export E2E_LIVE_CMD="mosquitto_pub -h 127.0.0.1 -p $MQTT_PORT -i $dev -u $dev -P '$secret' -q 1 -t yw/$dev/telemetry -m '{\"values\":{\"water_level\":$level}}'"
  export E2E_LIVE_INDICATOR=river_level
  echo "e2e: live check publishes water_level=$level as $dev"
elif [ -n "${CI:-}" ]; then
  echo "e2e: mosquitto_pub missing (apt-get install mosquitto-clients)" >&2; exit 2
else
  echo "e2e: SKIP live MQTT check (no mosquitto_pub)"
fi
export E2E_DUTY=1
export E2E_KB=1
# The demo county starts with a few sensors past their alarm rules.
export E2E_MIN_ALARMS=${E2E_MIN_ALARMS:-1}
scripts/e2e/run.sh "$base" "${admin%%:*}" "${admin#*:}"
# Module pages: an operator works a case (list → detail → register, intake
# form); an admin follows a device live (detail, chart, malformed count,
# secret rotation, rule errors, alarm acknowledge, map).
operator=$(pw_of operator)
(cd scripts/e2e && E2E_BASE_URL="$base" E2E_USER="${operator%%:*}" E2E_PASS="${operator#*:}" node cases.mjs)
(cd scripts/e2e && E2E_BASE_URL="$base" E2E_USER="${admin%%:*}" E2E_PASS="${admin#*:}" E2E_MQTT="127.0.0.1:$MQTT_PORT" node iot.mjs)
# Plugins page: the example decoder, built with the standard Go toolchain
# and packed unsigned, installed through the console with the override.
plug=$work/plugin
mkdir -p "$plug"
cp plugins/examples/decoder/plugin.json "$plug/"
(cd plugins/examples/decoder && GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o "$plug/plugin.wasm" .)
"$BIN" plugin pack "$plug" >/dev/null
ywp=$(ls "$plug"/*.ywp)
(cd scripts/e2e && E2E_BASE_URL="$base" E2E_USER="${admin%%:*}" E2E_PASS="${admin#*:}" E2E_YWP="$ywp" node plugins.mjs)
echo "e2e: screenshots saved in $E2E_OUT"
