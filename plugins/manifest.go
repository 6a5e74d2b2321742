package plugins

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/robfig/cron/v3"
	"github.com/yiwang/yiwang/plugins/abi"
)

// Manifest is plugin.json.
type Manifest struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	ABI         int      `json:"abi"`
	Description string   `json:"description,omitempty"`
	Author      string   `json:"author,omitempty"`
	Permissions []string `json:"permissions"`
	// Hosts are the outbound HTTP hosts the plugin wants ("host" matches any
	// port, "host:port" exactly). Only those the admin approves are usable.
	Hosts []string `json:"hosts,omitempty"`
	// Topics are the MQTT topic filters the plugin may publish to.
	Topics []string `json:"topics,omitempty"`
	// Events are the event types the plugin's hook subscribes to.
	Events []string `json:"events,omitempty"`
	// Cron entries: named jobs with a standard 5-field cron schedule or a
	// descriptor (@daily, @every 1h).
	Cron []CronEntry `json:"cron,omitempty"`
	// DeviceTypes the decoder handles.
	DeviceTypes []string `json:"device_types,omitempty"`
	// Settings are defaults the admin may override at approval.
	Settings map[string]string `json:"settings,omitempty"`
}

// CronEntry is one scheduled job.
type CronEntry struct {
	Name     string `json:"name"`
	Schedule string `json:"schedule"`
}

var (
	nameRE    = regexp.MustCompile(`^[a-z][a-z0-9-]{1,62}$`)
	versionRE = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)
	tokenRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseManifest decodes and validates plugin.json.
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("plugin.json: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// Has reports whether the manifest declares permission p.
func (m *Manifest) Has(p string) bool { return slices.Contains(m.Permissions, p) }

// Validate checks the manifest's fields and their consistency with the
// declared permissions.
func (m *Manifest) Validate() error {
	if !nameRE.MatchString(m.Name) {
		return fmt.Errorf("plugin.json: bad name %q (want lower-case letters, digits and '-', 2-63 chars)", m.Name)
	}
	if !versionRE.MatchString(m.Version) {
		return fmt.Errorf("plugin.json: bad version %q (want semver like 1.2.3)", m.Version)
	}
	if m.ABI != abi.Version {
		return fmt.Errorf("plugin.json: abi version %d is not supported (this host speaks %d)", m.ABI, abi.Version)
	}
	if len(m.Permissions) == 0 {
		return fmt.Errorf("plugin.json: no permissions: the plugin could do nothing")
	}
	seen := map[string]bool{}
	for _, p := range m.Permissions {
		if !slices.Contains(abi.AllPermissions, p) {
			return fmt.Errorf("plugin.json: unknown permission %q", p)
		}
		if seen[p] {
			return fmt.Errorf("plugin.json: duplicate permission %q", p)
		}
		seen[p] = true
	}
	need := func(field, perm string, n int) error {
		if n > 0 && !seen[perm] {
			return fmt.Errorf("plugin.json: %s needs permission %q", field, perm)
		}
		if n == 0 && seen[perm] && field != "" {
			return fmt.Errorf("plugin.json: permission %q needs %s", perm, field)
		}
		return nil
	}
	for _, c := range []struct {
		field, perm string
		n           int
	}{
		{"device_types", abi.PermDecode, len(m.DeviceTypes)},
		{"events", abi.PermEvents, len(m.Events)},
		{"hosts", abi.PermHTTP, len(m.Hosts)},
		{"cron", abi.PermCron, len(m.Cron)},
		{"topics", abi.PermPublish, len(m.Topics)},
	} {
		if err := need(c.field, c.perm, c.n); err != nil {
			return err
		}
	}
	for _, d := range m.DeviceTypes {
		if !tokenRE.MatchString(d) {
			return fmt.Errorf("plugin.json: bad device type %q", d)
		}
	}
	for _, e := range m.Events {
		if !slices.Contains(abi.AllEvents, e) {
			return fmt.Errorf("plugin.json: unknown event %q", e)
		}
	}
	for _, h := range m.Hosts {
		if err := checkHostPattern(h); err != nil {
			return fmt.Errorf("plugin.json: %w", err)
		}
	}
	for _, t := range m.Topics {
		if t == "" || strings.HasPrefix(t, "$") || strings.Contains(t, "\x00") {
			return fmt.Errorf("plugin.json: bad topic %q", t)
		}
	}
	names := map[string]bool{}
	for _, c := range m.Cron {
		if !tokenRE.MatchString(c.Name) || names[c.Name] {
			return fmt.Errorf("plugin.json: bad or duplicate cron name %q", c.Name)
		}
		names[c.Name] = true
		if _, err := cronParser.Parse(c.Schedule); err != nil {
			return fmt.Errorf("plugin.json: cron %q: bad schedule %q: %v", c.Name, c.Schedule, err)
		}
	}
	return nil
}

func checkHostPattern(h string) error {
	if h == "" || strings.ContainsAny(h, "/@?#* ") {
		return fmt.Errorf("bad host %q (want host or host:port, no scheme or path)", h)
	}
	if strings.Contains(h, ":") && !strings.HasPrefix(h, "[") {
		if _, port, err := net.SplitHostPort(h); err != nil || port == "" {
			return fmt.Errorf("bad host %q", h)
		}
	}
	return nil
}

// hostAllowed reports whether URL host hostport (host or host:port)
// matches an allow-list entry: "host" allows any port, "host:port" exactly.
func hostAllowed(allowed []string, hostname, hostport string) bool {
	for _, a := range allowed {
		if strings.EqualFold(a, hostport) || strings.EqualFold(a, hostname) {
			return true
		}
	}
	return false
}

// topicAllowed matches an MQTT topic against filters with + and #.
func topicAllowed(filters []string, topic string) bool {
	if topic == "" || strings.ContainsAny(topic, "+#") {
		return false
	}
	tl := strings.Split(topic, "/")
	for _, f := range filters {
		fl := strings.Split(f, "/")
		ok := true
		for i, p := range fl {
			if p == "#" {
				break
			}
			if i >= len(tl) || (p != "+" && p != tl[i]) {
				ok = false
				break
			}
			if i == len(fl)-1 && len(tl) != len(fl) {
				ok = false
			}
		}
		if ok {
			return true
		}
	}
	return false
}
