package evhttp

// The http.Handler adapter: a native Handler that runs a standard
// http.Handler on a bounded pool of goroutines.
//
// Two goroutines share each request: the loop, which owns the connection
// and the native exchange (w, r), and a pool goroutine, which runs the
// http.Handler. They meet in an adReq. The handler's side never touches
// the exchange: what it does crosses to the loop as functions given to
// Loop.Post (response batches, the body request, the hijack), which run
// in order and do nothing once the exchange is over (adReq.over). The
// loop's side answers through channels: the batch buffers it is done with
// (ack, held back while the connection is Full: the flow control), the
// request body (adBody), the end of the exchange (gone), the hijacked
// descriptor.
//
// A request holds its connection's parsing (xHold) until its response
// ends, as net/http serves a connection's requests one at a time: a
// pipelined request never runs beside the one before it, and a hijack
// never finds a later request already parsed.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// Defaults of AdapterOptions (the value a zero field takes).
const (
	// DefaultAdapterWorkers is the default AdapterOptions.Workers. Handlers
	// written for net/http block (on a database, another service), so the
	// bound is set by memory and the services behind, not by the cores.
	DefaultAdapterWorkers = 256
	// DefaultAdapterQueueLen is the default AdapterOptions.QueueLen.
	DefaultAdapterQueueLen = 1024
	// DefaultAdapterBodyBuffer is the default AdapterOptions.MaxBodyBuffer.
	DefaultAdapterBodyBuffer = 64 << 10
	// DefaultAdapterWriteBuffer is the default AdapterOptions.WriteBuffer.
	DefaultAdapterWriteBuffer = 32 << 10
	// DefaultAdapterIdleTimeout is the default AdapterOptions.IdleTimeout.
	DefaultAdapterIdleTimeout = time.Second
)

// AdapterOptions configures Adapt. A nil *AdapterOptions, like a zero
// field, means the documented defaults; a negative QueueLen means no
// queue.
type AdapterOptions struct {
	// Workers is the most goroutines running handlers at once, for all
	// the loops the adapter serves (default DefaultAdapterWorkers, 256).
	// Goroutines start on demand and exit after IdleTimeout without work:
	// an idle server holds none, and an idle keep-alive connection never
	// holds one.
	Workers int
	// QueueLen is the most requests waiting for a goroutine while all
	// Workers are busy (default DefaultAdapterQueueLen, 1024; negative:
	// none). A request that finds the queue full is answered at once, on
	// the loop, with 503 Service Unavailable and Retry-After: 1.
	QueueLen int
	// MaxBodyBuffer is how much of a request body the loop reads ahead of
	// the handler (default DefaultAdapterBodyBuffer, 64 KiB): past it the
	// connection stops reading until the handler has read half of it, so
	// that a fast client meets the handler's pace, not a growing buffer.
	// The buffer may exceed it by one read of the connection.
	MaxBodyBuffer int
	// WriteBuffer is the size of the batches in which a handler's writes
	// cross to the loop (default DefaultAdapterWriteBuffer, 32 KiB). A
	// response that ends within one batch is sent with a Content-Length.
	// A handler holds at most two batches: while the connection's output
	// is Full, its Write blocks.
	WriteBuffer int
	// IdleTimeout is how long a goroutine of the pool waits for another
	// request before it exits (default DefaultAdapterIdleTimeout, 1s).
	IdleTimeout time.Duration
	// BaseContext, if not nil, is the parent of every request's context:
	// canceling it cancels them all (on shutdown, say). The default is
	// context.Background().
	BaseContext context.Context
}

// Adapt returns a Handler that serves h, a standard http.Handler, on a
// bounded pool of goroutines (see AdapterOptions). The loop parses each
// request, builds its *http.Request and hands it to a goroutine of the
// pool, which runs h.ServeHTTP and gives the goroutine back when it
// returns: a goroutine is held only while a request runs, never by a
// connection. The pool belongs to the returned Handler; several Servers
// and loops may share it. The requests of one connection are served one
// at a time, as net/http serves them: a request pipelined behind another
// is parsed once the response before it has ended.
//
// The *http.Request has what net/http's server gives: Method, URL (from
// the target, absolute form included), Proto, ProtoMajor and ProtoMinor,
// Header with canonical keys (repeated fields kept, Host moved to Host),
// Host, ContentLength (-1 when chunked), TransferEncoding, Close,
// RemoteAddr, RequestURI, and Trailer, filled when the body has been read
// to its end. TLS is nil. Its context holds http.LocalAddrContextKey (for
// TCP) and is canceled, with context.Cause telling why, when the client
// goes away (its side of the connection closed or reset while the handler
// runs), when the server resets the connection (Close, the end of
// Shutdown's grace period), and when the handler returns. A graceful
// Shutdown lets running handlers finish, as net/http's does; cancel
// AdapterOptions.BaseContext to stop long ones.
//
// The body is read from the connection as the handler reads it: reading
// it first sends 100 Continue to a client that waits for it, and the
// connection pauses while the handler is MaxBodyBuffer behind.
//
// The http.ResponseWriter behaves as net/http's: Header, WriteHeader (a
// 1xx status but 101 is sent at once as an interim response), Write
// (Content-Type sniffed with http.DetectContentType when not set;
// Content-Length for a body that ends within WriteBuffer, chunked beyond),
// http.ErrBodyNotAllowed, http.ErrContentLength. It implements
// http.Flusher, http.Hijacker and what http.ResponseController uses:
// FlushError, Hijack, SetReadDeadline (for reads of the body),
// SetWriteDeadline (for a Write blocked by a slow client) and
// EnableFullDuplex (always on: the body may be read while the response is
// written). Deadlines bound the calls that wait; the connection's own
// limits are the Server's timeouts. Response trailers are not sent.
//
// Hijack hands the handler the connection itself: the descriptor is
// duplicated and taken off the loop, which forgets the connection, and
// becomes a *net.TCPConn (or *net.UnixConn) of Go's own network poller.
// What the client sent beyond the request head is in the returned
// bufio.Reader. A status 101 set with WriteHeader is written to the
// connection by Hijack, as net/http does; without Hijack, 101 cannot be
// sent. The server no longer counts a hijacked connection: Shutdown does
// not wait for it, and its state is reported as closed.
//
// A handler that panics is logged (Server.ErrorLog, from the handler's
// goroutine) with its stack, and the client gets 500 if no byte of the
// response had left the handler's side, or a cut response otherwise; the
// connection then closes. A panic with http.ErrAbortHandler closes the
// connection after what was sent, without a log. A write that fails
// (a deadline, the client gone) also ends the response cut.
func Adapt(h http.Handler, opts *AdapterOptions) Handler {
	var o AdapterOptions
	if opts != nil {
		o = *opts
	}
	a := &adapter{h: h, base: o.BaseContext}
	a.pool.size = o.Workers
	if a.pool.size <= 0 {
		a.pool.size = DefaultAdapterWorkers
	}
	switch {
	case o.QueueLen == 0:
		a.pool.maxQueue = DefaultAdapterQueueLen
	case o.QueueLen > 0:
		a.pool.maxQueue = o.QueueLen
	}
	a.pool.idle = o.IdleTimeout
	if a.pool.idle <= 0 {
		a.pool.idle = DefaultAdapterIdleTimeout
	}
	a.bodyBuffer = o.MaxBodyBuffer
	if a.bodyBuffer <= 0 {
		a.bodyBuffer = DefaultAdapterBodyBuffer
	}
	wb := o.WriteBuffer
	if wb <= 0 {
		wb = DefaultAdapterWriteBuffer
	}
	a.bufs.New = func() any { return &adBuf{b: make([]byte, 0, wb)} }
	if a.base == nil {
		a.base = context.Background()
	}
	return a
}

// adapter is the Handler Adapt returns. Immutable but for its pool.
type adapter struct {
	h          http.Handler
	pool       adPool
	bodyBuffer int
	bufs       sync.Pool // *adBuf of WriteBuffer bytes
	base       context.Context
}

// adBuf is a batch buffer; pointers go through the pool without
// allocating.
type adBuf struct{ b []byte }

func (a *adapter) getBuf() *adBuf { return a.bufs.Get().(*adBuf) }

func (a *adapter) putBuf(b *adBuf) {
	if b != nil {
		b.b = b.b[:0]
		a.bufs.Put(b)
	}
}

// adReq is one request served by the adapter: the meeting point of the
// loop's side and the handler's.
type adReq struct {
	a    *adapter
	loop *eddy.Loop
	conn *evnet.Conn
	logf func(format string, args ...any)
	req  *http.Request
	// cancel cancels req's context; safe from any goroutine.
	cancel context.CancelCauseFunc

	// The loop's side (its goroutine only).
	w         *ResponseWriter // the native exchange's, while !over
	r         *Request
	over      bool // OnDone ran: w and r may belong to another request
	hijacked  bool // the connection is being handed over
	held      *adBuf
	bodyAsked bool
	flushWait *eddy.Timer // polls the output queue before a hand-over

	// Shared.
	readDeadline  atomic.Int64  // for the body's Read, Unix ns; 0: none
	writeDeadline atomic.Int64  // for a Write that waits, Unix ns; 0: none
	gone          chan struct{} // closed by the loop when the exchange is over
	goneErr       error         // why; written before gone is closed
	ack           chan *adBuf   // batch buffers the loop is done with
	body          *adBody       // nil for a request without a body

	// The handler's side.
	rw adWriter
}

// ServeHTTP1 builds the http.Request and hands it to the pool, or answers
// 503 when the pool and its queue are full, or 400 when the target is not
// a URL net/http would take.
func (a *adapter) ServeHTTP1(w *ResponseWriter, r *Request) {
	x := w.x
	ac := a.conn(x.hc)
	ctx, cancel := context.WithCancelCause(ac.ctx)
	req, err := a.newRequest(r, ctx, ac)
	if err != nil {
		cancel(err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Connection", "close")
		w.WriteHeader(400)
		w.WriteString("400 Bad Request\n")
		return
	}
	ar := &adReq{
		a:      a,
		loop:   r.Loop(),
		conn:   r.Conn(),
		logf:   x.hc.ls.cfg.logf,
		req:    req,
		cancel: cancel,
		w:      w,
		r:      r,
		gone:   make(chan struct{}),
		ack:    make(chan *adBuf, 2),
	}
	ar.rw.ar = ar
	ar.rw.header = make(http.Header)
	ar.rw.cl = -1
	if r.HasBody() {
		ar.body = &adBody{ar: ar, limit: a.bodyBuffer, ready: make(chan struct{}, 1)}
		req.Body = ar.body
	}
	res, busy := a.pool.submit(ar)
	if res == adRefused {
		cancel(errAdapterBusy)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(503)
		w.WriteString("503 Service Unavailable\n")
		return
	}
	x.flags |= xHold
	x.peerGone = ar.peerGone
	w.Async()
	w.OnDone(ar.onDone)
	w.OnDrain(ar.onDrain)
	if res == adReadied && busy == 1 {
		// The worker is runnable on this goroutine's processor, which the
		// loop keeps while it waits for events (short waits are raw system
		// calls): another processor would have to steal it, after a wake-up
		// of an OS thread that costs tens of microseconds, often a hundred.
		// Yielding runs the worker at once here; the loop's goroutine goes
		// to the global queue, where an idle processor takes it up. This
		// pays when the request is alone (a round trip measured 2.5 times
		// faster); with others running, the processors are busy anyway and
		// the yield only delays the loop (a third slower under load), so
		// it is not done then.
		runtime.Gosched()
	}
}

// adConn is what the adapter keeps of a connection for its requests: the
// addresses, which cost system calls to learn, as net/http gives them.
type adConn struct {
	a      *adapter
	remote string          // the http.Request's RemoteAddr
	ctx    context.Context // the base context with http.LocalAddrContextKey
}

// conn returns hc's adConn, made on its first request.
func (a *adapter) conn(hc *conn) *adConn {
	if ac := hc.adapted; ac != nil && ac.a == a {
		return ac
	}
	ac := &adConn{a: a, remote: "@", ctx: a.base} // "@": a Unix socket's peer, as net reports it
	if ra := hc.c.RemoteAddr(); ra.IsValid() {
		ac.remote = ra.String()
	}
	if la := hc.c.LocalAddr(); la.IsValid() {
		ac.ctx = context.WithValue(a.base, http.LocalAddrContextKey, net.TCPAddrFromAddrPort(la))
	}
	hc.adapted = ac
	return ac
}

// errAdapterBusy is the context cause of a request refused with 503.
var errAdapterBusy = errors.New("evhttp: adapter pool and queue full")

// newRequest builds the http.Request of r, as net/http's server would.
func (a *adapter) newRequest(r *Request, ctx context.Context, ac *adConn) (*http.Request, error) {
	h := &r.h
	method := adMethod(h.Method)
	target := string(h.Target)
	rawurl := target
	justAuthority := method == "CONNECT" && !strings.HasPrefix(target, "/")
	if justAuthority {
		rawurl = "http://" + target
	}
	u, err := url.ParseRequestURI(rawurl)
	if err != nil {
		return nil, err
	}
	if justAuthority {
		u.Scheme = ""
	}
	header := make(http.Header, len(h.Headers))
	vals := make([]string, len(h.Headers)) // one array for the usual single values
	for i, f := range h.Headers {
		k := adKey(f.Name)
		v := string(f.Value)
		if old, ok := header[k]; ok {
			header[k] = append(old, v)
			continue
		}
		vals[i] = v
		header[k] = vals[i : i+1 : i+1]
	}
	req := &http.Request{
		Method:     method,
		URL:        u,
		Proto:      r.Proto(),
		ProtoMajor: 1,
		ProtoMinor: h.Minor,
		Header:     header,
		Body:       http.NoBody,
		Close:      h.Close,
		RequestURI: target,
	}
	req.Host = u.Host
	if req.Host == "" {
		req.Host = string(h.Host)
	}
	delete(header, "Host")
	if pragma, ok := header["Pragma"]; ok && len(pragma) > 0 && pragma[0] == "no-cache" {
		if _, ok := header["Cache-Control"]; !ok {
			header["Cache-Control"] = []string{"no-cache"}
		}
	}
	switch {
	case h.Chunked:
		req.ContentLength = -1
		req.TransferEncoding = []string{"chunked"}
		delete(header, "Transfer-Encoding")
	case h.ContentLength > 0:
		req.ContentLength = h.ContentLength
	}
	if tr, ok := header["Trailer"]; ok {
		delete(header, "Trailer")
		if h.Chunked {
			req.Trailer = make(http.Header)
			for _, v := range tr {
				for key := range strings.SplitSeq(v, ",") {
					key = textproto.CanonicalMIMEHeaderKey(textproto.TrimString(key))
					switch key {
					case "Transfer-Encoding", "Trailer", "Content-Length":
						return nil, errors.New("evhttp: bad trailer key " + key)
					case "":
						continue
					}
					req.Trailer[key] = nil
				}
			}
		}
	}
	req.RemoteAddr = ac.remote
	return req.WithContext(ctx), nil
}

// adMethod returns the method as a string, without allocating for the
// common ones.
func adMethod(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "OPTIONS":
		return "OPTIONS"
	case "CONNECT":
		return "CONNECT"
	}
	return string(m)
}

// adCommonKeys maps the usual spellings of common field names to their
// canonical form, so that the usual requests cost no allocation per key.
var adCommonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language", "Authorization",
		"Cache-Control", "Connection", "Content-Encoding", "Content-Length", "Content-Type",
		"Cookie", "Date", "Expect", "Forwarded", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive", "Origin", "Pragma",
		"Range", "Referer", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "User-Agent",
		"Via", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Real-Ip",
		"X-Request-Id", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Protocol",
		"Sec-Websocket-Extensions", "Sec-Fetch-Dest", "Sec-Fetch-Mode", "Sec-Fetch-Site",
		"Upgrade-Insecure-Requests", "Dnt", "Priority",
	} {
		m[k] = k
		m[strings.ToLower(k)] = k
	}
	return m
}()

// adKey returns the canonical form of a field name.
func adKey(name []byte) string {
	if k, ok := adCommonKeys[string(name)]; ok {
		return k
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}

// run serves the request on a pool goroutine.
func (ar *adReq) run() {
	select {
	case <-ar.gone: // the client left while the request waited
		ar.cancel(ar.goneErr)
		return
	default:
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		v := recover() // nil: the handler called runtime.Goexit
		ar.cancel(context.Canceled)
		ar.rw.fail(v)
	}()
	ar.a.h.ServeHTTP(&ar.rw, ar.req)
	returned = true
	ar.cancel(context.Canceled)
	ar.rw.finish()
}

// post runs f on the request's loop.
func (ar *adReq) post(f func()) { ar.loop.Post(f) }

// onDone is the native OnDone: the exchange is over.
func (ar *adReq) onDone(_ *ResponseWriter, err error) {
	ar.over = true
	ar.held = nil
	ar.goneErr = err
	if err == nil {
		ar.goneErr = ErrEnded
	}
	close(ar.gone)
	if !ar.hijacked {
		ar.cancel(err)
	}
}

// onDrain is the native OnDrain: the connection took what was Full, so
// the batch buffer held back goes back to the handler, whose Write waits.
func (ar *adReq) onDrain(*ResponseWriter) {
	if b := ar.held; b != nil {
		ar.held = nil
		ar.ack <- b
	}
}

// peerGone is called when the client shuts its side of the connection.
func (ar *adReq) peerGone() { ar.cancel(evnet.ErrEOF) }

// adBatch is what the handler's side sends the loop: the head when it is
// first decided, response bytes, and what to do after them.
type adBatch struct {
	ar   *adReq
	head *adHead
	data *adBuf // nil for none
	op   uint8
}

// Batch operations, after the data.
const (
	adWrite uint8 = iota // nothing more: the handler goes on
	adFlush              // http.Flusher
	adEnd                // the handler returned
	adPanic              // the handler panicked: 500 if the head is not out, else cut
	adCut                // end the response where it is and close
)

// adHead is the response head as the handler left it at WriteHeader.
type adHead struct {
	status int
	fields []adField
	cl     int64 // a length to declare (the whole body is in the batch), or -1
	// bare sends the head at once, without a length: the answer to a HEAD
	// whose handler wrote nothing, as net/http sends it.
	bare bool
}

type adField struct{ name, value string }

// apply carries out b on the loop.
func (b *adBatch) apply() {
	ar := b.ar
	a := ar.a
	if ar.over || ar.hijacked {
		a.putBuf(b.data)
		return
	}
	w := ar.w
	if h := b.head; h != nil {
		ar.setFields(h.fields)
		w.WriteHeader(h.status)
		if h.cl >= 0 {
			w.SetContentLength(h.cl)
		}
		if h.bare {
			w.Flush()
		}
	}
	if b.data != nil && len(b.data.b) > 0 {
		w.Write(b.data.b) // an error ends the exchange, and OnDone tells
	}
	if ar.over {
		a.putBuf(b.data)
		return
	}
	switch b.op {
	case adWrite, adFlush:
		if b.op == adFlush {
			w.Flush()
		}
		if b.data == nil {
			return
		}
		b.data.b = b.data.b[:0]
		if !ar.over && w.Full() {
			ar.held = b.data // given back by onDrain: the handler waits
		} else {
			ar.ack <- b.data
		}
		return
	case adEnd:
		ar.finishBody()
		w.End()
	case adPanic, adCut:
		ar.finishBody()
		x := w.x
		x.hc.failHandler(x, b.op == adCut)
	}
	a.putBuf(b.data)
}

// setFields makes fields the native response's header fields.
func (ar *adReq) setFields(fields []adField) {
	h := ar.w.Header()
	h.Reset()
	for _, f := range fields {
		h.Add(f.name, f.value)
	}
}

// interim sends a 1xx response with fields.
func (ar *adReq) interim(status int, fields []adField) {
	if ar.over || ar.hijacked {
		return
	}
	ar.setFields(fields)
	ar.w.WriteHeader(status)
}

// finishBody deals with a request body the handler did not read to its
// end, once it has returned: the rest is read and dropped if it is short,
// else the connection closes after the response (as the native server
// does for a body no handler asked for).
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
	x := ar.w.x
	if x.r.h.Chunked || x.r.h.ContentLength-x.r.received > discardLimit {
		x.hc.flags |= cCloseAfter
		return
	}
	ar.r.ResumeBody()
}

// askBody starts the body's delivery, when the handler first reads it.
func (ar *adReq) askBody() {
	if ar.over || ar.hijacked {
		return
	}
	ar.bodyAsked = true
	ar.r.OnBody(ar.onBody)
}

// resumeBody resumes the body after the handler caught up.
func (ar *adReq) resumeBody() {
	if !ar.over && !ar.hijacked {
		ar.r.ResumeBody()
	}
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

// adBodyError is a body error that is also io.ErrUnexpectedEOF, as
// net/http reports a truncated body.
type adBodyError struct{ std, ev error }

func (e *adBodyError) Error() string   { return e.ev.Error() }
func (e *adBodyError) Unwrap() []error { return []error{e.std, e.ev} }

// adHandover is what the loop gives Hijack: the duplicated descriptor and
// the input it had read beyond the request head.
type adHandover struct {
	fd   int
	rest []byte
	err  error
}

// errHijackBusy reports a hijack while earlier responses on the
// connection are still going out.
var errHijackBusy = errors.New("evhttp: hijack: earlier responses on the connection are not finished")

// hijack starts handing the connection over: the HTTP side lets go of it
// and stops reading, then handOver waits for its output to leave.
func (ar *adReq) hijack(res chan<- adHandover) {
	if ar.over {
		res <- adHandover{err: ar.goneErr}
		return
	}
	x := ar.w.x
	hc := x.hc
	if len(hc.q) != 1 || hc.q[0] != x || hc.flags&(cClosed|cLinger) != 0 {
		res <- adHandover{err: errHijackBusy}
		return
	}
	ar.hijacked = true
	// The HTTP side treats the connection as closed from here on: no more
	// parsing, writing, timeouts or wake-ups; evnet's OnClose comes when
	// detach closes the loop's descriptor.
	hc.flags |= cClosed
	hc.timer.Stop()
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
	ar.post(func() { ar.detach(res) })
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
	res <- adHandover{fd: fd, rest: append([]byte(nil), c.Peek()...)}
	c.Close()
}

// logPanic logs a handler's panic with the goroutine's stack.
func (ar *adReq) logPanic(v any) {
	ar.logf("evhttp: panic serving %s %q: %v\n%s", ar.req.RemoteAddr, ar.req.RequestURI, v, debug.Stack())
}

// dupCloexec duplicates fd, close-on-exec.
func dupCloexec(fd int) (int, error) {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("evhttp: hijack: dup: %w", err)
	}
	return nfd, nil
}
