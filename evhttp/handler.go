package evhttp

// What a Server calls and reports: the Handler interface and the
// callbacks' types, the states of a connection, and the package's errors.

import (
	"errors"
	"time"
)

// Handler answers the requests of a Server. ServeHTTP1 runs on the loop's
// goroutine, once per request, in the order the requests arrived on their
// connection; it must not block. It answers through w: when it returns,
// the response is ended (as if by w.End) unless it called w.Async,
// r.OnBody or r.ReadAll, in which case the response stays open until the
// program calls w.End, from a later callback of the loop (a timer, a
// body callback, a function given to Loop.Post).
//
// w and r belong to the server and are reused for later requests once the
// exchange is over (see ResponseWriter.OnDone): a handler that keeps them
// past that point corrupts another request. The byte slices r returns are
// valid while the exchange lasts.
type Handler interface {
	ServeHTTP1(w *ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to the Handler interface. A function
// literal that captures nothing costs no allocation.
type HandlerFunc func(w *ResponseWriter, r *Request)

// ServeHTTP1 calls f(w, r).
func (f HandlerFunc) ServeHTTP1(w *ResponseWriter, r *Request) { f(w, r) }

// BodyFunc receives a request body (see Request.OnBody and
// Request.ReadAll). p is only valid during the call: it points into the
// connection's read buffer. For OnBody, err is nil while more is to come,
// io.EOF with the last piece (which may be empty), and any other error
// when the body cannot be read to its end (too large, malformed, timed out,
// or the connection closed): the exchange is then over, and writes to w
// fail. For ReadAll, err is nil and p the whole body, or err is the
// error and p nil.
type BodyFunc func(w *ResponseWriter, r *Request, p []byte, err error)

// AccessLogFunc is called once per request when its exchange is over,
// with the request (still valid during the call), the status sent (0 if
// no response head was sent, as when the client went away first), the
// number of body bytes the handler wrote, and the time from the request's
// head being parsed to the end of the exchange.
type AccessLogFunc func(r *Request, status int, bytes int64, elapsed time.Duration)

// ConnState is the state of a server connection, reported to
// Server.ConnState on every change. Its values follow net/http's.
type ConnState uint8

const (
	// StateNew is a connection just accepted: no request has started yet.
	// It becomes Active when the first request head is complete, or
	// Closed (the header timeout, Shutdown, the client leaving).
	StateNew ConnState = iota
	// StateActive is a connection with a request in progress: a head
	// being received after the first request, a handler at work, a body
	// being read, or a response being written. It becomes Idle when every
	// request is answered and no byte of a next one has arrived, or
	// Closed.
	StateActive
	// StateIdle is a keep-alive connection between requests. It becomes
	// Active when bytes of the next request arrive, or Closed (the idle
	// timeout, Shutdown, which closes idle connections at once, the client
	// leaving).
	StateIdle
	// StateClosed is a closed connection; it is the last state.
	StateClosed
	// StateHijacked is a connection that left HTTP: upgraded (Upgrade)
	// or hijacked (an adapted handler's http.Hijacker). It is the last
	// state, as in net/http: no StateClosed follows, since the socket is
	// no longer the server's to report on.
	StateHijacked
)

// String returns the name of the state: "new", "active", "idle",
// "closed", "hijacked".
func (s ConnState) String() string {
	switch s {
	case StateNew:
		return "new"
	case StateActive:
		return "active"
	case StateIdle:
		return "idle"
	case StateClosed:
		return "closed"
	case StateHijacked:
		return "hijacked"
	}
	return "invalid"
}

// The errors of the server side. A body callback or OnDone is given one
// of these, or the evnet reason the connection closed (evnet.ErrEOF,
// evnet.ErrReset, evnet.ErrTimeout, ...).
var (
	// ErrServerClosed is returned by Serve and ServeGroup once Shutdown or
	// Close has been called.
	ErrServerClosed = errors.New("evhttp: server closed")
	// ErrEnded is returned by the methods of a ResponseWriter whose
	// response has ended.
	ErrEnded = errors.New("evhttp: response already ended")
	// ErrBodyNotAllowed is returned by Write for a response that has no
	// body: a 1xx, 204 or 304 status.
	ErrBodyNotAllowed = errors.New("evhttp: response status does not allow a body")
	// ErrContentLength is returned by Write when the body would grow
	// past the declared Content-Length; the bytes beyond it are dropped.
	ErrContentLength = errors.New("evhttp: wrote more than the declared Content-Length")
	// ErrBodyTooLarge reports a request body longer than
	// Server.MaxBodyBytes. The server answers 413 and closes.
	ErrBodyTooLarge = errors.New("evhttp: request body too large")
	// ErrBodyMalformed reports a request body whose chunked framing is
	// broken. The server answers 400 and closes. The parser's error is
	// wrapped too.
	ErrBodyMalformed = errors.New("evhttp: malformed request body")
	// ErrBodyTruncated reports a connection that ended inside a request
	// body.
	ErrBodyTruncated = errors.New("evhttp: connection ended inside the request body")
	// ErrBodyTimeout reports a request body that stopped arriving for
	// Server.BodyTimeout. The server answers 408 and closes.
	ErrBodyTimeout = errors.New("evhttp: request body timed out")
	// ErrHandlerPanic reports a handler (or one of its callbacks) that
	// panicked: the server logged the panic, answered 500 if it still
	// could, and closes the connection.
	ErrHandlerPanic = errors.New("evhttp: handler panicked")
	// ErrConnClosing reports an exchange dropped because an earlier
	// response on its connection closes the connection (Connection: close,
	// an error, a handler panic): its request was pipelined behind it and
	// is never answered, as RFC 9112 §9.6 says.
	ErrConnClosing = errors.New("evhttp: connection closing before this request could be answered")
)

// notFound answers 404 for a Server without a Handler.
var notFound = HandlerFunc(func(w *ResponseWriter, r *Request) {
	w.WriteHeader(404)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteString("404 Not Found\n")
})
