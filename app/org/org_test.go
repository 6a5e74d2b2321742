package org

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/store"
	"github.com/yiwang/yiwang/store/storetest"
)

// env is a real server on 127.0.0.1 with the org module on a real store.
type env struct {
	t   *testing.T
	m   *Module
	srv *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	m := New(Options{Logf: t.Logf})
	st := storetest.New(t, m.Register)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	rt := httpapi.NewRouter(httpapi.Options{Logf: t.Logf})
	m.Routes(rt)
	srv := httptest.NewServer(rt)
	t.Cleanup(srv.Close)
	_ = st
	return &env{t: t, m: m, srv: srv}
}

func (e *env) do(method, path, token string, body any) (int, []byte) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case []byte:
			rd = bytes.NewReader(b)
		case string:
			rd = strings.NewReader(b)
		default:
			j, _ := json.Marshal(b)
			rd = bytes.NewReader(j)
		}
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (e *env) must(method, path, token string, body any, want int, out any) {
	e.t.Helper()
	code, b := e.do(method, path, token, body)
	if code != want {
		e.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func (e *env) login(user, pw string) string {
	e.t.Helper()
	var out LoginOutput
	e.must("POST", "/api/v1/auth/login", "", LoginInput{Username: user, Password: pw}, 200, &out)
	return out.Token
}

func TestSetupLoginAndLockout(t *testing.T) {
	e := newEnv(t)
	var st SetupStatus
	e.must("GET", "/api/setup/status", "", nil, 200, &st)
	if !st.NeedsSetup || !st.FromLocal {
		t.Fatalf("status %+v", st)
	}
	var lo LoginOutput
	e.must("POST", "/api/setup", "", SetupInput{CountyName: "示范县", CountyCode: "139999", Username: "root", Password: "correct-horse-9"}, 201, &lo)
	if lo.Token == "" || !hasPerm(lo.User, httpapi.PermOrgWrite) {
		t.Fatalf("setup login %+v", lo)
	}
	e.must("POST", "/api/setup", "", SetupInput{CountyName: "x", Username: "root2", Password: "correct-horse-9"}, 409, nil)
	var me Me
	e.must("GET", "/api/v1/me", lo.Token, nil, 200, &me)
	if me.Username != "root" || me.Scope.Kind != httpapi.ScopeAll || me.County.Name != "示范县" {
		t.Fatalf("me %+v", me)
	}
	// Lockout: 5 wrong passwords lock the account, even the right one then fails.
	for i := 0; i < MaxFailedLogins-1; i++ {
		e.must("POST", "/api/v1/auth/login", "", LoginInput{Username: "root", Password: "wrong-password-1"}, 401, nil)
	}
	e.must("POST", "/api/v1/auth/login", "", LoginInput{Username: "root", Password: "wrong-password-1"}, 429, nil)
	e.must("POST", "/api/v1/auth/login", "", LoginInput{Username: "root", Password: "correct-horse-9"}, 429, nil)
	// The failures are in the command log.
	entries, _, err := e.m.st.QueryLog(context.Background(), store.LogFilter{TypePrefix: "auth.login_failed"})
	if err != nil || len(entries) != MaxFailedLogins+1 {
		t.Fatalf("audit %d entries, %v", len(entries), err)
	}
	// The old session still works; logout revokes it.
	e.must("POST", "/api/v1/auth/logout", lo.Token, nil, 204, nil)
	e.must("GET", "/api/v1/me", lo.Token, nil, 401, nil)
}

func hasPerm(me Me, p string) bool {
	for _, x := range me.Permissions {
		if x == p {
			return true
		}
	}
	return false
}
