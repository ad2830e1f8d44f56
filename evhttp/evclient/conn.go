package evclient

// A conn is one connection of a host's pool: its life (dial, open, close)
// is here; what it writes (the requests) is in write.go, what it reads (the
// responses) in read.go.

import (
	"errors"
	"fmt"
	"slices"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

// The states of a conn.
const (
	connDialing uint8 = iota + 1
	connOpen
	connClosed
)

const (
	// inlineBody is the largest body (or chunk) copied behind its head
	// (or chunk header) so that both leave in one write.
	inlineBody = 16 << 10
	// bodyPiece is the most of a request body written at once; the rest
	// waits for OnDrain once the connection is Full.
	bodyPiece = 256 << 10
	// keepBuf is the largest write buffer a connection keeps between
	// requests.
	keepBuf = 64 << 10
	// maxPrealloc is the most of a body of known length that Do
	// allocates before its bytes arrive.
	maxPrealloc = 4 << 20
	// maxKeptHead is the largest response head buffer a Call reused by
	// StreamCall keeps for its next response.
	maxKeptHead = 8 << 10
)

var crlf = []byte("\r\n")

// conn is one connection of a host's pool. It carries calls in order:
// calls[0] is the one whose response is being read, writer the one whose
// request is being written (the last one, with pipelining). It reuses one
// parser, response, body decoder and write buffer for all its requests.
// Loop goroutine only.
type conn struct {
	client *Client
	host   *host
	nc     *evnet.Conn // nil while a DialFunc dials
	addr   string      // the address dialled, for errors
	state  uint8

	closing    bool  // Close or Abort called
	closeAfter bool  // not to be reused: Connection: close, unfinished request
	closedDone bool  // closed by the client after a response, as it said
	abortErr   error // the error for the calls when the client aborted it
	inBody     bool  // reading the body of calls[0]'s final response
	upgraded   bool  // handed over after a 101: the client's no more
	served     int   // responses read

	// Dialling.
	dialFor    *Call // the call the dial is for, while it wants it
	hookDial   bool  // a DialFunc is dialling
	cancelDial func() bool
	timedOut   bool
	dialTimer  eddy.Timer
	tlsName    string // https: the name verified, "" for an address

	calls  []*Call
	writer *Call

	parser h1.Parser
	resp   h1.Response
	body   h1.Body
	wbuf   []byte

	// The pool.
	inIdle             bool
	idlePrev, idleNext *conn
}

// dial starts a new connection for call.
func (h *host) dial(call *Call) {
	c := h.client
	cc := &conn{client: c, host: h, state: connDialing, dialFor: call, addr: call.u.dialAddr()}
	cc.parser.Limits = &c.limits
	cc.body.Limits = c.limits
	h.conns++
	h.open = append(h.open, cc)
	c.stats.Dials++
	call.state = callDialing
	call.conn = cc
	hd := evnet.Handler{OnOpen: cc.onOpen, OnData: cc.onData, OnDrain: cc.onDrain, OnClose: cc.onClose}
	if call.u.tls {
		cc.tlsName = ""
		if !call.u.ip.IsValid() {
			cc.tlsName = call.u.host
		}
		hd.OnOpen = cc.onConnect
	}
	timeout := max(c.cfg.ConnectTimeout, 0)
	if timeout > 0 {
		cc.dialTimer.Init(cc.onDialTimeout, timeout, 0)
		cc.dialTimer.Start(c.loop)
	}
	if call.u.ip.IsValid() {
		nc, err := evnet.Dialer{Conn: c.cfg.Conn}.Dial(c.loop, "tcp", cc.addr, hd)
		if err != nil {
			cc.dialFailed(err)
			return
		}
		cc.nc = nc
		return
	}
	cc.hookDial = true
	cancel := c.dial(cc.addr, timeout, hd, cc.dialed)
	if cc.hookDial {
		cc.cancelDial = cancel
	}
}

// onConnect starts the TLS handshake of an https connection once the TCP
// connection is open; OnOpen follows it (or OnClose with its error).
func (cc *conn) onConnect(nc *evnet.Conn) {
	c := cc.client
	cfg := c.cfg.TLS
	if cfg.ServerName == "" && cc.tlsName != "" {
		cfg = cfg.Clone() // shares the session cache
		cfg.ServerName = cc.tlsName
	}
	t := &evnet.TLSConfig{Config: cfg, HandshakeTimeout: c.cfg.TLSHandshakeTimeout}
	hd := evnet.Handler{OnOpen: cc.onOpen, OnData: cc.onData, OnDrain: cc.onDrain, OnClose: cc.onClose}
	if err := nc.StartTLSClient(t, hd); err != nil {
		cc.abortErr = fmt.Errorf("%w to %s: %w", ErrConnect, cc.addr, err)
		nc.Abort()
	}
}

// dialed is the DialFunc's done callback.
func (cc *conn) dialed(nc *evnet.Conn, err error) {
	cc.hookDial, cc.cancelDial = false, nil
	if err != nil {
		cc.dialFailed(err)
		return
	}
	cc.nc = nc // OnOpen follows
}

func (cc *conn) onDialTimeout(*eddy.Timer) {
	if cc.state != connDialing {
		return
	}
	cc.timedOut = true
	if cc.hookDial {
		cancel := cc.cancelDial
		cc.hookDial, cc.cancelDial = false, nil
		if cancel != nil {
			cancel()
		}
		cc.dialFailed(ErrConnectTimeout)
		return
	}
	cc.nc.Abort() // OnClose, without OnOpen: dialFailed
}

// dialFailed ends a dial that did not connect.
func (cc *conn) dialFailed(err error) {
	if cc.state == connClosed {
		return
	}
	cc.state = connClosed
	cc.dialTimer.Stop()
	cc.hookDial, cc.cancelDial = false, nil
	h, c := cc.host, cc.client
	h.removeConn(cc)
	c.stats.DialErrors++
	if call := cc.dialFor; call != nil && call.state == callDialing && call.conn == cc {
		cc.dialFor = nil
		switch {
		case cc.abortErr != nil:
			err = cc.abortErr
		case cc.timedOut:
			err = fmt.Errorf("%w: %s after %v", ErrConnectTimeout, cc.addr, c.cfg.ConnectTimeout)
		default:
			err = fmt.Errorf("%w to %s: %w", ErrConnect, cc.addr, err)
		}
		call.finish(err)
	}
	h.schedule()
}

func (cc *conn) onOpen(nc *evnet.Conn) {
	cc.nc = nc
	cc.dialTimer.Stop()
	cc.state = connOpen
	call := cc.dialFor
	cc.dialFor = nil
	if call != nil && call.state == callDialing && call.conn == cc && !cc.client.closed {
		cc.startCall(call)
		return
	}
	cc.host.release(cc)
}

// front returns the call whose response is being read, or nil.
func (cc *conn) front() *Call {
	if len(cc.calls) == 0 {
		return nil
	}
	return cc.calls[0]
}

// detach takes a call off the connection (which is then aborted).
func (cc *conn) detach(call *Call) {
	if i := slices.Index(cc.calls, call); i >= 0 {
		cc.calls = slices.Delete(cc.calls, i, i+1)
	}
	if cc.writer == call {
		cc.writer = nil
	}
}

// abort closes the connection at once (a reset); err, if not nil, is
// what its calls fail with, instead of being retried.
func (cc *conn) abort(err error) {
	if cc.closing || cc.state == connClosed {
		return
	}
	cc.closing = true
	if err != nil {
		cc.abortErr = err
	}
	cc.host.unidle(cc)
	if cc.nc == nil { // a DialFunc is dialling
		if cancel := cc.cancelDial; cancel != nil {
			cc.hookDial, cc.cancelDial = false, nil
			cancel()
		}
		cc.dialFailed(ErrClosed)
		return
	}
	cc.nc.Abort()
}

// shut closes the connection gracefully.
func (cc *conn) shut() {
	if cc.closing || cc.state == connClosed {
		return
	}
	cc.closing = true
	cc.host.unidle(cc)
	cc.nc.Close()
}

// onClose handles the end of an open connection: a body read until the
// end of the connection is complete; the other calls it carried are
// retried on a new connection when they may be, or fail.
func (cc *conn) onClose(_ *evnet.Conn, reason error) {
	if cc.state == connDialing {
		cc.dialFailed(reason)
		return
	}
	if cc.state == connClosed {
		return
	}
	cc.state = connClosed
	cc.closing = true
	h, c := cc.host, cc.client
	h.removeConn(cc)
	calls := cc.calls
	cc.calls, cc.writer = nil, nil
	inBody := cc.inBody
	cc.inBody = false
	var retries []*Call
	for i, call := range calls {
		if call.state != callOnConn || call.conn != cc {
			continue
		}
		call.conn = nil
		if i == 0 && inBody && cc.abortErr == nil && errors.Is(reason, evnet.ErrEOF) && cc.body.EOF() == nil {
			cc.served++
			call.complete()
			continue
		}
		// A request pipelined behind a response after which the client
		// closed the connection, as that response said, was not read by
		// the server: sending it again does not use up its one retry.
		unread := cc.closedDone && errors.Is(reason, evnet.ErrLocalClose)
		switch {
		case cc.abortErr != nil:
			call.finish(cc.abortErr)
		case !call.gotBytes && call.reused && (!call.retried || unread) && call.req.replayable() && !c.closed:
			call.retried = call.retried || !unread
			c.stats.Retries++
			call.resetAttempt()
			call.state = callQueued
			retries = append(retries, call)
		default:
			call.finish(fmt.Errorf("%w: %w", ErrConnClosed, reason))
		}
	}
	if len(retries) > 0 {
		// At the front of the queue, in their order. The host may have
		// been forgotten meanwhile (and another made for its key).
		hh := c.hosts[h.key]
		if hh == nil {
			hh = h
			c.hosts[h.key] = h
		}
		for _, call := range retries {
			call.host = hh
		}
		hh.waiting = slices.Insert(hh.waiting, hh.wHead, retries...)
		if hh != h {
			hh.schedule()
		}
	}
	h.schedule()
}
