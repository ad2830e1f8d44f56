package evclient

import (
	"net/http"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/internal/ascii"
)

// Response is a response: its status, its head (read with Header,
// Values, VisitHeaders), and with Do its whole body. It stays valid after
// the call ends (with a Call reused by Client.StreamCall, until the Call's
// next request); it is read-only.
type Response struct {
	// Status is the status code.
	Status int
	// ProtoMinor is the minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
	ProtoMinor int
	// ContentLength is the Content-Length, or -1 when the body is chunked
	// or read until the connection closes. For a HEAD request, 204 and 304
	// it is what the header says, though no body follows. For a 101
	// Switching Protocols it is 0: what follows is the new protocol's.
	ContentLength int64
	// Body is the whole body, for Do; nil for Stream, whose body goes to
	// OnBody.
	Body []byte
	// URL is the URL that answered: the request's, or the last redirect's.
	URL string
	// Redirects is the number of redirects followed.
	Redirects int

	head    []byte // the head as received: status line and field lines
	trailer []byte // the trailer fields of a chunked body, "name: value\n"
}

// Reason returns the reason phrase of the status line, such as "OK".
func (r *Response) Reason() string {
	line := r.statusLine()
	if len(line) > 13 {
		return string(line[13:])
	}
	return ""
}

// StatusLine returns the status line as received, without its line end:
// "HTTP/1.1 200 OK".
func (r *Response) StatusLine() string { return string(r.statusLine()) }

func (r *Response) statusLine() []byte {
	line := r.head
	for i, c := range line {
		if c == '\n' {
			line = line[:i]
			break
		}
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line
}

// Header returns the value of the first header field named name (without
// regard to case), or "".
func (r *Response) Header(name string) string {
	var v string
	visitFields(r.head, true, func(n, value []byte) bool {
		if ascii.EqualFold(n, name) {
			v = string(value)
			return false
		}
		return true
	})
	return v
}

// Values returns the values of every header field named name (without
// regard to case), in order, or nil.
func (r *Response) Values(name string) []string {
	var vs []string
	visitFields(r.head, true, func(n, value []byte) bool {
		if ascii.EqualFold(n, name) {
			vs = append(vs, string(value))
		}
		return true
	})
	return vs
}

// VisitHeaders calls f with each header field, in order, until f returns
// false. The slices are the response's own: f must not modify them.
func (r *Response) VisitHeaders(f func(name, value []byte) bool) {
	visitFields(r.head, true, f)
}

// Headers returns the header fields as an http.Header, a new map with
// canonical keys.
func (r *Response) Headers() http.Header {
	h := make(http.Header)
	visitFields(r.head, true, func(n, v []byte) bool {
		h.Add(string(n), string(v))
		return true
	})
	return h
}

// Trailer returns the value of the first trailer field named name of a
// chunked body, or "". Trailers are known once the body is complete.
func (r *Response) Trailer(name string) string {
	var v string
	visitFields(r.trailer, false, func(n, value []byte) bool {
		if ascii.EqualFold(n, name) {
			v = string(value)
			return false
		}
		return true
	})
	return v
}

// visitFields calls f with the fields of a head (after its start line when
// start is set), until an empty line or f returns false. Heads were
// checked by package h1: a line is "name: value", ended by LF or CR LF.
func visitFields(head []byte, start bool, f func(name, value []byte) bool) {
	h := head
	if start {
		i := 0
		for i < len(h) && h[i] != '\n' {
			i++
		}
		if i == len(h) {
			return
		}
		h = h[i+1:]
	}
	for len(h) > 0 {
		var line []byte
		line, h = cutLine(h)
		if len(line) == 0 {
			return
		}
		k := 0
		for k < len(line) && line[k] != ':' {
			k++
		}
		if k == len(line) {
			continue
		}
		v := h1.TrimOWS(line[k+1:])
		if !f(line[:k:k], v[:len(v):len(v)]) {
			return
		}
	}
}
