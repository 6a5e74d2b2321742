#!/bin/sh
# yiwang post-install: create the service account, own the data directory,
# enable and (re)start the service, tell the operator what to do next.
# deb: $1 = configure [old-version]; rpm: $1 = 1 (install) or 2 (upgrade).
set -e

USER_NAME=yiwang
DATA_DIR=/var/lib/yiwang
CONF=/etc/yiwang/yiwang.toml

upgrade=no
case "$1" in
	configure) [ -n "$2" ] && upgrade=yes ;;
	[2-9]) upgrade=yes ;;
esac

if ! getent group "$USER_NAME" >/dev/null 2>&1; then
	groupadd --system "$USER_NAME"
fi
if ! getent passwd "$USER_NAME" >/dev/null 2>&1; then
	shell=/usr/sbin/nologin
	[ -x "$shell" ] || shell=/sbin/nologin
	useradd --system --gid "$USER_NAME" --home-dir "$DATA_DIR" --no-create-home \
		--shell "$shell" --comment "yiwang service" "$USER_NAME"
fi

mkdir -p "$DATA_DIR"
chown "$USER_NAME:$USER_NAME" "$DATA_DIR"
chmod 0750 "$DATA_DIR"
if [ -f "$CONF" ]; then
	chown "root:$USER_NAME" "$CONF"
	chmod 0640 "$CONF"
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null 2>&1 || true
	systemctl enable yiwang.service >/dev/null 2>&1 || true
	if [ "$upgrade" = yes ]; then
		systemctl try-restart yiwang.service >/dev/null 2>&1 || true
	else
		systemctl start yiwang.service >/dev/null 2>&1 || true
	fi
fi

if [ "$upgrade" = yes ]; then
	echo "yiwang upgraded; data in $DATA_DIR kept. yiwang 已升级，数据保留。"
	exit 0
fi

cat <<MSG

  yiwang 一网统管 installed / 已安装

  Console 控制台:   http://127.0.0.1:8080/   (on this machine 本机)
      To open it to the LAN, set http = "0.0.0.0:8080" in $CONF
      and run: systemctl restart yiwang
      如需局域网访问，请在 $CONF 中设置 http = "0.0.0.0:8080" 并重启服务。
  MQTT 设备接入:     port 1883 (open it in the firewall 请在防火墙放行)

  Create the first administrator 创建首个管理员:
      sudo -u yiwang yiwang admin create --data $DATA_DIR --user admin --password-stdin
      (type the password, then Enter and Ctrl-D 输入密码后回车并按 Ctrl-D)

  Service 服务:  systemctl status yiwang    Logs 日志: journalctl -u yiwang
  Guide 指南:    /usr/share/doc/yiwang/install.md
  Backups 备份:  set backup_dir in $CONF 在配置中设置 backup_dir（定时备份并校验）
                 /usr/share/doc/yiwang/operations.md

MSG
