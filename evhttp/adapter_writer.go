package evhttp

// The adapter's http.ResponseWriter (adWriter), on the handler's
// goroutine: it keeps the header, decides the head at WriteHeader (or the
// first Write), gathers the body in batch buffers, and turns the response
// into the outbox's entries (adapter_outbox.go): a batch when a buffer is
// full or flushed, the end with the last bytes and the trailers when the
// handler returns, a cut or a panic when it fails. A slow client slows it
// down: Write waits for a batch buffer to come back from the loop.

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/internal/ascii"
)

// adWriter is the http.ResponseWriter of an adapted request. Its methods
// run on the handler's goroutine (as net/http's, it is not safe for
// concurrent use), except the deadline setters, which any goroutine may
// call. It buffers the body in a batch buffer and sends full batches to
// the loop; the loop gives each buffer back once the connection has taken
// its bytes, or, when the connection is Full, once it has drained. Write
// waits for that before it sends the next batch: a handler holds at most
// two buffers, and a slow client slows it down.
type adWriter struct {
	ar          *adReq
	header      http.Header
	status      int
	wroteHeader bool
	head        *adHead     // decided at WriteHeader, until a batch carries it
	haveType    bool        // the handler set Content-Type (even to nothing)
	hasCE       bool        // or Content-Encoding
	hasTE       bool        // or Transfer-Encoding
	committed   bool        // the head went to the loop
	cl          int64       // the declared Content-Length, or -1
	written     int64       // body bytes written
	buf         *adBuf      // the batch being filled; nil until needed
	inflight    int         // batches sent whose buffer has not come back
	err         error       // a failure that leaves the response unfinishable
	finished    atomic.Bool // the handler returned: set first, so that a late call fails cleanly
	hijacked    bool
	prefixed    []string   // the trailers named with http.TrailerPrefix at WriteHeader
	headMem     adHead     // where head points
	fieldsMem   [4]adField // where the head's fields go when they fit
}

// errAdapterFinished is returned by the ResponseWriter of a handler that
// has returned.
var errAdapterFinished = errors.New("evhttp: ResponseWriter used after the handler returned")

// Header returns the header map of the response, which WriteHeader (or
// the first Write) takes a copy of.
func (rw *adWriter) Header() http.Header { return rw.header }

// WriteHeader sends the status code: a 1xx code but 101 at once, as an
// interim response with the header set so far, any other code with the
// head, when the first batch goes to the loop. Later calls are logged and
// ignored; a code outside 100 to 999 panics, as net/http's does.
func (rw *adWriter) WriteHeader(code int) {
	ar := rw.ar
	switch {
	case rw.hijacked:
		ar.logf("evhttp: WriteHeader(%d) on a hijacked connection", code)
		return
	case rw.finished.Load():
		return
	case rw.wroteHeader:
		ar.logf("evhttp: superfluous WriteHeader(%d) for %s %q (status %d already)", code, ar.req.Method, ar.req.RequestURI, rw.status)
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code < 200 && code != 101 {
		fields := rw.fields(false)
		ar.push(adEntry{op: adCall, f: func() { ar.interim(code, fields) }})
		return
	}
	rw.decide(code)
}

// decide records the final status code and takes the header's copy.
func (rw *adWriter) decide(code int) {
	ar := rw.ar
	rw.wroteHeader = true
	rw.status = code
	rw.headMem = adHead{status: code, cl: -1, fields: rw.fields(true)}
	rw.prefixed = rw.prefixed[:0]
	for k := range rw.header {
		if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			rw.prefixed = append(rw.prefixed, http.CanonicalHeaderKey(name))
		}
	}
	slices.Sort(rw.prefixed)
	rw.head = &rw.headMem
	_, rw.haveType = rw.header["Content-Type"]
	rw.hasCE = rw.header.Get("Content-Encoding") != ""
	rw.hasTE = rw.header.Get("Transfer-Encoding") != ""
	if v := rw.header.Get("Content-Length"); v != "" {
		// The head is sent with a Content-Length of rw.cl's, if any.
		if n, ok := parseLength(v); ok {
			rw.cl = n
		} else {
			ar.logf("evhttp: invalid Content-Length of %q", v)
		}
	}
}

// fields copies the header, sorted by name as net/http writes it,
// without the fields named with http.TrailerPrefix (trailers, sent after
// the body); into rw.fieldsMem if own and they fit.
func (rw *adWriter) fields(own bool) []adField {
	var keysMem [16]string
	keys := keysMem[:0]
	n := 0
	for k, vv := range rw.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			continue
		}
		keys = append(keys, k)
		n += len(vv)
	}
	slices.Sort(keys)
	var f []adField
	if own && n+1 <= len(rw.fieldsMem) {
		f = rw.fieldsMem[:0]
	} else {
		f = make([]adField, 0, n+1) // room for a sniffed Content-Type
	}
	for _, k := range keys {
		for _, v := range rw.header[k] {
			f = append(f, adField{k, v})
		}
	}
	return f
}

// bodyAllowed reports whether a response with status may have a body.
func bodyAllowed(status int) bool { return !bodyless(status) }

// Write appends p to the body (see adWriter).
func (rw *adWriter) Write(p []byte) (int, error) { return rw.write(p, "") }

// WriteString is Write for a string, without its conversion.
func (rw *adWriter) WriteString(s string) (int, error) { return rw.write(nil, s) }

func (rw *adWriter) write(p []byte, s string) (int, error) {
	if err := rw.writable(); err != nil {
		return 0, err
	}
	if !bodyAllowed(rw.status) {
		return 0, http.ErrBodyNotAllowed
	}
	rw.written += int64(len(p) + len(s))
	if rw.cl >= 0 && rw.written > rw.cl {
		return 0, http.ErrContentLength
	}
	n := 0
	for len(p) > 0 || len(s) > 0 {
		if rw.buf == nil {
			rw.buf = rw.ar.a.getBuf()
		}
		b := rw.buf.b
		if len(b) == cap(b) {
			if err := rw.send(adWrite); err != nil {
				return n, err
			}
			continue
		}
		var k int
		if len(p) > 0 {
			k = copy(b[len(b):cap(b)], p)
			p = p[k:]
		} else {
			k = copy(b[len(b):cap(b)], s)
			s = s[k:]
		}
		rw.buf.b = b[:len(b)+k]
		n += k
	}
	return n, nil
}

// usable returns the error of a handler's call that finds the response
// hijacked, finished or failed.
func (rw *adWriter) usable() error {
	switch {
	case rw.hijacked:
		return http.ErrHijacked
	case rw.finished.Load():
		return errAdapterFinished
	}
	return rw.err
}

// writable returns the error a write gets now, and sets the status 200 if
// none is.
func (rw *adWriter) writable() error {
	if err := rw.usable(); err != nil {
		return err
	}
	if !rw.wroteHeader {
		rw.WriteHeader(200)
	}
	return nil
}

// send hands the batch being filled (and the head, the first time) to the
// loop, after the previous batch's buffer has come back.
func (rw *adWriter) send(op uint8) error {
	ar := rw.ar
	if ar.ended.Load() {
		return rw.broke(ar.goneErr)
	}
	var spare *adBuf
	if rw.inflight > 0 {
		b, err := rw.awaitAck()
		if err != nil {
			return rw.broke(err)
		}
		rw.inflight--
		spare = b
	}
	batch := adEntry{ar: ar, op: op}
	if rw.buf != nil && len(rw.buf.b) > 0 {
		batch.data = rw.buf
		rw.buf = spare
		rw.inflight++
		if ar.ack == nil {
			ar.ack = make(chan *adBuf, 2)
		}
	} else {
		ar.a.putBuf(spare)
	}
	if !rw.committed {
		batch.head = rw.commit(batch.data)
	}
	ar.push(batch)
	return nil
}

// commit returns the head to send with the first batch, data, with a
// Content-Type sniffed from it when the handler set none.
func (rw *adWriter) commit(data *adBuf) *adHead {
	rw.committed = true
	h := rw.head
	rw.head = nil
	if !rw.haveType && !rw.hasCE && !rw.hasTE && bodyAllowed(h.status) && data != nil && len(data.b) > 0 {
		h.fields = append(h.fields, adField{"Content-Type", http.DetectContentType(data.b)})
	}
	return h
}

// awaitAck waits for a batch buffer to come back from the loop.
func (rw *adWriter) awaitAck() (*adBuf, error) {
	ar := rw.ar
	select {
	case b := <-ar.ack:
		return b, nil
	default:
	}
	timeout, stop, err := deadlineTimer(ar.writeDeadline.Load())
	if err != nil {
		return nil, err
	}
	defer stop()
	select {
	case b := <-ar.ack:
		return b, nil
	case <-ar.goneChan():
		return nil, ar.goneErr
	case <-timeout:
		return nil, os.ErrDeadlineExceeded
	}
}

// deadlineTimer returns a channel that fires at the deadline d (Unix
// nanoseconds, 0 for none: a nil channel), the function that stops it,
// and os.ErrDeadlineExceeded if d has passed.
func deadlineTimer(d int64) (<-chan time.Time, func(), error) {
	if d == 0 {
		return nil, func() {}, nil
	}
	left := time.Until(time.Unix(0, d))
	if left <= 0 {
		return nil, nil, os.ErrDeadlineExceeded
	}
	t := time.NewTimer(left)
	return t.C, func() { t.Stop() }, nil
}

// broke records err as what ends the response cut, and returns it.
func (rw *adWriter) broke(err error) error {
	if rw.err == nil {
		rw.err = err
	}
	return err
}

// Flush sends what the body has buffered, and the head if it has not
// gone: the client gets it without waiting for the response's end.
func (rw *adWriter) Flush() { rw.FlushError() }

// FlushError is Flush with its error, for http.ResponseController.
func (rw *adWriter) FlushError() error {
	if err := rw.writable(); err != nil {
		return err
	}
	if rw.status == 101 {
		return nil // the head goes out with Hijack
	}
	return rw.send(adFlush)
}

// SetReadDeadline sets when reading the request body stops waiting: a
// Read blocked past it, or called after it with nothing buffered, fails
// with os.ErrDeadlineExceeded. The zero time means none. A Read already
// waiting keeps the deadline it started with.
func (rw *adWriter) SetReadDeadline(t time.Time) error {
	rw.ar.readDeadline.Store(deadlineNanos(t))
	return nil
}

// SetWriteDeadline sets when a Write (or Flush) that waits for a slow
// client stops waiting: it fails with os.ErrDeadlineExceeded, and the
// response is then cut (the connection closes after what was sent).
// Writes that do not wait still succeed. The zero time means none.
func (rw *adWriter) SetWriteDeadline(t time.Time) error {
	rw.ar.writeDeadline.Store(deadlineNanos(t))
	return nil
}

func deadlineNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return max(t.UnixNano(), 1)
}

// EnableFullDuplex returns nil: the request body can always be read while
// the response is written.
func (rw *adWriter) EnableFullDuplex() error { return nil }

// finish ends the response after the handler returned: the last batch,
// with a Content-Length if the whole body is in it. It reports whether
// the response ends cleanly: complete, and keeping the connection as far
// as this side can tell (see adConn.following).
func (rw *adWriter) finish() bool {
	ar := rw.ar
	rw.finished.Store(true)
	if rw.hijacked {
		rw.release()
		return false
	}
	op := adEnd
	switch {
	case rw.err != nil:
		op = adCut
	case rw.status == 101:
		ar.logf("evhttp: status 101 for %s %q without Hijack: connection closed", ar.req.Method, ar.req.RequestURI)
		op = adCut
	case !rw.wroteHeader:
		rw.decide(200)
	}
	batch := adEntry{ar: ar, op: op}
	streamed := rw.committed
	if op == adEnd {
		if rw.buf != nil && len(rw.buf.b) > 0 {
			batch.data = rw.buf
			rw.buf = nil
		}
		if !rw.committed {
			batch.head = rw.commit(batch.data)
			trailers := rw.declareTrailers(batch.head)
			if rw.cl < 0 && bodyAllowed(rw.status) {
				switch {
				case ar.req.Method == "HEAD" && rw.written == 0:
					batch.head.bare = true
				case !trailers: // else chunked, for the trailers
					batch.head.cl = rw.written
				}
			}
		}
		batch.trailers = rw.trailers()
	}
	ar.push(batch)
	rw.release()
	return op == adEnd && !rw.closes(streamed)
}

// declareTrailers adds to the head, not yet sent, a Trailer field naming
// the trailers the handler had set with http.TrailerPrefix when it wrote
// the head (as net/http, which takes the head's copy of the header then)
// if it declared none itself, and reports whether the head declares trailers: then the
// native side chunks the body, as net/http does, to give them a place.
func (rw *adWriter) declareTrailers(h *adHead) bool {
	if slices.ContainsFunc(h.fields, func(f adField) bool { return f.name == "Trailer" }) {
		return true
	}
	if len(rw.prefixed) == 0 {
		return false
	}
	h.fields = append(h.fields, adField{"Trailer", strings.Join(rw.prefixed, ", ")})
	return true
}

// trailers returns the trailer fields as the handler left them: the
// values of the fields its header declared in Trailer, and the fields
// named with http.TrailerPrefix, as net/http sends them; nil for none.
func (rw *adWriter) trailers() []adField {
	var f []adField
	for _, v := range rw.header["Trailer"] {
		for name := range strings.SplitSeq(v, ",") {
			name = http.CanonicalHeaderKey(strings.TrimSpace(name))
			for _, val := range rw.header[name] {
				f = append(f, adField{name, val})
			}
		}
	}
	var prefixed []string
	for k := range rw.header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			prefixed = append(prefixed, k)
		}
	}
	slices.Sort(prefixed)
	for _, k := range prefixed {
		name := http.CanonicalHeaderKey(k[len(http.TrailerPrefix):])
		for _, val := range rw.header[k] {
			f = append(f, adField{name, val})
		}
	}
	return f
}

// closes reports whether the native side closes the connection after the
// response, for what the handler did: Connection: close, a body shorter
// than its declared length, a body without a length for HTTP/1.0.
func (rw *adWriter) closes(streamed bool) bool {
	for _, f := range rw.headMem.fields {
		if ascii.EqualFold(f.name, "Connection") && h1.HasToken([]byte(f.value), "close") {
			return true
		}
	}
	if !bodyAllowed(rw.status) || rw.ar.req.Method == "HEAD" {
		return false
	}
	// written counts a refused write past cl too (as net/http does):
	// the body sent is then short of cl, and the connection closes.
	return rw.cl >= 0 && rw.written != rw.cl || streamed && rw.cl < 0 && rw.ar.req.ProtoMinor == 0
}

// fail ends the response of a handler that panicked with v (nil: it
// called runtime.Goexit).
func (rw *adWriter) fail(v any) {
	ar := rw.ar
	rw.finished.Store(true)
	cut := v == nil || v == http.ErrAbortHandler
	if !cut {
		ar.logPanic(v)
	}
	if rw.hijacked {
		rw.release()
		return
	}
	op := adPanic
	if cut {
		op = adCut
	}
	ar.push(adEntry{ar: ar, op: op})
	rw.release()
}

// release gives the buffers the handler's side holds back to the pool.
func (rw *adWriter) release() {
	a := rw.ar.a
	a.putBuf(rw.buf)
	rw.buf = nil
	for {
		select {
		case b := <-rw.ar.ack:
			a.putBuf(b)
		default:
			return
		}
	}
}
