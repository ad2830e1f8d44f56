package evhttp

// Protocol upgrades (RFC 9110 §7.8): a 101 response, then the connection
// handed over to another protocol's evnet callbacks.
//
// Before the switch. dispatch marks a request with Upgrade xHold, so that
// nothing after it is parsed as HTTP until its response ends: its bytes
// may be the new protocol's. ResponseWriter.Upgrade writes the 101 head
// like any response (into its pending buffer while earlier responses are
// not done) and ends the exchange with xUpgrade. When it leaves the queue
// (advance), handOver flushes the batch, so that the 101 is in evnet's
// queue before anything the new protocol writes, and lets go: the
// connection looks closed to the HTTP side (cClosed), leaves the loop's
// list (Shutdown, Close) and its timeouts stop.
//
// After the switch. evnet has no per-connection handler: the server's
// callbacks (conn.go) stay the connection's and pass every event to hc.up,
// found through the Context. OnOpen runs from hc.timer, fed by handOver
// (so never inside the callback that made the switch), or from the first
// event that comes before it. The input read before the switch is in
// evnet's buffer: PauseRead + ResumeRead has evnet offer it again, and an
// EOF the HTTP side saw (cEOF), or one that comes before that input was
// offered, is reported after it (uEOFDue).

import (
	"errors"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

// The errors of ResponseWriter.Upgrade.
var (
	// ErrNotUpgrade is returned by Upgrade for a request that does not ask
	// to upgrade (Request.Upgrade is nil), or not to that protocol.
	ErrNotUpgrade = errors.New("evhttp: not an upgrade request for that protocol")
	// ErrHeadSent is returned by Upgrade once the response head has been
	// sent: the response can no longer be a 101.
	ErrHeadSent = errors.New("evhttp: response head already sent")
	// ErrUpgradeBody is returned by Upgrade before the request body has
	// been read to its end: the new protocol starts after it.
	ErrUpgradeBody = errors.New("evhttp: upgrade before the request body was read to its end")
)

// upgraded is the state of a connection handed over by Upgrade. Loop
// goroutine only.
type upgraded struct {
	h     evnet.Handler
	flags uint8
}

// upgraded flags.
const (
	uOpened   uint8 = 1 << iota // OnOpen ran, or the connection closed before it could
	uRest                       // input read before the switch, not offered to OnData yet
	uEOFDue                     // the peer's EOF, to report after that input
	uEOFClose                   // closed for the peer's EOF (OnEOF nil)
)

// Upgrade switches the connection to another protocol, one the client
// offered in its Upgrade field (Request.Upgrade), compared without regard
// to ASCII case: it answers "101 Switching Protocols" with "Upgrade:
// proto", "Connection: Upgrade" and the fields set in Header, ends the
// exchange, and hands the connection over to h, an evnet connection's
// callbacks. The server then forgets the connection: its timeouts stop
// (Server.WriteTimeout included), Shutdown neither waits for it nor
// closes it, Close does not reset it, and ConnState reports it closed.
//
// Upgrade may be called in the handler or later, on the loop, until the
// response ends, and:
//   - only for a request that offers proto (ErrNotUpgrade otherwise);
//   - before the head is sent (ErrHeadSent) and without body written
//     (ErrBodyNotAllowed); interim responses (100 Continue) may precede it;
//   - once the request body, if any, has been read to its end
//     (ErrUpgradeBody): a request with a body upgrades from its body
//     callback, OnBody's last call or ReadAll's;
//   - once: after the response ended, a first Upgrade included, it
//     returns ErrEnded (or the error that ended the exchange).
//
// A handler that does not call Upgrade answers the request as any other
// (RFC 9110 §7.8 lets a server ignore Upgrade), and the connection goes
// on with HTTP. Either way, nothing the client sent after an upgrade
// request is parsed as HTTP until its response ends: pipelined requests
// before it are answered first, in order, and the bytes after it are the
// new protocol's, or the next request's.
//
// The switch happens when the 101 leaves the server's queue, after the
// responses to the requests before it; the exchange is then over (OnDone
// runs, with a nil error). h's callbacks then run as evnet documents
// them for a connection: OnOpen first, from the loop, after the callback
// that made the switch has returned; OnData then gets the bytes the
// client sent after the request (already read: they come at once), and
// then what it sends; OnDrain, OnEOF (if nil, the connection is closed
// after its output, with evnet.ErrEOF), and OnClose, exactly once, last.
// If the connection closes before the switch (the client leaves, an
// earlier response fails), the exchange ends with that error and h is
// never called; if it closes between the switch and OnOpen, OnClose runs
// without OnOpen, as for a dial that fails.
//
// The special problem of the Context: the server still finds its state,
// through which h gets the connection's events, in the connection's
// Context, so h must not call SetContext; a protocol keeps its state in a
// struct of its own whose methods are h's callbacks (method values).
func (w *ResponseWriter) Upgrade(proto string, h evnet.Handler) error {
	x := w.x
	if err := x.usable(); err != nil {
		return err
	}
	switch up := x.r.h.Upgrade; {
	case up == nil || proto == "" || !hasToken(string(up), proto):
		return ErrNotUpgrade
	case x.flags&xHeadSent != 0:
		return ErrHeadSent
	case w.nbuf > 0:
		return ErrBodyNotAllowed
	case x.flags&xBodyDone == 0:
		return ErrUpgradeBody
	}
	x.up = &upgraded{h: h}
	x.flags |= xUpgrade | xHeadSent | xNoBody
	w.status = 101
	w.cl = -1
	dst, sink := x.begin()
	dst = x.appendUpgradeHead(dst, proto)
	x.end(dst, sink)
	if x.flags&xAborted != 0 {
		return x.err
	}
	x.flags |= xEnded
	x.hc.advance()
	return nil
}

// appendUpgradeHead appends the head of the 101 response.
func (x *exchange) appendUpgradeHead(dst []byte, proto string) []byte {
	dst = h1.AppendStatusLine(dst, 1, 101)
	dst = h1.AppendHeader(dst, "Upgrade", proto)
	dst = append(dst, "Connection: Upgrade\r\n"...)
	for i := range x.w.hdr.f {
		f := &x.w.hdr.f[i]
		switch f.kind {
		case kInvalid, kContentLength, kTransferEncoding, kConnection:
			continue
		}
		if foldEq(f.name, "Upgrade") {
			continue
		}
		dst = h1.AppendHeader(dst, f.name, f.value)
	}
	return append(dst, "\r\n"...)
}

// serverConn returns the server's state of c.
func serverConn(c *evnet.Conn) *conn {
	hc, ok := c.Context().(*conn)
	if !ok {
		panic("evhttp: the Context of a server connection was replaced (see ResponseWriter.Upgrade)")
	}
	return hc
}

// handOver switches hc to the handler of x, its upgrade exchange, which
// has just left the queue with its 101.
func (hc *conn) handOver(x *exchange) {
	ls := hc.ls
	if ls.batch == hc {
		hc.flushOut()
	}
	hc.up, x.up = x.up, nil
	hc.flags |= cClosed // for the HTTP side
	hc.timer.Stop()
	hc.c.SetWriteTimeout(0)
	ls.remove(hc)
	hc.setState(StateClosed)
	hc.retire(x)
	ls.loop.Feed(&hc.timer, 0) // upOpen, from onTimer
	ls.checkDrained()
}

// upOpen runs h.OnOpen, once. inData is set when it runs from OnData,
// which offers the input itself.
func (hc *conn) upOpen(inData bool) {
	u := hc.up
	if u.flags&uOpened != 0 {
		return
	}
	u.flags |= uOpened
	hc.timer.Stop() // the fed call, if this is not it
	c := hc.c
	if !inData {
		if len(c.Peek()) > 0 {
			u.flags |= uRest
		}
		if u.flags&uRest != 0 || c.IsPaused() {
			// Have evnet offer the input read before the switch, and
			// read on if the HTTP side had stopped.
			c.PauseRead()
			c.ResumeRead()
		}
	}
	if hc.flags&cEOF != 0 {
		u.flags |= uEOFDue // the peer shut its side before the switch
	}
	if f := u.h.OnOpen; f != nil {
		f(c)
	}
	if u.flags&(uRest|uEOFDue) == uEOFDue && !inData && c.Err() == nil {
		u.flags &^= uEOFDue
		hc.upEOFNow()
	}
}

// upData passes input to h.OnData.
func (hc *conn) upData(p []byte) int {
	u := hc.up
	hc.upOpen(true)
	c := hc.c
	if c.Err() != nil {
		return len(p)
	}
	k := len(p)
	if f := u.h.OnData; f != nil {
		k = f(c, p)
	}
	u.flags &^= uRest
	if u.flags&uEOFDue != 0 && c.Err() == nil {
		u.flags &^= uEOFDue
		hc.upEOFNow()
	}
	return k
}

// upDrain passes the drain to h.OnDrain.
func (hc *conn) upDrain() {
	hc.upOpen(false)
	if f := hc.up.h.OnDrain; f != nil && hc.c.Err() == nil {
		f(hc.c)
	}
}

// upEOF passes the peer's EOF to h, after the input read before the
// switch if that has not been offered yet.
func (hc *conn) upEOF() {
	u := hc.up
	hc.upOpen(false)
	switch {
	case hc.c.Err() != nil:
	case u.flags&uRest != 0:
		u.flags |= uEOFDue
	default:
		hc.upEOFNow()
	}
}

// upEOFNow reports the peer's EOF to h.OnEOF, or, without one, closes the
// connection after its output, as evnet does.
func (hc *conn) upEOFNow() {
	u := hc.up
	if f := u.h.OnEOF; f != nil {
		f(hc.c)
		return
	}
	u.flags |= uEOFClose
	hc.c.Close()
}

// upClose passes the close to h.OnClose.
func (hc *conn) upClose(reason error) {
	u := hc.up
	u.flags |= uOpened // too late for OnOpen
	hc.timer.Stop()
	if u.flags&uEOFClose != 0 && reason == evnet.ErrLocalClose {
		reason = evnet.ErrEOF // what evnet says when it closes for the EOF
	}
	if f := u.h.OnClose; f != nil {
		f(hc.c, reason)
	}
}
