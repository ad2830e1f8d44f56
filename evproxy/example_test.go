package evproxy_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evproxy"
)

// Example proxies a request to an upstream, here a net/http test server,
// and fetches it through the proxy with evclient on the same loop.
func Example() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from "+r.URL.Path+" for "+r.Header.Get("X-Forwarded-For"))
	}))
	defer upstream.Close()

	l, err := eddy.NewLoop(nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	p, err := evproxy.New(&evproxy.Config{Upstreams: []string{upstream.URL}})
	if err != nil {
		panic(err)
	}
	srv := &evhttp.Server{Handler: p}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	c := evclient.New(l, nil)
	c.Get("http://"+ln.Addr().String()+"/greeting", func(resp *evclient.Response, err error) {
		if err != nil {
			fmt.Println(err)
		} else {
			fmt.Println(resp.Status, resp.Header("Via"))
			fmt.Println(string(resp.Body))
		}
		l.Break(eddy.BreakAll)
	})
	l.Run()
	// Output:
	// 200 1.1 eddy
	// hello from /greeting for 127.0.0.1
}

// ExampleProxy_Upstreams reads the figures of each upstream address, as a
// metrics exporter does from its own goroutine.
func ExampleProxy_Upstreams() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer upstream.Close()

	l, err := eddy.NewLoop(nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	p, err := evproxy.New(&evproxy.Config{Upstreams: []string{upstream.URL}})
	if err != nil {
		panic(err)
	}
	srv := &evhttp.Server{Handler: p}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	c := evclient.New(l, nil)
	c.Get("http://"+ln.Addr().String()+"/", func(*evclient.Response, error) { l.Break(eddy.BreakAll) })
	l.Run()

	var stats []evproxy.UpstreamStats // reused from one scrape to the next
	stats = p.Upstreams(stats[:0])
	for _, s := range stats {
		fmt.Println(s.Name == upstream.URL, s.Healthy, s.Requests, s.Failures, s.InFlight)
	}
	// Output:
	// true true 1 0 0
}
