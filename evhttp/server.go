package evhttp

// The Server: its settings, resolved once into a config, and serving on
// one loop (Serve) or on every loop of a group (ServeGroup). A Server's
// state on one loop is in loopserver.go, shutting down in shutdown.go, and
// a connection in conn.go and the files beside it.

import (
	"crypto/tls"
	"log"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

// Default limits and timeouts of a Server (the value a zero field takes).
const (
	// DefaultMaxRequestLine is the default Server.MaxRequestLine: 8 KiB,
	// nginx's large_client_header_buffers size.
	DefaultMaxRequestLine = h1.DefaultMaxRequestLine
	// DefaultMaxHeaderBytes is the default Server.MaxHeaderBytes: 64 KiB.
	DefaultMaxHeaderBytes = h1.DefaultMaxHeaderBytes
	// DefaultMaxHeaders is the default Server.MaxHeaders: 100 field lines.
	DefaultMaxHeaders = h1.DefaultMaxHeaders
	// DefaultMaxBodyBytes is the default Server.MaxBodyBytes: 8 MiB.
	DefaultMaxBodyBytes = 8 << 20
	// DefaultHeaderTimeout is the default Server.HeaderTimeout.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultBodyTimeout is the default Server.BodyTimeout, nginx's
	// client_body_timeout.
	DefaultBodyTimeout = 60 * time.Second
	// DefaultWriteTimeout is the default Server.WriteTimeout, nginx's
	// send_timeout.
	DefaultWriteTimeout = 60 * time.Second
	// DefaultIdleTimeout is the default Server.IdleTimeout.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultMaxPipelined is the default Server.MaxPipelined.
	DefaultMaxPipelined = 16
)

const (
	// lingerTimeout bounds how long a connection the server closes keeps
	// reading (and dropping) what the client still sends after the last
	// response: closing a socket with unread input makes the kernel send
	// a reset, which can destroy the response before the client reads it
	// (net/http waits as long).
	lingerTimeout = 500 * time.Millisecond
	// discardLimit is how much of a request body the server reads and
	// drops, when the handler ended the response without reading it, to
	// keep the connection; past it, the connection is closed instead.
	discardLimit = 256 << 10
	// holdLimit is how much unusable input (pipelined requests waiting
	// for a slot, a body waiting for the handler) a connection reads ahead
	// before it stops reading.
	holdLimit = 64 << 10
	// bufferLimit is how much body a ResponseWriter buffers before it
	// sends the head: a response that ends within it gets a
	// Content-Length, a longer one without a declared length is chunked.
	bufferLimit = 16 << 10
	// flushAt is the size at which a connection's coalesced output is
	// handed to the connection before the end of the batch.
	flushAt = 32 << 10
	// bigWrite is the size from which a body write goes to the connection
	// directly instead of being copied into the coalescing buffer.
	bigWrite = 16 << 10
	// maxRetain bounds the buffers kept for reuse.
	maxRetain = 256 << 10
	// maxHeaderMem bounds the storage of AddBytes a Header keeps for
	// reuse (an exchange kept for reuse keeps its Header's).
	maxHeaderMem = 4 << 10
	// maxFree bounds the exchanges a loop keeps for reuse.
	maxFree = 4096
)

// Server is an HTTP/1.1 server on eddy loops. Set its fields, then serve
// with Serve (one loop) or ServeGroup (an evnet.Group, one server state per
// loop); the fields must not change after that. The zero value of a field
// is its documented default; a negative limit or timeout means none.
//
// Every connection belongs to the loop that accepted it, and the handler
// runs there; a Server shares nothing between loops but its configuration,
// so its loops never contend.
type Server struct {
	// Handler answers the requests; nil answers 404 to everything.
	Handler Handler

	// MaxRequestLine is the most bytes a request line may take (default
	// DefaultMaxRequestLine); a longer one is answered 414.
	MaxRequestLine int
	// MaxHeaderBytes is the most bytes a request head may take (default
	// DefaultMaxHeaderBytes); a larger one is answered 431. It bounds the
	// trailer section of a chunked body too.
	MaxHeaderBytes int
	// MaxHeaders is the most field lines a request head may have (default
	// DefaultMaxHeaders); more is answered 431.
	MaxHeaders int
	// MaxBodyBytes is the largest request body (default
	// DefaultMaxBodyBytes; negative: no limit). A Content-Length above it
	// is answered 413 before the handler runs; a chunked body that grows
	// past it is cut and answered 413 (if the response has not started),
	// and the connection closed.
	MaxBodyBytes int64

	// HeaderTimeout bounds the time a request head takes to arrive, from
	// its first byte (or, for a new connection, from the accept) to its
	// end, whatever the pace: a client that dribbles a head (slowloris) is
	// answered 408 and closed (default DefaultHeaderTimeout).
	HeaderTimeout time.Duration
	// BodyTimeout closes a connection whose request body stops arriving
	// for that long while the handler reads it, with a 408 if the
	// response has not started (default DefaultBodyTimeout).
	BodyTimeout time.Duration
	// WriteTimeout closes a connection whose pending output the client
	// has not read any of for that long (default DefaultWriteTimeout;
	// see evnet.Conn.SetWriteTimeout). It is a stall timeout, so a large
	// response to a client that keeps reading is never cut.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that has no request in
	// progress for that long (default DefaultIdleTimeout).
	IdleTimeout time.Duration

	// MaxPipelined bounds the requests of one connection that are in
	// flight at once: parsed and handed to the handler, their responses
	// not yet all sent (default DefaultMaxPipelined). Responses always
	// leave in request order; past the bound the server stops reading the
	// connection until a response is done.
	MaxPipelined int
	// DisableKeepAlive makes every response close its connection.
	DisableKeepAlive bool

	// Name, if not empty, is sent as the Server header field of every
	// response that does not set one.
	Name string

	// AccessLog, if not nil, is called once for each request when its
	// exchange is over. A nil AccessLog costs nothing.
	AccessLog AccessLogFunc
	// ConnState, if not nil, is called on the loop's goroutine each time a
	// connection changes state.
	ConnState func(c *evnet.Conn, state ConnState)
	// ErrorLog receives the server's rare messages (a handler panic and
	// its stack); nil means the log package's standard logger.
	ErrorLog func(format string, args ...any)

	// ListenConfig holds the listening options (backlog, SO_REUSEPORT)
	// and the options of the accepted connections: their output queue's
	// watermarks (which Full and OnDrain follow) and its hard cap. Its
	// timeouts are not used: the Server's own apply.
	//
	// Its TLS field, if set, makes the server serve HTTPS (see evnet's
	// TLSConfig): the handlers see plaintext, Request.Conn().TLSState()
	// tells the TLS details, and an adapted http.Handler gets them as
	// http.Request.TLS. When TLS.Config names no ALPN protocol, the server
	// offers "http/1.1" and "http/1.0"; when TLS.Plaintext is nil, a plain
	// HTTP request sent to the TLS port is answered 400 ("plain HTTP
	// request was sent to HTTPS port", as nginx says) and its connection
	// closed. FileServer's files are read and encrypted on the loop there,
	// since sendfile cannot carry TLS.
	ListenConfig evnet.ListenConfig

	once    sync.Once
	cfg     *config
	lc      evnet.ListenConfig // ListenConfig without its timeouts
	netH    evnet.Handler
	mu      sync.Mutex                                 // guards what follows and the writes of states
	states  atomic.Pointer[map[*eddy.Loop]*loopServer] // copy on write
	closing bool
	busy    int           // loops with connections left while closing
	drained chan struct{} // closed when closing and every loop is drained
	onDone  []func()      // StartShutdown's done functions

	lns []*evnet.Listener // guarded by mu: every listener of Serve and ServeGroup, closed or not, for Stats

	noHeadCache bool // a test seam (export_test.go): no head cache
}

// config is the Server's resolved configuration, immutable once made.
type config struct {
	limits        h1.Limits
	headerTimeout time.Duration
	bodyTimeout   time.Duration
	writeTimeout  time.Duration
	idleTimeout   time.Duration
	maxPipelined  int
	noKeepAlive   bool
	serverLine    []byte // "Server: name\r\n", or nil
	handler       Handler
	accessLog     AccessLogFunc
	connState     func(c *evnet.Conn, state ConnState)
	logf          func(format string, args ...any)
	highWater     int
	maxPending    int
	noHeadCache   bool // build every response head (tests)
}

// duration resolves a timeout: zero is def, negative is none (0).
func duration(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// setup resolves the configuration and the evnet callbacks, once.
func (s *Server) setup() {
	s.once.Do(func() {
		c := &config{
			limits: h1.Limits{
				MaxRequestLine: s.MaxRequestLine,
				MaxHeaderBytes: s.MaxHeaderBytes,
				MaxHeaders:     s.MaxHeaders,
				MaxBodyBytes:   s.MaxBodyBytes,
			},
			headerTimeout: duration(s.HeaderTimeout, DefaultHeaderTimeout),
			bodyTimeout:   duration(s.BodyTimeout, DefaultBodyTimeout),
			writeTimeout:  duration(s.WriteTimeout, DefaultWriteTimeout),
			idleTimeout:   duration(s.IdleTimeout, DefaultIdleTimeout),
			maxPipelined:  s.MaxPipelined,
			noKeepAlive:   s.DisableKeepAlive,
			handler:       s.Handler,
			accessLog:     s.AccessLog,
			connState:     s.ConnState,
			logf:          s.ErrorLog,
			highWater:     s.ListenConfig.Conn.HighWater,
			maxPending:    s.ListenConfig.Conn.MaxBuffered,
			noHeadCache:   s.noHeadCache,
		}
		switch {
		case c.limits.MaxBodyBytes == 0:
			c.limits.MaxBodyBytes = DefaultMaxBodyBytes
		case c.limits.MaxBodyBytes < 0:
			c.limits.MaxBodyBytes = 0 // h1: no limit
		}
		if c.maxPipelined <= 0 {
			c.maxPipelined = DefaultMaxPipelined
		}
		if s.Name != "" {
			c.serverLine = h1.AppendHeader(nil, "Server", s.Name)
		}
		if c.handler == nil {
			c.handler = notFound
		}
		if c.logf == nil {
			c.logf = log.Printf
		}
		if c.highWater <= 0 {
			c.highWater = evnet.DefaultHighWater
		}
		if c.maxPending <= 0 {
			c.maxPending = evnet.DefaultMaxBuffered
		}
		s.cfg = c
		s.lc = s.ListenConfig
		s.lc.Conn.IdleTimeout, s.lc.Conn.WriteTimeout = 0, 0
		s.netH = evnet.Handler{
			OnOpen:  s.onOpen,
			OnData:  onData,
			OnDrain: onDrain,
			OnEOF:   onEOF,
			OnClose: onClose,
			OnTimer: onTimer,
		}
		if t := s.lc.TLS; t != nil {
			s.lc.TLS = s.tlsConfig(t)
		}
	})
}

// tlsConfig completes the TLS settings of ListenConfig for HTTP: ALPN
// offers http/1.1 and http/1.0 when the Config names no protocol (curl
// --http1.0 offers only the latter), and a plain request sent to the
// TLS port is answered 400 unless Plaintext is set. t is not changed.
func (s *Server) tlsConfig(t *evnet.TLSConfig) *evnet.TLSConfig {
	c := *t
	if c.Config == nil || len(c.Config.NextProtos) == 0 {
		cfg := &tls.Config{}
		if c.Config != nil {
			cfg = c.Config.Clone()
		}
		cfg.NextProtos = []string{"http/1.1", "http/1.0"}
		c.Config = cfg
	}
	if c.Plaintext == nil {
		h := s.netH
		h.OnOpen = s.onOpenPlain
		c.Plaintext = &h
	}
	return &c
}

// ConnHandler returns the evnet callbacks that serve HTTP on a connection,
// for a listener or connection the program makes itself (evnet.Adopt,
// a ListenConfig of its own): every connection opened with them is served
// by s on its loop, and counts for Shutdown. Serve and ServeGroup use them.
func (s *Server) ConnHandler() evnet.Handler {
	s.setup()
	return s.netH
}

// Serve listens on address (see evnet.ListenConfig.Listen for the networks
// and addresses) with s.ListenConfig and serves HTTP on the loop l. It
// must be called on l's goroutine (or before l runs), and returns the
// listener (whose Addr is the address in use); Shutdown closes it. Serve
// may be called several times, for several addresses or loops.
func (s *Server) Serve(l *eddy.Loop, network, address string) (*evnet.Listener, error) {
	s.setup()
	ls := s.state(l)
	if ls == nil || ls.draining {
		return nil, ErrServerClosed
	}
	ln, err := s.lc.Listen(l, network, address, s.netH)
	if err != nil {
		return nil, err
	}
	ls.listeners = append(ls.listeners, ln)
	s.keepListener(ln)
	return ln, nil
}

// ServeGroup serves HTTP on every loop of g. A TCP address gets one
// listener per loop (with SO_REUSEPORT when there are several, and the
// port the first one got when address has port 0), so that the kernel
// spreads the connections; a Unix address gets the group's single
// acceptor, which deals the connections to the loops in turn. It returns
// the first loop's listener. ServeGroup may be called from any goroutine
// but the group's loops'; it waits for them.
//
// Shut the server down (Shutdown) before the group (evnet.Group.Shutdown):
// the server drains its requests, then the group stops its loops.
func (s *Server) ServeGroup(g *evnet.Group, network, address string) (*evnet.Listener, error) {
	s.setup()
	for i := range g.Len() {
		if s.state(g.Loop(i)) == nil {
			return nil, ErrServerClosed
		}
	}
	if network == "unix" {
		ln, err := g.Listen(network, address, s.lc, s.netH)
		if err != nil {
			return nil, err
		}
		var closed bool
		onLoop(g.Loop(0), func() {
			ls := s.state(g.Loop(0))
			if closed = ls.draining; !closed {
				ls.listeners = append(ls.listeners, ln)
			} else {
				ln.Close()
			}
		})
		if closed {
			return nil, ErrServerClosed
		}
		s.keepListener(ln)
		return ln, nil
	}
	lc := s.lc
	lc.ReusePort = lc.ReusePort || g.Len() > 1
	var first *evnet.Listener
	for i := range g.Len() {
		l := g.Loop(i)
		addr := address
		if i > 0 {
			addr = first.Addr().String()
		}
		var ln *evnet.Listener
		var err error
		onLoop(l, func() {
			ls := s.state(l)
			if ls.draining {
				err = ErrServerClosed
				return
			}
			if ln, err = lc.Listen(l, network, addr, s.netH); err == nil {
				ls.listeners = append(ls.listeners, ln)
				s.keepListener(ln)
			}
		})
		if err != nil {
			if first != nil {
				s.closeListeners(g)
			}
			return nil, err
		}
		if i == 0 {
			first = ln
		}
	}
	return first, nil
}

// closeListeners closes the listeners of s on every loop of g, after a
// ServeGroup that failed half way.
func (s *Server) closeListeners(g *evnet.Group) {
	for i := range g.Len() {
		l := g.Loop(i)
		onLoop(l, func() {
			ls := s.state(l)
			for _, ln := range ls.listeners {
				ln.Close()
			}
			ls.listeners = nil
		})
	}
}

// onLoop runs f on l's goroutine and waits for it.
func onLoop(l *eddy.Loop, f func()) {
	done := make(chan struct{})
	l.Post(func() { f(); close(done) })
	<-done
}

// state returns the server's state on loop l, made on first use; nil if
// the server is closing and has none there.
func (s *Server) state(l *eddy.Loop) *loopServer {
	if m := s.states.Load(); m != nil {
		if ls := (*m)[l]; ls != nil {
			return ls
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.states.Load()
	if old != nil {
		if ls := (*old)[l]; ls != nil {
			return ls
		}
	}
	if s.closing {
		return nil
	}
	m := make(map[*eddy.Loop]*loopServer, 1)
	if old != nil {
		for k, v := range *old {
			m[k] = v
		}
	}
	ls := newLoopServer(s, l)
	m[l] = ls
	s.states.Store(&m)
	return ls
}

// Served returns the number of requests served so far, on all loops:
// those whose exchange is over, as AccessLog reports them (the error
// responses the server makes itself, such as 400 for a malformed head,
// are not counted). It may be called from any goroutine.
func (s *Server) Served() uint64 {
	var n uint64
	if p := s.states.Load(); p != nil {
		for _, ls := range *p {
			n += ls.served.Load()
		}
	}
	return n
}
