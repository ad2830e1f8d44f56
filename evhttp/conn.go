package evhttp

// One server connection: the state machine between evnet's callbacks and
// the exchanges (request + response) in flight on it.
//
// Input. OnData hands pump the buffered bytes. pump alternates two phases:
// reading the body of the newest request (the reader), through h1.Body,
// and parsing the next head, through h1.Parser. It stops when it needs
// more bytes, or cannot use the bytes yet: the reader's handler has not
// asked for its body (or paused it), MaxPipelined exchanges are in
// flight, the output queue is Full, or the connection is to close. What
// it did not consume stays in evnet's buffer; settle then decides whether
// to keep reading (up to holdLimit) or pause, and which read timeout
// applies. When the obstacle goes, wake schedules resume, which gets the
// held bytes delivered again (PauseRead + ResumeRead).
//
// Output. Exchanges are queued (q, a list linked through them) in request
// order; only the first may write to the connection. The others write into
// their own pending buffer, moved to the connection when they reach the
// front (advance). The first writes into the loop's coalescing buffer
// while a callback of its connection runs (a batch), so that all the
// responses of one OnData leave in one Write; outside a batch (a timer, a
// Post) it writes at once.
//
// Lifetimes. An exchange is over (retire: OnDone, access log, reuse) when
// its response has left the queue and its body is done. Heads that
// outlive the OnData call that parsed them are copied (settle), since the
// read buffer is evnet's.
//
// Upgrades. A request with Upgrade holds the parsing (xHold) until its
// response ends; if that response is a 101 (upgrade.go), the connection
// is handed over when it leaves the queue (handOver): evnet's events then
// go to the new protocol's handler (evnet.Conn.SetHandler), and the
// callbacks below never see the connection again.
//
// This file holds the conn, evnet's callbacks and the connection's state
// (ConnState), with wake and resume, which go on where the connection
// stopped. Beside it, by mechanism: the read path and the read timeouts
// (conn_read.go), the queue of exchanges and their ends (conn_queue.go),
// and closing (conn_close.go).

import (
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

// conn flags.
const (
	cClosed     uint16 = 1 << iota // OnClose ran
	cCloseAfter                    // no request after the last one parsed: close when answered
	cLinger                        // closing: write side shut, input dropped until EOF or lingerTimeout
	cEOF                           // the peer shut down its side
	cPartial                       // the input ends inside a head
	cEOFDue                        // some exchange waits for its body's io.EOF call
	cKicked                        // in the loop's kick list
	cPlainOnTLS                    // a plain connection on a TLS listener (TLSConfig.Plaintext): answered 400
)

// conn is the HTTP state of one evnet connection. Loop goroutine only.
type conn struct {
	ls     *loopServer
	c      *evnet.Conn
	parser h1.Parser
	// q is the last of the exchanges queued, in request order, or nil:
	// their next links make a ring, so that q.next is the first. A list
	// through the exchanges costs the connection no array (conn_queue.go).
	q      *exchange
	reader *exchange // the exchange whose body is being read, if any
	// handling is the exchange whose handler is running (serve), for
	// pump's recovery of a panic.
	handling *exchange
	flags    uint16
	state    ConnState
	phase    uint8
	slot     int32
	// requests counts the heads parsed, up to math.MaxInt32.
	requests int32
	// queued is how many exchanges q holds.
	queued int32
	// headStart is when the head in progress began (the accept for the
	// first one), in ls.clock time; zero when no head is in progress.
	// The read timeout of the current phase is evnet's SetTimer (onTimer).
	headStart int64
	// adapted is the http.Handler adapter's per-connection cache (the
	// addresses as net/http gives them), made on its first request.
	adapted *adConn
	// remote is the client's address, learnt (a system call) on the first
	// Request.RemoteAddr: a proxy asks on every request. It is kept in
	// the conn, so that it costs no allocation.
	remote peerAddr
}

func (s *Server) onOpen(c *evnet.Conn) { s.open(c, 0) }

// onOpenPlain serves a connection whose client sent plain bytes to a TLS
// listener (evnet.TLSConfig.Plaintext): its first input is answered 400,
// as nginx does, and it closes.
func (s *Server) onOpenPlain(c *evnet.Conn) { s.open(c, cPlainOnTLS) }

func (s *Server) open(c *evnet.Conn, flags uint16) {
	ls := s.state(c.Loop())
	if ls == nil { // closing, and no state on this loop: serve nothing
		c.Close()
		return
	}
	hc := &conn{ls: ls, c: c, flags: flags}
	hc.parser.Limits = &ls.cfg.limits
	c.SetContext(hc)
	ls.add(hc)
	if f := ls.cfg.connState; f != nil {
		f(c, StateNew)
	}
	if ls.draining {
		c.Close()
		return
	}
	if d := ls.cfg.writeTimeout; d > 0 {
		c.SetWriteTimeout(d)
	}
	hc.headStart = ls.clock()
	hc.settle(nil)
}

// serverConn returns the server's state of c.
func serverConn(c *evnet.Conn) *conn {
	hc, ok := c.Context().(*conn)
	if !ok {
		panic("evhttp: the Context of a server connection was replaced")
	}
	return hc
}

func onData(c *evnet.Conn, p []byte) int {
	hc := serverConn(c)
	if hc.flags&cLinger != 0 {
		return len(p)
	}
	ls := hc.ls
	prev := ls.enter(hc)
	n := hc.pump(p)
	hc.settle(p[n:])
	ls.leave(hc, prev)
	return n
}

func onDrain(c *evnet.Conn) {
	hc := serverConn(c)
	ls := hc.ls
	prev := ls.enter(hc)
	hc.resume()
	ls.leave(hc, prev)
}

func onEOF(c *evnet.Conn) {
	hc := serverConn(c)
	hc.flags |= cEOF
	if hc.flags&cLinger != 0 {
		c.Close()
		return
	}
	for x := hc.head(); x != nil; x = hc.after(x) {
		if f := x.peerGone; f != nil {
			x.peerGone = nil
			f()
		}
	}
	ls := hc.ls
	prev := ls.enter(hc)
	if x := hc.reader; x != nil && x.flags&xBodyDone == 0 {
		if err := x.dec.EOF(); err != nil {
			hc.bodyFailed(x, err)
		}
	}
	if hc.flags&cClosed == 0 {
		hc.settle(c.Peek())
	}
	ls.leave(hc, prev)
}

func onClose(c *evnet.Conn, reason error) {
	if c.Context() == nil {
		return // closed by onOpen before it was set
	}
	hc := serverConn(c)
	hc.flags |= cClosed
	for x := hc.cut(nil); x != nil; {
		next := x.next
		x.next = nil
		hc.abort(x, reason)
		x = next
	}
	if x := hc.reader; x != nil {
		hc.reader = nil
		hc.abort(x, reason)
	}
	ls := hc.ls
	ls.remove(hc)
	hc.setState(StateClosed)
	ls.checkDrained()
}

// wake schedules resume, unless a callback of hc's is running, which
// checks everything resume does before it returns.
func (hc *conn) wake() {
	if hc.flags&(cClosed|cLinger) != 0 || hc.ls.batch == hc {
		return
	}
	hc.ls.wakeConn(hc)
}

// resume goes on where the connection stopped: the drain the front
// response waits for, the body deliveries due, the input held back.
func (hc *conn) resume() {
	if hc.flags&(cClosed|cLinger) != 0 {
		return
	}
	if x := hc.head(); x != nil && x.flags&xWantDrain != 0 && !hc.c.Full() {
		x.flags &^= xWantDrain
		if fn := x.w.drainFn; fn != nil && x.flags&(xEnded|xAborted|xOverride) == 0 {
			hc.call(x, func() { fn(&x.w) })
		}
	}
	if hc.flags&(cClosed|cLinger) != 0 {
		return
	}
	hc.pump(nil)
	if hc.flags&(cClosed|cLinger) != 0 {
		return
	}
	rest := hc.c.Peek()
	if hc.progress() && (len(rest) > 0 || hc.c.IsPaused()) {
		// Have the held input delivered again, and read more.
		hc.c.PauseRead()
		hc.c.ResumeRead()
		rest = nil
	}
	hc.settle(rest)
	hc.maybeClose()
}

// setState reports a state change to the ConnState hook.
func (hc *conn) setState(s ConnState) {
	if hc.state == s || hc.state == StateHijacked {
		return
	}
	hc.state = s
	if f := hc.ls.cfg.connState; f != nil {
		f(hc.c, s)
	}
}
