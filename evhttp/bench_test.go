package evhttp_test

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// hello is the plaintext handler of the benchmarks and the examples.
var hello = evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteString("Hello, World!")
})

// pairHarness serves one end of a socket pair on a loop the benchmark
// goroutine drives itself (RunOnce), and talks HTTP on the other end: a
// real connection, with no goroutine in between.
type pairHarness struct {
	l      *eddy.Loop
	client int
	buf    []byte
}

func newPairHarness(tb testing.TB, srv *evhttp.Server) *pairHarness {
	tb.Helper()
	a, b := testutil.Socketpair(tb)
	return newHarness(tb, srv, a, b)
}

// newHarness serves a (which it takes over) and talks on b.
func newHarness(tb testing.TB, srv *evhttp.Server, a, b int) *pairHarness {
	tb.Helper()
	l, err := eddy.NewLoop(nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { l.Close() })
	fd, err := unix.Dup(a)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := evnet.Adopt(l, fd, srv.ConnHandler(), &evnet.ConnConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	unix.Close(a)
	return &pairHarness{l: l, client: b, buf: make([]byte, 1<<20)}
}

// roundTrip sends req and returns the next n bytes of response (all that
// arrives if n is 0, after at least one read).
func (h *pairHarness) roundTrip(tb testing.TB, req []byte, n int) []byte {
	if _, err := unix.Write(h.client, req); err != nil {
		tb.Fatal(err)
	}
	got := 0
	for {
		if err := h.l.RunOnce(); err != nil {
			tb.Fatal(err)
		}
		k, err := unix.Read(h.client, h.buf[got:])
		if err == unix.EAGAIN {
			continue
		}
		if err != nil || k == 0 {
			tb.Fatalf("read: %d, %v", k, err)
		}
		got += k
		if n == 0 || got >= n {
			return h.buf[:got]
		}
	}
}

const getReq = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

func benchmarkPlaintext(b *testing.B, pipelined int) {
	srv := &evhttp.Server{Handler: hello}
	h := newPairHarness(b, srv)
	req := []byte(strings.Repeat(getReq, pipelined))
	one := h.roundTrip(b, []byte(getReq), 0)
	if !bytes.HasSuffix(one, []byte("Hello, World!")) {
		b.Fatalf("response %q", one)
	}
	n := len(one) * pipelined
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.roundTrip(b, req, n)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*pipelined), "ns/req")
}

// BenchmarkPlaintext is one GET through the native handler and back, on
// a real socket.
func BenchmarkPlaintext(b *testing.B) { benchmarkPlaintext(b, 1) }

// BenchmarkPlaintextPipelined16 is 16 pipelined GETs per round trip,
// answered with one write.
func BenchmarkPlaintextPipelined16(b *testing.B) { benchmarkPlaintext(b, 16) }

// sumHandler answers a POST with the length of its body, read whole.
var sumHandler = evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
	r.ReadAll(func(w *evhttp.ResponseWriter, r *evhttp.Request, body []byte, err error) {
		if err == nil {
			var b [20]byte
			w.Write(strconv.AppendInt(b[:0], int64(len(body)), 10))
			w.End()
		}
	})
})

// TestAllocs: a request served by the native handler allocates nothing
// once the connection is warm: a GET, a pipelined batch, a POST read
// whole.
func TestAllocs(t *testing.T) {
	if svRace {
		t.Skip("the race detector allocates")
	}
	for _, tc := range []struct {
		name string
		h    evhttp.Handler
		req  string
	}{
		{"GET", hello, getReq},
		{"pipelined", hello, strings.Repeat(getReq, 16)},
		{"POST", sumHandler, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"},
		{"POST chunked", sumHandler, "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evhttp.UncheckedResets(t)
			h := newPairHarness(t, &evhttp.Server{Handler: tc.h})
			req := []byte(tc.req)
			n := len(h.roundTrip(t, req, 0))
			for len(h.roundTrip(t, req, 0)) < n {
			}
			if a := testing.AllocsPerRun(200, func() { h.roundTrip(t, req, n) }); a != 0 {
				t.Errorf("%v allocations per request", a)
			}
		})
	}
}

// TestCoalescing: the responses to the requests of one read leave in one
// write. On a SOCK_SEQPACKET pair every write is a record of its own, and
// a read returns one record: all 16 responses must come in the first.
func TestCoalescing(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
	if err != nil {
		t.Skipf("no SOCK_SEQPACKET: %v", err)
	}
	for _, fd := range fds {
		testutil.CloseOnCleanup(t, fd)
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, &evhttp.Server{Handler: hello}, fds[0], fds[1])
	one := len(h.roundTrip(t, []byte(getReq), 0))
	got := h.roundTrip(t, []byte(strings.Repeat(getReq, 16)), 0)
	if n := bytes.Count(got, []byte("Hello, World!")); n != 16 || len(got) != 16*one {
		t.Errorf("the first write held %d responses (%d bytes), want 16 (%d bytes)", n, len(got), 16*one)
	}
}
