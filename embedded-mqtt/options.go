package mqtt

import (
	"crypto/tls"
	"log/slog"
	"time"
)

// Options configure a Broker. Zero values take the defaults noted.
type Options struct {
	// TCPAddr is the plain MQTT listener ("" = ":1883", "-" = disabled).
	TCPAddr string
	// TLSAddr is the MQTT over TLS listener ("" = ":8883", "-" = disabled).
	TLSAddr string
	// TLSConfig, when set, is used as is for the TLS listener (certificate
	// supplied by the admin). Otherwise CertFile/KeyFile are loaded, or a
	// self-signed ECDSA certificate is generated into CertDir on first start.
	TLSConfig         *tls.Config
	CertFile, KeyFile string
	CertDir           string
	// CertHosts are extra DNS names / IPs for a generated certificate.
	CertHosts []string
	// WSAddr is a standalone MQTT over WebSocket listener ("" or "-" =
	// none). The WebSocket handler is also available via Broker.WebSocketHandler
	// to mount on the app's own HTTP server.
	WSAddr string

	// Auth checks credentials. Required.
	Auth DeviceAuthenticator
	// Sink receives telemetry batches. Required.
	Sink Sink
	// DecoderFor returns the decoder of a device type (nil = JSONDecoder).
	DecoderFor func(deviceType string) Decoder

	// OnConnection, OnMessage, OnCommand are called from one dispatcher
	// goroutine, in order; a slow callback delays later events, never the
	// broker (events past EventQueue are counted as dropped).
	OnConnection func(ConnEvent)
	OnMessage    func(Message)
	OnCommand    func(CommandStatus)
	// OnBatchError reports a batch given up after SinkRetries (default: logged).
	OnBatchError func(batch []Reading, err error)

	// MaxPayload is the largest accepted publish payload (default 256 KiB).
	MaxPayload int
	// MaxClients caps concurrent connections (default 100,000).
	MaxClients int64
	// MaxInflight is the per-client queue of QoS>0 messages (default 1024);
	// ReceiveMaximum the per-client unacknowledged inbound QoS>0 (default 256).
	MaxInflight    uint16
	ReceiveMaximum uint16
	// MaxPendingWrites is the per-client outbound queue in packets (default
	// 512); messages to a client whose queue is full are dropped (counted
	// in mochi's MessagesDropped). mochi allocates the queue per client, 8
	// bytes a slot (1024 slots = 80 MiB for 10,000 devices). A device only
	// receives its commands; fan-in subscribers (console sessions, service
	// accounts) are protected by flow control (flow.go), which paces the
	// publishers by their queue rather than relying on its size.
	MaxPendingWrites int32
	// WriteBuffer is the per-client write coalescing buffer in bytes
	// (default 16 KiB): packets queued for a client are flushed together,
	// which is what lets one subscriber keep up with many publishers.
	WriteBuffer int
	// SessionExpiry bounds how long a disconnected persistent session is kept
	// (default 24 h).
	SessionExpiry time.Duration
	// MessageExpiry caps message lifetime; 0 (default) means messages,
	// including retained ones, never expire unless the publisher sets a v5
	// message expiry. See doc.go.
	MessageExpiry time.Duration

	// BatchSize flushes a batch at this many readings (default 1000).
	BatchSize int
	// BatchDelay flushes a non-empty batch after this long (default 5 ms).
	BatchDelay time.Duration
	// QueueSize bounds queued telemetry messages (default 16384).
	QueueSize int
	// EnqueueTimeout is how long a publishing client waits when the queue is
	// full before its message is refused (default 2 s).
	EnqueueTimeout time.Duration
	// SinkWorkers is the number of concurrent WriteBatch calls (default 2).
	SinkWorkers int
	// SinkTimeout bounds one WriteBatch call (default 10 s); SinkRetries the
	// attempts before a batch is given up (default 5).
	SinkTimeout time.Duration
	SinkRetries int
	// CommandTimeout is how long Send waits for a reply (default 30 s).
	CommandTimeout time.Duration
	// EventQueue bounds the callback queue (default 4096).
	EventQueue int

	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.TCPAddr == "" {
		o.TCPAddr = ":1883"
	}
	if o.TLSAddr == "" {
		o.TLSAddr = ":8883"
	}
	orDefault(&o.MaxPayload, 256<<10)
	orDefault(&o.MaxClients, 100000)
	orDefault(&o.MaxInflight, 1024)
	orDefault(&o.ReceiveMaximum, 256)
	orDefault(&o.MaxPendingWrites, 512)
	orDefault(&o.WriteBuffer, 16<<10)
	orDefault(&o.SessionExpiry, 24*time.Hour)
	orDefault(&o.BatchSize, 1000)
	orDefault(&o.BatchDelay, 5*time.Millisecond)
	orDefault(&o.QueueSize, 16384)
	orDefault(&o.EnqueueTimeout, 2*time.Second)
	orDefault(&o.SinkWorkers, 2)
	orDefault(&o.SinkTimeout, 10*time.Second)
	orDefault(&o.SinkRetries, 5)
	orDefault(&o.CommandTimeout, 30*time.Second)
	orDefault(&o.EventQueue, 4096)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// orDefault sets *p to v when *p is zero or negative.
func orDefault[T int | int32 | int64 | uint16 | time.Duration](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}
