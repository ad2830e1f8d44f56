package evhttp_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// svServer is an evhttp.Server on a loop of its own, running in a
// goroutine, with the test handler svServer.serve.
type svServer struct {
	srv  *evhttp.Server
	l    *eddy.Loop
	addr string
	done chan error

	mu     sync.Mutex
	events []string // what the handlers' callbacks reported
	held   []*evhttp.ResponseWriter

	started   atomic.Int64 // handler calls
	fulls     atomic.Int64 // times a streaming handler saw Full
	maxQueued atomic.Int64 // largest output queue a streaming handler saw
	logs      syncLog
}

// svStart serves srv (its Handler set to the test handler if nil) on
// 127.0.0.1 and a free port; it is closed and its loop stopped when the
// test ends.
func svStart(t testing.TB, srv *evhttp.Server) *svServer {
	t.Helper()
	s := &svServer{srv: srv, done: make(chan error, 1)}
	if srv.Handler == nil {
		srv.Handler = evhttp.HandlerFunc(s.serve)
	}
	if srv.ErrorLog == nil {
		srv.ErrorLog = s.logs.printf
	}
	l, err := eddy.NewLoop(&eddy.Config{Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	s.l = l
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		l.Close()
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go func() { s.done <- l.Run() }()
	t.Cleanup(func() {
		srv.Close()
		select {
		case err := <-s.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the loop did not stop after Close")
		}
		l.Close()
	})
	return s
}

// do runs f on the server's loop and waits for it.
func (s *svServer) do(f func()) { s.testLoop().Do(f) }

// barrier returns once the server's loop has handled every event that
// was ready when it was called (testloop's Barrier): bytes a client wrote
// before are read, and the native handlers they call for have run. It is
// how a test sees that nothing happened, instead of sleeping.
func (s *svServer) barrier() { s.testLoop().Barrier() }

// testLoop is the server's loop as testloop's Loop, whose Do and Barrier
// work on a loop another goroutine runs (svStart's, in debug mode).
func (s *svServer) testLoop() *testloop.Loop { return &testloop.Loop{Loop: s.l} }

func (s *svServer) event(format string, args ...any) {
	s.mu.Lock()
	s.events = append(s.events, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

// eventually waits until an event containing want has been reported.
func (s *svServer) eventually(t *testing.T, want string) {
	t.Helper()
	ok := testutil.Eventually(10*time.Second, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, e := range s.events {
			if strings.Contains(e, want) {
				return true
			}
		}
		return false
	})
	if !ok {
		s.mu.Lock()
		defer s.mu.Unlock()
		t.Fatalf("no event %q among %q", want, s.events)
	}
}

// svChunk is what /big writes at a time.
var svChunk = make([]byte, 32<<10)

// serve is the test handler, by path:
//
//	/, /hello        Hello, World!
//	/path/...        the path as the body
//	/echo            the body back, streamed, with backpressure
//	/sum             ReadAll: "length sha256" of the body, trailer X-Sum if any
//	/slow?ms=N       Async: answers after N ms from a timer
//	/hold            Async: answers when the test releases it
//	/panic           panics
//	/big?n=N         N bytes streamed, stopping at Full
//	/reject          403 without reading the body
//	/hints           103 Early Hints, then 200
//	/nocontent       204
//	/short           declares 10 bytes, writes 5
//	/long            declares 5 bytes, writes 10
//	/stream?n=N      N bytes in 1000-byte writes, no declared length
//	/watch           reports the body's end and the exchange's end as events
func (s *svServer) serve(w *evhttp.ResponseWriter, r *evhttp.Request) {
	s.started.Add(1)
	path := string(r.Path())
	q := string(r.RawQuery())
	num := func(name string, def int) int {
		for _, kv := range strings.Split(q, "&") {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				n, _ := strconv.Atoi(v)
				return n
			}
		}
		return def
	}
	w.Header().Set("Content-Type", "text/plain")
	switch {
	case path == "/" || path == "/hello":
		w.WriteString("Hello, World!")
	case strings.HasPrefix(path, "/path/"):
		w.WriteString(path)
	case path == "/echo":
		w.Header().Set("Content-Type", "application/octet-stream")
		w.OnDrain(func(w *evhttp.ResponseWriter) { w.Request().ResumeBody() })
		r.OnBody(func(w *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
			if len(p) > 0 {
				w.Write(p)
			}
			switch {
			case err == io.EOF:
				w.End()
			case err != nil:
				s.event("echo body: %v", err)
			case w.Full():
				s.fulls.Add(1)
				r.PauseBody()
			}
		})
	case path == "/sum":
		r.ReadAll(func(w *evhttp.ResponseWriter, r *evhttp.Request, body []byte, err error) {
			if err != nil {
				s.event("sum body: %v", err)
				return
			}
			sum := sha256.Sum256(body)
			fmt.Fprintf(w, "%d %s", len(body), hex.EncodeToString(sum[:]))
			if tr := r.Trailer("X-Sum"); tr != nil {
				fmt.Fprintf(w, " trailer=%s", tr)
			}
			w.End()
		})
	case path == "/slow":
		d := time.Duration(num("ms", 100)) * time.Millisecond
		tm := eddy.NewTimer(func(*eddy.Timer) {
			w.WriteString("slow " + strconv.Itoa(num("ms", 100)))
			w.End()
		}, d, 0)
		tm.Start(r.Loop())
		w.OnDone(func(w *evhttp.ResponseWriter, err error) {
			tm.Stop()
			if err != nil {
				s.event("slow done: %v", err)
			}
		})
		w.Async()
	case path == "/hold":
		w.Async()
		s.mu.Lock()
		s.held = append(s.held, w)
		s.mu.Unlock()
		w.OnDone(func(w *evhttp.ResponseWriter, err error) {
			s.event("hold done: %v", err)
		})
	case path == "/panic":
		panic("test panic")
	case path == "/big":
		n := int64(num("n", 1<<20))
		w.SetContentLength(n)
		var sent int64
		var more func(w *evhttp.ResponseWriter)
		more = func(w *evhttp.ResponseWriter) {
			for sent < n {
				if w.Full() {
					s.fulls.Add(1)
					return
				}
				k := min(int64(len(svChunk)), n-sent)
				if _, err := w.Write(svChunk[:k]); err != nil {
					s.event("big write: %v", err)
					return
				}
				sent += k
				if q := int64(w.Request().Conn().Buffered()); q > s.maxQueued.Load() {
					s.maxQueued.Store(q)
				}
			}
			w.End()
		}
		w.OnDrain(more)
		w.OnDone(func(w *evhttp.ResponseWriter, err error) { s.event("big done: %v", err) })
		w.Async()
		more(w)
	case path == "/reject":
		w.WriteHeader(403)
		w.WriteString("no")
	case path == "/hints":
		w.Header().Set("Link", "</style.css>; rel=preload; as=style")
		w.WriteHeader(103)
		w.Header().Del("Link")
		w.WriteString("hinted")
	case path == "/nocontent":
		w.WriteHeader(204)
		if _, err := w.WriteString("x"); err != evhttp.ErrBodyNotAllowed {
			s.event("204 write: %v", err)
		}
	case path == "/short":
		w.SetContentLength(10)
		w.WriteString("12345")
	case path == "/long":
		w.SetContentLength(5)
		if _, err := w.WriteString("1234567890"); err != evhttp.ErrContentLength {
			s.event("long write: %v", err)
		}
	case path == "/stream":
		n := num("n", 100000)
		for i := 0; i < n; i += 1000 {
			w.Write(svChunk[:min(1000, n-i)])
		}
	case path == "/watch":
		r.OnBody(func(w *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
			if err != nil && err != io.EOF {
				s.event("watch body: %v", err)
			}
		})
		w.OnDone(func(w *evhttp.ResponseWriter, err error) { s.event("watch done: %v", err) })
	default:
		w.WriteHeader(404)
		w.WriteString("not found")
	}
}

// release ends the held responses, oldest first, from the loop.
func (s *svServer) release() {
	s.do(func() {
		s.mu.Lock()
		held := s.held
		s.held = nil
		s.mu.Unlock()
		for _, w := range held {
			w.WriteString("released")
			w.End()
		}
	})
}

// heldCount returns the number of /hold responses waiting.
func (s *svServer) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// syncLog collects log lines from the loop's goroutine.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) printf(format string, args ...any) {
	l.mu.Lock()
	fmt.Fprintf(&l.b, format+"\n", args...)
	l.mu.Unlock()
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// svDial connects to addr, with a 10s deadline; the connection is closed
// when the test ends.
func svDial(t testing.TB, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c, bufio.NewReader(c)
}

// svRead reads one response (for a request of method) and its body.
func svRead(t testing.TB, br *bufio.Reader, method string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("reading a response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading a body: %v", err)
	}
	return resp, string(b)
}

// svExpectEOF checks that the server closes the connection: nothing more
// than EOF (or a reset) comes.
func svExpectEOF(t testing.TB, c net.Conn, br *bufio.Reader) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(br)
	if len(b) > 0 {
		t.Errorf("after the last response: %q", b)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the server did not close the connection")
	}
}

var dateLine = regexp.MustCompile(`Date: [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d GMT\r\n`)

// svNormalize replaces the Date lines of raw responses with "Date: X".
func svNormalize(b []byte) string {
	return dateLine.ReplaceAllString(string(b), "Date: X\r\n")
}

// svPathResponse is the exact (normalized) response to GET path.
func svPathResponse(path string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nDate: X\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(path), path)
}

// svPattern returns n bytes of a pattern that shows a shifted or lost byte.
func svPattern(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func svSum(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("%d %s", len(b), hex.EncodeToString(s[:]))
}
