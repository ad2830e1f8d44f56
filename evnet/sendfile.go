package evnet

// File regions in the output queue (Conn.SendFile).
//
// A region sits in the queue between the buffers written before it and
// those written after it. The queue keeps the regions in a list of their
// own, each knowing how many buffers of bufs come before it (counted from
// the previous region, or from the front for the first): the flush writes
// bufs with writev up to the first region, sends the region with
// sendfile(2), and goes on. A buffer that precedes a region is never
// appended to afterwards (enqueue starts a new one), so that the boundary
// between bytes and file always falls between two buffers.
//
// Where sendfile is missing, or refuses the descriptors (EINVAL, ENOSYS,
// EOPNOTSUPP, ENOTSOCK: a file that cannot be mapped, a socket kind it
// does not handle), the region is read with pread(2) into a buffer from
// a pool and written; what the socket does not take is read again next
// time, so that the connection keeps no copy of the file.

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// sendfileDisabled makes sendfile refuse every region (ENOSYS), so that
// the tests can exercise the pread fallback where sendfile exists.
var sendfileDisabled atomic.Bool

// copiedRegions counts the regions sendfile refused, which were copied
// with pread and write instead (for the tests).
var copiedRegions atomic.Int64

// ErrShortFile means a file given to SendFile ended before the region
// did (it was truncated meanwhile): the connection was closed, since the
// bytes promised to the peer cannot be sent.
var ErrShortFile = errors.New("evnet: file shorter than the region to send")

// maxSendfileChunk bounds one sendfile call (Linux sends at most
// 0x7ffff000 bytes at once anyway).
const maxSendfileChunk = 1 << 30

// fallbackChunk is the size of one pread when sendfile cannot be used.
const fallbackChunk = 32 << 10

// fileRegion is a file region waiting in the output queue.
type fileRegion struct {
	f     *os.File
	done  func(err error)
	fd    int
	off   int64 // the next byte to send
	n     int64 // the bytes left
	nbufs int   // buffers of the queue before it, after the previous region
	copy  bool  // sendfile refused: pread and write
}

// appendable reports whether bytes may be appended to the last buffer:
// it does not precede a file region.
func (q *outq) appendable() bool { return len(q.files) == 0 || q.tail > 0 }

// addedBuf counts a buffer appended to bufs.
func (q *outq) addedBuf() {
	if len(q.files) > 0 {
		q.tail++
	}
}

// sentBuf counts the buffer taken from the front of bufs.
func (q *outq) sentBuf() {
	if len(q.files) > 0 {
		q.files[0].nbufs--
	}
}

// bufsBefore returns how many buffers may be written before the first
// file region.
func (q *outq) bufsBefore() int {
	if len(q.files) == 0 {
		return len(q.bufs)
	}
	return q.files[0].nbufs
}

// total returns the bytes queued, those of the file regions included:
// what the watermarks compare.
func (q *outq) total() int64 { return int64(q.n) + q.fileN }

// SendFile sends n bytes of f, from offset, in order with the bytes
// written before and after it: the region is queued in the output queue
// like the bytes of Write, and sent with sendfile(2) when the socket is
// writable, without being copied into the process. With an empty queue it
// is sent at once, as far as the kernel takes it. A region counts for the
// watermarks by its bytes not yet sent (Full, OnDrain, Buffered), but not
// for ConnConfig.MaxBuffered, since it holds no memory: a producer that
// sends a large file waits for OnDrain like one that writes it.
//
// Where sendfile is missing or refuses the descriptors, the region is
// read with pread(2), a small buffer at a time, and written. f must
// therefore be a file that pread can read at offset (a regular file, a
// block device); it is read with its own offset untouched, so that one
// file may be sent on several connections at once. sendfile reads from
// the page cache: a file not in it makes the call wait for the disk, on
// the loop (as nginx without aio); a program that cares reads ahead on
// the work pool first.
//
// On a TLS connection, sendfile cannot encrypt: the region is read with
// pread 32 KiB at a time, when the output queue is empty, encrypted and
// written; what is written after it waits, as plaintext, for its turn to
// be encrypted, and reading pauses meanwhile (crypto/tls's answers to the
// peer, a KeyUpdate's, must not pass the region's records). The region
// counts for the watermarks as on any connection.
//
// Ownership. If SendFile returns an error, nothing was queued, f is still
// the caller's and done is not called. Otherwise the connection holds f
// until the region is sent or the connection closes, and then, if done is
// nil, closes f; if done is not nil, it calls done instead, on the loop,
// with nil once every byte of the region was handed to the kernel, or with
// the reason the connection closed first (the caller then closes f, or
// keeps it for other uses). done may run before SendFile returns, when
// the kernel takes the whole region at once. The caller must not close f
// before that.
//
// A file that ends before the region does (it was truncated) closes the
// connection with ErrShortFile. SendFile returns ErrClosed after Close,
// ErrWriteClosed after CloseWrite, ErrHandshakeNotDone on a TLS connection
// whose handshake is not done, os.ErrInvalid for a nil or closed file
// or a negative offset or length, and the connection's error if sending
// at once failed (the connection is closed then). A region of zero bytes
// releases f at once.
func (c *Conn) SendFile(f *os.File, offset, n int64, done func(err error)) error {
	switch {
	case c.flags&(fClosed|fClosing) != 0:
		return ErrClosed
	case c.flags&fWriteShut != 0:
		return ErrWriteClosed
	case f == nil || offset < 0 || n < 0:
		return os.ErrInvalid
	}
	fd := int(f.Fd())
	if fd < 0 {
		return os.ErrInvalid
	}
	r := fileRegion{f: f, done: done, fd: fd, off: offset, n: n}
	if c.flags&fTLS != 0 {
		return c.tlsSendFile(&r)
	}
	if n > 0 && c.q == nil && c.flags&fConnecting == 0 {
		c.sendRegion(&r)
		if c.closed() {
			return c.reason()
		}
	}
	if r.n == 0 {
		r.release(nil)
		return nil
	}
	c.enqueueRegion(&r)
	return nil
}

// enqueueRegion queues a copy of r after everything queued so far.
func (c *Conn) enqueueRegion(r *fileRegion) {
	q := c.q
	first := q == nil
	if first {
		q = &outq{}
		c.q = q
	}
	reg := new(fileRegion)
	*reg = *r
	if len(q.files) == 0 {
		reg.nbufs = len(q.bufs)
	} else {
		reg.nbufs = q.tail
	}
	q.tail = 0
	q.files = append(q.files, reg)
	q.fileN += reg.n
	c.queued(first)
}

// flushRegion sends what it can of the first region of q, which is at
// the front of the queue, and reports whether the flush may go on: false
// when the kernel is full or c has closed.
func (c *Conn) flushRegion(q *outq) bool {
	r := q.files[0]
	sent, more := c.sendRegion(r)
	q.fileN -= sent
	if c.closed() {
		return false
	}
	if r.n > 0 {
		return more
	}
	q.files[0] = nil
	q.files = q.files[1:]
	if len(q.files) == 0 {
		q.files = nil
	}
	r.release(nil) // may call the program, which may write or close
	return !c.closed()
}

// sendRegion sends what the kernel takes of r, advancing it. It returns
// the bytes sent and whether the kernel might take more now; an error
// closes c.
func (c *Conn) sendRegion(r *fileRegion) (sent int64, more bool) {
	defer func() {
		if sent > 0 && c.tm != nil {
			c.tm.lastWrite = c.sh.ls.stamp()
		}
	}()
	for r.n > 0 {
		var k int
		var err error
		want := int(min(r.n, maxSendfileChunk))
		if r.copy {
			want = int(min(r.n, fallbackChunk))
			k, err = c.copyRegion(r, want)
		} else {
			k, err = sendfile(c.w.Fd(), r.fd, r.off, want)
		}
		if k > 0 {
			c.countOut(k)
			r.off += int64(k)
			r.n -= int64(k)
			sent += int64(k)
		}
		switch {
		case err == nil && k == 0:
			c.fail(fmt.Errorf("%w (at offset %d, %d bytes left)", ErrShortFile, r.off, r.n))
			return sent, false
		case err == nil:
			if k < want {
				return sent, false // the socket is full: wait for writable
			}
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return sent, false
		case !r.copy && k == 0 && sendfileRefused(err):
			r.copy = true
			copiedRegions.Add(1)
		case r.copy:
			c.fail(err) // copyRegion made it a close reason
			return sent, false
		default:
			c.fail(reason("sendfile", err))
			return sent, false
		}
	}
	return sent, true
}

// sendfileRefused reports whether err from sendfile means it cannot be
// used with these descriptors, rather than a failure of the connection.
func sendfileRefused(err error) bool {
	// Not a switch: ENOTSUP and EOPNOTSUPP are one value on some systems.
	return err == unix.EINVAL || err == unix.ENOSYS || err == unix.EOPNOTSUPP ||
		err == unix.ENOTSUP || err == unix.ENOTSOCK
}

// copyBufs holds the buffers of copyRegion.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, fallbackChunk); return &b }}

// copyRegion reads up to want bytes of r with pread and writes them to
// the socket. It returns the bytes written: 0 and a nil error at the end
// of the file, EAGAIN when the socket is full, another error (made a
// close reason) when the read or the write failed.
func (c *Conn) copyRegion(r *fileRegion, want int) (int, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := (*bp)[:want]
	k, err := r.read(buf)
	if k == 0 || err != nil {
		return 0, err
	}
	for {
		var w int
		w, err = rawWrite(c.w.Fd(), buf[:k])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, err
		case err != nil:
			return 0, reason("write", err)
		}
		// Short, the socket is full: what was read and not written is
		// read again next time.
		return w, nil
	}
}

// read reads the next bytes of r into buf with pread, without advancing
// r: 0 and a nil error at the end of the file, a close reason on error.
func (r *fileRegion) read(buf []byte) (int, error) {
	for {
		k, err := unix.Pread(r.fd, buf, r.off)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, fmt.Errorf("evnet: pread: %w", err)
		}
		return k, nil
	}
}

// release gives r's file back: done is told, or the file closed.
func (r *fileRegion) release(err error) {
	f, done := r.f, r.done
	r.f, r.done = nil, nil
	if done != nil {
		done(err)
	} else if f != nil {
		f.Close()
	}
}

// releaseRegions gives back the files of the regions left in q when c
// closes, with the reason it closed.
func (c *Conn) releaseRegions(q *outq) {
	why := c.reason()
	if why == nil {
		why = ErrClosed
	}
	files := q.files
	q.files, q.fileN = nil, 0
	for _, r := range files {
		r.release(why)
	}
}
