package main

import (
	"strings"
	"testing"
)

func TestHelloParseHead(t *testing.T) {
	for _, tc := range []struct {
		head string
		ok   bool
		req  request
	}{
		{"GET / HTTP/1.1\r\nHost: a", true, request{keepAlive: true}},
		{"GET / HTTP/1.1", true, request{keepAlive: true}},
		{"HEAD /x HTTP/1.1\r\nHost: a", true, request{head: true, keepAlive: true}},
		{"GET / HTTP/1.1\r\nConnection: close", true, request{}},
		{"GET / HTTP/1.1\r\nconnection:\tUpgrade , Close ", true, request{}},
		{"GET / HTTP/1.1\r\nConnection: keep-alive", true, request{keepAlive: true}},
		{"GET / HTTP/1.0", true, request{http10: true}},
		{"GET / HTTP/1.0\r\nConnection: Keep-Alive", true, request{http10: true, keepAlive: true}},
		{"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close", true, request{http10: true}},
		{"GET / HTTP/1.1\r\nContent-Length: 0", true, request{keepAlive: true}},
		{"GET / HTTP/1.1\r\nContent-Length: 000", true, request{keepAlive: true}},
		{"GET / HTTP/1.1\r\nX-Empty:", true, request{keepAlive: true}},

		{"GET / HTTP/1.1\r\nContent-Length: 1", false, request{}},
		{"GET / HTTP/1.1\r\nContent-Length: 0x", false, request{}},
		{"GET / HTTP/1.1\r\nContent-Length:", false, request{}},
		{"GET / HTTP/1.1\r\nTransfer-Encoding: identity", false, request{}},
		{"GET / HTTP/1.1\r\nName : value", false, request{}},
		{"GET / HTTP/1.1\r\n: value", false, request{}},
		{"GET / HTTP/1.1\r\n\tfolded", false, request{}},
		{"GET / HTTP/1.1\r\nA: b\x00c", false, request{}},
		{"GET / HTTP/1.1\r\nA: b\rc", false, request{}},
		{"GET / HTTP/1.2", false, request{}},
		{"GET / http/1.1", false, request{}},
		{"GET  / HTTP/1.1", false, request{}},
		{"GET /", false, request{}},
		{" / HTTP/1.1", false, request{}},
		{"", false, request{}},
	} {
		req, ok := parseHead([]byte(tc.head))
		if ok != tc.ok || ok && req != tc.req {
			t.Errorf("parseHead(%q) = %+v, %v; want %+v, %v", tc.head, req, ok, tc.req, tc.ok)
		}
	}
}

// TestHelloAnswer feeds answer the way reads cut a stream: pipelined
// requests are all answered, a partial one is left for the next read.
func TestHelloAnswer(t *testing.T) {
	c := &helloConn{srv: &helloServer{}}
	data := getRequest + "\r\n" + getRequest + getRequest[:9]
	out, used := c.answer(nil, []byte(data))
	if string(out) != helloResponse+helloResponse || used != len(data)-9 || c.state != stateOpen {
		t.Fatalf("answer: %q, used %d of %d, state %d", out, used, len(data), c.state)
	}
	out, used = c.answer(nil, []byte(getRequest[:9]))
	if len(out) != 0 || used != 0 {
		t.Fatalf("partial request: %q, used %d", out, used)
	}
	// The request that closes is the last one answered.
	data = "GET / HTTP/1.0\r\n\r\n" + getRequest
	out, used = c.answer(nil, []byte(data))
	if string(out) != closeResponse || used != len("GET / HTTP/1.0\r\n\r\n") || c.state != stateClosing {
		t.Fatalf("closing request: %q, used %d, state %d", out, used, c.state)
	}
	if c.srv.requests != 3 {
		t.Errorf("counted %d requests, want 3", c.srv.requests)
	}
	// Too long without an end, or too long with one: 431.
	for _, data := range []string{
		strings.Repeat("a", maxHeaderBytes),
		"GET / HTTP/1.1\r\nA: " + strings.Repeat("a", maxHeaderBytes) + "\r\n\r\n",
	} {
		c := &helloConn{srv: &helloServer{}}
		if out, _ := c.answer(nil, []byte(data)); string(out) != response431 || c.state != stateClosing {
			t.Errorf("oversized head: %q, state %d", out, c.state)
		}
	}
	c = &helloConn{srv: &helloServer{}}
	if out, _ := c.answer(nil, []byte(strings.Repeat("a", maxHeaderBytes-1))); len(out) != 0 || c.state != stateOpen {
		t.Errorf("head just under the limit: %q, state %d", out, c.state)
	}
}
