package evclient

import (
	"slices"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

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
	// Upgrades counts the connections handed over to the program after a
	// 101 Switching Protocols (see Handler.OnUpgrade); they left the
	// client, and Open no longer counts them.
	Upgrades uint64
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
	hosts  map[hostKey]*host
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
	c := &Client{loop: l, hosts: make(map[hostKey]*host)}
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
// An error found at once (a bad URL, a closed Client, an upgrade request,
// which needs Stream) calls done before Do returns, which then returns
// nil; otherwise Do returns the call, which may be canceled or, for a
// streamed body, written to.
func (c *Client) Do(req *Request, done func(resp *Response, err error)) *Call {
	call := &Call{client: c, gather: true, done: done}
	return c.start(call, req)
}

// Stream sends req and delivers the response as it arrives, through h:
// OnResponse with the head of the final response, OnBody with each piece of
// its body, OnDone last, exactly once (unless the call is canceled), with
// nil when the whole body arrived or the error. A streamed request body
// is written through h.OnWrite and the call's Write and CloseBody. An
// upgrade request (see Request.Header) is sent only with Stream: if the
// server switches protocols, h.OnUpgrade gets the connection instead of
// OnResponse and OnBody.
//
// An error found at once calls h.OnDone before Stream returns, which then
// returns nil.
func (c *Client) Stream(req *Request, h Handler) *Call {
	call := &Call{client: c, h: h}
	return c.start(call, req)
}

// StreamCall is Stream with a Call the program provides, so that a
// program that makes request after request (a proxy) allocates none: call
// is a zero Call, or one whose request has ended (its OnDone ran, or it
// was canceled), which StreamCall makes the new request's. The Call, and
// the Response OnResponse got from it, must not be used for the old
// request after that: the Response keeps its storage for the next one. A
// Call still in progress makes StreamCall panic. The Call must not be
// copied once used. Like Stream, StreamCall returns nil, after h.OnDone,
// when the request fails at once, and call otherwise.
func (c *Client) StreamCall(call *Call, req *Request, h Handler) *Call {
	if call.state != 0 && call.state != callDone {
		panic("evclient: StreamCall with a Call in progress")
	}
	head := keepHead(call.resp.head)
	prev, u := call.req.URL, call.u
	*call = Call{client: c, h: h}
	call.resp.head = head
	if req.URL == prev {
		call.u = u // the request before's, parsed from the same URL (empty if that failed)
	}
	return c.start(call, req)
}

// keepHead empties a Response's head buffer for the next response of its
// Call, or drops it if it grew past maxKeptHead.
func keepHead(b []byte) []byte {
	if cap(b) > maxKeptHead {
		return nil
	}
	return b[:0]
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
// Client is closed. Connections handed over after a 101 (see
// Handler.OnUpgrade) are no longer the Client's: they stay open.
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
// Connections handed over after a 101 stay open.
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
