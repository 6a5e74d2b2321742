package mqtt

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
)

// connectTimeout bounds how long a new connection may take to send CONNECT
// (mochi sets keepalive-based deadlines only after CONNECT).
const connectTimeout = 15 * time.Second

// connSet tracks live connections so Close can always end them, including
// ones that never sent CONNECT or whose peer stopped reading: mochi's Close
// waits for every client goroutine.
type connSet struct {
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func (s *connSet) add(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.conns == nil {
		s.conns = map[net.Conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *connSet) remove(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// closeAfter closes every tracked connection after grace (letting mochi
// send its DISCONNECTs first) and refuses new ones.
func (s *connSet) closeAfter(grace time.Duration) {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	time.AfterFunc(grace, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for c := range s.conns {
			_ = c.Close()
		}
	})
}

// tcpListener is MQTT over TCP or TLS with connection tracking and a
// deadline for the CONNECT packet.
type tcpListener struct {
	id, addr string
	tlsConf  *tls.Config
	ln       net.Listener
	log      *slog.Logger
	conns    connSet
	once     sync.Once
}

var _ listeners.Listener = (*tcpListener)(nil)

func newTCPListener(id, addr string, tc *tls.Config) *tcpListener {
	return &tcpListener{id: id, addr: addr, tlsConf: tc}
}

func (l *tcpListener) ID() string { return l.id }
func (l *tcpListener) Protocol() string {
	if l.tlsConf != nil {
		return "tls"
	}
	return "tcp"
}

func (l *tcpListener) Address() string {
	if l.ln != nil {
		return l.ln.Addr().String()
	}
	return l.addr
}

func (l *tcpListener) Init(log *slog.Logger) error {
	l.log = log
	ln, err := net.Listen("tcp", l.addr)
	if err != nil {
		return err
	}
	if l.tlsConf != nil {
		ln = tls.NewListener(ln, l.tlsConf)
	}
	l.ln = ln
	return nil
}

func (l *tcpListener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.conns.add(c) {
			_ = c.Close()
			return
		}
		go func() {
			defer l.conns.remove(c)
			_ = c.SetDeadline(time.Now().Add(connectTimeout))
			if err := establish(l.id, c); err != nil {
				l.log.Debug("mqtt: client ended", "error", err)
			}
			_ = c.Close()
		}()
	}
}

func (l *tcpListener) Close(closeClients listeners.CloseFn) {
	l.once.Do(func() {
		_ = l.ln.Close()
		l.conns.closeAfter(2 * time.Second)
		closeClients(l.id)
	})
}
