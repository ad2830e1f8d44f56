package evhttp

// The request body of an adapted request, on both sides: the handler's
// (adBody, the http.Request's Body: a bounded buffer it reads) and the
// loop's (askBody, onBody, finishBody), which asks the native exchange for
// the body when the handler first reads it, fills the buffer as the body
// arrives, pauses the connection while the handler is MaxBodyBuffer
// behind, and drops the rest when the handler returns without reading it.

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
)

// adBody is the Body of an adapted request: a bounded buffer that the
// loop fills from the connection (adReq.onBody) and the handler drains.
// The loop pauses the connection's body when the buffer holds limit
// bytes; a Read that brings it down to half resumes it. The first Read
// asks the loop for the body, which sends 100 Continue to a client that
// waits for it.
type adBody struct {
	ar    *adReq
	limit int
	ready chan struct{} // capacity 1: the loop added data or an error

	mu      sync.Mutex // guards what follows
	buf     []byte     // buf[off:] is unread
	off     int
	err     error       // after the data: io.EOF, or what cut the body
	trailer http.Header // the trailer fields, with io.EOF
	asked   bool        // the loop was asked for the body
	paused  bool        // the loop paused the body: a Read resumes it
	closed  bool        // Close, or the handler returned: the rest is dropped
}

// errBodyClosed is net/http's answer to a Read after Close.
var errBodyClosed = errors.New("http: invalid Read on closed Body")

// Read reads the body as it arrives. It returns io.EOF at its end (the
// request's Trailer is filled then), or the error that cut it: the
// connection closed (io.ErrUnexpectedEOF, which the error also matches,
// if the client ended it inside the body), the body too large
// (ErrBodyTooLarge), malformed, or timed out.
func (b *adBody) Read(p []byte) (int, error) {
	ar := b.ar
	b.mu.Lock()
	for b.off == len(b.buf) && b.err == nil {
		if b.closed {
			b.mu.Unlock()
			return 0, errBodyClosed
		}
		if !b.asked {
			b.asked = true
			ar.push(adEntry{ar: ar, op: adAskBody})
		}
		b.mu.Unlock()
		if err := b.wait(); err != nil {
			return 0, err
		}
		b.mu.Lock()
	}
	if b.closed {
		b.mu.Unlock()
		return 0, errBodyClosed
	}
	n := copy(p, b.buf[b.off:])
	b.off += n
	if b.off == len(b.buf) {
		b.buf, b.off = b.buf[:0], 0
	}
	if b.paused && len(b.buf)-b.off <= b.limit/2 {
		b.paused = false
		ar.push(adEntry{ar: ar, op: adResumeBody})
	}
	if n > 0 || len(p) == 0 {
		b.mu.Unlock()
		return n, nil
	}
	err := b.err
	tr := b.trailer
	b.trailer = nil
	b.mu.Unlock()
	if tr != nil {
		if ar.req.Trailer == nil {
			ar.req.Trailer = make(http.Header, len(tr))
		}
		for k, v := range tr {
			ar.req.Trailer[k] = v
		}
	}
	return 0, err
}

// wait waits for the loop to add to the body. It returns an error when
// the exchange is over with nothing more to come, or the read deadline
// passed.
func (b *adBody) wait() error {
	ar := b.ar
	timeout, stop, err := deadlineTimer(ar.readDeadline.Load())
	if err != nil {
		return err
	}
	defer stop()
	select {
	case <-b.ready:
		return nil
	case <-ar.goneChan():
		// The loop gives the body its error before the exchange ends,
		// when it had asked for it; if it had not, nothing will come.
		b.mu.Lock()
		defer b.mu.Unlock()
		if b.off < len(b.buf) || b.err != nil {
			return nil
		}
		b.err = ar.goneErr
		return nil
	case <-timeout:
		return os.ErrDeadlineExceeded
	}
}

// Close stops the body: later Reads fail, and what arrives is dropped.
// The server closes the body when the handler returns, as net/http's.
func (b *adBody) Close() error {
	b.mu.Lock()
	b.closed = true
	b.buf, b.off = nil, 0
	b.mu.Unlock()
	return nil
}

var _ io.ReadCloser = (*adBody)(nil)

// askBody starts the body's delivery, when the handler first reads it.
func (ar *adReq) askBody() {
	if ar.over || ar.hijacked {
		return
	}
	ar.bodyAsked = true
	ar.r.OnBody(ar.onBody)
}

// onBody is the native body callback: it fills the body's buffer and
// pauses the connection when the handler is MaxBodyBuffer behind.
func (ar *adReq) onBody(_ *ResponseWriter, r *Request, p []byte, err error) {
	b := ar.body
	b.mu.Lock()
	if !b.closed && len(p) > 0 {
		if b.off > 0 {
			n := copy(b.buf, b.buf[b.off:])
			b.buf, b.off = b.buf[:n], 0
		}
		b.buf = append(b.buf, p...)
	}
	if err != nil && b.err == nil {
		switch {
		case err == io.EOF:
			if len(r.trailers) > 0 {
				b.trailer = make(http.Header, len(r.trailers))
				for _, f := range r.trailers {
					k := adKey(f.Name)
					b.trailer[k] = append(b.trailer[k], string(f.Value))
				}
			}
		case errors.Is(err, ErrBodyTruncated):
			err = &adBodyError{io.ErrUnexpectedEOF, err}
		}
		b.err = err
	}
	pause := err == nil && !b.closed && len(b.buf)-b.off >= b.limit
	if pause {
		b.paused = true
	}
	b.mu.Unlock()
	select {
	case b.ready <- struct{}{}:
	default:
	}
	if pause {
		r.PauseBody()
	}
}

// finishBody deals with a request body the handler did not read to its
// end, once it has returned: the rest is read and dropped if it is short
// (chunked or not), else the connection closes after the response, as
// the native server does for a body no handler asked for.
func (ar *adReq) finishBody() {
	b := ar.body
	if b == nil || !ar.bodyAsked {
		return
	}
	b.mu.Lock()
	done := b.err != nil
	b.closed = true
	b.buf, b.off = nil, 0
	b.mu.Unlock()
	if done {
		return
	}
	// No more body calls: the rest is dropped as the native server drops
	// a body no handler asked for (net/http drops 256 KiB too).
	ar.w.x.dropRest()
	ar.r.ResumeBody()
}

// adBodyError is a body error that is also io.ErrUnexpectedEOF, as
// net/http reports a truncated body.
type adBodyError struct{ std, ev error }

func (e *adBodyError) Error() string   { return e.ev.Error() }
func (e *adBodyError) Unwrap() []error { return []error{e.std, e.ev} }
