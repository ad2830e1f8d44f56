package evmetrics_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evws"
)

// served is a group of two loops with a hello server, a WebSocket
// upgrader on another port, an echo listener on a third, and the Registry
// of all at /metrics on a fourth, served on loop 0.
type served struct {
	g                  *evnet.Group
	reg                *evmetrics.Registry
	hello, ws, metrics string // addresses
	echo               string // an echo server on evnet
}

func serve(t *testing.T) *served {
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
	s := &served{g: g, reg: new(evmetrics.Registry)}
	s.reg.AddGroup(g)
	s.reg.AddServer("hello", srv)
	s.reg.AddUpgrader("ws", u)
	msrv := &evhttp.Server{Handler: s.reg}
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
	s.reg.AddListener("echo", eln)
	s.echo = eln.Addr().String()
	var mln *evnet.Listener
	done := make(chan struct{})
	g.Post(0, func() { mln, err = msrv.Serve(g.Loop(0), "tcp", "127.0.0.1:0"); close(done) })
	<-done
	if err != nil {
		t.Fatal(err)
	}
	s.hello, s.ws, s.metrics = ln.Addr().String(), wln.Addr().String(), mln.Addr().String()
	return s
}

func get(t *testing.T, url string) (*http.Response, string) {
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
	return resp, string(b)
}

// TestScrape scrapes a server that has served requests, and finds their
// figures, every family once, and 404 and 405 where they belong.
func TestScrape(t *testing.T) {
	s := serve(t)
	for _, path := range []string{"/", "/", "/missing"} {
		get(t, "http://"+s.hello+path)
	}
	get(t, "http://"+s.ws+"/") // a plain GET: 426
	for range 2 {
		c, err := net.Dial("tcp", s.echo)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("hi"))
		io.ReadFull(c, make([]byte, 2))
		c.Close()
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for {
		var resp *http.Response
		resp, body = get(t, "http://"+s.metrics+"/metrics")
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != evmetrics.ContentType {
			t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		// The requests are counted as they end, on their loop.
		if strings.Contains(body, `eddy_http_requests_total{server="hello",code="2xx"} 2`+"\n") &&
			strings.Contains(body, `eddy_http_requests_total{server="hello",code="4xx"} 1`+"\n") &&
			strings.Contains(body, `eddy_ws_refused_total{server="ws"} 1`+"\n") &&
			strings.Contains(body, `eddy_connections_closed_total{server="echo",reason="eof"} 2`+"\n") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{
		`eddy_http_requests_total{server="hello",code="2xx"} 2`,
		`eddy_http_requests_total{server="hello",code="4xx"} 1`,
		`eddy_http_request_duration_seconds_count{server="hello"} 3`,
		`eddy_ws_refused_total{server="ws"} 1`,
		`eddy_loop_iterations_total{loop="1"} `,
		`eddy_loop_lag_seconds_bucket{loop="0",le="+Inf"} `,
		`eddy_connections_accepted_total{server="echo"} 2`,
		`eddy_received_bytes_total{server="echo"} 4`,
		`eddy_connections_open{server="echo"} 0`,
		`eddy_connections_closed_total{server="hello",reason="eof"} `,
		"# TYPE eddy_loop_lag_seconds histogram\n",
		"# TYPE eddy_connections_open gauge\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q in:\n%s", want, body)
		}
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			name, _, _ = strings.Cut(name, " ")
			if seen[name] {
				t.Errorf("family %s twice", name)
			}
			seen[name] = true
		}
	}
	if resp, _ := get(t, "http://"+s.metrics+"/other"); resp.StatusCode != 404 {
		t.Errorf("GET /other: %d, want 404", resp.StatusCode)
	}
	resp, err := http.Post("http://"+s.metrics+"/metrics", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /metrics: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestScrapeConcurrent scrapes from several goroutines while requests are
// served and sources are added (for the race detector).
func TestScrapeConcurrent(t *testing.T) {
	s := serve(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 20 {
				if i == 0 {
					get(t, "http://"+s.metrics+"/metrics")
				} else if i == 1 && j%5 == 0 {
					s.reg.AddCollector(func(w *evmetrics.Writer) {
						name := fmt.Sprintf("test_%d", j)
						w.Family(name, evmetrics.Gauge, "A test.")
						w.Uint(name, 1)
					})
				} else {
					get(t, "http://"+s.hello+"/")
				}
				var w evmetrics.Writer
				s.reg.WriteTo(&w)
			}
		})
	}
	wg.Wait()
}

// TestScrapeAllocs: after the first scrapes, one allocates nothing.
func TestScrapeAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector allocates")
	}
	s := serve(t)
	get(t, "http://"+s.hello+"/")
	var w evmetrics.Writer
	s.reg.WriteTo(&w)
	if n := testing.AllocsPerRun(100, func() { w.Reset(); s.reg.WriteTo(&w) }); n != 0 {
		t.Errorf("%v allocations per scrape", n)
	}
}
