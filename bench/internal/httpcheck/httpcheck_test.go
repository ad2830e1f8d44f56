package httpcheck

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/bench/internal/hello"
)

const good = "HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 13\r\nDate: Mon, 23 Nov 2026 10:00:00 GMT\r\n\r\nHello, World!"

func TestParse(t *testing.T) {
	for _, c := range []struct {
		name, in string
		n        int    // wanted length; 0: incomplete; -1: all of in
		err      string // wanted error substring; "": none
	}{
		{"whole", good, len(good), ""},
		{"whole with more after it", good + "HTTP/1.1", len(good), ""},
		{"lower-case header", strings.Replace(good, "Content-Length", "content-length", 1), len(good), ""},
		{"keep-alive header", strings.Replace(good, "Server: x", "Connection: keep-alive", 1), -1, ""},
		{"empty", "", 0, ""},
		{"status only", "HTTP/1.1 2", 0, ""},
		{"head without body", good[:len(good)-13], 0, ""},
		{"half a body", good[:len(good)-6], 0, ""},
		{"404", strings.Replace(good, "200 OK", "404 Not Found", 1), 0, "status line"},
		{"HTTP/1.0", strings.Replace(good, "HTTP/1.1", "HTTP/1.0", 1), 0, "status line"},
		{"garbage first", "Hello, World!" + good, 0, "status line"},
		{"no reason separator", strings.Replace(good, "200 OK", "200", 1), 0, "status line"},
		{"wrong length", strings.Replace(good, "13", "12", 1), 0, "Content-Length"},
		{"two lengths", strings.Replace(good, "Server: x", "Content-Length: 13", 1), 0, "2 Content-Length"},
		{"no length", strings.Replace(good, "Content-Length: 13", "Server: y", 1), 0, "0 Content-Length"},
		{"chunked", strings.Replace(good, "Server: x", "Transfer-Encoding: chunked", 1), 0, "Transfer-Encoding"},
		{"close", strings.Replace(good, "Server: x", "Connection: Close", 1), 0, "keep-alive"},
		{"bad header", strings.Replace(good, "Server: x", "Server x", 1), 0, "malformed header"},
		{"wrong body", strings.Replace(good, "World", "world", 1), 0, "body"},
		{"wrong body, partial", strings.Replace(good, "World!", "w", 1), 0, "body"},
		{"endless head", "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: b\r\n", MaxHead/8+1), 0, "no end of the head"},
	} {
		n, err := Parse([]byte(c.in))
		if c.n < 0 {
			c.n = len(c.in)
		}
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s: unexpected error %v", c.name, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want one with %q", c.name, err, c.err)
		case n != c.n:
			t.Errorf("%s: n = %d, want %d", c.name, n, c.n)
		}
	}
}

// serve runs a tiny HTTP server on loopback until the test ends: answer is
// called with the bytes of each complete batch of requests read (framed
// with hello.Scan) and returns what to write back; close ends the
// connection after the write.
func serve(t *testing.T, answer func(n int) (out []byte, close bool)) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var in []byte
				buf := make([]byte, 4096)
				for {
					m, err := c.Read(buf)
					if err != nil {
						return
					}
					in = append(in, buf[:m]...)
					n, used, bad := hello.Scan(in)
					if bad {
						return
					}
					in = in[:copy(in, in[used:])]
					if n == 0 {
						continue
					}
					out, closeIt := answer(n)
					if _, err := c.Write(out); err != nil || closeIt {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func respond(n int) []byte { return hello.Append(nil, n) }

func TestGate(t *testing.T) {
	resp := hello.Response()
	head := resp[:len(resp)-len(Body)]
	for _, c := range []struct {
		name   string
		answer func(n int) ([]byte, bool)
		fail   string // first failing check, with a substring of its error
	}{
		{"correct", func(n int) ([]byte, bool) { return respond(n), false }, ""},
		{"correct, one byte per write", nil, ""},
		{"out of order", func(n int) ([]byte, bool) {
			// the heads of all the responses, then all the bodies
			var out []byte
			for range n {
				out = append(out, head...)
			}
			return append(out, strings.Repeat(Body, n)...), false
		}, "pipeline16: response 1 of 16: body"},
		{"missing body", func(n int) ([]byte, bool) { return bytes.Repeat(head, n), false }, "single: request 1: read"},
		{"closes", func(n int) ([]byte, bool) { return respond(n), true }, "single: after request 1: connection closed"},
		{"one answer per read", func(int) ([]byte, bool) { return respond(1), false }, "pipeline16: response"},
		{"one too many", func(n int) ([]byte, bool) { return respond(n + 1), false }, "single: after request 1: unexpected bytes"},
		{"not keep-alive", func(n int) ([]byte, bool) {
			return bytes.ReplaceAll(respond(n), []byte("Server: bench"), []byte("Connection: close")), false
		}, "single: request 1: Connection: close"},
	} {
		var addr string
		if c.answer == nil { // a correct server whose responses arrive a byte at a time
			addr = serveSlow(t)
		} else {
			addr = serve(t, c.answer)
		}
		res, err := Gate(addr, 500*time.Millisecond)
		if len(res) != len(Checks) {
			t.Fatalf("%s: %d results, want %d", c.name, len(res), len(Checks))
		}
		switch {
		case c.fail == "" && err != nil:
			t.Errorf("%s: the gate failed a correct server: %v (%+v)", c.name, err, res)
		case c.fail != "" && err == nil:
			t.Errorf("%s: the gate passed it", c.name)
		case c.fail != "" && !strings.HasPrefix(err.Error(), c.fail):
			t.Errorf("%s: failure %q, want one starting %q", c.name, err, c.fail)
		}
	}
}

// serveSlow is a correct server that writes its responses one byte per
// write, to check that the gate reassembles them.
func serveSlow(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var in []byte
				buf := make([]byte, 64<<10)
				for {
					m, err := c.Read(buf)
					if err != nil {
						return
					}
					in = append(in, buf[:m]...)
					n, used, _ := hello.Scan(in)
					in = in[:copy(in, in[used:])]
					out := respond(n)
					if n > 16 { // keep pipeline1k short
						c.Write(out)
						continue
					}
					for i := range out {
						if _, err := c.Write(out[i : i+1]); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}
