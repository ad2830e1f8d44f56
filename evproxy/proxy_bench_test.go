package evproxy_test

import (
	"testing"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evproxy"
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
// loop, as BenchmarkProxyGet does, and returns the loop, the client and
// the proxy's URL; the caller closes the loop.
func proxyLoop(tb testing.TB, cfg *evproxy.Config) (*eddy.Loop, *evclient.Client, string) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		tb.Fatal(err)
	}
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

// streamGets makes n keep-alive GETs of url through c, one after the
// other, on one reused Call (so that the client allocates nothing), and
// runs l until they are done.
func streamGets(tb testing.TB, l *eddy.Loop, c *evclient.Client, url string, n int) {
	var call evclient.Call
	req := &evclient.Request{URL: url}
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
