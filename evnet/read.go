package evnet

// The read path of a Conn: readiness, reads into the loop's shared
// buffer, OnData, the input it leaves kept and given again (ResumeRead,
// SetHandler), PauseRead and ResumeRead, and the peer's EOF.

import (
	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
)

// notReading are the flags under which a connection does not read.
const notReading = fClosed | fClosing | fPaused | fEOF | fConnecting | fHold

// input returns the unconsumed input.
func (c *Conn) input() []byte {
	if c.x == nil {
		return nil
	}
	return c.x.in
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

func (c *Conn) readSome() {
	ls := c.sh.ls
	buf := ls.readBuf()
	if c.flags&fTLS != 0 && c.x.tls.more {
		c.tlsDecrypt() // what was left when reading paused
	}
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
			if c.flags&fTLS != 0 {
				c.tlsEOF()
				return
			}
			c.eof()
			return
		}
		c.countIn(n)
		if c.tm != nil {
			c.tm.lastRead = ls.stamp()
		}
		if c.flags&fTLS != 0 {
			c.tlsInput(buf[:n])
		} else {
			c.deliver(buf[:n])
		}
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
	if c.flags&fHandshake != 0 { // StartTLS*: the rest is the handshake's
		c.x.in = nil
		if len(rest) > 0 {
			c.handshakeInput(rest)
		}
		return
	}
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
	} else if c.flags&fTLS != 0 && c.x.tls.more {
		c.sh.ls.loop.Feed(&c.w, eddy.Read) // records left undecrypted
	}
}

// IsPaused reports whether reading is paused.
func (c *Conn) IsPaused() bool { return c.flags&fPaused != 0 }
