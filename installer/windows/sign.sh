#!/usr/bin/env bash
# installer/windows/sign.sh FILE — Authenticode-sign FILE in place with osslsigncode.
# installer/windows/sign.sh --configured — exit 0 when a certificate is configured.
#
# Configure one of:
#   SIGN_PKCS12=cert.p12 [SIGN_PASS=...]
#   SIGN_CERT=cert.pem (or .spc) SIGN_KEY=key.pem [SIGN_PASS=...]
# Optional: SIGN_TIMESTAMP_URL (RFC 3161 server, e.g. http://timestamp.digicert.com;
# unset = no timestamp, the only choice offline), SIGN_NAME (default "yiwang 一网统管").
set -euo pipefail
configured() { [ -n "${SIGN_PKCS12:-}" ] || { [ -n "${SIGN_CERT:-}" ] && [ -n "${SIGN_KEY:-}" ]; }; }
if [ "${1:-}" = --configured ]; then configured; exit; fi
[ $# -eq 1 ] || { echo "usage: $0 FILE | --configured" >&2; exit 2; }
configured || { echo "sign.sh: no certificate configured (SIGN_PKCS12 or SIGN_CERT+SIGN_KEY)" >&2; exit 2; }
command -v osslsigncode >/dev/null || { echo "sign.sh: osslsigncode not installed" >&2; exit 1; }

file=$1
args=(sign -h sha256 -n "${SIGN_NAME:-yiwang 一网统管}" -i https://github.com/yiwang/yiwang)
if [ -n "${SIGN_PKCS12:-}" ]; then
	args+=(-pkcs12 "$SIGN_PKCS12")
else
	args+=(-certs "$SIGN_CERT" -key "$SIGN_KEY")
fi
[ -n "${SIGN_PASS:-}" ] && args+=(-pass "$SIGN_PASS")
[ -n "${SIGN_TIMESTAMP_URL:-}" ] && args+=(-ts "$SIGN_TIMESTAMP_URL")
tmp="$file.signing"
osslsigncode "${args[@]}" -in "$file" -out "$tmp" >/dev/null
mv "$tmp" "$file"
echo "sign.sh: signed $file"
