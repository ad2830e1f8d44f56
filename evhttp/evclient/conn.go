package evclient

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/ascii"
)

// The states of a conn.
const (
	connDialing uint8 = iota + 1
	connOpen
	connClosed
)

const (
	// inlineBody is the largest body (or chunk) copied behind its head
	// (or chunk header) so that both leave in one write.
	inlineBody = 16 << 10
	// bodyPiece is the most of a request body written at once; the rest
	// waits for OnDrain once the connection is Full.
	bodyPiece = 256 << 10
	// keepBuf is the largest write buffer a connection keeps between
	// requests.
	keepBuf = 64 << 10
	// maxPrealloc is the most of a body of known length that Do
	// allocates before its bytes arrive.
	maxPrealloc = 4 << 20
)

var crlf = []byte("\r\n")

// conn is one connection of a host's pool. It carries calls in order:
// calls[0] is the one whose response is being read, writer the one whose
// request is being written (the last one, with pipelining). It reuses one
// parser, response, body decoder and write buffer for all its requests.
// Loop goroutine only.
type conn struct {
	client *Client
	host   *host
	nc     *evnet.Conn // nil while a DialFunc dials
	addr   string      // the address dialled, for errors
	state  uint8

	closing    bool  // Close or Abort called
	closeAfter bool  // not to be reused: Connection: close, unfinished request
	closedDone bool  // closed by the client after a response, as it said
	abortErr   error // the error for the calls when the client aborted it
	inBody     bool  // reading the body of calls[0]'s final response
	served     int   // responses read

	// Dialling.
	dialFor    *Call // the call the dial is for, while it wants it
	hookDial   bool  // a DialFunc is dialling
	cancelDial func() bool
	timedOut   bool
	dialTimer  eddy.Timer

	calls  []*Call
	writer *Call

	parser h1.Parser
	resp   h1.Response
	body   h1.Body
	wbuf   []byte

	// The pool.
	inIdle             bool
	idlePrev, idleNext *conn
}

// dial starts a new connection for call.
func (h *host) dial(call *Call) {
	c := h.client
	cc := &conn{client: c, host: h, state: connDialing, dialFor: call, addr: call.u.dialAddr()}
	cc.parser.Limits = &c.limits
	cc.body.Limits = c.limits
	h.conns++
	h.open = append(h.open, cc)
	c.stats.Dials++
	call.state = callDialing
	call.conn = cc
	hd := evnet.Handler{OnOpen: cc.onOpen, OnData: cc.onData, OnDrain: cc.onDrain, OnClose: cc.onClose}
	timeout := max(c.cfg.ConnectTimeout, 0)
	if timeout > 0 {
		cc.dialTimer.Init(cc.onDialTimeout, timeout, 0)
		cc.dialTimer.Start(c.loop)
	}
	if call.u.ip.IsValid() {
		nc, err := evnet.Dialer{Conn: c.cfg.Conn}.Dial(c.loop, "tcp", cc.addr, hd)
		if err != nil {
			cc.dialFailed(err)
			return
		}
		cc.nc = nc
		return
	}
	cc.hookDial = true
	cancel := c.dial(cc.addr, timeout, hd, cc.dialed)
	if cc.hookDial {
		cc.cancelDial = cancel
	}
}

// dialed is the DialFunc's done callback.
func (cc *conn) dialed(nc *evnet.Conn, err error) {
	cc.hookDial, cc.cancelDial = false, nil
	if err != nil {
		cc.dialFailed(err)
		return
	}
	cc.nc = nc // OnOpen follows
}

func (cc *conn) onDialTimeout(*eddy.Timer) {
	if cc.state != connDialing {
		return
	}
	cc.timedOut = true
	if cc.hookDial {
		cancel := cc.cancelDial
		cc.hookDial, cc.cancelDial = false, nil
		if cancel != nil {
			cancel()
		}
		cc.dialFailed(ErrConnectTimeout)
		return
	}
	cc.nc.Abort() // OnClose, without OnOpen: dialFailed
}

// dialFailed ends a dial that did not connect.
func (cc *conn) dialFailed(err error) {
	if cc.state == connClosed {
		return
	}
	cc.state = connClosed
	cc.dialTimer.Stop()
	cc.hookDial, cc.cancelDial = false, nil
	h, c := cc.host, cc.client
	h.removeConn(cc)
	c.stats.DialErrors++
	if call := cc.dialFor; call != nil && call.state == callDialing && call.conn == cc {
		cc.dialFor = nil
		switch {
		case cc.abortErr != nil:
			err = cc.abortErr
		case cc.timedOut:
			err = fmt.Errorf("%w: %s after %v", ErrConnectTimeout, cc.addr, c.cfg.ConnectTimeout)
		default:
			err = fmt.Errorf("%w to %s: %w", ErrConnect, cc.addr, err)
		}
		call.finish(err)
	}
	h.schedule()
}

func (cc *conn) onOpen(nc *evnet.Conn) {
	cc.nc = nc
	cc.dialTimer.Stop()
	cc.state = connOpen
	call := cc.dialFor
	cc.dialFor = nil
	if call != nil && call.state == callDialing && call.conn == cc && !cc.client.closed {
		cc.startCall(call)
		return
	}
	cc.host.release(cc)
}

// front returns the call whose response is being read, or nil.
func (cc *conn) front() *Call {
	if len(cc.calls) == 0 {
		return nil
	}
	return cc.calls[0]
}

// detach takes a call off the connection (which is then aborted).
func (cc *conn) detach(call *Call) {
	if i := slices.Index(cc.calls, call); i >= 0 {
		cc.calls = slices.Delete(cc.calls, i, i+1)
	}
	if cc.writer == call {
		cc.writer = nil
	}
}

// abort closes the connection at once (a reset); err, if not nil, is
// what its calls fail with, instead of being retried.
func (cc *conn) abort(err error) {
	if cc.closing || cc.state == connClosed {
		return
	}
	cc.closing = true
	if err != nil {
		cc.abortErr = err
	}
	cc.host.unidle(cc)
	if cc.nc == nil { // a DialFunc is dialling
		if cancel := cc.cancelDial; cancel != nil {
			cc.hookDial, cc.cancelDial = false, nil
			cancel()
		}
		cc.dialFailed(ErrClosed)
		return
	}
	cc.nc.Abort()
}

// shut closes the connection gracefully.
func (cc *conn) shut() {
	if cc.closing || cc.state == connClosed {
		return
	}
	cc.closing = true
	cc.host.unidle(cc)
	cc.nc.Close()
}

// startCall writes call's request on the connection.
func (cc *conn) startCall(call *Call) {
	c := cc.client
	call.state = callOnConn
	call.conn = cc
	call.reused = cc.served > 0 || len(cc.calls) > 0
	c.stats.Requests++
	if cc.served > 0 {
		c.stats.Reused++
	}
	if len(cc.calls) > 0 {
		c.stats.Pipelined++
	}
	cc.calls = append(cc.calls, call)
	cc.writer = call
	if call.closeReq || c.cfg.DisableKeepAlives {
		cc.closeAfter = true
	}
	expect := call.expects()
	cc.wbuf = cc.appendHead(cc.wbuf[:0], call, expect)
	if body := call.req.Body; !call.req.StreamBody && !expect && len(body) <= inlineBody {
		cc.wbuf = append(cc.wbuf, body...)
		call.bodyOff = len(body)
	}
	call.headSent = true
	_, err := cc.nc.Write(cc.wbuf)
	if cap(cc.wbuf) > keepBuf {
		cc.wbuf = nil
	}
	if err != nil || call.state != callOnConn || call.conn != cc {
		return // the connection failed: its OnClose has the call
	}
	if expect {
		call.waitContinue = true
		call.expectDL = c.loop.Now().Add(c.cfg.ExpectContinueTimeout)
		call.armTimer()
		return
	}
	cc.sendBody(call)
}

// expects reports whether the request holds its body back for "100
// Continue".
func (call *Call) expects() bool {
	return call.req.ExpectContinue && (call.req.StreamBody || len(call.req.Body) > 0)
}

// appendHead appends the request head of call to b.
func (cc *conn) appendHead(b []byte, call *Call, expect bool) []byte {
	c := cc.client
	req := &call.req
	m := req.method()
	b = h1.AppendRequestLine(b, m, call.u.target, 1)
	host := req.Host
	if host == "" {
		host = call.u.authority
	}
	b = h1.AppendHeader(b, "Host", host)
	hasUA, hasAuth := false, false
	for k, vs := range req.Header {
		ua := false
		switch {
		case ascii.EqualFold(k, "Host"), ascii.EqualFold(k, "Content-Length"),
			ascii.EqualFold(k, "Transfer-Encoding"), ascii.EqualFold(k, "Trailer"),
			ascii.EqualFold(k, "Expect"):
			continue
		case ascii.EqualFold(k, "User-Agent"):
			hasUA, ua = true, true
		case ascii.EqualFold(k, "Authorization"):
			hasAuth = true
		}
		for _, v := range vs {
			if ua && v == "" {
				continue
			}
			b = h1.AppendHeader(b, k, v)
		}
	}
	if !hasUA && c.cfg.UserAgent != "" {
		b = h1.AppendHeader(b, "User-Agent", c.cfg.UserAgent)
	}
	if call.u.userinfo != "" && !hasAuth {
		ui := call.u.userinfo
		if !strings.Contains(ui, ":") {
			ui += ":"
		}
		b = h1.AppendHeader(b, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(ui)))
	}
	switch {
	case req.StreamBody:
		b = h1.AppendHeader(b, "Transfer-Encoding", "chunked")
	case len(req.Body) > 0 || m == "POST" || m == "PUT" || m == "PATCH":
		b = h1.AppendHeaderInt(b, "Content-Length", int64(len(req.Body)))
	}
	if expect {
		b = h1.AppendHeader(b, "Expect", "100-continue")
	}
	if c.cfg.DisableKeepAlives && !call.closeReq {
		b = h1.AppendHeader(b, "Connection", "close")
	}
	return append(b, crlf...)
}

// sendBody writes as much of call's body as the connection takes, and
// ends the request when it is all written.
func (cc *conn) sendBody(call *Call) {
	for cc.writer == call && call.state == callOnConn && !cc.closing {
		if !call.req.StreamBody {
			body := call.req.Body
			if call.bodyOff >= len(body) {
				cc.bodyDone(call)
				return
			}
			if cc.nc.Full() {
				return // OnDrain goes on
			}
			n := min(len(body)-call.bodyOff, bodyPiece)
			if _, err := cc.nc.Write(body[call.bodyOff : call.bodyOff+n]); err != nil {
				return
			}
			call.bodyOff += n
			continue
		}
		if len(call.pend) > 0 {
			p := call.pend
			call.pend = nil
			if _, err := cc.writeChunk(p); err != nil {
				return
			}
			continue
		}
		if call.bodyClosed {
			cc.wbuf = h1.AppendLastChunk(cc.wbuf[:0], nil)
			if _, err := cc.nc.Write(cc.wbuf); err != nil {
				return
			}
			cc.bodyDone(call)
			return
		}
		if cc.nc.Full() || call.inWrite || call.h.OnWrite == nil {
			return
		}
		before := call.written
		call.inWrite = true
		call.h.OnWrite(call)
		call.inWrite = false
		if call.written == before && !call.bodyClosed {
			return // nothing more for now: the program writes when it has some
		}
	}
}

// writeChunk writes p as one chunk of a streamed body.
func (cc *conn) writeChunk(p []byte) (int, error) {
	cc.wbuf = h1.AppendChunkHeader(cc.wbuf[:0], len(p))
	if len(p) <= inlineBody {
		cc.wbuf = append(append(cc.wbuf, p...), crlf...)
		if _, err := cc.nc.Write(cc.wbuf); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	for _, b := range [...][]byte{cc.wbuf, p, crlf} {
		if _, err := cc.nc.Write(b); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// bodyDone ends the writing of call's request.
func (cc *conn) bodyDone(call *Call) {
	c := cc.client
	call.sent = true
	cc.writer = nil
	if hto := c.cfg.HeaderTimeout; hto > 0 && !call.gotHead {
		call.headerDL = c.loop.Now().Add(hto)
		call.armTimer()
	}
	if c.cfg.Pipelining && !cc.closeAfter && !cc.closing {
		cc.host.schedule() // the connection may take the next request
	}
}

func (cc *conn) onDrain(*evnet.Conn) {
	if w := cc.writer; w != nil && w.headSent && !w.waitContinue {
		cc.sendBody(w)
	}
}

// onData reads responses: heads, then bodies, for the calls in order.
func (cc *conn) onData(nc *evnet.Conn, p []byte) int {
	used := 0
	for {
		if cc.closing || cc.state != connOpen {
			return len(p)
		}
		call := cc.front()
		if call == nil {
			if used < len(p) { // bytes nobody asked for: the connection is unusable
				cc.abort(nil)
				return len(p)
			}
			return used
		}
		if used < len(p) {
			call.gotBytes = true
		}
		if !cc.inBody {
			if call.paused {
				nc.PauseRead()
				return used
			}
			if used == len(p) {
				return used
			}
			n, err := cc.parser.ParseResponse(p[used:], call.req.method(), &cc.resp)
			if err == h1.ErrNeedMore {
				return used
			}
			cc.parser.Reset()
			if err != nil {
				call.fail(fmt.Errorf("%w: %w", ErrMalformed, err))
				return len(p)
			}
			head := p[used : used+n]
			used += n
			cc.onHead(call, head)
			continue
		}
		if call.paused && !call.discard && !cc.body.Done() {
			nc.PauseRead()
			return used
		}
		n, payload, done, err := cc.body.Decode(p[used:])
		if err == h1.ErrNeedMore {
			return used
		}
		if err != nil {
			call.fail(fmt.Errorf("%w: %w", ErrMalformed, err))
			return len(p)
		}
		used += n
		if len(payload) > 0 {
			cc.deliver(call, payload)
		}
		if done && cc.front() == call && !cc.closing {
			cc.responseDone(call)
		}
	}
}

// isRedirect reports whether a status is a redirect the client follows.
func isRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// onHead handles a response head of call.
func (cc *conn) onHead(call *Call, head []byte) {
	c := cc.client
	r := &cc.resp
	if r.Status < 200 {
		switch {
		case r.Status == 101:
			call.fail(fmt.Errorf("%w: unexpected 101 Switching Protocols", ErrMalformed))
		case r.Status == 100 && call.waitContinue:
			call.waitContinue = false
			call.expectDL = time.Time{}
			call.armTimer()
			cc.sendBody(call)
		}
		return // interim: the final head follows
	}
	call.gotHead = true
	call.headerDL, call.expectDL = time.Time{}, time.Time{}
	call.armTimer()
	if cc.writer == call || call.waitContinue {
		// Answered before the body was sent: the request's framing is
		// unfinished, so the connection cannot carry another one.
		cc.writer = nil
		call.waitContinue, call.abandoned, call.pend = false, true, nil
		cc.closeAfter = true
	}
	if r.Close {
		cc.closeAfter = true
	}
	cc.body.ResetResponse(r)
	cc.inBody = true
	if isRedirect(r.Status) && c.cfg.MaxRedirects >= 0 {
		next, follow, err := nextHop(&call.req, r.Status, string(r.Headers.Get("Location")))
		switch {
		case err != nil:
			call.discard, call.endErr = true, err
		case follow && call.redirects >= c.cfg.MaxRedirects:
			call.discard = true
			call.endErr = fmt.Errorf("%w: stopped after %d", ErrTooManyRedirects, call.redirects)
		case follow:
			call.discard, call.next = true, &next
		}
		if call.discard {
			return // the body is read and dropped, then the call goes on
		}
	}
	resp := &call.resp
	resp.Status, resp.ProtoMinor, resp.ContentLength = r.Status, r.Minor, r.ContentLength
	resp.URL, resp.Redirects = call.req.URL, call.redirects
	if call.gather {
		cl := r.ContentLength
		if r.NoBody || r.Chunked || r.UntilEOF {
			cl = 0
		}
		if cl > c.cfg.MaxBodyBytes {
			call.fail(fmt.Errorf("%w: Content-Length %d", ErrBodyTooLarge, cl))
			return
		}
		// One allocation for the head and a body of known length (up to
		// maxPrealloc: a server's claim alone does not get more memory).
		buf := make([]byte, len(head), len(head)+int(min(cl, maxPrealloc)))
		copy(buf, head)
		resp.head = buf[:len(head):len(head)]
		if cl > 0 {
			resp.Body = buf[len(head):len(head)]
		}
		return
	}
	resp.head = bytes.Clone(head)
	if f := call.h.OnResponse; f != nil {
		f(call, resp)
	}
}

// deliver hands a piece of body to the call.
func (cc *conn) deliver(call *Call, p []byte) {
	switch {
	case call.discard:
	case call.gather:
		resp := &call.resp
		if max := cc.client.cfg.MaxBodyBytes; int64(len(resp.Body))+int64(len(p)) > max {
			call.fail(fmt.Errorf("%w (%d bytes)", ErrBodyTooLarge, max))
			return
		}
		resp.Body = append(resp.Body, p...)
	case call.h.OnBody != nil:
		call.h.OnBody(call, p)
	}
}

// responseDone ends the response of call, the front call: the connection
// goes back to the pool (or closes), then the call ends or goes on to its
// redirect.
func (cc *conn) responseDone(call *Call) {
	c := cc.client
	cc.inBody = false
	if !call.discard && len(cc.body.Trailers) > 0 {
		var t []byte
		for _, f := range cc.body.Trailers {
			t = append(append(append(append(t, f.Name...), ": "...), f.Value...), '\n')
		}
		call.resp.trailer = t
	}
	cc.calls = slices.Delete(cc.calls, 0, 1)
	cc.served++
	call.conn = nil
	if call.paused && cc.nc.IsPaused() {
		cc.nc.ResumeRead() // pausing was the call's, not the connection's
	}
	switch {
	case c.closed || cc.closeAfter || c.cfg.DisableKeepAlives:
		cc.closedDone = true
		cc.shut()
	case len(cc.calls) == 0 && cc.writer == nil:
		cc.host.release(cc)
	}
	call.complete()
}

// complete ends a call whose response body ended: it follows the
// redirect, or finishes.
func (call *Call) complete() {
	if call.next != nil {
		call.redirect()
		return
	}
	call.finish(call.endErr)
}

// onClose handles the end of an open connection: a body read until the
// end of the connection is complete; the other calls it carried are
// retried on a new connection when they may be, or fail.
func (cc *conn) onClose(_ *evnet.Conn, reason error) {
	if cc.state == connDialing {
		cc.dialFailed(reason)
		return
	}
	if cc.state == connClosed {
		return
	}
	cc.state = connClosed
	cc.closing = true
	h, c := cc.host, cc.client
	h.removeConn(cc)
	calls := cc.calls
	cc.calls, cc.writer = nil, nil
	inBody := cc.inBody
	cc.inBody = false
	var retries []*Call
	for i, call := range calls {
		if call.state != callOnConn || call.conn != cc {
			continue
		}
		call.conn = nil
		if i == 0 && inBody && cc.abortErr == nil && errors.Is(reason, evnet.ErrEOF) && cc.body.EOF() == nil {
			cc.served++
			call.complete()
			continue
		}
		// A request pipelined behind a response after which the client
		// closed the connection, as that response said, was not read by
		// the server: sending it again does not use up its one retry.
		unread := cc.closedDone && errors.Is(reason, evnet.ErrLocalClose)
		switch {
		case cc.abortErr != nil:
			call.finish(cc.abortErr)
		case !call.gotBytes && call.reused && (!call.retried || unread) && call.req.replayable() && !c.closed:
			call.retried = call.retried || !unread
			c.stats.Retries++
			call.resetAttempt()
			call.state = callQueued
			retries = append(retries, call)
		default:
			call.finish(fmt.Errorf("%w: %w", ErrConnClosed, reason))
		}
	}
	if len(retries) > 0 {
		// At the front of the queue, in their order. The host may have
		// been forgotten meanwhile (and another made for its key).
		hh := c.hosts[h.key]
		if hh == nil {
			hh = h
			c.hosts[h.key] = h
		}
		for _, call := range retries {
			call.host = hh
		}
		hh.waiting = slices.Insert(hh.waiting, hh.wHead, retries...)
		if hh != h {
			hh.schedule()
		}
	}
	h.schedule()
}
