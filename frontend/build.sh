#!/bin/sh
# Rebuild the console into frontend/dist (what `make frontend` runs).
#   frontend/build.sh          npm ci + typecheck + unit tests + build
#   frontend/build.sh --fast   skip typecheck and tests
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund
if [ "${1:-}" != "--fast" ]; then
  npx vue-tsc --noEmit
  npx vitest run
fi
start=$(date +%s)
npx vite build
echo "frontend: built in $(( $(date +%s) - start ))s; gzip total of dist/assets: $(cat dist/assets/*.js dist/assets/*.css | gzip -9 | wc -c) bytes"
