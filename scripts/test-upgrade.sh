#!/usr/bin/env bash
# scripts/test-upgrade.sh — a data directory written by the previous release
# opens with the current binary: migrations run, the data is kept and served,
# the audit chain stays intact; the previous binary then refuses or survives
# the migrated directory as docs/cluster.md says.
#
# The previous release is the commit in installer/testdata/upgrade/
# previous-commit (the last build before the operations work, 2026-11-22).
# Its data dir is kept as test data (installer/testdata/upgrade/data.tar.gz
# with manifest.env: what it holds). With git history, the previous binary is
# built from that commit in a `git worktree` (cached in
# ${XDG_CACHE_HOME:-~/.cache}/yiwang-upgrade); REGENERATE=1 also re-creates
# the test data with it. Without git history the test data alone is used and
# the checks that need the previous binary are skipped.
#
# Environment: YIWANG_BIN (the current binary; default: built here),
# REGENERATE=1, HEALTH_TIMEOUT (s, default 60), KEEP_WORK=1.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TD=$ROOT/installer/testdata/upgrade
PREV=$(cat "$TD/previous-commit")
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
WORK=$(mktemp -d /tmp/yiwang-test-upgrade.XXXXXX)
FAILS=0
SERVER_PID=
ADMIN_USER=upgrader
ADMIN_PASS='Upgrade-Test-2026!pw'

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
skip() { echo "SKIP: $*"; }
stop_server() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	[ -n "$SERVER_PID" ] && wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
}
finish() {
	stop_server
	if [ -n "${WT:-}" ]; then git worktree remove --force "$WT" >/dev/null 2>&1; fi
	if [ "${KEEP_WORK:-}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
	if [ "$FAILS" -gt 0 ]; then echo "test-upgrade: $FAILS check(s) FAILED"; exit 1; fi
	echo "test-upgrade: all checks PASSED"
	exit 0
}
trap 'echo "FAIL: interrupted"; FAILS=$((FAILS + 1)); finish' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}
# serve BIN DATA LOG [args]: start a server on free loopback ports.
serve() {
	local bin=$1 data=$2 log=$3; shift 3
	PORT=$(free_port)
	"$bin" serve --data "$data" --http "127.0.0.1:$PORT" --mqtt "127.0.0.1:$(free_port)" "$@" >"$log" 2>&1 &
	SERVER_PID=$!
	BASE=http://127.0.0.1:$PORT
}
wait_health() { # wait_health LOG → 0 when /api/health answers
	local deadline=$((SECONDS + HEALTH_TIMEOUT))
	while [ $SECONDS -lt $deadline ]; do
		kill -0 "$SERVER_PID" 2>/dev/null || return 1
		curl -fsS --max-time 2 "$BASE/api/health" >/dev/null 2>&1 && return 0
		sleep 0.3
	done
	return 1
}
login() {
	curl -fsS --max-time 10 -H 'Content-Type: application/json' \
		-d "{\"username\":\"$ADMIN_USER\",\"password\":\"$ADMIN_PASS\"}" "$BASE/api/v1/auth/login" |
		sed -n 's/.*"token":"\([^"]*\)".*/\1/p'
}
total() { # total PATH TOKEN → the collection's total
	curl -fsS --max-time 10 -H "Authorization: Bearer $2" "$BASE$1" | sed -n 's/.*"total":\([0-9]*\).*/\1/p'
}
# What the test data must still hold after the upgrade.
COLLECTIONS="/api/v1/users /api/v1/departments /api/v1/grids /api/v1/cases /api/v1/devices /api/v1/projects /api/v1/alarms"

# --- the current binary ------------------------------------------------------
NEW=${YIWANG_BIN:-}
if [ -z "$NEW" ]; then
	NEW=$WORK/yiwang-new
	if CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/yiwang/yiwang/app.version=0.2.0-upgrade-test" -o "$NEW" . >"$WORK/build-new.log" 2>&1; then
		pass "build the current binary"
	else
		cat "$WORK/build-new.log"; fail "build the current binary"; finish
	fi
fi

# --- the previous binary (needs git history) ---------------------------------
OLD=
if git rev-parse --git-dir >/dev/null 2>&1 && git cat-file -e "$PREV^{commit}" 2>/dev/null; then
	CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/yiwang-upgrade
	OLD=$CACHE/yiwang-$PREV
	if [ -x "$OLD" ]; then
		pass "previous binary ${PREV:0:12} (cached in $CACHE)"
	else
		mkdir -p "$CACHE"
		WT=$WORK/prev-src
		start=$SECONDS
		if git worktree add --detach "$WT" "$PREV" >"$WORK/worktree.log" 2>&1 &&
			(cd "$WT" && CGO_ENABLED=0 go build -trimpath -ldflags "-X github.com/yiwang/yiwang/app.version=0.1.0" -o "$OLD.tmp" .) >"$WORK/build-old.log" 2>&1 &&
			mv "$OLD.tmp" "$OLD"; then
			pass "build the previous release ${PREV:0:12} in a git worktree ($((SECONDS - start)) s)"
		else
			cat "$WORK/worktree.log" "$WORK/build-old.log"; fail "build the previous release ${PREV:0:12}"; OLD=
		fi
		git worktree remove --force "$WT" >/dev/null 2>&1; WT=
	fi
else
	skip "no git history with ${PREV:0:12}: the previous binary is not built (test data only)"
fi

# --- (re)generate the test data with the previous binary ---------------------
if [ "${REGENERATE:-}" = 1 ] || [ ! -f "$TD/data.tar.gz" ]; then
	if [ -z "$OLD" ]; then
		skip "no test data and no previous binary: nothing to test"
		finish
	fi
	GEN=$WORK/gen/data
	mkdir -p "$GEN"
	serve "$OLD" "$GEN" "$WORK/gen.log" --demo
	if ! wait_health; then tail -n 30 "$WORK/gen.log"; fail "previous release serves --demo"; finish; fi
	stop_server
	printf '%s\n' "$ADMIN_PASS" | "$OLD" admin create --data "$GEN" --user $ADMIN_USER --password-stdin >"$WORK/gen-admin.log" 2>&1 ||
		{ cat "$WORK/gen-admin.log"; fail "previous release: admin create"; finish; }
	serve "$OLD" "$GEN" "$WORK/gen2.log"
	wait_health || { tail -n 30 "$WORK/gen2.log"; fail "previous release restarts"; finish; }
	TOKEN=$(login)
	[ -n "$TOKEN" ] || { fail "previous release: login"; finish; }
	{
		echo "# What the data dir written by yiwang ${PREV:0:12} holds (scripts/test-upgrade.sh)."
		echo "COMMIT=$PREV"
		echo "ADMIN_USER=$ADMIN_USER"
		for c in $COLLECTIONS; do
			n=$(total "$c?limit=1" "$TOKEN")
			echo "TOTAL_$(echo "$c" | sed 's,/api/v1/,,; s,/,_,g')=${n:-none}"
		done
		curl -fsS -H "Authorization: Bearer $TOKEN" "$BASE/api/health" | sed -n 's/.*"applied_index":\([0-9]*\).*/APPLIED_INDEX=\1/p'
	} >"$WORK/manifest.env"
	stop_server
	rm -rf "$GEN/run" "$GEN/.lock" "$GEN"/*.lock
	(cd "$WORK/gen" && tar --owner=0 --group=0 --numeric-owner --sort=name -czf "$TD/data.tar.gz" data)
	cp "$WORK/manifest.env" "$TD/manifest.env"
	pass "test data regenerated with ${PREV:0:12}: $(du -h "$TD/data.tar.gz" | cut -f1), $(grep -c TOTAL_ "$TD/manifest.env") collections"
fi
# shellcheck disable=SC1091
. "$TD/manifest.env"
[ "$COMMIT" = "$PREV" ] || fail "manifest.env was written by $COMMIT, previous-commit says $PREV (REGENERATE=1)"

# --- the current binary on the previous release's data -----------------------
DATA=$WORK/upgrade/data
mkdir -p "$WORK/upgrade" && tar -xzf "$TD/data.tar.gz" -C "$WORK/upgrade"
BEFORE=$(find "$DATA" -name yiwang.db -exec sha256sum {} + | cut -c1-16)
serve "$NEW" "$DATA" "$WORK/new.log"
if wait_health; then
	pass "current binary serves the data dir of ${PREV:0:12} ($("$NEW" version))"
else
	tail -n 40 "$WORK/new.log"; fail "current binary on the previous data dir"; finish
fi
TOKEN=$(login)
[ -n "$TOKEN" ] && pass "the administrator created by the previous release logs in" || fail "login with the previous release's administrator"
for c in $COLLECTIONS; do
	key=TOTAL_$(echo "$c" | sed 's,/api/v1/,,; s,/,_,g')
	want=${!key:-}
	got=$(total "$c?limit=1" "$TOKEN")
	if [ -z "$want" ] || [ "$want" = none ]; then skip "$c: not recorded by the previous release"; continue; fi
	[ "$got" = "$want" ] && pass "$c: $got kept" || fail "$c: $got after the upgrade, $want before"
done
applied=$(curl -fsS "$BASE/api/health" | sed -n 's/.*"applied_index":\([0-9]*\).*/\1/p')
[ "${applied:-0}" -ge "${APPLIED_INDEX:-0}" ] && pass "applied index $applied ≥ $APPLIED_INDEX of the previous release" || fail "applied index went back: $applied < $APPLIED_INDEX"
# A write on the upgraded node, and the new modules answer.
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
	-d '{"name":"升级后新建部门","code":"UPG01"}' "$BASE/api/v1/departments")
[ "$code" = 201 ] && pass "a write after the upgrade (POST /api/v1/departments → 201)" || fail "write after the upgrade: $code"
code=$(curl -s -o "$WORK/ops.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/admin/ops")
[ "$code" = 200 ] && pass "the new operations module answers (GET /api/v1/admin/ops)" || fail "ops overview after upgrade: $code"
stop_server
AFTER=$(find "$DATA" -name yiwang.db -exec sha256sum {} + | cut -c1-16)
[ "$BEFORE" != "$AFTER" ] && pass "the database was migrated in place" || fail "database unchanged?"
if "$NEW" audit verify --data "$DATA" >"$WORK/audit.log" 2>&1; then
	pass "audit chain intact across the upgrade: $(cat "$WORK/audit.log")"
else
	cat "$WORK/audit.log"; fail "audit verify after the upgrade"
fi
B=$WORK/after-upgrade.backup
if "$NEW" backup --data "$DATA" --out "$B" >/dev/null 2>&1 && "$NEW" backup verify "$B" >"$WORK/verify.log" 2>&1; then
	pass "backup of the upgraded dir verifies"
else
	cat "$WORK/verify.log"; fail "backup of the upgraded dir"
fi
# Starting again runs no migration twice.
serve "$NEW" "$DATA" "$WORK/new2.log"
wait_health && pass "second start on the upgraded dir" || { tail -n 20 "$WORK/new2.log"; fail "second start"; }
stop_server

# --- back to the previous binary ---------------------------------------------
if [ -z "$OLD" ]; then
	skip "downgrade check (no previous binary)"
else
	serve "$OLD" "$DATA" "$WORK/old-again.log"
	deadline=$((SECONDS + HEALTH_TIMEOUT)); refused=
	while [ $SECONDS -lt $deadline ]; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then wait "$SERVER_PID"; rc=$?; SERVER_PID=; refused=$rc; break; fi
		curl -fsS --max-time 2 "$BASE/api/health" >/dev/null 2>&1 && break
		sleep 0.3
	done
	if [ -n "$refused" ]; then
		if [ "$refused" -ne 0 ] && grep -q "newer yiwang" "$WORK/old-again.log"; then
			pass "the previous binary refuses the upgraded dir (exit $refused): $(grep -o 'database schema.*supported' "$WORK/old-again.log" | head -n1)"
		else
			tail -n 20 "$WORK/old-again.log"; fail "the previous binary exited $refused without the downgrade message"
		fi
	else
		# No module the previous release knows changed its schema: it may
		# run. It must not apply what it does not know (docs/cluster.md).
		halted=$(curl -fsS "$BASE/api/health" | sed -n 's/.*"halted":"\([^"]*\)".*/\1/p')
		echo "INFO: the previous binary serves the upgraded dir (no schema change in the modules it knows)${halted:+; halted: $halted}"
		pass "the previous binary starts on the upgraded dir without damage (state: $(curl -fsS "$BASE/api/health" | sed -n 's/.*"state":"\([^"]*\)".*/\1/p'))"
		stop_server
	fi
fi
finish
