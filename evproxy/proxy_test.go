package evproxy_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evproxy"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// startProxy serves a Proxy configured by cfg on a loop of its own and
// returns its address.
func startProxy(t *testing.T, cfg *evproxy.Config) string {
	t.Helper()
	addr, _ := serveProxy(t, cfg)
	return addr
}

// serveProxy is startProxy, which also returns the Proxy.
func serveProxy(t *testing.T, cfg *evproxy.Config) (string, *evproxy.Proxy) {
	t.Helper()
	rl := testloop.Start(t)
	p, err := evproxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := &evhttp.Server{Handler: p, MaxBodyBytes: -1}
	var addr string
	rl.Do(func() {
		ln, err := srv.Serve(rl.Loop, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
	})
	t.Cleanup(func() { srv.Close(); p.Close(); rl.Barrier() })
	return addr, p
}

// stdUpstream is an httptest server whose handler is h.
func stdUpstream(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// rawUpstream accepts connections on a goroutine and serves the n-th
// (from 1) with serve.
func rawUpstream(t *testing.T, serve func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				serve(n, c)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readHead reads a request or response head from br.
func readHead(br *bufio.Reader) string {
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil || line == "\r\n" {
			return b.String()
		}
	}
}

var client = &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 20 * time.Second}

func randomBody(n int) []byte {
	p := make([]byte, n)
	r := rand.NewChaCha8([32]byte{byte(n)})
	r.Read(p)
	return p
}

func sum(p []byte) string { s := sha256.Sum256(p); return hex.EncodeToString(s[:]) }

// TestStreamBothWays posts 8 MiB, with a length and chunked, and gets
// 8 MiB back, with a length and chunked; the upstream returns the hash of
// what it received in a trailer, which the proxy passes on.
func TestStreamBothWays(t *testing.T) {
	const size = 8 << 20
	down := randomBody(size)
	upstream := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		io.Copy(h, r.Body)
		if r.URL.Query().Get("length") == "1" {
			w.Header().Set("Content-Length", fmt.Sprint(size))
		} else {
			w.Header().Set("Trailer", "X-Request-Sha")
		}
		w.Write(down)
		w.Header().Set("X-Request-Sha", hex.EncodeToString(h.Sum(nil)))
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	up := randomBody(size + 1)
	for _, chunked := range []bool{false, true} {
		for _, length := range []string{"0", "1"} {
			var body io.Reader = bytes.NewReader(up)
			if chunked {
				body = io.MultiReader(body) // no length known: chunked
			}
			resp, err := client.Post("http://"+addr+"/echo?length="+length, "application/octet-stream", body)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || sum(got) != sum(down) {
				t.Fatalf("chunked=%v length=%s: %d, read %d bytes (%.60q), %v", chunked, length, resp.StatusCode, len(got), got, err)
			}
			if length == "0" && resp.Trailer.Get("X-Request-Sha") != sum(up) {
				t.Errorf("chunked=%v: trailer %q, want the request's hash", chunked, resp.Trailer.Get("X-Request-Sha"))
			}
			if length == "1" && resp.ContentLength != size {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, size)
			}
		}
	}
}

// TestHopByHop checks the fields removed and added both ways.
func TestHopByHop(t *testing.T) {
	seen := make(chan http.Header, 1)
	var host string
	upstream := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		seen <- h
		w.Header().Set("Connection", "X-Hop")
		w.Header().Set("X-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Proxy-Thing", "1")
		w.Header().Set("Via", "1.1 origin")
		w.Header().Set("X-End", "1")
		io.WriteString(w, "ok")
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	host = addr
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /h HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive, X-Client-Hop\r\nX-Client-Hop: 1\r\n"+
		"Keep-Alive: 300\r\nProxy-Authorization: Basic eA==\r\nTE: trailers\r\nX-Forwarded-For: 192.0.2.1\r\n"+
		"X-Forwarded-Proto: https\r\nX-Forwarded-Host: evil.example\r\nVia: 1.0 first\r\nX-Keep: yes\r\n\r\n", host)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	h := <-seen
	for _, f := range []string{"X-Client-Hop", "Keep-Alive", "Proxy-Authorization", "Te", "Connection"} {
		if v := h.Get(f); v != "" {
			t.Errorf("the upstream got %s: %q", f, v)
		}
	}
	want := map[string]string{
		"X-Forwarded-For":   "192.0.2.1, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  host,
		"Via":               "1.0 first, 1.1 eddy",
		"X-Keep":            "yes",
		"Host":              host,
	}
	for f, v := range want {
		if got := h.Get(f); got != v {
			t.Errorf("the upstream got %s: %q, want %q", f, got, v)
		}
	}
	for _, f := range []string{"X-Hop", "Keep-Alive", "Proxy-Thing"} {
		if v := resp.Header.Get(f); v != "" {
			t.Errorf("the client got %s: %q", f, v)
		}
	}
	if resp.Header.Get("X-End") != "1" || resp.Header.Get("Via") != "1.1 origin, 1.1 eddy" {
		t.Errorf("the client got X-End %q, Via %q", resp.Header.Get("X-End"), resp.Header.Get("Via"))
	}
}

// TestEventStream checks that each event reaches the client as the
// upstream flushes it: the client reads the first before the upstream
// sends the second.
func TestEventStream(t *testing.T) {
	next := make(chan struct{})
	upstream := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-next:
		case <-time.After(10 * time.Second):
		}
		io.WriteString(w, "data: two\n\n")
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	resp, err := client.Get("http://" + addr + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if line, err := br.ReadString('\n'); line != "data: one\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	close(next)
	rest, err := io.ReadAll(br)
	if err != nil || string(rest) != "\ndata: two\n\n" {
		t.Errorf("rest %q, %v", rest, err)
	}
}

// TestBadGateway answers 502 for an upstream that refuses and for one that
// answers garbage, and 504 for one that does not answer in time.
func TestBadGateway(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String()
	ln.Close()
	garbage := rawUpstream(t, func(_ int, c net.Conn) {
		readHead(bufio.NewReader(c))
		io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
	})
	stall := make(chan struct{})
	defer close(stall)
	stalled := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { <-stall })
	for _, tc := range []struct {
		name, upstream string
		status         int
	}{
		{"refused", refused, 502},
		{"garbage", garbage, 502},
		{"stalled", stalled, 504},
	} {
		addr := startProxy(t, &evproxy.Config{Upstreams: []string{tc.upstream}, Timeout: 300 * time.Millisecond})
		start := time.Now()
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.name, resp.StatusCode, tc.status)
		}
		if tc.status == 504 && time.Since(start) < 300*time.Millisecond {
			t.Errorf("504 after %v, before the timeout", time.Since(start))
		}
	}
}

// TestRetry has an upstream drop the first connection after reading its
// request: a GET is sent again on a new connection and answered, a POST is
// not sent again (502).
func TestRetry(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		var conns atomic.Int32
		upstream := rawUpstream(t, func(n int, c net.Conn) {
			conns.Add(1)
			readHead(bufio.NewReader(c))
			if n == 1 {
				return // dropped without an answer
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		})
		addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
		req, _ := http.NewRequest(method, "http://"+addr+"/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case method == "GET" && (resp.StatusCode != 200 || string(body) != "ok" || conns.Load() != 2):
			t.Errorf("GET: %d %q after %d connections, want 200 ok after 2", resp.StatusCode, body, conns.Load())
		case method == "POST" && (resp.StatusCode != 502 || conns.Load() != 1):
			t.Errorf("POST: %d after %d connections, want 502 after 1", resp.StatusCode, conns.Load())
		}
	}
}

// TestUpstreamDiesMidBody cuts the client's response when the upstream
// closes in the middle of its body, with a length and chunked.
func TestUpstreamDiesMidBody(t *testing.T) {
	for _, head := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3e8\r\n",
	} {
		upstream := rawUpstream(t, func(_ int, c net.Conn) {
			readHead(bufio.NewReader(c))
			io.WriteString(c, head)
			c.Write(make([]byte, 1000))
		})
		addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			t.Errorf("%q: the client read %d bytes and a clean end", head, len(got))
		}
	}
}

// TestWebSocketTunnel upgrades through the proxy to an evhttp upstream that
// echoes after its 101, and talks through the tunnel both ways.
func TestWebSocketTunnel(t *testing.T) {
	rl := testloop.Start(t)
	up := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Header().Set("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
		w.Upgrade("websocket", evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int { c.Write(p); return len(p) }})
	})}
	var upstream string
	rl.Do(func() {
		ln, err := up.Serve(rl.Loop, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		upstream = "http://" + ln.Addr().String()
	})
	t.Cleanup(func() { up.Close() })
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	head := readHead(br)
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") || !strings.Contains(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") {
		t.Fatalf("head %q", head)
	}
	for _, msg := range []string{"hello", strings.Repeat("x", 1<<20)} {
		go io.WriteString(c, msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || string(got) != msg {
			t.Fatalf("echo of %d bytes: %v", len(msg), err)
		}
	}
}

// TestH2CRefused offers h2c: the upstream sees a plain request, no Upgrade,
// and the client gets the upstream's ordinary answer.
func TestH2CRefused(t *testing.T) {
	seen := make(chan http.Header, 1)
	upstream := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		io.WriteString(w, "plain")
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "plain" {
		t.Errorf("%d %q, want 200 plain", resp.StatusCode, body)
	}
	h := <-seen
	for _, f := range []string{"Upgrade", "Http2-Settings", "Connection"} {
		if v := h.Get(f); v != "" {
			t.Errorf("the upstream got %s: %q", f, v)
		}
	}
}

// TestSlowClient has a client read nothing of a 64 MiB response for a
// while: the upstream is held back (its writes block) instead of the proxy
// buffering the response, and then every byte arrives.
func TestSlowClient(t *testing.T) {
	const size = 64 << 20
	var written atomic.Int64
	chunk := randomBody(64 << 10)
	upstream := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		for written.Load() < size {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			written.Add(int64(len(chunk)))
		}
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(500 * time.Millisecond) // a slow client: nothing read yet
	t.Logf("the upstream wrote %d MiB while the client read nothing", written.Load()>>20)
	if w := written.Load(); w > 24<<20 {
		t.Errorf("the upstream wrote %d MiB to a client that read nothing", w>>20)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != size {
		t.Errorf("read %d bytes, %v; want %d", n, err, size)
	}
}

// TestRoundRobin sends four requests to two upstreams: two each.
func TestRoundRobin(t *testing.T) {
	var a, b atomic.Int32
	ua := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { a.Add(1) })
	ub := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { b.Add(1) })
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{ua, ub}})
	for range 4 {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if a.Load() != 2 || b.Load() != 2 {
		t.Errorf("upstreams got %d and %d requests, want 2 and 2", a.Load(), b.Load())
	}
}

// TestCurl fetches and posts through the proxy with curl.
func TestCurl(t *testing.T) {
	curl := testutil.NeedPeer(t, "curl", "curl")
	upstream := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %d", r.Method, r.URL.Path, len(b))
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	out, err := exec.Command(curl, "-sS", "-i", "--data-binary", "hello", "http://"+addr+"/p").CombinedOutput()
	if err != nil {
		t.Fatalf("curl: %v\n%s", err, out)
	}
	if !bytes.HasSuffix(out, []byte("POST /p 5")) || !bytes.Contains(out, []byte("Via: 1.1 eddy")) {
		t.Errorf("curl got %q", out)
	}
}

// TestRetryPooled has an upstream answer a first request and then close
// its kept-alive connection when the next request arrives on it, without
// answering: a GET is sent again on a new connection, a POST is answered
// 502 and not sent again.
func TestRetryPooled(t *testing.T) {
	for _, method := range []string{"GET", "POST"} {
		var conns, requests atomic.Int32
		upstream := rawUpstream(t, func(n int, c net.Conn) {
			conns.Add(1)
			br := bufio.NewReader(c)
			for i := 0; ; i++ {
				if head := readHead(br); head == "" {
					return
				}
				requests.Add(1)
				if n == 1 && i == 1 {
					return // the pooled connection dropped under the request
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}
		})
		addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
		for i := range 2 {
			m := "GET"
			if i == 1 {
				m = method
			}
			req, _ := http.NewRequest(m, "http://"+addr+"/", nil)
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := 200
			if i == 1 && method == "POST" {
				want = 502
			}
			if resp.StatusCode != want {
				t.Errorf("%s %d: %d %q, want %d", m, i, resp.StatusCode, body, want)
			}
		}
		wantReq := int32(3)
		if method == "POST" {
			wantReq = 2
		}
		if requests.Load() != wantReq {
			t.Errorf("%s: the upstream got %d requests on %d connections, want %d", method, requests.Load(), conns.Load(), wantReq)
		}
	}
}

// TestHead passes the upstream's Content-Length of a HEAD response on.
func TestHead(t *testing.T) {
	upstream := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		if r.Method != "HEAD" {
			w.Write(make([]byte, 1000))
		}
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	for range 2 { // on one connection, which stays usable
		io.WriteString(c, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 || resp.ContentLength != 1000 {
			t.Errorf("HEAD: %d, Content-Length %d, want 200 and 1000", resp.StatusCode, resp.ContentLength)
		}
	}
}

// TestEarlyAnswer has the upstream answer 413 without reading a large
// body: the client gets the 413, and the proxy reads and drops the rest of
// the body instead of holding the exchange paused.
func TestEarlyAnswer(t *testing.T) {
	upstream := rawUpstream(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		readHead(br)
		io.WriteString(c, "HTTP/1.1 413 Content Too Large\r\nContent-Length: 3\r\nConnection: close\r\n\r\nbig")
		// A lingering close, as servers do: read what comes for a while,
		// so that the kernel does not reset the connection over unread
		// bytes before the proxy has read the answer.
		c.SetReadDeadline(time.Now().Add(time.Second))
		io.Copy(io.Discard, br)
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	resp, err := client.Post("http://"+addr+"/", "application/octet-stream", bytes.NewReader(randomBody(16<<20)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 413 || string(body) != "big" {
		t.Errorf("%d %q, want 413 big", resp.StatusCode, body)
	}
}

// TestUntilClose passes on a body delimited by the upstream's close (no
// length, not chunked) as a whole response, chunked to the client.
func TestUntilClose(t *testing.T) {
	body := randomBody(1 << 20)
	upstream := rawUpstream(t, func(_ int, c net.Conn) {
		readHead(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
		c.Write(body)
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, body) || resp.ContentLength != -1 {
		t.Errorf("read %d bytes of %d, %v, length %d", len(got), len(body), err, resp.ContentLength)
	}
}
