package app

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Config is everything `yiwang serve` can be told. Each field has a TOML key
// (yiwang.toml), a flag (--key with dashes) and an environment variable
// (YIWANG_KEY with underscores). Precedence: flag > environment > file >
// default.
type Config struct {
	Data          string `toml:"data" help:"data directory (database, raft log, snapshots)"`
	HTTP          string `toml:"http" help:"HTTP listen address of the console and API"`
	MQTT          string `toml:"mqtt" help:"MQTT listen address for sensors and gateways"`
	MQTTTLS       string `toml:"mqtt_tls" help:"MQTT over TLS listen address (certificate generated into the data dir on first start, or mqtt-tls/cert.pem and key.pem placed there by the admin); auto: port 8883 beside the default :1883, off for other mqtt ports; - disables it"`
	Demo          bool   `toml:"demo" help:"create the demo county 示范县 with sample data and accounts"`
	NodeID        string `toml:"node_id" help:"this node's name in the cluster (default: from the data dir or host name)"`
	Raft          string `toml:"raft" help:"raft listen address (e.g. 0.0.0.0:7946); empty: single node that cannot grow"`
	RaftAdvertise string `toml:"raft_advertise" help:"raft address other nodes use to reach this one"`
	HTTPAdvertise string `toml:"http_advertise" help:"this node's base URL for other nodes (e.g. http://10.0.0.5:8080)"`
	Join          string `toml:"join" help:"base URL of a member of the cluster to join"`
	ClusterSecret string `toml:"cluster_secret" help:"shared secret authenticating cluster traffic"`
	RaftTLSCert   string `toml:"raft_tls_cert" help:"certificate (PEM) for mutual TLS on the raft transport; set with raft_tls_key and raft_tls_ca on every node"`
	RaftTLSKey    string `toml:"raft_tls_key" help:"private key (PEM) for the raft transport"`
	RaftTLSCA     string `toml:"raft_tls_ca" help:"CA certificate (PEM) that signs every node's raft certificate"`
	TLSCert       string `toml:"tls_cert" help:"TLS certificate file (PEM) for HTTPS"`
	TLSKey        string `toml:"tls_key" help:"TLS private key file (PEM) for HTTPS"`
	AccessLog     bool   `toml:"access_log" help:"log every API request"`

	// Operations (app/ops, docs/operations.md).
	BackupDir       string `toml:"backup_dir" help:"directory for scheduled, verified backups (local or removable disk); empty: none"`
	BackupEvery     string `toml:"backup_every" help:"interval of scheduled backups (e.g. 6h); default daily at backup_at"`
	BackupAt        string `toml:"backup_at" help:"daily time of the scheduled backup, HH:MM China time (default 02:30)"`
	BackupKeep      int    `toml:"backup_keep" help:"scheduled backups kept in backup_dir (0: all)"`
	DiskWarnPercent int    `toml:"disk_warn_percent" help:"warn when the data or backup disk is this full (percent)"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Data: DefaultDataDir(), HTTP: "127.0.0.1:8080", MQTT: ":1883", MQTTTLS: "auto", BackupKeep: 7, DiskWarnPercent: 90}
}

// DefaultDataDir is the OS-appropriate data directory: /var/lib/yiwang for
// root on Linux, else $XDG_DATA_HOME/yiwang (~/.local/share/yiwang);
// %ProgramData%\yiwang on Windows; ~/Library/Application Support/yiwang on
// macOS.
func DefaultDataDir() string {
	switch runtime.GOOS {
	case "windows":
		pd := os.Getenv("ProgramData")
		if pd == "" {
			pd = `C:\ProgramData`
		}
		return filepath.Join(pd, "yiwang")
	case "darwin":
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, "Library", "Application Support", "yiwang")
		}
	default:
		if os.Geteuid() == 0 {
			return "/var/lib/yiwang"
		}
		if x := os.Getenv("XDG_DATA_HOME"); x != "" {
			return filepath.Join(x, "yiwang")
		}
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, ".local", "share", "yiwang")
		}
	}
	return "yiwang-data"
}

type field struct {
	key  string // toml key
	flag string
	env  string
	help string
	v    reflect.Value
}

func (c *Config) fields() []field {
	rv := reflect.ValueOf(c).Elem()
	rt := rv.Type()
	out := make([]field, rt.NumField())
	for i := range out {
		f := rt.Field(i)
		key := f.Tag.Get("toml")
		out[i] = field{key: key, flag: strings.ReplaceAll(key, "_", "-"), env: "YIWANG_" + strings.ToUpper(key), help: f.Tag.Get("help"), v: rv.Field(i)}
	}
	return out
}

// configFlags adds the config flags to fs, writing into a staging map so that
// only flags actually given override file and environment.
type configFlags struct {
	cfgFile string
	set     map[string]string
}

func (cf *configFlags) bind(fs *flag.FlagSet, keys ...string) {
	cf.set = map[string]string{}
	fs.StringVar(&cf.cfgFile, "config", "", "configuration file (yiwang.toml); also YIWANG_CONFIG")
	var c Config
	def := DefaultConfig()
	defs := map[string]string{}
	for _, f := range def.fields() {
		defs[f.key] = fmt.Sprint(f.v.Interface())
	}
	for _, f := range c.fields() {
		if len(keys) > 0 && !contains(keys, f.key) {
			continue
		}
		f := f
		help := f.help + " (" + f.env + ")"
		if f.v.Kind() == reflect.Bool {
			fs.Func(f.flag, help, func(s string) error {
				if s == "" {
					s = "true"
				}
				if _, err := strconv.ParseBool(s); err != nil {
					return fmt.Errorf("must be true or false")
				}
				cf.set[f.key] = s
				return nil
			})
			// Allow the bare form --demo.
			boolFlag(fs, f.flag)
			continue
		}
		if d := defs[f.key]; d != "" {
			help += " (default " + d + ")"
		}
		fs.Func(f.flag, help, func(s string) error { cf.set[f.key] = s; return nil })
	}
}

// boolFlag marks a Func flag as boolean so "--demo" needs no value.
func boolFlag(fs *flag.FlagSet, name string) {
	f := fs.Lookup(name)
	f.Value = boolValue{f.Value}
}

type boolValue struct{ flag.Value }

func (boolValue) IsBoolFlag() bool { return true }

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// LoadConfig builds the configuration: defaults, then the file (--config,
// YIWANG_CONFIG, or /etc/yiwang/yiwang.toml on Linux / <data>/yiwang.toml
// when present), then YIWANG_* variables, then flags. Unknown keys in the
// file and malformed values are errors naming the key.
func (cf *configFlags) load(env []string) (Config, error) {
	c := DefaultConfig()
	envMap := map[string]string{}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "YIWANG_") {
			envMap[k] = v
		}
	}
	file := cf.cfgFile
	explicit := file != ""
	if file == "" {
		file = envMap["YIWANG_CONFIG"]
		explicit = file != ""
	}
	if file == "" {
		dataDir := c.Data
		if d := envMap["YIWANG_DATA"]; d != "" {
			dataDir = d
		}
		if d, ok := cf.set["data"]; ok {
			dataDir = d
		}
		for _, cand := range []string{filepath.Join(dataDir, "yiwang.toml"), "/etc/yiwang/yiwang.toml"} {
			if runtime.GOOS == "windows" && strings.HasPrefix(cand, "/etc/") {
				continue
			}
			if _, err := os.Stat(cand); err == nil {
				file = cand
				break
			}
		}
	}
	if file != "" {
		if err := c.loadFile(file); err != nil {
			if explicit || !errors.Is(err, os.ErrNotExist) {
				return c, err
			}
		}
	}
	for _, f := range c.fields() {
		if v, ok := envMap[f.env]; ok {
			if err := setField(f, v); err != nil {
				return c, fmt.Errorf("environment variable %s: %v", f.env, err)
			}
		}
	}
	for _, f := range c.fields() {
		if v, ok := cf.set[f.key]; ok {
			if err := setField(f, v); err != nil {
				return c, fmt.Errorf("flag --%s: %v", f.flag, err)
			}
		}
	}
	return c, c.validate()
}

func (c *Config) loadFile(path string) error {
	md, err := toml.DecodeFile(path, c)
	if err != nil {
		var perr toml.ParseError
		if errors.As(err, &perr) {
			return fmt.Errorf("config file %s: %s", path, perr.ErrorWithPosition())
		}
		return fmt.Errorf("config file %s: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		var known []string
		for _, f := range c.fields() {
			known = append(known, f.key)
		}
		return fmt.Errorf("config file %s: unknown key %s (known keys: %s)", path, strings.Join(keys, ", "), strings.Join(known, ", "))
	}
	return nil
}

func setField(f field, s string) error {
	switch f.v.Kind() {
	case reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("must be true or false, not %q", s)
		}
		f.v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("must be a whole number, not %q", s)
		}
		f.v.SetInt(int64(n))
	default:
		f.v.SetString(s)
	}
	return nil
}

func (c *Config) validate() error {
	if c.Data == "" {
		return fmt.Errorf("data: a data directory is required")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("tls_cert and tls_key must be given together")
	}
	if c.Join != "" && c.ClusterSecret == "" {
		return fmt.Errorf("join needs cluster_secret (YIWANG_CLUSTER_SECRET)")
	}
	if c.Join != "" && c.Raft == "" {
		return fmt.Errorf("join needs raft (the address this node's raft listens on)")
	}
	if err := c.validateOps(); err != nil {
		return err
	}
	if c.NodeID != "" && !validNodeID(c.NodeID) {
		return fmt.Errorf("node_id: use letters, digits, '-', '_' and '.' (at most 64)")
	}
	return nil
}

func validNodeID(s string) bool {
	if len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// raftTLS builds the mutual-TLS configuration of the raft transport, or nil
// when none is configured. All three files are needed: a half-configured
// cluster link is refused rather than silently left in clear text.
func (c Config) raftTLS() (*tls.Config, error) {
	if c.RaftTLSCert == "" && c.RaftTLSKey == "" && c.RaftTLSCA == "" {
		return nil, nil
	}
	if c.RaftTLSCert == "" || c.RaftTLSKey == "" || c.RaftTLSCA == "" {
		return nil, fmt.Errorf("config: raft_tls_cert, raft_tls_key and raft_tls_ca must be set together")
	}
	cert, err := tls.LoadX509KeyPair(c.RaftTLSCert, c.RaftTLSKey)
	if err != nil {
		return nil, fmt.Errorf("config: raft_tls_cert/raft_tls_key: %w", err)
	}
	caPEM, err := os.ReadFile(c.RaftTLSCA)
	if err != nil {
		return nil, fmt.Errorf("config: raft_tls_ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("config: raft_tls_ca: no PEM certificate in %s", c.RaftTLSCA)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}, nil
}

// mqttTLSAddr resolves mqtt_tls: "auto" is port 8883 on the host of the
// default MQTT port 1883, an ephemeral port beside an ephemeral MQTT port
// (tests), and off beside any other port (the admin chose ports: let them
// choose this one too).
func (c Config) mqttTLSAddr() string {
	if c.MQTTTLS != "auto" && c.MQTTTLS != "" {
		return c.MQTTTLS
	}
	host, port, err := net.SplitHostPort(c.MQTT)
	if err != nil {
		return "-"
	}
	switch port {
	case "1883":
		return net.JoinHostPort(host, "8883")
	case "0":
		return net.JoinHostPort(host, "0")
	}
	return "-"
}
