// Package abi holds the wire types and names shared by the plugin host
// (package plugins, linux) and the guest SDK (package sdk, wasip1). It has no
// build tags and no dependencies beyond the standard library so that both
// sides compile the very same definitions; see plugins/ABI.md for the
// calling convention these types travel through.
package abi

import (
	"encoding/json"
	"time"
)

// Version is the ABI version this host and SDK speak. A plugin declares it
// in plugin.json ("abi") and returns it from its yw_abi export; both must
// match or the host refuses the plugin.
const Version = 1

// Guest exports (functions the plugin module provides, //go:wasmexport).
const (
	ExportABI    = "yw_abi"    // () -> u32 ABI version
	ExportBuffer = "yw_buffer" // (size u32) -> u32 pointer to a guest buffer of at least size bytes
	ExportDecode = "yw_decode" // (ptr, typeLen, payloadLen u32) -> u64 packed (ptr<<32|len) of result JSON
	ExportEvent  = "yw_event"  // (ptr, len u32) -> u64 packed result JSON
	ExportJob    = "yw_job"    // (ptr, len u32) -> u64 packed result JSON
)

// HostModule is the import module name of the host functions.
const HostModule = "yiwang"

// Host functions (imports from module "yiwang"). Every function that
// returns data returns an i64 r: r >= 0 means success and r bytes of result
// are pending; r < 0 means failure and -r-1 bytes of error message are
// pending. The guest fetches the pending bytes with result_read.
const (
	HostLog        = "log"         // (level u32, ptr, len u32)
	HostResultRead = "result_read" // (ptr u32) copies the pending bytes to ptr
	HostKVGet      = "kv_get"      // (kptr, klen) -> i64; not found is an error "not found"
	HostKVSet      = "kv_set"      // (kptr, klen, vptr, vlen) -> i64
	HostKVDelete   = "kv_delete"   // (kptr, klen) -> i64
	HostKVList     = "kv_list"     // (pptr, plen) -> i64, result is a JSON array of keys
	HostHTTP       = "http"        // (ptr, len) -> i64, request/response are HTTPRequest/HTTPResponse JSON
	HostNow        = "now"         // () -> i64 unix nanoseconds (fixed unless "clock" is granted)
	HostPublish    = "publish"     // (ptr, len) -> i64, request is a PublishAction JSON
	HostSetting    = "setting"     // (kptr, klen) -> i64, an admin-approved setting; missing is "not found"
)

// NotFound is the error message kv_get returns for a missing key.
const NotFound = "not found"

// Log levels for the log host function.
const (
	LevelDebug = 0
	LevelInfo  = 1
	LevelWarn  = 2
	LevelError = 3
)

// Permissions a manifest may declare. Each extension point is one.
const (
	PermDecode  = "decode"  // payload decoder for the manifest's device_types
	PermEvents  = "events"  // event hooks for the manifest's events
	PermHTTP    = "http"    // outbound HTTP to the manifest's hosts, if approved
	PermCron    = "cron"    // scheduled jobs from the manifest's cron entries
	PermKV      = "kv"      // private key-value store
	PermClock   = "clock"   // the real wall clock (otherwise a fixed clock)
	PermPublish = "publish" // publish to the manifest's topics
	PermCases   = "cases"   // open cases and annotate objects
)

// AllPermissions lists every known permission, in display order.
var AllPermissions = []string{PermDecode, PermEvents, PermHTTP, PermCron, PermKV, PermClock, PermPublish, PermCases}

// Event types delivered to event hooks.
const (
	EventAlarmRaised         = "alarm.raised"
	EventAlarmCleared        = "alarm.cleared"
	EventCaseCreated         = "case.created"
	EventCaseStateChanged    = "case.state_changed"
	EventProjectStatusChange = "project.status_changed"
)

// AllEvents lists every event type a plugin may subscribe to.
var AllEvents = []string{EventAlarmRaised, EventAlarmCleared, EventCaseCreated, EventCaseStateChanged, EventProjectStatusChange}

// Telemetry is what a decoder returns: {"ts":..., "values":{...}}. TS is
// unix milliseconds; 0 means "use the time the message was received".
type Telemetry struct {
	TS     int64          `json:"ts"`
	Values map[string]any `json:"values"`
}

// DecodeResult is the JSON a guest returns from yw_decode.
type DecodeResult struct {
	Telemetry
	Error string `json:"error,omitempty"`
}

// Event is the input of yw_event. Data is the domain object as the app
// publishes it (a case, an alarm, a project status change).
type Event struct {
	Type string          `json:"type"`
	Time time.Time       `json:"time"`
	ID   string          `json:"id,omitempty"`
	Data json.RawMessage `json:"data,omitempty"`
}

// Job is the input of yw_job: which cron entry fired and when it was due.
type Job struct {
	Name     string    `json:"name"`
	Schedule string    `json:"schedule"`
	Time     time.Time `json:"time"`
}

// Action types a hook or job may return.
const (
	ActionAnnotate = "annotate"
	ActionOpenCase = "open_case"
	ActionPublish  = "publish"
)

// Action is one thing a plugin asks the host to do after a hook or job.
type Action struct {
	Type     string          `json:"type"`
	Annotate *AnnotateAction `json:"annotate,omitempty"`
	OpenCase *OpenCaseAction `json:"open_case,omitempty"`
	Publish  *PublishAction  `json:"publish,omitempty"`
}

// AnnotateAction adds a note to an object (a case, an alarm, a project).
type AnnotateAction struct {
	Kind string `json:"kind"` // "case", "alarm", "project"
	ID   string `json:"id"`
	Text string `json:"text"`
}

// OpenCaseAction asks the app to open a case (事件) on the plugin's behalf.
type OpenCaseAction struct {
	Title       string          `json:"title"`
	Description string          `json:"description,omitempty"`
	Category    string          `json:"category,omitempty"`
	Urgent      bool            `json:"urgent,omitempty"`
	Location    json.RawMessage `json:"location,omitempty"`
	SourceRef   string          `json:"source_ref,omitempty"`
}

// PublishAction publishes a payload to an MQTT topic the manifest declares.
type PublishAction struct {
	Topic   string `json:"topic"`
	Payload []byte `json:"payload"`
	Retain  bool   `json:"retain,omitempty"`
}

// HookResult is the JSON a guest returns from yw_event and yw_job.
type HookResult struct {
	Actions []Action `json:"actions,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// HTTPRequest is the input of the http host function.
type HTTPRequest struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
	// TimeoutMS asks for a shorter timeout than the host's; 0 = host default.
	TimeoutMS int `json:"timeout_ms,omitempty"`
}

// HTTPResponse is the result of the http host function.
type HTTPResponse struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
}

// Pack packs a guest pointer and length into the u64 the exports return.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits a packed u64 into pointer and length.
func Unpack(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }
