// Package dashtest starts a real yiwang node with the demo county for the
// API tests of the dashboard and duty modules: real store, real HTTP server
// on 127.0.0.1, a token per demo account.
package dashtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/yiwang/yiwang/app"
	"github.com/yiwang/yiwang/app/org"
)

// Server is a running node.
type Server struct {
	T      testing.TB
	App    *app.App
	URL    string
	Tokens map[string]string // by demo username (integrator: its API token)
	Users  map[string]int64
}

// Start starts a demo node for the test.
func Start(t testing.TB) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cfg := app.DefaultConfig()
	cfg.Data = t.TempDir()
	cfg.MQTT = "127.0.0.1:0"
	cfg.Demo = true
	a, err := app.New(cfg, app.Options{Logf: t.Logf, Out: &out, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	s := &Server{T: t, App: a, URL: a.URL(), Tokens: map[string]string{}, Users: map[string]int64{}}
	// The demo prints each account once: username, role, title, secret.
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[0] == "username" || f[0] == "====" {
			continue
		}
		user, secret := f[0], f[len(f)-1]
		if strings.HasPrefix(secret, "ywt_") {
			s.Tokens[user] = secret
			continue
		}
		var lo org.LoginOutput
		if code, _ := s.Do("POST", "/api/v1/auth/login", "", org.LoginInput{Username: user, Password: secret}, &lo); code != 200 {
			continue
		}
		s.Tokens[user] = lo.Token
		s.Users[user] = lo.User.ID
	}
	for _, u := range []string{"admin", "commander", "operator", "handler", "handler2", "gridworker", "leader", "viewer", "integrator"} {
		if s.Tokens[u] == "" {
			t.Fatalf("no credentials for demo user %s in output:\n%s", u, out.String())
		}
	}
	return s
}

// Do performs a call; out, when set, receives the decoded JSON body.
func (s *Server) Do(method, path, token string, body any, out any) (int, []byte) {
	s.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.URL+path, rd)
	if err != nil {
		s.T.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			s.T.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode, b
}

// Must is Do that fails the test unless the status is want.
func (s *Server) Must(method, path, token string, body any, want int, out any) []byte {
	s.T.Helper()
	code, b := s.Do(method, path, token, body, out)
	if code != want {
		s.T.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	return b
}

// ErrorFields decodes the fields of an error answer.
func ErrorFields(b []byte) (code string, fields map[string]string) {
	var e struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return e.Error.Code, e.Error.Fields
}

// Event is one SSE message.
type Event struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// Stream opens the live event stream for token and delivers its messages
// on the returned channel until the test ends.
func (s *Server) Stream(token string) <-chan Event {
	s.T.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s.T.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", s.URL+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.T.Fatal(err)
	}
	if resp.StatusCode != 200 {
		s.T.Fatalf("events: status %d", resp.StatusCode)
	}
	ch := make(chan Event, 1024)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				var e Event
				if json.Unmarshal([]byte(d), &e) == nil {
					select {
					case ch <- e:
					default:
					}
				}
			}
		}
	}()
	return ch
}

// WaitEvent waits up to d for an event of type typ for which match (when
// set) returns true.
func WaitEvent(t testing.TB, ch <-chan Event, d time.Duration, typ string, match func(json.RawMessage) bool) (Event, bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e := <-ch:
			if e.Type == typ && (match == nil || match(e.Data)) {
				return e, true
			}
		case <-deadline:
			return Event{}, false
		}
	}
}
