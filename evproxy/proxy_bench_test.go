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
			l, err := eddy.NewLoop(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			hello := []byte("Hello, World!")
			up := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) { w.Write(hello) })}
			var ups []string
			for range 2 {
				ln, err := up.Serve(l, "tcp", "127.0.0.1:0")
				if err != nil {
					b.Fatal(err)
				}
				ups = append(ups, "http://"+ln.Addr().String())
			}
			p, err := evproxy.New(&evproxy.Config{Upstreams: ups, Balance: balance})
			if err != nil {
				b.Fatal(err)
			}
			srv := &evhttp.Server{Handler: p}
			ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			c := evclient.New(l, nil)
			url := "http://" + ln.Addr().String() + "/"
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
