#!/bin/sh
# yiwang pre-remove: stop the service before the binary goes away.
# deb: $1 = remove | upgrade | deconfigure; rpm: $1 = 0 (erase) or 1 (upgrade).
set -e

case "$1" in
	remove|deconfigure|0)
		if [ -d /run/systemd/system ]; then
			systemctl disable --now yiwang.service >/dev/null 2>&1 || true
		else
			# No systemd (container, chroot): stop a process started by hand
			# from the packaged binary, if any.
			pids=$(pidof /usr/bin/yiwang 2>/dev/null || true)
			[ -n "$pids" ] && kill $pids 2>/dev/null || true
		fi
		;;
esac
exit 0
