package app

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/org"
	"github.com/yiwang/yiwang/installer/service"
	"github.com/yiwang/yiwang/store"
)

// Main runs the yiwang command with args (without the program name) and
// returns the exit code.
func Main(args []string) int {
	return (&cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, env: os.Environ()}).run(args)
}

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	env            []string
	// ctx, when set, replaces the signal context of serve (tests).
	ctx context.Context
	// nodeID is --node-id of an offline command (dataFlag).
	nodeID string
}

const usage = `yiwang 一网统管 — a county's whole 一网统管 platform in one binary.

Usage:
  yiwang serve [flags]                     run the server (console at --http)
  yiwang admin create --user NAME --password-stdin [--data DIR]
                                           create an administrator
  yiwang token create --user NAME --name LABEL [--scope PERMS] [--days N] [--data DIR]
                                           create an API token for an integrator
  yiwang backup --out FILE [--data DIR]    back up (online through the running server, or offline)
  yiwang backup verify FILE                check a backup file (exit status 1 when it is damaged)
  yiwang restore FILE --data DIR           restore a backup into a new, empty data directory
  yiwang audit verify [--data DIR]         verify the hash chain of the audit log
  yiwang service install|uninstall|start|stop|status [--data DIR]
                                           manage yiwang as a system service
  yiwang version                           print the version

Run "yiwang COMMAND -h" for a command's flags. Every serve flag can also be
set in yiwang.toml (--config FILE) or as YIWANG_<KEY> in the environment.
`

func (c *cli) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, fullUsage())
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = c.serve(args[1:])
	case "admin":
		if len(args) < 2 || args[1] != "create" {
			err = usageError("admin: expected 'admin create'")
		} else {
			err = c.adminCreate(args[2:])
		}
	case "token":
		if len(args) < 2 || args[1] != "create" {
			err = usageError("token: expected 'token create'")
		} else {
			err = c.tokenCreate(args[2:])
		}
	case "backup":
		if len(args) > 1 && args[1] == "verify" {
			err = c.backupVerify(args[2:]) // cli_ops.go
		} else {
			err = c.backup(args[1:])
		}
	case "restore":
		err = c.restore(args[1:])
	case "audit":
		if len(args) < 2 || args[1] != "verify" {
			err = usageError("audit: expected 'audit verify'")
		} else {
			err = c.auditVerify(args[2:])
		}
	case "service":
		err = c.service(args[1:])
	case "version", "--version", "-version":
		fmt.Fprintln(c.stdout, "yiwang", Version())
	case "help", "-h", "--help":
		fmt.Fprint(c.stdout, fullUsage())
	default:
		if e, ok := extraCommands[args[0]]; ok {
			err = e.run(c, args[1:])
		} else {
			err = usageError(fmt.Sprintf("unknown command %q", args[0]))
		}
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(c.stderr, "yiwang:", err)
	if code := exitCode(err); code != 0 { // cli_ops.go
		return code
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintln(c.stderr, `run "yiwang help" for usage`)
		return 2
	}
	return 1
}

type usageError string

func (e usageError) Error() string { return string(e) }

func (c *cli) flags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("yiwang "+name, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	return fs
}

// parse parses flags; a bad flag becomes a usage error naming it.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError(fs.Name() + ": " + err.Error())
	}
	return nil
}

// ---- serve ----

func (c *cli) serve(args []string) error {
	fs := c.flags("serve")
	var cf configFlags
	cf.bind(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError("serve: unexpected argument " + fs.Arg(0))
	}
	cfg, err := cf.load(c.env)
	if err != nil {
		return err
	}
	run := func(ctx context.Context) error {
		start := time.Now()
		a, err := New(cfg, Options{Out: c.stdout})
		if err != nil {
			return err
		}
		if err := a.Start(ctx); err != nil {
			a.Close()
			return err
		}
		a.logf("yiwang %s serving %s (data %s, node %s) — ready in %s", Version(), a.URL(), cfg.Data, a.st.NodeID(), time.Since(start).Round(time.Millisecond))
		if needs, _ := a.org.NeedsSetup(ctx); needs {
			a.logf("first run: open %s on this machine to create the administrator, or run: yiwang admin create --data %s --user NAME --password-stdin", a.URL(), cfg.Data)
		}
		<-ctx.Done()
		a.logf("shutting down")
		return a.Close()
	}
	if c.ctx != nil {
		return run(c.ctx)
	}
	return service.Run("yiwang", run)
}

// openOffline opens the data dir with the store started but no HTTP server
// (for commands run while the server is stopped).
func (c *cli) openOffline(ctx context.Context, data string) (*App, error) {
	cfg := DefaultConfig()
	cfg.Data = data
	cfg.NodeID = c.nodeID // --node-id: a data dir prepared offline keeps the name serve will use
	cfg.MQTT = "-"        // offline commands run no broker
	if _, err := os.Stat(data); err != nil {
		return nil, fmt.Errorf("data directory %s: %w", data, err)
	}
	a, err := New(cfg, Options{Logf: func(string, ...any) {}, Out: c.stdout})
	if err != nil {
		return nil, err
	}
	if err := a.StartStore(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

// dataFlag adds --data and --config to fs and returns a loader.
func (c *cli) dataFlag(fs *flag.FlagSet) func() (string, error) {
	var cf configFlags
	cf.bind(fs, "data", "node_id")
	return func() (string, error) {
		cfg, err := cf.load(c.env)
		if err != nil {
			return "", err
		}
		c.nodeID = cfg.NodeID
		return cfg.Data, nil
	}
}

// LocalServer finds a yiwang server running on this data dir (via its run
// files) and returns its URL and local admin key. Exported for tools that
// talk to the local server (scripts/kbload).
func LocalServer(data string) (url, key string, ok bool) {
	u, err1 := os.ReadFile(filepath.Join(data, runDir, runURLFile))
	k, err2 := os.ReadFile(filepath.Join(data, runDir, runKeyFile))
	if err1 != nil || err2 != nil {
		return "", "", false
	}
	url, key = strings.TrimSpace(string(u)), strings.TrimSpace(string(k))
	cl := http.Client{Timeout: 3 * time.Second}
	resp, err := cl.Get(url + "/api/health")
	if err != nil {
		return "", "", false
	}
	resp.Body.Close()
	return url, key, true
}

func callServer(method, url, key string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var eb httpapi.ErrorBody
		b, _ := io.ReadAll(resp.Body)
		if json.Unmarshal(b, &eb) == nil && eb.Error.Message != "" {
			return &store.Error{Code: eb.Error.Code, Message: eb.Error.Message, Fields: eb.Error.Fields}
		}
		return fmt.Errorf("server answered %s", resp.Status)
	}
	if w, ok := out.(io.Writer); ok {
		_, err = io.Copy(w, resp.Body)
		return err
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

// ---- admin create ----

func (c *cli) adminCreate(args []string) error {
	fs := c.flags("admin create")
	data := c.dataFlag(fs)
	user := fs.String("user", "", "administrator login name")
	stdin := fs.Bool("password-stdin", false, "read the password from standard input (first line)")
	county := fs.String("county", "", "county name (set when none is set yet)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *user == "" || !*stdin {
		return usageError("admin create: --user NAME and --password-stdin are required (passwords are never given on the command line)")
	}
	dir, err := data()
	if err != nil {
		return err
	}
	pw, err := readPassword(c.stdin)
	if err != nil {
		return err
	}
	if msg := org.CheckPasswordPolicy(pw, *user); msg != "" {
		return fmt.Errorf("password %s", msg)
	}
	if url, key, ok := LocalServer(dir); ok {
		in := org.UserInput{Username: *user, Name: "系统管理员", Roles: []string{httpapi.RoleAdmin}, Password: pw}
		var u org.User
		if err := callServer("POST", url+"/api/v1/users", key, in, &u); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "administrator %s created (id %d) through the running server\n", u.Username, u.ID)
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	a, err := c.openOffline(ctx, dir)
	if err != nil {
		return err
	}
	defer a.Close()
	needs, err := a.org.NeedsSetup(ctx)
	if err != nil {
		return err
	}
	var u *org.User
	if needs && *county != "" {
		u, err = a.org.Setup(ctx, "system:cli", org.SetupInput{CountyName: *county, Username: *user, Password: pw}, true)
	} else {
		u, err = a.org.CreateAdmin(ctx, "system:cli", *user, pw)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "administrator %s created (id %d) in %s\n", u.Username, u.ID, dir)
	return nil
}

func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", fmt.Errorf("no password on standard input")
	}
	return pw, nil
}

// ---- token create ----

func (c *cli) tokenCreate(args []string) error {
	fs := c.flags("token create")
	data := c.dataFlag(fs)
	user := fs.String("user", "", "login name of the token's user (usually an integrator account)")
	name := fs.String("name", "", "label of the token (which system uses it)")
	scope := fs.String("scope", "", "comma-separated permissions the token is limited to (default: all of the user's)")
	days := fs.Int("days", 0, "days until the token expires (0: never)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *user == "" || *name == "" {
		return usageError("token create: --user and --name are required")
	}
	dir, err := data()
	if err != nil {
		return err
	}
	var perms []string
	for _, p := range strings.Split(*scope, ",") {
		if p = strings.TrimSpace(p); p != "" {
			perms = append(perms, p)
		}
	}
	var out *org.TokenCreated
	if url, key, ok := LocalServer(dir); ok {
		var users httpapi.Page[org.User]
		if err := callServer("GET", url+"/api/v1/users?q="+*user+"&limit=500", key, nil, &users); err != nil {
			return err
		}
		var id int64
		for _, u := range users.Items {
			if strings.EqualFold(u.Username, *user) {
				id = u.ID
			}
		}
		if id == 0 {
			return fmt.Errorf("no user %s", *user)
		}
		out = &org.TokenCreated{}
		if err := callServer("POST", url+"/api/v1/tokens", key, org.TokenInput{UserID: id, Name: *name, Permissions: perms, ExpiresDays: *days}, out); err != nil {
			return err
		}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		a, err := c.openOffline(ctx, dir)
		if err != nil {
			return err
		}
		defer a.Close()
		u, err := a.org.UserByUsername(ctx, *user)
		if err != nil {
			return fmt.Errorf("user %s: %w", *user, err)
		}
		out, err = a.org.CreateToken(ctx, "system:cli", org.TokenInput{UserID: u.ID, Name: *name, Permissions: perms, ExpiresDays: *days})
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(c.stderr, "token %d for %s created; it is shown once:\n", out.ID, *user)
	fmt.Fprintln(c.stdout, out.Secret)
	return nil
}

// ---- backup and restore ----

func (c *cli) backup(args []string) error {
	fs := c.flags("backup")
	data := c.dataFlag(fs)
	out := fs.String("out", "", "backup file to write")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError("backup: --out FILE is required")
	}
	dir, err := data()
	if err != nil {
		return err
	}
	tmp := *out + ".partial"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	how := "offline"
	if url, key, ok := LocalServer(dir); ok {
		how = "online from " + url
		err = callServer("POST", url+"/api/v1/admin/backup", key, nil, f)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		defer cancel()
		var a *App
		a, err = c.openOffline(ctx, dir)
		if err == nil {
			_, err = a.st.Backup(ctx, f)
			a.Close()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	info, err := store.VerifyBackup(tmp)
	if err != nil {
		return fmt.Errorf("the backup does not verify: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "backup %s written (%s): index %d, %d bytes, sha256 %s\n", *out, how, info.Index, info.Size, info.SHA256)
	return nil
}

func (c *cli) restore(args []string) error {
	fs := c.flags("restore")
	var file string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		file, args = args[0], args[1:]
	}
	data := c.dataFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if file == "" && fs.NArg() == 1 {
		file = fs.Arg(0)
	}
	if file == "" {
		return usageError("restore: usage: yiwang restore FILE --data DIR")
	}
	dir, err := data()
	if err != nil {
		return err
	}
	info, err := store.RestoreBackup(file, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "restored %s into %s (index %d from node %s, taken %s); start it with: yiwang serve --data %s\n",
		file, dir, info.Index, info.NodeID, info.Time.In(httpapi.ChinaTime).Format("2006-01-02 15:04:05"), dir)
	return nil
}

// ---- audit verify ----

func (c *cli) auditVerify(args []string) error {
	fs := c.flags("audit verify")
	data := c.dataFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	dir, err := data()
	if err != nil {
		return err
	}
	ctx := context.Background()
	var rep store.AuditReport
	if url, key, ok := LocalServer(dir); ok {
		err = callServer("GET", url+"/api/v1/audit/verify", key, nil, &rep)
	} else {
		rep, err = store.VerifyAuditFile(ctx, dir)
	}
	if err != nil {
		return err
	}
	if !rep.OK {
		return fmt.Errorf("audit log TAMPERED: %d rows checked, first bad index %d: %s", rep.Rows, rep.FirstBad, rep.Problem)
	}
	fmt.Fprintf(c.stdout, "audit log intact: %d rows, hash chain verified\n", rep.Rows)
	return nil
}

// ---- service ----

func (c *cli) service(args []string) error {
	if len(args) == 0 {
		return usageError("service: expected install, uninstall, start, stop or status")
	}
	verb := args[0]
	fs := c.flags("service " + verb)
	data := fs.String("data", "", "data directory of the service")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	// A binary installed by hand gets BareConfig; the packaged binary
	// (/usr/bin/yiwang from the .deb/.rpm) manages the packaged unit.
	cfg := service.BareConfig(*data)
	if exe, err := os.Executable(); err == nil && *data == "" && runtime.GOOS == "linux" && exe == "/usr/bin/yiwang" {
		cfg = service.PackageConfig()
	}
	m, err := service.New(cfg)
	if err != nil {
		return err
	}
	switch verb {
	case "install":
		err = m.Install()
	case "uninstall":
		err = m.Uninstall()
	case "start":
		err = m.Start()
	case "stop":
		err = m.Stop()
	case "status":
		var st service.State
		st, err = m.Status()
		if err == nil {
			fmt.Fprintln(c.stdout, st)
			if st != service.StateRunning {
				return fmt.Errorf("service is %s", st)
			}
		}
	default:
		return usageError("service: unknown action " + verb)
	}
	return err
}
