package evhttp

// The queue of a server connection's exchanges, in request order, and
// their bookkeeping: advance sends the responses that reach the front and
// takes out the ended ones, write and flushOut put their bytes on the
// connection, and an exchange is over once its response has left the queue
// and its body is done (retire), or when it ends without its response
// (abort, cutAfter, truncate). The failures that end an exchange early are
// here too: a head that cannot be parsed (fail), a body that cannot be read
// (bodyFailed), a handler that panics (recovered, failHandler).

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
)

// advance sends the responses that reached the front of the queue and
// takes the ended ones out of it.
func (hc *conn) advance() {
	for hc.q != nil && hc.flags&cClosed == 0 {
		x := hc.q.next
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
		hc.pop()
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

// The queue is a ring of the exchanges' next links, hc.q its last and
// hc.q.next its first; an exchange out of the queue has a nil next.

// head returns the exchange at the front of the queue, or nil.
func (hc *conn) head() *exchange {
	if hc.q == nil {
		return nil
	}
	return hc.q.next
}

// after returns the exchange queued after x, or nil if x is the last.
func (hc *conn) after(x *exchange) *exchange {
	if x == hc.q {
		return nil
	}
	return x.next
}

// push queues x, which is in no queue, at the back.
func (hc *conn) push(x *exchange) {
	if last := hc.q; last == nil {
		x.next = x
	} else {
		x.next = last.next
		last.next = x
	}
	hc.q = x
	hc.queued++
}

// pop takes the exchange at the front out of the queue, which is not
// empty.
func (hc *conn) pop() {
	last := hc.q
	x := last.next
	if x == last {
		hc.q = nil
	} else {
		last.next = x.next
	}
	x.next = nil
	hc.queued--
}

// cut takes the exchanges queued after x (all of them if x is nil) out of
// the queue, and returns the first of them, or nil: they stay linked to
// each other by next, the last with a nil next, for the caller to unlink
// as it ends them. x, if not nil, is in the queue.
func (hc *conn) cut(x *exchange) *exchange {
	last := hc.q
	if last == nil || x == last {
		return nil
	}
	var first *exchange
	if x == nil {
		first = last.next
		hc.q = nil
	} else {
		first = x.next
		x.next = last.next
		hc.q = x
	}
	last.next = nil
	for y := first; y != nil; y = y.next {
		hc.queued--
	}
	return first
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

// retire ends x once its response has left the queue and its body is
// done, and takes it back for reuse.
func (hc *conn) retire(x *exchange) {
	if x.flags&xPopped == 0 || x.flags&(xAborted|xRetired) != 0 || hc.reader == x || x.flags&xEOFDue != 0 {
		return
	}
	x.flags |= xRetired
	if x.flags&xInternal == 0 {
		hc.over(x)
	} else {
		hc.ls.st.observe(x.statusClass(), 0) // the server's own error response
		if hc.ls.batch == nil {
			hc.ls.st.publish()
		}
	}
	if x.err == nil {
		hc.ls.put(x)
	}
}

// over runs the end-of-exchange hooks: OnDone and the access log.
func (hc *conn) over(x *exchange) {
	ls := hc.ls
	ls.st.observe(x.statusClass(), ls.clock()-x.begun)
	ls.count++
	if ls.batch == nil {
		ls.served.Store(ls.count) // else when the batch ends (leave)
		ls.st.publish()
	}
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

// cutAfter drops the exchanges queued after x: the connection closes
// after x's response, so theirs can never be sent.
func (hc *conn) cutAfter(x *exchange) {
	var from *exchange // the last one kept; nil drops them all
	switch {
	case x.flags&xPopped != 0:
	case x.next != nil: // x is queued
		from = x
	default:
		return
	}
	for y := hc.cut(from); y != nil; {
		next := y.next
		y.next = nil
		if hc.reader == y {
			hc.reader = nil
		}
		hc.abort(y, ErrConnClosing)
		y = next
	}
}

// truncate ends x's response where it is, without its proper end (no last
// chunk), and closes the connection after it: the client sees a response
// cut short, not a complete one.
func (hc *conn) truncate(x *exchange) {
	x.flags |= xEnded
	hc.flags |= cCloseAfter
	hc.cutAfter(x)
	hc.advance()
}

// fail answers a request that could not be parsed with status and closes
// the connection after the responses before it.
func (hc *conn) fail(status int) { hc.failWith(status, "") }

// plainOnTLS is what a plain request to a TLS listener is told.
const plainOnTLS = "plain HTTP request was sent to HTTPS port"

// failWith is fail with a detail after the status in the body.
func (hc *conn) failWith(status int, detail string) {
	hc.flags |= cCloseAfter
	x := hc.ls.get()
	x.hc = hc
	x.flags = xInternal | xBodyDone
	x.w.cl = -1
	x.r.h.Minor = 1
	hc.push(x)
	x.replaceWith(status, detail)
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
