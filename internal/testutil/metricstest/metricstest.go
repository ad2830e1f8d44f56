// Package metricstest serves something of each kind that evmetrics
// exposes, for the tests of evmetrics and internal/metricscheck: a group of
// two loops with an HTTP server, a WebSocket upgrader, an echo listener,
// and their Registry at /metrics. Only _test.go files import it.
package metricstest

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evws"
)

// Served is what Serve serves; every address is on 127.0.0.1.
type Served struct {
	G   *evnet.Group
	Reg *evmetrics.Registry // the group's loops, "hello", "ws", "echo"
	// Hello answers Hello, World! (404 for /missing), WS is an
	// evws.Upgrader (426 for a plain GET), Echo an evnet echo server,
	// and Metrics the Registry, served on loop 0.
	Hello, WS, Echo, Metrics string
}

// Serve serves them all until the test ends.
func Serve(t testing.TB) *Served {
	t.Helper()
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		if string(r.Path()) == "/missing" {
			w.WriteHeader(404)
			return
		}
		w.WriteString("Hello, World!")
	})}
	u := evws.NewUpgrader(nil, evws.Handler{})
	wsrv := &evhttp.Server{Handler: u}
	s := &Served{G: g, Reg: new(evmetrics.Registry)}
	msrv := &evhttp.Server{Handler: s.Reg}
	t.Cleanup(func() {
		srv.Close()
		wsrv.Close()
		msrv.Close()
		g.Shutdown(time.Second)
	})
	ln, err := srv.ServeGroup(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wln, err := wsrv.ServeGroup(g, "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	eln, err := g.Listen("tcp", "127.0.0.1:0", evnet.ListenConfig{}, evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int { c.Write(p); return len(p) },
	})
	if err != nil {
		t.Fatal(err)
	}
	var mln *evnet.Listener
	done := make(chan struct{})
	g.Post(0, func() { mln, err = msrv.Serve(g.Loop(0), "tcp", "127.0.0.1:0"); close(done) })
	<-done
	if err != nil {
		t.Fatal(err)
	}
	s.Reg.AddGroup(g)
	s.Reg.AddServer("hello", srv)
	s.Reg.AddUpgrader("ws", u)
	s.Reg.AddListener("echo", eln)
	s.Hello, s.WS, s.Echo, s.Metrics = ln.Addr().String(), wln.Addr().String(), eln.Addr().String(), mln.Addr().String()
	return s
}

// Traffic makes the figures that Awaited waits for: GET / twice and GET
// /missing from Hello, a plain GET from WS, and "hello" echoed by Echo.
func (s *Served) Traffic(t testing.TB) {
	t.Helper()
	for _, url := range []string{"http://" + s.Hello + "/", "http://" + s.Hello + "/", "http://" + s.Hello + "/missing", "http://" + s.WS + "/"} {
		Get(t, url)
	}
	c, err := net.Dial("tcp", s.Echo)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("hello"))
	io.ReadFull(c, make([]byte, 5))
	c.Close()
}

// Awaited lists lines of the scrape that show all of Traffic counted.
var Awaited = []string{
	`eddy_http_requests_total{server="hello",code="2xx"} 2` + "\n",
	`eddy_http_requests_total{server="hello",code="4xx"} 1` + "\n",
	`eddy_ws_refused_total{server="ws"} 1` + "\n",
	`eddy_connections_closed_total{server="echo",reason="eof"} 1` + "\n",
}

// Get gets url and returns the response and its body.
func Get(t testing.TB, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// Scrape scrapes /metrics until every line of Awaited is there (the
// loops count each request as it ends, which may be a little after its
// client has its response), for 10 seconds at most, and returns the last
// scrape.
func (s *Served) Scrape(t testing.TB) (*http.Response, []byte) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := Get(t, "http://"+s.Metrics+"/metrics")
		all := true
		for _, want := range Awaited {
			all = all && containsLine(body, want)
		}
		if all || time.Now().After(deadline) {
			return resp, body
		}
	}
}

// containsLine reports whether line, newline included, is one of body's.
func containsLine(body []byte, line string) bool {
	return strings.Contains("\n"+string(body), "\n"+line)
}
