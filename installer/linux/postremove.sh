#!/bin/sh
# yiwang post-remove.
# deb: $1 = remove | purge | upgrade | ...; rpm: $1 = 0 (erase) or 1 (upgrade).
#
# Data in /var/lib/yiwang is ALWAYS kept on remove and on purge, so a county
# never loses its records to a mistyped command. To delete it as well:
#     YIWANG_PURGE_DATA=yes dpkg --purge yiwang     (or apt purge)
# which also deletes the yiwang system user. See docs/install.md.
set -e

case "$1" in
	remove|purge|0)
		if [ -d /run/systemd/system ]; then
			systemctl daemon-reload >/dev/null 2>&1 || true
			systemctl reset-failed yiwang.service >/dev/null 2>&1 || true
		fi
		;;
esac

if [ "$1" = purge ]; then
	rmdir /etc/yiwang 2>/dev/null || true
	if [ "${YIWANG_PURGE_DATA:-no}" = yes ]; then
		rm -rf /var/lib/yiwang
		if getent passwd yiwang >/dev/null 2>&1; then
			userdel yiwang >/dev/null 2>&1 || true
		fi
		if getent group yiwang >/dev/null 2>&1; then
			groupdel yiwang >/dev/null 2>&1 || true
		fi
		echo "yiwang: data in /var/lib/yiwang and the yiwang user deleted. 数据已删除。"
	elif [ -d /var/lib/yiwang ]; then
		echo "yiwang: data kept in /var/lib/yiwang (delete with: YIWANG_PURGE_DATA=yes dpkg --purge yiwang, or rm -rf /var/lib/yiwang). 数据已保留。"
	fi
fi
exit 0
