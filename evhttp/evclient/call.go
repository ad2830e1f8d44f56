package evclient

// A Call's life. Each request is a Call that lives from Do (or Stream)
// until its last callback:
//
//	state        where the call is                           what ends it
//	----------   ------------------------------------------  --------------------------------
//	queued       waiting for a connection to its host        an idle connection, a new one, a pipeline slot
//	dialling     bound to a connection being dialled         the connect (or its failure: the call fails)
//	sending      the head (and body) going onto the wire     the whole request handed to the connection
//	waiting      the request sent, no head yet               the final head (1xx skipped)
//	receiving    body bytes delivered or gathered            the end of the body
//	done         OnDone (or Do's callback) has run           -
//
// queued is callQueued, dialling callDialing, sending to receiving are
// callOnConn (the conn's writer while sending, calls[0] while receiving),
// done is callDone. A redirect goes back to queued with the next URL; a
// retry (a reused connection that failed before any byte of the response)
// goes back to queued once.
//
// Every deadline of a call (Timeout, HeaderTimeout, the expect-continue
// wait) is one timer, armed for the nearest (armTimer).

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/ascii"
)

// The states of a Call (see the table at the top of this file).
const (
	callQueued  uint8 = iota + 1 // in its host's queue
	callDialing                  // bound to a connection being dialled
	callOnConn                   // in a connection's calls: sending, waiting or receiving
	callDone                     // ended; no callback will run
)

// Call is one request in progress, from Do or Stream to its last
// callback: the handle to cancel it, pause the delivery of its response
// body, and write a streamed request body. Its methods must be called on
// the loop's goroutine.
type Call struct {
	timer  eddy.Timer // first: callTimer finds the call from it (checked below)
	client *Client
	req    Request   // the current hop, a copy of the program's
	u      parsedURL // req.URL, parsed
	h      Handler
	done   func(*Response, error)
	gather bool // Do: the body goes into resp.Body
	state  uint8
	host   *host
	conn   *conn // the connection carrying the call, or dialled for it
	resp   Response

	closeReq  bool // the request says "Connection: close"
	upgrade   bool // the request offers an upgrade (upgrade.go); a bool, not the offer: Call stays in its size class
	gotBytes  bool // a byte of a response arrived: no retry after that
	gotHead   bool // the final head arrived
	reused    bool // written on a reused connection, or behind another request
	retried   bool
	paused    bool
	discard   bool     // the body is not the program's: a redirect or an error follows it
	next      *Request // the redirect to follow at the end of the body
	endErr    error    // the error to end with at the end of the body
	redirects int

	// What checkRaw found in RawHeader: it may be copied whole
	// (appendHead), and it has a User-Agent, an Authorization.
	rawVerbatim, rawUA, rawAuth bool

	// The request body.
	headSent     bool   // the head is on the connection
	sent         bool   // the whole request is on the connection
	waitContinue bool   // the body waits for "100 Continue"
	abandoned    bool   // the server answered before the body was sent: it is dropped
	bodyClosed   bool   // CloseBody was called
	inWrite      bool   // OnWrite is running
	bodyOff      int    // bytes of req.Body written
	pend         []byte // streamed bytes written before the connection was ready
	written      int    // streamed bytes written, for OnWrite's progress

	wholeDL, headerDL, expectDL time.Time // zero: none
}

// callTimer is the timer callback of every call: one function for all.
// A method value (call.onTimer) would read better but costs an allocation
// per call, a third of the client's budget for a keep-alive GET
// (BenchmarkClientKeepAliveGet: 3 allocations a request instead of 2,
// measured when this was decided). So callTimer finds the call from its
// timer with a container-of cast, which is sound only while timer is the
// first field of Call.
func callTimer(t *eddy.Timer) { (*Call)(unsafe.Pointer(t)).onTimer() }

// The cast in callTimer relies on timer being at offset 0 of Call, and
// this declaration checks it at compile time: an array whose length is the
// field's offset is a [0]struct{} only when the offset is 0, so moving
// timer, or putting a field before it, fails the build here.
var _ [0]struct{} = [unsafe.Offsetof(Call{}.timer)]struct{}{}

// Client returns the call's Client.
func (call *Call) Client() *Client { return call.client }

// URL returns the URL being requested: the request's, or that of the
// redirect being followed. With Request.Target, it is the URL as given,
// whose path and query the Target replaces.
func (call *Call) URL() string { return call.req.URL }

// Response returns the final response once its head has arrived (it is
// the one OnResponse and Do's callback get), or nil before.
func (call *Call) Response() *Response {
	if !call.gotHead || call.discard {
		return nil
	}
	return &call.resp
}

// Cancel stops the call: it leaves its host's queue, or the connection
// carrying it is closed (the other requests pipelined on it are retried),
// and no callback of it runs again. It reports whether the call was still
// in progress; a nil Call gives false.
func (call *Call) Cancel() bool {
	if call == nil || call.state == callDone {
		return false
	}
	call.detach()
	call.state = callDone
	call.timer.Stop()
	return true
}

// PauseRead stops the delivery of the response body until ResumeRead: the
// connection stops reading, its kernel buffers fill and the server is slowed
// down. A call paused before its response arrives stops at the head.
func (call *Call) PauseRead() {
	if call.state == callDone || call.paused {
		return
	}
	call.paused = true
	if cc := call.conn; call.state == callOnConn && cc.front() == call {
		cc.nc.PauseRead()
	}
}

// ResumeRead resumes the delivery of the response body after PauseRead.
func (call *Call) ResumeRead() {
	if !call.paused {
		return
	}
	call.paused = false
	if cc := call.conn; call.state == callOnConn && cc.front() == call {
		cc.nc.ResumeRead()
	}
}

// IsPaused reports whether PauseRead is in force.
func (call *Call) IsPaused() bool { return call.paused }

// Write sends p as part of a streamed request body (as one chunk), or holds
// a copy of it until the request is on a connection; it never blocks. Full
// tells when to stop; OnWrite asks for more. Once the server has answered
// without waiting for the body, the bytes are dropped. Write returns
// ErrNotStreaming for a request without StreamBody,
// ErrBodyClosed after CloseBody, ErrDone after the call ended,
// and the connection's error if it failed (the call then ends with an
// error, possibly before Write returns).
func (call *Call) Write(p []byte) (int, error) {
	switch {
	case !call.req.StreamBody:
		return 0, ErrNotStreaming
	case call.state == callDone:
		return 0, ErrDone
	case call.bodyClosed:
		return 0, ErrBodyClosed
	case len(p) == 0:
		return 0, nil
	case call.abandoned:
		return len(p), nil
	}
	call.written += len(p)
	if cc := call.writing(); cc != nil {
		return cc.writeChunk(p)
	}
	call.pend = append(call.pend, p...)
	return len(p), nil
}

// Full reports whether a streamed body's producer should stop writing:
// the connection's output queue is over its high watermark (or, before the
// request is on a connection, that much is held). OnWrite runs when it
// may go on.
func (call *Call) Full() bool {
	if cc := call.writing(); cc != nil {
		return cc.nc.Full()
	}
	if call.state == callDone || call.abandoned {
		return false
	}
	hw := call.client.cfg.Conn.HighWater
	if hw <= 0 {
		hw = evnet.DefaultHighWater
	}
	return len(call.pend) > hw
}

// CloseBody ends a streamed request body: the last chunk is sent once what
// was written before is. It returns ErrNotStreaming for a request
// without StreamBody and ErrDone after the call ended; closing twice
// does nothing.
func (call *Call) CloseBody() error {
	switch {
	case !call.req.StreamBody:
		return ErrNotStreaming
	case call.state == callDone:
		return ErrDone
	case call.bodyClosed:
		return nil
	}
	call.bodyClosed = true
	if cc := call.writing(); cc != nil && !call.inWrite {
		cc.sendBody(call)
	}
	return nil
}

// writing returns the connection the call's body goes to now, or nil.
func (call *Call) writing() *conn {
	cc := call.conn
	if call.state != callOnConn || cc.writer != call || !call.headSent || call.waitContinue {
		return nil
	}
	return cc
}

// prepare checks the current hop's request and parses its URL.
func (call *Call) prepare() error {
	if call.u.host == "" { // else StreamCall kept it, parsed from the same URL
		u, err := parseURL(call.req.URL)
		if err != nil {
			return err
		}
		call.u = u
	}
	if m := call.req.method(); !h1.ValidFieldName(m) {
		return fmt.Errorf("%w: method %q", ErrRequest, m)
	}
	call.closeReq, call.upgrade = false, false
	call.rawVerbatim, call.rawUA, call.rawAuth = false, false, false
	// The Upgrade field, and whether Connection has the upgrade option.
	offer, connUpgrade := "", false
	for k, vs := range call.req.Header {
		if !h1.ValidFieldName(k) {
			return fmt.Errorf("%w: header field name %q", ErrRequest, k)
		}
		for _, v := range vs {
			if !h1.ValidFieldValue(v) {
				return fmt.Errorf("%w: value of header field %s", ErrRequest, k)
			}
		}
		switch {
		case len(vs) == 0:
		case ascii.EqualFold(k, "Expect"):
			if ascii.EqualFold(vs[0], "100-continue") {
				call.req.ExpectContinue = true
			}
		case ascii.EqualFold(k, "Connection"):
			for _, v := range vs {
				b := []byte(v) // on the stack: HasToken keeps nothing
				call.closeReq = call.closeReq || h1.HasToken(b, "close")
				connUpgrade = connUpgrade || h1.HasToken(b, "upgrade")
			}
		case ascii.EqualFold(k, "Upgrade"):
			offer = strings.Join(vs, ", ") // vs[0] itself when alone
		}
	}
	if h := call.req.Host; h != "" && !h1.ValidFieldValue(h) || strings.ContainsAny(call.req.Host, " \t") {
		return fmt.Errorf("%w: Host %q", ErrRequest, call.req.Host)
	}
	if call.req.RawHeader != nil {
		rawOffer, err := call.checkRaw(&connUpgrade)
		if err != nil {
			return err
		}
		switch {
		case offer == "":
			offer = rawOffer
		case rawOffer != "":
			offer += ", " + rawOffer
		}
	}
	if call.req.Target != nil {
		if err := call.checkTarget(); err != nil {
			return err
		}
	}
	return call.checkUpgrade(offer, connUpgrade)
}

// pipelinable reports whether the call may be pipelined.
func (call *Call) pipelinable() bool {
	return call.req.replayable() && !call.req.ExpectContinue && !call.closeReq && !call.upgrade
}

// enqueue puts the call at the end of its host's queue and lets the host
// schedule it.
func (call *Call) enqueue() {
	c := call.client
	h := c.hosts[call.u.key]
	if h == nil {
		h = &host{client: c, key: call.u.key}
		c.hosts[call.u.key] = h
	}
	call.host = h
	call.conn = nil
	call.state = callQueued
	h.push(call)
	h.schedule()
}

// resetAttempt forgets what one attempt of the request did, before a
// retry or a redirect.
func (call *Call) resetAttempt() {
	call.gotBytes, call.gotHead, call.reused, call.paused = false, false, false, false
	call.discard, call.next, call.endErr = false, nil, nil
	call.headSent, call.sent, call.waitContinue, call.abandoned = false, false, false, false
	call.bodyOff = 0
	call.headerDL, call.expectDL = time.Time{}, time.Time{}
	call.resp = Response{head: call.resp.head[:0]} // no head was given out: its buffer is free
	call.armTimer()
}

// redirect follows call.next.
func (call *Call) redirect() {
	call.client.stats.Redirects++
	call.redirects++
	call.req = *call.next
	call.u = parsedURL{}
	call.retried = false
	call.resetAttempt()
	if err := call.prepare(); err != nil {
		call.finish(err)
		return
	}
	call.enqueue()
}

// detach takes the call out of its queue or connection. A connection
// carrying it is closed at once: the state of its response is unknown.
func (call *Call) detach() {
	switch call.state {
	case callQueued:
		call.host.remove(call)
		call.host.maybeDrop()
	case callDialing:
		call.conn.dialFor = nil
	case callOnConn:
		cc := call.conn
		cc.detach(call)
		cc.abort(nil)
	}
	call.conn = nil
}

// fail ends the call with err, wherever it is.
func (call *Call) fail(err error) {
	if call.state == callDone {
		return
	}
	call.detach()
	call.finish(err)
}

// finish ends the call and runs its last callback.
func (call *Call) finish(err error) {
	if call.state == callDone {
		return
	}
	call.state = callDone
	call.conn = nil
	call.timer.Stop()
	call.pend = nil
	if err != nil {
		var ce *Error
		if !errors.As(err, &ce) {
			err = &Error{Method: call.req.method(), URL: call.url(), Err: err}
		}
	}
	if call.gather {
		if call.done == nil {
			return
		}
		if err != nil {
			call.done(nil, err)
		} else {
			call.done(&call.resp, nil)
		}
		return
	}
	if call.h.OnDone != nil {
		call.h.OnDone(call, err)
	}
}

// armTimer sets the call's timer to its nearest deadline.
func (call *Call) armTimer() {
	var dl time.Time
	for _, d := range [...]time.Time{call.wholeDL, call.headerDL, call.expectDL} {
		if !d.IsZero() && (dl.IsZero() || d.Before(dl)) {
			dl = d
		}
	}
	call.timer.Stop()
	if dl.IsZero() || call.state == callDone {
		return
	}
	l := call.client.loop
	call.timer.Set(max(dl.Sub(l.Now()), 0), 0)
	call.timer.Start(l)
}

// onTimer handles the deadline that came.
func (call *Call) onTimer() {
	now := call.client.loop.Now()
	due := func(d time.Time) bool { return !d.IsZero() && !now.Before(d) }
	switch {
	case due(call.wholeDL):
		call.fail(fmt.Errorf("%w (after %v)", ErrTimeout, call.client.cfg.Timeout))
		return
	case due(call.headerDL):
		call.fail(fmt.Errorf("%w (after %v)", ErrHeaderTimeout, call.client.cfg.HeaderTimeout))
		return
	case due(call.expectDL):
		// No "100 Continue" in time: send the body anyway, as net/http.
		call.expectDL = time.Time{}
		call.waitContinue = false
		if cc := call.conn; call.state == callOnConn && cc.writer == call {
			cc.sendBody(call)
		}
	}
	if call.state != callDone {
		call.armTimer()
	}
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
