package evhttp

// The http.Handler adapter: a native Handler that runs a standard
// http.Handler on a bounded pool of goroutines.
//
// Two goroutines share each request: the loop, which owns the connection
// and the native exchange (w, r), and a pool goroutine, which runs the
// http.Handler. They meet in an adReq. The handler's side never touches
// the exchange: what it does crosses to the loop as entries (response
// batches, the body request, the hijack) in its connection's outbox
// (adConn.out), which the loop applies in order, in one pass per wake-up
// and with the connection's output coalesced into one write, and which
// do nothing once the exchange is over (adReq.over). The loop's side
// answers through channels: the batch buffers it is done with (ack, held
// back while the connection is Full: the flow control), the request body
// (adBody), the end of the exchange (gone), the hijacked descriptor.
//
// The requests of one connection run one after another, as net/http runs
// them: the loop parses the requests pipelined behind one whose handler
// runs (up to Server.MaxPipelined), and the worker that finishes a
// request goes on with the next one of its connection (adConn.following),
// with no round trip through the loop; their responses are gathered by
// the loop into one write. A request that may change protocols (Upgrade,
// CONNECT) holds its connection's parsing (xHold) until its response
// ends, so that the bytes after it are never taken for a request; Hijack
// gives back the heads parsed after the hijacking request, with the
// bytes not parsed yet.
//
// This file holds Adapt and its configuration, the dispatch of a request
// (ServeHTTP1), the request both goroutines share (adReq) and what the
// adapter keeps of a connection (adConn): the order in which its requests
// run, and their ends. Beside it, by mechanism: the outbox
// (adapter_outbox.go) and the writer that fills it (adapter_writer.go),
// request building (adapter_request.go), the request body
// (adapter_body.go), hijack (adapter_hijack.go), and the pool of
// goroutines (adapter_pool.go).

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// Defaults of AdapterConfig (the value a zero field takes).
const (
	// DefaultAdapterWorkers is the default AdapterConfig.Workers. Handlers
	// written for net/http block (on a database, another service), so the
	// bound is set by memory and the services behind, not by the cores.
	DefaultAdapterWorkers = 256
	// DefaultAdapterQueueLen is the default AdapterConfig.QueueLen.
	DefaultAdapterQueueLen = 1024
	// DefaultAdapterBodyBuffer is the default AdapterConfig.MaxBodyBuffer.
	DefaultAdapterBodyBuffer = 64 << 10
	// DefaultAdapterWriteBuffer is the default AdapterConfig.WriteBuffer.
	DefaultAdapterWriteBuffer = 32 << 10
	// DefaultAdapterIdleTimeout is the default AdapterConfig.IdleTimeout.
	DefaultAdapterIdleTimeout = time.Second
)

// AdapterConfig configures Adapt. A nil *AdapterConfig, like a zero
// field, means the documented defaults; a negative QueueLen means no
// queue.
type AdapterConfig struct {
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
// bounded pool of goroutines (see AdapterConfig). The loop parses each
// request, builds its *http.Request and hands it to a goroutine of the
// pool, which runs h.ServeHTTP and gives the goroutine back when it
// returns: a goroutine is held only while a request runs, never by a
// connection. The pool belongs to the returned Handler; several Servers
// and loops may share it. The requests of one connection are served one
// at a time, as net/http serves them: the handler of a request pipelined
// behind another runs once the handler before it has returned, on the
// same goroutine, and the responses leave in order (those of one burst of
// pipelined requests in one write). A request pipelined behind one whose
// response closes the connection is not served. One that follows an
// Upgrade or CONNECT request is not even parsed before that response has
// ended, and Hijack returns the pipelined input it was given, parsed or
// not, in its bufio.Reader. A head pipelined behind a running handler is
// subject to Server.HeaderTimeout from its first byte.
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
// AdapterConfig.BaseContext to stop long ones.
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
// limits are the Server's timeouts. Response trailers are sent as
// net/http sends them: the fields declared in the Trailer header field and
// those named with http.TrailerPrefix, with the values they have when the
// handler returns, after a chunked body (a declaration makes even a short
// body chunked; prefixed names set after the head was written go only
// where the body was chunked anyway). Unlike net/http, the head declares
// the prefixed names in a Trailer field.
//
// Hijack hands the handler the connection itself: the descriptor is
// duplicated and taken off the loop, which forgets the connection, and
// becomes a *net.TCPConn (or *net.UnixConn) of Go's own network poller.
// What the client sent beyond the request head is in the returned
// bufio.Reader. A status 101 set with WriteHeader is written to the
// connection by Hijack, as net/http does; without Hijack, 101 cannot be
// sent. The server no longer counts a hijacked connection: Shutdown does
// not wait for it, and its state is reported as closed. A TLS connection
// cannot be hijacked (ErrHijackTLS); UpgradeAdapted switches a connection,
// TLS or not, to another protocol handled on its loop.
//
// A handler that panics is logged (Server.ErrorLog, from the handler's
// goroutine) with its stack, and the client gets 500 if no byte of the
// response had left the handler's side, or a cut response otherwise; the
// connection then closes. A panic with http.ErrAbortHandler closes the
// connection after what was sent, without a log. A write that fails
// (a deadline, the client gone) also ends the response cut.
func Adapt(h http.Handler, cfg *AdapterConfig) Handler {
	var o AdapterConfig
	if cfg != nil {
		o = *cfg
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
	ac   *adConn
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
	prefix    []byte      // for a hijack: the heads parsed after this one
	// upgradeRes is UpgradeAdapted's result channel while the native
	// Upgrade runs: an exchange that ends meanwhile sends the result
	// before it closes gone.
	upgradeRes chan<- error

	// Shared.
	readDeadline  atomic.Int64  // for the body's Read, Unix ns; 0: none
	writeDeadline atomic.Int64  // for a Write that waits, Unix ns; 0: none
	ended         atomic.Bool   // the exchange is over; goneErr tells why
	goneErr       error         // written before ended is set
	goneMu        sync.Mutex    // guards gone
	gone          chan struct{} // closed when the exchange is over; made when a wait needs it
	ack           chan *adBuf   // batch buffers the loop is done with; made before the first batch that needs one
	body          *adBody       // nil for a request without a body

	// The handler's side.
	rw adWriter
}

// ServeHTTP1 builds the http.Request and hands it to the pool (or to the
// worker of the request before it on the connection), or answers 503 when
// the pool and its queue are full, or 400 when the target is not a URL
// net/http would take.
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
		ac:     ac,
		loop:   r.Loop(),
		conn:   r.Conn(),
		logf:   x.hc.ls.cfg.logf,
		req:    req,
		cancel: cancel,
		w:      w,
		r:      r,
	}
	ar.rw.ar = ar
	ar.rw.header = make(http.Header)
	ar.rw.cl = -1
	if r.HasBody() {
		ar.body = &adBody{ar: ar, limit: a.bodyBuffer, ready: make(chan struct{}, 1)}
		req.Body = ar.body
	}
	ac.mu.Lock()
	chained := ac.active
	if chained {
		ac.next = append(ac.next, ar) // the worker of the request before it runs it
	} else {
		ac.active = true
	}
	ac.mu.Unlock()
	yield := false
	if !chained {
		res, alone := a.pool.submit(ar)
		if res == adRefused {
			ac.mu.Lock()
			ac.active = false
			ac.mu.Unlock()
			cancel(errAdapterBusy)
			writeBusy(w)
			return
		}
		// The worker is runnable on this goroutine's processor, which the
		// loop keeps while it waits for events (short waits are raw system
		// calls): another processor would have to steal it, after a
		// wake-up of an OS thread that costs tens of microseconds, often a
		// hundred. Yielding runs the worker at once here; the loop's
		// goroutine goes to the global queue, where an idle processor takes
		// it up. This pays when the request is alone (a round trip measured
		// 2.5 times faster); with others running, the processors are busy
		// anyway and the yield only delays the loop (a third slower under
		// load), so it is not done then. With one processor the loop yields
		// before it waits, once per iteration (see yieldAfterSubmit).
		yield = res == adReadied && alone && yieldAfterSubmit()
	}
	if holds(r) {
		x.flags |= xHold
	}
	x.peerGone = ac.peerGoneFn
	w.Async()
	w.OnDone(adOnDone)
	w.OnDrain(adOnDrain)
	ac.live = append(ac.live, ar)
	if yield {
		runtime.Gosched()
	}
}

// holds reports whether r may change the connection's protocol (Upgrade,
// CONNECT): what follows its head is then not parsed as requests before
// its response has ended.
func holds(r *Request) bool {
	h := &r.h
	return h.Upgrade != nil || string(h.Method) == "CONNECT" || h.Headers.Index("Upgrade", 0) >= 0
}

// writeBusy answers 503 on the loop.
func writeBusy(w *ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(503)
	w.WriteString("503 Service Unavailable\n")
}

// adConn is what the adapter keeps of a connection: the addresses, which
// cost system calls to learn, as net/http gives them; the requests in
// progress, in order; the outbox of the entries their handlers send to
// the loop. It is the connection's, whichever adapter serves a request.
type adConn struct {
	hc     *conn
	remote string               // the http.Request's RemoteAddr
	tls    *tls.ConnectionState // the http.Request's TLS, nil for a plain connection
	ctxOf  *adapter             // the adapter ctx was made for
	ctx    context.Context      // its base context with http.LocalAddrContextKey

	peerGoneFn func() // ac.peerGone, made once
	drainFn    func() // ac.drain, made once

	// The loop's side.
	live []*adReq  // the requests whose exchange is not over, in order
	in   []adEntry // the entries being applied (drain)

	mu      sync.Mutex // guards what follows, and the requests' ended
	active  bool       // a worker serves (or the pool holds) a request of the connection
	next    []*adReq   // requests parsed behind it, for that worker
	handoff *adReq     // the request whose exchange's end starts next (onDone)
	out     []adEntry  // entries for the loop, in order
	posted  bool       // drainFn is posted and has not taken out yet
}

// conn returns hc's adConn, made on its first request.
func (a *adapter) conn(hc *conn) *adConn {
	ac := hc.adapted
	if ac == nil {
		ac = &adConn{hc: hc, remote: "@"} // "@": a Unix socket's peer, as net reports it
		if ra := hc.remoteAddr(); ra.IsValid() {
			ac.remote = ra.String()
		}
		if st, ok := hc.c.TLSState(); ok {
			ac.tls = &st
		}
		ac.peerGoneFn = ac.peerGone
		ac.drainFn = ac.drain
		hc.adapted = ac
	}
	if ac.ctxOf != a {
		ac.ctxOf = a
		ac.ctx = a.base
		if la := hc.c.LocalAddr(); la.IsValid() {
			ac.ctx = context.WithValue(a.base, http.LocalAddrContextKey, net.TCPAddrFromAddrPort(la))
		}
	}
	return ac
}

// following returns the request to serve after ar, which its worker has
// finished, on ar's connection: the next one parsed, or nil. If ar did
// not end cleanly (a complete response that keeps the connection), and
// its exchange is not over yet, it returns nil and the loop starts the
// next request when the exchange is over (adReq.onDone): the requests
// behind ar are dropped then if the connection closes, and their handlers
// must not run.
func (ac *adConn) following(ar *adReq, clean bool) *adReq {
	ac.mu.Lock()
	defer ac.mu.Unlock()
	switch {
	case clean:
	case !ar.ended.Load():
		ac.handoff = ar
		return nil
	case ar.goneErr != ErrEnded:
		// An exchange that ends with an error closes the connection: the
		// requests behind it are dropped, though maybe not yet (a close
		// aborts the exchanges one by one).
		ac.dropLocked()
		return nil
	}
	return ac.popLocked()
}

// dropLocked forgets the requests parsed behind the active one: the
// connection is closing, and their exchanges end with it. ac.mu must be
// held.
func (ac *adConn) dropLocked() {
	clear(ac.next)
	ac.next = ac.next[:0]
	ac.active = false
}

// popLocked takes the next request parsed, or reports that the connection
// has no active request any more. ac.mu must be held.
func (ac *adConn) popLocked() *adReq {
	if len(ac.next) == 0 {
		ac.active = false
		return nil
	}
	nx := ac.next[0]
	n := copy(ac.next, ac.next[1:])
	ac.next[n] = nil
	ac.next = ac.next[:n]
	return nx
}

// startNext starts nx, the request after one that did not end cleanly, from
// the loop: on its pool, or with 503 if the pool is full (and then the
// request after it when that response ends). Requests dropped meanwhile
// are skipped.
func (ac *adConn) startNext(nx *adReq) {
	for nx != nil {
		if !nx.over {
			if res, _ := nx.a.pool.submit(nx); res != adRefused {
				return
			}
			nx.cancel(errAdapterBusy)
			ac.mu.Lock()
			ac.handoff = nx
			ac.mu.Unlock()
			nx.push(adEntry{ar: nx, op: adRefuse})
			return
		}
		ac.mu.Lock()
		nx = ac.popLocked()
		ac.mu.Unlock()
	}
}

// peerGone is the exchanges' peerGone: the client shut its side of the
// connection.
func (ac *adConn) peerGone() {
	for _, ar := range ac.live {
		ar.cancel(evnet.ErrEOF)
	}
}

// adOnDone is the native OnDone of the adapter's exchanges.
func adOnDone(w *ResponseWriter, err error) {
	ac := w.x.hc.adapted
	for i, ar := range ac.live {
		if ar.w == w {
			ac.live = slices.Delete(ac.live, i, i+1)
			ar.onDone(err)
			return
		}
	}
}

// adOnDrain is the native OnDrain of the adapter's exchanges.
func adOnDrain(w *ResponseWriter) {
	for _, ar := range w.x.hc.adapted.live {
		if ar.w == w {
			ar.onDrain()
			return
		}
	}
}

// errAdapterBusy is the context cause of a request refused with 503.
var errAdapterBusy = errors.New("evhttp: adapter pool and queue full")

// run serves the request on a pool goroutine. It reports whether the
// response ended cleanly: complete, and not closing the connection as
// far as the handler's side can tell.
func (ar *adReq) run() (clean bool) {
	if ar.ended.Load() { // the client left while the request waited
		ar.cancel(ar.goneErr)
		return false
	}
	returned := false
	defer func() {
		if returned {
			return
		}
		v := recover() // nil: the handler called runtime.Goexit
		ar.cancel(context.Canceled)
		if v == nil {
			// This goroutine ends: the loop starts the next request.
			ar.ac.following(ar, false)
		}
		ar.rw.fail(v)
	}()
	ar.a.h.ServeHTTP(&ar.rw, ar.req)
	returned = true
	ar.cancel(context.Canceled)
	return ar.rw.finish()
}

// refuse answers 503 for a request pipelined behind one of another
// adapter whose pool is full.
func (ar *adReq) refuse() {
	ar.cancel(errAdapterBusy)
	ar.push(adEntry{ar: ar, op: adRefuse})
}

// goneChan returns a channel closed when the exchange is over.
func (ar *adReq) goneChan() <-chan struct{} {
	ar.goneMu.Lock()
	if ar.gone == nil {
		ar.gone = make(chan struct{})
	}
	c := ar.gone
	ar.goneMu.Unlock()
	return c
}

// closedChan is a closed channel: gone for an exchange over before anyone
// waited.
var closedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// onDone is the native OnDone: the exchange is over.
func (ar *adReq) onDone(err error) {
	if r := ar.upgradeRes; r != nil {
		ar.upgradeRes = nil
		if err == nil {
			ar.hijacked = true // the switch is made: the handler's side is done
		}
		r <- err
	}
	ar.over = true
	ar.held = nil
	ar.goneErr = err
	if err == nil {
		ar.goneErr = ErrEnded
	}
	ac := ar.ac
	ac.mu.Lock()
	ar.ended.Store(true)
	var nx *adReq
	if ac.handoff == ar {
		ac.handoff = nil
		if err != nil {
			ac.dropLocked() // see following
		} else {
			nx = ac.popLocked()
		}
	}
	ac.mu.Unlock()
	ar.goneMu.Lock()
	if ar.gone == nil {
		ar.gone = closedChan
	} else {
		close(ar.gone)
	}
	ar.goneMu.Unlock()
	if !ar.hijacked {
		ar.cancel(err)
	}
	if nx != nil {
		ac.startNext(nx)
	}
}

// onDrain is the native OnDrain: the connection took what was Full, so
// the batch buffer held back goes back to the handler, whose Write waits.
func (ar *adReq) onDrain() {
	if b := ar.held; b != nil {
		ar.held = nil
		ar.ack <- b
	}
}

// logPanic logs a handler's panic with the goroutine's stack.
func (ar *adReq) logPanic(v any) {
	ar.logf("evhttp: panic serving %s %q: %v\n%s", ar.req.RemoteAddr, ar.req.RequestURI, v, debug.Stack())
}
