package evclient

import (
	"net/http"

	"github.com/eddyloop/eddy/evnet"
)

// Request is a request to send with Client.Do or Client.Stream.
type Request struct {
	// Method is the request method; "" means GET.
	Method string
	// URL is the absolute http URL to request: "http://host[:port]/path?query".
	// Userinfo in it becomes basic authentication; a fragment is dropped.
	URL string
	// Header holds the header fields to send. Host, Content-Length,
	// Transfer-Encoding and Trailer are set by the client and ignored here;
	// "Connection: close" is honoured; User-Agent overrides
	// Config.UserAgent (an empty one sends none).
	//
	// "Connection: Upgrade" with an Upgrade field ("Upgrade: websocket")
	// makes an upgrade request, which asks the server to switch the
	// connection to one of the protocols named (RFC 9110 §7.8). It must
	// be sent with Client.Stream and a Handler with OnUpgrade, which gets
	// the connection after a 101 Switching Protocols (Do, or a Handler
	// without OnUpgrade, fail at once with ErrRequest, as does one of the
	// two fields without the other). It is never pipelined, nor is
	// anything written behind it on its connection. It is retried and
	// redirected as any request: a retry happens only when no byte of a
	// response came, so no server switched for it, and a redirect keeps
	// the two fields, so that the switch may come from the last hop.
	Header http.Header
	// RawHeader holds more header fields, as field lines ("Name: value",
	// each ended by CR LF or LF), for a program that has them as bytes,
	// such as a proxy: building them costs no allocation where an
	// http.Header costs one or two per field. They are sent after those
	// of Header, in their order, under Header's rules (Content-Length,
	// Transfer-Encoding, Trailer and Expect are not sent, "Expect:
	// 100-continue" sets ExpectContinue, Connection and Upgrade are
	// honoured, an empty User-Agent sends none), but for Host: a Host
	// field here is the Host sent, instead of the Host below or the
	// URL's. The client checks the lines before anything is sent: one that
	// is not a field line (empty, without a colon, a name that is not a
	// token, a value with a control character), an obs-fold line
	// (starting with a space or a tab) and a second Host field fail the
	// request with ErrRequest. The client reads RawHeader when it writes
	// the request, which may be after Do or Stream returned, and again for
	// a retry: its bytes must not change until the call ends. A redirect
	// moves its fields into the next hop's Header. Lines that begin with
	// the Host field and are each exactly "Name: value" CR LF (one space,
	// none after the value), none of them a field the client leaves out,
	// are copied into the request whole when Header is empty: the
	// cheapest form.
	RawHeader []byte
	// Target, if not nil, is the request target sent instead of the URL's
	// path and query: "/path?query" (origin form; a fragment is cut, and
	// the bytes a target cannot hold are percent-encoded, as in a URL),
	// for a program that has it as bytes. The URL then gives the scheme,
	// the host and the port only. Errors and redirects name the URL with
	// the Target in place of its path and query; Response.URL and
	// Call.URL are the URL as given. As RawHeader, its bytes must not
	// change until the call ends.
	Target []byte
	// Host, if set, is sent as the Host header instead of the URL's host.
	Host string
	// Body is the request body, sent with Content-Length. POST, PUT and
	// PATCH without a body send "Content-Length: 0".
	Body []byte
	// StreamBody makes the body streamed, with the chunked transfer coding:
	// the program writes it with Call.Write, pacing itself with
	// Call.Full and Handler.OnWrite, and ends it with
	// Call.CloseBody. Body is ignored then. A streamed body cannot
	// be sent twice, so such a request is neither retried nor pipelined,
	// and a 307 or 308 answer to it is delivered rather than followed.
	StreamBody bool
	// ExpectContinue sends "Expect: 100-continue" and holds the body back
	// until the server answers "100 Continue", or for
	// Config.ExpectContinueTimeout. A final answer that comes
	// first is delivered, and the body is never sent.
	ExpectContinue bool
}

func (r *Request) method() string {
	if r.Method == "" {
		return "GET"
	}
	return r.Method
}

// idempotent reports whether the request may be sent twice (RFC 9110
// §9.2.2; an Idempotency-Key header counts, as in net/http).
func (r *Request) idempotent() bool {
	switch r.method() {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	if r.Header != nil {
		if _, ok := r.Header["Idempotency-Key"]; ok {
			return true
		}
		if _, ok := r.Header["X-Idempotency-Key"]; ok {
			return true
		}
	}
	return rawIdempotencyKey(r.RawHeader)
}

// replayable reports whether the request can be sent again: idempotent,
// with no body or a body given as bytes.
func (r *Request) replayable() bool { return r.idempotent() && !r.StreamBody }

// Handler holds the callbacks of Client.Stream. Every field may be
// nil, but OnUpgrade for an upgrade request. They run on the loop's goroutine, in this order:
//
//	callback     when                                                 how often
//	----------   --------------------------------------------------   -----------------
//	OnWrite      a streamed body can be written (head sent, or the     zero or more times
//	             connection drained after Full)
//	OnResponse   the head of the final response arrived               at most once
//	OnBody       a piece of the body arrived                          zero or more times
//	OnUpgrade    a 101 switched protocols (upgrade requests only)     at most once, instead of
//	                                                                  OnResponse and OnBody
//	OnDone       the body is complete (nil) or the request failed     exactly once, last
//
// OnWrite may still run after OnResponse when the server answers before
// the body is sent. A canceled call gets no further callback.
type Handler struct {
	// OnWrite asks for more of a streamed request body (see
	// Request.StreamBody): it runs when the request head is on the
	// connection (after "100 Continue" with ExpectContinue), and again
	// each time the connection's output queue drains after Full. It
	// writes with call.Write until call.Full reports true, or ends the
	// body with call.CloseBody; it may also write nothing and let the
	// program write later, from any callback on the loop.
	OnWrite func(call *Call)
	// OnResponse runs with the head of the final response. The
	// Response stays valid after the call ends.
	OnResponse func(call *Call, resp *Response)
	// OnBody receives a piece of the response body. p is only valid during
	// the call (it is the connection's read buffer): copy what must be
	// kept. call.PauseRead stops the delivery (backpressure: the
	// server is slowed down) until call.ResumeRead.
	OnBody func(call *Call, p []byte)
	// OnUpgrade runs when a 101 Switching Protocols answers an upgrade
	// request (see Request.Header), with the 101's head and the
	// connection, which from then on is the program's, not the client's:
	// it has left its host's pool (Stats.Open no longer counts it; Close
	// and CloseIdle do not touch it), it has no timeout, and the call is
	// over (OnDone follows, with nil). OnUpgrade gives the connection to
	// the new protocol with nc.SetHandler; that handler's OnData first gets
	// the bytes the server sent after the 101 (read already, with the
	// head), then what comes next. Until the program sets a handler, the
	// input is kept (up to Config.Conn.MaxBuffered) and a close is not
	// reported (nc.Err tells, for a handler set later, outside
	// OnUpgrade). OnUpgrade may also close nc, if the handshake fails in the
	// new protocol's terms. The new protocol speaks first by writing to
	// nc in OnUpgrade: SetHandler does not call OnOpen.
	//
	// The 101 must name in its Upgrade field only protocols the request
	// offered, and come after the whole request was sent; otherwise the
	// call fails with ErrUpgrade and the connection is closed. A server
	// that ignores the upgrade answers as usual: OnResponse, OnBody, and
	// the connection stays in the pool.
	OnUpgrade func(call *Call, resp *Response, nc *evnet.Conn)
	// OnDone runs exactly once when the call ends: with nil after the whole
	// body was delivered (or the connection handed over by OnUpgrade), or
	// with a *Error.
	OnDone func(call *Call, err error)
}
