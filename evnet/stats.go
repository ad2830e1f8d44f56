package evnet

// A listener's figures (ListenerStats): what its connections did, kept in
// atomics that the loop writes and any goroutine reads.

import (
	"errors"
	"sync/atomic"

	"golang.org/x/sys/cpu"

	"github.com/eddyloop/eddy"
)

// CloseClass sorts the reasons a connection closed (see Handler.OnClose)
// into a few classes, for counting.
type CloseClass uint8

const (
	// CloseEOF: the peer closed its side first (ErrEOF).
	CloseEOF CloseClass = iota
	// CloseLocal: the program closed it (ErrLocalClose).
	CloseLocal
	// CloseAborted: the program aborted it (ErrAborted).
	CloseAborted
	// CloseTimeout: a timeout closed it (ErrTimeout).
	CloseTimeout
	// CloseOverflow: a buffer limit was exceeded (ErrOverflow).
	CloseOverflow
	// CloseReset: the peer reset it (ErrReset).
	CloseReset
	// CloseTLS: its TLS layer failed: a handshake (ErrHandshake), a
	// truncation (ErrTruncated), or an error from crypto/tls.
	CloseTLS
	// CloseLoop: its loop closed (eddy.ErrClosed).
	CloseLoop
	// CloseError: any other error: a system call's, or a connection
	// accepted that could not be set up.
	CloseError

	// NumCloseClasses is the number of classes.
	NumCloseClasses = int(CloseError) + 1
)

var closeClassNames = [NumCloseClasses]string{"eof", "local", "aborted", "timeout", "overflow", "reset", "tls", "loop", "error"}

// String returns the class's name in lower case, as a metric's label
// value: "eof", "local", "aborted", "timeout", "overflow", "reset", "tls",
// "loop" or "error".
func (k CloseClass) String() string {
	if int(k) < NumCloseClasses {
		return closeClassNames[k]
	}
	return "unknown"
}

// ClassifyClose returns the class of a close reason given to OnClose.
func ClassifyClose(reason error) CloseClass {
	switch {
	case reason == ErrEOF:
		return CloseEOF
	case reason == ErrLocalClose:
		return CloseLocal
	case reason == ErrAborted:
		return CloseAborted
	case reason == ErrTimeout:
		return CloseTimeout
	case reason == ErrOverflow:
		return CloseOverflow
	case errors.Is(reason, ErrReset):
		return CloseReset
	case errors.Is(reason, ErrHandshake), errors.Is(reason, ErrTruncated), errors.Is(reason, errTLS):
		return CloseTLS
	case errors.Is(reason, eddy.ErrClosed):
		return CloseLoop
	}
	return CloseError
}

// ListenerStats are the figures of a listener's connections, as
// Listener.Stats returns them.
type ListenerStats struct {
	// Accepted counts the connections accepted.
	Accepted uint64
	// Closed counts the connections accepted that have closed, by the
	// class of their reason; Accepted minus their sum (Open) are open.
	// Those whose TLS handshake failed count under CloseTLS, or the reason
	// that ended the handshake (a reset, a timeout).
	Closed [NumCloseClasses]uint64
	// BytesIn and BytesOut count the bytes read from and written to the
	// connections' sockets (for TLS, records: the ciphertext), sendfile's
	// included. The bytes a TLS handshake's goroutine writes itself (its
	// first flight, usually) are not counted.
	BytesIn, BytesOut uint64
	// TLSHandshakes counts the TLS handshakes that succeeded, TLSFailed
	// the connections whose handshake failed (see Listener.TLSHandshakes).
	TLSHandshakes, TLSFailed uint64
}

// Open returns the number of connections open: accepted, not closed.
func (s ListenerStats) Open() uint64 {
	var closed uint64
	for _, c := range s.Closed {
		closed += c
	}
	return s.Accepted - min(closed, s.Accepted)
}

// Add adds the figures of o to s: those of several listeners.
func (s *ListenerStats) Add(o *ListenerStats) {
	s.Accepted += o.Accepted
	for i, c := range o.Closed {
		s.Closed[i] += c
	}
	s.BytesIn += o.BytesIn
	s.BytesOut += o.BytesOut
	s.TLSHandshakes += o.TLSHandshakes
	s.TLSFailed += o.TLSFailed
}

// listenerCounters are a listener's ListenerStats as they are kept:
// atomics, written by its loop (by the loops of a Group's Unix acceptor)
// and read by any goroutine, on cache lines of their own.
type listenerCounters struct {
	_                           cpu.CacheLinePad
	accepted, bytesIn, bytesOut atomic.Uint64
	tlsDone, tlsFailed          atomic.Uint64
	closed                      [NumCloseClasses]atomic.Uint64
	_                           cpu.CacheLinePad
}

// load reads the counters: the closes before the accepts, so that no
// more are closed than accepted.
func (k *listenerCounters) load(s *ListenerStats) {
	for i := range k.closed {
		s.Closed[i] = k.closed[i].Load()
	}
	s.Accepted = k.accepted.Load()
	s.BytesIn, s.BytesOut = k.bytesIn.Load(), k.bytesOut.Load()
	s.TLSHandshakes, s.TLSFailed = k.tlsDone.Load(), k.tlsFailed.Load()
}

// countIn and countOut count the bytes a system call moved on c's socket,
// for a connection of a listener's.
func (c *Conn) countIn(n int) {
	if k := c.sh.st; k != nil {
		k.bytesIn.Add(uint64(n))
	}
}

func (c *Conn) countOut(n int) {
	if k := c.sh.st; k != nil && n > 0 {
		k.bytesOut.Add(uint64(n))
	}
}

// countClose counts c's close by its reason, for a connection of a
// listener's. Once per connection: finish calls it.
func (c *Conn) countClose() {
	if k := c.sh.st; k != nil {
		class := CloseError
		if c.why != whyOther {
			class = [...]CloseClass{whyNone: CloseError, whyEOF: CloseEOF, whyLocalClose: CloseLocal,
				whyAborted: CloseAborted, whyTimeout: CloseTimeout, whyOverflow: CloseOverflow}[c.why]
		} else {
			class = ClassifyClose(c.x.why)
		}
		k.closed[class].Add(1)
	}
}

// Stats returns the figures of the listener's connections so far. It may
// be called from any goroutine; it reads atomics and never stops the
// loop. For the listener that Group.Listen returns, they are the figures
// of every loop's listener of that call, summed; a Server of evhttp sums
// its own (evhttp.Server.Stats).
func (ln *Listener) Stats() ListenerStats {
	var s ListenerStats
	ln.sh.st.load(&s)
	for _, o := range ln.group {
		var t ListenerStats
		o.sh.st.load(&t)
		s.Add(&t)
	}
	return s
}
