package mqtt

import (
	"context"
	"errors"
	"time"
)

// Reading is one decoded telemetry value.
type Reading struct {
	Device string    `json:"device"`
	Metric string    `json:"metric"`
	Value  float64   `json:"value"`
	TS     time.Time `json:"ts"`
}

// Sink receives batches of readings. app/iot implements it by turning one
// batch into one replicated telemetry.batch store command. WriteBatch may be
// called from several goroutines at once (Options.SinkWorkers); the slice is
// owned by the sink for the duration of the call only.
type Sink interface {
	WriteBatch(ctx context.Context, batch []Reading) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, batch []Reading) error

// WriteBatch calls f.
func (f SinkFunc) WriteBatch(ctx context.Context, batch []Reading) error { return f(ctx, batch) }

// Decoder turns one telemetry payload of a device into readings. The
// built-in JSONDecoder handles JSON; the plugin host provides decoders for
// binary frames. A decoder must be safe for concurrent use. It may return
// readings together with an error when part of the payload was unusable:
// the readings are kept and the payload is counted as malformed.
type Decoder interface {
	Decode(device string, payload []byte, received time.Time) ([]Reading, error)
}

// Principal is who is behind a connection, as established by a
// DeviceAuthenticator.
type Principal struct {
	// Device is the authenticated device id (empty for console sessions).
	Device string
	// Type is the device type; it selects the payload decoder.
	Type string
	// Children maps the ids of the devices this device (a gateway) may
	// publish for to their device types.
	Children map[string]string

	// User is set for console sessions (WebSocket, session token).
	User string
	// AllDevices lets a console session subscribe to every device's topics.
	AllDevices bool
	// Devices lists the devices a console session may read when AllDevices
	// is false.
	Devices []string
}

// ErrDenied is returned by a DeviceAuthenticator when credentials are wrong
// or the device is not allowed to connect (retired, unknown).
var ErrDenied = errors.New("mqtt: not authorized")

// DeviceAuthenticator checks credentials. app/iot implements it.
type DeviceAuthenticator interface {
	// AuthenticateDevice checks username (device id) and password (secret).
	// It returns ErrDenied (or any error) to refuse the connection. A
	// principal with Device empty and User set is a read-only service
	// account (an exporter to the city platform, say) with the same
	// subscribe rules as a console session.
	AuthenticateDevice(ctx context.Context, device, secret string) (Principal, error)
	// AuthenticateSession checks a console session token presented over the
	// WebSocket listener (username SessionUsername, password = token).
	// The result is a read-only principal scoped to some devices.
	AuthenticateSession(ctx context.Context, token string) (Principal, error)
}

// SessionUsername is the MQTT username a console uses over WebSocket; its
// password is the session token.
const SessionUsername = "$session"

// ConnEvent reports a device connecting or disconnecting.
type ConnEvent struct {
	Device    string    `json:"device"`
	User      string    `json:"user,omitempty"`
	ClientID  string    `json:"client_id"`
	Remote    string    `json:"remote"`
	Listener  string    `json:"listener"`
	Protocol  byte      `json:"protocol"`
	Connected bool      `json:"connected"`
	Reason    string    `json:"reason,omitempty"` // disconnect reason, empty for a clean DISCONNECT
	At        time.Time `json:"at"`
}

// Message is an event or attributes message published by a device.
type Message struct {
	Device   string    `json:"device"`
	Kind     string    `json:"kind"` // "event" or "attributes"
	Topic    string    `json:"topic"`
	Payload  []byte    `json:"payload"`
	Received time.Time `json:"received"`
}

// CommandState is the delivery state of a downlink command.
type CommandState string

// Command states, in order.
const (
	CommandSent      CommandState = "sent"      // published to the device's session
	CommandDelivered CommandState = "delivered" // the device acknowledged (PUBACK)
	CommandReplied   CommandState = "replied"   // the device published a reply
	CommandTimeout   CommandState = "timeout"   // no reply within Options.CommandTimeout
)

// CommandStatus reports progress of a command sent with Broker.Send.
type CommandStatus struct {
	Device string       `json:"device"`
	ID     string       `json:"id"`
	State  CommandState `json:"state"`
	Reply  []byte       `json:"reply,omitempty"`
	At     time.Time    `json:"at"`
}

// DeviceCounters are per-device problem counters shown on the device page.
type DeviceCounters struct {
	Malformed   int64     `json:"malformed"`
	Oversize    int64     `json:"oversize"`
	Denied      int64     `json:"denied"`  // publishes/subscribes refused by ACL
	Dropped     int64     `json:"dropped"` // readings dropped (queue full, sink failure)
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitempty"`
}

// Stats is a snapshot for /metrics.
type Stats struct {
	Connections     int64   `json:"connections"`
	MessagesIn      int64   `json:"messages_in"`
	MessagesOut     int64   `json:"messages_out"`
	MessagesInRate  float64 `json:"messages_in_per_s"`
	MessagesOutRate float64 `json:"messages_out_per_s"`
	Readings        int64   `json:"readings"`         // readings accepted into the queue
	ReadingsWritten int64   `json:"readings_written"` // readings the sink accepted
	Batches         int64   `json:"batches"`
	BatchErrors     int64   `json:"batch_errors"` // failed WriteBatch attempts (retried)
	Dropped         int64   `json:"dropped"`      // readings given up on (queue full or sink failed after retries)
	Malformed       int64   `json:"malformed"`
	Oversize        int64   `json:"oversize"`
	Denied          int64   `json:"denied"`
	AuthFailures    int64   `json:"auth_failures"`
	QueueLen        int     `json:"queue_len"`
	QueueCap        int     `json:"queue_cap"`
	EventsDropped   int64   `json:"events_dropped"`
}
