package evnet

// The Conn type and its life: the handler and the flags, opening
// (accepted, adopted, dialled), the readiness callback that dispatches to
// the read and write paths, closing (Close, CloseWrite, Abort, errors) and
// the socket options. The read path is in read.go, the write path in
// write.go (and sendfile.go), the timeouts in timeout.go.

import (
	"fmt"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/sock"
)

// Handler holds the callbacks of a connection. Every field may be nil
// except OnData. The callbacks run on the loop's goroutine, one at a time;
// method values (srv.onData) are the way to reach the program's own state
// without a closure per connection. See the package documentation for the
// order in which they run.
type Handler struct {
	// OnOpen runs once when the connection is established: accepted,
	// adopted, or dialled and connected; for a TLS connection, once its
	// handshake is done. A handler given to SetHandler once the connection
	// is open never has its OnOpen called.
	OnOpen func(c *Conn)
	// OnData receives the bytes read, preceded by those an earlier call
	// left unconsumed, and returns how many it consumed. The slice is only
	// valid during the call: it is the loop's shared read buffer or the
	// connection's own; what the callback does not consume is kept and
	// given again with the next bytes.
	OnData func(c *Conn, p []byte) (consumed int)
	// OnDrain runs when the output queue, after having been over the high
	// watermark (Full), falls to the low watermark.
	OnDrain func(c *Conn)
	// OnEOF, if not nil, runs when the peer has shut down its side for
	// writing; the connection stays open for writing until the program
	// closes it. If nil, the connection is closed after its output queue is
	// flushed, with ErrEOF. A handler given to SetHandler after the EOF
	// is told again (see SetHandler).
	OnEOF func(c *Conn)
	// OnClose runs exactly once, when the connection has been closed, with
	// the reason: ErrEOF, ErrLocalClose, ErrAborted, ErrTimeout,
	// ErrOverflow, an error wrapping ErrReset, or an error wrapping the
	// errno; for TLS also ErrTruncated, an error wrapping ErrHandshake, or
	// one wrapping crypto/tls's. A dial or a TLS handshake that fails runs
	// OnClose without OnOpen.
	OnClose func(c *Conn, reason error)
	// OnTimer runs when the time set with SetTimer has come. If nil, the
	// connection is closed with ErrTimeout then instead: SetTimer is a
	// deadline.
	OnTimer func(c *Conn)
}

// shared is what the connections of one listener (or one dialled or
// adopted connection) have in common. Immutable after creation.
type shared struct {
	h  Handler
	o  ConnConfig
	ls *loopState
	// m is the Group member that keeps track of the connections, or nil:
	// open and callClose tell it, whatever the connection's handler.
	m *member
	// tls, if not nil, makes the connections TLS ones (tls.go).
	tls *tlsShared
	// st, if not nil, counts what the connections do: a listener's
	// (stats.go); the counters themselves are atomics.
	st *listenerCounters
}

// Conn flags.
const (
	fClosed     uint32 = 1 << iota // descriptor closed; the handle is dead
	fClosing                       // Close called: close once the queue is flushed
	fWriteShut                     // CloseWrite called
	fShutDone                      // shutdown(SHUT_WR) done
	fPaused                        // PauseRead
	fEOF                           // the peer shut down its side
	fOverHigh                      // the queue went over HighWater: OnDrain due
	fInCb                          // one of the connection's callbacks is running
	fCloseDue                      // OnClose waits for the running callback to return
	fConnecting                    // a dial in progress
	fRedeliver                     // unconsumed input (or fEOFDue) to give again; read no further until then
	fOpened                        // OnOpen ran
	fHandler                       // x.h replaces sh.h (SetHandler)
	fEOFDue                        // the peer's EOF, to report to a handler set after it came
	fTLS                           // a TLS connection: x.tls holds its state (tls.go)
	fHandshake                     // its TLS handshake is not done yet
	fHold                          // reading held by the TLS layer (handshake input full, or waiting for a slot)
	fShared                        // the descriptor may have other copies (adopted, or Fd handed out): see finish
)

// Conn is a stream connection (TCP, Unix, or an adopted descriptor) on a
// loop. Its methods must be called on the loop's goroutine. A Conn holds
// no buffer while idle: unconsumed input and unsent output are kept only
// while there are some. After it is closed, every method returns ErrClosed
// or does nothing, and never touches the descriptor number again (which the
// system may have given to a new descriptor).
//
// An idle connection is kept small: what only some connections need lives
// in a side struct, allocated when first needed.
type Conn struct {
	w     eddy.IO // first: connIO finds the Conn from it (checked at compile time)
	sh    *shared
	q     *outq      // unsent output; nil when there is none
	tm    *timing    // timeouts; nil when there are none
	x     *connExtra // nil until needed
	ctx   any        // SetContext's value
	flags uint32
	why   uint8 // the close reason, once known: a why code
	slot  int32 // index in its loop's conns (loopState.conns)
}

// connExtra holds what few connections need.
type connExtra struct {
	in   []byte   // unconsumed input; nil when there is none
	why  error    // the close reason when it is whyOther
	h    *Handler // the handler given to SetHandler (when fHandler)
	tls  *tlsConn // the TLS layer (when fTLS)
	pump *tlsPump // a TLS connection's file regions and what follows them (tls_sendfile.go)
}

// The close reasons that need no connExtra.
const (
	whyNone uint8 = iota
	whyEOF
	whyLocalClose
	whyAborted
	whyTimeout
	whyOverflow
	whyOther // in x.why
)

var whyErrs = [...]error{whyEOF: ErrEOF, whyLocalClose: ErrLocalClose, whyAborted: ErrAborted,
	whyTimeout: ErrTimeout, whyOverflow: ErrOverflow}

// reason returns the close reason, or nil.
func (c *Conn) reason() error {
	switch c.why {
	case whyNone:
		return nil
	case whyOther:
		return c.x.why
	}
	return whyErrs[c.why]
}

// setReason sets the close reason.
func (c *Conn) setReason(err error) {
	for code, e := range whyErrs {
		if e != nil && e == err {
			c.why = uint8(code)
			return
		}
	}
	c.extra().why = err
	c.why = whyOther
}

func (c *Conn) extra() *connExtra {
	if c.x == nil {
		c.x = &connExtra{}
	}
	return c.x
}

// handler returns the connection's handler: the one given to SetHandler,
// if any, else its listener's (or Dial's, or Adopt's).
func (c *Conn) handler() *Handler {
	if c.flags&fHandler != 0 {
		return c.x.h
	}
	return &c.sh.h
}

func newConn(sh *shared, fd int) *Conn {
	c := &Conn{sh: sh}
	c.w.Init(connIO, fd, eddy.Read)
	if sh.tls != nil {
		c.initTLS()
	}
	return c
}

// connIO is the readiness callback of every Conn, whose first field is
// the watcher: one function for all, where a method value (c.onIO) would
// cost an allocation per connection.
func connIO(w *eddy.IO, ev eddy.Events) { (*Conn)(unsafe.Pointer(w)).onIO(ev) }

// The cast in connIO is sound only while the watcher is at offset 0 of
// Conn. This declaration checks it at compile time: an array whose
// length is w's offset is a [0]struct{} only when the offset is 0, so
// moving w, or putting a field before it, fails the build here.
var _ [0]struct{} = [unsafe.Offsetof(Conn{}.w)]struct{}{}

// start registers c with the loop and sets up its timeouts.
func (c *Conn) start(events eddy.Events) error {
	c.w.Set(c.w.Fd(), events)
	if err := c.w.Start(c.sh.ls.loop); err != nil {
		return err
	}
	c.sh.ls.retain()
	c.sh.ls.track(c)
	o := &c.sh.o
	if o.IdleTimeout > 0 || o.WriteTimeout > 0 {
		t := c.timing()
		t.idle, t.wto = msDur(o.IdleTimeout), msDur(o.WriteTimeout)
		c.sh.ls.schedule(c)
	}
	return nil
}

func (c *Conn) closed() bool { return c.flags&fClosed != 0 }

// Loop returns the connection's loop.
func (c *Conn) Loop() *eddy.Loop { return c.sh.ls.loop }

// Fd returns the connection's descriptor, or -1 once it is closed. Once
// Fd has been called, closing the connection costs an epoll_ctl more on
// Linux: the descriptor may have been duplicated, and its registration
// must not outlive the close (see eddy.IO.StopForClose).
func (c *Conn) Fd() int {
	if c.closed() {
		return -1
	}
	c.flags |= fShared
	return c.w.Fd()
}

// Context returns the value set by SetContext.
func (c *Conn) Context() any { return c.ctx }

// SetContext attaches a value of the program's to the connection.
func (c *Conn) SetContext(v any) { c.ctx = v }

// SetHandler hands the connection over to h, another protocol's
// callbacks: from the next callback on, its events go to h.OnData,
// h.OnDrain, h.OnEOF and h.OnClose instead of the handler it was opened
// with. h.OnOpen is not called, the connection being open already; a
// protocol that needs it calls it itself. (On a dialled connection still
// connecting, h replaces the whole handler, and h.OnOpen runs when the
// connect completes.) The Context is left as it is.
//
// Called from one of c's callbacks, it takes effect when that callback
// returns: the rest of the callback is still the old handler's. Nothing
// h would need is lost in between:
//   - the input the old handler left unconsumed (what Peek returns) is
//     given to h.OnData without waiting for new bytes from the peer, in
//     the current or next loop iteration, before anything read after it
//     (unless reading is paused: then ResumeRead gives it);
//   - if the peer has already shut down its side, h learns it as if it
//     had just happened, after that input: h.OnEOF runs, or, if it is
//     nil, the connection is closed after its output with ErrEOF;
//   - the output queue stays as it is, and OnDrain, when it falls to the
//     low watermark, is h's;
//   - a connection of a Group stays in its bookkeeping: Shutdown closes
//     it and waits for it as for any other.
//
// If the connection has closed during the callback that calls
// SetHandler, h.OnClose is the one that runs after it; once OnClose has
// run (or while it runs), SetHandler does nothing. SetHandler may be
// called any number of times; the last handler wins.
func (c *Conn) SetHandler(h Handler) {
	if c.flags&(fClosed|fCloseDue) == fClosed {
		return // OnClose ran, or is running
	}
	c.extra().h = &h
	c.flags |= fHandler
	if c.flags&(fOpened|fClosed|fClosing) != fOpened {
		return // connecting, or closed or closing: no more input for h
	}
	if c.flags&fEOF != 0 {
		c.flags |= fEOFDue
	}
	// Inside a callback, OnData may yet leave input (kept after it returns).
	if len(c.input()) > 0 || c.flags&(fInCb|fEOFDue) != 0 {
		c.flags |= fRedeliver
		c.sh.ls.loop.Feed(&c.w, eddy.Read)
	}
}

// Err returns the reason the connection closed, or nil while it is open.
func (c *Conn) Err() error {
	if c.closed() {
		return c.reason()
	}
	return nil
}

// onIO is the connection's readiness callback.
func (c *Conn) onIO(ev eddy.Events) {
	if c.flags&fConnecting != 0 {
		if ev&(eddy.Write|eddy.Error|eddy.Hangup) != 0 {
			c.connected()
		}
		return
	}
	if c.q != nil && ev&(eddy.Write|eddy.Error|eddy.Hangup) != 0 {
		c.flush()
	}
	if c.flags&fRedeliver != 0 && c.flags&(fClosed|fClosing|fPaused) == 0 {
		c.redeliver()
	}
	if ev&(eddy.Read|eddy.Error|eddy.Hangup) != 0 {
		c.readSome()
	}
}

// interest sets the watcher's events from c's state.
func (c *Conn) interest() {
	if c.closed() {
		return
	}
	var ev eddy.Events
	if c.reading() {
		ev |= eddy.Read
	}
	if c.q != nil || c.flags&fConnecting != 0 {
		ev |= eddy.Write
	}
	c.w.Modify(ev)
}

// leave ends a callback of c's, and runs OnClose if c closed meanwhile.
func (c *Conn) leave() {
	c.flags &^= fInCb
	if c.flags&fCloseDue != 0 {
		c.flags &^= fCloseDue
		c.callClose()
	}
}

// CloseWrite shuts the connection down for writing (a TCP FIN) once the
// output queue is flushed, and keeps reading. Further Writes return
// ErrWriteClosed.
func (c *Conn) CloseWrite() error {
	if c.flags&(fClosed|fClosing) != 0 {
		return ErrClosed
	}
	if c.flags&fWriteShut != 0 {
		return nil
	}
	c.flags |= fWriteShut
	if c.flags&fTLS != 0 {
		if !c.tlsCloseNotify() {
			return nil // after the handshake; or closed
		}
	}
	if c.q == nil && c.flags&fConnecting == 0 {
		c.shutdown()
	}
	return nil
}

func (c *Conn) shutdown() {
	c.flags |= fShutDone
	if err := unix.Shutdown(c.w.Fd(), unix.SHUT_WR); err != nil && err != unix.ENOTCONN && err != unix.ENOTSOCK {
		c.fail(reason("shutdown", err))
		return
	}
	if c.flags&fEOF != 0 { // both directions are done
		if c.why == whyNone {
			c.why = whyEOF
		}
		c.finish()
	}
}

// Close closes the connection gracefully: it stops reading, flushes the
// output queue, then closes the descriptor and runs OnClose with
// ErrLocalClose. Closing a closed or closing connection returns ErrClosed.
func (c *Conn) Close() error {
	if c.flags&(fClosed|fClosing) != 0 {
		return ErrClosed
	}
	if c.why == whyNone {
		c.why = whyLocalClose
	}
	if c.flags&fTLS != 0 && c.flags&fWriteShut == 0 {
		c.tlsCloseNotify()
		if c.closed() {
			return nil
		}
	}
	c.flags |= fClosing
	if c.q == nil && (c.x == nil || c.x.pump == nil) || c.flags&(fConnecting|fHandshake) != 0 {
		c.finish()
		return nil
	}
	c.interest()
	return nil
}

// Abort closes the connection at once, dropping its output queue, and
// makes the kernel send a reset (SO_LINGER 0) to the peer. OnClose runs
// with ErrAborted.
func (c *Conn) Abort() error {
	if c.closed() {
		return ErrClosed
	}
	sock.SetLinger(c.w.Fd(), 0) // fails harmlessly on a non-socket
	c.fail(ErrAborted)
	return nil
}

// fail closes c at once with the reason err, unless it is closed.
func (c *Conn) fail(err error) {
	if c.closed() {
		return
	}
	if c.why == whyNone || c.why == whyLocalClose || c.why == whyEOF {
		c.setReason(err)
	}
	c.finish()
}

// loopClosed closes c at once because its loop is closing, with a reset
// if output is still queued: it can no longer be sent.
func (c *Conn) loopClosed() {
	if c.q != nil {
		sock.SetLinger(c.w.Fd(), 0)
	}
	c.fail(eddy.ErrClosed)
}

// finish closes the descriptor, frees the buffers and runs OnClose (after
// the running callback of c's, if there is one).
func (c *Conn) finish() {
	if c.closed() {
		return
	}
	ls := c.sh.ls
	if c.tm != nil && c.tm.at >= 0 {
		ls.unlink(c)
	}
	c.flags |= fClosed
	c.flags &^= fClosing
	// StopForClose, not Stop: the loop settles the registration now, not
	// after the close. A descriptor that is the connection's alone (accepted
	// or dialled, close-on-exec, never handed out) has its epoll
	// registration removed by the close itself: no epoll_ctl.
	c.w.StopForClose(c.flags&fShared != 0)
	if c.flags&fTLS != 0 {
		c.x.tls.finish() // before the close: a handshake may write to the descriptor
	}
	unix.Close(c.w.Fd())
	q := c.q
	c.q = nil
	if q != nil && len(q.files) > 0 {
		c.releaseRegions(q)
	}
	if c.x != nil {
		c.x.in = nil
		if c.x.pump != nil {
			c.pumpRelease()
		}
	}
	ls.forget(c)
	ls.release()
	c.countClose()
	if c.flags&fInCb != 0 {
		c.flags |= fCloseDue
		return
	}
	c.callClose()
}

// callClose runs OnClose, between the group's bookkeeping if c belongs
// to a Group.
func (c *Conn) callClose() {
	m := c.sh.m
	if c.flags&fOpened == 0 {
		m = nil // a TLS handshake that failed: never counted
	}
	if m != nil {
		m.forget(c)
	}
	if f := c.handler().OnClose; f != nil {
		f(c, c.reason())
	}
	if m != nil {
		m.maybeDone()
	}
}

// SetNoDelay sets or clears TCP_NODELAY (set by default unless
// ConnConfig.Delay).
func (c *Conn) SetNoDelay(on bool) error {
	return c.setInt(unix.IPPROTO_TCP, unix.TCP_NODELAY, on)
}

// SetKeepAlive turns TCP keepalive probes on or off.
func (c *Conn) SetKeepAlive(on bool) error {
	return c.setInt(unix.SOL_SOCKET, unix.SO_KEEPALIVE, on)
}

// SetLinger sets SO_LINGER: sec < 0 is the default (close returns at once
// and the kernel sends the rest), 0 makes close reset the connection.
func (c *Conn) SetLinger(sec int) error {
	if c.closed() {
		return ErrClosed
	}
	return wrap("setsockopt SO_LINGER", sock.SetLinger(c.w.Fd(), sec))
}

// SetReadBuffer sets the kernel's receive buffer size (SO_RCVBUF). On an
// established TCP connection, making it smaller than it was can stall the
// peer: the window scale was settled for the size the socket had in the
// handshake, and the peer may be offered a window the buffer cannot hold,
// then back off exponentially while probing it. To get a small receive
// buffer, ask for it before the connect or the listen:
// ConnConfig.ReadBuffer.
func (c *Conn) SetReadBuffer(bytes int) error {
	if c.closed() {
		return ErrClosed
	}
	return wrap("setsockopt SO_RCVBUF", unix.SetsockoptInt(c.w.Fd(), unix.SOL_SOCKET, unix.SO_RCVBUF, bytes))
}

// SetWriteBuffer sets the kernel's send buffer size (SO_SNDBUF).
func (c *Conn) SetWriteBuffer(bytes int) error {
	if c.closed() {
		return ErrClosed
	}
	return wrap("setsockopt SO_SNDBUF", unix.SetsockoptInt(c.w.Fd(), unix.SOL_SOCKET, unix.SO_SNDBUF, bytes))
}

func (c *Conn) setInt(level, opt int, on bool) error {
	if c.closed() {
		return ErrClosed
	}
	v := 0
	if on {
		v = 1
	}
	return wrap("setsockopt", unix.SetsockoptInt(c.w.Fd(), level, opt, v))
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("evnet: %s: %w", op, err)
}

// LocalAddr returns the local address of a TCP connection (the zero
// AddrPort for other kinds).
func (c *Conn) LocalAddr() netip.AddrPort {
	if c.closed() {
		return netip.AddrPort{}
	}
	ap, _ := sock.LocalAddr(c.w.Fd())
	return ap
}

// RemoteAddr returns the peer's address of a TCP connection (the zero
// AddrPort for other kinds).
func (c *Conn) RemoteAddr() netip.AddrPort {
	if c.closed() {
		return netip.AddrPort{}
	}
	ap, _ := sock.RemoteAddr(c.w.Fd())
	return ap
}

// String describes the connection for logs.
func (c *Conn) String() string {
	if c.closed() {
		return "evnet.Conn(closed)"
	}
	return fmt.Sprintf("evnet.Conn(fd %d, %d bytes queued)", c.w.Fd(), c.Buffered())
}

// open runs OnOpen, for a connection just established, after its
// Group, if any, has started keeping track of it.
func (c *Conn) open() {
	if c.flags&fOpened == 0 { // else opened before StartTLS*
		c.flags |= fOpened
		if m := c.sh.m; m != nil {
			m.track(c)
		}
	}
	if f := c.handler().OnOpen; f != nil {
		c.flags |= fInCb
		f(c)
		c.leave()
	}
}

// accepted opens a connection just accepted: OnOpen runs now, or, for
// a TLS connection, once its handshake is done.
func (c *Conn) accepted() {
	if c.flags&fTLS != 0 {
		c.awaitHandshake()
		return
	}
	c.open()
}

// connected ends a nonblocking connect.
func (c *Conn) connected() {
	if err := sock.ConnectResult(c.w.Fd()); err != nil {
		c.fail(fmt.Errorf("evnet: connect: %w", err))
		return
	}
	c.flags &^= fConnecting
	if c.tm != nil {
		now := c.sh.ls.stamp()
		c.tm.lastRead, c.tm.lastWrite = now, now
		c.sh.ls.schedule(c) // from the dial deadline to the idle one
	}
	if !c.sh.o.Delay {
		unix.SetsockoptInt(c.w.Fd(), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	}
	if c.flags&fTLS != 0 {
		c.startHandshake() // OnOpen when it is done
		return
	}
	c.open()
	if c.closed() {
		return
	}
	if c.flags&fClosing != 0 {
		return
	}
	if c.q != nil {
		c.flush()
		if c.closed() {
			return
		}
	} else if c.flags&(fWriteShut|fShutDone) == fWriteShut {
		c.shutdown()
	}
	c.interest()
}
