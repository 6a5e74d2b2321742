package desktop

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// Modes of the desktop shell.
const (
	ModeStandalone = "standalone" // the whole server runs inside the app
	ModeClient     = "client"     // the app connects to the county server
)

// Settings is what the shell remembers between starts (desktop.json in the
// user's config dir).
type Settings struct {
	Mode string `json:"mode,omitempty"`
	// ServerURL is the county server's base URL (client mode).
	ServerURL string `json:"server_url,omitempty"`
	// DataDir holds the embedded server's data (standalone mode); empty
	// means DefaultDataDir().
	DataDir string `json:"data_dir,omitempty"`
	// MQTT is the embedded broker's listen address (standalone mode);
	// empty means ":1883" (the sensors on the LAN publish to this PC).
	MQTT string `json:"mqtt,omitempty"`
	// HTTP is the embedded server's listen address; empty means
	// 127.0.0.1 on a free port (only this window uses it).
	HTTP string `json:"http,omitempty"`
	// Demo seeds the demo county 示范县 in a fresh standalone data dir.
	Demo bool `json:"demo,omitempty"`
}

// Validate checks and normalises s.
func (s *Settings) Validate() error {
	switch s.Mode {
	case ModeStandalone:
		return nil
	case ModeClient:
		u, err := NormalizeServerURL(s.ServerURL)
		if err != nil {
			return err
		}
		s.ServerURL = u
		return nil
	case "":
		return errors.New("mode: choose standalone or client")
	default:
		return fmt.Errorf("mode: %q is neither standalone nor client", s.Mode)
	}
}

// NormalizeServerURL accepts "10.0.0.5:8080", "http://host:8080/" or
// "https://host" and returns "scheme://host[:port]" without a trailing
// slash or path.
func NormalizeServerURL(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", errors.New("server_url: enter the county server's address, e.g. http://10.0.0.5:8080")
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("server_url: %q is not an address like http://10.0.0.5:8080", raw)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("server_url: scheme %q is not http or https", u.Scheme)
	}
	p := strings.TrimRight(u.Path, "/")
	return u.Scheme + "://" + u.Host + p, nil
}

// DefaultSettingsPath is desktop.json in the user's config dir
// (~/.config/yiwang on Linux, %AppData%\yiwang on Windows).
func DefaultSettingsPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		dir = "."
	}
	return filepath.Join(dir, "yiwang", "desktop.json")
}

// DefaultDataDir is where standalone mode keeps its data: the user's
// app-data dir (%LocalAppData%\yiwang\data on Windows,
// $XDG_DATA_HOME/yiwang-desktop or ~/.local/share/yiwang-desktop on Linux,
// ~/Library/Application Support/yiwang on macOS).
func DefaultDataDir() string {
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LocalAppData"); d != "" {
			return filepath.Join(d, "yiwang", "data")
		}
	case "darwin":
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, "Library", "Application Support", "yiwang")
		}
	default:
		if x := os.Getenv("XDG_DATA_HOME"); x != "" {
			return filepath.Join(x, "yiwang-desktop")
		}
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "share", "yiwang-desktop")
		}
	}
	return "yiwang-data"
}

// LoadSettings reads path; a missing file gives zero Settings (first start).
func LoadSettings(path string) (Settings, error) {
	var s Settings
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return s, nil
	}
	if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return Settings{}, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// SaveSettings writes s to path atomically (temp file + rename).
func SaveSettings(path string, s Settings) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ApplyEnv overrides s with YIWANG_DESKTOP_MODE, _SERVER, _DATA, _MQTT,
// _HTTP and _DEMO from env ("KEY=value" pairs, as os.Environ). It reports
// whether anything was overridden; overridden settings are not saved.
func (s *Settings) ApplyEnv(env []string) bool {
	changed := false
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(k, "YIWANG_DESKTOP_") {
			continue
		}
		switch strings.TrimPrefix(k, "YIWANG_DESKTOP_") {
		case "MODE":
			s.Mode, changed = v, true
		case "SERVER":
			s.ServerURL, changed = v, true
		case "DATA":
			s.DataDir, changed = v, true
		case "MQTT":
			s.MQTT, changed = v, true
		case "HTTP":
			s.HTTP, changed = v, true
		case "DEMO":
			s.Demo, changed = v == "1" || v == "true", true
		}
	}
	return changed
}
