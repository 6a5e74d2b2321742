package plugins

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/yiwang/yiwang/plugins/abi"
)

// KV limits: the store replicates every write, so keep entries small.
const (
	MaxKeyLen      = 256
	MaxValueLen    = 256 << 10
	maxHTTPRequest = 1 << 20
)

// instantiateHostModule defines the "yiwang" import module in rt.
func (h *Host) instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.HostModule)
	b.NewFunctionBuilder().WithFunc(hostLog).Export(abi.HostLog)
	b.NewFunctionBuilder().WithFunc(hostResultRead).Export(abi.HostResultRead)
	b.NewFunctionBuilder().WithFunc(hostKVGet).Export(abi.HostKVGet)
	b.NewFunctionBuilder().WithFunc(hostKVSet).Export(abi.HostKVSet)
	b.NewFunctionBuilder().WithFunc(hostKVDelete).Export(abi.HostKVDelete)
	b.NewFunctionBuilder().WithFunc(hostKVList).Export(abi.HostKVList)
	b.NewFunctionBuilder().WithFunc(hostHTTP).Export(abi.HostHTTP)
	b.NewFunctionBuilder().WithFunc(hostNow).Export(abi.HostNow)
	b.NewFunctionBuilder().WithFunc(hostPublish).Export(abi.HostPublish)
	b.NewFunctionBuilder().WithFunc(hostSetting).Export(abi.HostSetting)
	_, err := b.Instantiate(ctx)
	return err
}

func state(ctx context.Context) *callState {
	cs, _ := ctx.Value(callKey{}).(*callState)
	return cs
}

func read(m api.Module, ptr, n uint32) ([]byte, bool) {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		return nil, false
	}
	return append([]byte(nil), b...), true
}

// prologue fetches the call state and checks a permission; it returns a
// non-nil error result when the call must be refused.
func prologue(ctx context.Context, perm string) (*callState, int64, bool) {
	cs := state(ctx)
	if cs == nil {
		// Cannot happen through Host; fail closed.
		return nil, -1, false
	}
	if cs.init {
		return cs, cs.fail("host functions are not available during plugin initialisation"), false
	}
	if perm != "" && !cs.p.perms[perm] {
		return cs, cs.fail("permission %q not granted", perm), false
	}
	return cs, 0, true
}

func hostLog(ctx context.Context, m api.Module, level, ptr, n uint32) {
	cs := state(ctx)
	if cs == nil {
		return
	}
	n = min(n, 4096)
	b, ok := read(m, ptr, n)
	if !ok {
		return
	}
	lv := map[uint32]string{abi.LevelDebug: "debug", abi.LevelInfo: "info", abi.LevelWarn: "warn", abi.LevelError: "error"}[level]
	if lv == "" {
		lv = "info"
	}
	cs.p.logf(lv, "%s", b)
}

func hostResultRead(ctx context.Context, m api.Module, ptr uint32) {
	cs := state(ctx)
	if cs == nil {
		return
	}
	m.Memory().Write(ptr, cs.pending)
	cs.pending = nil
}

func hostNow(ctx context.Context) int64 {
	cs := state(ctx)
	if cs != nil && cs.p.perms[abi.PermClock] {
		return time.Now().UnixNano()
	}
	return fixedTime.UnixNano()
}

func hostSetting(ctx context.Context, m api.Module, kptr, klen uint32) int64 {
	cs, r, ok := prologue(ctx, "")
	if !ok {
		return r
	}
	k, ok := read(m, kptr, min(klen, MaxKeyLen))
	if !ok {
		return cs.fail("key outside memory")
	}
	v, found := cs.p.settings[string(k)]
	if !found {
		return cs.fail(abi.NotFound)
	}
	return cs.ok([]byte(v))
}

func kvPrologue(ctx context.Context, m api.Module, kptr, klen uint32) (*callState, string, int64, bool) {
	cs, r, ok := prologue(ctx, abi.PermKV)
	if !ok {
		return cs, "", r, false
	}
	if cs.p.h.cfg.KV == nil {
		return cs, "", cs.fail("no key-value store on this host"), false
	}
	if klen > MaxKeyLen {
		return cs, "", cs.fail("key longer than %d bytes", MaxKeyLen), false
	}
	k, ok := read(m, kptr, klen)
	if !ok {
		return cs, "", cs.fail("key outside memory"), false
	}
	return cs, string(k), 0, true
}

func hostKVGet(ctx context.Context, m api.Module, kptr, klen uint32) int64 {
	cs, key, r, ok := kvPrologue(ctx, m, kptr, klen)
	if !ok {
		return r
	}
	v, found, err := cs.p.h.cfg.KV.Get(cs.ctx, cs.p.name, key)
	switch {
	case err != nil:
		return cs.fail("kv get: %v", err)
	case !found:
		return cs.fail(abi.NotFound)
	}
	return cs.ok(v)
}

func hostKVSet(ctx context.Context, m api.Module, kptr, klen, vptr, vlen uint32) int64 {
	cs, key, r, ok := kvPrologue(ctx, m, kptr, klen)
	if !ok {
		return r
	}
	if key == "" {
		return cs.fail("empty key")
	}
	if vlen > MaxValueLen {
		return cs.fail("value longer than %d bytes", MaxValueLen)
	}
	v, ok := read(m, vptr, vlen)
	if !ok {
		return cs.fail("value outside memory")
	}
	if err := cs.p.h.cfg.KV.Set(cs.ctx, cs.p.name, key, v); err != nil {
		return cs.fail("kv set: %v", err)
	}
	return cs.ok(nil)
}

func hostKVDelete(ctx context.Context, m api.Module, kptr, klen uint32) int64 {
	cs, key, r, ok := kvPrologue(ctx, m, kptr, klen)
	if !ok {
		return r
	}
	if err := cs.p.h.cfg.KV.Delete(cs.ctx, cs.p.name, key); err != nil {
		return cs.fail("kv delete: %v", err)
	}
	return cs.ok(nil)
}

func hostKVList(ctx context.Context, m api.Module, pptr, plen uint32) int64 {
	cs, prefix, r, ok := kvPrologue(ctx, m, pptr, plen)
	if !ok {
		return r
	}
	keys, err := cs.p.h.cfg.KV.List(cs.ctx, cs.p.name, prefix)
	if err != nil {
		return cs.fail("kv list: %v", err)
	}
	if keys == nil {
		keys = []string{}
	}
	b, _ := json.Marshal(keys)
	return cs.ok(b)
}

func hostPublish(ctx context.Context, m api.Module, ptr, n uint32) int64 {
	cs, r, ok := prologue(ctx, abi.PermPublish)
	if !ok {
		return r
	}
	b, ok := read(m, ptr, min(n, maxHTTPRequest))
	if !ok {
		return cs.fail("request outside memory")
	}
	var pa abi.PublishAction
	if err := json.Unmarshal(b, &pa); err != nil {
		return cs.fail("bad publish request: %v", err)
	}
	if err := cs.p.publish(cs.ctx, pa); err != nil {
		return cs.fail("%v", err)
	}
	return cs.ok(nil)
}

func (p *plugin) publish(ctx context.Context, pa abi.PublishAction) error {
	if !p.perms[abi.PermPublish] {
		return errors.New(`permission "publish" not granted`)
	}
	if !topicAllowed(p.man.Topics, pa.Topic) {
		return fmt.Errorf("topic %q is not declared by the plugin", pa.Topic)
	}
	if p.h.cfg.Publisher == nil {
		return errors.New("no publisher on this host")
	}
	return p.h.cfg.Publisher.Publish(ctx, p.name, pa.Topic, pa.Payload, pa.Retain)
}

func hostHTTP(ctx context.Context, m api.Module, ptr, n uint32) int64 {
	cs, r, ok := prologue(ctx, abi.PermHTTP)
	if !ok {
		return r
	}
	if n > maxHTTPRequest*2 {
		return cs.fail("request larger than %d bytes", maxHTTPRequest)
	}
	b, ok := read(m, ptr, n)
	if !ok {
		return cs.fail("request outside memory")
	}
	var req abi.HTTPRequest
	if err := json.Unmarshal(b, &req); err != nil {
		return cs.fail("bad http request: %v", err)
	}
	resp, err := cs.p.doHTTP(cs.ctx, req)
	if err != nil {
		return cs.fail("%v", err)
	}
	out, _ := json.Marshal(resp)
	return cs.ok(out)
}

// doHTTP performs one outbound request for a plugin: allow-list check
// (also on redirects), timeout, request and response size limits, and an
// audit record whatever happens.
func (p *plugin) doHTTP(ctx context.Context, req abi.HTTPRequest) (resp abi.HTTPResponse, err error) {
	start := time.Now()
	if req.Method == "" {
		req.Method = http.MethodGet
	}
	rec := HTTPAudit{Plugin: p.name, Time: start, Method: req.Method, URL: req.URL, ReqBytes: len(req.Body)}
	defer func() {
		rec.Duration = time.Since(start)
		if err != nil {
			rec.Error = err.Error()
		}
		if p.h.cfg.Audit != nil {
			p.h.cfg.Audit.RecordHTTP(context.WithoutCancel(ctx), rec)
		}
		level := "info"
		if err != nil {
			level = "warn"
		}
		p.logf(level, "http %s %s -> %d %v", req.Method, req.URL, rec.Status, err)
	}()
	u, err := url.Parse(req.URL)
	if err != nil {
		return resp, fmt.Errorf("bad url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return resp, fmt.Errorf("scheme %q not allowed", u.Scheme)
	}
	if !hostAllowed(p.hosts, u.Hostname(), u.Host) {
		return resp, fmt.Errorf("host %q is not on the plugin's approved allow-list", u.Host)
	}
	if len(req.Body) > maxHTTPRequest {
		return resp, fmt.Errorf("request body larger than %d bytes", maxHTTPRequest)
	}
	rec.Allowed = true
	timeout := p.h.cfg.HTTPTimeout
	if req.TimeoutMS > 0 {
		timeout = min(timeout, time.Duration(req.TimeoutMS)*time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, req.Method, u.String(), strings.NewReader(string(req.Body)))
	if err != nil {
		return resp, err
	}
	for k, v := range req.Headers {
		hr.Header.Set(k, v)
	}
	hr.Header.Set("User-Agent", "yiwang-plugin/"+p.name)
	client := &http.Client{
		CheckRedirect: func(r *http.Request, via []*http.Request) error {
			if len(via) >= 5 {
				return errors.New("too many redirects")
			}
			if !hostAllowed(p.hosts, r.URL.Hostname(), r.URL.Host) {
				return fmt.Errorf("redirect to %q is not on the allow-list", r.URL.Host)
			}
			return nil
		},
	}
	r, err := client.Do(hr)
	if err != nil {
		return resp, err
	}
	defer r.Body.Close()
	rec.Status = r.StatusCode
	body, err := io.ReadAll(io.LimitReader(r.Body, p.h.cfg.HTTPMaxResponse+1))
	rec.RespBytes = len(body)
	if err != nil {
		return resp, err
	}
	if int64(len(body)) > p.h.cfg.HTTPMaxResponse {
		return resp, fmt.Errorf("response larger than %d bytes", p.h.cfg.HTTPMaxResponse)
	}
	resp = abi.HTTPResponse{Status: r.StatusCode, Body: body, Headers: map[string]string{}}
	for k := range r.Header {
		resp.Headers[k] = r.Header.Get(k)
	}
	return resp, nil
}
