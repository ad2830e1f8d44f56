package evproxy_test

import (
	"bytes"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evproxy"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// BenchmarkProxyGet measures a keep-alive GET through the proxy, on one
// loop with its upstreams (two, balanced) and its client; the figures
// include the client's and the upstream's work.
func BenchmarkProxyGet(b *testing.B) {
	for _, balance := range []evproxy.Balance{evproxy.RoundRobin, evproxy.LeastConn} {
		b.Run(balance.String(), func(b *testing.B) {
			l, c, url := proxyLoop(b, &evproxy.Config{Balance: balance})
			defer l.Close()
			url += "/"
			n := 0
			var done func(*evclient.Response, error)
			done = func(resp *evclient.Response, err error) {
				if err != nil || resp.Status != 200 {
					b.Errorf("%v %v", resp, err)
					l.Break(eddy.BreakAll)
					return
				}
				if n++; n == b.N+1 {
					l.Break(eddy.BreakAll)
					return
				}
				if n == 1 {
					b.ResetTimer() // the connections are open
				}
				c.Get(url, done)
			}
			b.ReportAllocs()
			c.Get(url, done)
			l.Run()
			b.StopTimer() // l.Close closes the servers and the clients
		})
	}
}

// proxyLoop serves a Proxy of two upstreams and an evclient.Client on one
// new loop, as BenchmarkProxyGet does, and returns the loop, the client and
// the proxy's URL; the caller closes the loop.
func proxyLoop(tb testing.TB, cfg *evproxy.Config) (*eddy.Loop, *evclient.Client, string) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return proxyLoopOn(tb, l, cfg)
}

// proxyLoopOn is proxyLoop on l, on its goroutine.
func proxyLoopOn(tb testing.TB, l *eddy.Loop, cfg *evproxy.Config) (*eddy.Loop, *evclient.Client, string) {
	hello := []byte("Hello, World!")
	up := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) { w.Write(hello) })}
	for range 2 {
		ln, err := up.Serve(l, "tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Upstreams = append(cfg.Upstreams, "http://"+ln.Addr().String())
	}
	p, err := evproxy.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	srv := &evhttp.Server{Handler: p}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return l, evclient.New(l, nil), "http://" + ln.Addr().String()
}

// sockaddr returns the address "127.0.0.1:port" for unix.Connect.
func sockaddr(tb testing.TB, addr string) *unix.SockaddrInet4 {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		tb.Fatal(err)
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
}

// streamGets makes n keep-alive GETs of url through c, one after the
// other, on one reused Call (so that the client allocates nothing), and
// runs l until they are done.
func streamGets(tb testing.TB, l *eddy.Loop, c *evclient.Client, url string, n int) {
	streamRequests(tb, l, c, &evclient.Request{URL: url}, n)
}

// streamRequests is streamGets for any request.
func streamRequests(tb testing.TB, l *eddy.Loop, c *evclient.Client, req *evclient.Request, n int) {
	var call evclient.Call
	i := 0
	var h evclient.Handler
	h = evclient.Handler{OnDone: func(call *evclient.Call, err error) {
		if err != nil || call.Response().Status != 200 {
			tb.Errorf("request %d: %v", i, err)
			l.Break(eddy.BreakAll)
			return
		}
		if i++; i == n {
			l.Break(eddy.BreakAll)
			return
		}
		c.StreamCall(call, req, h)
	}}
	c.StreamCall(&call, req, h)
	l.Run()
}

// BenchmarkProxyGetReused is BenchmarkProxyGet with a client that reuses
// its Call (StreamCall), so that the allocations counted are the proxy's
// and the upstream's alone.
func BenchmarkProxyGetReused(b *testing.B) {
	l, c, url := proxyLoop(b, &evproxy.Config{})
	defer l.Close()
	streamGets(b, l, c, url, 100)
	b.ReportAllocs()
	b.ResetTimer()
	streamGets(b, l, c, url, b.N)
	b.StopTimer()
}

// BenchmarkProxyBurstHeap measures the heap a Proxy's loop keeps per
// client connection after a burst: burstConns connections each send a GET
// at once (the queue takes them all), get their answer and stay open,
// idle. heap-B/conn is the live heap grown over the burst, after a
// collection, per connection: the server's and the proxy's state of an
// idle connection, and whatever the requests left alive. The clients are
// raw sockets, which take no heap. Run it with -benchtime 1x.
func BenchmarkProxyBurstHeap(b *testing.B) {
	const burstConns = 4000
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 2*burstConns+1200 {
		b.Skipf("needs %d descriptors (RLIMIT_NOFILE %d)", 2*burstConns+1200, lim.Cur)
	}
	rl := testloop.Start(b)
	var addr string
	rl.Do(func() {
		_, _, url := proxyLoopOn(b, rl.Loop, &evproxy.Config{MaxQueue: 2 * burstConns})
		addr = strings.TrimPrefix(url, "http://")
	})
	sa := sockaddr(b, addr)
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	fds := make([]int, burstConns)
	buf := make([]byte, 512)
	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	b.ReportAllocs()
	var perConn float64
	for range b.N {
		// A first burst warms the loop (its exchanges, its upstream
		// connections, its buffers): what is measured is the next one.
		for round := range 2 {
			before := heap()
			for i := range fds {
				fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
				if err != nil {
					b.Fatal(err)
				}
				fds[i] = fd
				if err := unix.Connect(fd, sa); err != nil {
					b.Fatal(err)
				}
				if _, err := unix.Write(fd, req); err != nil {
					b.Fatal(err)
				}
			}
			for _, fd := range fds {
				got := 0
				for !bytes.HasSuffix(buf[:got], []byte("Hello, World!")) {
					n, err := unix.Read(fd, buf[got:])
					if err != nil || n == 0 {
						b.Fatalf("read: %d %v after %q", n, err, buf[:got])
					}
					got += n
				}
			}
			rl.Barrier()
			if round == 1 {
				perConn = float64(int64(heap())-int64(before)) / burstConns
			}
			for _, fd := range fds {
				unix.Close(fd)
			}
			rl.Barrier()
		}
	}
	b.ReportMetric(perConn, "heap-B/conn")
}
