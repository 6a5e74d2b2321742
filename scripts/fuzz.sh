#!/usr/bin/env bash
# Runs every Go fuzz target for a bounded time (FUZZTIME, default 10s each).
#
# Go 1.26's fuzz coordinator can report "context deadline exceeded" at the
# -fuzztime boundary when a starved worker has not acknowledged in time
# (golang/go#75804, fixed in Go 1.27): no input failed and nothing is
# written to testdata/fuzz. Such a run is retried once; a run that wrote a
# failing input, panicked or failed any other way fails at once.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZTIME=${FUZZTIME:-10s}
status=0
deadline_flake() {
  grep -q 'context deadline exceeded' "$1" && ! grep -qiE 'failing input written|panic:' "$1"
}
while IFS= read -r line; do
  file=${line%%:*}
  name=$(sed -E 's/.*func (Fuzz[A-Za-z0-9_]*).*/\1/' <<<"$line")
  pkg=./$(dirname "$file")
  echo "fuzz: $pkg $name ($FUZZTIME)"
  log=/tmp/fuzz-$name.log
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1; then
    continue
  fi
  if deadline_flake "$log"; then
    echo "fuzz: $name hit the fuzztime deadline race (golang/go#75804) without a failing input; retrying once"
    if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" >"$log" 2>&1; then
      continue
    fi
  fi
  tail -30 "$log"
  status=1
done < <(grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | grep -v node_modules | sort)
exit $status
