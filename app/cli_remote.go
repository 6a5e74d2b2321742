package app

import (
	"errors"
	"flag"
	"os"
	"strings"
)

// remoteFlags adds --server, --token and --data/--config to fs for commands
// that talk to a running server (simulate, kb import, plugin ...). With no
// --server the command finds the server running on this machine's data
// directory and uses its local admin key; with --server it needs an API
// token (--token or YIWANG_TOKEN).
type remoteFlags struct {
	server, token string
	data          func() (string, error)
}

func (c *cli) remoteFlags(fs *flag.FlagSet) *remoteFlags {
	r := &remoteFlags{}
	fs.StringVar(&r.server, "server", "", "URL of a running yiwang server (default: the one running on --data)")
	fs.StringVar(&r.token, "token", "", "API token for --server (default $YIWANG_TOKEN)")
	r.data = c.dataFlag(fs)
	return r
}

// connect resolves the server URL and credential.
func (r *remoteFlags) connect(c *cli) (url, key string, err error) {
	if r.server != "" {
		key = r.token
		if key == "" {
			key = envValue(c.env, "YIWANG_TOKEN")
		}
		if key == "" {
			return "", "", usageError("--server needs an API token: --token or YIWANG_TOKEN (create one with 'yiwang token create')")
		}
		return strings.TrimRight(r.server, "/"), key, nil
	}
	data, err := r.data()
	if err != nil {
		return "", "", err
	}
	u, k, ok := LocalServer(data)
	if !ok {
		return "", "", errors.New("no yiwang server is running on data directory " + data + " (start 'yiwang serve' or pass --server URL --token T)")
	}
	return u, k, nil
}

// call returns a function performing API requests against the server.
func (r *remoteFlags) call(c *cli) (func(method, path string, in, out any) error, error) {
	url, key, err := r.connect(c)
	if err != nil {
		return nil, err
	}
	return func(method, path string, in, out any) error {
		return callServer(method, url+path, key, in, out)
	}, nil
}

func envValue(env []string, key string) string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], key+"="); ok {
			return v
		}
	}
	if env == nil {
		return os.Getenv(key)
	}
	return ""
}
