package app

import (
	"bufio"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/pluginhost"
	"github.com/yiwang/yiwang/plugins"
)

func init() {
	registerCommand("plugin", `  yiwang plugin install FILE.ywp [--yes] [--hosts H1,H2] [--allow-unsigned] [--set KEY=VALUE]...
                                           install or upgrade a plugin (shows its permissions for approval)
  yiwang plugin list|enable NAME|disable NAME|remove NAME [--purge]|logs NAME [-n N]|run NAME JOB
                                           manage installed plugins on the running server
  yiwang plugin pack DIR [--key FILE]      pack DIR/plugin.json + plugin.wasm into NAME-VERSION.ywp
  yiwang plugin keygen FILE                write an ed25519 signing key (FILE) and its public key (FILE.pub)
  yiwang plugin trust FILE.pub [--comment C] | keys | untrust KEYID
                                           signing keys whose plugins install without --allow-unsigned
`, (*cli).plugin)
}

// parseAll parses flags placed before, between or after positional
// arguments and returns the positional ones.
func parseAll(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

type settingsFlag map[string]string

func (s settingsFlag) String() string { return fmt.Sprint(map[string]string(s)) }
func (s settingsFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want KEY=VALUE")
	}
	s[k] = val
	return nil
}

func (c *cli) plugin(args []string) error {
	if len(args) == 0 {
		return usageError("plugin: want install, list, enable, disable, remove, logs or pack")
	}
	sub, args := args[0], args[1:]
	fs := c.flags("plugin " + sub)
	switch sub {
	case "pack":
		key := fs.String("key", "", "ed25519 private key file (base64 seed or key) to sign with")
		pos, err := parseAll(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("plugin pack: want one directory")
		}
		var priv ed25519.PrivateKey
		if *key != "" {
			if priv, err = readPrivateKey(*key); err != nil {
				return err
			}
		}
		path, err := plugins.PackDir(pos[0], priv)
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, path)
		return nil
	case "keygen":
		pos, err := parseAll(fs, args)
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usageError("plugin keygen: want one output file")
		}
		pub, priv, err := ed25519.GenerateKey(nil)
		if err != nil {
			return err
		}
		if err := os.WriteFile(pos[0], []byte(base64.StdEncoding.EncodeToString(priv.Seed())+"\n"), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(pos[0]+".pub", []byte(base64.StdEncoding.EncodeToString(pub)+"\n"), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "key %s: private %s, public %s\n", plugins.KeyID(pub), pos[0], pos[0]+".pub")
		return nil
	case "install", "list", "enable", "disable", "remove", "logs", "trust", "keys", "untrust", "run":
	default:
		return usageError("plugin: unknown subcommand " + sub)
	}
	rf := c.remoteFlags(fs)
	var (
		yes, unsigned, purge *bool
		hosts, comment       *string
		n                    *int
		settings             = settingsFlag{}
	)
	switch sub {
	case "install":
		yes = fs.Bool("yes", false, "approve every permission and declared host without asking")
		hosts = fs.String("hosts", "", "comma-separated HTTP hosts to approve (default: ask; with --yes: all declared)")
		unsigned = fs.Bool("allow-unsigned", false, "accept an unsigned (or untrusted) package")
		fs.Var(settings, "set", "plugin setting KEY=VALUE (repeatable)")
	case "remove":
		purge = fs.Bool("purge", false, "also delete the plugin's key-value data")
	case "logs":
		n = fs.Int("n", 200, "number of lines")
	case "trust":
		comment = fs.String("comment", "", "whose key it is")
	}
	pos, err := parseAll(fs, args)
	if err != nil {
		return err
	}
	want := 1
	switch sub {
	case "list", "keys":
		want = 0
	case "run":
		want = 2
	}
	if len(pos) != want {
		return usageError(fmt.Sprintf("plugin %s: want %d argument(s)", sub, want))
	}
	call, err := rf.call(c)
	if err != nil {
		return err
	}
	name := ""
	if want > 0 {
		name = url.PathEscape(pos[0])
	}
	switch sub {
	case "list":
		var page httpapi.Page[pluginhost.Plugin]
		if err := call("GET", "/api/v1/plugins", nil, &page); err != nil {
			return err
		}
		c.printPlugins(page.Items)
		return nil
	case "enable", "disable":
		var p pluginhost.Plugin
		if err := call("POST", "/api/v1/plugins/"+name+"/"+sub, nil, &p); err != nil {
			return err
		}
		c.printPlugins([]pluginhost.Plugin{p})
		return nil
	case "remove":
		q := ""
		if *purge {
			q = "?purge=true"
		}
		if err := call("DELETE", "/api/v1/plugins/"+name+q, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "plugin %s removed\n", pos[0])
		return nil
	case "run":
		var o plugins.Outcome
		if err := call("POST", "/api/v1/plugins/"+name+"/jobs/"+url.PathEscape(pos[1])+"/run", nil, &o); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "job %s of %s ran", pos[1], pos[0])
		for i, a := range o.Actions {
			res := ""
			if i < len(o.Results) && o.Results[i] != "" {
				res = " → " + o.Results[i]
			}
			fmt.Fprintf(c.stdout, "; action %s%s", a.Type, res)
		}
		fmt.Fprintln(c.stdout)
		return nil
	case "trust":
		b, err := os.ReadFile(pos[0])
		if err != nil {
			return err
		}
		var k pluginhost.Key
		if err := call("POST", "/api/v1/plugin-keys", pluginhost.KeyInput{Key: strings.TrimSpace(string(b)), Comment: *comment}, &k); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "trusting key %s on the cluster\n", k.KeyID)
		return nil
	case "untrust":
		if err := call("DELETE", "/api/v1/plugin-keys/"+name, nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "key %s no longer trusted\n", pos[0])
		return nil
	case "keys":
		var page httpapi.Page[pluginhost.Key]
		if err := call("GET", "/api/v1/plugin-keys", nil, &page); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KEY ID\tADDED\tBY\tCOMMENT")
		for _, k := range page.Items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.KeyID, k.AddedAt, k.AddedBy, k.Comment)
		}
		return tw.Flush()
	case "logs":
		var page httpapi.Page[plugins.LogLine]
		if err := call("GET", fmt.Sprintf("/api/v1/plugins/%s/logs?n=%d", name, *n), nil, &page); err != nil {
			return err
		}
		for _, l := range page.Items {
			fmt.Fprintf(c.stdout, "%s %-5s %s\n", l.Time.Local().Format(time.DateTime), l.Level, l.Message)
		}
		return nil
	}
	return c.pluginInstall(call, pos[0], *yes, *unsigned, *hosts, settings)
}

func (c *cli) pluginInstall(call func(method, path string, in, out any) error, file string, yes, unsigned bool, hosts string, settings map[string]string) error {
	pkg, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var insp pluginhost.Inspection
	if err := call("POST", "/api/v1/plugins/inspect", pluginhost.InstallInput{Package: pkg}, &insp); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	man := insp.Manifest
	w := c.stdout
	fmt.Fprintf(w, "plugin      %s %s (abi %d)\n", man.Name, man.Version, man.ABI)
	if insp.Installed != "" {
		fmt.Fprintf(w, "upgrade     from %s (key-value data kept)\n", insp.Installed)
	}
	fmt.Fprintf(w, "author      %s\ndescription %s\n", man.Author, man.Description)
	signer := "UNSIGNED"
	if insp.Signed {
		signer = "signed by key " + insp.SignerKeyID
	}
	fmt.Fprintf(w, "signature   %s\ndigest      %s\n", signer, insp.Digest)
	fmt.Fprintf(w, "permissions %s\n", strings.Join(man.Permissions, ", "))
	for _, l := range [][2]string{{"device types", strings.Join(man.DeviceTypes, ", ")}, {"events", strings.Join(man.Events, ", ")},
		{"http hosts", strings.Join(man.Hosts, ", ")}, {"topics", strings.Join(man.Topics, ", ")}} {
		if l[1] != "" {
			fmt.Fprintf(w, "%-11s %s\n", l[0], l[1])
		}
	}
	for _, cr := range man.Cron {
		fmt.Fprintf(w, "cron        %s: %s\n", cr.Name, cr.Schedule)
	}
	ap := plugins.Approval{Permissions: man.Permissions, Settings: settings, AllowUnsigned: unsigned}
	switch {
	case hosts != "":
		for _, h := range strings.Split(hosts, ",") {
			if h = strings.TrimSpace(h); h != "" {
				ap.Hosts = append(ap.Hosts, h)
			}
		}
	case yes:
		ap.Hosts = man.Hosts
	}
	if !yes {
		in := bufio.NewReader(c.stdin)
		if len(man.Hosts) > 0 && hosts == "" {
			for _, h := range man.Hosts {
				if ask(w, in, "allow outbound HTTP to "+h+"?") {
					ap.Hosts = append(ap.Hosts, h)
				}
			}
		}
		if !ask(w, in, "approve these permissions and install?") {
			return errors.New("plugin install: not approved")
		}
	}
	var p pluginhost.Plugin
	if err := call("POST", "/api/v1/plugins", pluginhost.InstallInput{Package: pkg, Approval: &ap}, &p); err != nil {
		return fmt.Errorf("plugin install %s: %w", man.Name, err)
	}
	fmt.Fprintf(w, "installed %s %s on the cluster\n", p.Name, p.Version)
	if !p.Loaded {
		fmt.Fprintln(w, "warning: this node has not loaded it yet; see 'yiwang plugin logs "+p.Name+"' and the server log")
	}
	return nil
}

func ask(w interface{ Write([]byte) (int, error) }, in *bufio.Reader, q string) bool {
	fmt.Fprintf(w, "%s [y/N] ", q)
	line, _ := in.ReadString('\n')
	line = strings.ToLower(strings.TrimSpace(line))
	return line == "y" || line == "yes"
}

func (c *cli) printPlugins(ps []pluginhost.Plugin) {
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tSTATE\tCALLS\tERRORS\tFAILURES\tAVG\tPERMISSIONS\tNOTE")
	for _, p := range ps {
		state := "enabled"
		if !p.Enabled {
			state = "disabled"
		}
		if !p.Loaded {
			state += ",not-loaded"
		}
		note := p.DisabledReason
		if note == "" {
			note = p.Metrics.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%v\t%s\t%s\n", p.Name, p.Version, state, p.Metrics.Calls, p.Metrics.Errors, p.Metrics.Failures,
			p.Metrics.AvgTime.Round(time.Microsecond), strings.Join(p.Permissions, ","), truncateRunes(note, 120))
	}
	tw.Flush()
}

func truncateRunes(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// readPrivateKey reads an ed25519 key file: base64 of a 32-byte seed or a
// 64-byte private key.
func readPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: not base64: %v", path, err)
	}
	switch len(raw) {
	case ed25519.SeedSize:
		return ed25519.NewKeyFromSeed(raw), nil
	case ed25519.PrivateKeySize:
		return ed25519.PrivateKey(raw), nil
	}
	return nil, fmt.Errorf("%s: want a base64 ed25519 seed (32 bytes) or private key (64 bytes)", path)
}
