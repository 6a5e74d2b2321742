package app

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/yiwang/yiwang/app/cases"
	"github.com/yiwang/yiwang/app/httpapi"
	"github.com/yiwang/yiwang/app/iot"
	"github.com/yiwang/yiwang/app/pluginhost"
	"github.com/yiwang/yiwang/plugins"
	"github.com/yiwang/yiwang/plugins/abi"
)

type abiEvent = abi.Event

// End-to-end tests of the plugin host inside a real server: example
// plugins built with the Go toolchain (GOOS=wasip1), installed through the
// CLI and the API, fed by real MQTT clients through the embedded broker.
//
// wazero compiles a Go-built module in seconds, but in minutes under
// -race; the servers share one on-disk compilation cache
// (YIWANG_PLUGIN_CACHE), so only the first run of a test binary pays, and
// -short -race skips these tests.

var (
	wasmMu    sync.Mutex
	wasmBuilt = map[string][]byte{}
)

func skipSlowPluginTests(t *testing.T) {
	t.Helper()
	if testing.Short() && raceEnabled {
		t.Skip("plugin e2e tests compile WebAssembly: skipped under -short -race")
	}
}

// buildPluginWasm builds ./<rel> (from the module root) for wasip1 as a reactor.
func buildPluginWasm(t testing.TB, rel string) []byte {
	t.Helper()
	wasmMu.Lock()
	defer wasmMu.Unlock()
	if b, ok := wasmBuilt[rel]; ok {
		return b
	}
	out := filepath.Join(t.TempDir(), "plugin.wasm")
	wd, _ := os.Getwd()
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-buildmode=c-shared", "-o", out, "./"+rel)
	cmd.Dir = filepath.Dir(wd)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", rel, err, msg)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	wasmBuilt[rel] = b
	return b
}

type pluginNode struct {
	t    testing.TB
	a    *App
	cfg  Config
	call func(method, path string, in, out any) error
}

func startPluginNode(t testing.TB, data string, tweak ...func(*Config)) *pluginNode {
	t.Helper()
	t.Setenv("YIWANG_PLUGIN_CACHE", filepath.Join(os.TempDir(), "yiwang-app-plugins-wazero-cache"))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Data = data
	cfg.MQTT = "127.0.0.1:0"
	cfg.HTTP = ln.Addr().String()
	for _, f := range tweak {
		f(&cfg)
	}
	a, err := New(cfg, Options{Logf: t.Logf, Out: io.Discard, Listener: ln})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	n := &pluginNode{t: t, a: a, cfg: cfg}
	n.call = func(method, path string, in, out any) error {
		return callServer(method, a.URL()+path, a.LocalKey(), in, out)
	}
	t.Cleanup(func() { n.close() })
	return n
}

func (n *pluginNode) close() {
	if n.a != nil {
		if err := n.a.Close(); err != nil {
			n.t.Errorf("close: %v", err)
		}
		n.a = nil
	}
}

func (n *pluginNode) must(method, path string, in, out any) {
	n.t.Helper()
	if err := n.call(method, path, in, out); err != nil {
		n.t.Fatalf("%s %s: %v", method, path, err)
	}
}

func (n *pluginNode) cli(stdin string, args ...string) (int, string, string) {
	n.t.Helper()
	return runCLI(n.t.(*testing.T), stdin, nil, append(args, "--data", n.cfg.Data)...)
}

func (n *pluginNode) device(typ string) iot.DeviceCreated {
	var d iot.DeviceCreated
	n.must("POST", "/api/v1/devices", iot.DeviceInput{Name: "测试设备 " + typ, Type: typ}, &d)
	return d
}

func (n *pluginNode) mqttAddr() string { return n.a.IoT().Broker().TCPAddr() }

// plugin reads one plugin through the API.
func (n *pluginNode) plugin(name string) pluginhost.Plugin {
	var p pluginhost.Plugin
	n.must("GET", "/api/v1/plugins/"+name, nil, &p)
	return p
}

// waitFor polls cond until it holds or the deadline passes.
func waitPlugin(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// packDir writes plugin.json and plugin.wasm to a directory and packs it
// with 'yiwang plugin pack'.
func packPlugin(t *testing.T, n *pluginNode, manifest string, wasm []byte) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "plugin.json"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "plugin.wasm"), wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", nil, "plugin", "pack", dir)
	if code != 0 {
		t.Fatalf("plugin pack: %d %s %s", code, out, errOut)
	}
	return strings.TrimSpace(out)
}

// loraFrame is the example decoder's 12-byte frame.
func loraFrame(fcnt, levelMM, batteryMV uint16, tempDeci int16, flags byte) []byte {
	b := []byte{0xA5, 0x01}
	b = binary.BigEndian.AppendUint16(b, fcnt)
	b = binary.BigEndian.AppendUint16(b, levelMM)
	b = binary.BigEndian.AppendUint16(b, batteryMV)
	b = binary.BigEndian.AppendUint16(b, uint16(tempDeci))
	b = append(b, flags)
	var x byte
	for _, c := range b {
		x ^= c
	}
	return append(b, x)
}

func pahoConnect(t *testing.T, addr, user, pass string) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(fmt.Sprintf("paho-%s-%d", user, time.Now().UnixNano())).
		SetUsername(user).SetPassword(pass).SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("mqtt connect: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

func pahoPublish(t *testing.T, c paho.Client, topic string, payload []byte) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// series returns the raw values of a metric of a device.
func (n *pluginNode) series(device, metric string) []float64 {
	var s iot.Series
	n.must("GET", "/api/v1/devices/"+device+"/telemetry?res=raw&metric="+metric, nil, &s)
	var out []float64
	for _, p := range s.Points {
		out = append(out, p.Value)
	}
	return out
}

func containsValue(vs []float64, v float64) bool {
	for _, x := range vs {
		if x > v-1e-9 && x < v+1e-9 {
			return true
		}
	}
	return false
}

// zipPackage builds a package by hand (for manifests PackDir refuses).
func zipPackage(t *testing.T, manifest string, wasm []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, b := range map[string][]byte{"plugin.json": []byte(manifest), "plugin.wasm": wasm} {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestPluginDecoderE2E: the example decoder, built with the Go toolchain,
// is installed with 'yiwang plugin install' on a running server; binary
// frames published with mosquitto_pub and with a Paho client on
// yw/{device}/telemetry become stored telemetry; a malformed frame is
// counted as malformed and the broker goes on serving.
func TestPluginDecoderE2E(t *testing.T) {
	skipSlowPluginTests(t)
	wasm := buildPluginWasm(t, "plugins/examples/decoder")
	manifest, err := os.ReadFile("../plugins/examples/decoder/plugin.json")
	if err != nil {
		t.Fatal(err)
	}
	n := startPluginNode(t, t.TempDir())
	file := packPlugin(t, n, string(manifest), wasm)

	// Refusals are explicit: unsigned without the override, a foreign ABI.
	code, _, errOut := n.cli("", "plugin", "install", file, "--yes")
	if code == 0 || !strings.Contains(errOut, "not signed") {
		t.Fatalf("unsigned install without override: code %d, stderr %q", code, errOut)
	}
	bad := filepath.Join(t.TempDir(), "bad-abi.ywp")
	os.WriteFile(bad, zipPackage(t, strings.Replace(string(manifest), `"abi": 1`, `"abi": 2`, 1), wasm), 0o644)
	code, _, errOut = n.cli("", "plugin", "install", bad, "--yes", "--allow-unsigned")
	if code == 0 || !strings.Contains(errOut, "abi version 2 is not supported") {
		t.Fatalf("abi 2 install: code %d, stderr %q", code, errOut)
	}
	// Declining at the prompt installs nothing.
	code, out, _ := n.cli("n\n", "plugin", "install", file, "--allow-unsigned")
	if code == 0 || !strings.Contains(out, "permissions decode") {
		t.Fatalf("declined install: code %d, out %q", code, out)
	}

	// Signed by the integrator's key: refused until the admin trusts it.
	key := filepath.Join(t.TempDir(), "integrator.key")
	if code, out, errOut := runCLI(t, "", nil, "plugin", "keygen", key); code != 0 || !strings.Contains(out, "key ") {
		t.Fatalf("keygen: %d %s %s", code, out, errOut)
	}
	signedDir := filepath.Dir(packPlugin(t, n, string(manifest), wasm))
	code, out, errOut = runCLI(t, "", nil, "plugin", "pack", signedDir, "--key", key)
	if code != 0 {
		t.Fatalf("signed pack: %d %s %s", code, out, errOut)
	}
	file = strings.TrimSpace(out)
	code, _, errOut = n.cli("", "plugin", "install", file, "--yes")
	if code == 0 || !strings.Contains(errOut, "signed by untrusted key") {
		t.Fatalf("install signed by an untrusted key: %d %q", code, errOut)
	}
	if code, out, errOut := n.cli("", "plugin", "trust", key+".pub", "--comment", "某集成公司"); code != 0 || !strings.Contains(out, "trusting key") {
		t.Fatalf("trust: %d %s %s", code, out, errOut)
	}
	if code, out, _ := n.cli("", "plugin", "keys"); code != 0 || !strings.Contains(out, "某集成公司") {
		t.Fatalf("keys: %d %s", code, out)
	}
	start := time.Now()
	code, out, errOut = n.cli("", "plugin", "install", file, "--yes")
	if code != 0 || !strings.Contains(out, "signed by key") {
		t.Fatalf("install: %d\n%s\n%s", code, out, errOut)
	}
	t.Logf("install through the CLI took %v", time.Since(start).Round(time.Millisecond))
	if p := n.plugin("lora-water"); !p.Loaded || !p.Enabled || p.Version != "1.0.0" || !p.Signed || p.SignerKeyID == "" {
		t.Fatalf("installed plugin: %+v", p)
	}

	dev := n.device("lora-water-v1")
	topic := "yw/" + dev.ID + "/telemetry"

	// mosquitto_pub with a binary file payload.
	if bin, err := exec.LookPath("mosquitto_pub"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mosquitto_pub is required in CI: %v", err)
		}
		t.Logf("mosquitto_pub not installed: skipping its part")
	} else {
		f := filepath.Join(t.TempDir(), "frame.bin")
		os.WriteFile(f, loraFrame(7, 2310, 3600, 215, 1), 0o644)
		host, port, _ := net.SplitHostPort(n.mqttAddr())
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		msg, err := exec.CommandContext(ctx, bin, "-h", host, "-p", port, "-u", dev.ID, "-P", dev.Secret, "-i", "mp-"+dev.ID,
			"-t", topic, "-f", f, "-q", "1").CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("mosquitto_pub: %v: %s", err, msg)
		}
		waitPlugin(t, "level 2.31 from mosquitto_pub", 15*time.Second, func() bool { return containsValue(n.series(dev.ID, "level_m"), 2.31) })
		if tc := n.series(dev.ID, "temperature_c"); !containsValue(tc, 21.5) {
			t.Fatalf("temperature_c = %v, want 21.5", tc)
		}
	}

	// A hook plugin turning alarms into cases and broker messages.
	hook := buildPluginWasm(t, "app/pluginhost/testdata/alarm2case")
	hookMan, _ := os.ReadFile("pluginhost/testdata/alarm2case/plugin.json")
	hookPkg, err := plugins.Pack(hookMan, hook, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.must("POST", "/api/v1/plugins", pluginhost.InstallInput{Package: hookPkg, Approval: &plugins.Approval{
		Permissions: []string{"events", "cases", "publish"}, AllowUnsigned: true}}, nil)
	published := make(chan string, 10)
	if err := n.a.IoT().Broker().Server().Subscribe("county/#", 1, func(_ *mochi.Client, _ packets.Subscription, pk packets.Packet) {
		published <- pk.TopicName + " " + string(pk.Payload)
	}); err != nil {
		t.Fatal(err)
	}

	// An alarm rule on the decoded metric: the alarm reaches the plugins'
	// event source.
	events := make(chan abiEvent, 100)
	stop := pluginModule(n.a).Subscribe(func(ev abiEvent) { events <- ev })
	defer stop()
	n.must("POST", "/api/v1/alarm-rules", iot.RuleInput{Name: "水位超警戒", DeviceType: "lora-water-v1", Metric: "level_m",
		Kind: iot.KindThreshold, Op: "gt", Threshold: 2.4, Severity: "major"}, nil)

	// An in-process MQTT client.
	c := pahoConnect(t, n.mqttAddr(), dev.ID, dev.Secret)
	pahoPublish(t, c, topic, loraFrame(8, 2500, 3200, -15, 0))
	waitPlugin(t, "level 2.5 from paho", 15*time.Second, func() bool { return containsValue(n.series(dev.ID, "level_m"), 2.5) })
	if v := n.series(dev.ID, "low_battery"); !containsValue(v, 1) {
		t.Fatalf("low_battery = %v, want a 1 (3.2 V)", v)
	}
	if v := n.series(dev.ID, "temperature_c"); !containsValue(v, -1.5) {
		t.Fatalf("temperature_c = %v, want -1.5", v)
	}
	for raised := false; !raised; {
		select {
		case ev := <-events:
			raised = ev.Type == "alarm.raised" && strings.Contains(string(ev.Data), dev.ID)
		case <-time.After(15 * time.Second):
			t.Fatal("no alarm.raised event for the decoded level 2.5 > 2.4")
		}
	}
	// The hook published through the host function and its action, opened
	// an urgent case, and was refused the undeclared topic.
	var topics []string
	for len(topics) < 2 {
		select {
		case m := <-published:
			if !strings.Contains(m, dev.ID) {
				t.Fatalf("published %q", m)
			}
			topic, _, _ := strings.Cut(m, " ")
			topics = append(topics, topic)
		case <-time.After(15 * time.Second):
			t.Fatalf("published only %v; hook logs %v", topics, n.logs("alarm-to-case"))
		}
	}
	if topics[0] != "county/alarms/"+dev.ID || topics[1] != "county/alarms/summary" {
		t.Fatalf("published topics %v", topics)
	}
	waitPlugin(t, "the hook's case", 10*time.Second, func() bool {
		var page httpapi.Page[cases.Case]
		n.must("GET", "/api/v1/cases?limit=100", nil, &page)
		for _, c := range page.Items {
			if c.Title == "物联告警转案件 "+dev.ID && c.Severity == "urgent" && strings.HasPrefix(c.ExternalID, "alarm:") {
				return true
			}
		}
		return false
	})
	if logs := strings.Join(n.logs("alarm-to-case"), "\n"); !strings.Contains(logs, `topic "elsewhere/not-declared" is not declared`) {
		t.Fatalf("hook logs: %s", logs)
	}

	// A malformed frame: counted, not stored, the broker keeps serving.
	broker := n.a.IoT().Broker()
	before := broker.Counters(dev.ID).Malformed
	pahoPublish(t, c, topic, []byte("\x00\x01garbage"))
	waitPlugin(t, "malformed counter", 10*time.Second, func() bool { return broker.Counters(dev.ID).Malformed > before })
	if e := broker.Counters(dev.ID).LastError; !strings.Contains(e, "frame is 9 bytes") {
		t.Fatalf("last error %q", e)
	}
	pahoPublish(t, c, topic, loraFrame(9, 2600, 3600, 100, 0))
	waitPlugin(t, "level 2.6 after the bad frame", 15*time.Second, func() bool { return containsValue(n.series(dev.ID, "level_m"), 2.6) })

	p := n.plugin("lora-water")
	if p.Metrics.Calls < 3 || p.Metrics.Errors < 1 || p.Metrics.Failures != 0 || !p.Enabled {
		t.Fatalf("metrics after the frames: %+v enabled %v", p.Metrics, p.Enabled)
	}
	code, out, _ = n.cli("", "plugin", "list")
	if code != 0 || !strings.Contains(out, "lora-water") || !strings.Contains(out, "enabled") {
		t.Fatalf("plugin list: %d %s", code, out)
	}
	t.Logf("plugin list:\n%s", out)

	// Upgrade keeps working; same version is refused clearly.
	code, _, errOut = n.cli("", "plugin", "install", file, "--yes")
	if code == 0 || !strings.Contains(errOut, "already installed") {
		t.Fatalf("reinstall same version: %d %q", code, errOut)
	}
	// Upgrade to 1.0.1 (signed by the same trusted key): replaces 1.0.0
	// on the node, keeps the log, goes on decoding.
	upDir := filepath.Dir(packPlugin(t, n, strings.Replace(string(manifest), `"1.0.0"`, `"1.0.1"`, 1), wasm))
	if code, out, errOut := runCLI(t, "", nil, "plugin", "pack", upDir, "--key", key); code != 0 {
		t.Fatalf("pack 1.0.1: %d %s %s", code, out, errOut)
	}
	code, out, errOut = n.cli("", "plugin", "install", filepath.Join(upDir, "lora-water-1.0.1.ywp"), "--yes")
	if code != 0 || !strings.Contains(out, "upgrade     from 1.0.0") {
		t.Fatalf("upgrade: %d %s %s", code, out, errOut)
	}
	if p := n.plugin("lora-water"); p.Version != "1.0.1" || !p.Loaded || !p.Enabled {
		t.Fatalf("after upgrade: %+v", p)
	}
	if logs := strings.Join(n.logs("lora-water"), "\n"); !strings.Contains(logs, "upgraded from 1.0.0 to 1.0.1") || !strings.Contains(logs, "loaded lora-water 1.0.0") {
		t.Fatalf("log after upgrade: %s", logs)
	}
	pahoPublish(t, c, topic, loraFrame(11, 2650, 3600, 100, 0))
	waitPlugin(t, "level 2.65 after the upgrade", 15*time.Second, func() bool { return containsValue(n.series(dev.ID, "level_m"), 2.65) })

	// Remove: frames are no longer decoded (malformed as JSON).
	if code, out, errOut := n.cli("", "plugin", "remove", "lora-water"); code != 0 {
		t.Fatalf("remove: %d %s %s", code, out, errOut)
	}
	before = broker.Counters(dev.ID).Malformed
	pahoPublish(t, c, topic, loraFrame(10, 2700, 3600, 100, 0))
	waitPlugin(t, "malformed after remove", 10*time.Second, func() bool { return broker.Counters(dev.ID).Malformed > before })
}

// TestPluginWebhookE2E: the example notifier, with its allow-list pointing
// at a local test endpoint the admin approved, posts an urgent case to it,
// annotates the case, and each call is in the audit log; a non-urgent case
// is not posted.
func TestPluginWebhookE2E(t *testing.T) {
	skipSlowPluginTests(t)
	wasm := buildPluginWasm(t, "plugins/examples/notifier")
	got := make(chan map[string]any, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		json.NewDecoder(r.Body).Decode(&body)
		body["_path"] = r.URL.Path
		got <- body
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()

	n := startPluginNode(t, t.TempDir())
	manifest := `{"name": "urgent-notifier", "version": "1.0.0", "abi": 1, "description": "Posts urgent cases to a webhook",
		"permissions": ["events", "http", "cases"], "events": ["case.created", "case.state_changed"],
		"hosts": ["127.0.0.1", "sms-gateway.example.cn"], "settings": {"webhook_url": ""}}`
	pkg, err := plugins.Pack([]byte(manifest), wasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Approving a host the manifest does not declare is refused.
	err = n.call("POST", "/api/v1/plugins", pluginhost.InstallInput{Package: pkg, Approval: &plugins.Approval{
		Permissions: []string{"events", "http", "cases"}, Hosts: []string{"evil.example.com"}, AllowUnsigned: true}}, nil)
	if err == nil || !strings.Contains(err.Error(), "not declared") {
		t.Fatalf("undeclared host approved: %v", err)
	}
	var p pluginhost.Plugin
	n.must("POST", "/api/v1/plugins", pluginhost.InstallInput{Package: pkg, Approval: &plugins.Approval{
		Permissions: []string{"events", "http", "cases"}, Hosts: []string{"127.0.0.1"}, AllowUnsigned: true,
		Settings: map[string]string{"webhook_url": srv.URL + "/notify"}}}, &p)
	if !p.Loaded || !p.Enabled || len(p.Hosts) != 1 || p.Hosts[0] != "127.0.0.1" {
		t.Fatalf("installed: %+v", p)
	}

	var plain, urgent cases.Case
	n.must("POST", "/api/v1/cases", cases.CaseInput{Title: "路灯不亮", Source: cases.SourceStaff}, &plain)
	n.must("POST", "/api/v1/cases", cases.CaseInput{Title: "河堤管涌", Source: cases.SourceStaff, Severity: "urgent"}, &urgent)
	select {
	case body := <-got:
		if body["case_id"] != fmt.Sprint(urgent.ID) || body["event"] != "case.created" || body["_path"] != "/notify" ||
			!strings.Contains(fmt.Sprint(body["text"]), "河堤管涌") {
			t.Fatalf("webhook body %v, want urgent case %d", body, urgent.ID)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("no webhook call; plugin logs: %v", n.logs("urgent-notifier"))
	}
	// The plugin annotated the case through the host.
	waitPlugin(t, "the plugin's note on the case", 10*time.Second, func() bool {
		var d cases.Detail
		n.must("GET", fmt.Sprintf("/api/v1/cases/%d", urgent.ID), nil, &d)
		for _, s := range d.Steps {
			if s.Action == "note" && strings.Contains(s.Note, "已推送紧急通知") {
				return true
			}
		}
		return false
	})
	// The call is in the audit log, as the plugin.
	var audit httpapi.Page[map[string]any]
	n.must("GET", "/api/v1/audit?type=plugin.http_call", nil, &audit)
	if audit.Total < 1 || !strings.Contains(fmt.Sprint(audit.Items[0]), "plugin:urgent-notifier") || !strings.Contains(fmt.Sprint(audit.Items[0]), "/notify") {
		t.Fatalf("audit: %+v", audit)
	}
	select {
	case body := <-got:
		t.Fatalf("unexpected second webhook call: %v", body)
	case <-time.After(300 * time.Millisecond):
	}
}

func (n *pluginNode) logs(name string) []string {
	var page httpapi.Page[plugins.LogLine]
	_ = n.call("GET", "/api/v1/plugins/"+name+"/logs", nil, &page)
	var out []string
	for _, l := range page.Items {
		out = append(out, l.Level+" "+l.Message)
	}
	return out
}

// TestPluginAutoDisable: a decoder that panics on every frame is stopped
// per call, counted, disabled after five consecutive failures; the disabled
// state is replicated (it survives a restart) and shown by 'plugin list'
// and 'plugin logs'; the broker keeps serving other devices throughout.
func TestPluginAutoDisable(t *testing.T) {
	skipSlowPluginTests(t)
	wasm := buildPluginWasm(t, "plugins/testdata/hostile")
	data := t.TempDir()
	n := startPluginNode(t, data)
	file := packPlugin(t, n, `{"name": "hostile-panic", "version": "1.0.0", "abi": 1, "permissions": ["decode"], "device_types": ["panic"]}`, wasm)
	if code, out, errOut := n.cli("", "plugin", "install", file, "--yes", "--allow-unsigned"); code != 0 {
		t.Fatalf("install: %d %s %s", code, out, errOut)
	}
	bad := n.device("panic")
	good := n.device("water_level")
	cb := pahoConnect(t, n.mqttAddr(), bad.ID, bad.Secret)
	cg := pahoConnect(t, n.mqttAddr(), good.ID, good.Secret)
	for i := range 7 {
		pahoPublish(t, cb, "yw/"+bad.ID+"/telemetry", []byte("frame"))
		pahoPublish(t, cg, "yw/"+good.ID+"/telemetry", fmt.Appendf(nil, `{"ts": %d, "values": {"water_level": %d.5}}`, time.Now().Add(time.Duration(i-10)*time.Second).UnixMilli(), i))
	}
	waitPlugin(t, "auto-disable replicated", 15*time.Second, func() bool {
		p := n.plugin("hostile-panic")
		return !p.Enabled && p.AutoDisabled
	})
	p := n.plugin("hostile-panic")
	if p.Metrics.Failures != 5 || !strings.Contains(p.DisabledReason, "5 consecutive failures") {
		t.Fatalf("after failures: %+v reason %q", p.Metrics, p.DisabledReason)
	}
	waitPlugin(t, "the good device's readings", 15*time.Second, func() bool { return len(n.series(good.ID, "water_level")) == 7 })
	t.Logf("good device: %v, counters %+v", n.series(good.ID, "water_level"), n.a.IoT().Broker().Counters(good.ID))
	if c := n.a.IoT().Broker().Counters(bad.ID).Malformed; c != 7 {
		t.Fatalf("malformed count of the bad device = %d, want 7", c)
	}
	code, out, _ := n.cli("", "plugin", "list")
	if code != 0 || !strings.Contains(out, "disabled") || !strings.Contains(out, "consecutive failures") {
		t.Fatalf("plugin list: %s", out)
	}
	code, out, _ = n.cli("", "plugin", "logs", "hostile-panic")
	if code != 0 || !strings.Contains(out, "hostile plugin panics") {
		t.Fatalf("plugin logs: %s", out)
	}

	// The state is in the store: a restarted node loads the plugin disabled.
	n.close()
	n = startPluginNode(t, data)
	p = n.plugin("hostile-panic")
	if !p.Loaded || p.Enabled || !p.AutoDisabled {
		t.Fatalf("after restart: %+v", p)
	}
	if code, out, errOut := n.cli("", "plugin", "enable", "hostile-panic"); code != 0 || !strings.Contains(out, "enabled") {
		t.Fatalf("enable: %d %s %s", code, out, errOut)
	}
	if p = n.plugin("hostile-panic"); !p.Enabled || p.AutoDisabled || p.Metrics.ConsecutiveFailures != 0 {
		t.Fatalf("after enable: %+v", p)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func (n *pluginNode) kv(plugin, key string) string {
	var v []byte
	n.a.Store().DB().QueryRow(`SELECT value FROM plugins_kv WHERE plugin = ? AND key = ?`, plugin, key).Scan(&v)
	return string(v)
}

// TestPluginCluster: on a two-node cluster a plugin installed through the
// follower runs on both nodes; the decoder works on the follower's broker;
// an event hook runs once per cluster (on the leader) and its KV writes
// are replicated; a job run on the follower writes through the leader; an
// admin's disable on the leader reaches the follower.
func TestPluginCluster(t *testing.T) {
	skipSlowPluginTests(t)
	decoder := buildPluginWasm(t, "plugins/examples/decoder")
	export := buildPluginWasm(t, "plugins/examples/export")
	secret := "plugin-cluster-secret"
	n1 := startPluginNode(t, t.TempDir(), func(c *Config) { c.NodeID, c.Raft, c.ClusterSecret = "n1", freeAddr(t), secret })
	n2 := startPluginNode(t, t.TempDir(), func(c *Config) {
		c.NodeID, c.Raft, c.ClusterSecret, c.Join = "n2", freeAddr(t), secret, n1.a.URL()
	})
	waitPlugin(t, "n2 to follow n1", 30*time.Second, func() bool { return n2.a.Store().Status().Leader != "" })
	if !n1.a.Store().IsLeader() || n2.a.Store().IsLeader() {
		t.Fatalf("want n1 leading: n1 %+v n2 %+v", n1.a.Store().Status(), n2.a.Store().Status())
	}

	dm, _ := os.ReadFile("../plugins/examples/decoder/plugin.json")
	em, _ := os.ReadFile("../plugins/examples/export/plugin.json")
	// A second cron entry firing every second: jobs run on the leader only.
	em = []byte(strings.Replace(string(em), `"cron": [`, `"cron": [{"name": "tick", "schedule": "@every 1s"}, `, 1))
	for _, p := range []struct {
		man  []byte
		wasm []byte
	}{{dm, decoder}, {em, export}} {
		pkg, err := plugins.Pack(p.man, p.wasm, nil)
		if err != nil {
			t.Fatal(err)
		}
		m, _ := plugins.ParseManifest(p.man)
		n2.must("POST", "/api/v1/plugins", pluginhost.InstallInput{Package: pkg, Approval: &plugins.Approval{Permissions: m.Permissions, AllowUnsigned: true}}, nil)
	}
	for _, n := range []*pluginNode{n1, n2} {
		waitPlugin(t, n.cfg.NodeID+" loading both plugins", 60*time.Second, func() bool {
			var page httpapi.Page[pluginhost.Plugin]
			n.must("GET", "/api/v1/plugins", nil, &page)
			return page.Total == 2 && page.Items[0].Loaded && page.Items[1].Loaded
		})
	}

	// Decoder on the follower's broker.
	dev := n2.device("lora-water-v1")
	c := pahoConnect(t, n2.mqttAddr(), dev.ID, dev.Secret)
	pahoPublish(t, c, "yw/"+dev.ID+"/telemetry", loraFrame(1, 1750, 3600, 80, 0))
	waitPlugin(t, "level 1.75 via the follower", 15*time.Second, func() bool { return containsValue(n1.series(dev.ID, "level_m"), 1.75) })

	// Event hook: two cases, counted once each (leader only), replicated.
	var c1, c2 cases.Case
	n1.must("POST", "/api/v1/cases", cases.CaseInput{Title: "占道经营", Source: cases.SourceStaff}, &c1)
	n2.must("POST", "/api/v1/cases", cases.CaseInput{Title: "垃圾满溢", Source: cases.SourceStaff}, &c2)
	day := "count/" + c1.CreatedAt.UTC().Format("2006-01-02")
	waitPlugin(t, "case counts on the follower", 15*time.Second, func() bool { return n2.kv("daily-export", day) == "2" })
	time.Sleep(300 * time.Millisecond)
	if v := n1.kv("daily-export", day); v != "2" {
		t.Fatalf("count on the leader = %q, want 2 (hooks once per cluster)", v)
	}

	// Cron: the leader runs the every-second job, the follower never does.
	exports := func(n *pluginNode) int {
		return strings.Count(strings.Join(n.logs("daily-export"), "\n"), "info export ")
	}
	waitPlugin(t, "cron runs on the leader", 20*time.Second, func() bool { return exports(n1) >= 3 })
	if e := exports(n2); e != 0 {
		t.Fatalf("the follower ran the cron job %d times", e)
	}
	if runs := n2.kv("daily-export", "runs"); runs == "" || runs == "0" {
		t.Fatalf("runs replicated to the follower = %q", runs)
	}

	// A job run by hand on the follower writes through the leader.
	if code, out, errOut := n2.cli("", "plugin", "run", "daily-export", "daily"); code != 0 || !strings.Contains(out, "job daily of daily-export ran") {
		t.Fatalf("plugin run: %d %s %s", code, out, errOut)
	}
	if e := exports(n2); e != 1 {
		t.Fatalf("follower's log after the manual run: %d exports", e)
	}

	// Disable on the leader reaches the follower's host.
	n1.must("POST", "/api/v1/plugins/lora-water/disable", nil, nil)
	waitPlugin(t, "disable on the follower", 10*time.Second, func() bool {
		info, err := pluginModule(n2.a).Host().Get("lora-water")
		return err == nil && !info.Enabled
	})
	before := n2.a.IoT().Broker().Counters(dev.ID).Malformed
	pahoPublish(t, c, "yw/"+dev.ID+"/telemetry", loraFrame(2, 1800, 3600, 80, 0))
	waitPlugin(t, "frame refused while disabled", 10*time.Second, func() bool { return n2.a.IoT().Broker().Counters(dev.ID).Malformed > before })
}

func pluginModule(a *App) *pluginhost.Module {
	for _, m := range a.modules {
		if pm, ok := m.(*pluginhost.Module); ok {
			return pm
		}
	}
	return nil
}

// BenchmarkPluginDecodeBroker: binary frames through the embedded broker
// with the example decoder in the path (4 MQTT clients, QoS 0), against
// JSON telemetry through the same broker. msgs/s counts messages decoded
// (the broker decodes synchronously in its publish path).
//
//	go test -run '^$' -bench PluginDecodeBroker -benchtime 20000x ./app/
func BenchmarkPluginDecodeBroker(b *testing.B) {
	for _, mode := range []string{"plugin", "json"} {
		b.Run(mode, func(b *testing.B) { benchDecodeBroker(b, mode) })
	}
}

func benchDecodeBroker(b *testing.B, mode string) {
	wasm := buildPluginWasm(b, "plugins/examples/decoder")
	n := startPluginNode(b, b.TempDir())
	man, _ := os.ReadFile("../plugins/examples/decoder/plugin.json")
	pkg, err := plugins.Pack(man, wasm, nil)
	if err != nil {
		b.Fatal(err)
	}
	if err := n.call("POST", "/api/v1/plugins", pluginhost.InstallInput{Package: pkg, Approval: &plugins.Approval{Permissions: []string{"decode"}, AllowUnsigned: true}}, nil); err != nil {
		b.Fatal(err)
	}
	typ := "lora-water-v1"
	if mode == "json" {
		typ = "water_level"
	}
	const clients = 4
	var devs []iot.DeviceCreated
	var conns []paho.Client
	for range clients {
		var d iot.DeviceCreated
		if err := n.call("POST", "/api/v1/devices", iot.DeviceInput{Name: "bench", Type: typ}, &d); err != nil {
			b.Fatal(err)
		}
		o := paho.NewClientOptions().AddBroker("tcp://" + n.a.IoT().Broker().TCPAddr()).SetClientID("bench-" + d.ID).
			SetUsername(d.ID).SetPassword(d.Secret).SetAutoReconnect(false)
		c := paho.NewClient(o)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			b.Fatal(tok.Error())
		}
		defer c.Disconnect(100)
		devs, conns = append(devs, d), append(conns, c)
	}
	host := pluginModule(n.a).Host()
	broker := n.a.IoT().Broker()
	decoded := func() int64 {
		if mode == "plugin" {
			info, _ := host.Get("lora-water")
			return int64(info.Metrics.Calls)
		}
		return broker.Stats().Readings
	}
	base := decoded()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := "yw/" + devs[i].ID + "/telemetry"
			for j := i; j < b.N; j += clients {
				var p []byte
				if mode == "plugin" {
					p = loraFrame(uint16(j), uint16(1000+j%2000), 3600, 200, 0)
				} else {
					p = fmt.Appendf(nil, `{"ts":%d,"values":{"fcnt":%d,"level_m":%g,"battery_v":3.6,"temperature_c":20,"level_alarm":0,"tamper":0,"low_battery":0}}`,
						time.Now().UnixMilli()-int64(j), j, float64(1000+j%2000)/1000)
				}
				conns[i].Publish(topic, 0, false, p)
			}
		}()
	}
	wg.Wait()
	want := base + int64(b.N)
	if mode == "json" {
		want = base + int64(b.N)*7
	}
	deadline := time.Now().Add(2 * time.Minute)
	for decoded() < want && time.Now().Before(deadline) {
		time.Sleep(2 * time.Millisecond)
	}
	el := time.Since(start)
	b.StopTimer()
	got := decoded() - base
	if mode == "json" {
		got /= 7
	}
	b.ReportMetric(float64(got)/el.Seconds(), "msgs/s")
	if got < int64(b.N) {
		b.Logf("%s: only %d of %d messages decoded in %v (QoS 0 drops under load)", mode, got, b.N, el)
	}
}

// TestPluginHostileContained: a decoder that loops, one that allocates
// without bound, one that reads /etc/passwd and one that calls a host off
// its allow-list are each stopped or refused for that call and reported,
// while another device's readings keep being stored during the loop.
func TestPluginHostileContained(t *testing.T) {
	skipSlowPluginTests(t)
	wasm := buildPluginWasm(t, "plugins/testdata/hostile")
	n := startPluginNode(t, t.TempDir())
	pkg, err := plugins.Pack([]byte(`{"name": "hostile-misc", "version": "1.0.0", "abi": 1, "permissions": ["decode", "http"],
		"device_types": ["loop", "membomb", "readfile", "http"], "hosts": ["127.0.0.1"]}`), wasm, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The admin does not approve the declared host.
	n.must("POST", "/api/v1/plugins", pluginhost.InstallInput{Package: pkg, Approval: &plugins.Approval{
		Permissions: []string{"decode", "http"}, AllowUnsigned: true}}, nil)
	good := n.device("water_level")
	cg := pahoConnect(t, n.mqttAddr(), good.ID, good.Secret)
	dev := map[string]paho.Client{}
	ids := map[string]string{}
	for _, typ := range []string{"loop", "membomb", "readfile", "http"} {
		d := n.device(typ)
		ids[typ] = d.ID
		dev[typ] = pahoConnect(t, n.mqttAddr(), d.ID, d.Secret)
	}
	publishBad := func(typ, payload string) { pahoPublish(t, dev[typ], "yw/"+ids[typ]+"/telemetry", []byte(payload)) }

	// The loop runs until the call's time limit (5 s); meanwhile the good
	// device's readings are stored.
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		tok := dev["loop"].Publish("yw/"+ids["loop"]+"/telemetry", 1, false, []byte("spin"))
		tok.WaitTimeout(30 * time.Second)
	}()
	time.Sleep(200 * time.Millisecond)
	for i := range 3 {
		pahoPublish(t, cg, "yw/"+good.ID+"/telemetry", fmt.Appendf(nil, `{"ts": %d, "values": {"water_level": %d.25}}`, time.Now().Add(time.Duration(i-10)*time.Second).UnixMilli(), i))
	}
	waitPlugin(t, "good readings during the loop", 15*time.Second, func() bool { return len(n.series(good.ID, "water_level")) == 3 })
	select {
	case <-loopDone:
		t.Log("warning: the loop call ended before the good readings were stored (slow machine?)")
	default:
	}
	<-loopDone
	publishBad("membomb", "x")
	publishBad("readfile", "x")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Errorf("the plugin reached %s", r.URL) }))
	defer srv.Close()
	publishBad("http", srv.URL+"/leak")

	waitPlugin(t, "four calls counted", 20*time.Second, func() bool { return n.plugin("hostile-misc").Metrics.Calls >= 4 })
	p := n.plugin("hostile-misc")
	if p.Metrics.Failures != 2 || p.Metrics.Errors != 2 || !p.Enabled {
		t.Fatalf("metrics %+v enabled %v", p.Metrics, p.Enabled)
	}
	logs := strings.Join(n.logs("hostile-misc"), "\n")
	for _, want := range []string{"timed out", "http GET " + srv.URL + "/leak", "not on the plugin's approved allow-list"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	b := n.a.IoT().Broker()
	if e := b.Counters(ids["readfile"]).LastError; !strings.Contains(e, "readfile") {
		t.Errorf("readfile device's last error %q", e)
	}
	for typ, id := range ids {
		if c := b.Counters(id); c.Malformed != 1 {
			t.Errorf("%s device counters %+v, want one malformed", typ, c)
		}
	}
	var audit httpapi.Page[map[string]any]
	n.must("GET", "/api/v1/audit?type=plugin.http_call", nil, &audit)
	if audit.Total != 1 || !strings.Contains(fmt.Sprint(audit.Items[0]), "/leak") {
		t.Fatalf("audit of the refused call: %+v", audit)
	}
	// And the broker still decodes for the good device afterwards.
	pahoPublish(t, cg, "yw/"+good.ID+"/telemetry", []byte(`{"water_level": 9.75}`))
	waitPlugin(t, "a reading after the hostile calls", 10*time.Second, func() bool { return containsValue(n.series(good.ID, "water_level"), 9.75) })
}
