//go:build wasip1

// Package sdk is the guest side of yiwang plugins: a Go package for
// GOOS=wasip1 GOARCH=wasm that exports the ABI functions the host calls
// (//go:wasmexport yw_abi, yw_buffer, yw_decode, yw_event, yw_job) and wraps
// the host functions of the "yiwang" import module (log, kv, http, clock,
// publish).
//
// A plugin is a main package that registers its handlers in init() (with
// -buildmode=c-shared the host runs package initialisation through
// _initialize; main is never called) and is built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// Example:
//
//	func init() {
//		sdk.HandleDecode(func(deviceType string, payload []byte) (sdk.Telemetry, error) {
//			return sdk.Telemetry{Values: map[string]any{"level_cm": int(payload[0])}}, nil
//		})
//	}
//
//	func main() {}
//
// Handlers run one at a time per module instance; the host may run several
// instances of the same plugin in parallel, so global state is per instance
// and is lost when the host recycles an instance. Keep durable state in the
// key-value store (KVGet/KVSet).
package sdk

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"
	"unsafe"

	"github.com/yiwang/yiwang/plugins/abi"
)

// Re-exported wire types, so plugins only import sdk.
type (
	Telemetry      = abi.Telemetry
	Event          = abi.Event
	Job            = abi.Job
	Action         = abi.Action
	AnnotateAction = abi.AnnotateAction
	OpenCaseAction = abi.OpenCaseAction
	PublishAction  = abi.PublishAction
	HTTPRequest    = abi.HTTPRequest
	HTTPResponse   = abi.HTTPResponse
)

// DecodeFunc decodes one raw payload of a device type into telemetry.
type DecodeFunc func(deviceType string, payload []byte) (Telemetry, error)

// DecodeToFunc is the fast decoder form: it adds the values to r instead
// of building a map. Use it for high-rate devices.
type DecodeToFunc func(deviceType string, payload []byte, r *Reading) error

// EventFunc handles one event and returns the actions the host should take.
type EventFunc func(ev Event) ([]Action, error)

// JobFunc runs one scheduled job and returns the actions the host should take.
type JobFunc func(job Job) ([]Action, error)

var (
	decodeFn DecodeFunc
	decodeTo DecodeToFunc
	reading  Reading
	lastType string
	eventFn  EventFunc
	jobFn    JobFunc

	inBuf  []byte // input buffer the host writes into (yw_buffer)
	outBuf []byte // last result, kept alive until the next call
)

// HandleDecode registers the payload decoder. Call it from init().
func HandleDecode(fn DecodeFunc) { decodeFn = fn }

// HandleDecodeTo registers a fast decoder (no map, no reflection), which
// takes precedence over HandleDecode. Call it from init().
func HandleDecodeTo(fn DecodeToFunc) { decodeTo = fn }

// HandleEvent registers the event hook. Call it from init().
func HandleEvent(fn EventFunc) { eventFn = fn }

// HandleJob registers the scheduled-job handler. Call it from init().
func HandleJob(fn JobFunc) { jobFn = fn }

//go:wasmexport yw_abi
func ywABI() uint32 { return abi.Version }

//go:wasmexport yw_buffer
func ywBuffer(size uint32) uint32 {
	if size == 0 {
		size = 1
	}
	if uint32(cap(inBuf)) < size {
		inBuf = make([]byte, size)
	}
	inBuf = inBuf[:cap(inBuf)]
	return uint32(uintptr(unsafe.Pointer(&inBuf[0])))
}

//go:wasmexport yw_decode
func ywDecode(ptr, typeLen, payloadLen uint32) uint64 {
	in := input(ptr, typeLen+payloadLen)
	var t Telemetry
	msg := ""
	if decodeTo != nil && uint32(len(in)) >= typeLen {
		reading = Reading{b: reading.b[:0]}
		if string(in[:typeLen]) != lastType { // no allocation when unchanged
			lastType = string(in[:typeLen])
		}
		if err := decodeTo(lastType, in[typeLen:], &reading); err != nil {
			return setOutput(appendDecodeResult(outBuf[:0], t, err.Error()))
		}
		return setOutput(reading.appendTo(outBuf[:0]))
	}
	if decodeFn == nil {
		msg = "plugin has no decoder"
	} else if uint32(len(in)) < typeLen {
		msg = "bad input"
	} else {
		var err error
		t, err = decodeFn(string(in[:typeLen]), in[typeLen:])
		if err != nil {
			msg = err.Error()
		}
	}
	return setOutput(appendDecodeResult(outBuf[:0], t, msg))
}

//go:wasmexport yw_event
func ywEvent(ptr, n uint32) uint64 { return runHook(ptr, n, "event hook", eventFn) }

//go:wasmexport yw_job
func ywJob(ptr, n uint32) uint64 { return runHook(ptr, n, "job handler", jobFn) }

// runHook decodes the input into T, runs fn and encodes its actions.
func runHook[T any](ptr, n uint32, what string, fn func(T) ([]Action, error)) uint64 {
	var res abi.HookResult
	var in T
	if fn == nil {
		res.Error = "plugin has no " + what
	} else if err := json.Unmarshal(input(ptr, n), &in); err != nil {
		res.Error = what + ": bad input: " + err.Error()
	} else {
		res.Actions, err = fn(in)
		if err != nil {
			res.Error = err.Error()
		}
	}
	return output(res)
}

// input returns the n bytes the host wrote at ptr (inside inBuf).
func input(ptr, n uint32) []byte {
	if n == 0 {
		return nil
	}
	// The host only writes into inBuf (handed out by yw_buffer), so the
	// pointer is an offset into it.
	if len(inBuf) == 0 {
		return nil
	}
	off := ptr - uint32(uintptr(unsafe.Pointer(&inBuf[0])))
	if uint64(off)+uint64(n) > uint64(len(inBuf)) {
		return nil
	}
	return inBuf[off : off+n]
}

func output(v any) uint64 {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(abi.HookResult{Error: "marshal result: " + err.Error()})
	}
	return setOutput(b)
}

// setOutput keeps b alive (and reusable) until the next call and returns
// its packed address.
func setOutput(b []byte) uint64 {
	outBuf = b
	if len(b) == 0 {
		return 0
	}
	return abi.Pack(uint32(uintptr(unsafe.Pointer(&b[0]))), uint32(len(b)))
}

// ---- host functions ----

//go:wasmimport yiwang log
func hostLog(level, ptr, n uint32)

//go:wasmimport yiwang result_read
func hostResultRead(ptr uint32)

//go:wasmimport yiwang kv_get
func hostKVGet(kptr, klen uint32) int64

//go:wasmimport yiwang kv_set
func hostKVSet(kptr, klen, vptr, vlen uint32) int64

//go:wasmimport yiwang kv_delete
func hostKVDelete(kptr, klen uint32) int64

//go:wasmimport yiwang kv_list
func hostKVList(pptr, plen uint32) int64

//go:wasmimport yiwang http
func hostHTTP(ptr, n uint32) int64

//go:wasmimport yiwang now
func hostNow() int64

//go:wasmimport yiwang publish
func hostPublish(ptr, n uint32) int64

//go:wasmimport yiwang setting
func hostSetting(kptr, klen uint32) int64

func ptrOf(b []byte) uint32 {
	if len(b) == 0 {
		return 0
	}
	return uint32(uintptr(unsafe.Pointer(&b[0])))
}

// result turns a host function's i64 return into the pending bytes or an
// error carrying the pending message.
func result(r int64) ([]byte, error) {
	n := r
	if r < 0 {
		n = -r - 1
	}
	buf := make([]byte, n)
	if n > 0 {
		hostResultRead(ptrOf(buf))
	}
	if r < 0 {
		return nil, errors.New(string(buf))
	}
	return buf, nil
}

// Log writes a line to the plugin's log, visible to the admin.
func Log(level int, msg string) {
	b := []byte(msg)
	hostLog(uint32(level), ptrOf(b), uint32(len(b)))
	runtime.KeepAlive(b)
}

// Infof logs at info level.
func Infof(format string, args ...any) { Log(abi.LevelInfo, fmt.Sprintf(format, args...)) }

// Warnf logs at warning level.
func Warnf(format string, args ...any) { Log(abi.LevelWarn, fmt.Sprintf(format, args...)) }

// Errorf logs at error level.
func Errorf(format string, args ...any) { Log(abi.LevelError, fmt.Sprintf(format, args...)) }

// ErrNotFound is returned by KVGet for a missing key.
var ErrNotFound = errors.New(abi.NotFound)

// KVGet reads a key from the plugin's private store. Needs "kv".
func KVGet(key string) ([]byte, error) {
	k := []byte(key)
	v, err := result(hostKVGet(ptrOf(k), uint32(len(k))))
	runtime.KeepAlive(k)
	if err != nil && err.Error() == abi.NotFound {
		return nil, ErrNotFound
	}
	return v, err
}

// KVSet writes a key of the plugin's private store. Needs "kv".
func KVSet(key string, value []byte) error {
	k := []byte(key)
	_, err := result(hostKVSet(ptrOf(k), uint32(len(k)), ptrOf(value), uint32(len(value))))
	runtime.KeepAlive(k)
	runtime.KeepAlive(value)
	return err
}

// KVDelete removes a key. Needs "kv".
func KVDelete(key string) error {
	k := []byte(key)
	_, err := result(hostKVDelete(ptrOf(k), uint32(len(k))))
	runtime.KeepAlive(k)
	return err
}

// KVList lists the keys starting with prefix, sorted. Needs "kv".
func KVList(prefix string) ([]string, error) {
	p := []byte(prefix)
	b, err := result(hostKVList(ptrOf(p), uint32(len(p))))
	runtime.KeepAlive(p)
	if err != nil {
		return nil, err
	}
	var keys []string
	err = json.Unmarshal(b, &keys)
	return keys, err
}

// HTTP performs an outbound request through the host. Needs "http"; the
// URL's host must be in the manifest's hosts and approved by the admin.
// Every call, allowed or refused, is audited by the host.
func HTTP(req HTTPRequest) (HTTPResponse, error) {
	var resp HTTPResponse
	in, err := json.Marshal(req)
	if err != nil {
		return resp, err
	}
	b, err := result(hostHTTP(ptrOf(in), uint32(len(in))))
	runtime.KeepAlive(in)
	if err != nil {
		return resp, err
	}
	err = json.Unmarshal(b, &resp)
	return resp, err
}

// PostJSON posts v as JSON to url through the host.
func PostJSON(url string, v any) (HTTPResponse, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return HTTPResponse{}, err
	}
	return HTTP(HTTPRequest{Method: "POST", URL: url, Body: body,
		Headers: map[string]string{"Content-Type": "application/json"}})
}

// Publish publishes payload to an MQTT topic the manifest declares, right
// away (hooks can also return a Publish action). Needs "publish".
func Publish(topic string, payload []byte) error {
	in, err := json.Marshal(PublishAction{Topic: topic, Payload: payload})
	if err != nil {
		return err
	}
	_, err = result(hostPublish(ptrOf(in), uint32(len(in))))
	runtime.KeepAlive(in)
	return err
}

// Setting returns an admin-approved setting (manifest "settings" defaults,
// overridden at approval), or "" when it is not set.
func Setting(key string) string {
	k := []byte(key)
	v, err := result(hostSetting(ptrOf(k), uint32(len(k))))
	runtime.KeepAlive(k)
	if err != nil {
		return ""
	}
	return string(v)
}

// Now returns the host's time: the real wall clock when "clock" is
// granted, a fixed instant otherwise. (time.Now inside the guest follows
// the same rule through WASI.)
func Now() time.Time { return time.Unix(0, hostNow()) }

// Annotate builds an annotate action. Needs "cases".
func Annotate(kind, id, text string) Action {
	return Action{Type: abi.ActionAnnotate, Annotate: &AnnotateAction{Kind: kind, ID: id, Text: text}}
}

// OpenCase builds an open-case action. Needs "cases".
func OpenCase(c OpenCaseAction) Action {
	return Action{Type: abi.ActionOpenCase, OpenCase: &c}
}

// PublishTo builds a publish action. Needs "publish" and a declared topic.
func PublishTo(topic string, payload []byte) Action {
	return Action{Type: abi.ActionPublish, Publish: &PublishAction{Topic: topic, Payload: payload}}
}
