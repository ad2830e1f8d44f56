package main

import (
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
)

const (
	// maxQueued is the backpressure limit: while more response bytes than
	// this wait for the kernel, the connection stops reading requests. A
	// client that sends without reading cannot make the server buffer more
	// than about this plus one read buffer's worth of responses.
	maxQueued = 64 << 10
	// lingerTime bounds a lingering close (see finish).
	lingerTime = 2 * time.Second
)

// connState is where a connection is in its life.
type connState uint8

const (
	// stateOpen: reading requests and answering them.
	stateOpen connState = iota
	// stateClosing: the last response is decided (the client asked to close,
	// sent something bad, or finished sending); no more reading. The
	// connection closes once its output is flushed.
	stateClosing
	// stateLingering: everything is sent and our side is shut down; input
	// is read and dropped until the client closes or lingerTime passes.
	stateLingering
)

// helloConn is one client connection. It embeds its watchers, so one
// allocation holds everything, and passes method values as their callbacks
// (c.io.Init(c.onEvent, ...)): the callback is bound to its connection.
type helloConn struct {
	io     eddy.IO    // the socket's readiness; its callback is onEvent
	linger eddy.Timer // ends a lingering close
	srv    *helloServer
	fd     int // -1 once closed
	state  connState
	eof    bool   // the client has finished sending
	in     []byte // the start of a request still incomplete
	out    []byte // response bytes the kernel has not taken yet
}

// onEvent runs when the socket is ready. It writes first (to make room),
// then reads, then tells the loop what to wait for next.
func (c *helloConn) onEvent(w *eddy.IO, ev eddy.Events) {
	if c.state == stateLingering {
		c.discard()
		return
	}
	// Error and Hangup are reported whatever we asked for: the next read
	// or write returns the error (or EOF) and ends the connection.
	if len(c.out) > 0 && ev&(eddy.Write|eddy.Error|eddy.Hangup) != 0 {
		if !c.flush() {
			return
		}
	}
	if c.state == stateOpen && len(c.out) <= maxQueued && ev&(eddy.Read|eddy.Error|eddy.Hangup) != 0 {
		if !c.readRequests() {
			return
		}
	}
	c.rearm()
}

// readRequests reads once and answers the complete requests read; it
// returns false if the connection was closed.
func (c *helloConn) readRequests() bool {
	s := c.srv
	n, err := read(c.fd, s.buf)
	switch {
	case err == unix.EAGAIN:
		return true // a spurious wake-up: nothing to read after all
	case err != nil:
		c.close() // ECONNRESET and the like: the client is gone
		return false
	case n == 0:
		// EOF: the client has finished sending (it may still read). A
		// partial request can never complete now; send what is queued and
		// close.
		c.eof = true
		c.in = nil
		c.state = stateClosing
		return true
	}

	// Most of the time nothing is left over from the last read, and the
	// requests are parsed straight from the shared buffer. Otherwise the
	// new bytes are appended to the partial request kept before.
	data := s.buf[:n]
	if len(c.in) > 0 {
		c.in = append(c.in, data...)
		data = c.in
	}
	out, used := c.answer(s.out[:0], data)
	s.out = out[:0] // keep the scratch buffer, grown or not, for next time

	// Keep only the rest: the start of the next request. (append copies
	// with memmove, so data may overlap c.in.)
	if rest := data[used:]; c.state == stateOpen && len(rest) > 0 {
		c.in = append(c.in[:0], rest...)
	} else if cap(c.in) > 2*maxHeaderBytes {
		c.in = nil // drop an unusually large buffer
	} else {
		c.in = c.in[:0]
	}
	return c.send(out)
}

// send writes out at once, and queues what the kernel did not take; it
// returns false if the connection was closed.
func (c *helloConn) send(out []byte) bool {
	if len(out) == 0 {
		return true
	}
	if len(c.out) > 0 {
		// Older output is still waiting for the socket to become
		// writable: queue behind it, to keep responses in order.
		c.out = append(c.out, out...)
		return true
	}
	n, err := write(c.fd, out)
	if err != nil && err != unix.EAGAIN {
		c.close() // EPIPE, ECONNRESET: the client is gone
		return false
	}
	if n < len(out) {
		// The socket's send buffer is full. out is shared scratch space,
		// so the rest is copied to the connection's own queue; rearm
		// asks for Write readiness to flush it.
		c.out = append(c.out, out[n:]...)
		c.srv.stalls++
	}
	return true
}

// flush writes queued output; it returns false if the connection was
// closed.
func (c *helloConn) flush() bool {
	n, err := write(c.fd, c.out)
	if err != nil && err != unix.EAGAIN {
		c.close()
		return false
	}
	c.out = c.out[:copy(c.out, c.out[n:])]
	if len(c.out) == 0 && cap(c.out) > 2*maxQueued {
		c.out = nil // drop an unusually large buffer
	}
	return true
}

// rearm tells the loop what the connection waits for now. Modify takes
// effect just before the loop's next wait, and costs nothing when the
// events did not change.
func (c *helloConn) rearm() {
	if c.state == stateClosing && len(c.out) == 0 {
		c.finish()
		return
	}
	var ev eddy.Events
	if c.state == stateOpen && len(c.out) <= maxQueued {
		ev |= eddy.Read // backpressure: no reading while too much is queued
	}
	if len(c.out) > 0 {
		ev |= eddy.Write // a level-triggered Write would fire in a loop: only ask while output waits
	}
	c.io.Modify(ev)
}

// finish closes a connection whose last response is sent.
//
// The special problem of closing a socket with unread input: the kernel
// answers it with a reset (RST), and a reset can destroy responses the
// client has not read yet. So unless the client has finished sending, we
// only shut down our side (the client reads our responses, then EOF), and
// read and drop whatever still comes until the client closes its side too,
// or lingerTime passes.
func (c *helloConn) finish() {
	if c.eof || unix.Shutdown(c.fd, unix.SHUT_WR) != nil {
		c.close()
		return
	}
	c.state = stateLingering
	c.io.Modify(eddy.Read)
	c.linger.Start(c.srv.loop)
}

// discard reads and drops input during a lingering close.
func (c *helloConn) discard() {
	n, err := read(c.fd, c.srv.buf)
	if err == unix.EAGAIN {
		return
	}
	if err != nil || n == 0 {
		c.close()
	}
}

func (c *helloConn) onLinger(t *eddy.Timer) { c.close() }

// close closes the connection at once. Stop the watchers before closing the
// descriptor: the fd number can be reused by the very next accept. The
// descriptor is ours alone, so the close removes its epoll registration.
func (c *helloConn) close() {
	if c.fd < 0 {
		return
	}
	c.io.StopForClose(false)
	c.linger.Stop()
	unix.Close(c.fd)
	c.fd = -1
	c.in, c.out = nil, nil
	delete(c.srv.conns, c)
}

// read is unix.Read that retries when interrupted and never returns a
// negative count.
func read(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}

// write is unix.Write that retries when interrupted and never returns a
// negative count.
func write(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Write(fd, p)
		if err != unix.EINTR {
			return max(n, 0), err
		}
	}
}
