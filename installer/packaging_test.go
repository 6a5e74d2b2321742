package installer

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nfpmPaths returns the src: and script paths named in nfpm.yaml.
func nfpmPaths(t *testing.T) (srcs, scripts []string) {
	t.Helper()
	f, err := os.Open("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inScripts := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if !strings.HasPrefix(line, " ") && trim != "" {
			inScripts = trim == "scripts:"
		}
		if v, ok := strings.CutPrefix(trim, "- src:"); ok {
			srcs = append(srcs, strings.TrimSpace(v))
		} else if inScripts {
			if _, v, ok := strings.Cut(trim, ":"); ok && strings.TrimSpace(v) != "" {
				scripts = append(scripts, strings.TrimSpace(v))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return srcs, scripts
}

func TestNfpmFilesExist(t *testing.T) {
	srcs, scripts := nfpmPaths(t)
	if len(srcs) < 4 || len(scripts) != 3 {
		t.Fatalf("nfpm.yaml: found sources %q and scripts %q", srcs, scripts)
	}
	for _, p := range append(srcs, scripts...) {
		if strings.Contains(p, "${") {
			continue // filled in by scripts/dist.sh
		}
		// nfpm runs from the repository root.
		if _, err := os.Stat(filepath.Join("..", p)); err != nil {
			t.Errorf("nfpm.yaml names %s: %v", p, err)
		}
	}
}

func TestMaintainerScriptsParse(t *testing.T) {
	_, scripts := nfpmPaths(t)
	shells := []string{"sh"}
	if _, err := exec.LookPath("dash"); err == nil {
		shells = append(shells, "dash")
	}
	for _, p := range scripts {
		path := filepath.Join("..", p)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "#!/bin/sh\n") {
			t.Errorf("%s does not start with #!/bin/sh", p)
		}
		for _, sh := range shells {
			if out, err := exec.Command(sh, "-n", path).CombinedOutput(); err != nil {
				t.Errorf("%s -n %s: %v\n%s", sh, p, err, out)
			}
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode()&0o111 == 0 {
			t.Errorf("%s is not executable", p)
		}
	}
}

// The post-install message is the operator's first contact: it must carry
// the console URL and the exact admin command from the CLI contract.
func TestPostinstallMessage(t *testing.T) {
	b, err := os.ReadFile("linux/postinstall.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"http://127.0.0.1:8080/",
		"yiwang admin create --data $DATA_DIR --user admin --password-stdin",
		"systemctl status yiwang",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("postinstall.sh lacks %q", want)
		}
	}
}
