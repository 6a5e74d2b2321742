#!/usr/bin/env bash
# Installs what the full test suite needs on Debian (12 "bookworm" or newer):
# Chromium for the browser tests, mosquitto and its clients for the MQTT
# interop and benchmark tests, Xvfb + WebKitGTK for the desktop smoke test,
# NSIS for the Windows installer, imagemagick/x11-apps for screenshots.
# Go and Node come with the machine. Idempotent: installs only what is missing.
set -euo pipefail
pkgs=(chromium mosquitto mosquitto-clients xvfb xauth libwebkit2gtk-4.1-dev pkg-config
  nsis p7zip-full osslsigncode openssl systemd curl imagemagick x11-apps dpkg-dev rpm
  fonts-wqy-microhei dbus)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all test dependencies present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
