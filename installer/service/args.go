package service

import "strings"

// windowsCommandLine builds the service's command line the way the Windows
// runtime parses it (CommandLineToArgvW rules): the executable and every
// argument quoted when needed. mgr.CreateService does the same; Install uses
// this when it updates an existing service.
func windowsCommandLine(exe string, args []string) string {
	parts := make([]string, 0, 1+len(args))
	parts = append(parts, windowsQuote(exe))
	for _, a := range args {
		parts = append(parts, windowsQuote(a))
	}
	return strings.Join(parts, " ")
}

// windowsQuote is syscall.EscapeArg, available on every GOOS.
func windowsQuote(s string) string {
	if s == "" {
		return `""`
	}
	if !strings.ContainsAny(s, " \t\"") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	slashes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '\\':
			slashes++
		case '"':
			for ; slashes > 0; slashes-- {
				b.WriteByte('\\')
			}
			b.WriteByte('\\')
		default:
			slashes = 0
		}
		b.WriteByte(c)
	}
	for ; slashes > 0; slashes-- {
		b.WriteByte('\\')
	}
	b.WriteByte('"')
	return b.String()
}
