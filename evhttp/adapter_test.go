package evhttp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// adStart serves h through evhttp.Adapt (see svStart), with a short idle
// timeout for the pool's goroutines unless opts sets one.
func adStart(t testing.TB, h http.Handler, opts *evhttp.AdapterConfig, srv *evhttp.Server) *svServer {
	t.Helper()
	opts, srv = adDefaults(opts, srv)
	srv.Handler = evhttp.Adapt(h, opts)
	return svStart(t, srv)
}

// adDefaults fills in adStart's defaults: a zero AdapterConfig and
// Server where nil, and a short idle timeout for the pool's goroutines.
func adDefaults(opts *evhttp.AdapterConfig, srv *evhttp.Server) (*evhttp.AdapterConfig, *evhttp.Server) {
	if opts == nil {
		opts = &evhttp.AdapterConfig{}
	}
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 100 * time.Millisecond
	}
	if srv == nil {
		srv = &evhttp.Server{}
	}
	return opts, srv
}

// adGet makes a GET with c and returns the response and its body.
func adGet(t *testing.T, c *http.Client, url string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	resp, body, _ := svDo(t, c, req)
	return resp, string(body)
}

// TestAdaptRequest: the http.Request a handler gets, from an origin-form
// and an absolute-form target, HTTP/1.1 and 1.0.
func TestAdaptRequest(t *testing.T) {
	got := make(chan string, 4)
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "%s url=%s path=%q query=%q proto=%s %d.%d host=%s uri=%s len=%d te=%q close=%v tls=%v",
			r.Method, r.URL, r.URL.Path, r.URL.RawQuery, r.Proto, r.ProtoMajor, r.ProtoMinor, r.Host,
			r.RequestURI, r.ContentLength, r.TransferEncoding, r.Close, r.TLS != nil)
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range r.Header {
				if !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			fmt.Fprintf(&b, " %s=%q", k, r.Header[k])
		}
		if _, _, err := net.SplitHostPort(r.RemoteAddr); err != nil {
			fmt.Fprintf(&b, " bad RemoteAddr %q", r.RemoteAddr)
		}
		if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); !ok || !strings.HasPrefix(la.String(), "127.0.0.1:") {
			fmt.Fprintf(&b, " bad LocalAddr %v", r.Context().Value(http.LocalAddrContextKey))
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(&b, " body=%q", body)
		got <- b.String()
		io.WriteString(w, "ok")
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST http://example.com/a%20b?x=1&y HTTP/1.1\r\nHost: example.com\r\nx-multi: 1\r\n"+
		"X-Multi: 2\r\naccept: */*\r\nPragma: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	if resp, body := svRead(t, br, "POST"); body != "ok" || resp.ContentLength != 2 {
		t.Errorf("response %v %q", resp.Status, body)
	}
	io.WriteString(c, "GET /p?q=%7E HTTP/1.0\r\nUser-Agent: t\r\n\r\n")
	svRead(t, br, "GET")
	for _, want := range []string{
		`POST url=http://example.com/a%20b?x=1&y path="/a b" query="x=1&y" proto=HTTP/1.1 1.1 host=example.com uri=http://example.com/a%20b?x=1&y len=-1 te=["chunked"] close=false tls=false Accept=["*/*"] Cache-Control=["no-cache"] Pragma=["no-cache"] X-Multi=["1" "2"] body="abc"`,
		`GET url=/p?q=%7E path="/p" query="q=%7E" proto=HTTP/1.0 1.0 host= uri=/p?q=%7E len=0 te=[] close=true tls=false User-Agent=["t"] body=""`,
	} {
		if g := <-got; g != want {
			t.Errorf("got  %s\nwant %s", g, want)
		}
	}
}

// TestAdaptGet: GETs from net/http's client on one kept-alive connection;
// Content-Type sniffed, Content-Length for a short body; HEAD.
func TestAdaptGet(t *testing.T) {
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/html":
			io.WriteString(w, "<!DOCTYPE html><p>hi</p>")
		case "/typed":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Add("X-Two", "a")
			w.Header().Add("X-Two", "b")
			w.WriteHeader(201)
			io.WriteString(w, `{"a":1}`)
		case "/notype":
			w.Header()["Content-Type"] = nil // net/http: no sniffing
			io.WriteString(w, "plain")
		case "/empty":
		default:
			io.WriteString(w, "Hello, World!")
		}
	}), nil, &evhttp.Server{Name: "eddy-test"})
	c := svClient(t)
	url := "http://" + s.addr
	for i := range 3 {
		req, _ := http.NewRequest("GET", url+"/", nil)
		resp, body, reused := svDo(t, c, req)
		if resp.StatusCode != 200 || string(body) != "Hello, World!" || resp.ContentLength != 13 ||
			resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Server") != "eddy-test" {
			t.Errorf("GET /: %v %q length %d header %v", resp.Status, body, resp.ContentLength, resp.Header)
		}
		if reused != (i > 0) {
			t.Errorf("request %d: reused %v", i, reused)
		}
	}
	for _, tc := range []struct{ path, status, ctype, body, extra string }{
		{"/html", "200 OK", "text/html; charset=utf-8", "<!DOCTYPE html><p>hi</p>", ""},
		{"/typed", "201 Created", "application/json", `{"a":1}`, "a,b"},
		{"/notype", "200 OK", "", "plain", ""},
		{"/empty", "200 OK", "", "", ""},
	} {
		resp, body := adGet(t, c, url+tc.path)
		if resp.Status != tc.status || resp.Header.Get("Content-Type") != tc.ctype || body != tc.body ||
			resp.ContentLength != int64(len(tc.body)) || strings.Join(resp.Header.Values("X-Two"), ",") != tc.extra {
			t.Errorf("GET %s: %v %q %q length %d %v", tc.path, resp.Status, resp.Header.Get("Content-Type"), body, resp.ContentLength, resp.Header)
		}
	}
	// HEAD: the head of GET, no body, then the next response in order.
	conn, br := svDial(t, s.addr)
	io.WriteString(conn, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET /html HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := svRead(t, br, "HEAD")
	if resp.StatusCode != 200 || resp.ContentLength != 13 || body != "" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("HEAD: %v length %d %q %v", resp.Status, resp.ContentLength, body, resp.Header)
	}
	if _, body := svRead(t, br, "GET"); body != "<!DOCTYPE html><p>hi</p>" {
		t.Errorf("GET after HEAD: %q", body)
	}
}

// TestAdaptPost echoes and sums large bodies, with a Content-Length and
// chunked, over one connection.
func TestAdaptPost(t *testing.T) {
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			w.Header().Set("Content-Type", "application/octet-stream")
			if _, err := io.Copy(w, r.Body); err != nil {
				t.Errorf("echo: %v", err)
			}
		case "/sum":
			h := sha256.New()
			n, err := io.Copy(h, r.Body)
			if err != nil {
				t.Errorf("sum: %v", err)
			}
			fmt.Fprintf(w, "%d %s", n, hex.EncodeToString(h.Sum(nil)))
		default:
			io.WriteString(w, "ignored")
		}
	}), nil, &evhttp.Server{MaxBodyBytes: 64 << 20})
	c := svClient(t)
	url := "http://" + s.addr
	data := svPostEcho(t, c, url)
	// A short body the handler ignores is dropped; the connection stays.
	req, _ := http.NewRequest("POST", url+"/ignore", bytes.NewReader(data[:100<<10]))
	svDo(t, c, req)
	req, _ = http.NewRequest("POST", url+"/sum", strings.NewReader("hello"))
	if _, got, reused := svDo(t, c, req); !reused || string(got) != svSum([]byte("hello")) {
		t.Errorf("after an ignored body: %q, reused %v", got, reused)
	}
}

// TestAdaptTrailer: the declared trailer keys before the body is read,
// their values after.
func TestAdaptTrailer(t *testing.T) {
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := fmt.Sprint(r.Trailer)
		body, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %v before=%s after=%v", body, err, before, r.Trailer)
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTrailer: x-sum\r\nTransfer-Encoding: chunked\r\n\r\n"+
		"5\r\nhello\r\n0\r\nX-Sum: 42\r\nx-other: 1\r\n\r\n")
	want := "hello <nil> before=map[X-Sum:[]] after=map[X-Other:[1] X-Sum:[42]]"
	if _, body := svRead(t, br, "POST"); body != want {
		t.Errorf("got  %s\nwant %s", body, want)
	}
}

// TestAdaptFlush: the client reads each flushed piece before the handler
// writes the next.
func TestAdaptFlush(t *testing.T) {
	next := make(chan struct{})
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for i := range 4 {
			fmt.Fprintf(w, "piece %d\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	}), nil, nil)
	resp, err := svClient(t).Get("http://" + s.addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if len(resp.TransferEncoding) != 1 || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("head: %q %v", resp.TransferEncoding, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	for i := range 4 {
		line, err := br.ReadString('\n')
		if want := fmt.Sprintf("piece %d\n", i); line != want || err != nil {
			t.Fatalf("read %q, %v; want %q", line, err, want)
		}
		next <- struct{}{}
	}
	if rest, err := io.ReadAll(br); len(rest) != 0 || err != nil {
		t.Errorf("after the pieces: %q, %v", rest, err)
	}
}

// TestAdaptExpectContinue: 100 Continue when the handler reads the body;
// none, and the connection closed, when it answers without reading.
func TestAdaptExpectContinue(t *testing.T) {
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/deny" {
			w.WriteHeader(401)
			return
		}
		io.Copy(w, r.Body)
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 100 {
		t.Fatalf("interim: %v, %v", resp, err)
	}
	io.WriteString(c, "hello")
	if resp, body := svRead(t, br, "POST"); resp.StatusCode != 200 || body != "hello" {
		t.Errorf("after 100 Continue: %v %q", resp.Status, body)
	}
	io.WriteString(c, "POST /deny HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	if resp, _ := svRead(t, br, "POST"); resp.StatusCode != 401 || !resp.Close {
		t.Errorf("refused: %v, Close %v", resp.Status, resp.Close)
	}
	svExpectEOF(t, c, br)

	// net/http's client waits for the 100 Continue.
	tr := &http.Transport{ExpectContinueTimeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest("POST", "http://"+s.addr+"/", strings.NewReader("body"))
	req.Header.Set("Expect", "100-continue")
	start := time.Now()
	resp, body, _ := svDo(t, &http.Client{Transport: tr}, req)
	if string(body) != "body" || time.Since(start) > 5*time.Second {
		t.Errorf("net/http with Expect: %v %q after %v", resp.Status, body, time.Since(start))
	}
}

// TestAdaptContextCancel: the request's context ends when the client
// leaves, when the server resets the connection, and when the handler
// returns; context.Cause tells which.
func TestAdaptContextCancel(t *testing.T) {
	started := make(chan struct{}, 4)
	causes := make(chan error, 4)
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if r.URL.Path == "/return" {
			go func() { <-ctx.Done(); causes <- context.Cause(ctx) }()
			io.WriteString(w, "returned")
			return
		}
		started <- struct{}{}
		<-ctx.Done()
		causes <- context.Cause(ctx)
	}), nil, nil)

	c, _ := svDial(t, s.addr)
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	c.Close()
	if err := waitCause(t, causes); !errors.Is(err, evnet.ErrEOF) {
		t.Errorf("client closed: cause %v, want %v", err, evnet.ErrEOF)
	}

	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /return HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, body := svRead(t, br, "GET"); body != "returned" {
		t.Errorf("body %q", body)
	}
	if err := waitCause(t, causes); err != context.Canceled {
		t.Errorf("handler returned: cause %v", err)
	}

	// A reset from the client (SO_LINGER 0).
	c, _ = svDial(t, s.addr)
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	if err := waitCause(t, causes); !errors.Is(err, evnet.ErrReset) && !errors.Is(err, evnet.ErrEOF) {
		t.Errorf("client reset: cause %v", err)
	}

	// Server.Close resets the connection.
	c, _ = svDial(t, s.addr)
	io.WriteString(c, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	<-started
	s.srv.Close()
	if err := waitCause(t, causes); !errors.Is(err, evnet.ErrAborted) {
		t.Errorf("server closed: cause %v, want %v", err, evnet.ErrAborted)
	}
}

func waitCause(t *testing.T, causes <-chan error) error {
	t.Helper()
	select {
	case err := <-causes:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("the context was not canceled")
		return nil
	}
}

// TestAdaptHijack: the handler takes the connection over, gets the bytes
// the client sent after the head, and talks its own protocol.
func TestAdaptHijack(t *testing.T) {
	errs := make(chan error, 4)
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errs <- func() error {
			if r.URL.Path == "/101" {
				w.Header().Set("Upgrade", "echo")
				w.Header().Set("Connection", "Upgrade")
				w.WriteHeader(http.StatusSwitchingProtocols)
			}
			conn, brw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return err
			}
			defer conn.Close()
			if _, _, err := w.(http.Hijacker).Hijack(); err != http.ErrHijacked {
				return fmt.Errorf("second Hijack: %v", err)
			}
			if _, err := w.Write([]byte("x")); err != http.ErrHijacked {
				return fmt.Errorf("Write after Hijack: %v", err)
			}
			if r.Context().Err() != nil {
				return fmt.Errorf("context canceled by the hijack: %v", context.Cause(r.Context()))
			}
			early := brw.Reader.Buffered()
			fmt.Fprintf(brw, "raw hello, %d early bytes\n", early)
			if err := brw.Flush(); err != nil {
				return err
			}
			for range 2 {
				line, err := brw.ReadString('\n')
				if err != nil {
					return err
				}
				fmt.Fprintf(conn, "got %s", line)
			}
			return nil
		}()
	}), nil, nil)

	for _, path := range []string{"/", "/101"} {
		c, br := svDial(t, s.addr)
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\nearly\n")
		if path == "/101" {
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "echo" {
				t.Fatalf("101: %v, %v", resp, err)
			}
		}
		line, err := br.ReadString('\n')
		if line != "raw hello, 6 early bytes\n" || err != nil {
			t.Fatalf("%s: %q, %v", path, line, err)
		}
		io.WriteString(c, "ping\n")
		for _, want := range []string{"got early\n", "got ping\n"} {
			if line, err := br.ReadString('\n'); line != want || err != nil {
				t.Errorf("%s: %q, %v; want %q", path, line, err, want)
			}
		}
		if err := <-errs; err != nil {
			t.Errorf("%s: handler: %v", path, err)
		}
		svExpectEOF(t, c, br)
	}
	// The server goes on serving, and Shutdown does not wait for the
	// hijacked connections (closed already here).
	if err := s.srv.Shutdown(context.Background()); err != nil {
		t.Error(err)
	}
}

// TestAdaptPoolBound: with 2 goroutines and a queue of 1, a fourth
// concurrent request gets 503, and the goroutines do not grow.
func TestAdaptPoolBound(t *testing.T) {
	var running, active atomic.Int64
	release := make(chan struct{})
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		running.Add(1)
		<-release
		io.WriteString(w, "done")
	}), &evhttp.AdapterConfig{Workers: 2, QueueLen: 1}, &evhttp.Server{
		ConnState: func(_ *evnet.Conn, st evhttp.ConnState) {
			if st == evhttp.StateActive {
				active.Add(1)
			}
		},
	})
	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	var held []client
	for range 3 {
		c, br := svDial(t, s.addr)
		io.WriteString(c, getReq)
		held = append(held, client{c, br})
	}
	// A connection turns active just before its request goes to the pool,
	// in the same callback of the loop: once the three are active, the
	// third request is queued before the loop reads a fourth.
	if !testutil.Eventually(5*time.Second, func() bool { return running.Load() == 2 && active.Load() == 3 }) {
		t.Fatalf("%d handlers running, %d connections active; want 2 and 3", running.Load(), active.Load())
	}
	before := runtime.NumGoroutine()
	for i := range 10 {
		c, br := svDial(t, s.addr)
		io.WriteString(c, getReq)
		resp, body := svRead(t, br, "GET")
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "1" || body != "503 Service Unavailable\n" {
			t.Errorf("request %d beyond the bound: %v %q %v", i+4, resp.Status, body, resp.Header)
		}
		c.Close()
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("goroutines grew from %d to %d", before, n)
	}
	if n := running.Load(); n != 2 {
		t.Errorf("%d handlers ran, want 2", n)
	}
	close(release)
	for i, h := range held {
		if resp, body := svRead(t, h.br, "GET"); resp.StatusCode != 200 || body != "done" {
			t.Errorf("held request %d: %v %q", i, resp.Status, body)
		}
	}
	if n := running.Load(); n != 3 {
		t.Errorf("%d handlers ran, want 3", n)
	}
}

// TestAdaptIdleConns: 100 keep-alive connections left idle after one
// request each hold no goroutine.
func TestAdaptIdleConns(t *testing.T) {
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "Hello, World!")
	}), &evhttp.AdapterConfig{IdleTimeout: 20 * time.Millisecond}, nil)
	// The pool's goroutines exit once idle: wait for the count to settle.
	settled := func(limit int) (int, bool) {
		n := 0
		ok := testutil.Eventually(5*time.Second, func() bool { n = runtime.NumGoroutine(); return n <= limit })
		return n, ok
	}
	before := runtime.NumGoroutine() // the server's loop is running; no request yet
	c, br := svDial(t, s.addr)
	io.WriteString(c, getReq)
	svRead(t, br, "GET")
	c.Close()
	if n, ok := settled(before); !ok {
		t.Fatalf("after one request: %d goroutines, %d before", n, before)
	}
	conns := make([]*bufio.Reader, 100)
	raw := make([]net.Conn, 100)
	for i := range conns {
		raw[i], conns[i] = svDial(t, s.addr)
		io.WriteString(raw[i], getReq)
		if _, body := svRead(t, conns[i], "GET"); body != "Hello, World!" {
			t.Fatalf("connection %d: %q", i, body)
		}
	}
	if n, ok := settled(before); !ok {
		t.Errorf("with 100 idle keep-alive connections: %d goroutines, %d before", n, before)
	}
	// They are alive: one more request on each.
	for i := range conns {
		io.WriteString(raw[i], getReq)
		if _, body := svRead(t, conns[i], "GET"); body != "Hello, World!" {
			t.Fatalf("connection %d, second request: %q", i, body)
		}
	}
}

// TestAdaptSlowReader: a handler streaming a large response to a client
// that does not read is held in Write; the server's memory stays bounded,
// and the whole response arrives once the client reads.
func TestAdaptSlowReader(t *testing.T) {
	const total = 64 << 20
	var written atomic.Int64
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		chunk := make([]byte, 64<<10)
		for written.Load() < total {
			n, err := w.Write(chunk)
			written.Add(int64(n))
			if err != nil {
				t.Errorf("write: %v", err)
				return
			}
		}
	}), nil, nil)
	c := testutil.DialRecvBuf(t, s.addr, 64<<10, 60*time.Second)
	br := bufio.NewReader(c)
	io.WriteString(c, getReq)
	last := stall(t, &written)
	if last >= 16<<20 {
		t.Errorf("the handler wrote %d bytes to a client that reads nothing", last)
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if n != total || err != nil {
		t.Errorf("read %d bytes, %v; want %d", n, err, total)
	}
	t.Logf("stalled at %d bytes", last)
}

// TestAdaptBodyBackpressure: a handler that stops reading the body stops
// the connection's reading: the client's upload stalls, then completes.
func TestAdaptBodyBackpressure(t *testing.T) {
	const total = 64 << 20
	release := make(chan struct{})
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var one [1]byte
		io.ReadFull(r.Body, one[:])
		<-release
		n, err := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "%d %v", n+1, err)
	}), &evhttp.AdapterConfig{MaxBodyBuffer: 32 << 10}, &evhttp.Server{MaxBodyBytes: -1})
	c, br := svDial(t, s.addr)
	c.(*net.TCPConn).SetWriteBuffer(64 << 10)
	c.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", total)
	var sent atomic.Int64
	done := make(chan error, 1)
	go func() {
		chunk := make([]byte, 64<<10)
		for sent.Load() < total {
			n, err := c.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	last := stall(t, &sent)
	if last >= 32<<20 {
		t.Errorf("the client sent %d bytes to a handler that reads nothing", last)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, body := svRead(t, br, "POST"); body != fmt.Sprintf("%d <nil>", total) {
		t.Errorf("body %q", body)
	}
	t.Logf("upload stalled at %d bytes", last)
}

// TestAdaptStdHandlers: handlers of the standard library answer through
// the adapter as under net/http's server.
func TestAdaptStdHandlers(t *testing.T) {
	dir := t.TempDir()
	files := map[string][]byte{
		"index.html":  []byte("<html><body>index</body></html>"),
		"a.txt":       bytes.Repeat([]byte("0123456789"), 100),
		"sub/b.json":  []byte(`{"b":true}`),
		"big.bin":     svPattern(300 << 10),
		"sub/c.css":   []byte("body{}"),
		"noext":       []byte("\x89PNG\r\n\x1a\n rest of a png"),
		"sub/d/e.txt": []byte("deep"),
	}
	mtime := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, mtime, mtime)
	}
	mux := http.NewServeMux()
	mux.Handle("/static/", http.StripPrefix("/static", http.FileServer(http.Dir(dir))))
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/a.txt", http.StatusFound)
	})
	mux.HandleFunc("/error", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "I'm a teapot", 418) })
	mux.HandleFunc("/notfound", http.NotFound)
	mux.HandleFunc("POST /form", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		fmt.Fprintf(w, "a=%s b=%s", r.PostForm.Get("a"), r.Form.Get("b"))
	})

	ours := adStart(t, mux, nil, nil)
	std := httptest.NewServer(mux)
	defer std.Close()
	c := svClient(t)
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	lastMod := mtime.Format(http.TimeFormat)
	for _, tc := range []struct {
		method, path string
		header       map[string]string
		body         string
	}{
		{"GET", "/static/", nil, ""},
		{"GET", "/static/index.html", nil, ""},
		{"GET", "/static/a.txt", nil, ""},
		{"GET", "/static/a.txt", map[string]string{"Range": "bytes=10-19"}, ""},
		{"GET", "/static/a.txt", map[string]string{"Range": "bytes=5000-"}, ""},
		{"GET", "/static/a.txt", map[string]string{"If-Modified-Since": lastMod}, ""},
		{"GET", "/static/big.bin", nil, ""},
		{"HEAD", "/static/big.bin", nil, ""},
		{"GET", "/static/big.bin", map[string]string{"Range": "bytes=100000-200000"}, ""},
		{"GET", "/static/noext", nil, ""},
		{"GET", "/static/sub", nil, ""},
		{"GET", "/static/sub/", nil, ""},
		{"GET", "/static/sub/b.json", nil, ""},
		{"GET", "/static/sub/c.css", nil, ""},
		{"GET", "/static/sub/d/e.txt", nil, ""},
		{"GET", "/static/missing", nil, ""},
		{"GET", "/static/../a.txt", nil, ""},
		{"GET", "/redirect", nil, ""},
		{"HEAD", "/redirect", nil, ""},
		{"GET", "/error", nil, ""},
		{"GET", "/notfound", nil, ""},
		{"GET", "/nothing/registered", nil, ""},
		{"POST", "/form?b=2", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=1"},
		{"PUT", "/form", nil, "x"},
	} {
		var results [2]string
		for i, base := range []string{"http://" + ours.addr, std.URL} {
			req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(tc.body))
			if tc.body == "" {
				req.Body = nil
			}
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			resp, body, _ := svDo(t, c, req)
			var b strings.Builder
			fmt.Fprintf(&b, "%s length=%d te=%q", resp.Status, resp.ContentLength, resp.TransferEncoding)
			for _, k := range []string{"Content-Type", "Content-Range", "Location", "Last-Modified", "Accept-Ranges", "X-Content-Type-Options", "Allow"} {
				if v := resp.Header.Values(k); len(v) > 0 {
					fmt.Fprintf(&b, " %s=%q", k, v)
				}
			}
			fmt.Fprintf(&b, " body=%d:%x", len(body), sha256.Sum256(body))
			results[i] = b.String()
		}
		if results[0] != results[1] {
			t.Errorf("%s %s %v:\nadapter  %s\nnet/http %s", tc.method, tc.path, tc.header, results[0], results[1])
		}
	}
}

// TestAdaptPanic: a panic is logged and answered 500 if nothing was sent,
// cut if something was; http.ErrAbortHandler closes quietly; the server
// goes on serving.
func TestAdaptPanic(t *testing.T) {
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/panic":
			io.WriteString(w, "lost")
			panic("test panic")
		case "/abort":
			panic(http.ErrAbortHandler)
		case "/late":
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("late panic")
		case "/goexit":
			runtime.Goexit()
		}
		io.WriteString(w, "fine")
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, body := svRead(t, br, "GET")
	if resp.StatusCode != 500 || !resp.Close || body != "500 Internal Server Error\n" {
		t.Errorf("/panic: %v Close %v %q", resp.Status, resp.Close, body)
	}
	svExpectEOF(t, c, br)
	if log := s.logs.String(); !strings.Contains(log, "test panic") || !strings.Contains(log, "adapter_test.go") {
		t.Errorf("panic not logged with its stack: %q", log)
	}

	for _, path := range []string{"/abort", "/goexit"} {
		c, br = svDial(t, s.addr)
		io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
		svExpectEOF(t, c, br)
	}

	c, br = svDial(t, s.addr)
	io.WriteString(c, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(resp.Body); string(b) != "partial" || err != io.ErrUnexpectedEOF {
		t.Errorf("/late: %q, %v; want a cut body", b, err)
	}
	if log := s.logs.String(); strings.Contains(log, "ErrAbortHandler") || strings.Contains(log, "abort Handler") {
		t.Errorf("ErrAbortHandler logged: %q", log)
	}

	c, br = svDial(t, s.addr)
	io.WriteString(c, getReq)
	if _, body := svRead(t, br, "GET"); body != "fine" {
		t.Errorf("after the panics: %q", body)
	}
}

// TestAdaptInterim: a 1xx status goes out at once with the fields set so
// far, then the final response.
func TestAdaptInterim(t *testing.T) {
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		io.WriteString(w, "hinted")
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, getReq)
	head := readHead(t, br)
	if want := "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload; as=style\r\n\r\n"; head != want {
		t.Errorf("interim %q, want %q", head, want)
	}
	if resp, body := svRead(t, br, "GET"); resp.StatusCode != 200 || body != "hinted" || resp.Header.Get("Link") != "" {
		t.Errorf("final: %v %q %v", resp.Status, body, resp.Header)
	}
}

// TestAdaptWriterErrors: the errors of net/http's ResponseWriter, and
// where Content-Length ends and chunking begins.
func TestAdaptWriterErrors(t *testing.T) {
	errs := make(chan string, 8)
	late := make(chan struct{})
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/long":
			w.Header().Set("Content-Length", "5")
			_, err1 := io.WriteString(w, "12345")
			_, err2 := io.WriteString(w, "6")
			errs <- fmt.Sprint(err1, " ", err2)
		case "/nocontent":
			w.WriteHeader(204)
			_, err := io.WriteString(w, "x")
			errs <- fmt.Sprint(err)
		case "/twice":
			w.WriteHeader(202)
			w.WriteHeader(500)
		case "/fits":
			w.Write(make([]byte, evhttp.DefaultAdapterWriteBuffer))
		case "/over":
			w.Write(make([]byte, evhttp.DefaultAdapterWriteBuffer+1))
		case "/after":
			go func() {
				<-late // the response is over: the handler has returned
				_, err := io.WriteString(w, "late")
				errs <- fmt.Sprint(err)
			}()
		}
	}), nil, nil)
	c := svClient(t)
	url := "http://" + s.addr
	_, body := adGet(t, c, url+"/long")
	if e := <-errs; body != "12345" || e != "<nil> http: wrote more than the declared Content-Length" {
		t.Errorf("/long: %q, errors %q", body, e)
	}
	resp, _ := adGet(t, c, url+"/nocontent")
	if e := <-errs; resp.StatusCode != 204 || e != http.ErrBodyNotAllowed.Error() {
		t.Errorf("/nocontent: %v, %q", resp.Status, e)
	}
	if resp, _ := adGet(t, c, url+"/twice"); resp.StatusCode != 202 || !strings.Contains(s.logs.String(), "superfluous WriteHeader(500)") {
		t.Errorf("/twice: %v, log %q", resp.Status, s.logs.String())
	}
	if resp, body := adGet(t, c, url+"/fits"); resp.ContentLength != int64(len(body)) || len(body) != evhttp.DefaultAdapterWriteBuffer {
		t.Errorf("/fits: length %d, %d bytes", resp.ContentLength, len(body))
	}
	if resp, body := adGet(t, c, url+"/over"); resp.ContentLength != -1 || len(resp.TransferEncoding) != 1 || len(body) != evhttp.DefaultAdapterWriteBuffer+1 {
		t.Errorf("/over: length %d %q, %d bytes", resp.ContentLength, resp.TransferEncoding, len(body))
	}
	if resp, body := adGet(t, c, url+"/after"); resp.ContentLength != 0 || body != "" {
		t.Errorf("/after: %d %q", resp.ContentLength, body)
	}
	close(late)
	if e := <-errs; !strings.Contains(e, "after the handler returned") {
		t.Errorf("write after return: %q", e)
	}
}

// TestAdaptResponseController: deadlines, full duplex and FlushError
// through http.ResponseController.
func TestAdaptResponseController(t *testing.T) {
	errs := make(chan error, 4)
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		switch r.URL.Path {
		case "/read":
			if err := rc.EnableFullDuplex(); err != nil {
				errs <- err
				return
			}
			rc.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			_, err := io.ReadAll(r.Body)
			errs <- err
			w.WriteHeader(408)
		case "/write":
			rc.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
			chunk := make([]byte, 64<<10)
			for {
				if _, err := w.Write(chunk); err != nil {
					errs <- err
					return
				}
			}
		case "/flush":
			io.WriteString(w, "flushed")
			errs <- rc.Flush()
		}
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
	if err := <-errs; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read deadline: %v", err)
	}
	if resp, _ := svRead(t, br, "POST"); resp.StatusCode != 408 {
		t.Errorf("after the read deadline: %v", resp.Status)
	}

	c, br = svDial(t, s.addr)
	c.(*net.TCPConn).SetReadBuffer(64 << 10)
	io.WriteString(c, "GET /write HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := <-errs; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write deadline: %v", err)
	}
	// The response is cut: the client gets an incomplete chunked body.
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != io.ErrUnexpectedEOF {
		t.Errorf("cut response: %v", err)
	}

	c, br = svDial(t, s.addr)
	io.WriteString(c, "GET /flush HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, body := svRead(t, br, "GET"); body != "flushed" || len(resp.TransferEncoding) != 1 {
		t.Errorf("/flush: %q %q", body, resp.TransferEncoding)
	}
	if err := <-errs; err != nil {
		t.Errorf("Flush: %v", err)
	}
}

// TestAdaptShutdown: a request in progress finishes, with Connection:
// close, and Shutdown returns.
func TestAdaptShutdown(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, getReq)
	<-started
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(context.Background()) }()
	// Shutdown has begun once the listener is closed.
	if !testutil.Eventually(5*time.Second, func() bool {
		c, err := net.Dial("tcp", s.addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	}) {
		t.Fatal("still accepting after Shutdown")
	}
	close(release)
	if resp, body := svRead(t, br, "GET"); body != "finished" || !resp.Close {
		t.Errorf("in-flight request: %q, Close %v", body, resp.Close)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestAdaptPipelined: pipelined requests are served one after the other,
// in order, as net/http does.
func TestAdaptPipelined(t *testing.T) {
	var running concurrent
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := running.during(5 * time.Millisecond)
		fmt.Fprintf(w, "%s %d", r.URL.Path, n)
	}), nil, nil)
	c, br := svDial(t, s.addr)
	var req strings.Builder
	for i := range 8 {
		fmt.Fprintf(&req, "GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i)
	}
	io.WriteString(c, req.String())
	for i := range 8 {
		if _, body := svRead(t, br, "GET"); body != fmt.Sprintf("/%d 1", i) {
			t.Errorf("response %d: %q", i, body)
		}
	}
}

// TestAdaptBodyTooLarge: a chunked body that grows past MaxBodyBytes
// fails the handler's Read with ErrBodyTooLarge, and the client gets 413.
func TestAdaptBodyTooLarge(t *testing.T) {
	errs := make(chan error, 1)
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := io.Copy(io.Discard, r.Body)
		errs <- err
		if _, err := io.WriteString(w, "never"); err == nil {
			w.(http.Flusher).Flush()
		}
	}), nil, &evhttp.Server{MaxBodyBytes: 1000})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
	for range 3 {
		fmt.Fprintf(c, "200\r\n%s\r\n", strings.Repeat("x", 0x200))
	}
	if err := <-errs; !errors.Is(err, evhttp.ErrBodyTooLarge) {
		t.Errorf("Read: %v, want ErrBodyTooLarge", err)
	}
	if resp, _ := svRead(t, br, "POST"); resp.StatusCode != 413 || !resp.Close {
		t.Errorf("%v, Close %v", resp.Status, resp.Close)
	}
}

// TestAdaptUnixSocket: over a Unix socket, RemoteAddr is "@" as net/http
// gives it, the context has no local address, and Hijack gives a
// *net.UnixConn.
func TestAdaptUnixSocket(t *testing.T) {
	got := make(chan string, 1)
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			got <- err.Error()
			return
		}
		defer conn.Close()
		got <- fmt.Sprintf("%s %v %T", r.RemoteAddr, r.Context().Value(http.LocalAddrContextKey), conn)
		brw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nraw")
		brw.Flush()
	}), nil, nil)
	path := t.TempDir() + "/s.sock"
	errc := make(chan error, 1)
	s.l.Post(func() { _, err := s.srv.Serve(s.l, "unix", path); errc <- err })
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, getReq)
	if resp, body := svRead(t, bufio.NewReader(c), "GET"); body != "raw" {
		t.Errorf("%v %q", resp.Status, body)
	}
	if g := <-got; g != "@ <nil> *net.UnixConn" {
		t.Errorf("got %q", g)
	}
}

// stall waits until n has moved, then not moved for 200ms on end, and
// returns where it stopped. It polls, with a deadline: a stall is the
// absence of progress across a handler's goroutine, the loop and the
// kernel's buffers (a client's too), which no barrier spans.
func stall(t *testing.T, n *atomic.Int64) int64 {
	t.Helper()
	start := n.Load()
	last, since := start, time.Now()
	if !testutil.Eventually(30*time.Second, func() bool {
		if v := n.Load(); v != last {
			last, since = v, time.Now()
		}
		return last != start && time.Since(since) >= 200*time.Millisecond
	}) {
		t.Fatalf("still moving after 30s, at %d", last)
	}
	return last
}

// concurrent counts the handlers that run at once.
type concurrent struct {
	mu sync.Mutex
	n  int
}

// during counts one more handler running for d, and returns how many ran
// then, this one included.
func (c *concurrent) during(d time.Duration) int {
	c.mu.Lock()
	c.n++
	n := c.n
	c.mu.Unlock()
	// Not a wait for an event: the handler stays running for d, a window
	// in which another one wrongly run beside it is counted.
	time.Sleep(d)
	c.mu.Lock()
	c.n--
	c.mu.Unlock()
	return n
}

// TestAdaptLoopClosed: a handler blocked in Write, its client not
// reading, gets an error when the loop is closed without Server.Close
// (the loop's connections close with it).
func TestAdaptLoopClosed(t *testing.T) {
	ret := make(chan error, 1)
	started := make(chan struct{})
	var written atomic.Int64
	opts, _ := adDefaults(nil, nil)
	srv := &evhttp.Server{Handler: evhttp.Adapt(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		chunk := make([]byte, 64<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				ret <- err
				return
			}
			written.Add(1)
		}
	}), opts)}
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, getReq)
	<-started
	// Wait until the handler's output has filled the buffers and Write
	// blocks (it fails after the loop closes whenever it was called).
	stall(t, &written)
	l.Post(func() { l.Break(eddy.BreakAll) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-ret:
		if err == nil {
			t.Error("Write failed with a nil error")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the handler is still blocked in Write after the loop closed")
	}
}

// TestAdaptUnreadBody: a body the handler leaves unread is dropped when
// short, chunked or not, and the connection serves the next request; a
// rest over 256 KiB closes the connection after the response. Native handlers
// (which never ask for the body) and adapted ones that read some of it
// behave alike, as net/http does with its 256 KiB.
func TestAdaptUnreadBody(t *testing.T) {
	native := evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.WriteString("ok")
	})
	adapted := evhttp.Adapt(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [1]byte
		io.ReadFull(r.Body, b[:])
		io.WriteString(w, "ok")
	}), &evhttp.AdapterConfig{IdleTimeout: 100 * time.Millisecond})
	for _, tc := range []struct {
		name string
		h    evhttp.Handler
	}{{"native", native}, {"adapted", adapted}} {
		s := svStart(t, &evhttp.Server{Handler: tc.h})
		for _, chunked := range []bool{false, true} {
			for _, size := range []int{64 << 10, 1 << 20} {
				body := strings.Repeat("x", size)
				head := fmt.Sprintf("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size)
				if chunked {
					var b strings.Builder
					for i := 0; i < size; i += 16 << 10 {
						fmt.Fprintf(&b, "%x\r\n%s\r\n", 16<<10, body[i:i+16<<10])
					}
					b.WriteString("0\r\n\r\n")
					head, body = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", b.String()
				}
				c, br := svDial(t, s.addr)
				go io.WriteString(c, head+body+getReq) // may fail once the server closes
				resp, got := svRead(t, br, "POST")
				keep := size < 256<<10
				// A length tells at once that the rest is long: the head
				// says close. A chunked rest is found long while dropped,
				// after the head: the connection closes then.
				if got != "ok" || resp.Close != (!keep && !chunked) {
					t.Errorf("%s chunked=%v %d: %q, Connection: close %v", tc.name, chunked, size, got, resp.Close)
				}
				if keep {
					if _, got := svRead(t, br, "GET"); got != "ok" {
						t.Errorf("%s chunked=%v %d: next request got %q", tc.name, chunked, size, got)
					}
				} else if _, err := br.ReadByte(); err == nil {
					t.Errorf("%s chunked=%v %d: the connection stayed open", tc.name, chunked, size)
				}
				c.Close()
			}
		}
	}
}

// TestAdaptHijackState: a hijacked connection's last state is
// StateHijacked, with no StateClosed after it, as in net/http.
func TestAdaptHijackState(t *testing.T) {
	var mu sync.Mutex
	var states []string
	done := make(chan struct{})
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		io.WriteString(conn, "raw")
		conn.Close()
	}), nil, &evhttp.Server{ConnState: func(_ *evnet.Conn, st evhttp.ConnState) {
		mu.Lock()
		states = append(states, st.String())
		mu.Unlock()
	}})
	c, br := svDial(t, s.addr)
	io.WriteString(c, getReq)
	<-done
	if b, err := io.ReadAll(br); string(b) != "raw" || err != nil {
		t.Errorf("read %q, %v", b, err)
	}
	s.do(func() {}) // the loop is past the detach
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(states, " "); got != "new active hijacked" {
		t.Errorf("states %q, want \"new active hijacked\"", got)
	}
}

// TestAdaptUpgrade: UpgradeAdapted switches a connection to an evnet
// handler on its loop, the fields set in the header in the 101 and the
// bytes sent after the request first to OnData; it refuses a request that
// does not offer the protocol, a response whose head was written, a
// second call, and a ResponseWriter not the adapter's. Over TLS the same
// works, and Hijack is refused with ErrHijackTLS.
func TestAdaptUpgrade(t *testing.T) {
	echo := evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int {
		c.Write(append([]byte("echo: "), p...))
		return len(p)
	}}
	errs := make(chan error, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		errs <- func() error {
			switch r.URL.Path {
			case "/head":
				w.WriteHeader(200)
				if err := evhttp.UpgradeAdapted(w, "echo", echo); err != evhttp.ErrHeadSent {
					return fmt.Errorf("after WriteHeader: %v", err)
				}
				return nil
			case "/hijack":
				_, _, err := w.(http.Hijacker).Hijack()
				if r.TLS != nil && err != evhttp.ErrHijackTLS {
					return fmt.Errorf("Hijack over TLS: %v", err)
				}
				if r.TLS != nil {
					w.WriteHeader(409)
				}
				return nil
			}
			w.Header().Set("X-Proto", "echo/1")
			if err := evhttp.UpgradeAdapted(w, "echo", echo); err != nil {
				if errors.Is(err, evhttp.ErrNotUpgrade) && r.Header.Get("Upgrade") == "" {
					w.WriteHeader(400)
					return nil
				}
				return err
			}
			if err := evhttp.UpgradeAdapted(w, "echo", echo); err != http.ErrHijacked {
				return fmt.Errorf("second UpgradeAdapted: %v", err)
			}
			if _, err := w.Write([]byte("x")); err != http.ErrHijacked {
				return fmt.Errorf("Write after UpgradeAdapted: %v", err)
			}
			return nil
		}()
	})
	if err := evhttp.UpgradeAdapted(httptest.NewRecorder(), "echo", echo); err != evhttp.ErrNotAdapted {
		t.Errorf("a recorder: %v, want ErrNotAdapted", err)
	}
	for _, secure := range []bool{false, true} {
		srv := &evhttp.Server{Handler: evhttp.Adapt(h, nil)}
		var c net.Conn
		var br *bufio.Reader
		if secure {
			srv.ListenConfig.TLS = &evnet.TLSConfig{Config: testutil.TestPKI(t).ServerConfig()}
			s := svStart(t, srv)
			tc, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: testutil.TestPKI(t).CAPool, ServerName: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			tc.SetDeadline(time.Now().Add(10 * time.Second))
			t.Cleanup(func() { tc.Close() })
			c, br = tc, bufio.NewReader(tc)
		} else {
			c, br = svDial(t, svStart(t, srv).addr)
		}
		io.WriteString(c, "GET /head HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 200 {
			t.Fatalf("tls %v: /head: %v, %v", secure, resp, err)
		}
		io.WriteString(c, "GET /none HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 400 {
			t.Fatalf("tls %v: no Upgrade field: %v, %v", secure, resp, err)
		}
		if secure {
			io.WriteString(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n")
			if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != 409 {
				t.Fatalf("hijack over TLS: %v, %v", resp, err)
			}
		}
		io.WriteString(c, "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nearly")
		resp, err := http.ReadResponse(br, nil)
		if err != nil || resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "echo" || resp.Header.Get("X-Proto") != "echo/1" {
			t.Fatalf("tls %v: 101: %v, %v", secure, resp, err)
		}
		got := make([]byte, len("echo: early"))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != "echo: early" {
			t.Fatalf("tls %v: %q, %v", secure, got, err)
		}
		io.WriteString(c, "ping")
		got = got[:len("echo: ping")]
		if _, err := io.ReadFull(br, got); err != nil || string(got) != "echo: ping" {
			t.Fatalf("tls %v: %q, %v", secure, got, err)
		}
		for range 3 + btoi(secure) {
			if err := <-errs; err != nil {
				t.Errorf("tls %v: handler: %v", secure, err)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
