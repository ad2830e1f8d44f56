package evhttp

// The ResponseWriter a handler answers with, and the Header of a
// response: the fields a handler sets, with the kinds of field the server
// treats specially.

import (
	"fmt"
	"iter"
	"unsafe"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/internal/ascii"
)

// ResponseWriter writes the response to one request. Its methods must be
// called on the loop's goroutine, during the handler or later, until the
// response ends; after OnDone has run the ResponseWriter belongs to
// another request.
//
// The head is sent at the first of: the body growing past a small buffer
// (16 KiB), Flush, End, or a Write with a declared Content-Length. A
// response that ends within the buffer gets a Content-Length; a longer
// one without a declared length is chunked (or, for an HTTP/1.0 client,
// ends with the connection). Responses leave in the order of their
// requests: a ResponseWriter whose request was pipelined behind one still
// in progress writes into a buffer of its own until its turn.
//
// Flow control: Full reports that the connection's output queue is over
// its high watermark (or that this response's own buffer is, while it
// waits for its turn), and OnDrain's function runs when it has drained.
// A handler that streams a large body writes until Full and continues in
// OnDrain, so that a slow client does not make memory grow.
type ResponseWriter struct {
	x       *exchange
	hdr     Header
	trl     Header // trailer fields
	status  int
	cl      int64         // the declared Content-Length, or -1
	buf     []byte        // body written before the head
	nbuf    int64         // its length (counted, not kept, for HEAD)
	written int64         // body bytes after the head
	pending []byte        // output waiting for the responses before this one
	files   []pendingFile // file regions among pending (fs_send.go)
	drainFn func(w *ResponseWriter)
	doneFn  func(w *ResponseWriter, err error)
}

// Header returns the header fields of the response, to set before the
// head is sent; changes after that are ignored. The server manages
// Content-Length (a value set here declares the body's length, as
// SetContentLength does), Transfer-Encoding and Connection ("close" is
// honoured); it adds Date (unless set) and Server (Server.Name, unless
// set).
func (w *ResponseWriter) Header() *Header { return &w.hdr }

// Trailer returns the trailer fields of the response, sent after a
// chunked body; set them before the response ends. A response whose
// header declares its trailers in a "Trailer" field (RFC 9110 §6.6.2) is
// chunked even when it ends within the buffer, so that they have a place;
// they are dropped when the body is not chunked (a declared Content-Length,
// HEAD, a status without a body, an HTTP/1.0 client). Fields that must not
// be trailers (framing, routing, authentication, Content-Type and the
// like: RFC 9110 §6.5.1) are not sent.
func (w *ResponseWriter) Trailer() *Header { return &w.trl }

// WriteHeader sets the status code of the response. The first call
// wins; Write without it means 200. A 1xx code other than 101 is sent at
// once as an interim response with the header fields set so far (103
// Early Hints, say), and the final status is still to come; 101 is
// ignored (Upgrade sends it), and interim responses are not sent to
// HTTP/1.0 clients. A code outside 100 to 999 panics.
func (w *ResponseWriter) WriteHeader(status int) {
	x := w.x
	if status < 100 || status > 999 {
		panic(fmt.Sprintf("evhttp: invalid WriteHeader code %d", status))
	}
	if x.usable() != nil || x.flags&xHeadSent != 0 {
		return
	}
	if status < 200 {
		switch {
		case status == 101:
			return
		case status == 100 && x.flags&xSent100 != 0:
			return
		case status == 100:
			x.flags |= xSent100
		}
		x.interim(status)
		return
	}
	if w.status == 0 {
		w.status = status
	}
}

// SetContentLength declares the length of the body, before the head is
// sent: the head is then sent with the first Write and the body is never
// chunked. Writing more than n fails with ErrContentLength; ending with
// less closes the connection, since the client cannot tell otherwise.
func (w *ResponseWriter) SetContentLength(n int64) {
	if w.x.usable() == nil && w.x.flags&xHeadSent == 0 && n >= 0 {
		w.cl = n
	}
}

// Write appends p to the body. It never blocks: what the connection
// cannot send at once is queued (see Full). It fails with ErrEnded after
// End, ErrBodyNotAllowed for a 1xx, 204 or 304 status, ErrContentLength
// past the declared length, or the error that ended the exchange (the
// connection closed, the body failed). For a HEAD request the bytes are
// counted, for the Content-Length, and dropped.
func (w *ResponseWriter) Write(p []byte) (int, error) {
	x := w.x
	if err := x.usable(); err != nil {
		return 0, err
	}
	if w.status == 0 {
		w.status = 200
	}
	if bodyless(w.status) {
		return 0, ErrBodyNotAllowed
	}
	if x.flags&xHeadSent == 0 {
		if w.cl < 0 && w.nbuf+int64(len(p)) <= bufferLimit {
			if x.flags&xHead == 0 {
				w.buf = append(w.buf, p...)
			}
			w.nbuf += int64(len(p))
			return len(p), nil
		}
		if ls := x.hc.ls; ls.batch != x.hc {
			// Written from another connection's callback (a proxy's, as
			// its upstream's answer comes): the head and this piece go
			// out in one write, as they would in the connection's own
			// batch, not in two segments.
			prev := ls.enter(x.hc)
			n, err := x.writeFirst(p)
			x.hc.flushOut()
			ls.batch = prev
			return n, err
		}
		return x.writeFirst(p)
	}
	return x.writeBody(p)
}

// writeFirst sends the head, then p, the first piece of the body.
func (x *exchange) writeFirst(p []byte) (int, error) {
	x.sendHead(-1)
	if x.flags&xAborted != 0 {
		return 0, x.err
	}
	return x.writeBody(p)
}

// WriteString is Write for a string, without a conversion's copy when
// the body is buffered.
func (w *ResponseWriter) WriteString(s string) (int, error) {
	x := w.x
	if x.usable() == nil && x.flags&(xHeadSent|xHead) == 0 && w.cl < 0 &&
		w.nbuf+int64(len(s)) <= bufferLimit && (w.status == 0 || !bodyless(w.status)) {
		if w.status == 0 {
			w.status = 200
		}
		w.buf = append(w.buf, s...)
		w.nbuf += int64(len(s))
		return len(s), nil
	}
	return w.Write([]byte(s))
}

// Flush sends the head, if not sent yet (chunked, unless a length was
// declared), and what the body has buffered.
func (w *ResponseWriter) Flush() error {
	x := w.x
	if err := x.usable(); err != nil {
		return err
	}
	if x.flags&xHeadSent == 0 {
		x.sendHead(-1)
	}
	if x.hc.ls.batch == x.hc {
		x.hc.flushOut()
	}
	return nil
}

// Async tells the server that the handler ends the response itself, with
// End, after ServeHTTP1 returns: from a timer, a Post, a body callback.
// Request.OnBody and Request.ReadAll imply it.
func (w *ResponseWriter) Async() {
	if w.x.usable() == nil {
		w.x.flags |= xAsync
	}
}

// End ends the response: it sends the head if it was not sent (with a
// Content-Length for what was written), or the end of a chunked body.
// A handler that returns without calling Async is ended for it. End
// returns ErrEnded if the response had ended, or the error that ended
// the exchange.
func (w *ResponseWriter) End() error {
	x := w.x
	if err := x.usable(); err != nil {
		return err
	}
	x.finish()
	return nil
}

// Full reports whether the response should stop writing until OnDrain's
// function runs: the connection's output queue is over its high
// watermark, or, for a response waiting behind an earlier one, its own
// buffer is.
func (w *ResponseWriter) Full() bool {
	x := w.x
	if x.usable() != nil {
		return false
	}
	hc := x.hc
	var full bool
	if hc.head() == x {
		full = hc.c.Full()
	} else {
		full = len(w.pending) >= hc.ls.cfg.highWater
	}
	if full {
		x.flags |= xWantDrain
	}
	return full
}

// OnDrain sets the function called when the output, after Full reported
// true, has drained to the connection's low watermark. It is not called
// after the response ends.
func (w *ResponseWriter) OnDrain(fn func(w *ResponseWriter)) { w.drainFn = fn }

// OnDone sets the function called once when the exchange is over: err is
// nil when the response was handed whole to the connection and the
// request body was read; otherwise it tells why the exchange ended early
// (the connection closed: an evnet reason; a body error; ErrConnClosing;
// ErrHandlerPanic). A handler that finishes later (Async) stops its
// timers here. After fn returns, w and its Request belong to the server.
func (w *ResponseWriter) OnDone(fn func(w *ResponseWriter, err error)) { w.doneFn = fn }

// Status returns the status code set so far (0 if none).
func (w *ResponseWriter) Status() int { return w.status }

// Written returns the number of body bytes written so far.
func (w *ResponseWriter) Written() int64 { return w.written + w.nbuf }

// HeadSent reports whether the response head has been sent, after which
// the status and the header fields can no longer change.
func (w *ResponseWriter) HeadSent() bool { return w.x.flags&xHeadSent != 0 }

// Request returns the request this response answers.
func (w *ResponseWriter) Request() *Request { return &w.x.r }

// Header holds the header fields of a response in the order they were
// added. It keeps its storage from one response to the next, so that
// setting a few fields does not allocate. Names are compared without
// regard to ASCII case and written as given; a name that is not a valid
// field name is dropped when the head is written. Values are written with
// CR, LF and NUL replaced by spaces.
type Header struct {
	f []field
	// mem holds the names and values AddBytes copied, which their
	// fields' strings point into; it is reused from one response to the
	// next (Reset, the exchange's reset), never moved: when it is full, a
	// new one takes over and the strings into the old one stay as they are.
	mem []byte
	// special is set when a field the server acts on (a kind other than
	// kOther: Content-Length, Connection, Date, Server, Trailer, ...) was
	// added, and cleared only when every field goes, so that the head of a
	// response without one skips the look for them.
	special bool
}

type field struct {
	name, value string
	kind        uint8
	// volatile marks a field whose strings point into Header.mem, whose
	// bytes the next response overwrites: the head cache copies them.
	volatile bool
}

// Field kinds the server treats specially.
const (
	kOther uint8 = iota
	kInvalid
	kContentLength
	kTransferEncoding
	kConnection
	kDate
	kServer
	kTrailer
)

func fieldKind(name string) uint8 {
	switch len(name) {
	case 4:
		if ascii.EqualFold(name, "Date") {
			return kDate
		}
	case 6:
		if ascii.EqualFold(name, "Server") {
			return kServer
		}
	case 7:
		if ascii.EqualFold(name, "Trailer") {
			return kTrailer
		}
	case 10:
		if ascii.EqualFold(name, "Connection") {
			return kConnection
		}
	case 12:
		if name == "Content-Type" {
			return kOther // the commonest field, as written: no need to check it
		}
	case 14:
		if ascii.EqualFold(name, "Content-Length") {
			return kContentLength
		}
	case 17:
		if ascii.EqualFold(name, "Transfer-Encoding") {
			return kTransferEncoding
		}
	}
	if !h1.ValidFieldName(name) {
		return kInvalid
	}
	return kOther
}

// badTrailers are the fields RFC 9110 §6.5.1 keeps out of trailers (the
// list net/http uses too).
var badTrailers = []string{
	"Authorization", "Cache-Control", "Connection", "Content-Encoding",
	"Content-Length", "Content-Range", "Content-Type", "Expect", "Host",
	"Keep-Alive", "Max-Forwards", "Pragma", "Proxy-Authenticate",
	"Proxy-Authorization", "Proxy-Connection", "Range", "Realm", "Te",
	"Trailer", "Transfer-Encoding", "Www-Authenticate",
}

// trailerAllowed reports whether f may be sent as a trailer field.
func trailerAllowed(f *field) bool {
	if f.kind == kInvalid {
		return false
	}
	for _, b := range badTrailers {
		if ascii.EqualFold(f.name, b) {
			return false
		}
	}
	return true
}

// Set sets the field name to value, replacing the fields of that name.
func (h *Header) Set(name, value string) {
	for i := range h.f {
		if ascii.EqualFold(h.f[i].name, name) {
			h.f[i].value = value
			h.del(name, i+1)
			return
		}
	}
	h.Add(name, value)
}

// Add adds a field, after those of the same name.
func (h *Header) Add(name, value string) {
	k := fieldKind(name)
	if k != kOther {
		h.special = true
	}
	h.f = append(h.f, field{name: name, value: value, kind: k})
}

// AddBytes adds a field as Add does, from bytes: it copies name and value
// into storage the Header keeps from one response to the next, so that
// once that storage has grown to the size of a response's fields, adding
// them allocates nothing, where Add(string(name), string(value)) costs two
// allocations. The strings Get, Values and All return for the field are
// valid only until the exchange is over (see ResponseWriter.OnDone) or
// the Header is Reset: the next response's fields overwrite them. Copy
// them (strings.Clone) to keep them longer.
func (h *Header) AddBytes(name, value []byte) {
	n := len(name) + len(value)
	if cap(h.mem)-len(h.mem) < n {
		// A new block: the strings into the old one stay valid.
		h.mem = make([]byte, 0, max(2*cap(h.mem), n, 256))
	}
	start := len(h.mem)
	h.mem = append(append(h.mem, name...), value...)
	b := h.mem[start:]
	ns := unsafe.String(unsafe.SliceData(b), len(name))
	vs := ""
	if len(value) > 0 {
		vs = unsafe.String(&b[len(name)], len(value))
	}
	h.Add(ns, vs)
	h.f[len(h.f)-1].volatile = true
}

// Get returns the value of the first field named name, or "".
func (h *Header) Get(name string) string {
	for i := range h.f {
		if ascii.EqualFold(h.f[i].name, name) {
			return h.f[i].value
		}
	}
	return ""
}

// Has reports whether a field named name is set.
func (h *Header) Has(name string) bool {
	for i := range h.f {
		if ascii.EqualFold(h.f[i].name, name) {
			return true
		}
	}
	return false
}

// Values returns the values of the fields named name, in order.
func (h *Header) Values(name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for i := range h.f {
			if ascii.EqualFold(h.f[i].name, name) && !yield(h.f[i].value) {
				return
			}
		}
	}
}

// All returns the fields, names and values, in order.
func (h *Header) All() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := range h.f {
			if !yield(h.f[i].name, h.f[i].value) {
				return
			}
		}
	}
}

// Del removes the fields named name.
func (h *Header) Del(name string) { h.del(name, 0) }

func (h *Header) del(name string, from int) {
	j := from
	for i := from; i < len(h.f); i++ {
		if !ascii.EqualFold(h.f[i].name, name) {
			h.f[j] = h.f[i]
			j++
		}
	}
	clear(h.f[j:])
	h.f = h.f[:j]
}

// Len returns the number of fields.
func (h *Header) Len() int { return len(h.f) }

// Reset removes every field.
func (h *Header) Reset() {
	clear(h.f)
	h.f = h.f[:0]
	h.special = false
	h.mem = keepMem(h.mem)
}

// keepMem empties a Header's mem for reuse, or drops it if it grew past
// maxHeaderMem.
func keepMem(b []byte) []byte {
	if cap(b) > maxHeaderMem {
		return nil
	}
	return b[:0]
}
