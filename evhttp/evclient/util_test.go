package evclient_test

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// The client tests run on real sockets on loopback. Each test checks for
// leaks itself (clLeakCheck: descriptors and goroutines back to what they
// were when it began), so that the package needs no TestMain of its own.

// clLeakCheck fails the test if, once its cleanups have run, descriptors
// are left open or goroutines running that were not there when it began.
// Call it first, so that its cleanup runs last.
func clLeakCheck(t *testing.T) {
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

// clLoop is a loop running on its own goroutine for a test.
type clLoop = testloop.Loop

func clStartLoop(t testing.TB) *clLoop { return testloop.Start(t) }

// clNewClient makes a Client on rl, closed when the test ends.
func clNewClient(t testing.TB, rl *clLoop, cfg *evclient.Config) *evclient.Client {
	var c *evclient.Client
	rl.Do(func() { c = evclient.New(rl.Loop, cfg) })
	t.Cleanup(func() { rl.Do(c.Close) })
	return c
}

// clStats returns c's counters, read on its loop.
func clStats(rl *clLoop, c *evclient.Client) (s evclient.Stats) {
	rl.Do(func() { s = c.Stats() })
	return s
}

type clResult struct {
	resp *evclient.Response
	err  error
}

// clDo runs c.Do on the loop and waits for its result.
func clDo(t testing.TB, rl *clLoop, c *evclient.Client, req *evclient.Request) (*evclient.Response, error) {
	t.Helper()
	ch := make(chan clResult, 1)
	rl.Post(func() {
		c.Do(req, func(r *evclient.Response, err error) { ch <- clResult{r, err} })
	})
	select {
	case r := <-ch:
		return r.resp, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %s: no answer in 30s", req.Method, req.URL)
		return nil, nil
	}
}

// clGet is clDo for a GET that must succeed.
func clGet(t testing.TB, rl *clLoop, c *evclient.Client, url string) *evclient.Response {
	t.Helper()
	resp, err := clDo(t, rl, c, &evclient.Request{URL: url})
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp
}

// clServer is an httptest server that counts the connections it accepts.
type clServer struct {
	*httptest.Server
	newConns atomic.Int64
}

func clNewServer(t testing.TB, h http.Handler) *clServer {
	s := &clServer{}
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

// clRawServer is a TCP server for the cases net/http's server will not
// play: each accepted connection is given to handle, with its number
// (0, 1, ...), on a goroutine of its own.
type clRawServer struct {
	ln   net.Listener
	wg   sync.WaitGroup
	mu   sync.Mutex
	conn []net.Conn
}

func clNewRawServer(t testing.TB, handle func(n int, c net.Conn, r *bufio.Reader)) *clRawServer {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &clRawServer{ln: ln}
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

func (s *clRawServer) URL() string { return "http://" + s.ln.Addr().String() }

// clReadRequest reads a request and its body, or reports false.
func clReadRequest(r *bufio.Reader) (*http.Request, bool) {
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
