package evclient

// The HTTP/1.1 client.
//
// A Client belongs to one eddy Loop and does everything there: it dials,
// writes requests, parses responses with package h1 and calls the program
// back, with no goroutine and no lock. Each request is a Call that
// lives from Do (or Stream) until its last callback:
//
//	state        where the call is                           what ends it
//	----------   ------------------------------------------  --------------------------------
//	queued       waiting for a connection to its host        an idle connection, a new one, a pipeline slot
//	dialling     bound to a connection being dialled         the connect (or its failure: the call fails)
//	sending      the head (and body) going onto the wire     the whole request handed to the connection
//	waiting      the request sent, no head yet               the final head (1xx skipped)
//	receiving    body bytes delivered or gathered            the end of the body
//	done         OnDone (or Do's callback) has run           -
//
// A redirect goes back to queued with the next URL; a retry (a reused
// connection that failed before any byte of the response) goes back to
// queued once. The connections of a host form its pool:
//
//	dialling -> open (busy: requests in flight) <-> idle (in the pool) -> closed
//
// An idle connection has an idle timeout (evnet's, on its timing wheel)
// and is dropped as soon as its close is seen (EOF, reset, timeout);
// a busy one is never in the idle list, so a connection is handed to one
// request at a time, or to several in order with pipelining.

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

// Defaults of the Config fields.
const (
	// DefaultMaxConnsPerHost is the default Config.MaxConnsPerHost.
	DefaultMaxConnsPerHost = 16
	// DefaultMaxIdleConns is the default Config.MaxIdleConns.
	DefaultMaxIdleConns = 128
	// DefaultIdleTimeout is the default Config.IdleTimeout, as
	// net/http's DefaultTransport.
	DefaultIdleTimeout = 90 * time.Second
	// DefaultConnectTimeout is the default Config.ConnectTimeout.
	DefaultConnectTimeout = 30 * time.Second
	// DefaultExpectContinueTimeout is the default
	// Config.ExpectContinueTimeout, as net/http's DefaultTransport.
	DefaultExpectContinueTimeout = time.Second
	// DefaultMaxRedirects is the default Config.MaxRedirects,
	// as net/http's.
	DefaultMaxRedirects = 10
	// DefaultMaxBodyBytes is the default Config.MaxBodyBytes.
	DefaultMaxBodyBytes = 64 << 20
	// DefaultMaxPipeline is the default Config.MaxPipeline.
	DefaultMaxPipeline = 8
	// DefaultUserAgent is the User-Agent sent when neither the
	// Config nor the request sets one.
	DefaultUserAgent = "eddy-evhttp/1.1"
)

// The errors of the client. The error given to a callback is a
// *Error that names the request and wraps one of these (and the
// cause beneath, such as an evnet or h1 error or an errno), so test them
// with errors.Is.
var (
	// ErrClosed means the Client was closed: the request was
	// stopped, or made after Close.
	ErrClosed = errors.New("evclient: client closed")
	// ErrURL means the URL is not an absolute http URL the client
	// can use.
	ErrURL = errors.New("evclient: invalid URL")
	// ErrHTTPS means the URL (or a redirect) is https, which the
	// client does not speak.
	ErrHTTPS = errors.New("evclient: https is not supported")
	// ErrScheme means the URL has a scheme other than http.
	ErrScheme = errors.New("evclient: unsupported URL scheme")
	// ErrRequest means the request itself is invalid: a method that
	// is not a token, a header field name that is not a token, a value
	// with control characters.
	ErrRequest = errors.New("evclient: invalid request")
	// ErrConnect means the connection could not be made; the
	// cause (refused, unreachable, a DNS error) is wrapped too.
	ErrConnect = errors.New("evclient: could not connect")
	// ErrConnectTimeout means the connection was not made within
	// Config.ConnectTimeout.
	ErrConnectTimeout = errors.New("evclient: connect timed out")
	// ErrHeaderTimeout means the response head did not arrive
	// within Config.HeaderTimeout of the request being sent.
	ErrHeaderTimeout = errors.New("evclient: timed out waiting for the response head")
	// ErrTimeout means the whole request (redirects included) took
	// longer than Config.Timeout.
	ErrTimeout = errors.New("evclient: request timed out")
	// ErrConnClosed means the connection closed (or failed) before
	// the response was complete; the evnet reason is wrapped too.
	ErrConnClosed = errors.New("evclient: connection closed before the response was complete")
	// ErrMalformed means the response could not be parsed; the h1
	// error is wrapped too. The connection is closed.
	ErrMalformed = errors.New("evclient: malformed response")
	// ErrBodyTooLarge means a body gathered by Do grew past
	// Config.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("evclient: response body larger than MaxBodyBytes")
	// ErrTooManyRedirects means the redirects went on past
	// Config.MaxRedirects.
	ErrTooManyRedirects = errors.New("evclient: too many redirects")
	// ErrRedirect means a redirect's Location could not be used.
	ErrRedirect = errors.New("evclient: bad redirect")
	// ErrBodyClosed is returned by Call.Write after CloseBody.
	ErrBodyClosed = errors.New("evclient: write after the request body was closed")
	// ErrNotStreaming is returned by Call.Write and CloseBody
	// for a request whose Request.StreamBody is false.
	ErrNotStreaming = errors.New("evclient: request body is not streamed")
	// ErrDone is returned by Call.Write and CloseBody once the
	// call has ended (or was canceled).
	ErrDone = errors.New("evclient: request already ended")
)

// Error is the error a request reports: the method and URL of the
// request (of the hop that failed, after redirects) and the reason, which
// wraps one of the Err variables and often a cause beneath it.
type Error struct {
	// Method and URL are the request's, at the hop that failed.
	Method, URL string
	// Err is the reason.
	Err error
}

// Error returns "evclient: METHOD URL: REASON".
func (e *Error) Error() string {
	return "evclient: " + e.Method + " " + e.URL + ": " + strings.TrimPrefix(e.Err.Error(), "evclient: ")
}

// Unwrap returns the reason, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }

// DialFunc connects to hostport ("name:port") for a Client, which
// uses it for URLs whose host is a name. It has the contract of evdns.Dial,
// which is what it is meant to wrap (Happy Eyeballs over the loop's
// resolver): done runs once on the loop, with the connection before the
// connection's OnOpen, or with an error and a nil connection; h serves the
// connection; cancel stops the dial, after which done never runs. done may
// run before the function returns. timeout bounds the dial (the Client
// also enforces Config.ConnectTimeout on its own).
//
// The usual value, for a *evdns.Resolver r:
//
//	func(hostport string, timeout time.Duration, h evnet.Handler, done func(*evnet.Conn, error)) func() bool {
//		return evdns.Dial(r, "tcp", hostport, timeout, h, done).Cancel
//	}
type DialFunc func(hostport string, timeout time.Duration, h evnet.Handler, done func(*evnet.Conn, error)) (cancel func() bool)

// Config holds the settings of a Client. The zero value (or a nil
// *Config) is the default of every field; it is copied by New.
type Config struct {
	// MaxConnsPerHost bounds the connections to one host (scheme, host
	// and port), dialling, busy and idle together (default
	// DefaultMaxConnsPerHost). Requests beyond it wait, in order,
	// for a connection of the host to come free.
	MaxConnsPerHost int
	// MaxIdleConns bounds the idle connections kept over all hosts
	// (default DefaultMaxIdleConns); the least recently used one is
	// closed to make room. MaxIdleConnsPerHost bounds those of one host
	// (default MaxConnsPerHost). A negative value keeps none.
	MaxIdleConns, MaxIdleConnsPerHost int
	// IdleTimeout closes a connection that stayed idle that long (default
	// DefaultIdleTimeout; negative: never).
	IdleTimeout time.Duration
	// DisableKeepAlives sends "Connection: close" and uses each connection
	// for one request.
	DisableKeepAlives bool
	// Pipelining lets a request that finds no idle connection be written
	// on an open connection of its host behind the requests in flight
	// there, before a new connection is dialled; responses are matched to
	// requests in order. Only requests that may be retried are pipelined:
	// idempotent methods, a body given as bytes (or none), no Expect, no
	// "Connection: close". Off by default, as in every browser.
	Pipelining bool
	// MaxPipeline bounds the requests in flight on one connection with
	// Pipelining (default DefaultMaxPipeline).
	MaxPipeline int
	// ConnectTimeout bounds a connect, name resolution included (default
	// DefaultConnectTimeout; negative: none).
	ConnectTimeout time.Duration
	// HeaderTimeout bounds the wait for the response head once the whole
	// request is written (zero: none), as net/http's
	// ResponseHeaderTimeout.
	HeaderTimeout time.Duration
	// Timeout bounds a whole request, from Do to the end of the body,
	// redirects and retries included (zero: none).
	Timeout time.Duration
	// ExpectContinueTimeout is how long a request with
	// Request.ExpectContinue waits for "100 Continue" before it
	// sends its body anyway (default DefaultExpectContinueTimeout).
	ExpectContinueTimeout time.Duration
	// MaxRedirects is the number of redirects followed before a request
	// fails with ErrTooManyRedirects (default
	// DefaultMaxRedirects); negative means redirects are not
	// followed but delivered as the response.
	MaxRedirects int
	// MaxBodyBytes bounds a body gathered by Do (default
	// DefaultMaxBodyBytes); Stream has no limit.
	MaxBodyBytes int64
	// MaxHeaderBytes bounds a response head (default package h1's 64 KiB).
	MaxHeaderBytes int
	// UserAgent is the User-Agent of requests that set none (default
	// DefaultUserAgent; "-" sends none).
	UserAgent string
	// Dial connects to hosts given by name (see DialFunc). Literal
	// addresses are dialled directly with evnet. Without it, host names
	// are resolved with Resolver and connected to with evdns.Dial (Happy
	// Eyeballs).
	Dial DialFunc
	// Resolver resolves host names when Dial is nil. Without it, the
	// Client makes its own evdns.Resolver on its loop when it first needs
	// one, configured from the system's resolv.conf and hosts file (read
	// then, once), and closes it in Close.
	Resolver evdns.HostResolver
	// Conn holds the evnet options of the connections (watermarks, limits).
	// Its IdleTimeout is ignored (see IdleTimeout above).
	Conn evnet.ConnConfig
}

func (cfg Config) withDefaults() Config {
	if cfg.MaxConnsPerHost <= 0 {
		cfg.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if cfg.MaxIdleConns == 0 {
		cfg.MaxIdleConns = DefaultMaxIdleConns
	}
	if cfg.MaxIdleConnsPerHost == 0 {
		cfg.MaxIdleConnsPerHost = cfg.MaxConnsPerHost
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.MaxPipeline <= 0 {
		cfg.MaxPipeline = DefaultMaxPipeline
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.ExpectContinueTimeout <= 0 {
		cfg.ExpectContinueTimeout = DefaultExpectContinueTimeout
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch cfg.UserAgent {
	case "":
		cfg.UserAgent = DefaultUserAgent
	case "-":
		cfg.UserAgent = ""
	}
	cfg.Conn.IdleTimeout = 0
	return cfg
}

// Stats are a Client's counters.
type Stats struct {
	// Requests counts the requests written: every hop of a redirect and
	// every retry counts.
	Requests uint64
	// Dials counts the connections dialled, and DialErrors those that
	// failed or timed out.
	Dials, DialErrors uint64
	// Reused counts the requests written on a connection that had carried
	// a request before, Pipelined those written behind another request
	// still in flight.
	Reused, Pipelined uint64
	// Retries counts the requests sent again on a new connection after a
	// reused connection failed before answering; Redirects the redirects
	// followed.
	Retries, Redirects uint64
	// Open is the number of connections now (dialling, busy and idle),
	// Idle those in the pool, Queued the requests waiting for a
	// connection.
	Open, Idle, Queued int
}

// Client is an HTTP/1.1 client on one eddy Loop: a pool of keep-alive
// connections per host, with limits, idle timeouts, optional pipelining,
// retries, redirects and timeouts, all on the loop. Its methods must be
// called on the loop's goroutine (from a callback, from a function given to
// Loop.Post, or before the loop runs), and its callbacks run there and must
// not block.
//
// Connections in the pool keep Loop.Run from returning, as any open
// connection does: CloseIdle or Close lets it return.
type Client struct {
	loop   *eddy.Loop
	cfg    Config
	own    *evdns.Resolver // the Resolver the Client made, if any
	hosts  map[string]*host
	closed bool
	stats  Stats
	limits h1.Limits // the response parsers'
	// The idle connections of every host, least recently used first:
	// where MaxIdleConns takes from.
	idleHead, idleTail *conn
	idle               int
}

// New returns a Client on the loop l with the configuration cfg (nil
// for the defaults). It must be called on l's goroutine or before l runs.
func New(l *eddy.Loop, cfg *Config) *Client {
	c := &Client{loop: l, hosts: make(map[string]*host)}
	if cfg != nil {
		c.cfg = *cfg
	}
	c.cfg = c.cfg.withDefaults()
	c.limits.MaxHeaderBytes = c.cfg.MaxHeaderBytes
	return c
}

// dial connects to hostport, a host name and port, with cfg.Dial or else
// with evdns.Dial through cfg.Resolver or the Client's own resolver.
func (c *Client) dial(hostport string, timeout time.Duration, h evnet.Handler, done func(*evnet.Conn, error)) (cancel func() bool) {
	if c.cfg.Dial != nil {
		return c.cfg.Dial(hostport, timeout, h, done)
	}
	r := c.cfg.Resolver
	if r == nil {
		if c.own == nil {
			conf, err := evdns.SystemConfig()
			if err != nil {
				conf = evdns.DefaultConfig()
			}
			hosts, err := evdns.ReadHosts(evdns.DefaultHostsFile)
			if err != nil {
				hosts = nil
			}
			c.own = evdns.NewResolver(c.loop, conf, hosts, nil)
		}
		r = c.own
	}
	return evdns.Dial(r, "tcp", hostport, timeout, h, done).Cancel
}

// Loop returns the Client's loop.
func (c *Client) Loop() *eddy.Loop { return c.loop }

// Get is Do for a GET request of url.
func (c *Client) Get(url string, done func(resp *Response, err error)) *Call {
	return c.Do(&Request{URL: url}, done)
}

// Do sends req and calls done once, on the loop, with the final response
// (redirects followed, 1xx responses skipped) and its whole body in
// Response.Body, at most Config.MaxBodyBytes of it, or with a
// nil response and a *Error. The Request is copied: the
// program may reuse it once Do returns, but not the bytes of its Body,
// which are sent from where they are (and sent again on a retry or a
// 307/308 redirect).
//
// An error found at once (a bad URL, a closed Client) calls done before
// Do returns, which then returns nil; otherwise Do returns the call,
// which may be canceled or, for a streamed body, written to.
func (c *Client) Do(req *Request, done func(resp *Response, err error)) *Call {
	call := &Call{client: c, gather: true, done: done}
	return c.start(call, req)
}

// Stream sends req and delivers the response as it arrives, through h:
// OnResponse with the head of the final response, OnBody with each piece of
// its body, OnDone last, exactly once (unless the call is canceled), with
// nil when the whole body arrived or the error. A streamed request body
// is written through h.OnWrite and the call's Write and CloseBody.
//
// An error found at once calls h.OnDone before Stream returns, which then
// returns nil.
func (c *Client) Stream(req *Request, h Handler) *Call {
	call := &Call{client: c, h: h}
	return c.start(call, req)
}

func (c *Client) start(call *Call, req *Request) *Call {
	call.req = *req
	call.timer.Init(callTimer, 0, 0)
	if c.closed {
		call.finish(ErrClosed)
		return nil
	}
	if err := call.prepare(); err != nil {
		call.finish(err)
		return nil
	}
	if c.cfg.Timeout > 0 {
		call.wholeDL = c.loop.Now().Add(c.cfg.Timeout)
		call.armTimer()
	}
	call.enqueue()
	if call.state == callDone {
		return nil
	}
	return call
}

// Stats returns the Client's counters.
func (c *Client) Stats() Stats {
	s := c.stats
	s.Idle = c.idle
	for _, h := range c.hosts {
		s.Open += h.conns
		s.Queued += len(h.waiting)
	}
	return s
}

// CloseIdle closes the idle connections of every host. Requests in flight
// go on; their connections are pooled again when they end, unless the
// Client is closed.
func (c *Client) CloseIdle() {
	for c.idleHead != nil {
		cc := c.idleHead
		cc.host.unidle(cc)
		cc.shut()
	}
}

// Close stops the Client: the requests waiting or in flight fail with
// ErrClosed (their callbacks run), every connection is closed, and
// later requests fail at once. Closing a closed Client does nothing.
func (c *Client) Close() {
	if c.closed {
		return
	}
	c.closed = true
	if c.own != nil {
		c.own.Close()
	}
	c.CloseIdle()
	for _, h := range c.hosts {
		for h.queued() > 0 {
			h.pop().finish(ErrClosed)
		}
		for _, cc := range slices.Clone(h.open) {
			cc.abort(ErrClosed)
		}
	}
}

// Request is a request to send with Client.Do or Client.Stream.
type Request struct {
	// Method is the request method; "" means GET.
	Method string
	// URL is the absolute http URL to request: "http://host[:port]/path?query".
	// Userinfo in it becomes basic authentication; a fragment is dropped.
	URL string
	// Header holds the header fields to send. Host, Content-Length,
	// Transfer-Encoding and Trailer are set by the client and ignored here;
	// "Connection: close" is honoured; User-Agent overrides
	// Config.UserAgent (an empty one sends none).
	Header http.Header
	// Host, if set, is sent as the Host header instead of the URL's host.
	Host string
	// Body is the request body, sent with Content-Length. POST, PUT and
	// PATCH without a body send "Content-Length: 0".
	Body []byte
	// StreamBody makes the body streamed, with the chunked transfer coding:
	// the program writes it with Call.Write, pacing itself with
	// Call.Full and Handler.OnWrite, and ends it with
	// Call.CloseBody. Body is ignored then. A streamed body cannot
	// be sent twice, so such a request is neither retried nor pipelined,
	// and a 307 or 308 answer to it is delivered rather than followed.
	StreamBody bool
	// ExpectContinue sends "Expect: 100-continue" and holds the body back
	// until the server answers "100 Continue", or for
	// Config.ExpectContinueTimeout. A final answer that comes
	// first is delivered, and the body is never sent.
	ExpectContinue bool
}

func (r *Request) method() string {
	if r.Method == "" {
		return "GET"
	}
	return r.Method
}

// idempotent reports whether the request may be sent twice (RFC 9110
// §9.2.2; an Idempotency-Key header counts, as in net/http).
func (r *Request) idempotent() bool {
	switch r.method() {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	if r.Header != nil {
		if _, ok := r.Header["Idempotency-Key"]; ok {
			return true
		}
		if _, ok := r.Header["X-Idempotency-Key"]; ok {
			return true
		}
	}
	return false
}

// replayable reports whether the request can be sent again: idempotent,
// with no body or a body given as bytes.
func (r *Request) replayable() bool { return r.idempotent() && !r.StreamBody }

// Handler holds the callbacks of Client.Stream. Every field may be
// nil. They run on the loop's goroutine, in this order:
//
//	callback     when                                                 how often
//	----------   --------------------------------------------------   -----------------
//	OnWrite      a streamed body can be written (head sent, or the     zero or more times
//	             connection drained after Full)
//	OnResponse   the head of the final response arrived               at most once
//	OnBody       a piece of the body arrived                          zero or more times
//	OnDone       the body is complete (nil) or the request failed     exactly once, last
//
// OnWrite may still run after OnResponse when the server answers before
// the body is sent. A canceled call gets no further callback.
type Handler struct {
	// OnWrite asks for more of a streamed request body (see
	// Request.StreamBody): it runs when the request head is on the
	// connection (after "100 Continue" with ExpectContinue), and again
	// each time the connection's output queue drains after Full. It
	// writes with call.Write until call.Full reports true, or ends the
	// body with call.CloseBody; it may also write nothing and let the
	// program write later, from any callback on the loop.
	OnWrite func(call *Call)
	// OnResponse runs with the head of the final response. The
	// Response stays valid after the call ends.
	OnResponse func(call *Call, resp *Response)
	// OnBody receives a piece of the response body. p is only valid during
	// the call (it is the connection's read buffer): copy what must be
	// kept. call.PauseRead stops the delivery (backpressure: the
	// server is slowed down) until call.ResumeRead.
	OnBody func(call *Call, p []byte)
	// OnDone runs exactly once when the call ends: with nil after the whole
	// body was delivered, or with a *Error.
	OnDone func(call *Call, err error)
}
