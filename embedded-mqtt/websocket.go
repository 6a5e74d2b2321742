package mqtt

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// wsListener is MQTT over WebSocket (subprotocol "mqtt"). Unlike mochi's
// own listener it exposes its http.Handler, so the app can serve the console
// and /mqtt on one port, and it can also listen on an address of its own.
type wsListener struct {
	id      string
	addr    string
	ln      net.Listener
	srv     *http.Server
	log     *slog.Logger
	up      websocket.Upgrader
	mu      sync.RWMutex
	est     listeners.EstablishFn
	closed  bool
	started chan struct{}
	conns   connSet
}

var _ listeners.Listener = (*wsListener)(nil)

func newWSListener(id, addr string) *wsListener {
	return &wsListener{
		id:   id,
		addr: addr,
		up: websocket.Upgrader{
			Subprotocols:    []string{"mqtt", "mqttv3.1"},
			CheckOrigin:     func(*http.Request) bool { return true }, // auth is the session token
			ReadBufferSize:  4096,
			WriteBufferSize: 4096,
		},
		started: make(chan struct{}),
	}
}

func (l *wsListener) ID() string       { return l.id }
func (l *wsListener) Protocol() string { return "ws" }
func (l *wsListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

func (l *wsListener) Init(log *slog.Logger) error {
	l.log = log
	if l.addr == "" {
		return nil // handler only
	}
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	l.ln = ln
	l.srv = &http.Server{Handler: l, ReadHeaderTimeout: 10 * time.Second}
	return nil
}

func (l *wsListener) Serve(establish listeners.EstablishFn) {
	l.mu.Lock()
	l.est = establish
	l.mu.Unlock()
	if l.srv != nil {
		err := l.srv.Serve(l.ln)
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			l.log.Error("mqtt: websocket listener", "error", err)
		}
	}
}

func (l *wsListener) Close(closeClients listeners.CloseFn) {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if !already {
		if l.srv != nil {
			_ = l.srv.Close() // hijacked WebSocket conns are closed by l.conns
		}
		l.conns.closeAfter(2 * time.Second)
	}
	closeClients(l.id)
}

// ServeHTTP upgrades the request and runs an MQTT session over it.
func (l *wsListener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	l.mu.RLock()
	est, closed := l.est, l.closed
	l.mu.RUnlock()
	if est == nil || closed {
		http.Error(w, "mqtt broker not running", http.StatusServiceUnavailable)
		return
	}
	c, err := l.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	raw := c.UnderlyingConn()
	if !l.conns.add(raw) {
		return
	}
	defer l.conns.remove(raw)
	_ = raw.SetDeadline(time.Now().Add(connectTimeout))
	if err := est(l.id, &wsConn{Conn: raw, c: c}); err != nil {
		l.log.Debug("mqtt: websocket client", "error", err)
	}
}

// wsConn carries the MQTT byte stream in binary WebSocket messages.
// Deadlines go to the underlying socket (gorilla's own deadline setters
// are not safe against a concurrent write).
type wsConn struct {
	net.Conn
	c  *websocket.Conn
	r  io.Reader
	wm sync.Mutex
}

func (ws *wsConn) Read(p []byte) (int, error) {
	for {
		if ws.r == nil {
			op, r, err := ws.c.NextReader()
			if err != nil {
				return 0, err
			}
			if op != websocket.BinaryMessage {
				return 0, errors.New("mqtt: websocket message is not binary")
			}
			ws.r = r
		}
		n, err := ws.r.Read(p)
		if errors.Is(err, io.EOF) {
			ws.r = nil
			if n == 0 {
				continue
			}
			return n, nil
		}
		return n, err
	}
}

func (ws *wsConn) Write(p []byte) (int, error) {
	ws.wm.Lock()
	defer ws.wm.Unlock()
	if err := ws.c.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
