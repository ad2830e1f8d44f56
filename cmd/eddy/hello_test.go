package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
)

const (
	// helloResponse is the exact answer to a keep-alive GET.
	helloResponse = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!"
	// closeResponse is the exact answer to a GET that closes.
	closeResponse = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nHello, World!"
	// getRequest is what the bench's httpcheck sends.
	getRequest = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
)

// testServer is a hello server running on its own loop in a goroutine.
type testServer struct {
	addr string
	loop *eddy.Loop
	srv  *helloServer
}

// startHello starts a hello server on 127.0.0.1 and a free port; it is
// stopped, and its loop closed, when the test ends.
func startHello(t *testing.T) *testServer {
	t.Helper()
	l, err := eddy.NewLoop(&eddy.Config{Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	fd, err := listenTCP(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	ap, err := localAddr(fd)
	if err != nil {
		unix.Close(fd)
		l.Close()
		t.Fatal(err)
	}
	srv, err := newHelloServer(l, fd, testLog{t})
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	t.Cleanup(func() {
		l.Post(srv.close) // with nothing active left, Run returns
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the loop did not stop after close")
		}
		l.Close()
	})
	return &testServer{addr: ap.String(), loop: l, srv: srv}
}

// onLoop runs f on the server's loop goroutine and waits for it: the way
// a test looks at the server's state without a data race.
func (ts *testServer) onLoop(f func()) {
	done := make(chan struct{})
	ts.loop.Post(func() { f(); close(done) })
	<-done
}

// barrier returns once the server's loop has handled everything the
// clients sent before the call, and everything that started: the way to
// know that nothing more will come, instead of waiting a while. Bytes
// written to a loopback socket are in the server's receive queue when the
// write returns; two Post round trips cover the iteration that reads them
// and the one after (see testloop.Barrier).
func (ts *testServer) barrier() {
	ts.onLoop(func() {})
	ts.onLoop(func() {})
}

// conn returns the server's only connection, waiting for it to be
// accepted; f runs on the loop with it.
func (ts *testServer) withConn(t *testing.T, f func(c *helloConn)) {
	t.Helper()
	var found bool
	if !testutil.Eventually(5*time.Second, func() bool {
		ts.onLoop(func() {
			for c := range ts.srv.conns {
				f(c)
				found = true
			}
		})
		return found
	}) {
		t.Fatal("the server did not accept the connection")
	}
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

// dial connects to the server; the connection has a 10s deadline and is
// closed when the test ends.
func dial(t *testing.T, addr string) *net.TCPConn {
	t.Helper()
	return dialWith(t, addr, net.Dialer{})
}

func dialWith(t *testing.T, addr string, d net.Dialer) *net.TCPConn {
	t.Helper()
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

// expect reads exactly len(want) bytes and compares them with want.
func expect(t *testing.T, c net.Conn, want string) {
	t.Helper()
	got := make([]byte, len(want))
	n, err := io.ReadFull(c, got)
	if err != nil {
		t.Fatalf("read %d of %d bytes: %v; got %q", n, len(want), err, clip(got[:n]))
	}
	if string(got) != want {
		t.Fatalf("got %q\nwant %q", clip(got), clip([]byte(want)))
	}
}

// expectEOF reads up to the end of the stream, which must be a clean EOF
// (a FIN, not a reset), after exactly want.
func expectEOF(t *testing.T, c net.Conn, want string) {
	t.Helper()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("reading to EOF: %v; got %q", err, clip(got))
	}
	if string(got) != want {
		t.Fatalf("got %q\nwant %q", clip(got), clip([]byte(want)))
	}
}

// expectNothing checks that the server has sent nothing more on c, and
// has not closed it, once it has handled all it was sent (barrier): a
// nonblocking peek must find the receive queue empty.
func expectNothing(t *testing.T, ts *testServer, c *net.TCPConn) {
	t.Helper()
	ts.barrier()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var b [64]byte
	var n int
	var peekErr error
	if err := rc.Read(func(fd uintptr) bool {
		n, _, peekErr = unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		return true // one look, never a wait
	}); err != nil {
		t.Fatal(err)
	}
	switch {
	case peekErr == unix.EAGAIN:
	case peekErr != nil:
		t.Fatalf("want nothing more, got %v", peekErr)
	case n == 0:
		t.Fatalf("want nothing more, got EOF")
	default:
		t.Fatalf("want nothing more, got %q", b[:n])
	}
}

func clip(b []byte) []byte {
	if len(b) > 300 {
		return append(b[:300:300], "..."...)
	}
	return b
}

func writeString(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s); err != nil {
		t.Fatal(err)
	}
}

func TestHelloCurl(t *testing.T) {
	curl := testutil.NeedPeer(t, "curl", "curl")
	ts := startHello(t)
	url := "http://" + ts.addr + "/"
	cmd := exec.Command(curl, "-s", "-v", "--max-time", "5", url, url+"again")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, stderr.Bytes())
	}
	if string(out) != helloBody+helloBody {
		t.Errorf("curl printed %q, want the body twice", out)
	}
	if !strings.Contains(stderr.String(), "Re-using existing connection") {
		t.Errorf("curl did not reuse the connection:\n%s", stderr.Bytes())
	}
	// HEAD: the headers of a GET without the body.
	out, err = exec.Command(curl, "-s", "-I", "--max-time", "5", url).Output()
	if err != nil {
		t.Fatalf("curl -I: %v", err)
	}
	if want := strings.TrimSuffix(helloResponse, helloBody); string(out) != want {
		t.Errorf("curl -I printed %q, want %q", out, want)
	}
}

func TestHelloNetHTTP(t *testing.T) {
	ts := startHello(t)
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	url := "http://" + ts.addr + "/path?q=1"

	do := func(req *http.Request) (*http.Response, string, bool) {
		t.Helper()
		var reused bool
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
		}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(body), reused
	}
	for i := range 3 {
		req, _ := http.NewRequest("GET", url, nil)
		resp, body, reused := do(req)
		if resp.StatusCode != 200 || body != helloBody || resp.ContentLength != 13 ||
			resp.Header.Get("Content-Type") != "text/plain" || resp.Close {
			t.Fatalf("GET %d: %s %q %v close=%v", i, resp.Status, body, resp.Header, resp.Close)
		}
		if i > 0 && !reused {
			t.Errorf("GET %d did not reuse the connection", i)
		}
	}
	req, _ := http.NewRequest("HEAD", url, nil)
	if resp, body, _ := do(req); resp.StatusCode != 200 || body != "" || resp.ContentLength != 13 {
		t.Errorf("HEAD: %s %q length %d", resp.Status, body, resp.ContentLength)
	}
	req, _ = http.NewRequest("GET", url, nil)
	req.Close = true // Connection: close
	if resp, body, _ := do(req); resp.StatusCode != 200 || body != helloBody || !resp.Close {
		t.Errorf("GET with Connection: close: %s %q close=%v", resp.Status, body, resp.Close)
	}
	req, _ = http.NewRequest("POST", url, strings.NewReader("a body"))
	if resp, _, _ := do(req); resp.StatusCode != 400 || !resp.Close {
		t.Errorf("POST with a body: %s close=%v, want 400 and close", resp.Status, resp.Close)
	}
}

func TestHelloExactResponse(t *testing.T) {
	ts := startHello(t)
	c := dial(t, ts.addr)
	for range 2 {
		writeString(t, c, getRequest)
		expect(t, c, helloResponse)
		expectNothing(t, ts, c)
	}
}

func TestHelloPipelined(t *testing.T) {
	ts := startHello(t)
	c := dial(t, ts.addr)
	writeString(t, c, strings.Repeat(getRequest, 16))
	expect(t, c, strings.Repeat(helloResponse, 16))
	expectNothing(t, ts, c)
}

func TestHelloFragmented(t *testing.T) {
	ts := startHello(t)
	c := dial(t, ts.addr)
	batch := strings.Repeat(getRequest, 16)
	errc := make(chan error, 1)
	go func() { // dribble while the test reads
		for i := 0; i < len(batch); i += 7 {
			if _, err := io.WriteString(c, batch[i:min(i+7, len(batch))]); err != nil {
				errc <- err
				return
			}
			ts.barrier() // the server reads each piece on its own
		}
		errc <- nil
	}()
	expect(t, c, strings.Repeat(helloResponse, 16))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	expectNothing(t, ts, c)
}

// smallRecvBuf makes a client socket with a small receive buffer, so that
// the server's responses back up into its send queue.
var smallRecvBuf = net.Dialer{Control: testutil.BufferControl(4096, 0)}

// shrinkSendBuf gives the server's side of its only connection a small
// send buffer, so that large batches of responses make writes partial.
func shrinkSendBuf(t *testing.T, ts *testServer) {
	t.Helper()
	ts.withConn(t, func(c *helloConn) {
		if err := unix.SetsockoptInt(c.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
			t.Error(err)
		}
	})
}

func TestHelloPipeline1k(t *testing.T) {
	ts := startHello(t)
	c := dialWith(t, ts.addr, smallRecvBuf)
	shrinkSendBuf(t, ts)
	errc := make(chan error, 1)
	go func() { // write while reading, or a large batch could deadlock
		_, err := io.WriteString(c, strings.Repeat(getRequest, 1024))
		errc <- err
	}()
	// Read nothing until the server has filled its send buffer (a write
	// the kernel did not take whole).
	if !testutil.Eventually(5*time.Second, func() bool {
		var stalls uint64
		ts.onLoop(func() { stalls = ts.srv.stalls })
		return stalls > 0
	}) {
		t.Error("no write was partial: the test did not exercise the output queue")
	}
	expect(t, c, strings.Repeat(helloResponse, 1024))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	expectNothing(t, ts, c)
}

func TestHelloBackpressure(t *testing.T) {
	ts := startHello(t)
	c := dialWith(t, ts.addr, smallRecvBuf)
	shrinkSendBuf(t, ts)
	const n = 20000
	errc := make(chan error, 1)
	go func() {
		_, err := io.WriteString(c, strings.Repeat(getRequest, n))
		errc <- err
	}()
	// The client reads nothing: the server must stop reading once its
	// queue passes maxQueued, and the queue must stay bounded.
	var paused bool
	var queued int
	testutil.Eventually(5*time.Second, func() bool {
		ts.withConn(t, func(hc *helloConn) {
			queued = len(hc.out)
			paused = hc.io.Events()&eddy.Read == 0
		})
		return paused
	})
	if !paused {
		t.Fatalf("the server kept reading with %d bytes queued", queued)
	}
	// One read can add at most a read buffer full of minimal requests'
	// worth of responses on top of maxQueued.
	minRequest := len("GET / HTTP/1.1\r\n\r\n")
	if limit := maxQueued + (readBufferSize/minRequest+1)*len(helloResponse); queued > limit {
		t.Errorf("%d bytes queued, more than %d", queued, limit)
	}
	expect(t, c, strings.Repeat(helloResponse, n))
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	expectNothing(t, ts, c)
	ts.withConn(t, func(hc *helloConn) {
		if hc.io.Events() != eddy.Read || len(hc.out) != 0 {
			t.Errorf("after the queue drained: events %v, %d bytes queued; want Read only, nothing queued", hc.io.Events(), len(hc.out))
		}
	})
}

func TestHelloConnectionClose(t *testing.T) {
	ts := startHello(t)
	c := dial(t, ts.addr)
	// The request after the one that closes is never answered.
	writeString(t, c, "GET / HTTP/1.1\r\nHost: a\r\nConnection: Keep-Alive, CLOSE\r\n\r\n"+getRequest)
	expectEOF(t, c, closeResponse)
}

// TestHelloLingeringClose sends a lot after a request that closes: the
// server must not reset the connection before the client has read the
// response (it shuts down its side and drains instead).
func TestHelloLingeringClose(t *testing.T) {
	ts := startHello(t)
	c := dial(t, ts.addr)
	go io.WriteString(c, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n"+strings.Repeat("x", 1<<20))
	// Read nothing until the server has answered, shut down its side and
	// lingers, with input still coming: a server that closed at once
	// would reset the connection, destroying the unread answer.
	if !testutil.Eventually(5*time.Second, func() bool {
		lingering := false
		ts.onLoop(func() {
			for hc := range ts.srv.conns {
				lingering = hc.state == stateLingering
			}
		})
		return lingering
	}) {
		t.Fatal("the server never lingered")
	}
	expectEOF(t, c, closeResponse)
}

func TestHelloHTTP10(t *testing.T) {
	ts := startHello(t)
	c := dial(t, ts.addr)
	writeString(t, c, "GET / HTTP/1.0\r\n\r\n")
	expectEOF(t, c, closeResponse)

	c = dial(t, ts.addr)
	keep := "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: keep-alive\r\n\r\nHello, World!"
	for range 2 {
		writeString(t, c, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		expect(t, c, keep)
	}
	expectNothing(t, ts, c)
}

func TestHelloBadRequests(t *testing.T) {
	ts := startHello(t)
	for _, req := range []string{
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"GARBAGE\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET /a b HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nNo colon\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
		"GET / HTTP/1.1\r\nBare: \n lf\r\n\r\n",
	} {
		c := dial(t, ts.addr)
		writeString(t, c, req+getRequest)
		expectEOF(t, c, response400)
		c.Close()
	}
	// Content-Length: 0 is no body, and fine; so are empty lines between
	// requests.
	c := dial(t, ts.addr)
	writeString(t, c, "GET / HTTP/1.1\r\ncontent-length:  0 \r\n\r\n\r\n"+getRequest)
	expect(t, c, helloResponse+helloResponse)
	expectNothing(t, ts, c)
}

func TestHelloHeaderTooLarge(t *testing.T) {
	ts := startHello(t)
	head := func(size int) string { // a head of exactly size bytes
		start := "GET / HTTP/1.1\r\nX-Fill: "
		return start + strings.Repeat("f", size-len(start)-4) + "\r\n\r\n"
	}
	c := dial(t, ts.addr)
	writeString(t, c, head(maxHeaderBytes))
	expect(t, c, helloResponse)

	for _, req := range []string{
		head(maxHeaderBytes + 1),
		strings.Repeat("a", maxHeaderBytes), // incomplete, and already too long
	} {
		c := dial(t, ts.addr)
		writeString(t, c, req)
		expectEOF(t, c, response431)
	}
	// Dribbled: the limit holds across reads too.
	c = dial(t, ts.addr)
	big := head(3 * maxHeaderBytes)
	for i := 0; i < len(big); i += 1000 {
		if _, err := io.WriteString(c, big[i:min(i+1000, len(big))]); err != nil {
			break // the server may have closed already
		}
	}
	expectEOF(t, c, response431)
}

func TestHelloClientHalfClose(t *testing.T) {
	ts := startHello(t)
	// A request in two pieces, then EOF: answered, then closed.
	c := dial(t, ts.addr)
	writeString(t, c, getRequest[:10])
	ts.barrier() // the server has read the first piece alone
	writeString(t, c, getRequest[10:])
	c.CloseWrite()
	expectEOF(t, c, helloResponse)
	// A partial request, then EOF: closed without an answer.
	c = dial(t, ts.addr)
	writeString(t, c, getRequest[:10])
	c.CloseWrite()
	expectEOF(t, c, "")
}

func TestHelloStopClosesConnections(t *testing.T) {
	ts := startHello(t)
	var conns []*net.TCPConn
	for range 3 {
		c := dial(t, ts.addr)
		writeString(t, c, getRequest)
		expect(t, c, helloResponse)
		conns = append(conns, c)
	}
	ts.onLoop(ts.srv.close)
	for _, c := range conns {
		expectEOF(t, c, "")
	}
	if _, err := net.DialTimeout("tcp", ts.addr, time.Second); err == nil {
		t.Error("the listener still accepts after close")
	}
}

func TestHelloIPv6(t *testing.T) {
	fd, err := listenTCP(netip.MustParseAddrPort("[::1]:0"))
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	defer unix.Close(fd)
	ap, err := localAddr(fd)
	if err != nil || !ap.Addr().Is6() || ap.Port() == 0 {
		t.Fatalf("bound to %v, %v", ap, err)
	}
	c, err := net.Dial("tcp", ap.String())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestDispatch(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{nil, 2, "usage: eddy <command>"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"-h"}, 0, "hello"},
		{[]string{"help", "hello"}, 0, "usage: eddy hello"},
		{[]string{"hello", "-h"}, 0, "-addr IP:PORT"},
		{[]string{"hello", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"hello", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"hello", "-addr", "localhost:80"}, 2, "-addr"},
		{[]string{"hello", "-stats", "-1s"}, 2, "negative"},
		{[]string{"hello", "-backend", "select"}, 2, "unknown backend"},
		{[]string{"hello", "-h"}, 0, "auto: " + eddy.Backends()[0]},
		{[]string{"serve", "-backend", "select", "-addr", "127.0.0.1:0"}, 2, "unknown backend"},
		{[]string{"echo", "-backend", "select", "-addr", "127.0.0.1:0"}, 2, "unknown backend"},
	} {
		var stdout, stderr bytes.Buffer
		status := dispatch(tc.args, &stdout, &stderr)
		if status != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("eddy %s: status %d, stderr:\n%s\nwant status %d and %q",
				strings.Join(tc.args, " "), status, stderr.String(), tc.status, tc.stderr)
		}
	}
	// Every command has a name, a summary, and a usage message.
	for _, c := range commands {
		var stderr bytes.Buffer
		if c.summary == "" || c.run([]string{"-h"}, io.Discard, &stderr) != 0 ||
			!strings.Contains(stderr.String(), fmt.Sprintf("usage: eddy %s", c.name)) {
			t.Errorf("command %q: no summary or usage", c.name)
		}
	}
}
