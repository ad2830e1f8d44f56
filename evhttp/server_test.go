package evhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// svClient is a net/http client of its own, its idle connections closed
// when the test ends.
func svClient(t *testing.T) *http.Client {
	tr := &http.Transport{DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}
}

// svDo makes a request and returns the response, its body, and whether it
// went over a reused connection.
func svDo(t *testing.T, c *http.Client, req *http.Request) (*http.Response, []byte, bool) {
	t.Helper()
	var reused bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	}))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", req.Method, req.URL, err)
	}
	return resp, body, reused
}

// TestNetHTTPGet: GETs from net/http's client, on one kept-alive
// connection, then Connection: close from either side.
func TestNetHTTPGet(t *testing.T) {
	s := svStart(t, &evhttp.Server{Name: "eddy-test"})
	c := svClient(t)
	url := "http://" + s.addr
	for i := range 3 {
		req, _ := http.NewRequest("GET", url+"/hello", nil)
		resp, body, reused := svDo(t, c, req)
		if resp.StatusCode != 200 || string(body) != "Hello, World!" || resp.ContentLength != 13 {
			t.Fatalf("GET: %v %q (length %d)", resp.Status, body, resp.ContentLength)
		}
		if reused != (i > 0) {
			t.Errorf("request %d: reused %v", i, reused)
		}
		if got := resp.Header.Get("Server"); got != "eddy-test" {
			t.Errorf("Server: %q", got)
		}
		if d, err := http.ParseTime(resp.Header.Get("Date")); err != nil || time.Since(d).Abs() > 5*time.Second {
			t.Errorf("Date %q: %v", resp.Header.Get("Date"), err)
		}
	}
	// The client asks to close: the server says so and closes.
	req, _ := http.NewRequest("GET", url+"/hello", nil)
	req.Close = true
	resp, _, reused := svDo(t, c, req)
	if !resp.Close || !reused {
		t.Errorf("Connection: close request: response Close %v, reused %v", resp.Close, reused)
	}
	req, _ = http.NewRequest("GET", url+"/path/x", nil)
	if _, body, reused := svDo(t, c, req); reused || string(body) != "/path/x" {
		t.Errorf("after Connection: close: reused %v, body %q", reused, body)
	}
	// The handler asks to close.
	s2 := svStart(t, &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Header().Set("Connection", "close")
		w.WriteString("bye")
	})})
	req, _ = http.NewRequest("GET", "http://"+s2.addr+"/", nil)
	if resp, body, _ := svDo(t, c, req); !resp.Close || string(body) != "bye" {
		t.Errorf("handler's Connection: close: Close %v, body %q", resp.Close, body)
	}
}

// TestNetHTTPPost streams large bodies through the handler both ways:
// with a Content-Length and chunked, echoed (OnBody, with backpressure)
// and summed (ReadAll).
func TestNetHTTPPost(t *testing.T) {
	s := svStart(t, &evhttp.Server{MaxBodyBytes: 64 << 20})
	c := svClient(t)
	url := "http://" + s.addr
	data := svPostEcho(t, c, url)
	// A small body, in one piece with the head.
	req, _ := http.NewRequest("POST", url+"/sum", strings.NewReader("hello"))
	if _, got, _ := svDo(t, c, req); string(got) != svSum([]byte("hello")) {
		t.Errorf("small sum: %q", got)
	}
	// A body the handler ignores is dropped and the connection kept.
	req, _ = http.NewRequest("POST", url+"/hello", bytes.NewReader(data[:100<<10]))
	svDo(t, c, req)
	req, _ = http.NewRequest("GET", url+"/hello", nil)
	if _, got, reused := svDo(t, c, req); !reused || string(got) != "Hello, World!" {
		t.Errorf("after an ignored body: %q, reused %v", got, reused)
	}
}

// svPostEcho posts a 6 MiB body, with a Content-Length and chunked, to
// the "/echo" handler (which must echo it back, chunked) and the "/sum"
// handler (which must answer svSum of it on the same connection), and
// returns the body.
func svPostEcho(t *testing.T, c *http.Client, url string) []byte {
	t.Helper()
	data := svPattern(6 << 20)
	for _, chunked := range []bool{false, true} {
		var body io.Reader = bytes.NewReader(data)
		if chunked {
			body = io.MultiReader(body) // unknown length: net/http sends it chunked
		}
		req, _ := http.NewRequest("POST", url+"/echo", body)
		resp, got, _ := svDo(t, c, req)
		if resp.StatusCode != 200 || !bytes.Equal(got, data) {
			t.Errorf("echo (chunked %v): %v, %d bytes back of %d", chunked, resp.Status, len(got), len(data))
		}
		if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
			t.Errorf("echo: Transfer-Encoding %q, want chunked", resp.TransferEncoding)
		}
		body = bytes.NewReader(data)
		if chunked {
			body = io.MultiReader(body)
		}
		req, _ = http.NewRequest("POST", url+"/sum", body)
		_, got, reused := svDo(t, c, req)
		if string(got) != svSum(data) || !reused {
			t.Errorf("sum (chunked %v): %q (reused %v), want %q", chunked, got, reused, svSum(data))
		}
	}
	return data
}

// TestNetHTTPLarge: a large response in pieces, with a Content-Length
// (/big) and without one (/stream, chunked).
func TestNetHTTPLarge(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c := svClient(t)
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/big?n=10000000", nil)
	resp, got, _ := svDo(t, c, req)
	if resp.ContentLength != 10000000 || len(got) != 10000000 {
		t.Errorf("/big: length %d, %d bytes", resp.ContentLength, len(got))
	}
	req, _ = http.NewRequest("GET", "http://"+s.addr+"/stream?n=123456", nil)
	resp, got, _ = svDo(t, c, req)
	if len(resp.TransferEncoding) != 1 || len(got) != 123456 {
		t.Errorf("/stream: %q, %d bytes", resp.TransferEncoding, len(got))
	}
	req, _ = http.NewRequest("GET", "http://"+s.addr+"/stream?n=9000", nil)
	resp, got, _ = svDo(t, c, req)
	if resp.ContentLength != 9000 || len(got) != 9000 {
		t.Errorf("/stream (short): length %d, %d bytes", resp.ContentLength, len(got))
	}
}

// TestShutdown: idle connections close at once, requests in progress
// finish with Connection: close, then Shutdown returns.
func TestShutdown(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	idle, ibr := svDial(t, s.addr)
	io.WriteString(idle, getReq)
	svRead(t, ibr, "GET")
	busy, bbr := svDial(t, s.addr)
	io.WriteString(busy, "GET /slow?ms=300 HTTP/1.1\r\nHost: x\r\n\r\n")
	if !testutil.Eventually(5*time.Second, func() bool { return s.started.Load() == 2 }) {
		t.Fatal("the slow request did not start")
	}
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(context.Background()) }()
	svExpectEOF(t, idle, ibr)
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Errorf("the idle connection closed after %v", d)
	}
	resp, body := svRead(t, bbr, "GET")
	if body != "slow 300" || !resp.Close {
		t.Errorf("in-flight request: %q, Close %v", body, resp.Close)
	}
	svExpectEOF(t, busy, bbr)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if c, err := net.Dial("tcp", s.addr); err == nil {
		c.Close()
		t.Error("still accepting after Shutdown")
	}
	if _, err := s.srv.Serve(s.l, "tcp", "127.0.0.1:0"); err != evhttp.ErrServerClosed {
		t.Errorf("Serve after Shutdown: %v", err)
	}
}

// TestShutdownDeadline: a request that does not finish in time is cut.
func TestShutdownDeadline(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	if !testutil.Eventually(5*time.Second, func() bool { return s.started.Load() == 1 }) {
		t.Fatal("the request did not start")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := s.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown: %v, want the deadline", err)
	}
	svExpectEOF(t, c, br)
	s.eventually(t, "hold done: "+evnet.ErrAborted.Error())
}

// TestStartShutdown drains from a callback of the loop itself.
func TestStartShutdown(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /slow?ms=100 HTTP/1.1\r\nHost: x\r\n\r\n")
	if !testutil.Eventually(5*time.Second, func() bool { return s.started.Load() == 1 }) {
		t.Fatal("the request did not start")
	}
	done := make(chan struct{})
	s.l.Post(func() { s.srv.StartShutdown(5*time.Second, func() { close(done) }) })
	if _, body := svRead(t, br, "GET"); body != "slow 100" {
		t.Errorf("body %q", body)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("done not called")
	}
}

// TestServeGroup serves on two loops, over TCP and a Unix socket.
func TestServeGroup(t *testing.T) {
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2, Loop: eddy.Config{Debug: true}})
	if err != nil {
		t.Fatal(err)
	}
	s := &svServer{}
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(s.serve)}
	s.srv = srv
	ln, err := srv.ServeGroup(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/http.sock"
	if _, err := srv.ServeGroup(g, "unix", path); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	fail := func(format string, args ...any) { mu.Lock(); t.Errorf(format, args...); mu.Unlock() }
	for i := range 20 {
		wg.Go(func() {
			network, addr := "tcp", ln.Addr().String()
			if i%2 == 1 {
				network, addr = "unix", path
			}
			c, err := net.Dial(network, addr)
			if err != nil {
				fail("dial: %v", err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(c, strings.Repeat(getReq, 3))
			want := strings.Repeat(helloResponse, 3)
			var got []byte
			buf := make([]byte, 4096)
			for len(svNormalize(got)) < len(want) {
				n, err := c.Read(buf)
				if err != nil {
					fail("%s: read: %v after %q", network, err, got)
					return
				}
				got = append(got, buf[:n]...)
			}
			if svNormalize(got) != want {
				fail("%s: %q", network, got)
			}
		})
	}
	wg.Wait()
	if err := srv.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
	if err := g.Shutdown(time.Second); err != nil {
		t.Error(err)
	}
	if n := s.started.Load(); n != 60 {
		t.Errorf("%d requests served, want 60", n)
	}
}

// helloResponse is the exact (normalized) answer to GET / and /hello.
const helloResponse = "HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!"

// TestUnixSocket serves on a Unix socket on one loop, for net/http.
func TestUnixSocket(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	path := t.TempDir() + "/s.sock"
	errc := make(chan error, 1)
	s.l.Post(func() { _, err := s.srv.Serve(s.l, "unix", path); errc <- err })
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", path)
	}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("GET", "http://unix/path/u", nil)
	resp, body, _ := svDo(t, &http.Client{Transport: tr}, req)
	if resp.StatusCode != 200 || string(body) != "/path/u" {
		t.Errorf("%v %q", resp.Status, body)
	}
}

// TestAccessLogAndConnState: one log call per request, with its numbers,
// and the states of a connection in order.
func TestAccessLogAndConnState(t *testing.T) {
	type entry struct {
		method, target string
		status         int
		bytes          int64
	}
	var mu sync.Mutex
	var entries []entry
	var states []string
	srv := &evhttp.Server{
		AccessLog: func(r *evhttp.Request, status int, n int64, d time.Duration) {
			mu.Lock()
			entries = append(entries, entry{string(r.Method()), string(r.Target()), status, n})
			mu.Unlock()
		},
		ConnState: func(c *evnet.Conn, st evhttp.ConnState) {
			mu.Lock()
			states = append(states, st.String())
			mu.Unlock()
		},
	}
	s := svStart(t, srv)
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
	svRead(t, br, "GET")
	io.WriteString(c, "HEAD /nothing?x=1 HTTP/1.1\r\nHost: x\r\n\r\n")
	svRead(t, br, "HEAD")
	c.Close()
	want := []entry{{"GET", "/hello", 200, 13}, {"HEAD", "/nothing?x=1", 404, 9}}
	wantStates := "new active idle active idle closed"
	ok := testutil.Eventually(5*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(entries) == 2 && strings.Join(states, " ") == wantStates
	})
	mu.Lock()
	defer mu.Unlock()
	if !ok || entries[0] != want[0] || entries[1] != want[1] {
		t.Errorf("access log %v, want %v", entries, want)
	}
	if got := strings.Join(states, " "); got != wantStates {
		t.Errorf("states %q, want %q", got, wantStates)
	}
}

// TestHandlerPanic: 500, Connection: close, the panic logged, and the
// server still serves.
func TestHandlerPanic(t *testing.T) {
	s := svStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n"+getReq)
	resp, body := svRead(t, br, "GET")
	if resp.StatusCode != 500 || !resp.Close || body != "500 Internal Server Error\n" {
		t.Errorf("%v Close %v %q", resp.Status, resp.Close, body)
	}
	svExpectEOF(t, c, br)
	if !strings.Contains(s.logs.String(), "test panic") {
		t.Errorf("panic not logged: %q", s.logs.String())
	}
	c2, br2 := svDial(t, s.addr)
	io.WriteString(c2, getReq)
	if _, body := svRead(t, br2, "GET"); body != "Hello, World!" {
		t.Errorf("after a panic: %q", body)
	}
}

// TestRequestAccessors: what a handler sees of a request.
func TestRequestAccessors(t *testing.T) {
	got := make(chan string, 4)
	s := svStart(t, &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "method=%s target=%s path=%s query=%q proto=%s minor=%d host=%s len=%d body=%v keep=%v",
			r.Method(), r.Target(), r.Path(), r.RawQuery(), r.Proto(), r.ProtoMinor(), r.Host(),
			r.ContentLength(), r.HasBody(), r.KeepAlive())
		for v := range r.HeaderValues("x-multi") {
			fmt.Fprintf(&b, " multi=%s", v)
		}
		n := 0
		for range r.Headers() {
			n++
		}
		fmt.Fprintf(&b, " fields=%d accept=%s missing=%v", n, r.Header("ACCEPT"), r.Header("nope") == nil)
		if r.RemoteAddr() != r.Conn().RemoteAddr() || !r.LocalAddr().IsValid() || r.Loop() != r.Conn().Loop() {
			b.WriteString(" addresses wrong")
		}
		got <- b.String()
		w.WriteString("ok")
	})})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST http://example.com/a%20b?x=1&y HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n"+
		"X-Multi: 1\r\nX-Multi: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"+
		"GET /p HTTP/1.0\r\n\r\n")
	svRead(t, br, "POST")
	svRead(t, br, "GET")
	for _, want := range []string{
		`method=POST target=http://example.com/a%20b?x=1&y path=/a%20b query="x=1&y" proto=HTTP/1.1 minor=1 host=example.com len=-1 body=true keep=true multi=1 multi=2 fields=5 accept=*/* missing=true`,
		`method=GET target=/p path=/p query="" proto=HTTP/1.0 minor=0 host= len=0 body=false keep=false fields=0 accept= missing=true`,
	} {
		if g := <-got; g != want {
			t.Errorf("got  %s\nwant %s", g, want)
		}
	}
}

// TestRemoteAddr: RemoteAddr is the client's address, as the kernel gives
// it (Conn.RemoteAddr), on a connection's first request and on the next
// ones, which have it from the connection: over IPv4, IPv6, and IPv4 to a
// dual-stack listener, whose IPv4-mapped IPv6 address stays mapped.
func TestRemoteAddr(t *testing.T) {
	for _, tc := range []struct{ name, listen, dial string }{
		{"IPv4", "127.0.0.1:0", "127.0.0.1"},
		{"IPv6", "[::1]:0", "::1"},
		{"IPv4 to dual stack", "[::]:0", "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
				w.WriteString(r.RemoteAddr().String() + " " + r.Conn().RemoteAddr().String())
			})}
			l, err := eddy.NewLoop(nil)
			if err != nil {
				t.Fatal(err)
			}
			ln, err := srv.Serve(l, "tcp", tc.listen)
			if err != nil {
				l.Close()
				t.Skipf("no %s listener: %v", tc.listen, err)
			}
			ap, err := netip.ParseAddrPort(ln.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- l.Run() }()
			defer func() {
				srv.Close()
				if err := <-done; err != nil {
					t.Errorf("Run: %v", err)
				}
				l.Close()
			}()
			c, err := net.Dial("tcp", net.JoinHostPort(tc.dial, strconv.Itoa(int(ap.Port()))))
			if err != nil {
				t.Skipf("dial %s: %v", tc.dial, err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			local, err := netip.ParseAddrPort(c.LocalAddr().String())
			if err != nil {
				t.Fatal(err)
			}
			io.WriteString(c, strings.Repeat(getReq, 3))
			br := bufio.NewReader(c)
			for i := range 3 {
				_, body := svRead(t, br, "GET")
				got, kernel, _ := strings.Cut(body, " ")
				ra, err := netip.ParseAddrPort(got)
				if err != nil || got != kernel || ra.Addr().Unmap() != local.Addr() || ra.Port() != local.Port() {
					t.Errorf("request %d: RemoteAddr %s, the kernel's %s, the client's %v", i, got, kernel, local)
				}
				if want := tc.listen == "[::]:0"; ra.Addr().Is4In6() != want {
					t.Errorf("request %d: RemoteAddr %s, want IPv4-mapped %v", i, got, want)
				}
			}
		})
	}
}

// TestHeader: the response fields, and what the server does with them.
func TestHeader(t *testing.T) {
	var h evhttp.Header
	h.Add("X-A", "1")
	h.Add("x-a", "2")
	h.Set("X-B", "3")
	h.Set("x-b", "4")
	var vals []string
	for v := range h.Values("X-A") {
		vals = append(vals, v)
	}
	if h.Get("X-A") != "1" || strings.Join(vals, ",") != "1,2" || h.Get("X-B") != "4" || h.Len() != 3 || !h.Has("x-B") {
		t.Errorf("Add/Set/Get: %v %q %q %d", vals, h.Get("X-A"), h.Get("X-B"), h.Len())
	}
	h.Del("x-a")
	var all []string
	for k, v := range h.All() {
		all = append(all, k+"="+v)
	}
	if strings.Join(all, " ") != "X-B=4" {
		t.Errorf("after Del: %q", all)
	}
	h.Reset()
	if h.Len() != 0 || h.Has("x-b") {
		t.Error("Reset")
	}

	s := svStart(t, &evhttp.Server{DisableKeepAlive: true, Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Header().Set("Bad Name", "dropped")
		w.Header().Set("X-Split", "a\r\nSet-Cookie: evil=1")
		w.Header().Set("Transfer-Encoding", "gzip")
		w.Header().Set("Date", "Tue, 01 Jan 2030 00:00:00 GMT")
		w.Header().Set("Server", "mine")
		w.WriteString("body")
	}), Name: "not-this"})
	c, br := svDial(t, s.addr)
	io.WriteString(c, getReq)
	head := readHead(t, br)
	want := "HTTP/1.1 200 OK\r\nX-Split: a  Set-Cookie: evil=1\r\nDate: X\r\nServer: mine\r\nContent-Length: 4\r\nConnection: close\r\n\r\n"
	if head != want {
		t.Errorf("head %q, want %q", head, want)
	}
	if body, _ := io.ReadAll(br); string(body) != "body" {
		t.Errorf("body %q", body)
	}
}
