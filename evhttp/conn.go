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
// Output. Exchanges are queued (q) in request order; only the first may
// write to the connection. The others write into their own pending buffer,
// moved to the connection when they reach the front (advance). The first
// writes into the loop's coalescing buffer while a callback of its
// connection runs (a batch), so that all the responses of one OnData
// leave in one Write; outside a batch (a timer, a Post) it writes at once.
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

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

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
)

// Read timeout phases.
const (
	phaseNone uint8 = iota
	phaseHeader
	phaseBody
	phaseIdle
	phaseLinger
)

// conn is the HTTP state of one evnet connection. Loop goroutine only.
type conn struct {
	ls     *loopServer
	c      *evnet.Conn
	parser h1.Parser
	q      []*exchange
	reader *exchange // the exchange whose body is being read, if any
	flags  uint16
	state  ConnState
	phase  uint8
	slot   int
	// requests counts the heads parsed.
	requests int
	// headStart is when the head in progress began (the accept for the
	// first one), in ls.clock time; zero when no head is in progress.
	// The read timeout of the current phase is evnet's SetTimer (onTimer).
	headStart int64
	// adapted is the http.Handler adapter's per-connection cache (the
	// addresses as net/http gives them), made on its first request.
	adapted *adConn
}

func (s *Server) onOpen(c *evnet.Conn) {
	ls := s.state(c.Loop())
	if ls == nil { // closing, and no state on this loop: serve nothing
		c.Close()
		return
	}
	hc := &conn{ls: ls, c: c}
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
	for _, x := range hc.q {
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
	q := hc.q
	hc.q = nil
	for _, x := range q {
		hc.abort(x, reason)
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

// pump consumes what it can of p and returns how much.
func (hc *conn) pump(p []byte) int {
	n := 0
	hc.flags &^= cPartial
	for hc.flags&(cClosed|cLinger) == 0 {
		if hc.flags&cEOFDue != 0 {
			hc.deliverDue()
			continue
		}
		if x := hc.reader; x != nil {
			if !hc.readBody(x, p, &n) {
				break
			}
			continue
		}
		if !hc.canParse() || n == len(p) {
			break
		}
		ls := hc.ls
		x := ls.get()
		k, err := hc.parser.ParseRequest(p[n:], &x.r.h)
		if err != nil {
			ls.put(x)
			if err == h1.ErrNeedMore {
				hc.flags |= cPartial
				if hc.headStart == 0 {
					hc.headStart = ls.clock()
				}
				break
			}
			hc.fail(h1.Status(err))
			break
		}
		hc.headStart = 0
		hc.dispatch(x, p[n:n+k])
		n += k
	}
	return n
}

// canParse reports whether the next request may be parsed now.
func (hc *conn) canParse() bool {
	n := len(hc.q)
	return hc.flags&(cCloseAfter|cLinger|cClosed) == 0 && !hc.ls.draining &&
		n < hc.ls.cfg.maxPipelined && !hc.c.Full() && (n == 0 || hc.q[n-1].flags&xHold == 0)
}

// bodyReady reports whether the reader's body can be consumed now: the
// handler asked for it and has not paused it, or the response is over
// and the rest is dropped.
func (hc *conn) bodyReady(x *exchange) bool {
	if x.flags&(xAborted|xOverride) != 0 {
		return false
	}
	if x.r.bodyFn != nil {
		return x.flags&xBodyPaused == 0
	}
	return x.flags&xEnded != 0
}

// progress reports whether more input would be used now.
func (hc *conn) progress() bool {
	if x := hc.reader; x != nil {
		return hc.bodyReady(x)
	}
	return hc.canParse()
}

// readBody decodes the reader's body from p[*n:] and delivers it. It
// reports whether pump should go on.
func (hc *conn) readBody(x *exchange, p []byte, n *int) bool {
	if !hc.bodyReady(x) {
		return false
	}
	k, payload, done, err := x.dec.Decode(p[*n:])
	if err == h1.ErrNeedMore {
		return false
	}
	if err != nil {
		hc.bodyFailed(x, err)
		return false
	}
	*n += k
	x.r.received += int64(len(payload))
	if done {
		hc.reader = nil
		x.flags |= xBodyDone
	}
	if fn := x.r.bodyFn; fn != nil {
		if len(payload) > 0 || done {
			x.r.deliver(fn, payload, done, x.dec.Trailers)
		}
	} else if x.r.received-x.r.dropFrom > discardLimit && !done {
		// Dropping more than that is not worth keeping the connection.
		hc.flags |= cCloseAfter
		hc.reader = nil
		x.flags |= xBodyDone
		done = true
	}
	if done {
		hc.retire(x)
		hc.maybeClose()
	}
	return true
}

// deliverDue makes the io.EOF calls of bodies that ended before the
// handler asked for them.
func (hc *conn) deliverDue() {
	hc.flags &^= cEOFDue
	for hc.flags&cClosed == 0 {
		var x *exchange
		for _, y := range hc.q {
			if y.flags&xEOFDue != 0 {
				x = y
				break
			}
		}
		if x == nil {
			return
		}
		x.deliverEOF()
	}
}

// deliverEOF makes the body's io.EOF call that x has due (xEOFDue).
func (x *exchange) deliverEOF() {
	x.flags &^= xEOFDue
	if fn := x.r.bodyFn; fn != nil && x.flags&(xAborted|xOverride) == 0 {
		x.r.deliver(fn, nil, true, nil)
	}
}

// dispatch starts the exchange x for the head just parsed (raw, in the
// read buffer) and runs the handler.
func (hc *conn) dispatch(x *exchange, raw []byte) {
	ls := hc.ls
	x.hc = hc
	x.r.raw = raw
	x.flags = xInBuffer
	x.w.cl = -1
	if string(x.r.h.Method) == "HEAD" {
		x.flags |= xHead
	}
	if ls.cfg.accessLog != nil {
		x.start = time.Now()
	}
	hc.q = append(hc.q, x)
	hc.requests++
	if x.r.h.Upgrade != nil {
		// What follows may be another protocol's: parse no further until
		// the handler has answered (upgrade.go).
		x.flags |= xHold
	}
	if x.r.h.HasBody() {
		hc.reader = x
		x.dec.Limits = ls.cfg.limits
		x.dec.ResetRequest(&x.r.h)
	} else {
		x.flags |= xBodyDone
	}
	if x.r.h.Close || ls.cfg.noKeepAlive {
		hc.flags |= cCloseAfter
	}
	hc.setState(StateActive)
	hc.serve(x)
	if x.flags&(xAsync|xEnded|xAborted|xOverride) == 0 {
		x.finish()
	}
}

// serve runs the handler for x, recovering a panic.
func (hc *conn) serve(x *exchange) {
	defer func() {
		if v := recover(); v != nil {
			hc.recovered(x, v)
		}
	}()
	hc.ls.cfg.handler.ServeHTTP1(&x.w, &x.r)
}

// recovered handles a panic of x's handler or one of its callbacks.
func (hc *conn) recovered(x *exchange, v any) {
	hc.ls.cfg.logf("evhttp: panic serving %v %q: %v\n%s", hc.c.RemoteAddr(), x.r.h.Target, v, debug.Stack())
	hc.failHandler(x, false)
}

// failHandler ends x after its handler failed: with 500 if the head was
// not sent and cut is false, else cut where it is; the connection closes
// after it.
func (hc *conn) failHandler(x *exchange, cut bool) {
	if x.flags&xAborted != 0 {
		return
	}
	if x.err == nil {
		x.err = ErrHandlerPanic
	}
	if hc.reader == x {
		hc.reader = nil
		x.flags |= xBodyDone
	}
	x.flags &^= xEOFDue
	hc.flags |= cCloseAfter
	switch {
	case x.flags&(xEnded|xOverride) != 0:
		// Panicked after the end (in OnDone, say): only close.
		hc.cutAfter(x)
		hc.retire(x)
		hc.maybeClose()
	case x.flags&xHeadSent == 0 && !cut:
		x.flags |= xOverride
		x.replace(500)
	default:
		x.flags |= xOverride
		hc.truncate(x)
	}
}

// call runs a callback of x's (a body or drain function) like the
// handler, recovering a panic.
func (hc *conn) call(x *exchange, f func()) {
	defer func() {
		if v := recover(); v != nil {
			hc.recovered(x, v)
		}
	}()
	f()
}

// fail answers a request that could not be parsed with status and closes
// the connection after the responses before it.
func (hc *conn) fail(status int) {
	hc.flags |= cCloseAfter
	x := hc.ls.get()
	x.hc = hc
	x.flags = xInternal | xBodyDone
	x.w.cl = -1
	x.r.h.Minor = 1
	hc.q = append(hc.q, x)
	x.replace(status)
}

// bodyFailed handles a body that cannot be read to its end: too large,
// malformed, timed out, or cut by the connection's end.
func (hc *conn) bodyFailed(x *exchange, cause error) {
	var err error
	status := 0
	switch cause {
	case h1.ErrBodyTooLarge:
		err, status = ErrBodyTooLarge, 413
	case h1.ErrTruncatedBody:
		err = ErrBodyTruncated
	case errBodyTimeout:
		err, status = ErrBodyTimeout, 408
	default:
		err, status = fmt.Errorf("%w: %w", ErrBodyMalformed, cause), h1.Status(cause)
	}
	if hc.reader == x {
		hc.reader = nil
	}
	x.flags |= xBodyDone
	x.flags &^= xEOFDue
	hc.flags |= cCloseAfter
	if x.flags&xAborted != 0 {
		hc.maybeClose()
		return
	}
	if x.err == nil {
		x.err = err
	}
	if fn := x.r.bodyFn; fn != nil && x.flags&xOverride == 0 {
		x.flags |= xOverride // from here on, the handler's writes fail
		hc.call(x, func() { fn(&x.w, &x.r, nil, err) })
	}
	x.flags |= xOverride
	switch {
	case x.flags&xEnded != 0:
		hc.cutAfter(x)
		hc.retire(x)
		hc.maybeClose()
	case x.flags&xHeadSent == 0 && status != 0:
		x.replace(status)
	default:
		hc.truncate(x)
	}
}

// errBodyTimeout is the body timeout as a cause for bodyFailed.
var errBodyTimeout = errors.New("evhttp: body timeout")

// truncate ends x's response where it is, without its proper end (no last
// chunk), and closes the connection after it: the client sees a response
// cut short, not a complete one.
func (hc *conn) truncate(x *exchange) {
	x.flags |= xEnded
	hc.flags |= cCloseAfter
	hc.cutAfter(x)
	hc.advance()
}

// cutAfter drops the exchanges queued after x: the connection closes
// after x's response, so theirs can never be sent.
func (hc *conn) cutAfter(x *exchange) {
	i := len(hc.q)
	for j, y := range hc.q {
		if y == x {
			i = j + 1
			break
		}
	}
	if x.flags&xPopped != 0 {
		i = 0
	}
	if i >= len(hc.q) {
		return
	}
	victims := append([]*exchange(nil), hc.q[i:]...)
	clear(hc.q[i:])
	hc.q = hc.q[:i]
	for _, y := range victims {
		if hc.reader == y {
			hc.reader = nil
		}
		hc.abort(y, ErrConnClosing)
	}
}

// abort ends x without a response (or with what it sent): the connection
// closed, or an earlier response closes it. x is not reused: the handler
// may still hold it, and its methods keep failing.
func (hc *conn) abort(x *exchange, err error) {
	if x.flags&xAborted != 0 {
		return
	}
	x.flags |= xAborted | xPopped
	if x.err == nil {
		x.err = err
	}
	x.dropFiles(x.err) // fs_send.go
	if x.flags&xInBuffer != 0 && hc.flags&cClosed == 0 {
		x.r.keep(hc.ls) // the handler may still look at it
	}
	if x.flags&xInternal != 0 {
		return
	}
	if x.flags&xBodyDone == 0 || x.flags&xEOFDue != 0 {
		x.flags |= xBodyDone
		x.flags &^= xEOFDue
		if fn := x.r.bodyFn; fn != nil {
			hc.call(x, func() { fn(&x.w, &x.r, nil, x.err) })
		}
	}
	hc.over(x)
}

// over runs the end-of-exchange hooks: OnDone and the access log.
func (hc *conn) over(x *exchange) {
	ls := hc.ls
	ls.served.Store(ls.served.Load() + 1) // one writer: no read-modify-write needed
	if fn := x.w.doneFn; fn != nil {
		x.w.doneFn = nil
		err := x.err
		func() {
			defer func() {
				if v := recover(); v != nil {
					hc.ls.cfg.logf("evhttp: panic in OnDone for %v %q: %v\n%s", hc.c.RemoteAddr(), x.r.h.Target, v, debug.Stack())
				}
			}()
			fn(&x.w, err)
		}()
	}
	if f := hc.ls.cfg.accessLog; f != nil {
		status := 0
		if x.flags&xHeadSent != 0 {
			status = x.w.status
		}
		f(&x.r, status, x.w.written, time.Since(x.start))
	}
}

// retire ends x once its response has left the queue and its body is
// done, and takes it back for reuse.
func (hc *conn) retire(x *exchange) {
	if x.flags&xPopped == 0 || x.flags&(xAborted|xRetired) != 0 || hc.reader == x || x.flags&xEOFDue != 0 {
		return
	}
	x.flags |= xRetired
	if x.flags&xInternal == 0 {
		hc.over(x)
	}
	if x.err == nil {
		hc.ls.put(x)
	}
}

// advance sends the responses that reached the front of the queue and
// takes the ended ones out of it.
func (hc *conn) advance() {
	for len(hc.q) > 0 && hc.flags&cClosed == 0 {
		x := hc.q[0]
		if len(x.w.pending) > 0 || len(x.w.files) > 0 {
			hc.writePending(x) // fs_send.go
			if hc.flags&cClosed != 0 {
				return
			}
		}
		if x.flags&xWantDrain != 0 {
			hc.wake()
		}
		if x.flags&xEnded == 0 {
			break
		}
		copy(hc.q, hc.q[1:])
		hc.q[len(hc.q)-1] = nil
		hc.q = hc.q[:len(hc.q)-1]
		x.flags |= xPopped
		if x.flags&xUpgrade != 0 && x.err == nil {
			hc.handOver(x) // upgrade.go
			return
		}
		hc.retire(x)
	}
	hc.maybeClose()
	hc.wake()
}

// head returns the exchange at the front of the queue, or nil.
func (hc *conn) head() *exchange {
	if len(hc.q) == 0 {
		return nil
	}
	return hc.q[0]
}

// write sends p (the pending output of an exchange, or a large body
// piece) in order with the rest of the connection's output.
func (hc *conn) write(p []byte) {
	ls := hc.ls
	if ls.batch == hc {
		if len(p) < bigWrite {
			ls.out = append(ls.out, p...)
			if len(ls.out) >= flushAt {
				hc.flushOut()
			}
			return
		}
		hc.flushOut()
	}
	if hc.flags&cClosed == 0 {
		hc.c.Write(p)
	}
}

// flushOut hands the coalesced output of hc's batch to the connection.
func (hc *conn) flushOut() {
	ls := hc.ls
	b := ls.out
	if len(b) == 0 {
		return
	}
	ls.out = nil
	if hc.flags&cClosed == 0 {
		hc.c.Write(b)
	}
	if ls.out == nil && cap(b) <= maxRetain {
		ls.out = b[:0]
	}
}

// maybeClose closes the connection when it has nothing left to answer and
// is to close: Connection: close, an error, Shutdown, or the client's EOF.
func (hc *conn) maybeClose() {
	if hc.flags&(cClosed|cLinger) != 0 || len(hc.q) > 0 {
		return
	}
	if hc.reader != nil && hc.flags&cCloseAfter == 0 {
		return
	}
	switch {
	case hc.flags&cCloseAfter != 0 || hc.ls.draining:
		hc.shutdown()
	case hc.flags&cEOF != 0 && (hc.flags&cPartial != 0 || len(hc.c.Peek()) == 0):
		hc.close()
	}
}

// close closes the connection once its output, the coalesced output of a
// running batch included, is sent.
func (hc *conn) close() {
	if hc.ls.batch == hc {
		hc.flushOut()
	}
	hc.c.Close()
}

// shutdown closes the connection after its queued output: the write side
// first, then, after the client's EOF or lingerTimeout, the whole socket.
func (hc *conn) shutdown() {
	if x := hc.reader; x != nil {
		hc.reader = nil
		if x.flags&xEnded != 0 && x.r.bodyFn == nil {
			// Its response is out, and the rest of its body unwanted.
			x.flags |= xBodyDone
			hc.retire(x)
		} else {
			hc.abort(x, ErrConnClosing)
		}
	}
	if hc.flags&cEOF != 0 {
		hc.close()
		return
	}
	if hc.ls.batch == hc {
		hc.flushOut()
	}
	hc.flags |= cLinger
	hc.c.CloseWrite()
	hc.c.ResumeRead()
	hc.arm(phaseLinger, lingerTimeout)
}

// drain is Shutdown for one connection: close it now if it is idle, else
// after the responses in progress.
func (hc *conn) drain() {
	if hc.flags&(cClosed|cLinger) != 0 {
		return
	}
	if len(hc.q) == 0 && hc.reader == nil {
		hc.c.Close()
		return
	}
	hc.flags |= cCloseAfter
	hc.maybeClose()
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

// settle ends a pass over the input: it copies the heads that outlive the
// read buffer, pauses or resumes reading, sets the read timeout and the
// connection's state. rest is the input left unconsumed.
func (hc *conn) settle(rest []byte) {
	if hc.flags&(cClosed|cLinger) != 0 {
		return
	}
	for _, x := range hc.q {
		if x.flags&xInBuffer != 0 {
			x.r.keep(hc.ls)
		}
	}
	if x := hc.reader; x != nil && x.flags&xInBuffer != 0 {
		x.r.keep(hc.ls)
	}
	prog := hc.progress()
	if !prog && (len(rest) >= holdLimit || hc.c.Full() || hc.reader != nil && hc.reader.flags&xBodyPaused != 0) {
		hc.c.PauseRead()
	} else if prog && hc.c.IsPaused() {
		hc.c.ResumeRead()
	}
	if hc.flags&cEOF != 0 && len(hc.q) == 0 && hc.reader == nil && (len(rest) == 0 || hc.flags&cPartial != 0) {
		hc.close()
		return
	}
	cfg := hc.ls.cfg
	switch {
	case hc.reader != nil && prog:
		if cfg.bodyTimeout > 0 {
			hc.arm(phaseBody, cfg.bodyTimeout)
		} else {
			hc.disarm()
		}
	case hc.flags&cPartial != 0 || hc.requests == 0 && len(hc.q) == 0:
		now := hc.ls.clock()
		if hc.headStart == 0 {
			hc.headStart = now
		}
		if hc.requests > 0 {
			hc.setState(StateActive)
		}
		if cfg.headerTimeout > 0 {
			hc.arm(phaseHeader, time.Duration(hc.headStart-now)+cfg.headerTimeout)
		} else {
			hc.disarm()
		}
	case len(hc.q) == 0 && hc.reader == nil && len(rest) == 0:
		hc.setState(StateIdle)
		if hc.ls.draining {
			hc.close()
			return
		}
		if cfg.idleTimeout > 0 {
			hc.arm(phaseIdle, cfg.idleTimeout)
		} else {
			hc.disarm()
		}
	default:
		hc.disarm()
	}
}

// arm sets the read timeout's phase, to end d from now. The time is kept
// by evnet's timing wheel (Conn.SetTimer), which costs the connection no
// timer of its own: moving it is a few stores.
func (hc *conn) arm(phase uint8, d time.Duration) {
	hc.phase = phase
	hc.c.SetTimer(d)
}

// disarm turns the read timeout off.
func (hc *conn) disarm() {
	if hc.phase != phaseNone {
		hc.phase = phaseNone
		hc.c.StopTimer()
	}
}

// onTimer is evnet's OnTimer: the read timeout of hc's phase has come.
func onTimer(c *evnet.Conn) {
	hc := serverConn(c)
	if hc.flags&cClosed != 0 || hc.phase == phaseNone {
		return
	}
	ls := hc.ls
	phase := hc.phase
	hc.phase = phaseNone
	prev := ls.enter(hc)
	defer ls.leave(hc, prev)
	switch phase {
	case phaseIdle, phaseLinger:
		hc.close()
	case phaseHeader:
		if hc.requests == 0 && len(hc.c.Peek()) == 0 {
			hc.close() // connected and never said a word
			return
		}
		hc.fail(408)
	case phaseBody:
		if x := hc.reader; x != nil {
			hc.bodyFailed(x, errBodyTimeout)
		}
	}
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

// eofDue notes that x's body ended before the handler asked for it: the
// io.EOF call is made by the next pump.
func (hc *conn) eofDue(x *exchange) {
	x.flags |= xEOFDue
	hc.flags |= cEOFDue
	hc.wake()
}
