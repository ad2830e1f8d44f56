package evproxy_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
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

// Example_upstreams configures the choice of upstreams: least connections,
// a bound on the requests in flight to each (more wait in a queue for
// 2 s at most, then get 503), ejection after two failures in a row, and a
// health check of /healthz every 10 s.
func Example_upstreams() {
	var upstreams []string
	for _, name := range []string{"a", "b"} {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, name) // and 200 to the health checks
		}))
		defer s.Close()
		upstreams = append(upstreams, s.URL)
	}

	l, err := eddy.NewLoop(nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	p, err := evproxy.New(&evproxy.Config{
		Upstreams:           upstreams,
		Balance:             evproxy.LeastConn,
		MaxConnsPerUpstream: 64,
		QueueTimeout:        2 * time.Second,
		MaxFails:            2,
		HealthCheck:         evproxy.HealthCheck{Path: "/healthz", Interval: 10 * time.Second},
	})
	if err != nil {
		panic(err)
	}
	srv := &evhttp.Server{Handler: p}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	c := evclient.New(l, nil)
	url := "http://" + ln.Addr().String() + "/"
	c.Get(url, func(resp *evclient.Response, err error) {
		fmt.Println(string(resp.Body)) // none in flight anywhere: the first in turn
		c.Get(url, func(resp *evclient.Response, err error) {
			fmt.Println(string(resp.Body)) // none in flight anywhere: the next in turn
			l.Break(eddy.BreakAll)
		})
	})
	l.Run()
	// Output:
	// a
	// b
}

// ExampleParseBalance reads the way of balancing from a flag's value.
func ExampleParseBalance() {
	for _, s := range []string{"least", "rr", "random"} {
		b, ok := evproxy.ParseBalance(s)
		fmt.Println(b, ok)
	}
	// Output:
	// least true
	// rr true
	// rr false
}

// ExampleConfig_resolver proxies to an upstream given by name, resolved by
// a resolver of the program's: here one whose hosts table names it.
func ExampleConfig_resolver() {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer upstream.Close()
	_, port, _ := net.SplitHostPort(upstream.Listener.Addr().String())
	hosts, err := evdns.ParseHosts([]byte("127.0.0.1 app.internal\n"))
	if err != nil {
		panic(err)
	}

	l, err := eddy.NewLoop(nil)
	if err != nil {
		panic(err)
	}
	defer l.Close()
	p, err := evproxy.New(&evproxy.Config{
		Upstreams: []string{"http://app.internal:" + port},
		Resolver: func(l *eddy.Loop) *evdns.Resolver {
			return evdns.NewResolver(l, evdns.DefaultConfig(), hosts, nil)
		},
	})
	if err != nil {
		panic(err)
	}
	srv := &evhttp.Server{Handler: p}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	c := evclient.New(l, nil)
	c.Get("http://"+ln.Addr().String()+"/", func(resp *evclient.Response, err error) {
		fmt.Println(string(resp.Body))
		l.Break(eddy.BreakAll)
	})
	l.Run()
	s := p.Upstreams(nil)[0]
	fmt.Println(s.Name == "http://app.internal:"+port, s.Addr == "127.0.0.1:"+port)
	// Output:
	// hello
	// true true
}
