#!/bin/sh
# CI: rebuild the console from the sources into a temporary directory and
# fail if it differs from the committed frontend/dist. Needs Node and npm.
#   frontend/check-dist.sh        (runs npm ci first when node_modules is absent)
set -eu
cd "$(dirname "$0")"
if [ ! -d node_modules ] || [ "${CHECK_DIST_CI:-}" = 1 ]; then npm ci --no-audit --no-fund >/dev/null; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
npx vite build --outDir "$tmp/dist" --emptyOutDir >/dev/null
if diff -r "$tmp/dist" dist >"$tmp/diff.txt"; then
  echo "frontend/dist matches the sources"
else
  head -50 "$tmp/diff.txt"
  echo "frontend/dist is stale or the build is not deterministic: run 'make frontend' (or frontend/build.sh) and commit frontend/dist" >&2
  exit 1
fi
