package main

import "bytes"

// Just enough HTTP/1.1 for a hello-world server: a request is a head (the
// request line and header lines) ending in an empty line, and has no body.
// Every request gets the same answer. The evhttp package is the real thing.

// maxHeaderBytes bounds a request head, the final empty line included;
// a longer one is answered with 431 and the connection closed.
const maxHeaderBytes = 8 << 10

const (
	// helloBody is the body of every answer.
	helloBody = "Hello, World!"
	// helloHeader is the start of every 200 answer; a Connection header
	// may follow, then the empty line.
	helloHeader = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"

	response400 = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	response431 = "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
)

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// answer appends to out the responses to the complete requests at the
// start of data, and returns out and how many bytes of data those requests
// took. It sets c.state to stateClosing when the connection must close
// after these responses (the bytes after used are then to be ignored).
func (c *helloConn) answer(out, data []byte) ([]byte, int) {
	used := 0
	for c.state == stateOpen {
		rest := data[used:]
		// A server should ignore empty lines before a request line (RFC
		// 9112, section 2.2): some clients send one after a request.
		for len(rest) >= 2 && rest[0] == '\r' && rest[1] == '\n' {
			rest = rest[2:]
			used += 2
		}
		// A head must end within its first maxHeaderBytes bytes, so there
		// is no need to look further.
		end := bytes.Index(rest[:min(len(rest), maxHeaderBytes)], crlfcrlf)
		if end < 0 {
			if len(rest) >= maxHeaderBytes {
				out = append(out, response431...)
				c.state = stateClosing
			}
			break // incomplete: the caller keeps rest for the next read
		}
		used += end + len(crlfcrlf)
		c.srv.requests++
		req, ok := parseHead(rest[:end])
		if !ok {
			out = append(out, response400...)
			c.state = stateClosing
			break
		}
		out = appendHello(out, req)
		if !req.keepAlive {
			c.state = stateClosing
		}
	}
	return out, used
}

// request is what the server needs to know about a request.
type request struct {
	head      bool // HEAD: answer without the body
	http10    bool // HTTP/1.0: keep-alive only if asked for
	keepAlive bool // the connection stays open after the answer
}

// appendHello appends the answer to req to out.
func appendHello(out []byte, req request) []byte {
	out = append(out, helloHeader...)
	switch {
	case !req.keepAlive:
		out = append(out, "Connection: close\r\n"...)
	case req.http10:
		out = append(out, "Connection: keep-alive\r\n"...)
	}
	out = append(out, crlf...)
	if !req.head {
		out = append(out, helloBody...)
	}
	return out
}

// parseHead parses a request head without its final CRLFCRLF. It reports
// false for a malformed head, and for a request with a body: this server
// takes none (a non-zero Content-Length, any Transfer-Encoding).
func parseHead(head []byte) (req request, ok bool) {
	line, fields, _ := bytes.Cut(head, crlf)
	// The request line: METHOD SP TARGET SP VERSION, single spaces.
	method, rest, ok1 := bytes.Cut(line, []byte(" "))
	target, version, ok2 := bytes.Cut(rest, []byte(" "))
	if !ok1 || !ok2 || len(method) == 0 || len(target) == 0 || hasCtl(line) {
		return req, false
	}
	switch string(version) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		req.http10 = true
	default:
		return req, false
	}
	req.head = string(method) == "HEAD"

	// The header lines: NAME ":" OWS VALUE OWS. A line starting with white
	// space (obsolete line folding) or without a colon is malformed.
	var wantClose, wantKeepAlive bool
	for len(fields) > 0 {
		var field []byte
		field, fields, _ = bytes.Cut(fields, crlf)
		name, value, found := bytes.Cut(field, []byte(":"))
		if !found || len(name) == 0 || bytes.ContainsAny(name, " \t") || hasCtl(field) {
			return req, false
		}
		value = bytes.Trim(value, " \t")
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if len(value) == 0 || len(bytes.Trim(value, "0")) != 0 {
				return req, false // a body, or a malformed length
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return req, false
		case bytes.EqualFold(name, []byte("Connection")):
			for opt := range bytes.SplitSeq(value, []byte(",")) {
				opt = bytes.Trim(opt, " \t")
				wantClose = wantClose || bytes.EqualFold(opt, []byte("close"))
				wantKeepAlive = wantKeepAlive || bytes.EqualFold(opt, []byte("keep-alive"))
			}
		}
	}
	// HTTP/1.1 connections persist unless the client says close; HTTP/1.0
	// ones close unless it says keep-alive.
	req.keepAlive = !wantClose && (!req.http10 || wantKeepAlive)
	return req, true
}

// hasCtl reports whether b holds a control character other than tab: a
// bare CR or LF, or a NUL, has no place in a request head.
func hasCtl(b []byte) bool {
	for _, x := range b {
		if x < ' ' && x != '\t' || x == 0x7f {
			return true
		}
	}
	return false
}
