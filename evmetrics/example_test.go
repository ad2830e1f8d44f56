package evmetrics_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/evnet"
)

// A server on a group of loops (one here, so that the output is always
// the same), and its figures at /metrics on another port, served on the
// group's first loop.
func Example() {
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 1})
	if err != nil {
		panic(err)
	}
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.WriteString("Hello, World!")
	})}
	ln, err := srv.ServeGroup(g, "tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	reg := new(evmetrics.Registry)
	reg.AddGroup(g)
	reg.AddServer("hello", srv)
	msrv := &evhttp.Server{Handler: reg}
	var mln *evnet.Listener
	done := make(chan struct{})
	g.Post(0, func() { mln, err = msrv.Serve(g.Loop(0), "tcp", "127.0.0.1:0"); close(done) })
	<-done
	if err != nil {
		panic(err)
	}

	for range 3 {
		resp, err := http.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			panic(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Get("http://" + mln.Addr().String() + "/metrics")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(resp.Header.Get("Content-Type"))
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "eddy_http_requests_total") || strings.HasPrefix(line, "eddy_connections_accepted_total") {
			fmt.Println(line)
		}
	}

	srv.Close()
	msrv.Close()
	g.Shutdown(time.Second)
	// Output:
	// text/plain; version=0.0.4; charset=utf-8
	// eddy_http_requests_total{server="hello",code="none"} 0
	// eddy_http_requests_total{server="hello",code="1xx"} 0
	// eddy_http_requests_total{server="hello",code="2xx"} 3
	// eddy_http_requests_total{server="hello",code="3xx"} 0
	// eddy_http_requests_total{server="hello",code="4xx"} 0
	// eddy_http_requests_total{server="hello",code="5xx"} 0
	// eddy_connections_accepted_total{server="hello"} 1
}

// A Writer writes families of the program's own: here a gauge, and a
// histogram of durations.
func ExampleWriter() {
	var w evmetrics.Writer
	w.Family("queue_length", evmetrics.Gauge, "Jobs waiting, by queue.")
	w.Uint("queue_length", 3, "queue", `say "hi"`)
	var r eddy.HistogramRecorder
	r.Observe(3 * time.Microsecond)
	r.Observe(2 * time.Second)
	h := r.Snapshot()
	w.Family("job_seconds", evmetrics.Histogram, "Job durations.")
	w.Histogram("job_seconds", &h)
	for _, line := range strings.SplitAfter(string(w.Bytes()), "\n") {
		if !strings.HasPrefix(line, "job_seconds_bucket") || strings.Contains(line, `"4e-06"`) || strings.Contains(line, "+Inf") {
			os.Stdout.WriteString(line)
		}
	}
	// Output:
	// # HELP queue_length Jobs waiting, by queue.
	// # TYPE queue_length gauge
	// queue_length{queue="say \"hi\""} 3
	// # HELP job_seconds Job durations.
	// # TYPE job_seconds histogram
	// job_seconds_bucket{le="4e-06"} 1
	// job_seconds_bucket{le="+Inf"} 2
	// job_seconds_sum 2.000003
	// job_seconds_count 2
}

// A Collector adds the program's families to what a Registry writes.
func ExampleRegistry_AddCollector() {
	reg := new(evmetrics.Registry)
	reg.AddCollector(func(w *evmetrics.Writer) {
		w.Family("app_up", evmetrics.Gauge, "Whether the application is up.")
		w.Uint("app_up", 1)
	})
	var w evmetrics.Writer
	reg.WriteTo(&w)
	os.Stdout.Write(w.Bytes())
	// Output:
	// # HELP app_up Whether the application is up.
	// # TYPE app_up gauge
	// app_up 1
}
