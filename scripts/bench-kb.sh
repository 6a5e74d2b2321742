#!/usr/bin/env bash
# The knowledge base end to end, the way a county uses it (search/BENCHMARKS.md):
#   scripts/bench-kb.sh [path-to-yiwang-binary]
# Starts `yiwang serve` on a fresh data directory (no demo), imports the
# corpus folder with `yiwang kb import` (which waits until the server has
# indexed everything), reports the import's wall time, the server's peak
# RSS and the sizes on disk, then runs the corpus benchmark's short
# queries and 1,000-character Related texts through the HTTP API one at a
# time (scripts/kbload). Environment: CORPUS (default ../shared/corpus/laws).
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-../shared/corpus/laws}
[ -d "$CORPUS" ] || { echo "bench-kb: no corpus at $CORPUS" >&2; exit 1; }
work=$(mktemp -d /tmp/yiwang-bench-kb.XXXXXX)
BIN=${1:-}
if [ -z "$BIN" ]; then
  BIN=$work/yiwang
  CGO_ENABLED=0 go build -o "$BIN" .
fi
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
load() { cut -d' ' -f1-3 /proc/loadavg; }
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

data=$work/data
hp=$(port); mp=$(port)
"$BIN" serve --data "$data" --http "127.0.0.1:$hp" --mqtt "127.0.0.1:$mp" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  curl -fsS "http://127.0.0.1:$hp/api/health" 2>/dev/null | grep -q '"state":"leader"' && break
  kill -0 "$pid" 2>/dev/null || { tail -30 "$work/server.log"; echo "bench-kb: server exited" >&2; exit 1; }
  sleep 0.1
done
mb=$(du -sm --apparent-size "$CORPUS" | cut -f1)
echo "bench-kb: $(date -u '+%F %T') UTC, $(nproc) cores, corpus $CORPUS ($mb MB on disk), load $(load)"
t0=$(date +%s%3N)
# exits 1 when files are refused (the corpus has 27 without text); the
# summary says how many
rc=0
"$BIN" kb import --data "$data" --json ${JOBS:+--jobs $JOBS} "$CORPUS" >"$work/import.json" 2>"$work/import.err" || rc=$?
t1=$(date +%s%3N)
if [ ! -s "$work/import.json" ]; then cat "$work/import.err" >&2; echo "bench-kb: import failed ($rc)" >&2; exit 1; fi
python3 - "$work/import.json" "$CORPUS" $((t1 - t0)) <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
ms = int(sys.argv[3])
mb = 0
for root, _, files in os.walk(sys.argv[2]):
    for f in files:
        if f.endswith(".md"):
            mb += os.path.getsize(os.path.join(root, f)) / 1e6
counts = {k: (len(v) if isinstance(v, list) else v) for k, v in s.items() if k in ("imported", "skipped", "refused")}
print(f"import: {counts}; {mb:.1f} MB of Markdown in {ms/1000:.1f} s = {mb/(ms/1000):.2f} MB/s (upload to searchable)")
PY
echo "server: peak RSS $(awk '$1=="VmHWM:" {printf "%.0f MB", $2/1024}' /proc/$pid/status), now $(awk '$1=="VmRSS:" {printf "%.0f MB", $2/1024}' /proc/$pid/status); load $(load)"
echo "disk: $(du -sm "$data" | cut -f1) MB data directory: $(cd "$data" && du -sm ./* | sort -rn | head -4 | tr '\n\t' '; ')"
go run ./scripts/kbload --data "$data" --corpus "$CORPUS"
echo "load after: $(load)"
