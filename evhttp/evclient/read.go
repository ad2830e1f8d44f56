package evclient

import (
	"fmt"
	"slices"
	"time"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

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
			if cc.upgraded {
				return used // the rest is the new protocol's: evnet gives it to its handler
			}
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

// onHead handles a response head of call.
func (cc *conn) onHead(call *Call, head []byte) {
	c := cc.client
	r := &cc.resp
	if r.Status < 200 {
		switch {
		case r.Status == 101:
			cc.switchProtocols(call, head)
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
		next, follow, err := nextHop(&call.req, call.url(), r.Status, string(r.Headers.Get("Location")))
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
	resp.head = append(resp.head[:0], head...) // a new buffer but for a Call reused by StreamCall
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
