// Package mqtt is the MQTT broker built into yiwang: mochi-mqtt/server/v2
// with one hook that authenticates devices, enforces the topic ACL, decodes
// and batches telemetry into the store, reports connection events and tracks
// downlink commands. It never imports app or store: app/iot implements
// DeviceAuthenticator and Sink (and optionally Decoder, via the plugin host)
// and wires the callbacks.
//
// # Topics
//
//	yw/{device}/telemetry          device → platform, readings (JSON, or binary via a plugin decoder)
//	yw/{device}/event              device → platform, events (OnMessage, kind "event")
//	yw/{device}/attributes         device → platform, attributes (OnMessage, kind "attributes")
//	yw/{device}/cmd/{id}           platform → device, downlink command (Broker.Send, QoS 1)
//	yw/{device}/cmd/{id}/reply     device → platform, reply to command {id}
//
// A device connects with username = device id and password = its secret. It
// may publish to the topics above marked "device →" and subscribe to any
// filter below yw/{device}/ (typically yw/{device}/cmd/+), for itself and, if
// it is a gateway, for its child devices (Principal.Children). Everything
// else is refused: a QoS 0 publish is dropped, a QoS≥1 publish gets a PUBACK
// with reason 0x87 (not authorized) in MQTT 5 and a disconnect in 3.1.1,
// because 3.1.1 has no way to refuse a publish and the client must not wait
// forever. Subscriptions get the 0x87 / 0x80 failure code. A will message
// whose topic the client could not publish to is discarded at connect
// (mochi publishes wills without an ACL check). Client ids are namespaced by
// device ("{device}|{client id}"), so one device cannot take over another's
// session by reusing its client id.
//
// A DeviceAuthenticator may also return a principal with Device empty and
// User set for a read-only service account (an exporter to the city
// platform, a benchmark subscriber): it connects on any listener and has
// the console's subscribe rules.
//
// Console users connect over WebSocket (Broker.WebSocketHandler mounted at
// /mqtt, or Options.WSAddr) with username "$session" and their session token
// as password; they may only subscribe, to yw/{device}/telemetry|event|
// attributes|+ of the devices they are scoped to (or anything under yw/ with
// Principal.AllDevices).
//
// # Hook design
//
// All logic is in one mochi hook (hook.go) so the order of checks is explicit:
// OnConnectAuthenticate → Auth; OnACLCheck → the rules above (mochi calls it
// before OnPublish, and for each subscription filter); OnPublish → payload
// limit, decode, enqueue. A device publishes to the same few topics, so
// the ACL decision for a publish is cached per connection (last allowed
// topic) and topic parsing does not allocate. Decoding runs synchronously
// on the publishing client's own goroutine: it is cheap for JSON, it lets
// an MQTT 5 client learn about a malformed payload (PUBACK 0x99, payload
// format invalid) and it keeps one client's bad data from touching anyone
// else's. A decoder that panics is treated as a malformed payload. Counters per device (malformed,
// oversize, denied, dropped, last error) are available with Broker.Counters
// for the device page, totals with Broker.Stats for /metrics.
//
// The built-in JSON decoder has an allocation-light fast path for the usual
// flat shapes and falls back to encoding/json for everything else; a
// differential fuzz test (FuzzFastDecodeMatchesSlow) checks that the fast
// path never accepts or decodes differently from encoding/json.
//
// # Flow control
//
// A console or exporter subscribed to yw/+/... receives what every device
// publishes. mochi routes a publish on the publisher's goroutine into each
// subscriber's bounded outbound queue (Options.MaxPendingWrites) and drops
// the message when that queue is full; with hundreds of publishers the
// fan-in subscriber's single write goroutine falls behind and, in the
// benchmark, lost 10–30 % of a flood that mosquitto delivered completely
// (its one loop reads publishers only as fast as it writes subscribers).
// flow.go gives the same backpressure: session principals (console,
// service accounts) are watched; a device's publish is admitted only while
// the subscriber's queue plus the publishes admitted and not yet routed
// (released in OnPublished) stay under 3/4 of the queue; otherwise one
// publisher polls until the queue drains to 1/8 while the others sleep, and
// TCP pushes back on the devices meanwhile. A subscriber that stops
// reading for 1 s or needs more than 2 s to drain is ignored for 30 s (its
// messages are dropped as before), so a dead browser tab cannot hold the
// county's devices back. mochi has no accessor for the queue length; it is
// read with reflect (TestOutboundLenReadable guards it across upgrades).
// This replaced an earlier remedy (runtime.Gosched after every publish),
// which cost more CPU and still lost messages with 1,000 publishers.
//
// Listeners are yiwang's own (listener.go, websocket.go): they track every
// connection and give a new connection 15 s to send CONNECT, so Close always
// finishes (mochi's Close waits for every client goroutine, and a peer that
// connects and never speaks would hold it forever).
//
// mochi itself is built from third_party/mochi (go.mod's replace line):
// v2.7.9 with two recursive read locks removed, one of which deadlocked Close
// when a client left at the same moment (it hung CI for 40 minutes). See
// third_party/mochi/PATCHES.md; drop the copy once a release has both fixes.
//
// A payload over Options.MaxPayload (256 KiB by default) is refused and
// counted: mochi's MaximumPacketSize (payload limit + 8 KiB for topic and
// properties) drops the connection on the fixed header, before the body is
// read, so a 1 MB garbage publish never gets buffered; a payload between the
// two limits is refused in OnPublish (PUBACK 0x95 in v5).
//
// Malformed JSON telemetry: if some values are usable (e.g. one value is a
// string), the usable readings are kept and the payload is counted as
// malformed; if nothing is usable, v5 QoS≥1 gets PUBACK 0x99 and v3 gets a
// normal acknowledgement (3.1.1 cannot express the error; disconnecting a
// device for a bad reading would lose its good ones). Either way a malformed
// payload never enters a batch, so it can never fail the batch of the other
// readings it arrived with.
//
// # Batching
//
// Decoded readings go to a bounded queue (Options.QueueSize messages). One
// collector goroutine builds batches of up to BatchSize readings (1000) and
// flushes a partial batch BatchDelay (5 ms) after its first reading, so raft
// and SQLite see hundreds of readings per command while latency stays in
// milliseconds. SinkWorkers (2) goroutines call Sink.WriteBatch, so one batch
// is replicated while the next is built. When the queue is full the
// publishing client's goroutine waits up to EnqueueTimeout (2 s) — TCP
// backpressure on that client only — and then the message is refused
// (PUBACK 0x97 quota exceeded in v5, disconnect in v3, for QoS 0 dropped) and
// counted as dropped: the broker's packet loop is never blocked indefinitely.
// A failed WriteBatch is retried with backoff (SinkRetries, 5) and, if it
// still fails, counted as dropped per device and reported to OnBatchError —
// never dropped silently. Close flushes the queue into the sink.
//
// # Message expiry
//
// mochi's default MaximumMessageExpiryInterval (24 h) silently removes every
// retained message a day after it was published. Devices use retained
// attributes/state (and the console relies on "last known value" retained
// messages of devices that report rarely, e.g. a manhole cover that reports
// only on change), so Options.MessageExpiry defaults to 0: messages never
// expire unless the publisher sets an MQTT 5 message expiry interval, which
// is honoured. Set MessageExpiry to cap it. Disconnected persistent sessions
// are kept for SessionExpiry (24 h) so abandoned client ids do not pile up.
//
// # Memory
//
// mochi runs two goroutines per connection: about 31 KiB RSS per connected
// device (10,000 devices ≈ 315 MiB against mosquitto's 16 MiB; see
// BENCHMARKS.md). Most of it is goroutine stacks (≈ 20 KiB per device):
// the read goroutine grows past 8 KiB while mochi handles CONNECT (it
// passes its large Packet struct by value through several frames) and,
// resting at ≈ 5 KiB, is never shrunk below 16 KiB. The outbound queue
// (Options.MaxPendingWrites, 512 slots, 4 KiB) costs resident memory only
// for the slots a client ever uses. Acceptable for a county box; not
// reducible without changing mochi.
//
// # Downlink
//
// Broker.Send(device, id, payload) publishes to yw/{device}/cmd/{id} with QoS
// 1 through mochi's inline client and reports CommandSent, CommandDelivered
// (the device's PUBACK), CommandReplied (a publish on .../reply, with its
// payload) or CommandTimeout to Options.OnCommand.
//
// Callbacks (OnConnection, OnMessage, OnCommand) run on one dispatcher
// goroutine in order, fed by a bounded queue: a slow callback never blocks
// the broker; overflow is counted in Stats.EventsDropped.
package mqtt
