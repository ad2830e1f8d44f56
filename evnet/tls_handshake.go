package evnet

// TLS handshakes: each on a goroutine of its own (a worker, which may
// run another handshake after it), which runs tls.Conn.Handshake over
// the blocking side of the connection's transport; their number per
// listener is bounded.
//
// crypto/tls cannot resume a handshake that a would-block interrupted, so
// the handshake reads blocking: the loop appends what it reads from the
// socket to handshake.in, under mu, and signals cond; the goroutine's
// Read waits on cond. What crypto/tls writes the goroutine writes to the
// socket itself while the kernel takes it all (the loop writes nothing
// then), and hands to the loop with Loop.Post from the first write the
// kernel refuses on; the end (handshakeDone) comes with Post too, after
// the last write. A connection that closes meanwhile (timeout, reset, loop
// closed) closes the handshake: its Read fails, and the goroutine is
// done with it.

import (
	"crypto/tls"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
)

// handshakeMaxInput bounds the input a handshake holds that crypto/tls
// has not read yet: beyond it the loop stops reading the socket until
// the goroutine has read half of it.
const handshakeMaxInput = 32 << 10

// handshake is a TLS handshake in progress.
type handshake struct {
	loop *eddy.Loop

	mu   sync.Mutex
	cond sync.Cond // on mu: input, eof or closed
	// Guarded by mu.
	in      []byte // ciphertext from the loop; in[:off] has been read
	off     int
	keep    bool // keep in[:off] (TLSConfig.Plaintext), until the first record has been read
	held    bool // the loop stopped reading: in is full
	eof     bool // the peer shut down its side
	closed  bool // the connection closed: fd is not the socket's any more
	posting bool // the loop sends what the handshake writes (the socket was full)

	// The handshake's goroutine only, then the loop's once it has ended
	// (tls13.go): the application traffic secrets from crypto/tls's key
	// log lines (tls_keylog.go), the program's own KeyLogWriter (when hs
	// is the KeyLogWriter), and a copy of the records written after the
	// server's secret came.
	clientSecret, serverSecret []byte
	keyLog                     io.Writer
	post                       []byte
	postOn                     bool

	// Loop goroutine only.
	started bool   // the goroutine runs (or ran)
	early   []byte // the plaintext written before the handshake was done
	// hello reads the client random; routed: the handshake is registered
	// under it with the listener's keyRouter (tls_keylog.go).
	hello  helloRandom
	routed bool

	// Set before the goroutine starts: the socket.
	fd int
	// The socket's addresses, for ClientHelloInfo.Conn: learnt when asked
	// (few programs do; four system calls), under mu.
	local, remote net.Addr
}

// addrs returns the socket's addresses, on the handshake's goroutine:
// asked of the socket the first time, under mu, which keeps the loop from
// closing the descriptor meanwhile; empty ones once the connection has
// closed.
func (hs *handshake) addrs() (local, remote net.Addr) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.local != nil {
		return hs.local, hs.remote
	}
	if hs.closed {
		return fdAddrs(-1)
	}
	hs.local, hs.remote = fdAddrs(hs.fd)
	return hs.local, hs.remote
}

// read is the transport's Read during the handshake, on its goroutine:
// it waits for input, and gives it up to the end of a record.
func (hs *handshake) read(t *tlsConn, b []byte) (int, error) {
	hs.mu.Lock()
	for hs.off == len(hs.in) && !hs.eof && !hs.closed {
		hs.cond.Wait()
	}
	if hs.closed {
		hs.mu.Unlock()
		return 0, net.ErrClosed
	}
	if hs.off == len(hs.in) {
		hs.mu.Unlock()
		return 0, io.EOF
	}
	n := t.rec.take(b, hs.in[hs.off:])
	hs.off += n
	if hs.keep && t.rec.hdr == 0 {
		hs.keep = false // the first record is read
	}
	if !hs.keep && hs.off == len(hs.in) {
		hs.in, hs.off = hs.in[:0], 0
	}
	resume := hs.held && len(hs.in)-hs.off <= handshakeMaxInput/2
	if resume {
		hs.held = false
	}
	hs.mu.Unlock()
	if resume {
		hs.loop.Post(func() { t.c.handshakeRoom(t) })
	}
	return n, nil
}

// write is the transport's Write during the handshake, on its goroutine.
// It writes to the socket itself, under mu, which the loop takes to close
// the handshake before it closes the descriptor; nothing else writes to
// the socket during the handshake. What the kernel does not take, the
// loop sends (a copy, with Post), and so everything after it, in order.
func (hs *handshake) write(t *tlsConn, p []byte) (int, error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.closed {
		return 0, net.ErrClosed
	}
	n := len(p)
	if hs.postOn {
		hs.post = append(hs.post, p...)
	}
	for !hs.posting && len(p) > 0 {
		k, err := rawWrite(hs.fd, p)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN {
			break
		}
		if err != nil {
			return 0, reason("write", err)
		}
		p = p[k:]
		if len(p) > 0 {
			break // the socket is full
		}
	}
	if len(p) > 0 {
		hs.posting = true
		b := append([]byte(nil), p...)
		hs.loop.Post(func() { t.c.handshakeOutput(t, b) })
	}
	return n, nil
}

// close ends the handshake: its Read fails from now on.
func (hs *handshake) close() {
	hs.mu.Lock()
	hs.closed = true
	hs.mu.Unlock()
	hs.cond.Broadcast()
}

// handshakeOutput sends what the handshake wrote, on the loop.
func (c *Conn) handshakeOutput(t *tlsConn, b []byte) {
	if c.closed() || c.x.tls != t {
		return
	}
	c.send(b)
}

// unroute lets go of the handshake's registration with the listener's
// keyRouter, if any: when it ends, or its connection closes.
func (t *tlsConn) unroute() {
	if hs := t.hs; hs != nil && hs.routed {
		hs.routed = false
		t.c.sh.tls.keys.remove(hs.hello.random)
	}
}

// handshakeRoom resumes reading for a handshake that had too much input.
func (c *Conn) handshakeRoom(t *tlsConn) {
	if c.closed() || c.x.tls != t || c.flags&fHandshake == 0 || t.hs.eof {
		return
	}
	c.flags &^= fHold
	c.interest()
}

// awaitHandshake starts the handshake of a connection just accepted: its
// timeout now, its goroutine when the client's first record is in.
func (c *Conn) awaitHandshake() {
	c.handshakeDeadline()
}

// startHandshake starts the handshake of a dialled connection, just
// connected.
func (c *Conn) startHandshake() {
	c.handshakeDeadline()
	c.runHandshake()
	c.interest()
}

// handshakeInput takes p, bytes just read during the handshake.
func (c *Conn) handshakeInput(p []byte) {
	t := c.x.tls
	hs := t.hs
	if kr := c.sh.tls.keys; kr != nil && hs.hello.feed(p) {
		kr.add(hs.hello.random, hs) // before crypto/tls can read the random
		hs.routed = true
	}
	hs.mu.Lock()
	hs.in = append(hs.in, p...)
	full := len(hs.in)-hs.off >= handshakeMaxInput
	if full {
		hs.held = true
	}
	hs.mu.Unlock()
	hs.cond.Signal()
	if full {
		c.flags |= fHold
		c.interest()
	}
	if !hs.started && !c.sh.tls.client && firstRecordIn(hs.in) {
		c.queueHandshake()
	}
}

// firstRecordIn reports whether p holds the client's first record, or
// enough of it for crypto/tls to refuse it: not a handshake record, or
// longer than it accepts.
func firstRecordIn(p []byte) bool {
	if len(p) < recordHeaderLen {
		return false
	}
	if p[0] != recordTypeHandshake || p[1] >= 0x10 {
		return true
	}
	n := int(p[3])<<8 | int(p[4])
	return n > maxFirstRecord || len(p) >= recordHeaderLen+n
}

// queueHandshake starts c's handshake if the bound allows, else puts c
// in the queue, reading nothing until its turn.
func (c *Conn) queueHandshake() {
	ts := c.sh.tls
	if ts.max > 0 && ts.inFlight >= ts.max {
		ts.waiting = append(ts.waiting, c)
		c.flags |= fHold
		c.interest()
		return
	}
	c.runHandshake()
}

// next starts the handshakes waiting, as far as the bound allows.
func (ts *tlsShared) next() {
	for len(ts.waiting) > 0 && (ts.max <= 0 || ts.inFlight < ts.max) {
		c := ts.waiting[0]
		ts.waiting[0] = nil
		ts.waiting = ts.waiting[1:]
		if c.closed() {
			continue
		}
		if hs := c.x.tls.hs; !hs.held && !hs.eof {
			c.flags &^= fHold
		}
		c.runHandshake()
		c.interest()
	}
	if len(ts.waiting) == 0 {
		ts.waiting = nil
	}
}

// runHandshake starts c's handshake on a worker.
func (c *Conn) runHandshake() {
	t := c.x.tls
	hs := t.hs
	c.sh.tls.inFlight++
	hs.started = true
	if !c.sh.tls.client {
		hs.in = splitFirstRecord(hs.in)
	}
	hs.posting = c.q != nil // what was queued before StartTLS* goes first
	hs.fd = c.w.Fd()
	runOnWorker(handshakeJob{c: c, t: t, tc: t.tc})
}

// handshakeJob is a handshake for a worker: crypto/tls's, then its end
// on the connection's loop.
type handshakeJob struct {
	c  *Conn
	t  *tlsConn
	tc *tls.Conn
}

// run runs the handshake, on a worker.
func (j handshakeJob) run() {
	err := j.tc.Handshake()
	c, t := j.c, j.t
	t.hs.loop.Post(func() { c.handshakeDone(t, err) })
}

// Handshake workers. A handshake runs on a goroutine that stays, once it
// has ended, up to workerIdle for the next one (of any loop), and so
// keeps the stack crypto/tls has grown: a goroutine's stack starts
// small and grows by copies, which cost a new goroutine about 14 µs per
// handshake (4% of the server's CPU time in TestTLSHandshakeCPU). At
// most maxIdleWorkers wait; the others end at once.
const (
	workerIdle     = time.Second
	maxIdleWorkers = 64
)

var (
	// handshakeJobs hands a handshake to a worker waiting for one.
	handshakeJobs = make(chan handshakeJob)
	// idleWorkers counts the workers waiting (or about to).
	idleWorkers atomic.Int32
)

// runOnWorker runs j on a waiting worker, or a new one: it never blocks.
func runOnWorker(j handshakeJob) {
	select {
	case handshakeJobs <- j:
	default:
		go handshakeWorker(j)
	}
}

// handshakeWorker runs j, then the handshakes it is given, until none
// came for workerIdle.
func handshakeWorker(j handshakeJob) {
	var idle *time.Timer
	for {
		j.run()
		j = handshakeJob{} // the connection is not the worker's any more
		if idleWorkers.Add(1) > maxIdleWorkers {
			idleWorkers.Add(-1)
			return
		}
		if idle == nil {
			idle = time.NewTimer(workerIdle)
		} else {
			idle.Reset(workerIdle)
		}
		select {
		case j = <-handshakeJobs:
			idleWorkers.Add(-1)
			idle.Stop()
		case <-idle.C:
			idleWorkers.Add(-1)
			return
		}
	}
}

// handshakeEOF handles the peer's EOF during the handshake: the
// handshake reads to the end of the input and then fails, unless it
// needed no more; reading waits for its end.
func (c *Conn) handshakeEOF() {
	hs := c.x.tls.hs
	c.flags |= fHold
	c.interest()
	if !hs.started {
		c.fail(errHandshakeEOF)
		return
	}
	hs.mu.Lock()
	hs.eof = true
	hs.mu.Unlock()
	hs.cond.Broadcast()
}

// firstFragment is the most payload splitFirstRecord leaves in a record:
// a record of it and its header fit in the read buffer crypto/tls makes
// first (bytes.Buffer's Grow of 5+512 bytes, a 576-byte allocation).
const firstFragment = 512

// splitFirstRecord splits the client's first record, when it is a whole
// plaintext handshake record (the ClientHello) longer than firstFragment,
// into records of firstFragment bytes each, and returns in so rewritten
// (the bytes after the record follow unchanged). A handshake message may
// span records (RFC 8446, section 5.1; RFC 5246, 6.2.1) and the
// transcript covers the messages, not the records, so crypto/tls reads
// the same ClientHello; but its read buffer, which keeps the size of the
// largest record it has read for the connection's life, stays at 576
// bytes instead of growing to the ClientHello's (about 1.4 KB with a
// post-quantum key share, as Go's and the browsers' clients send now).
func splitFirstRecord(in []byte) []byte {
	if len(in) < recordHeaderLen || in[0] != recordTypeHandshake || in[1] >= 0x10 {
		return in
	}
	n := int(in[3])<<8 | int(in[4])
	if n <= firstFragment || n > maxFirstRecord || len(in) < recordHeaderLen+n {
		return in
	}
	payload, rest := in[recordHeaderLen:recordHeaderLen+n], in[recordHeaderLen+n:]
	out := make([]byte, 0, len(in)+(n/firstFragment+1)*recordHeaderLen)
	for len(payload) > 0 {
		k := min(len(payload), firstFragment)
		out = append(out, in[0], in[1], in[2], byte(k>>8), byte(k))
		out = append(out, payload[:k]...)
		payload = payload[k:]
	}
	return append(out, rest...)
}
