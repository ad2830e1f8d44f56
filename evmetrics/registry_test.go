package evmetrics_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/eddyloop/eddy/evmetrics"
	"github.com/eddyloop/eddy/internal/testutil/metricstest"
)

// TestScrape scrapes a server that has served requests, and finds their
// figures, every family once, and 404 and 405 where they belong.
func TestScrape(t *testing.T) {
	s := metricstest.Serve(t)
	s.Traffic(t)
	resp, b := s.Scrape(t)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != evmetrics.ContentType {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	body := string(b)
	for _, want := range []string{
		`eddy_http_requests_total{server="hello",code="2xx"} 2`,
		`eddy_http_requests_total{server="hello",code="4xx"} 1`,
		`eddy_http_request_duration_seconds_count{server="hello"} 3`,
		`eddy_ws_refused_total{server="ws"} 1`,
		`eddy_loop_iterations_total{loop="1"} `,
		`eddy_loop_lag_seconds_bucket{loop="0",le="+Inf"} `,
		`eddy_connections_accepted_total{server="echo"} 1`,
		`eddy_received_bytes_total{server="echo"} 5`,
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
	if resp, _ := metricstest.Get(t, "http://"+s.Metrics+"/other"); resp.StatusCode != 404 {
		t.Errorf("GET /other: %d, want 404", resp.StatusCode)
	}
	resp, err := http.Post("http://"+s.Metrics+"/metrics", "text/plain", strings.NewReader("x"))
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
	s := metricstest.Serve(t)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 20 {
				if i == 0 {
					metricstest.Get(t, "http://"+s.Metrics+"/metrics")
				} else if i == 1 && j%5 == 0 {
					s.Reg.AddCollector(func(w *evmetrics.Writer) {
						name := fmt.Sprintf("test_%d", j)
						w.Family(name, evmetrics.Gauge, "A test.")
						w.Uint(name, 1)
					})
				} else {
					metricstest.Get(t, "http://"+s.Hello+"/")
				}
				var w evmetrics.Writer
				s.Reg.WriteTo(&w)
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
	s := metricstest.Serve(t)
	metricstest.Get(t, "http://"+s.Hello+"/")
	var w evmetrics.Writer
	s.Reg.WriteTo(&w)
	if n := testing.AllocsPerRun(100, func() { w.Reset(); s.Reg.WriteTo(&w) }); n != 0 {
		t.Errorf("%v allocations per scrape", n)
	}
}
