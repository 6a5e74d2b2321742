#!/usr/bin/env bash
# Cold start time and idle RSS of `yiwang serve` (docs/bench-app.md):
#   scripts/bench-app.sh [path-to-yiwang-binary]
# Environment:
#   RUNS=3        restarts measured per data directory
#   IDLE=30       seconds of idleness before reading the resident set
#   DATA_1M=DIR   also measure a large data directory, e.g. the one the list
#                 benchmark leaves with YIWANG_BENCH_DIR (1,000,000 users);
#                 the server runs on it in place (it is not copied)
# Start time is from exec to the first 200 of /api/health reporting
# state "leader" (polled every 10 ms). The first start of an empty
# directory includes creating the demo county; "restart" reopens it.
# The OS page cache is not dropped (a shared machine): "cold" means a new
# process, not an empty cache. Prints one line per measurement and the load
# average next to it.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
IDLE=${IDLE:-30}
work=$(mktemp -d /tmp/yiwang-bench-app.XXXXXX)
BIN=${1:-}
if [ -z "$BIN" ]; then
  BIN=$work/yiwang
  echo "bench-app: building $BIN"
  CGO_ENABLED=0 go build -o "$BIN" .
fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
now_ms() { date +%s%3N; }
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start DATA [extra flags...]: starts the server, waits for health, sets
# pid, base and started_ms.
start() {
  local data=$1; shift
  local hp mp t0 i
  hp=$(port); mp=$(port)
  base="http://127.0.0.1:$hp"
  t0=$(now_ms)
  "$BIN" serve --data "$data" --http "127.0.0.1:$hp" --mqtt "127.0.0.1:$mp" "$@" >>"$work/server.log" 2>&1 &
  pid=$!
  for i in $(seq 1 12000); do
    if curl -fsS "$base/api/health" 2>/dev/null | grep -q '"state":"leader"'; then
      started_ms=$(( $(now_ms) - t0 ))
      return 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then tail -30 "$work/server.log"; echo "bench-app: server exited" >&2; exit 1; fi
    sleep 0.01
  done
  echo "bench-app: not ready after 120 s" >&2; exit 1
}
stop() {
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
}
rss() { awk -v k="$1:" '$1==k {printf "%.1f MB", $2/1024}' "/proc/$pid/status"; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

measure() { # label data [flags...]
  local label=$1 data=$2; shift 2
  start "$data" "$@"
  local own
  own=$(grep -o 'ready in [0-9.]*m\?s' "$work/server.log" | tail -1)
  echo "start $label: ${started_ms} ms to leader health; server log: ${own:-?} (load $(load))"
}

echo "bench-app: $(date -u '+%F %T') UTC, $(nproc) cores, $("$BIN" version 2>/dev/null | head -1)"
demo=$work/demo
measure "first run, empty dir + demo county" "$demo" --demo
sleep "$IDLE"
echo "idle RSS after ${IDLE}s (demo county): $(rss VmRSS), peak $(rss VmHWM) (load $(load))"
stop
for r in $(seq 1 "$RUNS"); do
  measure "restart $r, demo county" "$demo" --demo
  stop
done
if [ -n "${DATA_1M:-}" ]; then
  for r in $(seq 1 "$RUNS"); do
    measure "restart $r, $DATA_1M" "$DATA_1M"
    if [ "$r" = 1 ]; then
      sleep "$IDLE"
      echo "idle RSS after ${IDLE}s ($DATA_1M): $(rss VmRSS), peak $(rss VmHWM) (load $(load))"
    fi
    stop
  done
fi
