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
	if err := c.sharedCheck(); err != nil || len(p) == 0 {
		return 0, err
	}
	if c.flags&fTLS != 0 {
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
	if err := c.queueShared(p[n:], len(p)-n); err != nil {
		return n, err
	}
	return len(p), nil
}

// WriteSharedBuffers is WriteShared for several buffers, written in
// order: with an empty queue they go to the kernel in one writev system
// call (a subscriber's messages that waited for their turn, say), and
// what it does not take is queued by reference. It returns the number of
// bytes taken, all of them unless an error says otherwise. The caller
// must never modify the buffers afterwards; bufs itself is not kept.
func (c *Conn) WriteSharedBuffers(bufs [][]byte) (int, error) {
	if err := c.sharedCheck(); err != nil {
		return 0, err
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	if c.flags&fTLS != 0 || len(bufs) == 1 {
		for i, b := range bufs {
			if _, err := c.WriteShared(b); err != nil {
				taken := 0
				for _, d := range bufs[:i] {
					taken += len(d)
				}
				return taken, err
			}
		}
		return total, nil
	}
	sent := 0
	if c.q == nil && c.flags&fConnecting == 0 && total > 0 {
		var err error
		if sent, err = c.sendNowv(bufs); err != nil {
			return 0, err
		}
		if sent == total {
			return total, nil
		}
	}
	skip := sent
	for _, b := range bufs {
		if skip >= len(b) {
			skip -= len(b)
			continue
		}
		if err := c.queueShared(b[skip:], total-sent); err != nil {
			return sent, err
		}
		sent += len(b) - skip
		skip = 0
	}
	return total, nil
}

// sharedCheck is the check of WriteShared and WriteSharedBuffers.
func (c *Conn) sharedCheck() error {
	switch {
	case c.flags&(fClosed|fClosing) != 0:
		return ErrClosed
	case c.flags&fWriteShut != 0:
		return ErrWriteClosed
	}
	return nil
}

// queueShared queues rest by reference; coming is how many bytes are
// still to be queued by this write, rest included, for MaxBuffered.
func (c *Conn) queueShared(rest []byte, coming int) error {
	if len(rest) == 0 {
		return nil
	}
	q, first, err := c.outQueue(coming)
	if err != nil {
		return err
	}
	rest = rest[:len(rest):len(rest)] // no spare capacity: nothing is ever appended to it
	q.n += len(rest)
	q.bufs = append(q.bufs, rest)
	q.addedBuf()
	c.queued(first)
	return nil
}

// sendNowv is sendNow for several buffers: one writev.
func (c *Conn) sendNowv(bufs [][]byte) (int, error) {
	for {
		n, _, err := writev(c.w.Fd(), bufs[:min(len(bufs), maxIovecs)])
		if err != unix.EINTR {
			return c.sentNow(n, err)
		}
	}
}

// sendNow makes the one write system call of a write to an empty queue
// and returns what the kernel took (0 when it took nothing), or the
// error that closed the connection.
func (c *Conn) sendNow(p []byte) (int, error) {
	for {
		n, err := rawWrite(c.w.Fd(), p)
		if err != unix.EINTR {
			return c.sentNow(n, err)
		}
	}
}

// sentNow is the end of sendNow and sendNowv, given what the system call
// returned.
func (c *Conn) sentNow(n int, err error) (int, error) {
	switch {
	case err == unix.EAGAIN:
		return 0, nil
	case err != nil:
		c.fail(reason("write", err))
		return 0, c.reason()
	}
	c.countOut(n)
	if n > 0 && c.tm != nil {
		c.tm.lastWrite = c.sh.ls.stamp()
	}
	return n, nil
}
