package evnet

// The write path of a Conn: Write, the output queue, its flush with
// writev when the socket is writable, and the watermarks (Full, OnDrain).
// File regions in the same queue are in sendfile.go.

import (
	"math"

	"golang.org/x/sys/unix"
)

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

// minChunk is the smallest chunk of the output queue.
const minChunk = 16 << 10

// maxIovecs bounds the buffers of one writev.
const maxIovecs = 64

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
	case c.flags&fTLS != 0:
		return c.tlsWrite(p)
	}
	return c.send(p)
}

// send writes p to the socket, or queues it: Write's work, once p is
// what goes on the wire (TLS records, for a TLS connection).
func (c *Conn) send(p []byte) (int, error) {
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
		c.countOut(n)
		if n == len(p) {
			if c.tm != nil {
				c.tm.lastWrite = c.sh.ls.stamp()
			}
			return n, nil
		}
	}
	if err := c.enqueue(p[n:]); err != nil {
		return n, err
	}
	return len(p), nil
}

// outQueue returns the output queue, made if there is none (first), for
// adding add bytes, or fails the connection with ErrOverflow when they
// would take it past MaxBuffered.
func (c *Conn) outQueue(add int) (q *outq, first bool, err error) {
	q = c.q
	queued := 0
	if q != nil {
		queued = q.n
	}
	if queued+add > c.sh.o.MaxBuffered {
		c.fail(ErrOverflow)
		return nil, false, ErrOverflow
	}
	if q == nil {
		q = &outq{}
		c.q = q
		first = true
	}
	return q, first, nil
}

// enqueue copies p to the output queue.
func (c *Conn) enqueue(p []byte) error {
	q, first, err := c.outQueue(len(p))
	if err != nil {
		return err
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
			c.tm.lastWrite = c.sh.ls.stamp()
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
		c.countOut(n)
		if c.tm != nil && n > 0 {
			c.tm.lastWrite = c.sh.ls.stamp()
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
	if c.flags&fOverHigh != 0 && c.Buffered() <= c.sh.o.LowWater {
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
	if c.x != nil && c.x.pump != nil && !c.tlsPumpRun() {
		return // the pump wrote more than the kernel took, or c closed
	}
	switch {
	case c.flags&fClosing != 0:
		c.finish()
		return
	case c.flags&(fWriteShut|fShutDone|fHandshake) == fWriteShut:
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

// Buffered returns the number of bytes in the output queue, the bytes
// of the file regions not sent yet (SendFile) included.
func (c *Conn) Buffered() int {
	var n int64
	if c.q != nil {
		n = c.q.total()
	}
	if c.flags&fTLS != 0 { // plaintext waiting to be encrypted
		if c.flags&fHandshake != 0 {
			n += int64(len(c.x.tls.hs.early))
		} else if c.x.pump != nil {
			n += c.x.pump.n
		}
	}
	return int(min(n, math.MaxInt))
}

// Full reports whether the output queue is over the high watermark: the
// producer should stop writing until OnDrain runs.
func (c *Conn) Full() bool { return c.Buffered() > c.sh.o.HighWater }
