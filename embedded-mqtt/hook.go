package mqtt

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// yieldEvery > 0 makes a publishing client's goroutine yield after each
// publish. It was the first remedy for a starving fan-in subscriber; flow
// control (flow.go) replaced it, the knob stays for benchmarks.
var yieldEvery = 0

// provided is the set of mochi events the hook handles (Provides is asked
// for every event).
var provided = func() (t [256]bool) {
	for _, b := range []byte{
		mochi.OnConnectAuthenticate,
		mochi.OnACLCheck,
		mochi.OnSessionEstablished,
		mochi.OnDisconnect,
		mochi.OnPublish,
		mochi.OnPublished,
		mochi.OnQosPublish,
		mochi.OnQosComplete,
		mochi.OnQosDropped,
	} {
		t[b] = true
	}
	return t
}()

// hook is the single mochi hook carrying all of yiwang's broker logic:
// authentication, ACL, telemetry ingest, events and downlink tracking.
type hook struct {
	mochi.HookBase
	b *Broker

	conns    sync.Map // *mochi.Client -> *conn
	inflight sync.Map // outKey -> device/id of a command awaiting PUBACK

	queueDropped int64
	flow         flow
}

type conn struct {
	p       Principal
	session bool
	origID  string
	// lastPub caches the last topic this client was allowed to publish to:
	// a device publishes to the same few topics, so the ACL check of a
	// publish is usually one string comparison.
	lastPub atomic.Pointer[string]
	// admitted: the watched subscribers this client's publish in flight
	// was admitted to (flow.go).
	admitted atomic.Pointer[[]*watched]
}

type outKey struct {
	cl *mochi.Client
	id uint16
}

var _ mochi.Hook = (*hook)(nil)

func (h *hook) ID() string { return "yiwang" }

func (h *hook) Provides(b byte) bool { return provided[b] }

func (h *hook) conn(cl *mochi.Client) *conn {
	v, ok := h.conns.Load(cl)
	if !ok {
		return nil
	}
	return v.(*conn)
}

// OnConnectAuthenticate checks credentials with the DeviceAuthenticator and
// namespaces the client id by device, so one device can never take over
// another device's session by reusing its client id.
func (h *hook) OnConnectAuthenticate(cl *mochi.Client, pk packets.Packet) bool {
	user, pass := string(pk.Connect.Username), string(pk.Connect.Password)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var (
		p       Principal
		err     error
		session = cl.Net.Listener == ListenerWS && user == SessionUsername
	)
	switch {
	case user == "":
		err = ErrDenied
	case session:
		p, err = h.b.opts.Auth.AuthenticateSession(ctx, pass)
		if err == nil && p.User == "" {
			err = ErrDenied
		}
	default:
		p, err = h.b.opts.Auth.AuthenticateDevice(ctx, user, pass)
		switch {
		case err != nil:
		case p.Device == "" && p.User != "":
			session = true // read-only service account (exporter, benchmark subscriber)
		case p.Device != user:
			err = ErrDenied
		}
	}
	if err != nil {
		h.b.authFail.Add(1)
		h.b.log.Info("mqtt: connection refused", "username", user, "remote", cl.Net.Remote, "error", err)
		return false
	}
	if session {
		p.Device, p.Children = "", nil
	}
	c := &conn{p: p, session: session, origID: cl.ID}
	prefix := p.Device
	if session {
		prefix = SessionUsername + "|" + p.User
	}
	if cl.ID != prefix {
		cl.ID = prefix + "|" + cl.ID
	}
	// A will message is published without an ACL check by mochi: drop wills
	// aimed outside the client's own topics.
	if atomic.LoadUint32(&cl.Properties.Will.Flag) == 1 && !h.allowed(c, cl.Properties.Will.TopicName, true) {
		h.deny(c, "will topic "+cl.Properties.Will.TopicName)
		atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
		cl.Properties.Will = mochi.Will{}
	}
	h.conns.Store(cl, c)
	return true
}

func (h *hook) deny(c *conn, what string) {
	h.b.denied.Add(1)
	if c != nil && c.p.Device != "" {
		h.b.count(c.p.Device, func(dc *DeviceCounters) { dc.Denied++ }, "acl denied: "+what)
	}
}

// OnACLCheck: a device publishes and subscribes only below yw/{itself}/ and
// yw/{child}/ for its gateway children; a console session only reads.
func (h *hook) OnACLCheck(cl *mochi.Client, topic string, write bool) bool {
	c := h.conn(cl)
	if c == nil {
		return false
	}
	if write {
		if p := c.lastPub.Load(); p != nil && *p == topic {
			return true
		}
	}
	if h.allowed(c, topic, write) {
		if write {
			c.lastPub.Store(&topic)
		}
		return true
	}
	verb := "subscribe "
	if write {
		verb = "publish "
	}
	h.deny(c, verb+topic)
	return false
}

func (h *hook) allowed(c *conn, topic string, write bool) bool {
	if c.session {
		if write {
			return false
		}
		// runs for every message delivered to a console subscriber: no
		// allocation
		first, rest, _ := strings.Cut(topic, "/")
		if first != TopicPrefix {
			return false
		}
		if c.p.AllDevices {
			return true
		}
		device, kind, ok := strings.Cut(rest, "/")
		if !ok || !validID(device) {
			return false
		}
		switch kind {
		case KindTelemetry, KindEvent, KindAttributes, "+":
		default:
			return false
		}
		for _, d := range c.p.Devices {
			if d == device {
				return true
			}
		}
		return false
	}
	if write {
		t, ok := parseTopic(topic)
		if !ok || t.kind == KindCommand {
			return false
		}
		return owns(c, t.device)
	}
	d, ok := filterDevice(topic)
	return ok && owns(c, d)
}

func owns(c *conn, device string) bool {
	if device == c.p.Device {
		return true
	}
	_, ok := c.p.Children[device]
	return ok
}

func (h *hook) OnSessionEstablished(cl *mochi.Client, pk packets.Packet) {
	c := h.conn(cl)
	if c == nil {
		return
	}
	if c.session {
		h.flow.add(cl)
	}
	if h.b.opts.OnConnection == nil {
		return
	}
	ev := ConnEvent{Device: c.p.Device, User: c.p.User, ClientID: c.origID, Remote: cl.Net.Remote,
		Listener: cl.Net.Listener, Protocol: cl.Properties.ProtocolVersion, Connected: true, At: time.Now()}
	h.b.emit(func() { h.b.opts.OnConnection(ev) })
}

func (h *hook) OnDisconnect(cl *mochi.Client, err error, expire bool) {
	v, ok := h.conns.LoadAndDelete(cl)
	if !ok {
		return
	}
	c := v.(*conn)
	if c.session {
		h.flow.remove(cl)
	}
	h.flow.release(c)
	h.inflight.Range(func(k, _ any) bool {
		if k.(outKey).cl == cl {
			h.inflight.Delete(k)
		}
		return true
	})
	if cause := cl.StopCause(); cause != nil && (err == nil || !errors.Is(err, packets.ErrPacketTooLarge)) {
		if _, isCode := cause.(packets.Code); isCode {
			err = cause
		}
	}
	if err != nil && errors.Is(err, packets.ErrPacketTooLarge) {
		h.b.oversize.Add(1)
		if c.p.Device != "" {
			h.b.count(c.p.Device, func(dc *DeviceCounters) { dc.Oversize++ }, "packet too large")
		}
	}
	reason := ""
	if err != nil && !errors.Is(err, packets.CodeDisconnect) {
		reason = err.Error()
	}
	if h.b.opts.OnConnection != nil {
		ev := ConnEvent{Device: c.p.Device, User: c.p.User, ClientID: c.origID, Remote: cl.Net.Remote,
			Listener: cl.Net.Listener, Protocol: cl.Properties.ProtocolVersion, Reason: reason, At: time.Now()}
		h.b.emit(func() { h.b.opts.OnConnection(ev) })
	}
}

// refuse answers a publish the broker will not take: v5 QoS>0 gets a PUBACK
// (or PUBREC) with the reason code; a v3 QoS>0 publish cannot be refused in
// the protocol, so the client is disconnected rather than left waiting; a
// QoS 0 publish is dropped (and counted by the caller).
func (h *hook) refuse(cl *mochi.Client, pk packets.Packet, code packets.Code) (packets.Packet, error) {
	if pk.FixedHeader.Qos == 0 {
		return pk, packets.ErrRejectPacket
	}
	if cl.Properties.ProtocolVersion == 5 {
		if pk.FixedHeader.Qos == 2 {
			ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: pk.PacketID, ReasonCode: code.Code}
			ack.Properties.ReasonString = code.Reason
			_ = cl.WritePacket(ack)
			return pk, packets.ErrRejectPacket
		}
		return pk, code // mochi writes PUBACK with this reason code
	}
	cl.Stop(code)
	return pk, packets.ErrRejectPacket
}

// OnPublish enforces the payload limit, decodes telemetry synchronously (so
// a v5 client learns about a malformed payload in its PUBACK) and queues the
// readings for batching; events, attributes and command replies go to the
// callbacks.
func (h *hook) OnPublish(cl *mochi.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	c := h.conn(cl)
	if c == nil {
		return h.refuse(cl, pk, packets.ErrNotAuthorized)
	}
	h.flow.release(c)
	out, err := h.onPublish(cl, c, pk)
	if err == nil && !c.session {
		h.flow.admit(c) // mochi routes it next (see flow.go)
	}
	return out, err
}

// OnPublished: the publish was routed to its subscribers.
func (h *hook) OnPublished(cl *mochi.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	if c := h.conn(cl); c != nil {
		h.flow.release(c)
	}
}

func (h *hook) onPublish(cl *mochi.Client, c *conn, pk packets.Packet) (packets.Packet, error) {
	t, _ := parseTopic(pk.TopicName)
	if len(pk.Payload) > h.b.opts.MaxPayload {
		h.b.oversize.Add(1)
		h.b.count(t.device, func(dc *DeviceCounters) { dc.Oversize++ },
			fmt.Sprintf("payload of %d bytes over the %d byte limit", len(pk.Payload), h.b.opts.MaxPayload))
		return h.refuse(cl, pk, packets.ErrPacketTooLarge)
	}
	now := time.Now()
	switch t.kind {
	case KindTelemetry:
		rs, err := h.decode(c, t.device, pk.Payload, now)
		if err != nil {
			h.b.malformed.Add(1)
			h.b.count(t.device, func(dc *DeviceCounters) { dc.Malformed++ }, err.Error())
		}
		if len(rs) == 0 {
			if cl.Properties.ProtocolVersion == 5 {
				return h.refuse(cl, pk, packets.ErrPayloadFormatInvalid)
			}
			// v3 has no way to say "malformed": acknowledge, count, and
			// still route the raw message to subscribers.
			return pk, nil
		}
		if !h.b.batch.enqueue(rs) {
			atomic.AddInt64(&h.queueDropped, int64(len(rs)))
			h.b.count(t.device, func(dc *DeviceCounters) { dc.Dropped += int64(len(rs)) }, "telemetry queue full")
			return h.refuse(cl, pk, packets.ErrQuotaExceeded)
		}
	case KindEvent, KindAttributes:
		if h.b.opts.OnMessage != nil {
			m := Message{Device: t.device, Kind: t.kind, Topic: pk.TopicName, Payload: append([]byte(nil), pk.Payload...), Received: now}
			h.b.emit(func() { h.b.opts.OnMessage(m) })
		}
	case KindReply:
		h.b.commandReplied(t.device, t.cmdID, pk.Payload)
	}
	if yieldEvery > 0 {
		runtime.Gosched()
	}
	return pk, nil
}

// decode runs the device type's decoder; a panicking decoder counts as a
// malformed payload.
func (h *hook) decode(c *conn, device string, payload []byte, now time.Time) (rs []Reading, err error) {
	typ := c.p.Type
	if device != c.p.Device {
		typ = c.p.Children[device]
	}
	var dec Decoder = JSONDecoder{}
	if h.b.opts.DecoderFor != nil {
		if d := h.b.opts.DecoderFor(typ); d != nil {
			dec = d
		}
	}
	defer func() {
		if r := recover(); r != nil {
			rs, err = nil, fmt.Errorf("%w: decoder panic: %v", ErrMalformed, r)
		}
	}()
	rs, err = dec.Decode(device, payload, now)
	for i := range rs {
		rs[i].Device = device
	}
	return rs, err
}

// OnQosPublish remembers outbound QoS>0 command publishes so the PUBACK can
// be matched to the command.
func (h *hook) OnQosPublish(cl *mochi.Client, pk packets.Packet, sent int64, resends int) {
	if pk.FixedHeader.Type != packets.Publish {
		return
	}
	if t, ok := parseTopic(pk.TopicName); ok && t.kind == KindCommand {
		h.inflight.Store(outKey{cl, pk.PacketID}, t.device+"/"+t.cmdID)
	}
}

func (h *hook) OnQosComplete(cl *mochi.Client, pk packets.Packet) {
	if pk.FixedHeader.Type != packets.Puback && pk.FixedHeader.Type != packets.Pubcomp {
		return
	}
	v, ok := h.inflight.LoadAndDelete(outKey{cl, pk.PacketID})
	if !ok {
		return
	}
	device, id, _ := strings.Cut(v.(string), "/")
	h.b.commandDelivered(device, id)
}

func (h *hook) OnQosDropped(cl *mochi.Client, pk packets.Packet) {
	h.inflight.Delete(outKey{cl, pk.PacketID})
}
