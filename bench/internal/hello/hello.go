// Package hello is the server side of the HTTP workloads for the servers
// that have no HTTP layer of their own (gnet, evio, netpoll): a minimal
// HTTP/1.1 request framer and the canned "Hello, World!" response.
//
// It does the same HTTP work per request as the C reference
// (epollsrv.c -mode http), so those servers and C are compared on equal
// terms:
//   - a request ends at the first "\r\n\r\n" of its head;
//   - a "Content-Length:" header (exactly that case, or all lower case) is
//     honoured and its body skipped (the workloads send none);
//   - every request gets the same 200 response with keep-alive; chunked
//     bodies, "Connection: close" and HTTP/1.0 are not handled.
package hello

import (
	"bytes"
	"strconv"
	"sync/atomic"
	"time"
)

// MaxHead is the most bytes of an incomplete request a server buffers
// before it gives up on the connection.
const MaxHead = 64 << 10

// maxBody is the largest Content-Length accepted.
const maxBody = 1 << 20

var (
	endOfHead = []byte("\r\n\r\n")
	clCanon   = []byte("\nContent-Length:")
	clLower   = []byte("\ncontent-length:")
)

// Scan counts the complete requests at the front of buf and returns how
// many there are and how many bytes they take. bad reports that buf can
// never become a valid request (a head over MaxHead, or a malformed
// Content-Length): the caller closes the connection.
func Scan(buf []byte) (n, used int, bad bool) {
	for {
		rest := buf[used:]
		end := bytes.Index(rest, endOfHead)
		if end < 0 {
			return n, used, len(rest) > MaxHead
		}
		size := end + len(endOfHead)
		body, ok := contentLength(rest[:end+2])
		if !ok {
			return n, used, true
		}
		if len(rest) < size+body {
			return n, used, false
		}
		n++
		used += size + body
	}
}

// contentLength returns the Content-Length of the head (0 when absent);
// ok is false when it is malformed or too large.
func contentLength(head []byte) (int, bool) {
	i := bytes.Index(head, clCanon)
	if i < 0 {
		if i = bytes.Index(head, clLower); i < 0 {
			return 0, true
		}
	}
	v := head[i+len(clCanon):]
	if j := bytes.IndexByte(v, '\r'); j >= 0 {
		v = v[:j]
	}
	cl, err := strconv.Atoi(string(bytes.TrimSpace(v)))
	if err != nil || cl < 0 || cl > maxBody {
		return 0, false
	}
	return cl, true
}

// Body is the body of every response.
const Body = "Hello, World!"

var response atomic.Pointer[[]byte]

func build(t time.Time) {
	b := []byte("HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: " +
		t.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") + "\r\n\r\n" + Body)
	response.Store(&b)
}

func init() {
	build(time.Now())
	// The Date header changes once a second: one wake-up a second, like
	// the C reference's rebuild when the second changes.
	go func() {
		for t := range time.Tick(time.Second) {
			build(t)
		}
	}()
}

// Response returns the canned response. It must not be modified.
func Response() []byte { return *response.Load() }

// Append appends n copies of the response to dst.
func Append(dst []byte, n int) []byte {
	r := Response()
	for range n {
		dst = append(dst, r...)
	}
	return dst
}
