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
// After the switch. handOver pauses reading, clears the Context (the new
// protocol's to use) and gives evnet a stand-in for h (Conn.SetHandler)
// that has only h.OnClose: the connection may close before h is open, and
// h did not fill the queue, so it needs no OnDrain. u.open, fed, then
// runs after the callback that made the switch: it makes h the
// connection's handler and resumes reading, and runs h.OnOpen. evnet
// offers h.OnData the input read before the switch (kept in its buffer)
// after OnOpen, and reports an EOF that came before it (cEOF) after that
// input; from there on, h gets evnet's events directly.

import (
	"errors"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/ascii"
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

// upgraded is the state of a connection being handed over by Upgrade,
// from the Upgrade call to h.OnOpen. Loop goroutine only.
type upgraded struct {
	h    evnet.Handler
	c    *evnet.Conn
	open eddy.Timer // fed by handOver: runs h.OnOpen
}

// Upgrade switches the connection to another protocol, one the client
// offered in its Upgrade field (Request.Upgrade), compared without regard
// to ASCII case: it answers "101 Switching Protocols" with "Upgrade:
// proto", "Connection: Upgrade" and the fields set in Header, ends the
// exchange, and hands the connection over to h, an evnet connection's
// callbacks. The server then forgets the connection: its timeouts stop
// (Server.WriteTimeout included), Shutdown neither waits for it nor
// closes it, Close does not reset it, and ConnState reports it hijacked.
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
// From the switch on, the connection is h's alone: evnet gives its
// events to h directly (evnet.Conn.SetHandler), and its Context, which
// the server clears, is h's to set (SetContext), in OnOpen or later. h
// may in turn hand the connection over to another handler (SetHandler).
func (w *ResponseWriter) Upgrade(proto string, h evnet.Handler) error {
	x := w.x
	if err := x.usable(); err != nil {
		return err
	}
	switch up := x.r.h.Upgrade; {
	case up == nil || proto == "" || !h1.HasToken(up, proto):
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
		if ascii.EqualFold(f.name, "Upgrade") {
			continue
		}
		dst = h1.AppendHeader(dst, f.name, f.value)
	}
	return append(dst, "\r\n"...)
}

// handOver switches hc to the handler of x, its upgrade exchange, which
// has just left the queue with its 101.
func (hc *conn) handOver(x *exchange) {
	ls := hc.ls
	if ls.batch == hc {
		hc.flushOut()
	}
	u := x.up
	x.up = nil
	c := hc.c
	u.c = c
	hc.flags |= cClosed // for the HTTP side, which touches c no more
	c.StopTimer()
	c.SetWriteTimeout(0)
	ls.remove(hc)
	hc.setState(StateHijacked)
	// h's until its OnOpen: no input, no OnDrain, but its OnClose.
	c.PauseRead()
	c.SetContext(nil)
	c.SetHandler(evnet.Handler{OnData: holdInput, OnClose: u.h.OnClose})
	if x.flags&xEOFDue != 0 {
		x.deliverEOF() // which pump, the connection being HTTP's no more, won't
	}
	hc.retire(x)
	u.open.Init(u.onOpen, 0, 0)
	ls.loop.Feed(&u.open, 0)
	ls.checkDrained()
}

// holdInput is the OnData of a connection between the switch and h.OnOpen,
// which reading is paused for: should it run, it keeps the input for h.
func holdInput(*evnet.Conn, []byte) int { return 0 }

// onOpen ends the switch, after the callback that made it returned: h
// becomes the connection's handler and reading resumes (evnet then offers
// h.OnData the input read before the switch, and the peer's EOF if it
// came), and h.OnOpen runs, before any of that. Not if the connection
// closed meanwhile: h.OnClose ran, without OnOpen.
func (u *upgraded) onOpen(*eddy.Timer) {
	c := u.c
	if c.Err() != nil {
		return
	}
	c.SetHandler(u.h)
	c.ResumeRead() // before OnOpen, which may pause it for good
	if f := u.h.OnOpen; f != nil {
		f(c)
	}
}
