package installer

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/yiwang/yiwang/app"
)

// TestUpgradeFromPreviousRelease opens the data dir written by the previous
// release (testdata/upgrade, made by scripts/test-upgrade.sh from the commit
// in previous-commit) with the code of this tree: migrations run, the data
// is served, the previous release's administrator logs in.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	manifest := readManifest(t, "testdata/upgrade/manifest.env")
	data := filepath.Join(t.TempDir(), "data")
	untar(t, "testdata/upgrade/data.tar.gz", filepath.Dir(data))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := app.DefaultConfig()
	cfg.Data = data
	cfg.MQTT = "-"
	a, err := app.New(cfg, app.Options{Logf: t.Logf, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatalf("the current code does not start on the previous release's data: %v", err)
	}
	defer a.Close()

	body := fmt.Sprintf(`{"username":%q,"password":"Upgrade-Test-2026!pw"}`, manifest["ADMIN_USER"])
	resp, err := http.Post(a.URL()+"/api/v1/auth/login", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var login struct {
		Token string `json:"token"`
	}
	json.NewDecoder(resp.Body).Decode(&login)
	resp.Body.Close()
	if login.Token == "" {
		t.Fatalf("the previous release's administrator cannot log in: %s", resp.Status)
	}
	checked := 0
	for k, want := range manifest {
		coll, ok := strings.CutPrefix(k, "TOTAL_")
		if !ok || want == "none" {
			continue
		}
		req, _ := http.NewRequest("GET", a.URL()+"/api/v1/"+coll+"?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+login.Token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Total json.Number `json:"total"`
		}
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if resp.StatusCode != 200 || page.Total.String() != want {
			t.Errorf("%s: %s, total %s; the previous release had %s", coll, resp.Status, page.Total, want)
		}
		checked++
	}
	if checked < 5 {
		t.Fatalf("manifest lists only %d collections", checked)
	}
	rep, err := a.Store().VerifyAudit(context.Background())
	if err != nil || !rep.OK {
		t.Fatalf("audit chain after the upgrade: %+v %v", rep, err)
	}
}

func readManifest(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if !strings.HasPrefix(p, filepath.Clean(dir)+string(filepath.Separator)) {
			t.Fatalf("bad path in archive: %s", h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o750); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			w, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(w, tr); err != nil {
				t.Fatal(err)
			}
			w.Close()
		}
	}
}
