package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// scrapeUntil gets http://addr/metrics until it has every line of want
// (each a whole line, or the start of one), for 10 seconds at most, and
// fails the test with the last scrape if it never has.
func scrapeUntil(t *testing.T, addr string, want ...string) string {
	t.Helper()
	var body string
	ok := testutil.Eventually(10*time.Second, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
			t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		body = "\n" + string(b)
		for _, w := range want {
			if !strings.Contains(body, "\n"+w) {
				return false
			}
		}
		return true
	})
	if !ok {
		t.Fatalf("/metrics lacks one of %q:\n%s", want, body)
	}
	return body
}

// getN gets url n times on one connection.
func getN(t *testing.T, url string, n int) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for range n {
		resp, err := hc.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

func TestServeMetrics(t *testing.T) {
	bin := buildEddy(t)
	maddr := freeAddr(t)
	p := startServe(t, bin, "-loops", "2", "-quiet", "-metrics", maddr)
	if !strings.Contains(p.stderr.String(), "metrics at http://"+maddr+"/metrics") {
		t.Errorf("no metrics line:\n%s", p.stderr.String())
	}
	getN(t, "http://"+p.addr+"/", 3)
	scrapeUntil(t, maddr,
		`eddy_http_requests_total{server="serve",code="2xx"} 3`+"\n",
		`eddy_http_request_duration_seconds_count{server="serve"} 3`+"\n",
		`eddy_connections_accepted_total{server="serve"} 1`+"\n",
		`eddy_loop_iterations_total{loop="0"} `, `eddy_loop_iterations_total{loop="1"} `,
		`eddy_loop_lag_seconds_count{loop="1"} `,
		"# TYPE eddy_loop_lag_seconds histogram\n")
	// The lag sampler fires every 100ms on every loop: samples come.
	scrapeUntil(t, maddr, `eddy_loop_lag_seconds_bucket{loop="1",le="+Inf"} 2`)
	p.stop(t, syscall.SIGTERM, "stopped after")
}

func TestProxyMetrics(t *testing.T) {
	bin := buildEddy(t)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	defer upstream.Close()
	dead := freeAddr(t) // nothing listens: a connect fails
	maddr := freeAddr(t)
	p := startProxyBin(t, bin, "-upstream", upstream.URL, "-quiet", "-metrics", maddr)
	getN(t, "http://"+p.addr+"/x", 2)
	scrapeUntil(t, maddr,
		`eddy_http_requests_total{server="proxy",code="2xx"} 2`+"\n",
		`eddy_proxy_upstream_requests_total{upstream="`+upstream.URL+`",addr="`+upstream.Listener.Addr().String()+`"} 2`+"\n",
		`eddy_proxy_upstream_failures_total{upstream="`+upstream.URL+`",addr="`+upstream.Listener.Addr().String()+`"} 0`+"\n",
		`eddy_proxy_upstream_healthy{upstream="`+upstream.URL+`",addr="`+upstream.Listener.Addr().String()+`"} 1`+"\n",
		`eddy_connections_open{server="proxy"} `)
	p.stop(t, syscall.SIGTERM, "stopped after 2 requests")

	// An upstream that refuses: 502, and failures.
	maddr = freeAddr(t)
	p = startProxyBin(t, bin, "-upstream", "http://"+dead, "-metrics", maddr)
	getN(t, "http://"+p.addr+"/x", 1)
	scrapeUntil(t, maddr,
		`eddy_http_requests_total{server="proxy",code="5xx"} 1`+"\n",
		// the request and its retry (it never left), both failed
		`eddy_proxy_upstream_requests_total{upstream="http://`+dead+`",addr="`+dead+`"} 2`+"\n",
		`eddy_proxy_upstream_failures_total{upstream="http://`+dead+`",addr="`+dead+`"} 2`+"\n")
	p.stop(t, syscall.SIGTERM, "stopped after")
}

func TestProxyTCPMetrics(t *testing.T) {
	bin := buildEddy(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	maddr := freeAddr(t)
	p := startProxyBin(t, bin, "-tcp", "-upstream", ln.Addr().String(), "-quiet", "-metrics", maddr)
	c, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("ping"))
	io.ReadFull(c, make([]byte, 4))
	c.Close()
	scrapeUntil(t, maddr,
		`eddy_connections_accepted_total{server="proxy"} 1`+"\n",
		`eddy_received_bytes_total{server="proxy"} 4`+"\n",
		`eddy_connections_open{server="proxy"} 0`+"\n")
	p.stop(t, syscall.SIGTERM, "stopped after")
}

// TestMetricsUsage: a bad -metrics address is a usage error (status 2),
// one in use a failure to start (status 1), on every command that takes it.
func TestMetricsUsage(t *testing.T) {
	bin := buildEddy(t)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, args := range [][]string{
		{"serve", "-addr", "127.0.0.1:0"}, {"ws", "-addr", "127.0.0.1:0"},
		{"proxy", "-addr", "127.0.0.1:0", "-upstream", "http://127.0.0.1:1"},
	} {
		for _, tc := range []struct {
			metrics string
			status  int
			want    string
		}{
			{"localhost:x", 2, "-metrics: "},
			{busy.Addr().String(), 1, "-metrics: "},
		} {
			cmd := exec.Command(bin, append(args, "-loops", "1", "-metrics", tc.metrics)...)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.status || !strings.Contains(string(out), tc.want) {
				t.Errorf("eddy %s -metrics %s: %v, want status %d and %q:\n%s", args[0], tc.metrics, err, tc.status, tc.want, out)
			}
		}
	}
}
