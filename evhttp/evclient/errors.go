package evclient

import (
	"errors"
	"strings"
)

// The errors of the client. The error given to a callback is a
// *Error that names the request and wraps one of these (and the
// cause beneath, such as an evnet or h1 error or an errno), so test them
// with errors.Is.
var (
	// ErrClosed means the Client was closed: the request was
	// stopped, or made after Close.
	ErrClosed = errors.New("evclient: client closed")
	// ErrURL means the URL is not an absolute http or https URL the
	// client can use.
	ErrURL = errors.New("evclient: invalid URL")
	// ErrScheme means the URL has a scheme other than http and https.
	ErrScheme = errors.New("evclient: unsupported URL scheme")
	// ErrRequest means the request itself is invalid: a method that
	// is not a token, a header field name that is not a token, a value
	// with control characters, or an upgrade request that cannot work
	// (half of one, or one sent with Do or without Handler.OnUpgrade).
	ErrRequest = errors.New("evclient: invalid request")
	// ErrConnect means the connection could not be made; the
	// cause (refused, unreachable, a DNS error) is wrapped too.
	ErrConnect = errors.New("evclient: could not connect")
	// ErrConnectTimeout means the connection was not made within
	// Config.ConnectTimeout.
	ErrConnectTimeout = errors.New("evclient: connect timed out")
	// ErrHeaderTimeout means the response head did not arrive
	// within Config.HeaderTimeout of the request being sent.
	ErrHeaderTimeout = errors.New("evclient: timed out waiting for the response head")
	// ErrTimeout means the whole request (redirects included) took
	// longer than Config.Timeout.
	ErrTimeout = errors.New("evclient: request timed out")
	// ErrConnClosed means the connection closed (or failed) before
	// the response was complete; the evnet reason is wrapped too.
	ErrConnClosed = errors.New("evclient: connection closed before the response was complete")
	// ErrMalformed means the response could not be parsed; the h1
	// error is wrapped too. The connection is closed.
	ErrMalformed = errors.New("evclient: malformed response")
	// ErrBodyTooLarge means a body gathered by Do grew past
	// Config.MaxBodyBytes.
	ErrBodyTooLarge = errors.New("evclient: response body larger than MaxBodyBytes")
	// ErrTooManyRedirects means the redirects went on past
	// Config.MaxRedirects.
	ErrTooManyRedirects = errors.New("evclient: too many redirects")
	// ErrRedirect means a redirect's Location could not be used.
	ErrRedirect = errors.New("evclient: bad redirect")
	// ErrUpgrade means a 101 Switching Protocols answered an upgrade
	// request in a way the client cannot hand over: to a protocol the
	// request did not offer, or before the whole request was sent. (A 101
	// to a request that offered no upgrade is ErrMalformed.) The
	// connection is closed.
	ErrUpgrade = errors.New("evclient: bad protocol switch")
	// ErrBodyClosed is returned by Call.Write after CloseBody.
	ErrBodyClosed = errors.New("evclient: write after the request body was closed")
	// ErrNotStreaming is returned by Call.Write and CloseBody
	// for a request whose Request.StreamBody is false.
	ErrNotStreaming = errors.New("evclient: request body is not streamed")
	// ErrDone is returned by Call.Write and CloseBody once the
	// call has ended (or was canceled).
	ErrDone = errors.New("evclient: request already ended")
)

// Error is the error a request reports: the method and URL of the
// request (of the hop that failed, after redirects) and the reason, which
// wraps one of the Err variables and often a cause beneath it.
type Error struct {
	// Method and URL are the request's, at the hop that failed.
	Method, URL string
	// Err is the reason.
	Err error
}

// Error returns "evclient: METHOD URL: REASON".
func (e *Error) Error() string {
	return "evclient: " + e.Method + " " + e.URL + ": " + strings.TrimPrefix(e.Err.Error(), "evclient: ")
}

// Unwrap returns the reason, for errors.Is and errors.As.
func (e *Error) Unwrap() error { return e.Err }
