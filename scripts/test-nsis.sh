#!/usr/bin/env bash
# scripts/test-nsis.sh — build the Windows setup with makensis and check it:
# a valid PE with intact NSIS data (installer/pecheck: debug/pe + NSIS CRC),
# containing the exact yiwang.exe (7z lists and extracts NSIS installers),
# with a desktop app, and Authenticode-signed with a throw-away certificate.
#
# Environment: DESKTOP_EXE (a real yiwang-desktop.exe; default: a stand-in
# copy of yiwang.exe to exercise the desktop variant), YIWANG_STUB=1 when
# main.go does not exist yet, KEEP_WORK=1 to keep the work directory.
set -uo pipefail
cd "$(dirname "$0")/.."

FAILS=0
WORK=$(mktemp -d /tmp/yiwang-test-nsis.XXXXXX)
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILS=$((FAILS + 1)); }
skip() { echo "SKIP: $*"; }
finish() {
	if [ "${KEEP_WORK:-}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
	if [ "$FAILS" -gt 0 ]; then echo "test-nsis: $FAILS check(s) FAILED"; exit 1; fi
	echo "test-nsis: all checks PASSED"
	exit 0
}
need() {
	if ! command -v "$1" >/dev/null; then
		if [ -n "${CI:-}" ]; then fail "$1 is required in CI (apt-get install $2)"; finish; fi
		echo "SKIP: $1 not installed (apt-get install $2)"; rm -rf "$WORK"; exit 0
	fi
}
need makensis nsis
need 7z p7zip-full

V=0.0.1+test.1
if DIST_DIR="$WORK/dist" DIST_ARCHES="" DIST_FORMATS="" DIST_WINDOWS=yes scripts/dist.sh "$V" >"$WORK/build.log" 2>&1; then
	SETUP="$WORK/dist/yiwang-setup-$V.exe"
	pass "build yiwang-setup-$V.exe ($(du -h "$SETUP" | cut -f1), server only)"
else
	cat "$WORK/build.log"; fail "build the setup"; finish
fi
grep -q PLACEHOLDER "$WORK/build.log" && echo "note: main.go missing, the setup holds a PLACEHOLDER yiwang.exe"
SERVER_EXE="$WORK/dist/bin/windows_amd64/yiwang.exe"
go build -o "$WORK/pecheck" ./installer/pecheck || { fail "build installer/pecheck"; finish; }

contains() { # contains SETUP NAME SOURCE: the setup holds NAME identical to SOURCE
	local list
	list=$(7z l -ba "$1" 2>/dev/null)
	if ! echo "$list" | grep -qE "[[:space:]]$2\$"; then
		fail "$(basename "$1") does not list $2"; return
	fi
	rm -rf "$WORK/x" && mkdir -p "$WORK/x"
	if 7z e -y -o"$WORK/x" "$1" "$2" >/dev/null 2>&1 && [ -n "$3" ] && cmp -s "$WORK/x/$2" "$3"; then
		pass "$(basename "$1") contains $2 identical to the build ($(du -h "$3" | cut -f1))"
	elif [ -z "$3" ]; then
		pass "$(basename "$1") contains $2"
	else
		fail "$2 extracted from $(basename "$1") differs from the build"
	fi
}

# 1. Server-only setup.
if out=$("$WORK/pecheck" "$SETUP" 2>&1); then pass "pecheck: $out"; else fail "pecheck: $out"; fi
contains "$SETUP" yiwang.exe "$SERVER_EXE"
contains "$SETUP" uninstall.exe ""
if 7z l -ba "$SETUP" | grep -q yiwang-desktop.exe; then fail "server-only setup contains yiwang-desktop.exe"; else pass "server-only setup has no desktop app"; fi

# 2. With the desktop app.
DESKTOP=${DESKTOP_EXE:-}
if [ -z "$DESKTOP" ]; then
	DESKTOP="$WORK/yiwang-desktop.exe"
	cp "$SERVER_EXE" "$DESKTOP"
	echo "note: no DESKTOP_EXE given, using a stand-in copy of yiwang.exe"
fi
SETUP2="$WORK/yiwang-setup-desktop.exe"
if installer/windows/build.sh "$V" "$SERVER_EXE" "$DESKTOP" "$SETUP2" >"$WORK/build2.log" 2>&1; then
	pass "build setup with the desktop app ($(du -h "$SETUP2" | cut -f1))"
	if out=$("$WORK/pecheck" "$SETUP2" 2>&1); then pass "pecheck: $out"; else fail "pecheck: $out"; fi
	contains "$SETUP2" yiwang-desktop.exe "$DESKTOP"
	contains "$SETUP2" yiwang.exe "$SERVER_EXE"
else
	cat "$WORK/build2.log"; fail "build setup with the desktop app"
fi

# 3. Damage is detected.
head -c -4096 "$SETUP" >"$WORK/truncated.exe"
if "$WORK/pecheck" "$WORK/truncated.exe" >/dev/null 2>&1; then fail "pecheck accepted a truncated setup"; else pass "pecheck rejects a truncated setup"; fi

# 4. Authenticode signing with a throw-away certificate.
if command -v osslsigncode >/dev/null && command -v openssl >/dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=yiwang test signing" \
		-keyout "$WORK/key.pem" -out "$WORK/cert.pem" >/dev/null 2>&1
	SETUP3="$WORK/yiwang-setup-signed.exe"
	if SIGN_CERT="$WORK/cert.pem" SIGN_KEY="$WORK/key.pem" installer/windows/build.sh "$V" "$SERVER_EXE" "" "$SETUP3" >"$WORK/build3.log" 2>&1; then
		pass "build signed setup"
		if out=$("$WORK/pecheck" -signed "$SETUP3" 2>&1); then pass "pecheck -signed: $out"; else fail "pecheck -signed: $out"; fi
		if osslsigncode verify -CAfile "$WORK/cert.pem" -in "$SETUP3" >"$WORK/verify.log" 2>&1; then
			pass "osslsigncode verify: setup signature valid"
		else
			cat "$WORK/verify.log"; fail "osslsigncode verify of the setup"
		fi
		rm -rf "$WORK/x" && mkdir -p "$WORK/x" && 7z e -y -o"$WORK/x" "$SETUP3" yiwang.exe >/dev/null 2>&1
		if osslsigncode verify -CAfile "$WORK/cert.pem" -in "$WORK/x/yiwang.exe" >/dev/null 2>&1; then
			pass "yiwang.exe inside the signed setup is signed"
		else
			fail "yiwang.exe inside the signed setup is not signed"
		fi
	else
		cat "$WORK/build3.log"; fail "build signed setup"
	fi
else
	[ -n "${CI:-}" ] && fail "osslsigncode/openssl required in CI" || skip "signing (osslsigncode or openssl missing)"
fi
finish
