package evproxy

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// exchange is one proxied request, from ServeHTTP1 to the end of both its
// sides; loop goroutine only.
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
	pathQuery  string
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
	tunnel     *evnet.Conn // the upstream's connection after a 101, until the relay takes it
	err        error
}

// build makes the upstream request from the client's: hop-by-hop fields
// removed, X-Forwarded-* and Via set.
func (x *exchange) build() {
	r := x.r
	named := connectionTokens(r.HeaderValues("Connection"))
	h := make(http.Header)
	var xff, via []string
	for name, value := range r.Headers() {
		n := string(name)
		switch {
		case hopByHop(n) || named.has(n):
			continue
		case strings.EqualFold(n, "Host"), strings.EqualFold(n, "Content-Length"), strings.EqualFold(n, "Expect"),
			strings.EqualFold(n, "X-Forwarded-Proto"), strings.EqualFold(n, "X-Forwarded-Host"):
			continue
		case strings.EqualFold(n, "X-Forwarded-For"):
			xff = append(xff, string(value))
			continue
		case strings.EqualFold(n, "Via"):
			via = append(via, string(value))
			continue
		}
		h.Add(n, string(value))
	}
	if a := r.RemoteAddr(); a.IsValid() {
		xff = append(xff, a.Addr().Unmap().String())
	}
	if len(xff) > 0 {
		h.Set("X-Forwarded-For", strings.Join(xff, ", "))
	}
	proto := "http"
	if r.Conn().IsTLS() {
		proto = "https"
	}
	h.Set("X-Forwarded-Proto", proto)
	if host := r.Host(); host != nil {
		h.Set("X-Forwarded-Host", string(host))
	}
	h.Set("Via", strings.Join(append(via, viaEntry(r.ProtoMinor(), x.p.cfg.Via)), ", "))
	if h.Get("User-Agent") == "" {
		h["User-Agent"] = []string{""} // none: the client's own default is not sent
	}
	if x.upgrade {
		h.Set("Connection", "Upgrade")
		h.Set("Upgrade", "websocket")
	}
	x.req = evclient.Request{Method: string(r.Method()), Header: h, Host: string(r.Host())}
	pq := string(r.Path())
	if !strings.HasPrefix(pq, "/") {
		pq = "/" + strings.TrimPrefix(pq, "*")
	}
	if q := r.RawQuery(); q != nil {
		pq += "?" + string(q)
	}
	x.pathQuery = pq
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
	x.req.URL = b.base + x.pathQuery
	client := b.client
	if x.attempts > 0 {
		client = ls.freshClient(b)
	}
	x.attempts++
	x.status = 0
	gen := x.attempts
	x.callDone = false
	h := evclient.Handler{OnResponse: x.onResponse, OnBody: x.onBody, OnDone: x.onUpstreamDone}
	if x.req.StreamBody {
		h.OnWrite = x.onWrite
		x.r.ResumeBody()
	}
	if x.upgrade {
		h.OnUpgrade = x.onUpgrade
	}
	call := client.Stream(&x.req, h)
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
		x.ls.l.Post(func() {
			if b.gone && b.inFlight == 0 {
				x.ls.closeIdle(b)
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
// declares its trailers and adds Via.
func (x *exchange) copyHead(resp *evclient.Response) {
	w := x.w
	named := connectionTokens(nil)
	for _, v := range resp.Values("Connection") {
		named = named.add(v)
	}
	for _, v := range resp.Values("Trailer") {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				x.trailers = append(x.trailers, t)
			}
		}
	}
	var via []string
	resp.VisitHeaders(func(name, value []byte) bool {
		n := string(name)
		switch {
		case hopByHop(n) || named.has(n), strings.EqualFold(n, "Content-Length"):
		case strings.EqualFold(n, "Via"):
			via = append(via, string(value))
		default:
			w.Header().Add(n, string(value))
		}
		return true
	})
	w.Header().Set("Via", strings.Join(append(via, viaEntry(resp.ProtoMinor, x.p.cfg.Via)), ", "))
	if len(x.trailers) > 0 && resp.Status != 101 {
		w.Header().Set("Trailer", strings.Join(x.trailers, ", "))
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
	if !x.over {
		x.end(call, err)
	}
	x.ls.dispatch() // after a retry, which comes before the queue
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
		log(&LogEntry{Request: x.r, Upstream: x.upstream, Status: w.Status(), Bytes: x.bytes,
			Attempts: x.attempts, Elapsed: x.r.Loop().Now().Sub(x.start), Err: x.err})
	}
	x.w, x.r = nil, nil
}

// hopByHop reports whether a field is hop-by-hop by name (RFC 9110 §7.6.1,
// plus the Proxy-* fields and Keep-Alive of older practice).
func hopByHop(name string) bool {
	switch {
	case strings.EqualFold(name, "Connection"), strings.EqualFold(name, "Keep-Alive"),
		strings.EqualFold(name, "TE"), strings.EqualFold(name, "Trailer"),
		strings.EqualFold(name, "Transfer-Encoding"), strings.EqualFold(name, "Upgrade"):
		return true
	}
	return len(name) >= 6 && strings.EqualFold(name[:6], "proxy-")
}

// tokens are the field names listed in Connection fields, lower case.
type tokens []string

func connectionTokens(values func(func([]byte) bool)) tokens {
	var t tokens
	if values != nil {
		for v := range values {
			t = t.add(string(v))
		}
	}
	return t
}

func (t tokens) add(v string) tokens {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
			t = append(t, s)
		}
	}
	return t
}

func (t tokens) has(name string) bool {
	for _, s := range t {
		if strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}

func viaEntry(minor int, pseudonym string) string {
	if minor == 0 {
		return "1.0 " + pseudonym
	}
	return "1.1 " + pseudonym
}

// isWebSocket reports whether an Upgrade field's value offers websocket.
func isWebSocket(v []byte) bool {
	for s := range strings.SplitSeq(string(v), ",") {
		if strings.EqualFold(strings.TrimSpace(s), "websocket") {
			return true
		}
	}
	return false
}

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
