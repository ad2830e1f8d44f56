package main

// The HTTP framing of shared/bench/peers/internal/plain (copied, not
// imported: it lives in another module), with the response rebuilt from the
// loop when the second changes instead of by a ticking goroutine.

import (
	"bytes"
	"strconv"
	"time"
)

const maxHeader = 64 << 10

var (
	crlfcrlf = []byte("\r\n\r\n")
	clUpper  = []byte("\nContent-Length:")
	clLower  = []byte("\ncontent-length:")
)

// scan counts the complete requests at the front of buf, and the bytes they
// take; bad means the connection should be closed.
func scan(buf []byte) (n, consumed int, bad bool) {
	for {
		rest := buf[consumed:]
		end := bytes.Index(rest, crlfcrlf)
		if end < 0 {
			return n, consumed, len(rest) > maxHeader
		}
		head := rest[:end+2]
		total := end + 4
		if cl, ok, err := contentLength(head); err {
			return n, consumed, true
		} else if ok {
			if len(rest) < total+cl {
				return n, consumed, false
			}
			total += cl
		}
		n++
		consumed += total
	}
}

func contentLength(head []byte) (int, bool, bool) {
	i := bytes.Index(head, clUpper)
	if i < 0 {
		i = bytes.Index(head, clLower)
	}
	if i < 0 {
		return 0, false, false
	}
	v := head[i+len(clUpper):]
	if j := bytes.IndexByte(v, '\r'); j >= 0 {
		v = v[:j]
	}
	cl, err := strconv.Atoi(string(bytes.TrimSpace(v)))
	if err != nil || cl < 0 || cl > 1<<20 {
		return 0, false, true
	}
	return cl, true, false
}

// canned is the 200 response; refresh rebuilds it when the second changes
// (as epollsrv.c's build_resp, called once per loop iteration).
type canned struct {
	resp []byte
	sec  int64
}

func (c *canned) refresh() {
	now := time.Now()
	if s := now.Unix(); s != c.sec {
		c.sec = s
		c.resp = []byte("HTTP/1.1 200 OK\r\nServer: bench\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: " +
			now.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") + "\r\n\r\nHello, World!")
	}
}

func (c *canned) appendN(dst []byte, n int) []byte {
	for i := 0; i < n; i++ {
		dst = append(dst, c.resp...)
	}
	return dst
}

// framer is a connection's partial-request state: it consumes data and
// returns how many requests completed, keeping the incomplete tail.
type framer struct{ in []byte }

func (f *framer) feed(data []byte) (reqs int, bad bool) {
	buf := data
	if len(f.in) > 0 {
		f.in = append(f.in, data...)
		buf = f.in
	}
	n, used, bad := scan(buf)
	if bad {
		return 0, true
	}
	tail := buf[used:]
	switch {
	case len(tail) == 0:
		f.in = f.in[:0]
		if cap(f.in) > maxHeader {
			f.in = nil
		}
	case len(f.in) > 0:
		f.in = f.in[:copy(f.in, tail)]
	default:
		f.in = append(f.in[:0], tail...)
	}
	return n, false
}
