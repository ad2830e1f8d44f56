package evproxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evproxy"
	"github.com/eddyloop/eddy/internal/testutil"
)

// get fetches url with the test client and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// refusedURL returns the URL of a port where nothing listens.
func refusedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	ln.Close()
	return u
}

// TestUpstreamStats sends requests to an upstream that answers and one
// that refuses, and reads the figures of both.
func TestUpstreamStats(t *testing.T) {
	ok := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	refused := refusedURL(t)
	addr, p := serveProxy(t, &evproxy.Config{Upstreams: []string{ok, refused}, MaxRetries: -1})
	if got := p.Upstreams(nil); len(got) != 0 {
		t.Errorf("before any request: %+v", got)
	}
	for range 4 {
		get(t, "http://"+addr+"/")
	}
	// The client may read the end of a response before the proxy has read
	// it from the upstream.
	var got []evproxy.UpstreamStats
	testutil.Eventually(10*time.Second, func() bool {
		got = p.Upstreams(make([]evproxy.UpstreamStats, 1, 4))[1:]
		return len(got) == 2 && got[0].InFlight == 0
	})
	if len(got) != 2 {
		t.Fatalf("%d entries: %+v", len(got), got)
	}
	a, b := got[0], got[1]
	if a.Name != ok || a.Addr != strings.TrimPrefix(ok, "http://") || a.Requests != 2 || a.Failures != 0 || a.InFlight != 0 || a.Open != 1 {
		t.Errorf("the upstream that answers: %+v", a)
	}
	if b.Name != refused || b.Requests != 2 || b.Failures != 2 || b.InFlight != 0 || b.Open != 0 {
		t.Errorf("the upstream that refuses: %+v", b)
	}
	if allocs := testing.AllocsPerRun(100, func() { p.Upstreams(got[:0]) }); allocs != 0 {
		t.Errorf("Upstreams allocates %.0f times with room in dst", allocs)
	}
}

// TestBalance holds a first request on upstream A and then sends three
// more, one at a time: round robin sends A its turn (two each), least
// connections sends them all to B, which has none in flight.
func TestBalance(t *testing.T) {
	for _, tc := range []struct {
		balance evproxy.Balance
		a, b    int32
	}{{evproxy.RoundRobin, 2, 2}, {evproxy.LeastConn, 1, 3}} {
		var a, b atomic.Int32
		got, release := make(chan struct{}), make(chan struct{})
		ua := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
			if a.Add(1) == 1 {
				got <- struct{}{}
				<-release
			}
		})
		ub := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { b.Add(1) })
		addr := startProxy(t, &evproxy.Config{Upstreams: []string{ua, ub}, Balance: tc.balance})
		first := make(chan int)
		go func() { s, _ := get(t, "http://"+addr+"/"); first <- s }()
		<-got
		for range 3 {
			if s, _ := get(t, "http://"+addr+"/"); s != 200 {
				t.Errorf("%v: status %d", tc.balance, s)
			}
		}
		close(release)
		if s := <-first; s != 200 {
			t.Errorf("%v: the first request: status %d", tc.balance, s)
		}
		if a.Load() != tc.a || b.Load() != tc.b {
			t.Errorf("%v: A got %d requests and B %d, want %d and %d", tc.balance, a.Load(), b.Load(), tc.a, tc.b)
		}
	}
}

// holdUpstream answers "ok" and the length of the body it read; a request
// for /hold waits until the test sends on the channel it returns (or
// closes it). got receives a value when a request arrives.
func holdUpstream(t *testing.T) (url string, release chan struct{}, got chan string) {
	release, got = make(chan struct{}), make(chan string, 16)
	url = stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r.URL.Path
		if r.URL.Path == "/hold" {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		}
		n, _ := io.Copy(io.Discard, r.Body)
		fmt.Fprintf(w, "ok %d", n)
	})
	return url, release, got
}

// rawRequest writes a request on a new connection to addr and returns it.
func rawRequest(t *testing.T, addr, req string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// readResponse reads a response from c and returns its status and body.
func readResponse(t *testing.T, c net.Conn, wait time.Duration) (int, string) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err.Error()
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(body)
}

// TestQueue bounds an upstream to one request in flight: a second request
// (with a body) waits in the queue and goes when the first ends, a third
// finds the queue full (503 at once), and one that waits QueueTimeout is
// answered 503.
func TestQueue(t *testing.T) {
	upstream, release, got := holdUpstream(t)
	cp := startClockProxy(t, &evproxy.Config{Upstreams: []string{upstream}, MaxConnsPerUpstream: 1, MaxQueue: 1,
		QueueTimeout: 5 * time.Second})
	c1 := rawRequest(t, cp.addr, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	<-got
	c2 := rawRequest(t, cp.addr, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
	cp.Barrier()
	if s, body := get(t, "http://"+cp.addr+"/full"); s != 503 {
		t.Errorf("with the queue full: %d %q, want 503", s, body)
	}
	release <- struct{}{}
	if s, body := readResponse(t, c1, 10*time.Second); s != 200 || body != "ok 0" {
		t.Errorf("the first request: %d %q", s, body)
	}
	if s, body := readResponse(t, c2, 10*time.Second); s != 200 || body != "ok 5" {
		t.Errorf("the request that waited: %d %q", s, body)
	}
	if st := cp.stats(); len(st) != 1 || st[0].Requests != 2 || st[0].InFlight != 0 {
		t.Errorf("figures %+v", st)
	}

	c3 := rawRequest(t, cp.addr, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	<-got
	c4 := rawRequest(t, cp.addr, "GET /late HTTP/1.1\r\nHost: x\r\n\r\n")
	cp.Barrier()
	cp.Advance(5*time.Second - time.Millisecond)
	if s, body := readResponse(t, c4, 50*time.Millisecond); s != 0 {
		t.Fatalf("before the queue timeout: %d %q", s, body)
	}
	cp.Advance(time.Millisecond)
	if s, body := readResponse(t, c4, 10*time.Second); s != 503 {
		t.Errorf("after the queue timeout: %d %q, want 503", s, body)
	}
	c5 := rawRequest(t, cp.addr, "GET /gone HTTP/1.1\r\nHost: x\r\n\r\n")
	cp.Barrier()
	c5.(*net.TCPConn).SetLinger(0)
	c5.Close() // reset: a client that goes away while it waits leaves the queue
	cp.Barrier()
	close(release)
	if s, _ := readResponse(t, c3, 10*time.Second); s != 200 {
		t.Errorf("the request held during the timeout: %d", s)
	}
	if st := cp.stats(); st[0].Requests != 3 || st[0].InFlight != 0 {
		t.Errorf("figures %+v, want 3 requests sent", st)
	}
	if s, body := get(t, "http://"+cp.addr+"/after"); s != 200 {
		t.Errorf("after: %d %q", s, body)
	}
}

// flakyUpstream answers "ok" on keep-alive connections, or garbage (an
// invalid response, a failure for passive health) while bad is set. n
// counts the requests.
func flakyUpstream(t *testing.T) (url string, bad *atomic.Bool, n *atomic.Int32) {
	bad, n = new(atomic.Bool), new(atomic.Int32)
	url = rawUpstream(t, func(_ int, c net.Conn) {
		br := bufio.NewReader(c)
		for readHead(br) != "" {
			n.Add(1)
			if bad.Load() {
				io.WriteString(c, "SSH-2.0-OpenSSH_9.6\r\n\r\n")
				return
			}
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		}
	})
	return url, bad, n
}

// TestPassiveHealth ejects an upstream after MaxFails failures in a row,
// for EjectTime, then twice as long when it fails again once back, and
// takes it back when it answers.
func TestPassiveHealth(t *testing.T) {
	ua, bad, na := flakyUpstream(t)
	var nb atomic.Int32
	ub := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { nb.Add(1) })
	cp := startClockProxy(t, &evproxy.Config{Upstreams: []string{ua, ub}, MaxFails: 2, EjectTime: 10 * time.Second})
	url := "http://" + cp.addr + "/"
	send := func(want ...int) {
		t.Helper()
		for i, w := range want {
			if s, body := get(t, url); s != w {
				t.Fatalf("request %d: %d %q, want %d", i, s, body, w)
			}
		}
	}
	check := func(when string, requests, ejections uint64, healthy bool) {
		t.Helper()
		st := cp.stats()
		if a := st[0]; a.Requests != requests || a.Ejections != ejections || a.Healthy != healthy {
			t.Errorf("%s: A's figures %+v, want %d requests, %d ejections, healthy %v", when, a, requests, ejections, healthy)
		}
	}
	bad.Store(true)
	send(502, 200, 502) // A, B, A: ejected
	check("ejected", 2, 1, false)
	send(200, 200, 200)
	cp.Advance(10*time.Second - time.Millisecond)
	send(200)
	check("a millisecond before its return", 2, 1, false)
	cp.Advance(time.Millisecond)
	send(502, 200) // back, and one failure ejects it again, for 20 s
	check("ejected again", 3, 2, false)
	cp.Advance(10 * time.Second)
	send(200, 200)
	check("ejected for 20 s", 3, 2, false)
	cp.Advance(10 * time.Second)
	bad.Store(false)
	send(200, 200, 200, 200)
	check("back", 5, 2, true)
	bad.Store(true)
	send(502, 200, 502, 200) // one failure does not eject it, two do, for 10 s again
	check("ejected a third time", 7, 3, false)
	cp.Advance(10 * time.Second)
	bad.Store(false)
	send(200, 200)
	check("back again", 8, 3, true)
	if na.Load() != 8 || nb.Load() != 13 {
		t.Errorf("A had %d requests and B %d, want 8 and 13", na.Load(), nb.Load())
	}
}

// TestAllEjected still sends requests to an upstream that is ejected when
// it is the only one (nginx does the same).
func TestAllEjected(t *testing.T) {
	ua, bad, na := flakyUpstream(t)
	bad.Store(true)
	addr, p := serveProxy(t, &evproxy.Config{Upstreams: []string{ua}, MaxFails: 1})
	for range 3 {
		if s, _ := get(t, "http://"+addr+"/"); s != 502 {
			t.Errorf("status %d, want 502", s)
		}
	}
	st := p.Upstreams(nil)
	if na.Load() != 3 || st[0].Healthy || st[0].Ejections != 1 {
		t.Errorf("the upstream had %d requests; figures %+v", na.Load(), st[0])
	}
	bad.Store(false)
	if s, _ := get(t, "http://"+addr+"/"); s != 200 {
		t.Errorf("status %d once it answers", s)
	}
}

// TestRetryElsewhere has one upstream refuse connections: requests that
// never left are sent again to the other (GET, and POST without a body),
// the upstream that refuses is ejected after MaxFails, and then a POST
// with a body goes to the other; before that, one sent to the upstream
// that refuses is answered 502 (its body cannot be sent twice).
func TestRetryElsewhere(t *testing.T) {
	refused := refusedURL(t)
	var nb atomic.Int32
	ub := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { nb.Add(1) })
	addr, p := serveProxy(t, &evproxy.Config{Upstreams: []string{refused, ub}, MaxFails: 2})
	for i, m := range []string{"GET", "POST", "GET", "GET"} {
		req, _ := http.NewRequest(m, "http://"+addr+"/", nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s %d: status %d", m, i, resp.StatusCode)
		}
	}
	// The refusing one is ejected: the body goes to B.
	resp, err := client.Post("http://"+addr+"/", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	st := p.Upstreams(nil)
	if resp.StatusCode != 200 || nb.Load() != 5 || st[0].Requests != 2 || st[0].Ejections != 1 {
		t.Errorf("POST with a body: %d; B had %d requests; A's figures %+v", resp.StatusCode, nb.Load(), st[0])
	}

	addr = startProxy(t, &evproxy.Config{Upstreams: []string{refused, ub}})
	resp, err = client.Post("http://"+addr+"/", "text/plain", strings.NewReader("body"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 || nb.Load() != 5 {
		t.Errorf("POST with a body to the upstream that refuses: %d, B had %d requests", resp.StatusCode, nb.Load())
	}
}

// TestFail5xx counts 5xx answers as failures with Config.Fail5xx (the
// client still gets the answer), and not without it.
func TestFail5xx(t *testing.T) {
	for _, fail5xx := range []bool{false, true} {
		var na atomic.Int32
		ua := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) { na.Add(1); w.WriteHeader(500) })
		ub := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
		addr, p := serveProxy(t, &evproxy.Config{Upstreams: []string{ua, ub}, MaxFails: 1, Fail5xx: fail5xx})
		statuses := ""
		for range 4 {
			s, _ := get(t, "http://"+addr+"/")
			statuses += fmt.Sprint(s, " ")
		}
		want, wantA, wantEjections := "500 200 500 200 ", int32(2), uint64(0)
		if fail5xx {
			want, wantA, wantEjections = "500 200 200 200 ", 1, 1
		}
		if st := p.Upstreams(nil); statuses != want || na.Load() != wantA || st[0].Ejections != wantEjections {
			t.Errorf("Fail5xx %v: statuses %s, A had %d requests, %d ejections; want %s, %d, %d",
				fail5xx, statuses, na.Load(), st[0].Ejections, want, wantA, wantEjections)
		}
	}
}

// TestQueueEjectionEnds has requests wait while one upstream is ejected
// and the other at its bound: they go to the first when its ejection ends,
// not when the queue times out.
func TestQueueEjectionEnds(t *testing.T) {
	ua, bad, na := flakyUpstream(t)
	ub, release, got := holdUpstream(t)
	defer close(release)
	cp := startClockProxy(t, &evproxy.Config{Upstreams: []string{ua, ub}, MaxConnsPerUpstream: 1, MaxFails: 1,
		EjectTime: 10 * time.Second, QueueTimeout: time.Minute})
	bad.Store(true)
	if s, _ := get(t, "http://"+cp.addr+"/"); s != 502 { // A, ejected
		t.Fatalf("status %d, want 502", s)
	}
	rawRequest(t, cp.addr, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n") // B, held
	<-got
	c2 := rawRequest(t, cp.addr, "GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
	cp.Barrier()
	bad.Store(false)
	cp.Advance(10*time.Second - time.Millisecond)
	if s, body := readResponse(t, c2, 50*time.Millisecond); s != 0 {
		t.Fatalf("before the ejection ends: %d %q", s, body)
	}
	cp.Advance(time.Millisecond)
	if s, body := readResponse(t, c2, 10*time.Second); s != 200 || body != "ok" || na.Load() != 2 {
		t.Errorf("once the ejection ended: %d %q, A had %d requests", s, body, na.Load())
	}
}
