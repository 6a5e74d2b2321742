package desktop

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServerHasNoWails checks that the server binary (the module's main
// package, built without tags) depends on no github.com/wailsapp package,
// while the desktop command does (so the check can fail).
func TestServerHasNoWails(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("go not in PATH")
		}
		t.Skip("go not in PATH")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	deps := func(args ...string) []string {
		cmd := exec.Command(gobin, append([]string{"list", "-e", "-deps"}, args...)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list -deps %v: %v", args, err)
		}
		return strings.Fields(string(out))
	}
	wails := func(pkgs []string) []string {
		var w []string
		for _, p := range pkgs {
			if strings.HasPrefix(p, "github.com/wailsapp/") {
				w = append(w, p)
			}
		}
		return w
	}
	server := deps(".")
	if len(server) < 50 {
		t.Fatalf("go list -deps . listed only %d packages", len(server))
	}
	if w := wails(server); len(w) > 0 {
		t.Errorf("the server binary imports Wails: %v", w)
	}
	if w := wails(deps("-tags", "desktop,production", "./app/desktop/cmd/yiwang-desktop")); len(w) == 0 {
		t.Errorf("the desktop command does not import Wails: is the build tag right?")
	}
}
