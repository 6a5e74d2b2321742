package desktop

import (
	"path/filepath"
	"testing"
)

func TestSettingsRemembered(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "desktop.json")
	s, err := LoadSettings(path)
	if err != nil || s.Mode != "" {
		t.Fatalf("first start: %+v, %v; want zero settings", s, err)
	}
	want := Settings{Mode: ModeClient, ServerURL: "http://10.0.0.5:8080"}
	if err := SaveSettings(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := LoadSettings(path)
	if err != nil || got != want {
		t.Fatalf("reloaded %+v, %v; want %+v", got, err, want)
	}
}

func TestSettingsEnvOverride(t *testing.T) {
	s := Settings{Mode: ModeClient, ServerURL: "http://a:1"}
	if s.ApplyEnv([]string{"PATH=/bin", "HOME=/x"}) {
		t.Fatal("unrelated variables reported as override")
	}
	if !s.ApplyEnv([]string{"YIWANG_DESKTOP_MODE=standalone", "YIWANG_DESKTOP_DATA=/tmp/d", "YIWANG_DESKTOP_MQTT=127.0.0.1:0", "YIWANG_DESKTOP_DEMO=1"}) {
		t.Fatal("override not reported")
	}
	if s.Mode != ModeStandalone || s.DataDir != "/tmp/d" || s.MQTT != "127.0.0.1:0" || !s.Demo {
		t.Fatalf("after env: %+v", s)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		in   Settings
		ok   bool
		want string
	}{
		{Settings{Mode: ModeStandalone}, true, ""},
		{Settings{Mode: ModeClient, ServerURL: "10.0.0.5:8080"}, true, "http://10.0.0.5:8080"},
		{Settings{Mode: ModeClient, ServerURL: " https://yw.county.gov.cn/ "}, true, "https://yw.county.gov.cn"},
		{Settings{Mode: ModeClient, ServerURL: ""}, false, ""},
		{Settings{Mode: ModeClient, ServerURL: "ftp://x"}, false, ""},
		{Settings{Mode: ""}, false, ""},
		{Settings{Mode: "server"}, false, ""},
	} {
		s := c.in
		err := s.Validate()
		if (err == nil) != c.ok {
			t.Errorf("%+v: err %v, want ok=%v", c.in, err, c.ok)
		}
		if c.ok && s.ServerURL != c.want {
			t.Errorf("%+v: server %q, want %q", c.in, s.ServerURL, c.want)
		}
	}
}
