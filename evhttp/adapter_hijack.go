package evhttp

// Hijack for the adapter: http.Hijacker's handing over of the connection
// to the handler. The handler's side (adWriter.Hijack) asks the loop
// through the outbox; the loop's side (hijack, handOver, detach) lets go of
// the connection, waits for its output to leave, and gives the handler a
// duplicate of its descriptor with the input read beyond the request head,
// which the handler's side makes a net.Conn of Go's own network poller.

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
)

// ErrHijackTLS is Hijack's error on a TLS connection: its TLS state stays
// on the loop, and a duplicate of the socket would carry ciphertext.
// UpgradeAdapted hands such a connection to a handler on its loop.
var ErrHijackTLS = errors.New("evhttp: Hijack of a TLS connection is not supported (UpgradeAdapted keeps it on its loop)")

// Hijack hands the connection over to the handler (see Adapt): a 101
// status set with WriteHeader is written to it first, another status is
// flushed with what was written. What the client sent after the request
// head is in the bufio.Reader.
func (rw *adWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	ar := rw.ar
	switch {
	case rw.hijacked:
		return nil, nil, http.ErrHijacked
	case rw.finished.Load():
		return nil, nil, errAdapterFinished
	case rw.err != nil:
		return nil, nil, rw.err
	case ar.ac.tls != nil:
		return nil, nil, ErrHijackTLS
	}
	var head []byte
	if rw.wroteHeader && !rw.committed {
		if rw.status == 101 {
			head = h1.AppendStatusLine(nil, 1, 101)
			for _, f := range rw.head.fields {
				if h1.ValidFieldName(f.name) {
					head = h1.AppendHeader(head, f.name, f.value)
				}
			}
			head = append(head, "\r\n"...)
			rw.committed = true
			rw.head = nil
		} else if err := rw.send(adFlush); err != nil {
			return nil, nil, err
		}
	} else if rw.wroteHeader && rw.buf != nil && len(rw.buf.b) > 0 {
		if err := rw.send(adFlush); err != nil {
			return nil, nil, err
		}
	}
	rw.hijacked = true
	res := make(chan adHandover, 1)
	ar.push(adEntry{op: adCall, f: func() { ar.hijack(res) }})
	var h adHandover
	select {
	case h = <-res:
	case <-ar.goneChan():
		// A descriptor is always sent before gone closes (detach), so
		// none can be left behind here.
		select {
		case h = <-res:
		default:
			h.err = ar.goneErr
		}
	}
	if h.err != nil {
		rw.hijacked = false
		rw.broke(h.err)
		return nil, nil, h.err
	}
	f := os.NewFile(uintptr(h.fd), "evhttp-hijacked")
	nc, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("evhttp: hijack: %w", err)
	}
	if len(head) > 0 {
		if _, err := nc.Write(head); err != nil {
			nc.Close()
			return nil, nil, err
		}
	}
	br := bufio.NewReaderSize(&adPrefixReader{rest: h.rest, r: nc}, max(4096, len(h.rest)))
	if len(h.rest) > 0 {
		br.Peek(len(h.rest)) // into the buffer, where Buffered counts them
	}
	return nc, bufio.NewReadWriter(br, bufio.NewWriter(nc)), nil
}

// adPrefixReader reads rest, then r.
type adPrefixReader struct {
	rest []byte
	r    io.Reader
}

func (p *adPrefixReader) Read(b []byte) (int, error) {
	if len(p.rest) > 0 {
		n := copy(b, p.rest)
		p.rest = p.rest[n:]
		return n, nil
	}
	return p.r.Read(b)
}

// adHandover is what the loop gives Hijack: the duplicated descriptor and
// the input it had read beyond the request head.
type adHandover struct {
	fd   int
	rest []byte
	err  error
}

// errHijackBusy reports a hijack while earlier responses on the
// connection are still going out, or while a request parsed after the
// hijacking one has begun (answered on the loop, its body read).
var errHijackBusy = errors.New("evhttp: hijack: other responses on the connection are not finished")

// hijack starts handing the connection over: the HTTP side lets go of it
// and stops reading, then handOver waits for its output to leave. The
// heads parsed after the request, whose handlers have not run, go back to
// the handler with the input (prefix): their exchanges end when the
// connection does, and their handlers never run.
func (ar *adReq) hijack(res chan<- adHandover) {
	if ar.over {
		res <- adHandover{err: ar.goneErr}
		return
	}
	x := ar.w.x
	hc := x.hc
	if hc.head() != x || hc.flags&(cClosed|cLinger) != 0 {
		res <- adHandover{err: errHijackBusy}
		return
	}
	var prefix []byte
	for y := hc.after(x); y != nil; y = hc.after(y) {
		if y.flags&xInternal != 0 {
			continue // a head that failed to parse: its bytes are still unread
		}
		if y.flags&(xEnded|xHeadSent|xAborted|xOverride) != 0 || y.r.received > 0 || y.r.bodyFn != nil {
			res <- adHandover{err: errHijackBusy}
			return
		}
		prefix = append(prefix, y.r.raw...)
	}
	ar.prefix = prefix
	ar.hijacked = true
	// The requests parsed after it are the handler's bytes now: none is
	// served (their exchanges end with the connection's close).
	ac := ar.ac
	ac.mu.Lock()
	ac.dropLocked()
	ac.mu.Unlock()
	if hc.ls.batch == hc {
		hc.flushOut() // the responses before it, coalesced in this batch
	}
	// The HTTP side treats the connection as closed from here on: no more
	// parsing, writing, timeouts or wake-ups; evnet's OnClose comes when
	// detach closes the loop's descriptor.
	hc.flags |= cClosed
	hc.c.StopTimer()
	ar.conn.PauseRead()
	ar.handOver(res)
}

// handOver waits until the connection's output queue is empty, polling
// every millisecond (a rare wait: the head of a 101, say), then has
// detach run in the next iteration of the loop, once the loop has taken
// the descriptor out of the kernel's interest set: a duplicate keeps the
// open file, and a registration left on it would keep reporting events.
func (ar *adReq) handOver(res chan<- adHandover) {
	c := ar.conn
	if err := c.Err(); err != nil {
		ar.stopFlushWait()
		res <- adHandover{err: err}
		return
	}
	if c.Buffered() > 0 {
		if ar.flushWait == nil {
			ar.flushWait = eddy.NewTimer(func(*eddy.Timer) { ar.handOver(res) }, time.Millisecond, time.Millisecond)
			ar.flushWait.Start(ar.loop)
		}
		return
	}
	ar.stopFlushWait()
	ar.loop.Post(func() { ar.detach(res) })
}

func (ar *adReq) stopFlushWait() {
	if ar.flushWait != nil {
		ar.flushWait.Stop()
		ar.flushWait = nil
	}
}

// detach duplicates the descriptor for the handler and closes the loop's:
// the socket stays open through the duplicate, so no FIN nor reset goes
// out. The result is sent before the close, whose OnDone closes gone.
func (ar *adReq) detach(res chan<- adHandover) {
	c := ar.conn
	if err := c.Err(); err != nil {
		res <- adHandover{err: err}
		return
	}
	fd, err := dupCloexec(c.Fd())
	if err != nil {
		res <- adHandover{err: err}
		c.Abort()
		return
	}
	res <- adHandover{fd: fd, rest: append(ar.prefix, c.Peek()...)}
	serverConn(c).setState(StateHijacked) // and not Closed, which follows
	c.Close()
}

// dupCloexec duplicates fd, close-on-exec.
func dupCloexec(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("evhttp: hijack: dup: %w", err)
	}
	return nfd, nil
}
