#!/usr/bin/env bash
# scripts/test-deb.sh — install the yiwang .deb on this machine and exercise it:
# files, user, unit, start as the unit would, /api/health, upgrade keeping data
# and config, remove, purge (data kept), purge with YIWANG_PURGE_DATA=yes.
#
# Needs root and dpkg. It installs and removes the package "yiwang" on this
# machine, so it refuses to run when a yiwang package not installed by this
# script is present (FORCE=1 overrides). systemd need not run: the service is
# started the way its ExecStart would, as user yiwang via setpriv.
#
# Environment: HEALTH_TIMEOUT (seconds, default 60), KEEP_WORK=1 to keep the
# build directory, YIWANG_STUB=1 to test with a placeholder binary when main.go
# does not exist yet (the health check is then reported as SKIP).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-60}
ARCH=$(dpkg --print-architecture)
TEST_MARK=.yiwang-test-deb
FAILS=0
SERVER_PID=
WORK=$(mktemp -d /tmp/yiwang-test-deb.XXXXXX)
chmod 755 "$WORK"

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
skip() { echo "SKIP: $*"; }
die() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); finish; }
check() { # check "description" command...
	local what=$1; shift
	if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi
}

stop_server() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$SERVER_PID" 2>/dev/null; then
			fail "server did not stop on SIGTERM within 10s"
			kill -KILL "$SERVER_PID" 2>/dev/null
		fi
		wait "$SERVER_PID" 2>/dev/null
	fi
	SERVER_PID=
}

finish() {
	stop_server
	if [ "${KEEP_WORK:-}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
	if [ "$FAILS" -gt 0 ]; then
		echo "test-deb: $FAILS check(s) FAILED"
		exit 1
	fi
	echo "test-deb: all checks PASSED"
	exit 0
}
trap 'echo "FAIL: interrupted"; FAILS=$((FAILS + 1)); finish' INT TERM

[ "$(id -u)" = 0 ] || { echo "test-deb: must run as root (it installs a package)"; exit 2; }
command -v dpkg >/dev/null || { echo "test-deb: dpkg not found"; exit 2; }

# --- clean slate -------------------------------------------------------------
if dpkg-query -W -f '${Status}' yiwang 2>/dev/null | grep -q 'installed\|config-files'; then
	if [ -e /var/lib/yiwang/$TEST_MARK ] || [ "${FORCE:-}" = 1 ]; then
		echo "test-deb: purging a yiwang left by an earlier run"
		YIWANG_PURGE_DATA=yes dpkg --purge yiwang >/dev/null || die "purge of the earlier test install"
	else
		echo "test-deb: a yiwang package not installed by this test is present; refusing (FORCE=1 to override)"
		exit 2
	fi
elif [ -d /var/lib/yiwang ]; then
	if [ -e /var/lib/yiwang/$TEST_MARK ] || [ "${FORCE:-}" = 1 ]; then
		rm -rf /var/lib/yiwang
	else
		echo "test-deb: /var/lib/yiwang exists (someone's data?); refusing (FORCE=1 to override)"
		exit 2
	fi
fi

# --- build two versions ------------------------------------------------------
V1=0.0.1+test.1
V2=0.0.1+test.2
for v in $V1 $V2; do
	if DIST_DIR="$WORK/dist" DIST_ARCHES="$ARCH" DIST_FORMATS=deb DIST_WINDOWS=no \
		scripts/dist.sh "$v" >"$WORK/build-$v.log" 2>&1; then
		pass "build yiwang_${v}_${ARCH}.deb ($(du -h "$WORK/dist/yiwang_${v}_${ARCH}.deb" | cut -f1))"
	else
		cat "$WORK/build-$v.log"
		die "build $v"
	fi
done
STUB=no
grep -q PLACEHOLDER "$WORK/build-$V1.log" && STUB=yes

# --- helpers ---------------------------------------------------------------
unit_value() { # last value of KEY= in the installed unit
	sed -n "s/^$1=//p" /usr/lib/systemd/system/yiwang.service | tail -n1
}
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

# Start the binary the way systemd would from the unit: User/Group, the
# WorkingDirectory, Environment= lines, ExecStart, no new privileges. The
# contractual --http/--mqtt flags pick free loopback ports so the test does not
# collide with anything listening on 8080/1883.
start_as_unit() {
	local user group wd exec envs http mqtt
	user=$(unit_value User); group=$(unit_value Group)
	wd=$(unit_value WorkingDirectory); exec=$(unit_value ExecStart)
	HTTP_PORT=$(free_port); MQTT_PORT=$(free_port)
	envs=()
	while IFS= read -r line; do envs+=("$line"); done < <(sed -n 's/^Environment=//p' /usr/lib/systemd/system/yiwang.service)
	# shellcheck disable=SC2206 # ExecStart has no quoted words in the packaged unit
	local argv=($exec)
	(
		cd "$wd" || exit 1
		exec env -i PATH=/usr/bin:/bin HOME="$wd" LANG=C.UTF-8 "${envs[@]}" \
			setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
			"${argv[@]}" --http "127.0.0.1:$HTTP_PORT" --mqtt "127.0.0.1:$MQTT_PORT"
	) >"$WORK/server-$1.log" 2>&1 &
	SERVER_PID=$!
	echo "started as unit: ${argv[*]} --http 127.0.0.1:$HTTP_PORT --mqtt 127.0.0.1:$MQTT_PORT (pid $SERVER_PID, user $user)"
}

wait_health() { # wait_health label
	if [ "$STUB" = yes ]; then
		sleep 1
		if kill -0 "$SERVER_PID" 2>/dev/null; then pass "$1: placeholder binary runs as the unit would"; else fail "$1: placeholder binary exited"; fi
		skip "$1: /api/health (main.go not written yet; placeholder binary has no HTTP server)"
		return
	fi
	local deadline=$((SECONDS + HEALTH_TIMEOUT)) body=
	while [ $SECONDS -lt $deadline ]; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			echo "--- server log"; tail -n 40 "$WORK/server-$1.log"
			fail "$1: server exited before /api/health answered"
			return
		fi
		if body=$(curl -fsS --max-time 2 "http://127.0.0.1:$HTTP_PORT/api/health" 2>/dev/null); then
			break
		fi
		sleep 0.5
	done
	if [ -z "$body" ]; then
		echo "--- server log"; tail -n 40 "$WORK/server-$1.log"
		fail "$1: /api/health did not answer within ${HEALTH_TIMEOUT}s"
		return
	fi
	if echo "$body" | grep -q '"node_id"' && echo "$body" | grep -q '"state"'; then
		pass "$1: /api/health answers $body"
		HEALTH_NODE_ID=$(echo "$body" | sed -n 's/.*"node_id"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
	else
		fail "$1: /api/health body lacks node_id/state: $body"
	fi
}

login() { # the admin created on v1 logs in: proves the data is served
	[ "$STUB" = yes ] && { skip "$1: login (placeholder binary)"; return; }
	local body
	body=$(curl -fsS --max-time 5 -H 'Content-Type: application/json' \
		-d "{\"username\":\"admin\",\"password\":\"$ADMIN_PASS\"}" \
		"http://127.0.0.1:$HTTP_PORT/api/v1/auth/login" 2>&1)
	if echo "$body" | grep -q '"token"'; then pass "$1: admin logs in (POST /api/v1/auth/login → token)"; else fail "$1: admin login: $body"; fi
}

# --- install V1 --------------------------------------------------------------
if dpkg -i "$WORK/dist/yiwang_${V1}_${ARCH}.deb" >"$WORK/install-1.log" 2>&1; then
	pass "dpkg -i yiwang $V1"
else
	cat "$WORK/install-1.log"
	die "dpkg -i yiwang $V1"
fi
touch /var/lib/yiwang/$TEST_MARK && chown yiwang:yiwang /var/lib/yiwang/$TEST_MARK
grep -q "admin create --data /var/lib/yiwang" "$WORK/install-1.log" && grep -q "http://127.0.0.1:8080" "$WORK/install-1.log" &&
	pass "post-install message shows the console URL and admin create" || fail "post-install message"

check "/usr/bin/yiwang is executable" test -x /usr/bin/yiwang
check "unit at /usr/lib/systemd/system/yiwang.service" test -f /usr/lib/systemd/system/yiwang.service
check "config /etc/yiwang/yiwang.toml" test -f /etc/yiwang/yiwang.toml
check "config is a dpkg conffile" grep -qx /etc/yiwang/yiwang.toml /var/lib/dpkg/info/yiwang.conffiles
check "install guide in /usr/share/doc/yiwang" test -f /usr/share/doc/yiwang/install.md
check "operations guide in /usr/share/doc/yiwang" test -f /usr/share/doc/yiwang/operations.md
check "cluster guide in /usr/share/doc/yiwang" test -f /usr/share/doc/yiwang/cluster.md
if /usr/bin/yiwang version 2>/dev/null | grep -qF "$V1"; then pass "yiwang version reports $V1"; else fail "yiwang version does not report $V1: $(/usr/bin/yiwang version 2>&1 | head -n1)"; fi

if getent passwd yiwang >/dev/null; then
	pass "user yiwang exists"
	uid=$(id -u yiwang)
	shell=$(getent passwd yiwang | cut -d: -f7)
	home=$(getent passwd yiwang | cut -d: -f6)
	[ "$uid" -lt 1000 ] && pass "yiwang is a system user (uid $uid)" || fail "yiwang uid $uid is not a system uid"
	case $shell in */nologin | */false) pass "yiwang has no login shell ($shell)" ;; *) fail "yiwang shell is $shell" ;; esac
	[ "$home" = /var/lib/yiwang ] && pass "yiwang home is /var/lib/yiwang" || fail "yiwang home is $home"
else
	die "user yiwang missing"
fi
[ "$(stat -c '%U:%G %a' /var/lib/yiwang)" = "yiwang:yiwang 750" ] && pass "/var/lib/yiwang is yiwang:yiwang 750" ||
	fail "/var/lib/yiwang is $(stat -c '%U:%G %a' /var/lib/yiwang)"
[ "$(stat -c '%U:%G %a' /etc/yiwang/yiwang.toml)" = "root:yiwang 640" ] && pass "config is root:yiwang 640" ||
	fail "config is $(stat -c '%U:%G %a' /etc/yiwang/yiwang.toml)"

# The unit: hardening directives and systemd's own parser.
for kv in User=yiwang ProtectSystem=strict ReadWritePaths=/var/lib/yiwang NoNewPrivileges=yes PrivateTmp=yes Restart=on-failure RestartPreventExitStatus=3; do
	grep -qx "$kv" /usr/lib/systemd/system/yiwang.service && pass "unit has $kv" || fail "unit lacks $kv"
done
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify /usr/lib/systemd/system/yiwang.service 2>&1)
	if echo "$out" | grep -q 'yiwang.service.*\(Unknown\|nvalid\|Failed\|not executable\|bad\)'; then
		fail "systemd-analyze verify: $out"
	else
		pass "systemd-analyze verify yiwang.service${out:+ (notes: $(echo "$out" | head -n1))}"
	fi
else
	[ -n "${CI:-}" ] && fail "systemd-analyze missing in CI" || skip "systemd-analyze not installed"
fi

# --- run V1 as the unit would -----------------------------------------------
ADMIN_PASS='Yiwang-Test-2026!pw'
as_yiwang() { (cd /var/lib/yiwang && setpriv --reuid=yiwang --regid=yiwang --init-groups --no-new-privs "$@"); }
if [ "$STUB" = no ]; then
	# The documented first step, as the service user so the files stay its own.
	if printf '%s\n' "$ADMIN_PASS" | as_yiwang /usr/bin/yiwang admin create --data /var/lib/yiwang --user admin --password-stdin >"$WORK/admin.log" 2>&1; then
		pass "yiwang admin create --data /var/lib/yiwang --user admin --password-stdin (before the first serve)"
	else
		cat "$WORK/admin.log"; fail "yiwang admin create"
	fi
fi
HEALTH_NODE_ID=
start_as_unit v1
wait_health v1
login v1
NODE_ID_V1=$HEALTH_NODE_ID
# The service account can write its data directory (ProtectSystem aside).
if setpriv --reuid=yiwang --regid=yiwang --init-groups sh -c 'echo v1 >/var/lib/yiwang/upgrade-marker'; then
	pass "user yiwang writes /var/lib/yiwang"
else
	fail "user yiwang cannot write /var/lib/yiwang"
fi
stop_server
[ "$STUB" = yes ] || pass "server stopped on SIGTERM"
foreign=$(find /var/lib/yiwang ! -user yiwang -print -quit)
[ -z "$foreign" ] && pass "everything in /var/lib/yiwang belongs to yiwang" || fail "$foreign is not owned by yiwang"

NODE_ID_FILE=$(find /var/lib/yiwang -maxdepth 3 -type f \( -name node-id \) 2>/dev/null | head -n1)
if [ -n "$NODE_ID_FILE" ]; then
	pass "first run wrote $NODE_ID_FILE"
else
	[ "$STUB" = yes ] && skip "node-id file (placeholder binary)" || fail "the first run wrote no node-id file in /var/lib/yiwang"
fi
snapshot_data() { (cd /var/lib/yiwang && find . -type f ! -name "$TEST_MARK" -exec sha256sum {} + | sort -k2) ; }
DATA_BEFORE=$(snapshot_data)
NODE_BEFORE=${NODE_ID_FILE:+$(cat "$NODE_ID_FILE")}

# An operator's edit to the config must survive the upgrade.
echo "# local edit by test-deb $$" >>/etc/yiwang/yiwang.toml
CONF_SUM=$(sha256sum </etc/yiwang/yiwang.toml)

# --- upgrade to V2 -----------------------------------------------------------
if dpkg -i --force-confdef --force-confold "$WORK/dist/yiwang_${V2}_${ARCH}.deb" >"$WORK/install-2.log" 2>&1; then
	pass "dpkg -i yiwang $V2 over $V1"
else
	cat "$WORK/install-2.log"
	die "upgrade to $V2"
fi
[ "$(dpkg-query -W -f '${Version}' yiwang)" = "$V2-1" ] && pass "dpkg reports $V2-1" || fail "dpkg reports $(dpkg-query -W -f '${Version}' yiwang)"
if /usr/bin/yiwang version 2>/dev/null | grep -qF "$V2"; then pass "yiwang version reports $V2"; else fail "binary not upgraded to $V2"; fi
[ "$(sha256sum </etc/yiwang/yiwang.toml)" = "$CONF_SUM" ] && pass "config edit kept on upgrade" || fail "config changed by upgrade"
[ "$(cat /var/lib/yiwang/upgrade-marker 2>/dev/null)" = v1 ] && pass "data marker kept on upgrade" || fail "data marker lost on upgrade"
if [ -n "$NODE_ID_FILE" ]; then
	[ "$(cat "$NODE_ID_FILE" 2>/dev/null)" = "$NODE_BEFORE" ] && pass "node id kept on upgrade ($NODE_BEFORE)" || fail "node id changed on upgrade"
fi
DATA_AFTER=$(snapshot_data)
[ "$DATA_AFTER" = "$DATA_BEFORE" ] && pass "data directory byte-identical after upgrade (before restart)" || fail "upgrade changed the data directory"
[ "$(stat -c '%U:%G %a' /var/lib/yiwang)" = "yiwang:yiwang 750" ] && pass "data dir ownership kept" || fail "data dir ownership changed"

HEALTH_NODE_ID=
start_as_unit v2
wait_health v2
login v2
stop_server
# The documented backup and its check, as the service user on the upgraded data.
if [ "$STUB" = no ]; then
	if as_yiwang /usr/bin/yiwang backup --data /var/lib/yiwang --out /var/lib/yiwang/test-deb.backup >"$WORK/backup.log" 2>&1 &&
		as_yiwang /usr/bin/yiwang backup verify /var/lib/yiwang/test-deb.backup >>"$WORK/backup.log" 2>&1; then
		pass "yiwang backup + backup verify on the upgraded data ($(tail -n1 "$WORK/backup.log" | cut -c1-60)...)"
	else
		cat "$WORK/backup.log"; fail "yiwang backup / backup verify"
	fi
	head -c 4096 /var/lib/yiwang/test-deb.backup >/var/lib/yiwang/test-deb-truncated.backup
	if as_yiwang /usr/bin/yiwang backup verify /var/lib/yiwang/test-deb-truncated.backup >/dev/null 2>&1; then
		fail "backup verify accepted a truncated backup"
	else
		pass "backup verify refuses a truncated backup (non-zero exit)"
	fi
	rm -f /var/lib/yiwang/test-deb.backup /var/lib/yiwang/test-deb-truncated.backup
fi
if [ -n "$NODE_ID_V1" ]; then
	[ "$HEALTH_NODE_ID" = "$NODE_ID_V1" ] && pass "v2 reports the same node_id as v1 ($NODE_ID_V1)" ||
		fail "node_id changed across the upgrade: $NODE_ID_V1 → $HEALTH_NODE_ID"
fi
if [ -n "$NODE_ID_FILE" ]; then
	[ "$(cat "$NODE_ID_FILE" 2>/dev/null)" = "$NODE_BEFORE" ] && pass "v2 kept the node id after running on v1 data" || fail "v2 changed the node id"
fi

# --- remove, purge -----------------------------------------------------------
if dpkg -r yiwang >"$WORK/remove.log" 2>&1; then pass "dpkg -r yiwang"; else cat "$WORK/remove.log"; fail "dpkg -r yiwang"; fi
check "binary removed" test ! -e /usr/bin/yiwang
check "unit removed" test ! -e /usr/lib/systemd/system/yiwang.service
check "config kept after remove" test -f /etc/yiwang/yiwang.toml
check "data kept after remove" test -f /var/lib/yiwang/upgrade-marker
check "user kept after remove" getent passwd yiwang

if dpkg --purge yiwang >"$WORK/purge.log" 2>&1; then pass "dpkg --purge yiwang"; else cat "$WORK/purge.log"; fail "dpkg --purge yiwang"; fi
check "config removed by purge" test ! -e /etc/yiwang/yiwang.toml
check "data kept after purge" test -f /var/lib/yiwang/upgrade-marker
grep -q "YIWANG_PURGE_DATA=yes" "$WORK/purge.log" && pass "purge explains how to delete data" || fail "purge message lacks YIWANG_PURGE_DATA"

# Reinstall over kept data, then purge with data.
if dpkg -i "$WORK/dist/yiwang_${V2}_${ARCH}.deb" >"$WORK/install-3.log" 2>&1; then pass "reinstall over kept data"; else cat "$WORK/install-3.log"; fail "reinstall over kept data"; fi
check "kept data still there after reinstall" test -f /var/lib/yiwang/upgrade-marker
if YIWANG_PURGE_DATA=yes dpkg --purge yiwang >"$WORK/purge-2.log" 2>&1; then pass "YIWANG_PURGE_DATA=yes dpkg --purge yiwang"; else cat "$WORK/purge-2.log"; fail "purge with data"; fi
check "data deleted by purge with YIWANG_PURGE_DATA=yes" test ! -e /var/lib/yiwang
check "user deleted by purge with YIWANG_PURGE_DATA=yes" sh -c '! getent passwd yiwang'
check "package gone" sh -c "! dpkg-query -W -f '\${Status}' yiwang 2>/dev/null | grep -q installed"

# --- bare binary: yiwang service install/uninstall ---------------------------
# Same unit renderer as the package (installer/service). systemd need not run:
# install writes /etc/systemd/system/yiwang.service and the enable symlink.
if [ "$STUB" = yes ]; then
	skip "yiwang service install (placeholder binary)"
elif [ -e /etc/systemd/system/yiwang.service ]; then
	skip "yiwang service install: /etc/systemd/system/yiwang.service already exists on this machine"
else
	BARE="$WORK/bare/yiwang"
	BARE_DATA="$WORK/bare-data"
	mkdir -p "$WORK/bare" && cp "$WORK/dist/bin/linux_${ARCH}/yiwang" "$BARE"
	if "$BARE" service install --data "$BARE_DATA" >"$WORK/bare.log" 2>&1; then
		pass "yiwang service install --data $BARE_DATA"
		u=/etc/systemd/system/yiwang.service
		grep -qx "ExecStart=$BARE serve --data $BARE_DATA" $u && pass "bare unit runs $BARE serve --data $BARE_DATA" || fail "bare unit ExecStart: $(grep ExecStart= $u)"
		for kv in User=yiwang ProtectSystem=strict "ReadWritePaths=$BARE_DATA" NoNewPrivileges=yes; do
			grep -qx "$kv" $u && pass "bare unit has $kv" || fail "bare unit lacks $kv"
		done
		check "bare install enabled the unit" test -L /etc/systemd/system/multi-user.target.wants/yiwang.service
		[ "$(stat -c %U "$BARE_DATA" 2>/dev/null)" = yiwang ] && pass "bare install created the user and gave it the data dir" || fail "bare data dir owner"
		if "$BARE" service uninstall >>"$WORK/bare.log" 2>&1; then pass "yiwang service uninstall"; else cat "$WORK/bare.log"; fail "yiwang service uninstall"; fi
		check "bare unit removed" test ! -e $u
		check "bare enable symlink removed" test ! -e /etc/systemd/system/multi-user.target.wants/yiwang.service
		check "bare uninstall kept the data dir" test -d "$BARE_DATA"
	else
		cat "$WORK/bare.log"; fail "yiwang service install"
		rm -f /etc/systemd/system/yiwang.service /etc/systemd/system/multi-user.target.wants/yiwang.service
	fi
	userdel yiwang >/dev/null 2>&1 || true
	groupdel yiwang >/dev/null 2>&1 || true
fi

finish
