package evhttp

// ResponseWriter.SendFile: a file region as (part of) the body, sent
// with evnet's Conn.SendFile. A response at the front of its connection's
// queue hands the region to the connection at once, after the bytes
// before it (the loop's coalescing buffer is flushed first). A response
// waiting behind an earlier one keeps the region among its pending bytes
// (pendingFile.at marks where), and writePending hands both over, in
// order, when its turn comes.

import (
	"os"
	"strconv"

	"github.com/eddyloop/eddy/evnet"
)

// pendingFile is a file region of a response waiting for its turn.
type pendingFile struct {
	at     int // its place in the pending bytes: after pending[:at]
	f      *os.File
	off, n int64
	done   func(err error)
}

// release gives the file back: done is told, or the file closed.
func (p *pendingFile) release(err error) {
	f, done := p.f, p.done
	*p = pendingFile{}
	if done != nil {
		done(err)
	} else if f != nil {
		f.Close()
	}
}

// SendFile sends n bytes of f, from offset, as the next part of the
// body, without copying them into the process: the connection sends
// them with sendfile(2) (see evnet.Conn.SendFile), in order with what is
// written before and after.
//
// Called before the head is sent, SendFile sends it. Unless a length was
// declared (SetContentLength, or a Content-Length header field), the
// body's length becomes what was written so far plus n: the region ends
// the body, and a handler that sends several regions (the parts of a
// multipart response, say) declares the whole length first. After the
// head, a chunked body gets the region as one chunk. For a HEAD request
// the n bytes are counted, as Write counts them, and f is released at
// once.
//
// Ownership is as for evnet.Conn.SendFile. If SendFile returns an error,
// nothing was sent, f is still the caller's and done is not called.
// Otherwise the server holds f until the region has been handed to the
// kernel, or the exchange or the connection ends first, and then calls
// done, on the loop, with nil or the reason; with a nil done it closes f
// itself. done may run before SendFile returns. The file must stay open
// until then, and must be one that pread(2) can read at an offset (a
// regular file).
//
// SendFile returns ErrEnded after End, ErrBodyNotAllowed for a 1xx, 204
// or 304 status, ErrContentLength if the region would make the body
// longer than the declared length (nothing is sent then), os.ErrInvalid
// for a nil file or a negative offset or length, and the error that
// ended the exchange.
func (w *ResponseWriter) SendFile(f *os.File, offset, n int64, done func(err error)) error {
	x := w.x
	if err := x.usable(); err != nil {
		return err
	}
	if f == nil || offset < 0 || n < 0 {
		return os.ErrInvalid
	}
	if w.status == 0 {
		w.status = 200
	}
	if bodyless(w.status) {
		return ErrBodyNotAllowed
	}
	if x.flags&xHeadSent == 0 {
		if w.cl < 0 && !w.hdr.Has("Content-Length") {
			w.cl = w.nbuf + n
		}
		x.sendHead(-1)
		if x.flags&xAborted != 0 {
			return x.err
		}
	}
	if w.cl >= 0 && w.written+n > w.cl {
		return ErrContentLength
	}
	if x.flags&xHead != 0 || n == 0 {
		w.written += n
		(&pendingFile{f: f, done: done}).release(nil)
		return nil
	}
	hc := x.hc
	chunked := x.flags&xChunked != 0
	dst, sink := x.begin()
	if chunked {
		dst = strconv.AppendInt(dst, n, 16)
		dst = append(dst, "\r\n"...)
	}
	if sink == sinkPending {
		w.files = append(w.files, pendingFile{at: len(dst), f: f, off: offset, n: n, done: done})
		if chunked {
			dst = append(dst, "\r\n"...)
		}
		x.end(dst, sink)
		w.written += n
		return nil
	}
	x.end(dst, sink)
	if sink == sinkBatch {
		hc.flushOut()
	}
	if hc.flags&cClosed != 0 {
		if err := x.usable(); err != nil {
			return err
		}
		return evnet.ErrClosed
	}
	if err := hc.c.SendFile(f, offset, n, done); err != nil {
		return err
	}
	w.written += n
	if chunked {
		dst, sink = x.begin()
		dst = append(dst, "\r\n"...)
		x.end(dst, sink)
	}
	return nil
}

// writePending hands x's pending output to the connection, now that x is
// at the front of the queue: its bytes, and the file regions among them,
// in order.
func (hc *conn) writePending(x *exchange) {
	w := &x.w
	p := w.pending
	w.pending = nil
	at := 0
	for i := range w.files {
		pf := &w.files[i]
		if pf.at > at {
			hc.write(p[at:pf.at])
			at = pf.at
		}
		if hc.ls.batch == hc {
			hc.flushOut()
		}
		err := error(evnet.ErrClosed)
		if hc.flags&cClosed == 0 {
			err = hc.c.SendFile(pf.f, pf.off, pf.n, pf.done)
		}
		if err != nil {
			pf.release(err)
		}
		*pf = pendingFile{}
	}
	w.files = w.files[:0]
	if at < len(p) && hc.flags&cClosed == 0 {
		hc.write(p[at:])
	}
	if cap(p) <= maxRetain {
		w.pending = p[:0]
	}
}

// dropFiles releases the file regions of an exchange that ends without
// sending them.
func (x *exchange) dropFiles(err error) {
	files := x.w.files
	x.w.files = nil
	for i := range files {
		files[i].release(err)
	}
}
