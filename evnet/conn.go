package evnet

import (
	"fmt"
	"math"
	"net/netip"
	"time"
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
	// adopted, or dialled and connected. A handler given to SetHandler
	// once the connection is open never has its OnOpen called.
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
	// errno. A dial that fails runs OnClose without OnOpen.
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
}

// Conn flags.
const (
	fClosed     uint16 = 1 << iota // descriptor closed; the handle is dead
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
)

// notReading are the flags under which a connection does not read.
const notReading = fClosed | fClosing | fPaused | fEOF | fConnecting

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
	w     eddy.IO // first: connIO finds the Conn from it
	sh    *shared
	q     *outq      // unsent output; nil when there is none
	tm    *timing    // timeouts; nil when there are none
	x     *connExtra // nil until needed
	ctx   any        // SetContext's value
	flags uint16
	why   uint8 // the close reason, once known: a why code
	slot  int32 // index in its loop's conns (loopState.conns)
}

// connExtra holds what few connections need.
type connExtra struct {
	in  []byte   // unconsumed input; nil when there is none
	why error    // the close reason when it is whyOther
	h   *Handler // the handler given to SetHandler (when fHandler)
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

// input returns the unconsumed input.
func (c *Conn) input() []byte {
	if c.x == nil {
		return nil
	}
	return c.x.in
}

// outq is the output queue of a connection while it has one.
type outq struct {
	bufs [][]byte // bufs[0] is the next to send
	n    int      // bytes queued in bufs (what MaxBuffered bounds)
	// File regions queued with SendFile, in order, and where they sit
	// among bufs (see sendfile.go).
	files []*fileRegion
	fileN int64 // bytes of the file regions not sent yet
	tail  int   // buffers queued after the last region
}

// timing holds the timeouts of a connection, and its links in the loop's
// timing wheel. Times are nanoseconds since loopState.base.
type timing struct {
	idle, wto  int64
	lastRead   int64
	lastWrite  int64
	connDL     int64 // dial deadline, or -1
	alarm      int64 // SetTimer's time, or -1
	prev, next *Conn
	// at is the tick whose slot holds the connection (slot at%wheelSlots),
	// -1 when it is not in the wheel, tslotBusy while onTick has it.
	at int64
}

// minChunk is the smallest chunk of the output queue.
const minChunk = 16 << 10

// maxIovecs bounds the buffers of one writev.
const maxIovecs = 64

func newConn(sh *shared, fd int) *Conn {
	c := &Conn{sh: sh}
	c.w.Init(connIO, fd, eddy.Read)
	return c
}

// connIO is the readiness callback of every Conn, whose first field is
// the watcher: one function for all, where a method value (c.onIO) would
// cost an allocation per connection.
func connIO(w *eddy.IO, ev eddy.Events) { (*Conn)(unsafe.Pointer(w)).onIO(ev) }

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
		t.idle, t.wto = int64(o.IdleTimeout), int64(o.WriteTimeout)
		c.sh.ls.schedule(c)
	}
	return nil
}

func (c *Conn) timing() *timing {
	if c.tm == nil {
		now := c.sh.ls.now()
		c.tm = &timing{lastRead: now, lastWrite: now, connDL: -1, alarm: -1, at: -1}
	}
	return c.tm
}

// deadline returns c's earliest deadline, or -1.
func (c *Conn) deadline() int64 {
	dl := c.failAt()
	if c.tm != nil && c.flags&fClosed == 0 {
		if a := c.tm.alarm; a >= 0 && (dl < 0 || a < dl) {
			dl = a
		}
	}
	return dl
}

// failAt returns when c times out (dial, idle or write timeout), or -1.
func (c *Conn) failAt() int64 {
	t := c.tm
	if t == nil || c.flags&fClosed != 0 {
		return -1
	}
	dl := int64(-1)
	earliest := func(d int64) {
		if dl < 0 || d < dl {
			dl = d
		}
	}
	if c.flags&fConnecting != 0 {
		if t.connDL >= 0 {
			earliest(t.connDL)
		}
		return dl
	}
	if t.idle > 0 {
		earliest(t.lastRead + t.idle)
	}
	if t.wto > 0 && c.q != nil {
		earliest(t.lastWrite + t.wto)
	}
	return dl
}

// expire is the wheel's verdict on c, now: it fails with ErrTimeout if
// one of its timeouts has passed, else its SetTimer time, if come, rings.
func (c *Conn) expire(now int64) {
	if dl := c.failAt(); dl >= 0 && dl <= now {
		c.fail(ErrTimeout)
		return
	}
	t := c.tm
	if c.closed() || t.alarm < 0 || t.alarm > now {
		return
	}
	t.alarm = -1
	f := c.handler().OnTimer
	if f == nil {
		c.fail(ErrTimeout)
		return
	}
	c.flags |= fInCb
	f(c)
	c.leave()
}

func (c *Conn) closed() bool { return c.flags&fClosed != 0 }

// Loop returns the connection's loop.
func (c *Conn) Loop() *eddy.Loop { return c.sh.ls.loop }

// Fd returns the connection's descriptor, or -1 once it is closed.
func (c *Conn) Fd() int {
	if c.closed() {
		return -1
	}
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

// redeliver gives OnData the input left unconsumed again (ResumeRead,
// SetHandler), then reports an EOF due to a new handler.
func (c *Conn) redeliver() {
	c.flags &^= fRedeliver
	if len(c.input()) > 0 {
		c.deliver(nil)
	}
	// Not if OnData paused, closed, or asked for another round.
	if c.flags&fEOFDue != 0 && c.flags&(fClosed|fClosing|fPaused|fRedeliver) == 0 {
		c.flags &^= fEOFDue
		c.reportEOF()
	}
}

// reading reports whether c wants to read.
func (c *Conn) reading() bool {
	return c.flags&notReading == 0
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

func (c *Conn) readSome() {
	ls := c.sh.ls
	buf := ls.readBuf()
	for range maxReadsPerEvent {
		if c.flags&(notReading|fRedeliver) != 0 {
			return // fRedeliver: the input left goes first (ResumeRead, SetHandler)
		}
		n, err := rawRead(c.w.Fd(), buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return
		case err != nil:
			c.fail(reason("read", err))
			return
		case n == 0:
			c.eof()
			return
		}
		if c.tm != nil {
			c.tm.lastRead = ls.now()
		}
		c.deliver(buf[:n])
		if n < len(buf) {
			return // most likely all there was; level-triggered if not
		}
	}
}

// deliver gives OnData the unconsumed input followed by p, and keeps
// what it leaves.
func (c *Conn) deliver(p []byte) {
	data := p
	if in := c.input(); len(in) > 0 {
		if len(in)+len(p) > c.sh.o.MaxBuffered {
			c.fail(ErrOverflow)
			return
		}
		c.x.in = append(in, p...)
		data = c.x.in
	}
	k := len(data)
	if f := c.handler().OnData; f != nil {
		c.flags |= fInCb
		k = f(c, data)
		c.leave()
		k = min(max(k, 0), len(data))
	}
	if c.closed() {
		return
	}
	rest := data[k:]
	switch in := c.input(); {
	case len(rest) == 0:
		if in != nil {
			c.x.in = nil
		}
	case len(in) > 0:
		c.x.in = in[:copy(in, rest)]
	default:
		c.extra().in = append(make([]byte, 0, max(len(rest), 512)), rest...)
	}
}

// leave ends a callback of c's, and runs OnClose if c closed meanwhile.
func (c *Conn) leave() {
	c.flags &^= fInCb
	if c.flags&fCloseDue != 0 {
		c.flags &^= fCloseDue
		c.callClose()
	}
}

func (c *Conn) eof() {
	c.flags |= fEOF
	c.interest()
	c.reportEOF()
}

// reportEOF tells the handler that the peer shut down its side: OnEOF,
// or, without one, Close with ErrEOF.
func (c *Conn) reportEOF() {
	if f := c.handler().OnEOF; f != nil {
		c.flags |= fInCb
		f(c)
		c.leave()
		return
	}
	if c.why == whyNone {
		c.why = whyEOF
	}
	c.Close()
}

// Write sends p, or queues what the kernel does not take at once, and
// never blocks. With an empty queue it makes one write system call. It
// returns len(p) and nil when all of p was sent or queued; the connection
// keeps its own copy of what it queued. A Write that would take the queue
// past ConnConfig.MaxBuffered closes the connection with ErrOverflow and
// returns that error, and so does a kernel error (wrapped). After Close
// it returns ErrClosed, and after CloseWrite ErrWriteClosed. Full tells
// when the producer should stop.
func (c *Conn) Write(p []byte) (int, error) {
	switch {
	case c.flags&(fClosed|fClosing) != 0:
		return 0, ErrClosed
	case c.flags&fWriteShut != 0:
		return 0, ErrWriteClosed
	case len(p) == 0:
		return 0, nil
	}
	n := 0
	if c.q == nil && c.flags&fConnecting == 0 {
		var err error
		for {
			n, err = rawWrite(c.w.Fd(), p)
			if err != unix.EINTR {
				break
			}
		}
		switch {
		case err == unix.EAGAIN:
			n = 0
		case err != nil:
			c.fail(reason("write", err))
			return 0, c.reason()
		}
		if n == len(p) {
			if c.tm != nil {
				c.tm.lastWrite = c.sh.ls.now()
			}
			return n, nil
		}
	}
	if err := c.enqueue(p[n:]); err != nil {
		return n, err
	}
	return len(p), nil
}

// enqueue copies p to the output queue.
func (c *Conn) enqueue(p []byte) error {
	q := c.q
	queued := 0
	if q != nil {
		queued = q.n
	}
	if queued+len(p) > c.sh.o.MaxBuffered {
		c.fail(ErrOverflow)
		return ErrOverflow
	}
	first := q == nil
	if first {
		q = &outq{}
		c.q = q
	}
	q.n += len(p)
	if k := len(q.bufs); k > 0 && q.appendable() {
		last := q.bufs[k-1]
		m := min(cap(last)-len(last), len(p))
		q.bufs[k-1] = append(last, p[:m]...)
		p = p[m:]
	}
	if len(p) > 0 {
		q.bufs = append(q.bufs, append(make([]byte, 0, max(len(p), minChunk)), p...))
		q.addedBuf()
	}
	c.queued(first)
	return nil
}

// queued notes what was just added to the output queue: the high
// watermark, and, if the queue was empty before (first), the write
// interest and the write timeout.
func (c *Conn) queued(first bool) {
	if c.q.total() > int64(c.sh.o.HighWater) {
		c.flags |= fOverHigh
	}
	if first {
		c.interest()
		if c.tm != nil {
			c.tm.lastWrite = c.sh.ls.now()
			if c.tm.wto > 0 {
				c.sh.ls.schedule(c)
			}
		}
	}
}

// flush writes the output queue with writev until the kernel refuses.
func (c *Conn) flush() {
	q := c.q
	for q.n > 0 || len(q.files) > 0 {
		if len(q.files) > 0 && q.files[0].nbufs == 0 {
			if !c.flushRegion(q) {
				if c.closed() {
					return
				}
				break // the kernel is full
			}
			continue
		}
		iov := q.bufs[:min(maxIovecs, q.bufsBefore())]
		n, offered, err := writev(c.w.Fd(), iov)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			n, offered = 0, 1
		case err != nil:
			c.fail(reason("write", err))
			return
		}
		if c.tm != nil && n > 0 {
			c.tm.lastWrite = c.sh.ls.now()
		}
		q.n -= n
		short := n < offered
		for n > 0 {
			b := q.bufs[0]
			if n < len(b) {
				q.bufs[0] = b[n:]
				break
			}
			n -= len(b)
			q.bufs[0] = nil
			q.bufs = q.bufs[1:]
			q.sentBuf()
		}
		if short {
			break // the kernel took less than offered: it is full
		}
	}
	if q.n == 0 && len(q.files) == 0 {
		c.q = nil
		c.drained()
		return
	}
	if c.flags&fOverHigh != 0 && q.total() <= int64(c.sh.o.LowWater) {
		c.drain()
	}
}

// drain runs OnDrain, the queue having fallen to the low mark.
func (c *Conn) drain() {
	c.flags &^= fOverHigh
	if f := c.handler().OnDrain; f != nil {
		c.flags |= fInCb
		f(c)
		c.leave()
	}
}

// drained runs when the output queue has just emptied.
func (c *Conn) drained() {
	switch {
	case c.flags&fClosing != 0:
		c.finish()
		return
	case c.flags&(fWriteShut|fShutDone) == fWriteShut:
		c.shutdown()
		if c.closed() {
			return
		}
	}
	c.interest()
	if c.flags&fOverHigh != 0 {
		c.drain()
	}
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

// Buffered returns the number of bytes in the output queue, the bytes
// of the file regions not sent yet (SendFile) included.
func (c *Conn) Buffered() int {
	if c.q == nil {
		return 0
	}
	return int(min(c.q.total(), math.MaxInt))
}

// Full reports whether the output queue is over the high watermark: the
// producer should stop writing until OnDrain runs.
func (c *Conn) Full() bool { return c.Buffered() > c.sh.o.HighWater }

// Peek returns the input that OnData left unconsumed.
// The slice is valid until the next callback or method call on c.
func (c *Conn) Peek() []byte { return c.input() }

// PauseRead stops reading from the connection until ResumeRead; the
// kernel's buffer fills and the peer is slowed down (backpressure).
func (c *Conn) PauseRead() {
	if c.closed() || c.flags&fPaused != 0 {
		return
	}
	c.flags |= fPaused
	c.interest()
}

// ResumeRead starts reading again after PauseRead. Input left unconsumed
// is given to OnData again in the next loop iteration, even if no new
// bytes arrive (and an EOF due to a handler set by SetHandler is
// reported after it).
func (c *Conn) ResumeRead() {
	if c.closed() || c.flags&fPaused == 0 {
		return
	}
	c.flags &^= fPaused
	c.interest()
	if len(c.input()) > 0 || c.flags&fEOFDue != 0 {
		c.flags |= fRedeliver
		c.sh.ls.loop.Feed(&c.w, eddy.Read)
	}
}

// IsPaused reports whether reading is paused.
func (c *Conn) IsPaused() bool { return c.flags&fPaused != 0 }

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
	if c.q == nil && c.flags&fConnecting == 0 {
		c.shutdown()
	}
	return nil
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
	c.flags |= fClosing
	if c.q == nil || c.flags&fConnecting != 0 {
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
	c.w.Stop()
	unix.Close(c.w.Fd())
	q := c.q
	c.q = nil
	if q != nil && len(q.files) > 0 {
		c.releaseRegions(q)
	}
	if c.x != nil {
		c.x.in = nil
	}
	ls.forget(c)
	ls.release()
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

// SetIdleTimeout closes the connection with ErrTimeout when nothing is
// read from it for d, counted from now and from every read; zero turns it
// off. Cheap: it costs no timer or goroutine of its own.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.idle = int64(max(d, 0))
	t.lastRead = c.sh.ls.now()
	c.sh.ls.schedule(c)
}

// SetWriteTimeout closes the connection with ErrTimeout when its output
// queue is not empty and the kernel took none of it for d; zero turns it
// off.
func (c *Conn) SetWriteTimeout(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.wto = int64(max(d, 0))
	t.lastWrite = c.sh.ls.now()
	c.sh.ls.schedule(c)
}

// SetTimer makes the handler's OnTimer run once, d from now; without an
// OnTimer, the connection is then closed with ErrTimeout: a deadline. A
// later call replaces the time, StopTimer cancels it, and closing the
// connection forgets it. Like the idle and write timeouts it costs no
// timer or goroutine of its own: it rings from the loop's timing wheel,
// never early and at most two ticks (100 ms) late, so it suits timeouts,
// not precise scheduling (for that, an eddy.Timer). On a connection still
// connecting, OnTimer may run before OnOpen.
func (c *Conn) SetTimer(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.alarm = c.sh.ls.now() + int64(max(d, 0))
	c.sh.ls.schedule(c)
}

// StopTimer cancels the time set with SetTimer, if any.
func (c *Conn) StopTimer() {
	if c.tm == nil || c.tm.alarm < 0 || c.closed() {
		return
	}
	c.tm.alarm = -1
	c.sh.ls.schedule(c)
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

// SetReadBuffer sets the kernel's receive buffer size (SO_RCVBUF).
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
	c.flags |= fOpened
	if m := c.sh.m; m != nil {
		m.track(c)
	}
	if f := c.handler().OnOpen; f != nil {
		c.flags |= fInCb
		f(c)
		c.leave()
	}
}

// connected ends a nonblocking connect.
func (c *Conn) connected() {
	if err := sock.ConnectResult(c.w.Fd()); err != nil {
		c.fail(fmt.Errorf("evnet: connect: %w", err))
		return
	}
	c.flags &^= fConnecting
	if c.tm != nil {
		now := c.sh.ls.now()
		c.tm.lastRead, c.tm.lastWrite = now, now
		c.sh.ls.schedule(c) // from the dial deadline to the idle one
	}
	if !c.sh.o.Delay {
		unix.SetsockoptInt(c.w.Fd(), unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
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
