package evproxy_test

// The heads the proxy builds from bytes (build, copyHead), and the reuse
// of its exchanges: exact heads both ways, duplicates, every Connection
// field's names, obs-fold, and requests after requests of another shape
// on the same exchanges.

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evproxy"
)

// headUpstream answers each request head with the response respond
// returns for it, and sends the head, as received, on the channel.
func headUpstream(t *testing.T, respond func(head string) string) (string, chan string) {
	heads := make(chan string, 64)
	url := rawUpstream(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for {
			head := readHead(br)
			if !strings.HasSuffix(head, "\r\n\r\n") {
				return
			}
			heads <- head
			if _, err := io.WriteString(c, respond(head)); err != nil {
				return
			}
		}
	})
	return url, heads
}

const okHello = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

// TestForwardedHead checks the exact head the upstream gets: the Host
// first, the client's fields in their order with their names as sent and
// their duplicates, less the hop-by-hop ones (those every Connection field
// names too, whatever their case), then X-Forwarded-For (the client's
// fields joined, and the client's address), X-Forwarded-Proto,
// X-Forwarded-Host and Via (the client's joined, and the proxy's); and
// no User-Agent when the client sent none.
func TestForwardedHead(t *testing.T) {
	upstream, heads := headUpstream(t, func(string) string { return okHello })
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream + "/api"}})
	c := rawRequest(t, addr, "GET /p/q?x=1&y=%20 HTTP/1.1\r\nHost: h.example\r\nX-Dup: 1\r\nconnection: X-A\r\n"+
		"x-lower: a\r\nX-A: gone\r\nX-Forwarded-For: 192.0.2.1\r\nConnection: keep-alive, x-b ,X-C\r\nx-b: gone\r\n"+
		"X-Dup: 2\r\nX-C: gone\r\nProxy-Foo: gone\r\nKeep-Alive: 5\r\nTE: trailers\r\nTrailer: X-T\r\n"+
		"via: 1.0 first\r\nX-Forwarded-For: 192.0.2.2, 192.0.2.3\r\nVia: 1.1 second\r\nX-Forwarded-Proto: https\r\n"+
		"X-Forwarded-Host: evil.example\r\nX-Last: z\r\n\r\n")
	if status, body := readResponse(t, c, 10*time.Second); status != 200 || body != "hello" {
		t.Fatalf("%d %q", status, body)
	}
	want := "GET /api/p/q?x=1&y=%20 HTTP/1.1\r\nHost: h.example\r\nX-Dup: 1\r\nx-lower: a\r\nX-Dup: 2\r\nX-Last: z\r\n" +
		"X-Forwarded-For: 192.0.2.1, 192.0.2.2, 192.0.2.3, 127.0.0.1\r\nX-Forwarded-Proto: http\r\n" +
		"X-Forwarded-Host: h.example\r\nVia: 1.0 first, 1.1 second, 1.1 eddy\r\n\r\n"
	if got := <-heads; got != want {
		t.Errorf("the upstream got\n%q\nwant\n%q", got, want)
	}

	// HTTP/1.0 without a Host: the upstream's address, Via 1.0, and the
	// client's User-Agent kept.
	c = rawRequest(t, addr, "GET / HTTP/1.0\r\nUser-Agent: ua/1\r\n\r\n")
	if status, _ := readResponse(t, c, 10*time.Second); status != 200 {
		t.Fatalf("HTTP/1.0: %d", status)
	}
	want = "GET /api/ HTTP/1.1\r\nHost: " + strings.TrimPrefix(upstream, "http://") + "\r\nUser-Agent: ua/1\r\n" +
		"X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\nVia: 1.0 eddy\r\n\r\n"
	if got := <-heads; got != want {
		t.Errorf("HTTP/1.0: the upstream got\n%q\nwant\n%q", got, want)
	}
}

// TestObsFold: a client's request with an obs-fold never reaches an
// upstream (the server refuses it); an upstream's response with one
// reaches the client unfolded, on one line.
func TestObsFold(t *testing.T) {
	upstream, heads := headUpstream(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nX-Fold: a\r\n b\r\nX-After: 1\r\nContent-Length: 2\r\n\r\nok"
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	c := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n b\r\n\r\n")
	if status, _ := readResponse(t, c, 10*time.Second); status != 400 {
		t.Errorf("a request with an obs-fold: %d, want 400", status)
	}
	select {
	case h := <-heads:
		t.Errorf("the upstream got %q", h)
	default:
	}
	c = rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.Header.Get("X-Fold"); strings.ContainsAny(v, "\r\n") || !strings.HasPrefix(v, "a") || !strings.HasSuffix(v, "b") ||
		resp.Header.Get("X-After") != "1" {
		t.Errorf("the client got X-Fold %q, X-After %q", v, resp.Header.Get("X-After"))
	}
}

// TestResponseHead checks the fields of an upstream's response as the
// client gets them: duplicates in order, the hop-by-hop ones and those
// its Connection fields name removed, one Content-Length, Via joined, the
// trailers declared.
func TestResponseHead(t *testing.T) {
	upstream, _ := headUpstream(t, func(string) string {
		return "HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nConnection: X-Hop\r\nX-Hop: 1\r\nx-hop2: 1\r\nConnection: x-HOP2\r\n" +
			"Keep-Alive: timeout=5\r\nProxy-Thing: 1\r\nVia: 1.0 origin\r\nSet-Cookie: b=2\r\nvia: 1.1 mid\r\n" +
			"Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	for i := range 3 { // on one connection, with the exchanges reused
		c := rawRequest(t, addr, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		head := readHead(br)
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(head)), nil)
		if err != nil {
			t.Fatal(err)
		}
		h := resp.Header
		if got := strings.Join(h["Set-Cookie"], " "); got != "a=1 b=2" {
			t.Errorf("%d: Set-Cookie %q", i, got)
		}
		for _, f := range []string{"X-Hop", "X-Hop2", "Keep-Alive", "Proxy-Thing"} {
			if v := h.Get(f); v != "" {
				t.Errorf("%d: the client got %s: %q", i, f, v)
			}
		}
		if h.Get("Via") != "1.0 origin, 1.1 mid, 1.1 eddy" || h.Get("Content-Type") != "text/plain" ||
			strings.Count(head, "Content-Length") != 1 || h.Get("Content-Length") != "5" {
			t.Errorf("%d: head %q", i, head)
		}
	}
}

// TestExchangeReuse sends requests of different shapes one after the
// other, on one connection and on several, so that each exchange is
// reused by requests unlike the one before: nothing of a request shows in
// the next (its fields, its path, its upstream's Via, its trailers, its
// error).
func TestExchangeReuse(t *testing.T) {
	upstream, heads := headUpstream(t, func(head string) string {
		switch {
		case strings.HasPrefix(head, "GET /via"):
			return "HTTP/1.1 200 OK\r\nVia: 1.1 up\r\nContent-Length: 2\r\n\r\nok"
		case strings.HasPrefix(head, "GET /trailer"):
			return "HTTP/1.1 200 OK\r\nTrailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Sum: 7\r\n\r\n"
		}
		return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	})
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{upstream}})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 20 {
		var req, wantUp, notUp string
		switch i % 4 {
		case 0:
			req = "GET /fields?long=" + strings.Repeat("x", 100*i) + " HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 192.0.2.9\r\nX-Only: 0\r\nVia: 1.0 c\r\n\r\n"
			wantUp, notUp = "X-Forwarded-For: 192.0.2.9, 127.0.0.1\r\n", ""
		case 1:
			req = "GET /via HTTP/1.1\r\nHost: b\r\n\r\n"
			wantUp, notUp = "GET /via HTTP/1.1\r\nHost: b\r\n", "X-Only"
		case 2:
			req = "GET /trailer HTTP/1.1\r\nHost: c\r\nTE: trailers\r\n\r\n"
			wantUp, notUp = "X-Forwarded-For: 127.0.0.1\r\n", "192.0.2.9"
		case 3:
			req = "GET /plain HTTP/1.1\r\nHost: d\r\n\r\n"
			wantUp, notUp = "Via: 1.1 eddy\r\n", "1.0 c"
		}
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		up := <-heads
		if !strings.Contains(up, wantUp) || notUp != "" && strings.Contains(up, notUp) {
			t.Errorf("%d: the upstream got %q, want %q in it and not %q", i, up, wantUp, notUp)
		}
		// net/http moves the Trailer field's names into resp.Trailer.
		via, trailer := resp.Header.Get("Via"), strings.Join(slices.Sorted(maps.Keys(resp.Trailer)), ",")
		switch i % 4 {
		case 1:
			if via != "1.1 up, 1.1 eddy" {
				t.Errorf("%d: Via %q", i, via)
			}
		case 2:
			if trailer != "X-Sum" || resp.Trailer.Get("X-Sum") != "7" || string(body) != "ok" {
				t.Errorf("%d: Trailer %q, X-Sum %q, body %q", i, trailer, resp.Trailer.Get("X-Sum"), body)
			}
		default:
			if via != "1.1 eddy" || trailer != "" {
				t.Errorf("%d: Via %q, Trailer %q", i, via, trailer)
			}
		}
	}
}

// TestExchangeReuseAfterErrors: requests that fail (no upstream: 502; a
// queue full: 503; a client gone in the middle) leave their exchanges in
// a state the next requests do not see.
func TestExchangeReuseAfterErrors(t *testing.T) {
	refused := refusedURL(t)
	upstream, heads := headUpstream(t, func(string) string { return okHello })
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{refused, upstream}, MaxFails: -1, MaxRetries: -1})
	ok := 0
	for i := range 12 {
		c := rawRequest(t, addr, fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: x\r\nX-N: %d\r\n\r\n", i, i))
		status, body := readResponse(t, c, 10*time.Second)
		switch status {
		case 200:
			ok++
			up := <-heads
			for strings.HasPrefix(up, "GET /gone ") { // the requests of the clients gone may arrive
				up = <-heads
			}
			if !strings.HasPrefix(up, fmt.Sprintf("GET /%d HTTP/1.1\r\n", i)) || !strings.Contains(up, fmt.Sprintf("\r\nX-N: %d\r\n", i)) ||
				strings.Count(up, "X-N") != 1 || body != "hello" {
				t.Errorf("%d: the upstream got %q; body %q", i, up, body)
			}
		case 502:
		default:
			t.Errorf("%d: %d %q", i, status, body)
		}
		if i%3 == 0 {
			// A client that goes away before its answer.
			c := rawRequest(t, addr, "GET /gone HTTP/1.1\r\nHost: x\r\n\r\n")
			c.Close()
		}
	}
	if ok < 4 {
		t.Errorf("%d requests of 12 answered, want half of them (round robin)", ok)
	}
}

// TestProxyAllocs is the allocation budget of a proxied keep-alive
// request in steady state, the client's (on a reused Call) and the
// upstream's included: none, for a GET (with an access log or not) and a
// POST with a short body (which the proxy streams upstream, chunked).
// Each allocation found here is one the proxy, evhttp or evclient makes
// per request.
func TestProxyAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector allocates")
	}
	for _, tc := range []struct {
		name string
		log  bool
		post bool
	}{{"GET", false, false}, {"GET, access log", true, false}, {"POST", false, true}} {
		cfg := &evproxy.Config{}
		if tc.log {
			n := 0
			cfg.AccessLog = func(e *evproxy.LogEntry) { n += e.Status }
		}
		l, c, url := proxyLoop(t, cfg)
		req := &evclient.Request{URL: url}
		if tc.post {
			req.Method, req.Body = "POST", []byte("a short body")
		}
		streamRequests(t, l, c, req, 200) // the connections, their buffers, the exchanges
		// The least of three measures: a loop's warning of a slow callback
		// (EDDY_DEBUG=1 on a loaded machine) allocates too, now and then.
		allocs := 1e9
		for range 3 {
			allocs = min(allocs, testing.AllocsPerRun(3, func() { streamRequests(t, l, c, req, 400) })/400)
		}
		t.Logf("%s: %.3f allocations per proxied request", tc.name, allocs)
		if allocs > 0.02 { // the chain's own few, over 400 requests
			t.Errorf("%s: %.3f allocations per proxied request, want none", tc.name, allocs)
		}
		l.Close()
	}
}
