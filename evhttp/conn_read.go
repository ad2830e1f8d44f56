package evhttp

// The read path of a server connection and its read timeouts: pump
// consumes the input (a request body through h1.Body, the next head through
// h1.Parser), dispatch starts an exchange for each head and runs the handler,
// and settle ends each pass over the input: it keeps the heads that outlive
// the read buffer, pauses or resumes reading, and arms the read timeout of
// the phase the connection is in (header, body, idle, linger), which onTimer
// enforces.

import (
	"math"
	"time"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

// Read timeout phases.
const (
	phaseNone uint8 = iota
	phaseHeader
	phaseBody
	phaseIdle
	phaseLinger
)

// pump consumes what it can of p and returns how much. A handler that
// panics (serve) ends the pass: its exchange is answered 500, or cut, and
// the connection closes after it; a panic outside a handler is evhttp's
// own and is not hidden.
func (hc *conn) pump(p []byte) (n int) {
	defer func() {
		if v := recover(); v != nil {
			x := hc.handling
			if x == nil {
				panic(v)
			}
			hc.handling = nil
			hc.recovered(x, v)
		}
	}()
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
		if hc.flags&cPlainOnTLS != 0 {
			hc.failWith(400, plainOnTLS)
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
		n += k // before the handler runs: a panic ends the pass with the head consumed
		hc.dispatch(x, p[n-k:n])
	}
	return n
}

// canParse reports whether the next request may be parsed now.
func (hc *conn) canParse() bool {
	return hc.flags&(cCloseAfter|cLinger|cClosed) == 0 && !hc.ls.draining &&
		int(hc.queued) < hc.ls.cfg.maxPipelined && !hc.c.Full() && (hc.q == nil || hc.q.flags&xHold == 0)
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
		for y := hc.head(); y != nil; y = hc.after(y) {
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

// eofDue notes that x's body ended before the handler asked for it: the
// io.EOF call is made by the next pump.
func (hc *conn) eofDue(x *exchange) {
	x.flags |= xEOFDue
	hc.flags |= cEOFDue
	hc.wake()
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
	x.begun = ls.clock()
	hc.push(x)
	if hc.requests < math.MaxInt32 {
		hc.requests++
	}
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

// serve runs the handler for x. pump recovers a panic (one deferred
// call per pass over the input, not one per request): hc.handling tells
// it whose handler panicked.
func (hc *conn) serve(x *exchange) {
	hc.handling = x
	hc.ls.cfg.handler.ServeHTTP1(&x.w, &x.r)
	hc.handling = nil
}

// settle ends a pass over the input: it copies the heads that outlive the
// read buffer, pauses or resumes reading, sets the read timeout and the
// connection's state. rest is the input left unconsumed.
func (hc *conn) settle(rest []byte) {
	if hc.flags&(cClosed|cLinger) != 0 {
		return
	}
	for x := hc.head(); x != nil; x = hc.after(x) {
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
	if hc.flags&cEOF != 0 && hc.q == nil && hc.reader == nil && (len(rest) == 0 || hc.flags&cPartial != 0) {
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
	case hc.flags&cPartial != 0 || hc.requests == 0 && hc.q == nil:
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
	case hc.q == nil && hc.reader == nil && len(rest) == 0:
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
