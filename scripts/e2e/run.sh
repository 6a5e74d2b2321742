#!/bin/sh
# Usage: scripts/e2e/run.sh BASE_URL USER PASSWORD
#   e.g. scripts/e2e/run.sh http://127.0.0.1:8080 admin 'the-one-time-password'
# More knobs (extra roles, live-update check, output folder) are environment
# variables documented at the top of e2e.mjs. Prints the screenshot folder.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -ge 1 ]; then E2E_BASE_URL=$1; export E2E_BASE_URL; fi
if [ $# -ge 2 ]; then E2E_USER=$2; export E2E_USER; fi
if [ $# -ge 3 ]; then E2E_PASS=$3; export E2E_PASS; fi
: "${CHROMIUM:=/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  echo "e2e: $CHROMIUM not found (apt-get install chromium)" >&2
  exit 2
fi
export CHROMIUM
cd "$here"
# playwright-core only: it never downloads a browser.
if [ ! -d node_modules/playwright-core ]; then npm ci --no-audit --no-fund >/dev/null; fi
exec node e2e.mjs
