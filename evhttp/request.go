package evhttp

// The Request a handler sees: views of the parsed head, and the delivery
// of the request body to the handler (OnBody, ReadAll, PauseBody,
// ResumeBody).

import (
	"bytes"
	"io"
	"iter"
	"net/netip"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/evnet"
)

// Request is a request as the server received it. Its byte slices are
// views of the request head, valid until the exchange is over (see
// ResponseWriter.OnDone), and must be copied to be kept longer; comparing
// them (string(r.Method()) == "GET", a switch, a map lookup) costs no
// allocation. Its methods must be called on the loop's goroutine.
//
// The body is not read until the handler asks for it, with OnBody (as it
// arrives) or ReadAll (whole): until then the connection holds it back. A
// handler that ends the response without asking for the body has it read
// and dropped, if it is short, or the connection closed after the
// response otherwise.
type Request struct {
	x        *exchange
	h        h1.Request
	raw      []byte // the head's bytes, in the read buffer or in head
	head     []byte // the copy of a head that outlives the read buffer
	bodyFn   BodyFunc
	body     []byte // ReadAll's buffer
	received int64  // body bytes received
	dropFrom int64  // received when the body began to be dropped: the discard limit counts from it
	trailers h1.Headers
}

// keep copies the head out of the read buffer before OnData returns,
// and parses the copy again so that the views point into it.
func (r *Request) keep(ls *loopServer) {
	r.x.flags &^= xInBuffer
	r.head = append(r.head[:0], r.raw...)
	r.raw = r.head
	ls.reparse.Reset()
	if _, err := ls.reparse.ParseRequest(r.head, &r.h); err != nil {
		panic("evhttp: a head parsed once fails to parse again: " + err.Error())
	}
}

// Method returns the request method, as sent ("GET").
func (r *Request) Method() []byte { return r.h.Method }

// MethodString returns the request method as a string, which costs no
// allocation for the common methods (GET, HEAD, POST, PUT, DELETE, PATCH,
// OPTIONS, CONNECT) and one for any other: for a program that needs a
// string, such as a proxy filling an evclient.Request.
func (r *Request) MethodString() string { return methodString(r.h.Method) }

// Target returns the request-target, as sent: "/path?query" usually, an
// absolute URI for a request to a proxy, "*" for OPTIONS *, or
// host:port for CONNECT.
func (r *Request) Target() []byte { return r.h.Target }

// Path returns the path of the target, without the query and as sent
// (not percent-decoded): "/a%20b" for "/a%20b?x=1", and the path of an
// absolute URI.
func (r *Request) Path() []byte {
	t := r.h.Target
	switch r.h.Form {
	case h1.AbsoluteForm:
		if i := bytes.Index(t, []byte("://")); i >= 0 {
			t = t[i+3:]
			j := bytes.IndexAny(t, "/?")
			if j < 0 {
				return t[len(t):]
			}
			t = t[j:]
		}
	case h1.AuthorityForm, h1.AsteriskForm:
		return t
	}
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i]
	}
	return t
}

// RawQuery returns the query of the target, after "?", as sent; nil if
// there is none.
func (r *Request) RawQuery() []byte {
	if i := bytes.IndexByte(r.h.Target, '?'); i >= 0 {
		return r.h.Target[i+1:]
	}
	return nil
}

// ProtoMinor returns the minor HTTP version: 0 for HTTP/1.0, 1 for
// HTTP/1.1 (and any later 1.x).
func (r *Request) ProtoMinor() int { return r.h.Minor }

// Proto returns "HTTP/1.0" or "HTTP/1.1".
func (r *Request) Proto() string {
	if r.h.Minor == 0 {
		return "HTTP/1.0"
	}
	return "HTTP/1.1"
}

// Host returns the Host header's value (nil if there is none, which only
// HTTP/1.0 allows).
func (r *Request) Host() []byte { return r.h.Host }

// Header returns the value of the first header field named name (without
// regard to ASCII case), or nil.
func (r *Request) Header(name string) []byte { return r.h.Headers.Get(name) }

// HeaderValues returns the values of the header fields named name, in
// order.
func (r *Request) HeaderValues(name string) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		hs := r.h.Headers
		for i := hs.Index(name, 0); i >= 0; i = hs.Index(name, i+1) {
			if !yield(hs[i].Value) {
				return
			}
		}
	}
}

// Headers returns every header field, names and values as sent, in order.
func (r *Request) Headers() iter.Seq2[[]byte, []byte] {
	return func(yield func(name, value []byte) bool) {
		for _, h := range r.h.Headers {
			if !yield(h.Name, h.Value) {
				return
			}
		}
	}
}

// Upgrade returns the value of the Upgrade header field of an HTTP/1.1
// request whose Connection field lists "upgrade": the protocols the
// client offers to switch to ("websocket"), which ResponseWriter.Upgrade
// accepts. It is nil for any other request.
func (r *Request) Upgrade() []byte { return r.h.Upgrade }

// ContentLength returns the declared length of the body: 0 when there is
// none, -1 when it is chunked.
func (r *Request) ContentLength() int64 {
	if r.h.Chunked {
		return -1
	}
	return max(r.h.ContentLength, 0)
}

// HasBody reports whether the request has a body.
func (r *Request) HasBody() bool { return r.h.HasBody() }

// KeepAlive reports whether the client wants the connection kept open
// after this request (HTTP/1.1 without Connection: close, or HTTP/1.0
// with keep-alive).
func (r *Request) KeepAlive() bool { return !r.h.Close }

// Trailer returns the value of the first trailer field named name of a
// chunked body, or nil. Trailers are only available during the body
// callback that receives the end of the body.
func (r *Request) Trailer(name string) []byte { return r.trailers.Get(name) }

// RemoteAddr returns the client's address (the zero AddrPort on a Unix
// socket). The first call on a connection asks the kernel; the address is
// kept for the connection's next requests.
func (r *Request) RemoteAddr() netip.AddrPort { return r.x.hc.remoteAddr() }

// LocalAddr returns the address the request came to (the zero AddrPort
// on a Unix socket).
func (r *Request) LocalAddr() netip.AddrPort { return r.x.hc.c.LocalAddr() }

// Conn returns the connection the request came on.
func (r *Request) Conn() *evnet.Conn { return r.x.hc.c }

// Loop returns the loop the request is served on.
func (r *Request) Loop() *eddy.Loop { return r.x.hc.ls.loop }

// OnBody asks for the body as it arrives: fn is called with each piece,
// the last one with io.EOF (at once, with no bytes, for a request without
// a body), or with the error that stops the body (see BodyFunc). Asking
// for the body sends 100 Continue to a client that waits for it. The
// response stays open until End (OnBody implies Async). The calls come
// from the loop, after the handler has returned.
func (r *Request) OnBody(fn BodyFunc) { r.ask(fn, false) }

// ReadAll asks for the whole body: fn is called once, with the body and a
// nil error, when it has arrived, or with the error that stopped it. The
// body is gathered in a buffer the Request keeps for reuse, bounded by
// Server.MaxBodyBytes, unless it arrived in one piece, which is given as
// it lies in the read buffer. Like OnBody, it implies Async.
func (r *Request) ReadAll(fn BodyFunc) { r.ask(fn, true) }

func (r *Request) ask(fn BodyFunc, collect bool) {
	x := r.x
	if fn == nil || x.flags&(xAborted|xOverride) != 0 || r.bodyFn != nil {
		return
	}
	r.bodyFn = fn
	if x.flags&xEnded == 0 {
		x.flags |= xAsync
	}
	if collect {
		x.flags |= xCollect
	}
	x.expectContinue()
	hc := x.hc
	if x.flags&xBodyDone != 0 {
		if x.flags&xPopped == 0 {
			hc.eofDue(x)
		}
		return
	}
	hc.wake()
}

// PauseBody stops the body's delivery: the connection stops reading and
// the client is slowed down (backpressure) until ResumeBody.
func (r *Request) PauseBody() { r.x.flags |= xBodyPaused }

// ResumeBody resumes the body's delivery after PauseBody.
func (r *Request) ResumeBody() {
	x := r.x
	if x.flags&xBodyPaused == 0 {
		return
	}
	x.flags &^= xBodyPaused
	if x.flags&xAborted == 0 {
		x.hc.wake()
	}
}

// deliver gives the handler a piece of its body; done marks the last,
// with the trailers (if any).
func (r *Request) deliver(fn BodyFunc, p []byte, done bool, trailers h1.Headers) {
	x := r.x
	hc := x.hc
	if x.flags&xCollect != 0 {
		if !done {
			r.body = append(r.body, p...)
			return
		}
		body := p
		if len(r.body) > 0 {
			r.body = append(r.body, p...)
			body = r.body
		}
		r.trailers = trailers
		hc.call(x, func() { fn(&x.w, r, body, nil) })
		r.trailers = nil
		return
	}
	var err error
	if done {
		err = io.EOF
		r.trailers = trailers
	}
	hc.call(x, func() { fn(&x.w, r, p, err) })
	r.trailers = nil
}
