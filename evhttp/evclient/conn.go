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
)

// The states of a clConn.
const (
	clConnDialing uint8 = iota + 1
	clOpen
	clClosed
)

const (
	// clInlineBody is the largest body (or chunk) copied behind its head
	// (or chunk header) so that both leave in one write.
	clInlineBody = 16 << 10
	// clBodyPiece is the most of a request body written at once; the rest
	// waits for OnDrain once the connection is Full.
	clBodyPiece = 256 << 10
	// clKeepBuf is the largest write buffer a connection keeps between
	// requests.
	clKeepBuf = 64 << 10
	// clMaxPrealloc is the most of a body of known length that Do
	// allocates before its bytes arrive.
	clMaxPrealloc = 4 << 20
)

var clCRLF = []byte("\r\n")

// clConn is one connection of a host's pool. It carries calls in order:
// calls[0] is the one whose response is being read, writer the one whose
// request is being written (the last one, with pipelining). It reuses one
// parser, response, body decoder and write buffer for all its requests.
// Loop goroutine only.
type clConn struct {
	client *Client
	host   *clHost
	conn   *evnet.Conn // nil while a DialFunc dials
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
	idlePrev, idleNext *clConn
}

// dial starts a new connection for call.
func (h *clHost) dial(call *Call) {
	c := h.client
	cc := &clConn{client: c, host: h, state: clConnDialing, dialFor: call, addr: call.u.dialAddr()}
	cc.parser.Limits = &c.limits
	cc.body.Limits = c.limits
	h.conns++
	h.open = append(h.open, cc)
	c.stats.Dials++
	call.state = clDialing
	call.conn = cc
	hd := evnet.Handler{OnOpen: cc.onOpen, OnData: cc.onData, OnDrain: cc.onDrain, OnClose: cc.onClose}
	timeout := max(c.cfg.ConnectTimeout, 0)
	if timeout > 0 {
		cc.dialTimer.Init(cc.onDialTimeout, timeout, 0)
		cc.dialTimer.Start(c.loop)
	}
	if call.u.ip.IsValid() {
		conn, err := evnet.Dialer{Conn: c.cfg.Conn}.Dial(c.loop, "tcp", cc.addr, hd)
		if err != nil {
			cc.dialFailed(err)
			return
		}
		cc.conn = conn
		return
	}
	cc.hookDial = true
	cancel := c.dial(cc.addr, timeout, hd, cc.dialed)
	if cc.hookDial {
		cc.cancelDial = cancel
	}
}

// dialed is the DialFunc's done callback.
func (cc *clConn) dialed(conn *evnet.Conn, err error) {
	cc.hookDial, cc.cancelDial = false, nil
	if err != nil {
		cc.dialFailed(err)
		return
	}
	cc.conn = conn // OnOpen follows
}

func (cc *clConn) onDialTimeout(*eddy.Timer) {
	if cc.state != clConnDialing {
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
	cc.conn.Abort() // OnClose, without OnOpen: dialFailed
}

// dialFailed ends a dial that did not connect.
func (cc *clConn) dialFailed(err error) {
	if cc.state == clClosed {
		return
	}
	cc.state = clClosed
	cc.dialTimer.Stop()
	cc.hookDial, cc.cancelDial = false, nil
	h, c := cc.host, cc.client
	h.removeConn(cc)
	c.stats.DialErrors++
	if call := cc.dialFor; call != nil && call.state == clDialing && call.conn == cc {
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

func (cc *clConn) onOpen(conn *evnet.Conn) {
	cc.conn = conn
	cc.dialTimer.Stop()
	cc.state = clOpen
	call := cc.dialFor
	cc.dialFor = nil
	if call != nil && call.state == clDialing && call.conn == cc && !cc.client.closed {
		cc.startCall(call)
		return
	}
	cc.host.release(cc)
}

// front returns the call whose response is being read, or nil.
func (cc *clConn) front() *Call {
	if len(cc.calls) == 0 {
		return nil
	}
	return cc.calls[0]
}

// detach takes a call off the connection (which is then aborted).
func (cc *clConn) detach(call *Call) {
	if i := slices.Index(cc.calls, call); i >= 0 {
		cc.calls = slices.Delete(cc.calls, i, i+1)
	}
	if cc.writer == call {
		cc.writer = nil
	}
}

// abort closes the connection at once (a reset); err, if not nil, is
// what its calls fail with, instead of being retried.
func (cc *clConn) abort(err error) {
	if cc.closing || cc.state == clClosed {
		return
	}
	cc.closing = true
	if err != nil {
		cc.abortErr = err
	}
	cc.host.unidle(cc)
	if cc.conn == nil { // a DialFunc is dialling
		if cancel := cc.cancelDial; cancel != nil {
			cc.hookDial, cc.cancelDial = false, nil
			cancel()
		}
		cc.dialFailed(ErrClosed)
		return
	}
	cc.conn.Abort()
}

// shut closes the connection gracefully.
func (cc *clConn) shut() {
	if cc.closing || cc.state == clClosed {
		return
	}
	cc.closing = true
	cc.host.unidle(cc)
	cc.conn.Close()
}

// startCall writes call's request on the connection.
func (cc *clConn) startCall(call *Call) {
	c := cc.client
	call.state = clOnConn
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
	if body := call.req.Body; !call.req.StreamBody && !expect && len(body) <= clInlineBody {
		cc.wbuf = append(cc.wbuf, body...)
		call.bodyOff = len(body)
	}
	call.headSent = true
	_, err := cc.conn.Write(cc.wbuf)
	if cap(cc.wbuf) > clKeepBuf {
		cc.wbuf = nil
	}
	if err != nil || call.state != clOnConn || call.conn != cc {
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
func (cc *clConn) appendHead(b []byte, call *Call, expect bool) []byte {
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
		case strings.EqualFold(k, "Host"), strings.EqualFold(k, "Content-Length"),
			strings.EqualFold(k, "Transfer-Encoding"), strings.EqualFold(k, "Trailer"),
			strings.EqualFold(k, "Expect"):
			continue
		case strings.EqualFold(k, "User-Agent"):
			hasUA, ua = true, true
		case strings.EqualFold(k, "Authorization"):
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
	return append(b, clCRLF...)
}

// sendBody writes as much of call's body as the connection takes, and
// ends the request when it is all written.
func (cc *clConn) sendBody(call *Call) {
	for cc.writer == call && call.state == clOnConn && !cc.closing {
		if !call.req.StreamBody {
			body := call.req.Body
			if call.bodyOff >= len(body) {
				cc.bodyDone(call)
				return
			}
			if cc.conn.Full() {
				return // OnDrain goes on
			}
			n := min(len(body)-call.bodyOff, clBodyPiece)
			if _, err := cc.conn.Write(body[call.bodyOff : call.bodyOff+n]); err != nil {
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
			if _, err := cc.conn.Write(cc.wbuf); err != nil {
				return
			}
			cc.bodyDone(call)
			return
		}
		if cc.conn.Full() || call.inWrite || call.h.OnWrite == nil {
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
func (cc *clConn) writeChunk(p []byte) (int, error) {
	cc.wbuf = h1.AppendChunkHeader(cc.wbuf[:0], len(p))
	if len(p) <= clInlineBody {
		cc.wbuf = append(append(cc.wbuf, p...), clCRLF...)
		if _, err := cc.conn.Write(cc.wbuf); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	for _, b := range [...][]byte{cc.wbuf, p, clCRLF} {
		if _, err := cc.conn.Write(b); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// bodyDone ends the writing of call's request.
func (cc *clConn) bodyDone(call *Call) {
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

func (cc *clConn) onDrain(*evnet.Conn) {
	if w := cc.writer; w != nil && w.headSent && !w.waitContinue {
		cc.sendBody(w)
	}
}

// onData reads responses: heads, then bodies, for the calls in order.
func (cc *clConn) onData(conn *evnet.Conn, p []byte) int {
	used := 0
	for {
		if cc.closing || cc.state != clOpen {
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
				conn.PauseRead()
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
			conn.PauseRead()
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

// clIsRedirect reports whether a status is a redirect the client follows.
func clIsRedirect(status int) bool {
	switch status {
	case 301, 302, 303, 307, 308:
		return true
	}
	return false
}

// onHead handles a response head of call.
func (cc *clConn) onHead(call *Call, head []byte) {
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
	if clIsRedirect(r.Status) && c.cfg.MaxRedirects >= 0 {
		next, follow, err := clRedirect(&call.req, r.Status, string(r.Headers.Get("Location")))
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
		// clMaxPrealloc: a server's claim alone does not get more memory).
		buf := make([]byte, len(head), len(head)+int(min(cl, clMaxPrealloc)))
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
func (cc *clConn) deliver(call *Call, p []byte) {
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
func (cc *clConn) responseDone(call *Call) {
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
	if call.paused && cc.conn.IsPaused() {
		cc.conn.ResumeRead() // pausing was the call's, not the connection's
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
func (cc *clConn) onClose(conn *evnet.Conn, reason error) {
	if cc.state == clConnDialing {
		cc.dialFailed(reason)
		return
	}
	if cc.state == clClosed {
		return
	}
	cc.state = clClosed
	cc.closing = true
	h, c := cc.host, cc.client
	h.removeConn(cc)
	calls := cc.calls
	cc.calls, cc.writer = nil, nil
	inBody := cc.inBody
	cc.inBody = false
	var retries []*Call
	for i, call := range calls {
		if call.state != clOnConn || call.conn != cc {
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
			call.state = clQueued
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
