package evhttp

// One exchange, a request and its response, and the writing of the
// response: where its bytes go (its own pending buffer, the loop's
// coalescing buffer, or the connection), the head and the body's framing
// (a length, chunked, or until the close), interim responses, the body,
// the end, and an error response in the handler's place.

import (
	"strconv"
	"time"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
)

// exchange is one request and its response. The Request and
// ResponseWriter the handler sees are its fields; a loop keeps the
// exchanges that are over for reuse, with their buffers. Loop goroutine
// only.
type exchange struct {
	hc  *conn
	r   Request
	w   ResponseWriter
	dec h1.Body // decodes the request body
	// next links the exchanges of a connection's queue (conn.q); nil
	// when x is in none.
	next  *exchange
	flags uint32
	err   error     // why the exchange failed, if it did
	start time.Time // when the head was parsed (only with an access log)
	begun int64     // the loop's clock (loopServer.clock) when it was dispatched, for Stats
	// peerGone, if set, is called when the client shuts its side of the
	// connection down while the exchange is in the queue (the adapter
	// cancels the request's context). It must not change the queue.
	peerGone func()
	// up is the handler given to Upgrade, until the switch (upgrade.go).
	up *upgraded
}

// exchange flags.
const (
	xInBuffer   uint32 = 1 << iota // the head is still in evnet's read buffer
	xAsync                         // the handler ends the response itself
	xHeadSent                      // the response head was written
	xEnded                         // the response is complete (or cut)
	xAborted                       // over without its response; never reused
	xOverride                      // the server took the response over (an error); never reused
	xChunked                       // the body is chunked
	xCloseDelim                    // the body ends with the connection (HTTP/1.0)
	xNoBody                        // the status allows no body
	xHead                          // a HEAD request
	xWantDrain                     // Full reported true: OnDrain is due
	xSent100                       // 100 Continue was sent
	xMustClose                     // the connection must close after this response
	xBodyDone                      // the request body is read to its end (or there is none)
	xBodyPaused                    // PauseBody
	xCollect                       // ReadAll
	xEOFDue                        // the body's last call waits for the next pump
	xInternal                      // an error response made by the server: no handler
	xPopped                        // out of the output queue
	xRetired                       // over and handed back
	xHold                          // parse no later request until this response ends (the adapter, an upgrade request)
	xUpgrade                       // the response is a 101: hand the connection over when it leaves the queue
)

// Output destinations of an exchange's bytes (see begin).
const (
	sinkPending uint8 = iota // its own buffer: an earlier response is not done
	sinkBatch                // the loop's coalescing buffer: its connection's callback runs
	sinkDirect               // written at once
)

// reset clears x for its next request, keeping its buffers. An exchange
// that served a request without a body and used none of the rarer
// features (plain) has only its common fields cleared, which touches a
// third of the struct; any other is cleared whole (resetAll). The tests
// set verifyReset, which checks after every quick reset that the two
// agree.
func (x *exchange) reset() {
	if !x.plain() {
		x.resetAll()
		return
	}
	var want *exchange
	if verifyReset != nil {
		want = new(exchange)
		*want = *x
		want.resetAll()
	}
	r, w := &x.r, &x.w
	x.hc = nil
	x.flags, x.begun = 0, 0
	x.start = time.Time{}
	r.h = h1.Request{Headers: emptyHeaders(r.h.Headers)}
	r.raw = nil
	r.head = keepBuf(r.head, maxRetain)
	r.body = keepBuf(r.body, maxRetain)
	w.hdr.f, w.hdr.special, w.hdr.mem = emptyFields(w.hdr.f), false, keepMem(w.hdr.mem)
	w.trl.f, w.trl.special, w.trl.mem = emptyFields(w.trl.f), false, keepMem(w.trl.mem)
	w.status, w.cl, w.nbuf, w.written = 0, 0, 0, 0
	w.buf = keepBuf(w.buf, 2*bufferLimit)
	w.pending = keepBuf(w.pending, maxRetain)
	if want != nil {
		want.r.x, want.w.x = x, x
		verifyReset(x, want)
	}
}

// verifyReset, when set (by the tests), is given each exchange that reset
// cleared the quick way and what resetAll makes of the same exchange, and
// panics if they differ.
var verifyReset func(got, want *exchange)

// plain reports whether x used only what reset clears without resetAll:
// no request body (so neither dec nor the body's fields), no trailers,
// files, callbacks, error or upgrade.
func (x *exchange) plain() bool {
	r, w := &x.r, &x.w
	return !r.h.HasBody() && r.bodyFn == nil && r.received == 0 && r.dropFrom == 0 &&
		r.trailers == nil && len(x.dec.Trailers) == 0 && w.files == nil &&
		w.drainFn == nil && w.doneFn == nil && x.err == nil && x.peerGone == nil && x.up == nil &&
		len(w.trl.f) == 0
}

// resetAll clears all of x but its buffers.
func (x *exchange) resetAll() {
	r, w := &x.r, &x.w
	hs := emptyHeaders(r.h.Headers)
	trailers := emptyHeaders(x.dec.Trailers)
	head := keepBuf(r.head, maxRetain)
	body := keepBuf(r.body, maxRetain)
	f := emptyFields(w.hdr.f)
	trl := emptyFields(w.trl.f)
	hmem, tmem := keepMem(w.hdr.mem), keepMem(w.trl.mem)
	buf := keepBuf(w.buf, 2*bufferLimit)
	pending := keepBuf(w.pending, maxRetain)
	*x = exchange{}
	x.r.x, x.w.x = x, x
	x.r.h.Headers, x.r.head, x.r.body = hs, head, body
	x.dec.Trailers = trailers
	x.w.hdr.f, x.w.trl.f, x.w.buf, x.w.pending = f, trl, buf, pending
	x.w.hdr.mem, x.w.trl.mem = hmem, tmem
}

// emptyHeaders and emptyFields clear s, so that it references nothing,
// and return it emptied. A request or a response has a field or two,
// which a loop clears for less than clear's call into the runtime (a
// range loop would be compiled to that call).
func emptyHeaders(s h1.Headers) h1.Headers {
	for i := 0; i < len(s); i++ {
		s[i] = h1.Header{}
	}
	return s[:0]
}

func emptyFields(s []field) []field {
	for i := 0; i < len(s); i++ {
		s[i] = field{}
	}
	return s[:0]
}

// keepBuf empties b for reuse, or drops it if it grew past limit.
func keepBuf(b []byte, limit int) []byte {
	if cap(b) > limit {
		return nil
	}
	return b[:0]
}

// usable returns the error a handler's call gets on x, or nil.
func (x *exchange) usable() error {
	switch {
	case x.flags&(xAborted|xOverride) != 0:
		return x.err
	case x.flags&xEnded != 0:
		return ErrEnded
	}
	return nil
}

// begin returns the buffer x's output is to be appended to, and where it
// goes (end takes both back).
func (x *exchange) begin() ([]byte, uint8) {
	hc := x.hc
	ls := hc.ls
	switch {
	case hc.head() != x:
		return x.w.pending, sinkPending
	case ls.batch == hc:
		return ls.out, sinkBatch
	}
	b := ls.aux
	ls.aux = nil
	return b[:0], sinkDirect
}

// end sends what was appended to the buffer begin returned.
func (x *exchange) end(b []byte, sink uint8) {
	hc := x.hc
	ls := hc.ls
	switch sink {
	case sinkPending:
		x.w.pending = b
		if len(b) > ls.cfg.maxPending {
			// The handler writes far ahead of the responses before its
			// own: as evnet does with a queue past MaxBuffered, give up.
			hc.c.Abort()
		}
	case sinkBatch:
		ls.out = b
		if len(b) >= flushAt {
			hc.flushOut()
		}
	case sinkDirect:
		if len(b) > 0 && hc.flags&cClosed == 0 {
			hc.c.Write(b)
		}
		if ls.aux == nil && cap(b) <= maxRetain {
			ls.aux = b[:0]
		}
	}
}

// The framing of a response body (appendHead).
const (
	frameNone    uint8 = iota // neither: no body, a HEAD's, or one that ends with the connection
	frameLength               // Content-Length
	frameChunked              // Transfer-Encoding: chunked
)

// bodyless reports whether a response with status has no body.
func bodyless(status int) bool {
	return status < 200 || status == 204 || status == 304
}

// sendHead writes the response head and the body buffered so far. known
// is the whole body's length when the response is ending, -1 otherwise.
func (x *exchange) sendHead(known int64) {
	w := &x.w
	dst, sink := x.begin()
	dst = x.appendHead(dst, known)
	if n := len(w.buf); n > 0 && x.flags&(xHead|xNoBody) == 0 {
		p := w.buf
		if w.cl >= 0 && int64(n) > w.cl {
			p = p[:w.cl]
		}
		if x.flags&xChunked != 0 {
			dst = h1.AppendChunk(dst, p)
		} else {
			dst = append(dst, p...)
		}
		w.written += int64(len(p))
	} else if x.flags&xNoBody == 0 {
		w.written += w.nbuf
		if w.cl >= 0 {
			w.written = min(w.written, w.cl)
		}
	}
	w.buf = w.buf[:0]
	w.nbuf = 0
	x.end(dst, sink)
}

// appendHead appends the response head, deciding the framing (length,
// chunked, or until the close) and whether the connection closes after it.
func (x *exchange) appendHead(dst []byte, known int64) []byte {
	hc, w := x.hc, &x.w
	cfg := hc.ls.cfg
	x.flags |= xHeadSent
	if w.status == 0 {
		w.status = 200
	}
	userClose, hasDate, hasServer, hasTrailer := false, false, false, false
	// Only a Header with a special field (Header.special) needs the look.
	for i := 0; w.hdr.special && i < len(w.hdr.f); i++ {
		f := &w.hdr.f[i]
		switch f.kind {
		case kContentLength:
			if v, ok := parseLength(f.value); ok && w.cl < 0 {
				w.cl = v
			}
		case kConnection:
			userClose = userClose || h1.HasToken([]byte(f.value), "close")
		case kDate:
			hasDate = true
		case kServer:
			hasServer = true
		case kTrailer:
			hasTrailer = true
		}
	}
	frame := frameNone
	switch {
	case bodyless(w.status):
		x.flags |= xNoBody
		w.cl = -1
	case w.cl >= 0:
		frame = frameLength
	case known >= 0 && !(hasTrailer && x.r.h.Minor >= 1 && x.flags&xHead == 0):
		// Declared trailers need a chunked body, even a short one.
		w.cl = known
		frame = frameLength
	case x.flags&xHead != 0:
	case x.r.h.Minor >= 1:
		frame = frameChunked
		x.flags |= xChunked
	default:
		x.flags |= xCloseDelim
	}
	closes := x.flags&(xMustClose|xCloseDelim) != 0 || userClose ||
		hc.flags&cCloseAfter != 0 && hc.q == x
	if closes {
		hc.flags |= cCloseAfter
		hc.cutAfter(x)
	}
	var date []byte
	if !hasDate {
		date = hc.ls.dateLine()
	}
	hd := &hc.ls.head
	key := headKey{shape: shape(w.status, x.r.h.Minor, frame, closes)}
	if frame == frameLength {
		key.cl = w.cl
	}
	if date != nil {
		key.date = hc.ls.dateGen
	}
	if hd.valid && hd.match(&key, w.hdr.f) {
		hd.hits++
		hd.misses = 0
		return append(dst, hd.head...)
	}
	start := len(dst)
	dst = h1.AppendStatusLine(dst, x.r.h.Minor, w.status)
	if date != nil {
		dst = append(dst, date...)
	}
	if !hasServer && cfg.serverLine != nil {
		dst = append(dst, cfg.serverLine...)
	}
	for i := range w.hdr.f {
		f := &w.hdr.f[i]
		switch f.kind {
		case kInvalid, kContentLength, kTransferEncoding, kConnection:
			continue
		}
		dst = h1.AppendHeader(dst, f.name, f.value)
	}
	switch frame {
	case frameLength:
		dst = h1.AppendHeaderInt(dst, "Content-Length", w.cl)
	case frameChunked:
		dst = append(dst, "Transfer-Encoding: chunked\r\n"...)
	}
	switch {
	case closes:
		dst = append(dst, "Connection: close\r\n"...)
	case x.r.h.Minor == 0:
		dst = append(dst, "Connection: keep-alive\r\n"...)
	}
	dst = append(dst, "\r\n"...)
	if !cfg.noHeadCache && hd.admit() {
		hd.store(&key, w.hdr.f, dst[start:])
	}
	return dst
}

// interim writes a 1xx response.
func (x *exchange) interim(status int) {
	if x.r.h.Minor == 0 {
		return // HTTP/1.0 clients do not expect them (RFC 9110 §15.2)
	}
	dst, sink := x.begin()
	dst = h1.AppendStatusLine(dst, 1, status)
	if status != 100 {
		for i := range x.w.hdr.f {
			f := &x.w.hdr.f[i]
			switch f.kind {
			case kInvalid, kContentLength, kTransferEncoding, kConnection:
				continue
			}
			dst = h1.AppendHeader(dst, f.name, f.value)
		}
	}
	dst = append(dst, "\r\n"...)
	x.end(dst, sink)
}

// expectContinue sends 100 Continue if the client waits for it before
// sending the body the handler now asks for.
func (x *exchange) expectContinue() {
	if x.r.h.Expect100 && x.flags&(xSent100|xHeadSent|xBodyDone) == 0 {
		x.flags |= xSent100
		x.interim(100)
	}
}

// writeBody writes p as body after the head.
func (x *exchange) writeBody(p []byte) (int, error) {
	w := &x.w
	n := len(p)
	var err error
	if w.cl >= 0 && w.written+int64(n) > w.cl {
		n = int(w.cl - w.written)
		p = p[:n]
		err = ErrContentLength
	}
	if x.flags&xHead != 0 || n == 0 {
		w.written += int64(n)
		return n, err
	}
	chunked := x.flags&xChunked != 0
	dst, sink := x.begin()
	if chunked {
		dst = h1.AppendChunkHeader(dst, n)
	}
	if n >= bigWrite && sink != sinkPending {
		x.end(dst, sink)
		x.hc.write(p)
		dst, sink = x.begin()
	} else {
		dst = append(dst, p...)
	}
	if chunked {
		dst = append(dst, "\r\n"...)
	}
	x.end(dst, sink)
	w.written += int64(n)
	if x.flags&xAborted != 0 {
		return n, x.err
	}
	return n, err
}

// finish ends the response: its head if not sent (with the length of
// what was buffered), the end of a chunked body.
func (x *exchange) finish() {
	hc, w := x.hc, &x.w
	if hc.reader == x && x.flags&xBodyDone == 0 && x.r.bodyFn == nil {
		x.dropRest()
	}
	if x.flags&xHeadSent == 0 {
		x.sendHead(w.nbuf) // chunked too when it declares trailers
	}
	if x.flags&xChunked != 0 {
		dst, sink := x.begin()
		dst = append(dst, "0\r\n"...)
		for i := range w.trl.f {
			if f := &w.trl.f[i]; trailerAllowed(f) {
				dst = h1.AppendHeader(dst, f.name, f.value)
			}
		}
		dst = append(dst, "\r\n"...)
		x.end(dst, sink)
	}
	if x.flags&xAborted != 0 {
		return
	}
	if w.cl >= 0 && w.written < w.cl && x.flags&(xHead|xNoBody) == 0 {
		// Shorter than declared: only closing tells the client.
		hc.flags |= cCloseAfter
		hc.cutAfter(x)
	}
	x.flags |= xEnded
	hc.advance()
}

// dropRest makes the rest of x's request body, which no handler reads,
// be dropped: up to discardLimit more; beyond that, or when the client
// waits for a 100 Continue, the connection closes after the response
// (known at once from a length, else while dropping).
func (x *exchange) dropRest() {
	x.r.bodyFn = nil
	x.r.dropFrom = x.r.received
	if x.r.h.Expect100 && x.flags&xSent100 == 0 ||
		!x.r.h.Chunked && x.r.h.ContentLength-x.r.received > discardLimit {
		x.flags |= xMustClose
	}
}

// replace makes x's response an error response with status, dropping
// what the handler had set, and ends it. The connection closes after it.
func (x *exchange) replace(status int) { x.replaceWith(status, "") }

// replaceWith is replace with detail, if not empty, after the status
// text in the body.
func (x *exchange) replaceWith(status int, detail string) {
	w := &x.w
	w.hdr.Reset()
	w.buf = w.buf[:0]
	w.nbuf = 0
	w.cl = -1
	w.status = status
	x.flags |= xMustClose
	w.hdr.Add("Content-Type", "text/plain; charset=utf-8")
	w.buf = strconv.AppendInt(w.buf, int64(status), 10)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, h1.StatusText(status)...)
	if detail != "" {
		w.buf = append(append(w.buf, ": "...), detail...)
	}
	w.buf = append(w.buf, '\n')
	w.nbuf = int64(len(w.buf))
	x.finish()
}

// parseLength parses a decimal length of 1 to 18 digits: a Content-Length
// value set by a handler, the numbers of a Range.
func parseLength[T string | []byte](s T) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var v int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}
