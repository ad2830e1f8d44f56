package evproxy

import (
	"bytes"
	"errors"
	"io"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/ascii"
)

// exchange is one proxied request, from ServeHTTP1 to the end of both its
// sides; loop goroutine only. Exchanges are reused (getExchange,
// recycle): a steady stream of requests allocates none, nor their
// upstream calls, headers and targets, which live in buffers the exchange
// keeps.
type exchange struct {
	p  *Proxy
	ls *loopState
	b  *backend // of the attempt in progress
	// triedList holds the backends of the first attempts, for a retry to
	// go elsewhere.
	triedList [4]*backend
	status    int // of the attempt's response, 0 before its head

	queued       bool // waiting for room, since then
	since        time.Time
	qprev, qnext *exchange
	w            *evhttp.ResponseWriter // until over
	r            *evhttp.Request        // until over
	start        time.Time

	req        evclient.Request
	upstream   string         // base URL of the upstream of the last attempt
	call       *evclient.Call // the attempt in progress, nil before and after
	attempts   int
	replayable bool // no body, not an upgrade: may be sent twice if it never left
	idempotent bool
	upgrade    bool // a WebSocket upgrade, tunnelled
	gotHead    bool // the upstream's head arrived: no retry, no error page
	flush      bool // flush each piece of the body (unknown length)
	trailers   []string
	bytes      int64
	callDone   bool
	over       bool        // the client's exchange is over
	inDone     bool        // onUpstreamDone is running: recycling waits for its end
	pooled     bool        // in the loop's free list
	tunnel     *evnet.Conn // the upstream's connection after a 101, until the relay takes it
	err        error

	keep // what reuse keeps
}

// keep is what an exchange keeps from one request to the next: its
// storage and the callbacks bound to it, made once.
type keep struct {
	mem      *evclient.Call // the storage of the upstream calls (StreamCall)
	header   []byte         // the upstream request's field lines (Request.RawHeader)
	pq       []byte         // the client's path and query
	target   []byte         // the upstream request's target: the upstream's path, then pq (Request.Target)
	scratch  []byte         // the response's Via
	conn     [][]byte       // the values of the Connection fields of a head, while it is copied
	handler  evclient.Handler
	onWriteF func(*evclient.Call) // for a request with a body
	onDoneFn func(*evhttp.ResponseWriter, error)
	onDrainF func(*evhttp.ResponseWriter)
	onBodyFn evhttp.BodyFunc
}

// A loop keeps the exchanges of finished requests for reuse, as many as
// its traffic has shown it needs. The list's bound starts at minFree and
// grows by one each time a request finds the list empty, up to maxFree,
// so that a steady load of up to maxFree concurrent requests settles with
// no allocation, however the requests' ends and starts interleave. What a
// burst left beyond the need goes back to the collector: every trimEvery
// requests, the list drops half of the exchanges it held all along (the
// fewest it held in that span), and its bound comes down as much.
const (
	minFree   = 64
	maxFree   = 1024
	trimEvery = 8192
)

// maxKept bounds each buffer an exchange keeps for reuse.
const maxKept = 4 << 10

// getExchange returns an exchange for a new request, a reused one if the
// loop has one.
func (ls *loopState) getExchange() *exchange {
	if ls.gets++; ls.gets >= trimEvery {
		ls.trimFree()
	}
	if n := len(ls.free); n > 0 {
		x := ls.free[n-1]
		ls.free[n-1] = nil
		ls.free = ls.free[:n-1]
		ls.freeLow = min(ls.freeLow, n-1)
		x.clear() // again: what a callback wrote after recycle
		return x
	}
	ls.freeLow = 0
	ls.freeCap = min(max(ls.freeCap, minFree)+1, maxFree)
	x := &exchange{p: ls.p, ls: ls}
	x.mem = new(evclient.Call)
	x.handler = evclient.Handler{OnResponse: x.onResponse, OnBody: x.onBody, OnDone: x.onUpstreamDone}
	x.onDoneFn, x.onDrainF, x.onBodyFn, x.onWriteF = x.onDone, x.onDrain, x.onRequestBody, x.onWrite
	return x
}

// trimFree ends a span of trimEvery requests: half of the exchanges the
// free list held throughout it are dropped, and the list's bound with
// them.
func (ls *loopState) trimFree() {
	surplus := ls.freeLow / 2
	n := len(ls.free)
	clear(ls.free[n-surplus:])
	ls.free = ls.free[:n-surplus]
	ls.freeCap = max(ls.freeCap-surplus, minFree)
	ls.gets, ls.freeLow = 0, len(ls.free)
}

// recycle gives x back to its loop once both of its sides are over: the
// client's exchange (onDone ran) and the upstream call (ended or
// canceled, none to come), outside onUpstreamDone (which still uses x
// when the client's exchange ends within it). An upgraded exchange is
// never reused: its tunnel's callbacks may come later. A callback still
// on the stack may write to x after this, before it returns: getExchange
// clears x again when it takes it, and pooled keeps a late call from
// giving it back twice.
func (x *exchange) recycle() {
	if x.pooled || !x.over || x.inDone || x.call != nil || x.b != nil || x.queued || x.upgrade || x.tunnel != nil {
		return
	}
	ls := x.ls
	if len(ls.free) >= max(ls.freeCap, minFree) || ls.closed {
		return
	}
	x.clear()
	x.pooled = true
	ls.free = append(ls.free, x)
}

// clear makes x as new, but for what it keeps.
func (x *exchange) clear() {
	k := x.keep
	k.header, k.pq, k.target, k.scratch = trim(k.header), trim(k.pq), trim(k.target), trim(k.scratch)
	clear(k.conn)
	k.conn = k.conn[:0]
	*x = exchange{p: x.p, ls: x.ls, keep: k}
}

// trim empties b for reuse, or drops it if it grew past maxKept.
func trim(b []byte) []byte {
	if cap(b) > maxKept {
		return nil
	}
	return b[:0]
}

// build makes the upstream request from the client's: hop-by-hop fields
// removed (those RFC 9110 §7.6.1 names, the Proxy-* fields, Keep-Alive,
// and those the Connection fields name), X-Forwarded-* and Via set. It
// writes the field lines into x.header, from the request's bytes, and
// the path and query into x.pq: nothing is allocated once they have
// grown.
func (x *exchange) build() {
	r := x.r
	x.conn = appendValues(x.conn[:0], r.HeaderValues("Connection"))
	h := x.header[:0]
	if host := r.Host(); len(host) > 0 {
		h = appendField(h, "Host", host)
	}
	hasXFF, hasVia := false, false
	for name, value := range r.Headers() {
		switch {
		case hopByHop(name) || named(x.conn, name):
			continue
		case ascii.EqualFold(name, "Host"), ascii.EqualFold(name, "Content-Length"), ascii.EqualFold(name, "Expect"),
			ascii.EqualFold(name, "X-Forwarded-Proto"), ascii.EqualFold(name, "X-Forwarded-Host"):
			continue
		case ascii.EqualFold(name, "X-Forwarded-For"):
			hasXFF = true
			continue
		case ascii.EqualFold(name, "Via"):
			hasVia = true
			continue
		}
		h = appendField(h, name, value)
	}
	a := r.RemoteAddr()
	if hasXFF || a.IsValid() {
		h = append(h, "X-Forwarded-For: "...)
		if hasXFF {
			h = appendJoined(h, r.HeaderValues("X-Forwarded-For"))
		}
		if a.IsValid() {
			if hasXFF {
				h = append(h, ", "...)
			}
			h = a.Addr().Unmap().AppendTo(h)
		}
		h = append(h, "\r\n"...)
	}
	if r.Conn().IsTLS() {
		h = append(h, "X-Forwarded-Proto: https\r\n"...)
	} else {
		h = append(h, "X-Forwarded-Proto: http\r\n"...)
	}
	if host := r.Host(); host != nil {
		h = appendField(h, "X-Forwarded-Host", host)
	}
	h = append(h, "Via: "...)
	if hasVia {
		h = append(appendJoined(h, r.HeaderValues("Via")), ", "...)
	}
	h = append(append(h, x.p.via(r.ProtoMinor())...), "\r\n"...)
	if x.upgrade {
		h = append(h, "Connection: Upgrade\r\nUpgrade: websocket\r\n"...)
	}
	clear(x.conn) // views of the request: not to be kept
	x.conn = x.conn[:0]
	x.header = h
	x.req = evclient.Request{Method: r.MethodString(), RawHeader: h}
	pq := x.pq[:0]
	if path := r.Path(); len(path) > 0 && path[0] == '/' {
		pq = append(pq, path...)
	} else {
		pq = append(pq, '/')
		pq = append(pq, bytes.TrimPrefix(path, []byte("*"))...)
	}
	if q := r.RawQuery(); q != nil {
		pq = append(append(pq, '?'), q...)
	}
	x.pq = pq
}

// appendField appends the field line "name: value" and CR LF; the value
// comes from a parsed head, so it has no line end.
func appendField[N, V string | []byte](h []byte, name N, value V) []byte {
	h = append(append(h, name...), ": "...)
	return append(append(h, value...), "\r\n"...)
}

// appendJoined appends the values, separated by ", ".
func appendJoined(h []byte, values iter.Seq[[]byte]) []byte {
	first := true
	for v := range values {
		if !first {
			h = append(h, ", "...)
		}
		h = append(h, v...)
		first = false
	}
	return h
}

// appendValues appends the values to dst.
func appendValues(dst [][]byte, values iter.Seq[[]byte]) [][]byte {
	for v := range values {
		dst = append(dst, v)
	}
	return dst
}

// send makes one attempt, on the upstream address the balancing picks, or
// puts the request in the queue when every address is at its bound.
func (x *exchange) send() {
	ls := x.ls
	if b := ls.pick(x); b != nil {
		x.sendTo(b)
		return
	}
	switch {
	case len(ls.backends) == 0 && ls.resolving == 0:
		x.fail(http.StatusBadGateway, "bad gateway: no upstream address")
	case !ls.enqueue(x):
		x.unavailable("too many requests waiting for an upstream")
	case x.req.StreamBody:
		x.r.PauseBody() // until the request has an upstream to go to
	}
}

// sendTo makes one attempt on b; a retry goes on a client that keeps no
// idle connection, so on a new connection.
func (x *exchange) sendTo(b *backend) {
	ls := x.ls
	x.b = b
	b.inFlight++
	b.fig.inFlight.Add(1)
	b.fig.requests.Add(1)
	if x.attempts < len(x.triedList) {
		x.triedList[x.attempts] = b
	}
	x.upstream = b.base
	x.req.URL = b.base
	x.target = append(append(x.target[:0], ls.p.upstreams[b.up].Path...), x.pq...)
	x.req.Target = x.target
	client := b.client
	if x.attempts > 0 {
		client = ls.freshClient(b)
	}
	x.attempts++
	x.status = 0
	gen := x.attempts
	x.callDone = false
	h := x.handler
	if x.req.StreamBody {
		h.OnWrite = x.onWriteF
		x.r.ResumeBody()
	}
	if x.upgrade {
		h.OnUpgrade = x.onUpgrade
	}
	call := client.StreamCall(x.mem, &x.req, h)
	if x.attempts == gen && !x.callDone {
		x.call = call
	}
}

// tried reports whether b had one of x's attempts (of the first few).
func (x *exchange) tried(b *backend) bool {
	for _, t := range x.triedList[:min(x.attempts, len(x.triedList))] {
		if t == b {
			return true
		}
	}
	return false
}

// release ends the attempt on its backend: it counts no more in its load,
// and the outcome of a call that ended (not canceled: a client that went
// away says nothing of the upstream) counts for its health.
func (x *exchange) release(err error, ended bool) {
	b := x.b
	if b == nil {
		return
	}
	x.b = nil
	b.inFlight--
	b.fig.inFlight.Add(-1)
	if b.gone && b.inFlight == 0 {
		// Its connection goes back to its pool after this callback.
		ls := x.ls
		ls.l.Post(func() {
			if b.gone && b.inFlight == 0 {
				ls.closeIdle(b)
			}
		})
	}
	b.sampleOpen()
	if ended {
		x.ls.report(b, err != nil && failure(err) || x.p.cfg.Fail5xx && x.status >= 500)
	}
}

// onRequestBody passes the client's body on, pausing it while the
// upstream's connection is Full.
func (x *exchange) onRequestBody(_ *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
	if x.callDone || x.call == nil {
		return // the upstream answered (or failed) already: the rest is dropped
	}
	if len(p) > 0 {
		x.call.Write(p)
		if x.call != nil && x.call.Full() {
			r.PauseBody()
		}
	}
	switch {
	case err == io.EOF:
		if x.call != nil {
			x.call.CloseBody()
		}
	case err != nil:
		x.cancel()
	}
}

// onWrite runs when the upstream's connection takes more of the body.
func (x *exchange) onWrite(*evclient.Call) {
	if !x.over {
		x.r.ResumeBody()
	}
}

// onResponse passes the upstream's head on.
func (x *exchange) onResponse(call *evclient.Call, resp *evclient.Response) {
	x.gotHead = true
	x.status = resp.Status
	w := x.w
	x.copyHead(resp)
	w.WriteHeader(resp.Status)
	noBody := resp.Status < 200 || resp.Status == 204 || resp.Status == 304
	switch {
	case noBody:
	case resp.ContentLength >= 0:
		// For HEAD, the length the upstream announces: the server counts
		// no byte against it.
		w.SetContentLength(resp.ContentLength)
	default:
		// Unknown length (chunked, or until the upstream closes), as
		// text/event-stream is: each piece goes out as it comes.
		x.flush = true
		w.Flush()
	}
}

// copyHead copies the end-to-end fields of resp to the client's response,
// declares its trailers and adds Via. The fields are copied as bytes
// (evhttp.Header.AddBytes), into storage the client's exchange keeps.
func (x *exchange) copyHead(resp *evclient.Response) {
	hdr := x.w.Header()
	x.conn = x.conn[:0]
	hasVia := false
	resp.VisitHeaders(func(name, value []byte) bool {
		switch {
		case ascii.EqualFold(name, "Connection"):
			x.conn = append(x.conn, value)
		case ascii.EqualFold(name, "Trailer"):
			x.trailers = appendTokens(x.trailers, value)
		case ascii.EqualFold(name, "Via"):
			hasVia = true
		}
		return true
	})
	resp.VisitHeaders(func(name, value []byte) bool {
		switch {
		case hopByHop(name) || named(x.conn, name), ascii.EqualFold(name, "Content-Length"), ascii.EqualFold(name, "Via"):
		default:
			hdr.AddBytes(name, value)
		}
		return true
	})
	clear(x.conn)
	x.conn = x.conn[:0]
	via := x.p.via(resp.ProtoMinor)
	if hasVia {
		v := x.scratch[:0]
		resp.VisitHeaders(func(name, value []byte) bool {
			if ascii.EqualFold(name, "Via") {
				v = append(append(v, value...), ", "...)
			}
			return true
		})
		x.scratch = append(v, via...)
		hdr.AddBytes([]byte("Via"), x.scratch)
	} else {
		hdr.Set("Via", via)
	}
	if len(x.trailers) > 0 && resp.Status != 101 {
		hdr.Set("Trailer", strings.Join(x.trailers, ", "))
	}
}

// onBody passes a piece of the upstream's body on, and pauses the upstream
// while the client's connection is Full.
func (x *exchange) onBody(call *evclient.Call, p []byte) {
	n, err := x.w.Write(p)
	x.bytes += int64(n)
	if err != nil {
		return // the client's exchange ended: onDone cancels the call
	}
	if x.flush {
		x.w.Flush()
	}
	if x.w.Full() {
		call.PauseRead()
	}
}

// onDrain resumes the upstream once the client has taken its output.
func (x *exchange) onDrain(*evhttp.ResponseWriter) {
	if x.call != nil && !x.callDone {
		x.call.ResumeRead()
	}
}

// onUpstreamDone ends the client's response: whole, as an error page (502,
// 504) when nothing was sent yet, or cut when the upstream failed in the
// middle of its body. An idempotent request is retried first if it can be.
func (x *exchange) onUpstreamDone(call *evclient.Call, err error) {
	x.callDone = true
	x.call = nil
	x.release(err, true)
	x.inDone = true
	if !x.over {
		x.end(call, err)
	}
	x.inDone = false
	x.ls.dispatch() // after a retry, which comes before the queue
	x.recycle()
}

// end ends the client's response after the attempt's call ended with err.
func (x *exchange) end(call *evclient.Call, err error) {
	if x.req.StreamBody {
		// A body paused for the upstream's sake would hold the exchange:
		// what is left of it is read and dropped.
		x.r.ResumeBody()
	}
	if err == nil {
		if x.upgrade && x.tunnel != nil {
			return // the 101 is on its way; the relay starts with it
		}
		for _, t := range x.trailers {
			if v := call.Response().Trailer(t); v != "" {
				x.w.Trailer().Set(t, v)
			}
		}
		x.w.End()
		return
	}
	x.err = err
	if !x.gotHead {
		if x.attempts <= x.p.cfg.MaxRetries && x.canRetry(err) {
			x.send()
			return
		}
		if timedOut(err) {
			x.fail(http.StatusGatewayTimeout, "upstream timed out")
		} else {
			x.fail(http.StatusBadGateway, "bad gateway")
		}
		return
	}
	// The client has had part of the response: it must not take what it
	// got for the whole. Resetting the connection tells it.
	x.r.Conn().Abort()
}

// canRetry reports whether the attempt that failed with err may be made
// again: a request without a body and not an upgrade, whose upstream
// could not be reached (the request never left), or, for an idempotent
// method, dropped the connection before any byte of a response.
func (x *exchange) canRetry(err error) bool {
	if !x.replayable {
		return false
	}
	return errors.Is(err, evclient.ErrConnect) || errors.Is(err, evclient.ErrConnectTimeout) ||
		x.idempotent && errors.Is(err, evclient.ErrConnClosed)
}

// unavailable answers 503: no upstream connection for the request.
func (x *exchange) unavailable(msg string) {
	x.w.Header().Set("Retry-After", "1")
	x.fail(http.StatusServiceUnavailable, "service unavailable: "+msg)
}

// fail answers the client with an error page of the proxy's own.
func (x *exchange) fail(status int, msg string) {
	w := x.w
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
	w.End()
}

// cancel stops the upstream call in progress, if any.
func (x *exchange) cancel() {
	if x.call != nil && !x.callDone {
		x.call.Cancel()
	}
	had := x.b != nil
	x.release(nil, false)
	x.callDone = true
	x.call = nil
	if had {
		x.ls.dispatch()
	}
}

// onUpgrade answers the client's upgrade with the upstream's 101 and, once
// it is sent, relays the two connections.
func (x *exchange) onUpgrade(call *evclient.Call, resp *evclient.Response, nc *evnet.Conn) {
	x.gotHead = true
	x.copyHead(resp)
	x.tunnel = nc
	proto := resp.Header("Upgrade")
	err := x.w.Upgrade(proto, evnet.Handler{OnOpen: x.onTunnelOpen, OnData: holdInput, OnClose: x.onTunnelClose})
	if err != nil {
		x.tunnel = nil
		nc.Close()
		x.w.Header().Reset()
		x.fail(http.StatusBadGateway, "bad gateway: upstream switched to "+proto)
	}
}

func holdInput(*evnet.Conn, []byte) int { return 0 }

// onTunnelOpen runs when the 101 has left: the relay takes both sides.
func (x *exchange) onTunnelOpen(c *evnet.Conn) {
	nc := x.tunnel
	x.tunnel = nil
	evnet.Relay(c, nc, &x.p.cfg.Relay, func(evnet.RelayStats, error) {})
}

// onTunnelClose runs if the client went away between the switch and the
// relay: the upstream's side is closed too.
func (x *exchange) onTunnelClose(*evnet.Conn, error) {
	if x.tunnel != nil {
		x.tunnel.Close()
		x.tunnel = nil
	}
}

// onDone runs when the client's exchange is over: whatever is still in
// progress upstream stops, and the access log is written.
func (x *exchange) onDone(w *evhttp.ResponseWriter, err error) {
	x.over = true
	x.ls.dequeue(x)
	if err != nil {
		x.cancel()
		if x.tunnel != nil {
			x.tunnel.Close()
			x.tunnel = nil
		}
		if x.err == nil {
			x.err = err
		}
	}
	if log := x.p.cfg.AccessLog; log != nil {
		e := &x.ls.entry
		*e = LogEntry{Request: x.r, Upstream: x.upstream, Status: w.Status(), Bytes: x.bytes,
			Attempts: x.attempts, Elapsed: x.r.Loop().Now().Sub(x.start), Err: x.err}
		log(e)
		*e = LogEntry{}
	}
	x.w, x.r = nil, nil
	x.recycle()
}

// hopByHop reports whether a field is hop-by-hop by name (RFC 9110 §7.6.1,
// plus the Proxy-* fields and Keep-Alive of older practice).
func hopByHop(name []byte) bool {
	switch {
	case ascii.EqualFold(name, "Connection"), ascii.EqualFold(name, "Keep-Alive"),
		ascii.EqualFold(name, "TE"), ascii.EqualFold(name, "Trailer"),
		ascii.EqualFold(name, "Transfer-Encoding"), ascii.EqualFold(name, "Upgrade"):
		return true
	}
	return len(name) >= 6 && ascii.EqualFold(name[:6], "proxy-")
}

// named reports whether name is among the comma-separated field names of
// the Connection field values conn (RFC 9110 §7.6.1: those fields are
// hop-by-hop too).
func named(conn [][]byte, name []byte) bool {
	for _, v := range conn {
		if hasToken(v, name) {
			return true
		}
	}
	return false
}

// hasToken reports whether the comma-separated list v has the element
// token, without regard to ASCII case.
func hasToken[T string | []byte](v []byte, token T) bool {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte{','})
		if ascii.EqualFold(bytes.Trim(t, " \t"), token) {
			return true
		}
	}
	return false
}

// appendTokens appends the elements of a comma-separated list (a Trailer
// field's value) to dst, as strings.
func appendTokens(dst []string, v []byte) []string {
	for len(v) > 0 {
		var t []byte
		t, v, _ = bytes.Cut(v, []byte{','})
		if t = bytes.Trim(t, " \t"); len(t) > 0 {
			dst = append(dst, string(t))
		}
	}
	return dst
}

// isWebSocket reports whether an Upgrade field's value offers websocket.
func isWebSocket(v []byte) bool { return hasToken(v, "websocket") }

func idempotent(m []byte) bool {
	switch string(m) {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// failure reports whether an upstream error counts against the upstream's
// health: it could not be reached, timed out, broke the protocol or
// dropped the connection; not when the proxy closed or the request itself
// was refused by the client.
func failure(err error) bool {
	return !errors.Is(err, evclient.ErrClosed) && !errors.Is(err, evclient.ErrRequest) &&
		!errors.Is(err, evclient.ErrURL) && !errors.Is(err, evclient.ErrScheme)
}

func timedOut(err error) bool {
	return errors.Is(err, evclient.ErrHeaderTimeout) || errors.Is(err, evclient.ErrTimeout) ||
		errors.Is(err, evclient.ErrConnectTimeout)
}
