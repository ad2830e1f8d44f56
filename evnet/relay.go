package evnet

import (
	"errors"
	"time"
)

// RelayConfig holds the settings of a relay (Relay, DialRelay). The zero
// value (or a nil *RelayConfig) is the default of every field; it is
// copied.
type RelayConfig struct {
	// ConnectTimeout bounds DialRelay's connect to the second side (zero:
	// none but the kernel's). A connect that fails or times out closes the
	// first side and ends the relay with the reason.
	ConnectTimeout time.Duration
	// IdleTimeout ends a relay through which no byte has passed, in either
	// direction, for that long (zero: never): both connections are reset
	// and done gets ErrTimeout. One direction that is busy keeps the
	// other, idle or already shut down, alive.
	IdleTimeout time.Duration
	// ProxyProtocol, when set, makes the relay send a PROXY protocol
	// header (AppendProxyHeader) to the second side before any byte from
	// the first, with the first side's addresses: its RemoteAddr as the
	// source and its LocalAddr as the destination. A value that is not a
	// version closes both sides, and done gets ErrProxyProtocol.
	ProxyProtocol ProxyProtocol
}

// RelayStats counts the bytes a relay carried.
type RelayStats struct {
	// AToB is the number of bytes read from the first connection and
	// written to the second; BToA the other way.
	AToB, BToA int64
}

// Relay joins two open (or, for b, still connecting) connections of the
// same loop: what is read from one is written to the other, both ways, until
// both directions are done. It must be called on the loop's goroutine;
// it takes both connections over with SetHandler (their unconsumed input
// goes through first), and calls done once, on the loop, when both are
// closed, with the bytes carried and nil, or the first reason that was not
// a clean end.
//
// Backpressure follows the watermarks: when the side written to is Full,
// reading from the other pauses until it drains (OnDrain), so a reader
// that does not keep up slows the writer down and the relay's memory stays
// near a high watermark per direction; ErrOverflow never happens.
//
// Half-close is passed on: when one side shuts down its writing (EOF), the
// other is shut down for writing (CloseWrite) once what was read before has
// been sent, and the other direction goes on. When both directions have
// ended the two connections are closed gracefully. A side that closes
// otherwise (a reset, a timeout, an error) closes the other one after its
// queued output, and done gets the reason.
//
// The bytes pass through the loop's shared read buffer and, only for what
// the kernel does not take at once, the output queue of the side written
// to. splice(2) is not used: it would save that copy on Linux at the price
// of a pipe pair per direction, which is worth it only if measurements say
// so. RelayConfig.IdleTimeout uses a's SetTimer.
func Relay(a, b *Conn, cfg *RelayConfig, done func(RelayStats, error)) {
	r := &relay{done: done}
	if cfg != nil {
		r.cfg = *cfg
	}
	r.start(a, b)
}

// DialRelay connects to address with d (RelayConfig.ConnectTimeout, if set,
// replacing d.Timeout) and relays a to the new connection as Relay does;
// a's input waits in a's buffers and the kernel's (reading is paused)
// until the connection is made. A dial that fails, at once or later, closes
// a and ends the relay with the reason (done runs on the loop, never before
// DialRelay returns). It must be called on the loop's goroutine.
func DialRelay(a *Conn, d Dialer, network, address string, cfg *RelayConfig, done func(RelayStats, error)) {
	r := &relay{done: done}
	if cfg != nil {
		r.cfg = *cfg
	}
	if r.cfg.ConnectTimeout > 0 {
		d.Timeout = r.cfg.ConnectTimeout
	}
	a.PauseRead()
	b, err := d.Dial(a.Loop(), network, address, Handler{OnData: relayIgnore})
	if err != nil {
		r.err = err
		r.a = a
		a.SetHandler(Handler{OnData: relayIgnore, OnClose: r.onCloseBeforeDial})
		a.Close()
		return
	}
	r.connecting = true
	r.start(a, b)
}

func relayIgnore(*Conn, []byte) int { return 0 }

// onCloseBeforeDial ends a relay whose dial could not start.
func (r *relay) onCloseBeforeDial(*Conn, error) {
	r.a.Loop().Post(func() { r.done(r.stats, r.err) })
}

// relay is the state of one relay; its callbacks run on the loop.
type relay struct {
	cfg        RelayConfig
	a, b       *Conn
	stats      RelayStats
	done       func(RelayStats, error)
	err        error     // the first reason that was not a clean end
	last       time.Time // when a byte last passed (IdleTimeout)
	eofA, eofB bool      // a (b) has shut down its writing
	closedA    bool
	closedB    bool
	connecting bool // b is being dialled; a is paused until it connects
	finished   bool // both closed, done called
	pausedA    bool // a paused because b is Full
	pausedB    bool
}

func (r *relay) start(a, b *Conn) {
	r.a, r.b = a, b
	a.SetHandler(Handler{OnData: r.dataA, OnDrain: r.drainA, OnEOF: r.eofFromA, OnClose: r.closeA, OnTimer: r.timer})
	hb := Handler{OnData: r.dataB, OnDrain: r.drainB, OnEOF: r.eofFromB, OnClose: r.closeB}
	if r.connecting {
		hb.OnOpen = r.openB
	}
	b.SetHandler(hb)
	if r.cfg.ProxyProtocol != ProxyNone {
		var buf [proxyHeaderMax]byte
		hdr, err := AppendProxyHeader(buf[:0], r.cfg.ProxyProtocol, a.RemoteAddr(), a.LocalAddr())
		if err != nil {
			r.err = err
			a.Abort()
			b.Abort()
			return
		}
		b.Write(hdr)
	}
	if r.cfg.IdleTimeout > 0 {
		r.last = a.Loop().Now()
		a.SetTimer(r.cfg.IdleTimeout)
	}
}

// openB resumes reading a once the dialled side is connected.
func (r *relay) openB(*Conn) {
	r.connecting = false
	if !r.pausedA {
		r.a.ResumeRead()
	}
}

func (r *relay) dataA(_ *Conn, p []byte) int {
	r.forward(r.a, r.b, p, &r.stats.AToB, &r.pausedA)
	return len(p)
}

func (r *relay) dataB(_ *Conn, p []byte) int {
	r.forward(r.b, r.a, p, &r.stats.BToA, &r.pausedB)
	return len(p)
}

// forward writes p, read from src, to dst, and pauses src while dst is
// Full. A write that fails (dst closed or closing) drops p: dst's OnClose
// ends the relay.
func (r *relay) forward(src, dst *Conn, p []byte, count *int64, paused *bool) {
	if _, err := dst.Write(p); err != nil {
		return
	}
	*count += int64(len(p))
	if r.cfg.IdleTimeout > 0 {
		r.last = src.Loop().Now()
	}
	if dst.Full() {
		*paused = true
		src.PauseRead()
	}
}

// drainA runs when a's queue (filled from b) drained: b may be read again.
func (r *relay) drainA(*Conn) {
	if r.pausedB {
		r.pausedB = false
		r.b.ResumeRead()
	}
}

func (r *relay) drainB(*Conn) {
	if r.pausedA {
		r.pausedA = false
		if !r.connecting {
			r.a.ResumeRead()
		}
	}
}

func (r *relay) eofFromA(*Conn) {
	r.eofA = true
	r.b.CloseWrite()
	r.maybeEnd()
}

func (r *relay) eofFromB(*Conn) {
	r.eofB = true
	r.a.CloseWrite()
	r.maybeEnd()
}

// maybeEnd closes both sides once both directions have ended.
func (r *relay) maybeEnd() {
	if r.eofA && r.eofB {
		r.a.Close()
		r.b.Close()
	}
}

// timer is a's OnTimer: the relay's idle timeout.
func (r *relay) timer(c *Conn) {
	idle := c.Loop().Now().Sub(r.last)
	if idle < r.cfg.IdleTimeout {
		c.SetTimer(r.cfg.IdleTimeout - idle)
		return
	}
	r.fail(ErrTimeout)
	r.a.Abort()
	r.b.Abort()
}

func (r *relay) closeA(_ *Conn, reason error) {
	r.closedA = true
	r.closed(r.b, r.closedB, reason)
}

func (r *relay) closeB(_ *Conn, reason error) {
	r.closedB = true
	if r.connecting {
		// The dial failed: a never saw a byte of b.
		r.connecting = false
	}
	r.closed(r.a, r.closedA, reason)
}

// closed handles the close of one side: the other, if still open, is
// closed after its queued output; done runs once both are.
func (r *relay) closed(other *Conn, otherClosed bool, reason error) {
	if !errors.Is(reason, ErrLocalClose) && !errors.Is(reason, ErrEOF) && !errors.Is(reason, ErrAborted) {
		r.fail(reason)
	}
	if !otherClosed {
		other.Close()
		return
	}
	if !r.finished {
		r.finished = true
		r.done(r.stats, r.err)
	}
}

func (r *relay) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}
