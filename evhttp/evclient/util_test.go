package evclient_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// The client tests run on real sockets on loopback. Each test checks for
// leaks itself (leakCheck: descriptors and goroutines back to what they
// were when it began), so that a leak names its test; TestMain checks the
// whole run as well.

// leakCheck fails the test if, once its cleanups have run, descriptors
// are left open or goroutines running that were not there when it began.
// Call it first, so that its cleanup runs last.
func leakCheck(t *testing.T) {
	t.Helper()
	fds := testutil.OpenFds()
	g := runtime.NumGoroutine()
	t.Cleanup(func() {
		var extra []string
		ok := testutil.Eventually(5*time.Second, func() bool {
			extra = extra[:0]
			for _, fd := range testutil.OpenFds() {
				if !slices.Contains(fds, fd) {
					extra = append(extra, fd)
				}
			}
			return len(extra) == 0 && runtime.NumGoroutine() <= g
		})
		if !ok {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("leak: descriptors left open: %v; goroutines %d, were %d:\n%s", extra, runtime.NumGoroutine(), g, buf)
		}
	})
}

// testLoop is a loop running on its own goroutine for a test.
type testLoop = testloop.Loop

func startLoop(t testing.TB) *testLoop { return testloop.Start(t) }

// clockLoop is a loop running on its own goroutine for a test, as
// testloop's, whose clock is fake (eddytest.Clock): its time moves only
// when the test calls Advance, so that a timeout is tested without waiting
// for it, and a test that is slow for other reasons (a loaded machine, the
// race detector) cannot time out by accident. Its sockets are real.
type clockLoop struct {
	*eddy.Loop
	clock *eddytest.Clock
}

func startClockLoop(t testing.TB) *clockLoop {
	t.Helper()
	clock := eddytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := eddy.NewLoop(&eddy.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	fl := &clockLoop{Loop: l, clock: clock}
	// A referenced timer a (fake) day away keeps Run going while the test
	// has nothing active on the loop.
	keep := eddy.NewTimer(func(*eddy.Timer) {}, 24*time.Hour, 24*time.Hour)
	done := make(chan error, 1)
	ready := make(chan struct{})
	l.Post(func() { keep.Start(l); close(ready) }) // before Run, which has nothing else to wait for
	go func() { done <- l.Run() }()
	<-ready
	t.Cleanup(func() {
		fl.Post(func() { keep.Stop(); l.Break(eddy.BreakAll) })
		if err := <-done; err != nil {
			t.Errorf("loop: %v", err)
		}
		l.Close()
	})
	return fl
}

// Do runs f on the loop and waits for it to return.
func (fl *clockLoop) Do(f func()) {
	ch := make(chan struct{})
	fl.Post(func() { f(); close(ch) })
	<-ch
}

// Advance lets d pass on the loop's clock and returns once the loop has
// run what came due then, and what that caused (a barrier, as testloop's:
// the posted function wakes the loop, which reads the clock and runs the
// due timers before it; the second round trip covers their effects).
func (fl *clockLoop) Advance(d time.Duration) {
	fl.clock.Advance(d)
	fl.Do(func() {})
	fl.Do(func() {})
}

// runner is what the helpers need of a test's loop: a *testLoop or a
// *clockLoop.
type runner interface {
	Post(f func())
	Do(f func())
}

// newClient makes a Client on rl, closed when the test ends.
func newClient(t testing.TB, rl runner, cfg *evclient.Config) *evclient.Client {
	var l *eddy.Loop
	switch r := rl.(type) {
	case *testLoop:
		l = r.Loop
	case *clockLoop:
		l = r.Loop
	}
	var c *evclient.Client
	rl.Do(func() { c = evclient.New(l, cfg) })
	t.Cleanup(func() { rl.Do(c.Close) })
	return c
}

// stats returns c's counters, read on its loop.
func stats(rl runner, c *evclient.Client) (s evclient.Stats) {
	rl.Do(func() { s = c.Stats() })
	return s
}

type result struct {
	resp *evclient.Response
	err  error
}

// doReq runs c.Do on the loop and waits for its result.
func doReq(t testing.TB, rl runner, c *evclient.Client, req *evclient.Request) (*evclient.Response, error) {
	t.Helper()
	ch := make(chan result, 1)
	rl.Post(func() {
		c.Do(req, func(r *evclient.Response, err error) { ch <- result{r, err} })
	})
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %s: no answer in 30s", req.Method, req.URL)
		return nil, nil
	}
}

// mustGet is doReq for a GET that must succeed.
func mustGet(t testing.TB, rl runner, c *evclient.Client, url string) *evclient.Response {
	t.Helper()
	resp, err := doReq(t, rl, c, &evclient.Request{URL: url})
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

// countingServer is an httptest server that counts the connections it accepts.
type countingServer struct {
	*httptest.Server
	newConns atomic.Int64
}

func newCountingServer(t testing.TB, h http.Handler) *countingServer {
	s := &countingServer{}
	s.Server = httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.newConns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// rawServer is a TCP server for the cases net/http's server will not
// play: each accepted connection is given to handle, with its number
// (0, 1, ...), on a goroutine of its own.
type rawServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn []net.Conn
}

func newRawServer(t testing.TB, handle func(n int, c net.Conn, r *bufio.Reader)) *rawServer {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conn = append(s.conn, c)
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				handle(n, c, bufio.NewReader(c))
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.conn {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *rawServer) URL() string { return "http://" + s.ln.Addr().String() }

// readRequest reads a request and its body, or reports false.
func readRequest(r *bufio.Reader) (*http.Request, bool) {
	req, err := http.ReadRequest(r)
	if err != nil {
		return nil, false
	}
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := req.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return req, true
}

// pattern returns n bytes of a reproducible pseudo-random pattern.
func pattern(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for k := range 8 {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// echoHandler answers with what it learnt of the request: method, host, user
// agent, body length and hash, transfer encoding, path.
func echoHandler(w http.ResponseWriter, r *http.Request) {
	var src io.Reader = r.Body
	if r.URL.Query().Get("slow") != "" {
		src = &slowReader{r: r.Body}
	}
	body, err := io.ReadAll(src)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Add("X-Multi", "a")
	w.Header().Add("X-Multi", "b")
	fmt.Fprintf(w, "%s %s host=%s ua=%s len=%d sum=%s te=%v expect=%s", r.Method, r.URL.RequestURI(), r.Host,
		r.UserAgent(), len(body), digest(body), r.TransferEncoding, r.Header.Get("Expect"))
}

// slowReader reads its first 4 MiB slowly, so that the kernel's buffers
// fill up and the writer at the other end sees backpressure. Its sleep
// paces a real peer (a net/http handler reading a request body): that the
// server reads slowly is the point.
type slowReader struct {
	r io.Reader
	n int
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.n < 4<<20 {
		time.Sleep(100 * time.Microsecond)
		p = p[:min(len(p), 16<<10)]
	}
	n, err := s.r.Read(p)
	s.n += n
	return n, err
}

// bigHandler serves n pattern bytes, with Content-Length or chunked.
func bigHandler(data []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("chunked") == "" {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			w.Write(data)
			return
		}
		f := w.(http.Flusher)
		for off := 0; off < len(data); off += 100 << 10 {
			w.Write(data[off:min(len(data), off+100<<10)])
			f.Flush()
		}
	}
}

// fullBacklog returns the address of a loopback listener whose accept
// queue is full, so that a new connect hangs (the kernel drops its SYN),
// or "" when the system accepts the connections anyway.
func fullBacklog(t *testing.T) string {
	_, sa := testutil.ListenLoopback(t, 0)
	addr := fmt.Sprintf("127.0.0.1:%d", sa.Port)
	for range 8 {
		c, err := net.DialTimeout("tcp4", addr, 200*time.Millisecond)
		if err != nil {
			return addr // this one hung: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	return ""
}
