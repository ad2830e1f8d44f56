package evhttp_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/internal/testutil"
)

// Tests that speak HTTP/1.1 over raw TCP, byte by byte where it matters.

// svPipeline sends n GETs of distinct paths, in writes of step bytes (0:
// all in one), and checks the n responses byte for byte, in order.
func svPipeline(t *testing.T, addr string, n, step int) {
	t.Helper()
	c, _ := svDial(t, addr)
	var req, want strings.Builder
	for i := range n {
		path := fmt.Sprintf("/path/%d", i)
		fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path)
		want.WriteString(svPathResponse(path))
	}
	go func() {
		b := []byte(req.String())
		if step == 0 {
			c.Write(b)
			return
		}
		for len(b) > 0 {
			k := min(step, len(b))
			if _, err := c.Write(b[:k]); err != nil {
				return
			}
			b = b[k:]
		}
	}()
	var got []byte
	buf := make([]byte, 64<<10)
	for len(svNormalize(got)) < want.Len() {
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d bytes: %v", len(got), err)
		}
		got = append(got, buf[:k]...)
	}
	if g := svNormalize(got); g != want.String() {
		i := 0
		for i < len(g) && i < want.Len() && g[i] == want.String()[i] {
			i++
		}
		t.Fatalf("responses differ at byte %d: got %q, want %q", i, g[max(0, i-40):min(len(g), i+40)], want.String()[max(0, i-40):min(want.Len(), i+40)])
	}
}

// TestPipelining: 16 and 1024 requests in one write (the responses to
// 1024 exceed the socket buffers), and 16 dribbled in 1- and 7-byte writes.
func TestPipelining(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	for _, tc := range []struct{ n, step int }{{16, 0}, {1024, 0}, {16, 1}, {16, 7}, {200, 7}} {
		t.Run(fmt.Sprintf("%d/%d", tc.n, tc.step), func(t *testing.T) { svPipeline(t, s.addr, tc.n, tc.step) })
	}
}

// TestPipelinedAsync: responses leave in request order even when a later
// request is answered first.
func TestPipelinedAsync(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n"+
		"GET /path/fast HTTP/1.1\r\nHost: x\r\n\r\n"+
		"GET /slow?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"+
		"GET /path/last HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"slow 200", "/path/fast", "slow 20", svSum([]byte("hello")), "/path/last"} {
		if _, body := svRead(t, br, "GET"); body != want {
			t.Fatalf("got %q, want %q", body, want)
		}
	}
}

// TestMaxPipelined: at most MaxPipelined requests of a connection are in
// flight; the rest wait, unread, until a response is done.
func TestMaxPipelined(t *testing.T) {
	s := svStart(t, &evhttp.Server{MaxPipelined: 4})
	c, br := svDial(t, s.addr)
	io.WriteString(c, strings.Repeat("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n", 10))
	if !testutil.Eventually(5*time.Second, func() bool { return s.started.Load() == 4 }) {
		t.Fatalf("%d handlers started, want 4", s.started.Load())
	}
	s.barrier() // the loop has read all ten: no more handlers start
	if n := s.started.Load(); n != 4 {
		t.Fatalf("%d handlers started, want 4", n)
	}
	for got := 0; got < 10; {
		want := min(4, 10-got)
		if !testutil.Eventually(5*time.Second, func() bool { return s.heldCount() == want }) {
			t.Fatalf("%d handlers waiting, want %d", s.heldCount(), want)
		}
		if n := int(s.started.Load()); n != got+want {
			t.Fatalf("%d handlers started after %d responses, want %d", n, got, got+want)
		}
		s.release()
		for range want {
			if _, body := svRead(t, br, "GET"); body != "released" {
				t.Fatalf("response %d: %q", got, body)
			}
			got++
		}
	}
}

// TestHead: a HEAD response has the headers of the GET (its
// Content-Length) and no body, and the connection goes on.
func TestHead(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nHEAD /stream?n=100000 HTTP/1.1\r\nHost: x\r\n\r\n"+getReq)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	head := readHead(t, br)
	if want := "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"; head != want {
		t.Errorf("HEAD: %q, want %q", head, want)
	}
	head = readHead(t, br)
	if want := "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\n\r\n"; head != want {
		t.Errorf("HEAD of a streamed body: %q, want %q", head, want)
	}
	if _, body := svRead(t, br, "GET"); body != "Hello, World!" {
		t.Errorf("GET after HEAD: %q", body)
	}
}

// readHead reads a response head, normalized.
func readHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("head: %q, %v", b.String(), err)
		}
		b.WriteString(line)
		if line == "\r\n" {
			return svNormalize([]byte(b.String()))
		}
	}
}

// TestHTTP10: HTTP/1.0 without keep-alive closes; with keep-alive stays
// open and says so; a body of unknown length ends with the connection.
func TestHTTP10(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /hello HTTP/1.0\r\n\r\n")
	if head := readHead(t, br); head != "HTTP/1.0 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\n" {
		t.Errorf("HTTP/1.0: %q", head)
	}
	if rest, _ := io.ReadAll(br); string(rest) != "Hello, World!" {
		t.Errorf("HTTP/1.0 body %q", rest)
	}

	c, br = svDial(t, s.addr)
	for range 2 {
		io.WriteString(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		if head := readHead(t, br); head != "HTTP/1.0 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n" {
			t.Errorf("HTTP/1.0 keep-alive: %q", head)
		}
		body := make([]byte, 13)
		io.ReadFull(br, body)
	}

	io.WriteString(c, "GET /stream?n=50000 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if head := readHead(t, br); head != "HTTP/1.0 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n" {
		t.Errorf("HTTP/1.0 stream: %q", head)
	}
	if rest, _ := io.ReadAll(br); len(rest) != 50000 {
		t.Errorf("HTTP/1.0 stream: %d bytes", len(rest))
	}
}

// TestExpectContinue: 100 Continue when the handler reads the body, none
// (and a closed connection) when it answers without it.
func TestExpectContinue(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	line, _ := br.ReadString('\n')
	blank, _ := br.ReadString('\n')
	if line != "HTTP/1.1 100 Continue\r\n" || blank != "\r\n" {
		t.Fatalf("interim response %q %q", line, blank)
	}
	io.WriteString(c, "hello")
	if _, body := svRead(t, br, "POST"); body != svSum([]byte("hello")) {
		t.Errorf("final response %q", body)
	}

	io.WriteString(c, "POST /reject HTTP/1.1\r\nHost: x\r\nContent-Length: 500000\r\nExpect: 100-continue\r\n\r\n")
	resp, body := svRead(t, br, "POST")
	if resp.StatusCode != 403 || !resp.Close || body != "no" {
		t.Errorf("rejected: %v Close %v %q", resp.Status, resp.Close, body)
	}
	svExpectEOF(t, c, br)
}

// TestEarlyHintsAndNoBody: a 103 before the final response; 204 without
// a body; a short body closes the connection; a long one is cut.
func TestEarlyHintsAndNoBody(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /hints HTTP/1.1\r\nHost: x\r\n\r\nGET /nocontent HTTP/1.1\r\nHost: x\r\n\r\nGET /long HTTP/1.1\r\nHost: x\r\n\r\n")
	if head := readHead(t, br); head != "HTTP/1.1 103 Early Hints\r\nContent-Type: text/plain\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n" {
		t.Errorf("103: %q", head)
	}
	if resp, body := svRead(t, br, "GET"); resp.StatusCode != 200 || body != "hinted" || resp.Header.Get("Link") != "" {
		t.Errorf("after 103: %v %q %q", resp.Status, body, resp.Header)
	}
	if head := readHead(t, br); head != "HTTP/1.1 204 No Content\r\nDate: X\r\nContent-Type: text/plain\r\n\r\n" {
		t.Errorf("204: %q", head)
	}
	if _, body := svRead(t, br, "GET"); body != "12345" {
		t.Errorf("/long: %q", body)
	}
	io.WriteString(c, "GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
	if head := readHead(t, br); !strings.Contains(head, "Content-Length: 10\r\n") {
		t.Errorf("/short: %q", head)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if rest, err := io.ReadAll(br); string(rest) != "12345" || err != nil {
		t.Errorf("/short: %q, %v (want the 5 bytes, then the close)", rest, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) > 0 {
		t.Errorf("events: %q", s.events)
	}
}

// TestChunkedTrailers: a chunked body with extensions and a trailer.
func TestChunkedTrailers(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"3;ext=1\r\nhel\r\n2\r\nlo\r\n0\r\nX-Sum: abc\r\n\r\n")
	if _, body := svRead(t, br, "POST"); body != svSum([]byte("hello"))+" trailer=abc" {
		t.Errorf("%q", body)
	}
}

// TestBadRequests: every fault the parser finds gets its status, then
// Connection: close and the close, and nothing after it is answered.
func TestBadRequests(t *testing.T) {
	s := svStart(t, &evhttp.Server{MaxBodyBytes: 1 << 20})
	long := strings.Repeat("a", 9000)
	var many, big strings.Builder
	for i := range 101 {
		fmt.Fprintf(&many, "X-%d: v\r\n", i)
	}
	for i := range 70 {
		fmt.Fprintf(&big, "X-%d: %s\r\n", i, strings.Repeat("v", 1000))
	}
	const smuggled = "GET /path/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, tc := range []struct {
		name, req string
		status    int
	}{
		{"TE and CL", "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, 400},
		{"CL differ", "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 45\r\n\r\nhello" + smuggled, 400},
		{"CL sign", "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\nhello", 400},
		{"TE unknown", "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
		{"TE chunked not last", "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
		{"TE in 1.0", "POST /sum HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"bare LF", "GET / HTTP/1.1\nHost: x\n\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400},
		{"method", "G@T / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", 400},
		{"version", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
		{"version syntax", "GET / HTTP/1.10\r\nHost: x\r\n\r\n", 400},
		{"expect", "GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417},
		{"long line", "GET /" + long + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
		{"big head", "GET / HTTP/1.1\r\nHost: x\r\n" + big.String() + "\r\n", 431},
		{"many fields", "GET / HTTP/1.1\r\nHost: x\r\n" + many.String() + "\r\n", 431},
		{"CL too large", "POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413},
		{"chunked too large", "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n200000\r\n", 413},
		{"chunk size", "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
		{"chunk CRLF", "POST /sum HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400},
		{"after a good one", getReq + "GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n" + smuggled, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, br := svDial(t, s.addr)
			go io.WriteString(c, tc.req)
			resp, body := svRead(t, br, "GET")
			if tc.name == "after a good one" {
				if body != "Hello, World!" {
					t.Fatalf("first response %q", body)
				}
				resp, body = svRead(t, br, "GET")
			}
			if resp.StatusCode != tc.status || !resp.Close {
				t.Errorf("%v (Close %v) %q, want %d and Connection: close", resp.Status, resp.Close, body, tc.status)
			}
			svExpectEOF(t, c, br)
		})
	}
	if n := s.started.Load(); n != 4 { // /sum for the three body errors, and the good one
		t.Errorf("%d handlers ran", n)
	}
}

// TestVanishingClient: a client that leaves in the middle of a body (with
// a FIN, or a reset) ends the exchange with an error the handler sees.
func TestVanishingClient(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	for _, reset := range []bool{false, true} {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "POST /watch HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
		c.Write(make([]byte, 100000))
		if reset {
			c.(*net.TCPConn).SetLinger(0)
		}
		c.Close()
		if reset {
			s.eventually(t, "watch body: "+"evnet: connection reset by peer")
		} else {
			s.eventually(t, "watch body: "+evhttp.ErrBodyTruncated.Error())
		}
	}
	s.eventually(t, "watch done: "+evhttp.ErrBodyTruncated.Error())
	// The server goes on serving.
	c, br := svDial(t, s.addr)
	io.WriteString(c, getReq)
	if _, body := svRead(t, br, "GET"); body != "Hello, World!" {
		t.Errorf("%q", body)
	}
}

// TestSlowReader: a large response to a client that does not read stays
// within the connection's watermark in the server: the handler sees Full
// and waits for OnDrain.
func TestSlowReader(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	const n = 64 << 20
	fmt.Fprintf(c, "GET /big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", n)
	// Read nothing for a while: the kernel's buffers fill, then the
	// connection's queue, and the handler must stop.
	if !testutil.Eventually(5*time.Second, func() bool { return s.fulls.Load() > 0 }) {
		t.Fatal("the handler never saw Full")
	}
	s.barrier() // what the loop had to do before the client reads is done
	if q := s.maxQueued.Load(); q > int64(64<<10+len(svChunk)) {
		t.Errorf("the output queue grew to %d bytes", q)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := readResponseHead(br)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.Copy(io.Discard, resp)
	if got != n || err != nil {
		t.Errorf("%d bytes of %d, %v", got, n, err)
	}
	s.eventually(t, "big done: <nil>")
}

// readResponseHead reads a response head and returns a reader of its
// (Content-Length) body.
func readResponseHead(br *bufio.Reader) (io.Reader, error) {
	var length int64 = -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, err
		}
		if line == "\r\n" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			fmt.Sscan(v, &length)
		}
	}
	return io.LimitReader(br, length), nil
}

// TestLateBody: a handler that asks for the body later (from a timer)
// gets it whole, held meanwhile by the connection; one that never asks
// and ends has a short body dropped, a long one closes the connection.
func TestLateBody(t *testing.T) {
	var s *svServer
	s = svStart(t, &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		switch string(r.Path()) {
		case "/late":
			w.Async()
			tm := eddy.NewTimer(func(*eddy.Timer) {
				n := 0
				r.OnBody(func(w *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
					n += len(p)
					if err == io.EOF {
						fmt.Fprintf(w, "late %d", n)
						if err := w.End(); err != nil {
							s.event("End: %v", err)
						}
						if err := w.End(); err != evhttp.ErrEnded {
							s.event("second End: %v", err)
						}
					}
				})
			}, 50*time.Millisecond, 0)
			tm.Start(r.Loop())
			w.OnDone(func(*evhttp.ResponseWriter, error) { tm.Stop() })
		case "/nobody":
			r.OnBody(func(w *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
				fmt.Fprintf(w, "%d %v", len(p), err)
				w.End()
			})
		default:
			w.WriteString("ignored")
		}
	})})
	c, br := svDial(t, s.addr)
	body := strings.Repeat("b", 200000)
	fmt.Fprintf(c, "POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	fmt.Fprintf(c, "GET /nobody HTTP/1.1\r\nHost: x\r\n\r\n")
	fmt.Fprintf(c, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", 1000, body[:1000])
	for _, want := range []string{"late 200000", "0 EOF", "ignored"} {
		if resp, got := svRead(t, br, "GET"); got != want || resp.Close {
			t.Fatalf("%q (Close %v), want %q", got, resp.Close, want)
		}
	}
	// Too long to drop: the response says close, and the connection closes.
	fmt.Fprintf(c, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 5<<20)
	if resp, got := svRead(t, br, "GET"); got != "ignored" || !resp.Close {
		t.Fatalf("%q (Close %v)", got, resp.Close)
	}
	svExpectEOF(t, c, br)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.events) > 0 {
		t.Errorf("events: %q", s.events)
	}
}

// TestPipelinedStreaming: a large response pipelined behind a slow one
// waits in its own buffer, stops at Full, and goes out whole, in order.
func TestPipelinedStreaming(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	const n = 8 << 20
	fmt.Fprintf(c, "GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\nGET /big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n"+getReq, n)
	if !testutil.Eventually(5*time.Second, func() bool { return s.fulls.Load() > 0 }) {
		t.Fatal("the waiting response never saw Full")
	}
	if _, body := svRead(t, br, "GET"); body != "slow 200" {
		t.Fatalf("first: %q", body)
	}
	resp, err := readResponseHead(br)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := io.Copy(io.Discard, resp); got != n || err != nil {
		t.Fatalf("big: %d bytes of %d, %v", got, n, err)
	}
	if _, body := svRead(t, br, "GET"); body != "Hello, World!" {
		t.Fatalf("last: %q", body)
	}
	if q := s.maxQueued.Load(); q > int64(64<<10+len(svChunk)) {
		t.Errorf("the output queue grew to %d bytes", q)
	}
}
