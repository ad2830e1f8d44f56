package evclient_test

import (
	"bytes"
	"testing"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// helloServer is a keep-alive HTTP server written on evnet, on a loop of
// its own: it answers every request head with the same response and
// allocates nothing per request, so that allocation counts measure the
// client alone.
type helloServer struct {
	rl *testLoop
	ln *evnet.Listener
}

var helloResponse = []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!")

func startHello(t testing.TB) string {
	s := &helloServer{rl: startLoop(t)}
	var err error
	s.rl.Do(func() {
		s.ln, err = evnet.Listen(s.rl.Loop, "tcp4", "127.0.0.1:0", evnet.Handler{OnData: helloData})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.rl.Do(func() { s.ln.Close() }) })
	return "http://" + s.ln.Addr().String() + "/hello"
}

// helloData answers each complete request head (requests have no body).
func helloData(c *evnet.Conn, p []byte) int {
	used := 0
	for {
		i := bytes.Index(p[used:], []byte("\r\n\r\n"))
		if i < 0 {
			return used
		}
		used += i + 4
		c.Write(helloResponse)
	}
}

// helloClient starts a helloServer and returns its URL, and a loop of the
// caller's (not running) with a Client on it, which the test's cleanup
// closes.
func helloClient(tb testing.TB) (*eddy.Loop, *evclient.Client, string) {
	url := startHello(tb)
	l, err := eddy.NewLoop(nil)
	if err != nil {
		tb.Fatal(err)
	}
	c := evclient.New(l, nil)
	tb.Cleanup(func() { c.Close(); l.Close() })
	return l, c, url
}

// chain runs n keep-alive GETs one after the other on l, each started
// from the callback of the one before, and returns when they are done.
// It runs the loop itself: the caller owns l.
func chain(tb testing.TB, l *eddy.Loop, c *evclient.Client, req *evclient.Request, n int) {
	i := 0
	var next func(*evclient.Response, error)
	next = func(resp *evclient.Response, err error) {
		if err != nil || resp.Status != 200 || len(resp.Body) != 13 {
			tb.Errorf("request %d: %v", i, err)
			l.Break(eddy.BreakAll)
			return
		}
		if i++; i < n {
			c.Do(req, next)
			return
		}
		l.Break(eddy.BreakAll)
	}
	c.Do(req, next)
	if err := l.Run(); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkClientKeepAliveGet measures a GET on a pooled keep-alive
// connection, from Do to its callback, against a server on another loop:
// the client's CPU and allocations per request.
func BenchmarkClientKeepAliveGet(b *testing.B) {
	l, c, url := helloClient(b)
	req := &evclient.Request{URL: url}
	chain(b, l, c, req, 100) // warm up: the connection, its buffers
	b.ReportAllocs()
	b.ResetTimer()
	chain(b, l, c, req, b.N)
	b.StopTimer()
	if st := c.Stats(); st.Dials != 1 {
		b.Errorf("stats %+v", st)
	}
}

// TestClientAllocs is the allocation budget of a keep-alive GET gathered
// by Do: the call (with its timer and response) and one buffer for the
// head and body; the connection reuses its parser and write buffer.
func TestClientAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector allocates")
	}
	leakCheck(t)
	l, c, url := helloClient(t)
	req := &evclient.Request{URL: url}
	chain(t, l, c, req, 100)
	// AllocsPerRun runs with GOMAXPROCS 1, where the two loops take turns
	// slowly: few runs are enough.
	allocs := testing.AllocsPerRun(5, func() { chain(t, l, c, req, 40) }) / 40
	t.Logf("%.2f allocations per keep-alive GET", allocs)
	if allocs > 3 {
		t.Errorf("%.2f allocations per keep-alive GET, want at most 3", allocs)
	}
}

// BenchmarkClientConcurrentGet keeps 64 GETs in flight over 8 keep-alive
// connections (or 2 pipelined ones), against a server on another loop: the
// client's throughput.
func BenchmarkClientConcurrentGet(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  evclient.Config
	}{
		{"conns=8", evclient.Config{MaxConnsPerHost: 8}},
		{"conns=2,pipelined", evclient.Config{MaxConnsPerHost: 2, Pipelining: true, MaxPipeline: 32}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			url := startHello(b)
			l, err := eddy.NewLoop(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			c := evclient.New(l, &bc.cfg)
			defer c.Close()
			req := &evclient.Request{URL: url}
			run := func(n int) {
				started, finished := 0, 0
				var next func(*evclient.Response, error)
				next = func(resp *evclient.Response, err error) {
					if err != nil {
						b.Error(err)
					}
					if finished++; finished == n {
						l.Break(eddy.BreakAll)
					} else if started < n {
						started++
						c.Do(req, next)
					}
				}
				for ; started < min(64, n); started++ {
					c.Do(req, next)
				}
				if err := l.Run(); err != nil {
					b.Fatal(err)
				}
			}
			run(1000)
			b.ReportAllocs()
			b.ResetTimer()
			run(b.N)
		})
	}
}
