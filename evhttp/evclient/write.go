package evclient

import (
	"encoding/base64"
	"strings"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/ascii"
)

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
	if req.Target != nil {
		b = append(append(b, m...), ' ')
		b = append(append(b, req.Target...), " HTTP/1.1\r\n"...)
	} else {
		b = h1.AppendRequestLine(b, m, call.u.target, 1)
	}
	var hasUA, hasAuth bool
	if call.rawVerbatim && len(req.Header) == 0 {
		// RawHeader starts with the Host field and holds only lines that
		// appendFields would write as they are: one copy does it.
		b = append(b, req.RawHeader...)
		hasUA, hasAuth = call.rawUA, call.rawAuth
	} else {
		b, hasUA, hasAuth = call.appendFields(b)
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
	if c.cfg.DisableKeepAlives && !call.closeReq && !call.upgrade {
		b = h1.AppendHeader(b, "Connection", "close")
	}
	return append(b, crlf...)
}

// appendFields appends the Host field and those of Header and RawHeader
// that the client sends, and reports whether they hold a User-Agent and an
// Authorization.
func (call *Call) appendFields(b []byte) (_ []byte, hasUA, hasAuth bool) {
	req := &call.req
	if host := rawHost(req.RawHeader); host != nil {
		b = h1.AppendHeader(b, "Host", host)
	} else if req.Host != "" {
		b = h1.AppendHeader(b, "Host", req.Host)
	} else {
		b = h1.AppendHeader(b, "Host", call.u.authority)
	}
	for k, vs := range req.Header {
		skip, ua, auth := clientField(k)
		if skip {
			continue
		}
		hasUA, hasAuth = hasUA || ua, hasAuth || auth
		for _, v := range vs {
			if ua && v == "" {
				continue
			}
			b = h1.AppendHeader(b, k, v)
		}
	}
	for raw := req.RawHeader; len(raw) > 0; {
		name, value, rest, ok := splitRaw(raw) // checked by prepare
		if !ok {
			break
		}
		raw = rest
		skip, ua, auth := clientField(name)
		if skip {
			continue
		}
		hasUA, hasAuth = hasUA || ua, hasAuth || auth
		if !ua || len(value) > 0 {
			b = h1.AppendHeader(b, name, value)
		}
	}
	return b, hasUA, hasAuth
}

// clientField tells how appendHead treats a field of the program's:
// skip for those the client writes itself (Host, framing, Expect), ua for
// User-Agent, auth for Authorization.
func clientField[T string | []byte](name T) (skip, ua, auth bool) {
	switch {
	case ascii.EqualFold(name, "Host"), ascii.EqualFold(name, "Content-Length"),
		ascii.EqualFold(name, "Transfer-Encoding"), ascii.EqualFold(name, "Trailer"),
		ascii.EqualFold(name, "Expect"):
		return true, false, false
	case ascii.EqualFold(name, "User-Agent"):
		return false, true, false
	case ascii.EqualFold(name, "Authorization"):
		return false, false, true
	}
	return false, false, false
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
