// Package loadgen is a broker-agnostic MQTT 3.1.1 load generator for
// benchmarks: N publishing clients (QoS 0 or 1), bounded by a message count
// and a duration, plus an optional subscriber that counts deliveries. It
// speaks the protocol directly over TCP with a minimal encoder, so the
// generator's own cost per message is small and identical for every broker
// measured (yiwang, Debian's mosquitto, anything else).
package loadgen

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config of one run.
type Config struct {
	Addr    string // broker host:port
	Clients int    // publishing clients
	QoS     byte   // 0 or 1
	// Messages is the total number of messages across all clients
	// (split evenly); Duration stops the run earlier (default 30 s).
	Messages int
	Duration time.Duration
	// Rate is messages/s per client (0 = as fast as possible; QoS 1 keeps
	// at most Window unacknowledged messages per client, default 16).
	Rate   float64
	Window int
	// Topic of client i (default "bench/{i}"); Credentials of client i
	// (default none); Payload of message seq of client i (default a small
	// JSON reading).
	Topic       func(i int) string
	Credentials func(i int) (user, pass string)
	Payload     func(i, seq int) []byte
	// Subscribe, when set, connects one subscriber on this filter (at
	// SubQoS) before publishing and counts deliveries; SubUser/SubPass are its
	// credentials. DrainTimeout is how long to wait for outstanding
	// deliveries after publishing ends (default 5 s).
	Subscribe        string
	SubQoS           byte
	SubUser, SubPass string
	DrainTimeout     time.Duration
	// ConnectParallel bounds concurrent connection attempts (default 64).
	ConnectParallel int
	// KeepAlive in seconds (default 60).
	KeepAlive uint16
}

// Result of a run.
type Result struct {
	Clients    int           `json:"clients"`
	QoS        byte          `json:"qos"`
	Sent       int64         `json:"sent"`
	Acked      int64         `json:"acked"`
	Received   int64         `json:"received"`
	Errors     int64         `json:"errors"`
	Elapsed    time.Duration `json:"elapsed"`     // first publish to last delivery (or last ack)
	PubElapsed time.Duration `json:"pub_elapsed"` // first publish to last publish (last ack for QoS 1)
	PubRate    float64       `json:"pub_rate"`    // messages/s sent (acked for QoS 1)
	RecvRate   float64       `json:"recv_rate"`   // deliveries/s counted by the subscriber
	ConnectIn  time.Duration `json:"connect_in"`  // time to connect all clients
}

func (r Result) String() string {
	return fmt.Sprintf("clients=%d qos=%d sent=%d acked=%d received=%d errors=%d elapsed=%s pub=%.0f/s recv=%.0f/s",
		r.Clients, r.QoS, r.Sent, r.Acked, r.Received, r.Errors, r.Elapsed.Round(time.Millisecond), r.PubRate, r.RecvRate)
}

func (c *Config) defaults() {
	if c.Clients <= 0 {
		c.Clients = 1
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Window <= 0 {
		c.Window = 16
	}
	if c.Topic == nil {
		c.Topic = func(i int) string { return "bench/" + strconv.Itoa(i) }
	}
	if c.Payload == nil {
		c.Payload = func(i, seq int) []byte {
			return []byte(`{"values":{"water_level":` + strconv.Itoa(100+seq%50) + `}}`)
		}
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 5 * time.Second
	}
	if c.ConnectParallel <= 0 {
		c.ConnectParallel = 64
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 60
	}
}

// Run connects the clients, publishes, waits for deliveries and reports.
func Run(ctx context.Context, cfg Config) (Result, error) {
	cfg.defaults()
	res := Result{Clients: cfg.Clients, QoS: cfg.QoS}
	// client ids unique per run: a broker may still be tearing down the
	// previous run's sessions
	runID := time.Now().UnixNano() & 0xffffffff
	var received atomic.Int64
	var lastRecv atomic.Int64
	var sub *Conn
	if cfg.Subscribe != "" {
		var err error
		sub, err = Dial(ctx, cfg.Addr, fmt.Sprintf("lg%x-sub", runID), cfg.SubUser, cfg.SubPass, cfg.KeepAlive)
		if err != nil {
			return res, fmt.Errorf("subscriber: %w", err)
		}
		defer sub.Close()
		if err := sub.Subscribe(cfg.Subscribe, cfg.SubQoS); err != nil {
			return res, fmt.Errorf("subscribe: %w", err)
		}
		go sub.ReadLoop(func(topic string, payload []byte) {
			received.Add(1)
			lastRecv.Store(time.Now().UnixNano())
		}, nil)
	}

	t0 := time.Now()
	conns, err := ConnectMany(ctx, cfg.Addr, cfg.Clients, cfg.ConnectParallel, func(i int) (string, string, string) {
		u, p := "", ""
		if cfg.Credentials != nil {
			u, p = cfg.Credentials(i)
		}
		return fmt.Sprintf("lg%x-%d", runID, i), u, p
	}, cfg.KeepAlive)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	if err != nil {
		return res, err
	}
	res.ConnectIn = time.Since(t0)

	perClient := cfg.Messages / cfg.Clients
	if perClient <= 0 {
		perClient = 1 << 62
	}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()
	var sent, acked, errs atomic.Int64
	var lastAck atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c *Conn) {
			defer wg.Done()
			n, a, err := c.publishLoop(runCtx, cfg, i, perClient, &lastAck)
			sent.Add(n)
			acked.Add(a)
			if err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				errs.Add(1)
			}
		}(i, c)
	}
	wg.Wait()
	pubEnd := time.Now()
	res.Sent, res.Acked, res.Errors = sent.Load(), acked.Load(), errs.Load()
	end := pubEnd
	if cfg.QoS > 0 && lastAck.Load() > 0 {
		end = time.Unix(0, lastAck.Load())
	}
	pubElapsed := end.Sub(start)
	if cfg.QoS > 0 {
		res.PubRate = float64(res.Acked) / pubElapsed.Seconds()
	} else {
		res.PubRate = float64(res.Sent) / pubElapsed.Seconds()
	}
	res.Elapsed, res.PubElapsed = pubElapsed, pubElapsed
	if sub != nil {
		// wait until deliveries stop growing (or all arrived)
		deadline := time.Now().Add(cfg.DrainTimeout)
		prev := int64(-1)
		for time.Now().Before(deadline) && received.Load() < res.Sent {
			time.Sleep(50 * time.Millisecond)
			cur := received.Load()
			if cur == prev && time.Since(time.Unix(0, lastRecv.Load())) > 500*time.Millisecond {
				break
			}
			prev = cur
		}
		res.Received = received.Load()
		if lr := lastRecv.Load(); lr > 0 {
			if e := time.Unix(0, lr).Sub(start); e > res.Elapsed {
				res.Elapsed = e
			}
		}
		res.RecvRate = float64(res.Received) / res.Elapsed.Seconds()
	}
	return res, nil
}

// ConnectMany connects n clients with bounded parallelism; id(i) gives
// the client id and credentials of client i.
func ConnectMany(ctx context.Context, addr string, n, parallel int, id func(i int) (clientID, user, pass string), keepAlive uint16) ([]*Conn, error) {
	conns := make([]*Conn, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var firstErr error
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			cid, u, p := id(i)
			c, err := Dial(ctx, addr, cid, u, p, keepAlive)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("client %d: %w", i, err)
				}
				mu.Unlock()
				return
			}
			conns[i] = c
		}(i)
	}
	wg.Wait()
	return conns, firstErr
}

func (c *Conn) publishLoop(ctx context.Context, cfg Config, i, n int, lastAck *atomic.Int64) (sent, acked int64, err error) {
	topic := cfg.Topic(i)
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	var window chan struct{}
	var ackCount atomic.Int64
	readErr := make(chan error, 1)
	if cfg.QoS > 0 {
		window = make(chan struct{}, cfg.Window)
		go func() {
			readErr <- c.ReadLoop(nil, func(uint16) {
				ackCount.Add(1)
				lastAck.Store(time.Now().UnixNano())
				<-window
			})
		}()
	}
	// spread the clients' send times over one interval instead of bursting
	next := time.Now().Add(time.Duration(float64(interval) * float64(i%cfg.Clients) / float64(cfg.Clients)))
	var id uint16
	for seq := 0; seq < n; seq++ {
		if ctx.Err() != nil {
			break
		}
		if interval > 0 {
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
		}
		if window != nil {
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
			case err = <-readErr:
				return sent, ackCount.Load(), err
			}
			if ctx.Err() != nil {
				break
			}
			id++
			if id == 0 {
				id = 1
			}
		}
		if err = c.Publish(topic, cfg.Payload(i, seq), cfg.QoS, id); err != nil {
			return sent, ackCount.Load(), err
		}
		sent++
	}
	if window != nil {
		// wait for outstanding acks
		deadline := time.Now().Add(cfg.DrainTimeout)
		for ackCount.Load() < sent && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	return sent, ackCount.Load(), err
}

// Conn is a minimal MQTT 3.1.1 client connection.
type Conn struct {
	nc net.Conn
	r  *bufio.Reader
	wm sync.Mutex
	w  *bufio.Writer
}

// Dial connects and completes the MQTT handshake (clean session).
func Dial(ctx context.Context, addr, clientID, user, pass string, keepAlive uint16) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return Connect(nc, clientID, user, pass, keepAlive)
}

// Connect sends CONNECT on an open connection (TCP, TLS, ...) and waits for a
// successful CONNACK; on failure it closes nc.
func Connect(nc net.Conn, clientID, user, pass string, keepAlive uint16) (*Conn, error) {
	c := &Conn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 8<<10)}
	var vh []byte
	vh = appendString(vh, "MQTT")
	flags := byte(0x02) // clean session
	if user != "" {
		flags |= 0x80
	}
	if pass != "" {
		flags |= 0x40
	}
	vh = append(vh, 4, flags, byte(keepAlive>>8), byte(keepAlive))
	vh = appendString(vh, clientID)
	if user != "" {
		vh = appendString(vh, user)
	}
	if pass != "" {
		vh = appendString(vh, pass)
	}
	if err := c.write(0x10, vh); err != nil {
		nc.Close()
		return nil, err
	}
	_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, body, err := c.readPacket()
	_ = nc.SetReadDeadline(time.Time{})
	if err != nil {
		nc.Close()
		return nil, err
	}
	if typ>>4 != 2 || len(body) < 2 {
		nc.Close()
		return nil, fmt.Errorf("expected CONNACK, got packet type %d", typ>>4)
	}
	if body[1] != 0 {
		nc.Close()
		return nil, fmt.Errorf("connection refused, code %d", body[1])
	}
	return c, nil
}

// Close closes the network connection (no DISCONNECT).
func (c *Conn) Close() { _ = c.nc.Close() }

// Disconnect sends DISCONNECT and closes.
func (c *Conn) Disconnect() {
	_ = c.write(0xe0, nil)
	c.Close()
}

// Publish writes one PUBLISH (id is used for QoS 1).
func (c *Conn) Publish(topic string, payload []byte, qos byte, id uint16) error {
	c.wm.Lock()
	defer c.wm.Unlock()
	n := 2 + len(topic) + len(payload)
	if qos > 0 {
		n += 2
	}
	hdr := []byte{0x30 | qos<<1}
	hdr = appendVarint(hdr, n)
	c.w.Write(hdr)
	c.w.WriteByte(byte(len(topic) >> 8))
	c.w.WriteByte(byte(len(topic)))
	c.w.WriteString(topic)
	if qos > 0 {
		c.w.WriteByte(byte(id >> 8))
		c.w.WriteByte(byte(id))
	}
	c.w.Write(payload)
	return c.w.Flush()
}

// Subscribe sends SUBSCRIBE and waits for the SUBACK.
func (c *Conn) Subscribe(filter string, qos byte) error {
	body := []byte{0, 1}
	body = appendString(body, filter)
	body = append(body, qos)
	if err := c.write(0x82, body); err != nil {
		return err
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetReadDeadline(time.Time{})
	typ, b, err := c.readPacket()
	if err != nil {
		return err
	}
	if typ>>4 != 9 || len(b) < 3 || b[2] >= 0x80 {
		return fmt.Errorf("subscription refused (packet %x %x)", typ, b)
	}
	return nil
}

// ReadLoop reads packets until the connection ends, calling onPublish for
// PUBLISH (acknowledging QoS 1) and onAck for PUBACK.
func (c *Conn) ReadLoop(onPublish func(topic string, payload []byte), onAck func(id uint16)) error {
	for {
		typ, body, err := c.readPacket()
		if err != nil {
			return err
		}
		switch typ >> 4 {
		case 3:
			if len(body) < 2 {
				return errors.New("short publish")
			}
			tl := int(binary.BigEndian.Uint16(body))
			if len(body) < 2+tl {
				return errors.New("short publish topic")
			}
			topic := string(body[2 : 2+tl])
			rest := body[2+tl:]
			if qos := (typ >> 1) & 3; qos > 0 {
				if len(rest) < 2 {
					return errors.New("short publish id")
				}
				id := rest[:2]
				rest = rest[2:]
				ack := byte(0x40)
				if qos == 2 {
					ack = 0x50
				}
				// acknowledgements are flushed once the read buffer is empty
				if err := c.writeMaybeFlush(ack, id, c.r.Buffered() == 0); err != nil {
					return err
				}
			}
			if onPublish != nil {
				onPublish(topic, rest)
			}
		case 4:
			if onAck != nil && len(body) >= 2 {
				onAck(binary.BigEndian.Uint16(body))
			}
		case 14:
			return errors.New("disconnected by broker")
		}
	}
}

func (c *Conn) write(typ byte, body []byte) error {
	return c.writeMaybeFlush(typ, body, true)
}

func (c *Conn) writeMaybeFlush(typ byte, body []byte, flush bool) error {
	c.wm.Lock()
	defer c.wm.Unlock()
	hdr := appendVarint([]byte{typ}, len(body))
	c.w.Write(hdr)
	c.w.Write(body)
	if !flush {
		return nil
	}
	return c.w.Flush()
}

func (c *Conn) readPacket() (byte, []byte, error) {
	typ, err := c.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, mul := 0, 1
	for i := 0; i < 4; i++ {
		b, err := c.r.ReadByte()
		if err != nil {
			return 0, nil, err
		}
		n += int(b&0x7f) * mul
		if b&0x80 == 0 {
			break
		}
		mul *= 128
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(c.r, body); err != nil {
		return 0, nil, err
	}
	return typ, body, nil
}

func appendString(b []byte, s string) []byte {
	b = append(b, byte(len(s)>>8), byte(len(s)))
	return append(b, s...)
}

func appendVarint(b []byte, n int) []byte {
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}
