package service

import (
	"fmt"
	"strings"
)

// SystemdUnit renders the systemd unit for cfg. The packaged unit
// (installer/linux/yiwang.service) is SystemdUnit(PackageConfig()).
//
// The hardening keeps the service to its data directory: the whole file
// system is read-only (ProtectSystem=strict) except DataDir and WritePaths,
// /tmp is private, no privilege can be gained and no capability is held
// unless BindLowPorts asks for CAP_NET_BIND_SERVICE. MemoryDenyWriteExecute
// is deliberately absent: the wazero plugin compiler maps executable code.
func SystemdUnit(cfg Config) (string, error) {
	c, err := cfg.withDefaults("linux")
	if err != nil {
		return "", err
	}
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }

	w("# %s.service: rendered by github.com/yiwang/yiwang/installer/service.", c.Name)
	w("# Local changes belong in a drop-in: systemctl edit %s", c.Name)
	w("[Unit]")
	w("Description=%s", oneLine(c.Description))
	w("Documentation=file:///usr/share/doc/yiwang/install.md")
	w("After=network-online.target")
	w("Wants=network-online.target")
	w("")
	w("[Service]")
	w("Type=simple")
	if c.User != "" {
		w("User=%s", c.User)
		w("Group=%s", c.User)
	}
	for _, kv := range c.Env {
		w("Environment=%s", systemdQuote(kv))
	}
	w("ExecStart=%s", systemdCommand(c.Executable, c.Args))
	w("WorkingDirectory=%s", systemdQuote(c.DataDir))
	w("Restart=on-failure")
	w("RestartSec=5s")
	// 3: the data directory was written by a newer yiwang (downgrade
	// refused); restarting cannot help, the log says what to do.
	w("RestartPreventExitStatus=3")
	w("TimeoutStopSec=90s")
	w("LimitNOFILE=65536")
	w("UMask=0027")
	w("")
	w("# Hardening")
	w("NoNewPrivileges=yes")
	w("ProtectSystem=strict")
	paths := append([]string{c.DataDir}, c.WritePaths...)
	for i := range paths {
		paths[i] = systemdQuote(paths[i])
	}
	w("ReadWritePaths=%s", strings.Join(paths, " "))
	w("PrivateTmp=yes")
	w("PrivateDevices=yes")
	w("ProtectHome=yes")
	w("ProtectKernelTunables=yes")
	w("ProtectKernelModules=yes")
	w("ProtectKernelLogs=yes")
	w("ProtectControlGroups=yes")
	w("ProtectClock=yes")
	w("ProtectHostname=yes")
	w("RestrictSUIDSGID=yes")
	w("RestrictRealtime=yes")
	w("RestrictNamespaces=yes")
	w("LockPersonality=yes")
	w("RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK")
	w("SystemCallArchitectures=native")
	w("SystemCallFilter=@system-service")
	w("SystemCallErrorNumber=EPERM")
	if c.BindLowPorts {
		w("CapabilityBoundingSet=CAP_NET_BIND_SERVICE")
		w("AmbientCapabilities=CAP_NET_BIND_SERVICE")
	} else if c.User != "" {
		w("CapabilityBoundingSet=")
		w("AmbientCapabilities=")
	}
	w("")
	w("[Install]")
	w("WantedBy=multi-user.target")
	return b.String(), nil
}

// systemdCommand renders an ExecStart command line.
func systemdCommand(exe string, args []string) string {
	parts := make([]string, 0, 1+len(args))
	parts = append(parts, systemdQuote(exe))
	for _, a := range args {
		parts = append(parts, systemdQuote(a))
	}
	return strings.Join(parts, " ")
}

// systemdQuote quotes one word for a unit file: "%" and "$" are doubled so
// systemd does not expand them, and words with spaces, quotes, backslashes or
// nothing in them are double-quoted with C-style escapes.
func systemdQuote(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	s = strings.ReplaceAll(s, "$", "$$")
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\;") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
