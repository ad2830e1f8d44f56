package h1

// Response heads, as a client parses them, and whether they have a body.

import "github.com/eddyloop/eddy/internal/ascii"

// Response is a parsed response head. ParseResponse fills it; a client
// reuses one Response for all the responses on a connection.
//
// The byte slices point into the buffer given to ParseResponse and are
// valid only while the caller keeps those bytes where they are (see Request).
type Response struct {
	// Minor is the minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1 and
	// any later HTTP/1.x.
	Minor int
	// Status is the three-digit status code, 100 to 999.
	Status int
	// Reason is the reason phrase, possibly empty.
	Reason []byte
	// Headers are the field lines in order, with repeated names kept.
	Headers Headers
	// ContentLength is the Content-Length, or -1 if there is none or the
	// body is chunked. For a response without a body (NoBody) it is what the
	// header says, which for a HEAD request is the length a GET would get.
	ContentLength int64
	// NoBody is whether the response has no body whatever its header
	// fields say (RFC 9112 §6.3): a 1xx, 204 or 304 status, an answer to
	// HEAD, or a 2xx answer to CONNECT, after which the connection is a
	// tunnel. After a 101 the connection speaks the new protocol.
	NoBody bool
	// Chunked is whether the body uses the chunked transfer coding.
	Chunked bool
	// UntilEOF is whether the body is delimited by the end of the
	// connection: it has neither Content-Length nor chunked, or it is an
	// HTTP/1.0 response with Transfer-Encoding. Close is then true.
	UntilEOF bool
	// Close is whether the server closes the connection after this
	// response: HTTP/1.1 sent Connection: close, HTTP/1.0 did not send
	// keep-alive, or the body is read until the end of the connection.
	Close bool
}

// ParseResponse parses the response head at the start of buf into r and
// returns its length in bytes. method is the method of the request the
// response answers: the body rules depend on whether it is "HEAD" or
// "CONNECT". If buf ends before the head does, it returns ErrNeedMore: call
// again with the same bytes followed by more. Any other error is an *Error;
// the client discards the response and closes the connection.
//
// A 1xx response other than 101 is interim: the final response follows it,
// and the caller parses again after consuming it.
//
// Responses are parsed as leniently as net/http parses them where RFC 9112
// allows it, and buf may be modified: see the package documentation.
func (p *Parser) ParseResponse(buf []byte, method string, r *Response) (n int, err error) {
	_, lf, end, err := p.head(buf, false)
	if err != nil {
		return 0, err
	}
	if err := p.parseResponse(buf[:end], lf, method, r); err != nil {
		return 0, err
	}
	return end, nil
}

func (p *Parser) parseResponse(b []byte, lf int, method string, r *Response) error {
	line := b[:lf]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	// status-line = HTTP-version SP status-code SP [ reason-phrase ]
	if len(line) < 12 || line[8] != ' ' {
		if len(line) >= 8 {
			if _, err := parseVersion(line[:8]); err != nil {
				return err
			}
		}
		return ErrStatusLine
	}
	minor, err := parseVersion(line[:8])
	if err != nil {
		return err
	}
	status := 0
	for _, c := range line[9:12] {
		if c < '0' || c > '9' {
			return ErrStatusLine
		}
		status = status*10 + int(c-'0')
	}
	if status < 100 {
		return ErrStatusLine
	}
	reason := line[12:]
	if len(reason) > 0 {
		// Lenient like net/http: the SP before an empty reason phrase may
		// be missing.
		if reason[0] != ' ' {
			return ErrStatusLine
		}
		reason = reason[1:]
		for _, c := range reason {
			if !isValue(c) {
				if c == '\r' {
					return ErrBareCR
				}
				return ErrStatusLine
			}
		}
	}

	hs, _, err := parseFields(b, lf+1, r.Headers[:0], p.Limits.maxHeaders(), responseHead)
	r.Headers = hs
	if err != nil {
		return err
	}
	r.Minor, r.Status, r.Reason = minor, status, reason[:len(reason):len(reason)]
	r.ContentLength = -1
	r.NoBody, r.Chunked, r.UntilEOF = false, false, false

	var (
		conn connection
		te   transferEncoding
	)
	for _, h := range hs {
		switch n := h.Name; len(n) {
		case 10:
			if ascii.EqualFold(n, "connection") {
				conn.add(h.Value)
			}
		case 14:
			if ascii.EqualFold(n, "content-length") {
				cl, err := parseContentLength(h.Value)
				if err != nil {
					return err
				}
				if r.ContentLength >= 0 && cl != r.ContentLength {
					return ErrConflictingContentLength
				}
				r.ContentLength = cl
			}
		case 17:
			if ascii.EqualFold(n, "transfer-encoding") {
				te.add(h.Value)
			}
		}
	}
	r.Close = conn.closes(minor)

	// RFC 9112 §6.3, in its order.
	switch {
	case method == "HEAD" || status < 200 || status == 204 || status == 304 ||
		method == "CONNECT" && status < 300:
		if te.present && minor == 1 {
			if err := te.result(); err != nil {
				return err
			}
		}
		r.NoBody = true
	case te.present && minor == 0:
		// RFC 9112 §6.1: the framing of an HTTP/1.0 message with
		// Transfer-Encoding is faulty; the connection closes after it.
		r.ContentLength = -1
		r.UntilEOF = true
	case te.present:
		// Transfer-Encoding overrides Content-Length in a response.
		if err := te.result(); err != nil {
			return err
		}
		r.ContentLength = -1
		r.Chunked = true
	case r.ContentLength >= 0:
	default:
		r.UntilEOF = true
	}
	if r.UntilEOF {
		r.Close = true
	}
	return nil
}
