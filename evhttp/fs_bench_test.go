package evhttp_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddyloop/eddy/evhttp"
)

// fsBenchFile makes a directory with a 1 KiB file, small.txt.
func fsBenchFile(tb testing.TB) (root string, data []byte) {
	tb.Helper()
	root = tb.TempDir()
	data = bytes.Repeat([]byte("0123456789abcdef"), 64)
	if err := os.WriteFile(filepath.Join(root, "small.txt"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return root, data
}

const fsBenchReq = "GET /small.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

func benchmarkFileServer(b *testing.B, opts *evhttp.FileServerConfig, pipelined int) {
	root, data := fsBenchFile(b)
	h := newPairHarness(b, &evhttp.Server{Handler: evhttp.FileServer(root, opts)})
	one := h.roundTrip(b, []byte(fsBenchReq), 0)
	for !bytes.HasSuffix(one, data) { // the head and the body may come apart
		one = append(one, h.roundTrip(b, nil, 0)...)
	}
	n := len(one) * pipelined
	req := []byte(strings.Repeat(fsBenchReq, pipelined))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.roundTrip(b, req, n)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*pipelined), "ns/req")
}

// BenchmarkFileServerCached is a GET of a 1 KiB file whose descriptor and
// attributes the loop has cached: answered on the loop, the body with
// sendfile.
func BenchmarkFileServerCached(b *testing.B) { benchmarkFileServer(b, nil, 1) }

// BenchmarkFileServerCachedPipelined16 is 16 pipelined GETs of it.
func BenchmarkFileServerCachedPipelined16(b *testing.B) { benchmarkFileServer(b, nil, 16) }

// BenchmarkFileServerUncached opens and stats the file on the work pool
// for every request (CacheTTL negative).
func BenchmarkFileServerUncached(b *testing.B) {
	benchmarkFileServer(b, &evhttp.FileServerConfig{CacheTTL: -1}, 1)
}

// TestFileServerAllocs: a GET of a cached file, a 304 and a range
// allocate nothing once the connection is warm. (The race detector
// allocates: there the requests run, unchecked.)
func TestFileServerAllocs(t *testing.T) {
	root, data := fsBenchFile(t)
	for _, tc := range []struct{ name, req string }{
		{"GET", fsBenchReq},
		{"304", "GET /small.txt HTTP/1.1\r\nHost: x\r\nIf-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n\r\n"},
		{"HEAD", "HEAD /small.txt HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"pipelined", strings.Repeat(fsBenchReq, 8)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evhttp.UncheckedResets(t)
			h := newPairHarness(t, &evhttp.Server{Handler: evhttp.FileServer(root, &evhttp.FileServerConfig{CacheTTL: 1 << 40})})
			req := []byte(tc.req)
			one := h.roundTrip(t, []byte(fsBenchReq), 0)
			for !bytes.HasSuffix(one, data) {
				one = append(one, h.roundTrip(t, nil, 0)...)
			}
			var n int
			switch tc.name {
			case "GET":
				n = len(one)
			case "pipelined":
				n = 8 * len(one)
			default: // one write
				n = len(h.roundTrip(t, req, 0))
			}
			a := testing.AllocsPerRun(200, func() { h.roundTrip(t, req, n) })
			if a != 0 && !svRace {
				t.Errorf("%v allocations per request", a)
			}
		})
	}
}
