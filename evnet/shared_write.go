package evnet

// WriteShared: a write that queues its argument by reference, for a
// buffer sent unchanged to many connections (a broadcast).

import "golang.org/x/sys/unix"

// WriteShared is Write for an immutable buffer shared by many
// connections, such as a message framed once and sent to every
// subscriber: what the kernel does not take at once is queued by
// reference, not copied, and stays referenced (kept alive by the garbage
// collector) until sent. The caller must never modify p afterwards.
// With an empty queue it makes one write system call, as Write does.
// On a TLS connection, whose bytes are encrypted per connection, it is
// Write. The queued bytes count for the watermarks and MaxBuffered as
// Write's do.
func (c *Conn) WriteShared(p []byte) (int, error) {
	switch {
	case c.flags&(fClosed|fClosing) != 0:
		return 0, ErrClosed
	case c.flags&fWriteShut != 0:
		return 0, ErrWriteClosed
	case len(p) == 0:
		return 0, nil
	case c.flags&fTLS != 0:
		return c.tlsWrite(p)
	}
	n := 0
	if c.q == nil && c.flags&fConnecting == 0 {
		var err error
		n, err = c.sendNow(p)
		if err != nil {
			return 0, err
		}
		if n == len(p) {
			return n, nil
		}
	}
	q := c.q
	queued := 0
	if q != nil {
		queued = q.n
	}
	rest := p[n:len(p):len(p)] // no spare capacity: nothing is ever appended to it
	if queued+len(rest) > c.sh.o.MaxBuffered {
		c.fail(ErrOverflow)
		return n, ErrOverflow
	}
	first := q == nil
	if first {
		q = &outq{}
		c.q = q
	}
	q.n += len(rest)
	q.bufs = append(q.bufs, rest)
	q.addedBuf()
	c.queued(first)
	return len(p), nil
}

// sendNow makes the one write system call of a write to an empty queue
// and returns what the kernel took (0 when it took nothing), or the
// error that closed the connection.
func (c *Conn) sendNow(p []byte) (int, error) {
	var n int
	var err error
	for {
		n, err = rawWrite(c.w.Fd(), p)
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == unix.EAGAIN:
		return 0, nil
	case err != nil:
		c.fail(reason("write", err))
		return 0, c.reason()
	}
	c.countOut(n)
	if n > 0 && c.tm != nil {
		c.tm.lastWrite = c.sh.ls.now()
	}
	return n, nil
}
