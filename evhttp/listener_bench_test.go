package evhttp_test

import (
	"bytes"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
)

// benchScrape, if set (metrics_bench_test.go), starts a goroutine that
// reads srv's and l's figures as a scraper would, until stop is called.
var benchScrape func(srv *evhttp.Server, l *eddy.Loop) (stop func())

// benchmarkListener is benchmarkPlaintext on a loopback TCP connection
// that a listener of the Server accepted: the path of a real server,
// whose connections count in its listener's figures.
func benchmarkListener(b *testing.B, pipelined int, scrape bool) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	srv := &evhttp.Server{Handler: hello}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	unix.CloseOnExec(fd)
	if err := unix.Connect(fd, &unix.SockaddrInet4{Port: int(ln.Addr().Port()), Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		b.Fatal(err)
	}
	unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1)
	if err := unix.SetNonblock(fd, true); err != nil {
		b.Fatal(err)
	}
	h := &pairHarness{l: l, client: fd, buf: make([]byte, 1<<20)}
	one := h.roundTrip(b, []byte(getReq), 0)
	if !bytes.HasSuffix(one, []byte("Hello, World!")) {
		b.Fatalf("response %q", one)
	}
	if scrape {
		if benchScrape == nil {
			b.Skip("no figures to scrape in this build")
		}
		defer benchScrape(srv, l)()
	}
	req := []byte(strings.Repeat(getReq, pipelined))
	n := len(one) * pipelined
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	for range b.N {
		h.roundTrip(b, req, n)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*pipelined), "ns/req")
	// The process's CPU time, the scraper's included: what the figures
	// cost, where the time per request also holds the waits.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N*pipelined), "cpu-ns/req")
}

// cpuTime returns the CPU time the process has used, user and system, in
// nanoseconds.
func cpuTime(b *testing.B) int64 {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkListener is BenchmarkPlaintext on a TCP connection accepted by
// the Server's listener; Pipelined16 is BenchmarkPlaintextPipelined16's
// load on it. The Scraped variants read the figures (Server.Stats,
// Loop.Stats) from another goroutine every millisecond meanwhile, as a
// scraper would, far more often: with them, and against a build without
// the figures, they measure what the figures cost per request.
func BenchmarkListener(b *testing.B)                   { benchmarkListener(b, 1, false) }
func BenchmarkListenerPipelined16(b *testing.B)        { benchmarkListener(b, 16, false) }
func BenchmarkListenerScraped(b *testing.B)            { benchmarkListener(b, 1, true) }
func BenchmarkListenerPipelined16Scraped(b *testing.B) { benchmarkListener(b, 16, true) }
