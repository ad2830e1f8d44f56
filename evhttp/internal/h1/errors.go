package h1

// The faults of a peer's message (Error), each with the status a server
// answers it with.

import "errors"

// Error is a fault in a peer's message. Status is the HTTP status code a
// server answers a faulty request with before it closes the connection:
// 400 for malformed messages, 413, 414, 417, 431, 501 or 505 for the
// specific cases below. For a response read by a client the code names the
// kind of fault; the client discards the response and closes the connection.
//
// Every Error the package returns is one of the exported Err variables, so
// callers compare with errors.Is (or ==) and read the status with Status.
type Error struct {
	// Status is the status code that answers the fault.
	Status int
	msg    string
}

// Error returns the message, which starts with "h1: ".
func (e *Error) Error() string { return e.msg }

func newError(status int, msg string) *Error { return &Error{Status: status, msg: msg} }

// ErrNeedMore is returned by the parsers and the body decoder when the
// input ends before the next complete element (a head, a chunk header, a
// trailer section). It is not a fault: the caller keeps the unconsumed bytes
// and calls again once more have arrived.
var ErrNeedMore = errors.New("h1: need more data")

// Limit errors.
var (
	// ErrRequestLineTooLong reports a request line (or a response's status
	// line) longer than Limits.MaxRequestLine. Status 414.
	ErrRequestLineTooLong = newError(414, "h1: request line too long")
	// ErrHeaderTooLarge reports a head or trailer section longer than
	// Limits.MaxHeaderBytes. Status 431.
	ErrHeaderTooLarge = newError(431, "h1: header section too large")
	// ErrTooManyHeaders reports more field lines than Limits.MaxHeaders.
	// Status 431.
	ErrTooManyHeaders = newError(431, "h1: too many header fields")
	// ErrBodyTooLarge reports a body longer than Limits.MaxBodyBytes, as
	// declared by Content-Length or as counted while decoding. Status 413.
	ErrBodyTooLarge = newError(413, "h1: body too large")
	// ErrChunkLineTooLong reports a chunk header line (size and extensions)
	// longer than Limits.MaxChunkLine. Status 400.
	ErrChunkLineTooLong = newError(400, "h1: chunk header line too long")
)

// Start-line errors.
var (
	// ErrRequestLine reports a request line that is not
	// method SP request-target SP HTTP-version. Status 400.
	ErrRequestLine = newError(400, "h1: malformed request line")
	// ErrMethod reports a method that is not a token. Status 400.
	ErrMethod = newError(400, "h1: malformed method")
	// ErrTarget reports a request-target with a byte other than visible
	// ASCII, or in a form its method does not allow: the authority form is
	// for CONNECT only, which needs it, and the asterisk form for OPTIONS
	// only. Status 400.
	ErrTarget = newError(400, "h1: malformed request target")
	// ErrVersion reports an HTTP-version that is not "HTTP/" DIGIT "." DIGIT.
	// Status 400.
	ErrVersion = newError(400, "h1: malformed HTTP version")
	// ErrVersionNotSupported reports a well-formed version whose major
	// number is not 1 (HTTP/0.9, HTTP/2.0). Status 505.
	ErrVersionNotSupported = newError(505, "h1: HTTP version not supported")
	// ErrStatusLine reports a malformed response status line. Status 400.
	ErrStatusLine = newError(400, "h1: malformed status line")
)

// Line and field syntax errors.
var (
	// ErrBareLF reports a line ended by LF alone where CR LF is required:
	// anywhere in a request head or trailer section, and in chunk framing.
	// Status 400.
	ErrBareLF = newError(400, "h1: bare LF where CRLF is required")
	// ErrBareCR reports a CR that is not followed by LF. Status 400.
	ErrBareCR = newError(400, "h1: bare CR")
	// ErrObsFold reports a field line that starts with whitespace: obsolete
	// line folding in a request, or whitespace before the first field line.
	// Status 400.
	ErrObsFold = newError(400, "h1: obsolete line folding")
	// ErrHeaderName reports a field name that is empty, not a token, or not
	// followed by a colon. Status 400.
	ErrHeaderName = newError(400, "h1: malformed header field name")
	// ErrSpaceBeforeColon reports whitespace between a field name and its
	// colon. Status 400.
	ErrSpaceBeforeColon = newError(400, "h1: whitespace between header field name and colon")
	// ErrHeaderValue reports a control character (other than HTAB) in a
	// field value. Status 400.
	ErrHeaderValue = newError(400, "h1: invalid character in header field value")
)

// Header semantics errors.
var (
	// ErrMissingHost reports an HTTP/1.1 request without Host. Status 400.
	ErrMissingHost = newError(400, "h1: missing Host header in HTTP/1.1 request")
	// ErrMultipleHost reports a request with more than one Host field line.
	// Status 400.
	ErrMultipleHost = newError(400, "h1: more than one Host header")
	// ErrHost reports a Host value with bytes a URI authority cannot hold.
	// Status 400.
	ErrHost = newError(400, "h1: malformed Host header")
	// ErrContentLength reports a Content-Length that is not a list of
	// decimal numbers or does not fit in an int64. Status 400.
	ErrContentLength = newError(400, "h1: malformed Content-Length")
	// ErrConflictingContentLength reports Content-Length values that differ.
	// Status 400.
	ErrConflictingContentLength = newError(400, "h1: differing Content-Length values")
	// ErrTEWithContentLength reports a request with both Transfer-Encoding
	// and Content-Length. Status 400.
	ErrTEWithContentLength = newError(400, "h1: both Transfer-Encoding and Content-Length")
	// ErrTransferEncoding reports a malformed Transfer-Encoding value.
	// Status 400.
	ErrTransferEncoding = newError(400, "h1: malformed Transfer-Encoding")
	// ErrChunkedNotLast reports a Transfer-Encoding in which chunked is not
	// the final coding. Status 400.
	ErrChunkedNotLast = newError(400, "h1: chunked is not the final transfer coding")
	// ErrChunkedRepeated reports a Transfer-Encoding that applies chunked
	// more than once. Status 400.
	ErrChunkedRepeated = newError(400, "h1: chunked transfer coding applied more than once")
	// ErrUnknownTransferCoding reports a transfer coding other than chunked.
	// Status 501.
	ErrUnknownTransferCoding = newError(501, "h1: unsupported transfer coding")
	// ErrTransferEncodingHTTP10 reports Transfer-Encoding in an HTTP/1.0
	// request, whose framing RFC 9112 §6.1 tells us to treat as faulty.
	// Status 400.
	ErrTransferEncodingHTTP10 = newError(400, "h1: Transfer-Encoding in an HTTP/1.0 request")
	// ErrExpectation reports an Expect value other than 100-continue in an
	// HTTP/1.1 request. Status 417.
	ErrExpectation = newError(417, "h1: unsupported expectation")
)

// Body errors.
var (
	// ErrChunkSize reports a chunk size that is empty, not hexadecimal,
	// followed by something other than an extension, or larger than an
	// int64. Status 400.
	ErrChunkSize = newError(400, "h1: malformed chunk size")
	// ErrChunkExtension reports a malformed chunk extension. Status 400.
	ErrChunkExtension = newError(400, "h1: malformed chunk extension")
	// ErrChunkCRLF reports chunk data not followed by CR LF. Status 400.
	ErrChunkCRLF = newError(400, "h1: missing CRLF after chunk data")
	// ErrTruncatedBody reports a connection that ended inside a body.
	// Status 400.
	ErrTruncatedBody = newError(400, "h1: connection closed before the end of the body")
)

// Status returns the status code a server answers err with: the Status of
// an *Error, 0 for nil and ErrNeedMore, and 400 for anything else.
func Status(err error) int {
	if err == nil || err == ErrNeedMore {
		return 0
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 400
}
