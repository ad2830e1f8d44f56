package evhttp_test

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/internal/testutil"
)

// adStartCounting is adStart with a count, in parsed, of the requests the
// server has parsed and handed to the adapter: the test can wait until
// requests pipelined behind a running handler have been parsed.
func adStartCounting(t *testing.T, parsed *atomic.Int64, h http.Handler, opts *evhttp.AdapterConfig, srv *evhttp.Server) *svServer {
	t.Helper()
	opts, srv = adDefaults(opts, srv)
	ad := evhttp.Adapt(h, opts)
	srv.Handler = evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		parsed.Add(1)
		ad.ServeHTTP1(w, r)
	})
	return svStart(t, srv)
}

// waitParsed waits until n requests have been parsed.
func waitParsed(t *testing.T, parsed *atomic.Int64, n int64) {
	t.Helper()
	if !testutil.Eventually(5*time.Second, func() bool { return parsed.Load() >= n }) {
		t.Fatalf("%d requests parsed, want %d", parsed.Load(), n)
	}
}

// goid returns the current goroutine's number.
func goid() string {
	b := make([]byte, 64)
	b = b[:runtime.Stack(b, false)]
	return strings.Fields(string(b))[1] // "goroutine 12 [running]:"
}

// pipelined returns the GETs of paths, as one write.
func pipelined(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", p)
	}
	return b.String()
}

// TestAdaptPipelinedBackToBack: requests pipelined behind a running
// handler are parsed meanwhile and served by the same goroutine once it
// returns, one after the other and in order, whatever their responses
// (flushed, streamed past the write buffer, empty).
func TestAdaptPipelinedBackToBack(t *testing.T) {
	const n = 16
	release := make(chan struct{})
	var mu sync.Mutex
	var order, goroutines []string
	running := 0
	parsed := new(atomic.Int64)
	s := adStartCounting(t, parsed, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		running++
		if running > 1 {
			t.Errorf("%s: %d handlers of the connection running at once", r.URL.Path, running)
		}
		order = append(order, r.URL.Path)
		goroutines = append(goroutines, goid())
		mu.Unlock()
		defer func() {
			mu.Lock()
			running--
			mu.Unlock()
		}()
		switch r.URL.Path {
		case "/0":
			<-release
		case "/3":
			io.WriteString(w, "flushed ")
			w.(http.Flusher).Flush()
		case "/5":
			w.Write(make([]byte, 100<<10)) // past WriteBuffer: several batches, chunked
			return
		case "/7":
			w.WriteHeader(204)
			return
		}
		io.WriteString(w, r.URL.Path)
	}), &evhttp.AdapterConfig{WriteBuffer: 4096}, nil)
	c, br := svDial(t, s.addr)
	var paths []string
	for i := range n {
		paths = append(paths, fmt.Sprintf("/%d", i))
	}
	io.WriteString(c, pipelined(paths...))
	waitParsed(t, parsed, n) // all parsed while /0 runs
	close(release)
	for i := range n {
		resp, body := svRead(t, br, "GET")
		want := fmt.Sprintf("/%d", i)
		switch i {
		case 3:
			want = "flushed /3"
		case 5:
			want = string(make([]byte, 100<<10))
		case 7:
			want = ""
		}
		if body != want || resp.Close {
			t.Errorf("response %d: %v %.20q (Close %v), want %.20q", i, resp.Status, body, resp.Close, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(order, " ") != strings.Join(paths, " ") {
		t.Errorf("handlers ran in the order %v", order)
	}
	for i, g := range goroutines {
		if g != goroutines[0] {
			t.Errorf("%s ran on goroutine %s, /0 on %s", order[i], g, goroutines[0])
		}
	}
}

// TestAdaptPipelinedAfterClose: a request pipelined behind one whose
// response closes the connection (Connection: close, a body shorter than
// its Content-Length, a write past it, a panic, Goexit, a write error) is
// never served,
// though it was parsed while that handler ran; and the pool goes on.
func TestAdaptPipelinedAfterClose(t *testing.T) {
	var after atomic.Int64
	proceed := make(chan struct{}, 1)
	parsed := new(atomic.Int64)
	s := adStartCounting(t, parsed, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/after" {
			after.Add(1)
			io.WriteString(w, "after")
			return
		}
		<-proceed
		switch r.URL.Path {
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "closing")
		case "/short":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "short")
		case "/over":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "short")
			if _, err := io.WriteString(w, "past the end"); err != http.ErrContentLength {
				t.Errorf("/over: the write past the Content-Length returned %v", err)
			}
		case "/panic":
			panic("pipelined panic")
		case "/goexit":
			runtime.Goexit()
		case "/abort":
			panic(http.ErrAbortHandler)
		}
	}), nil, nil)
	for _, path := range []string{"/close", "/short", "/over", "/panic", "/goexit", "/abort"} {
		before := parsed.Load()
		c, br := svDial(t, s.addr)
		io.WriteString(c, pipelined(path, "/after", "/after"))
		waitParsed(t, parsed, before+3)
		proceed <- struct{}{}
		switch path {
		case "/close":
			if resp, body := svRead(t, br, "GET"); body != "closing" || !resp.Close {
				t.Errorf("%s: %v %q Close %v", path, resp.Status, body, resp.Close)
			}
		case "/panic":
			if resp, _ := svRead(t, br, "GET"); resp.StatusCode != 500 {
				t.Errorf("%s: %v", path, resp.Status)
			}
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		rest, _ := io.ReadAll(br)
		if strings.Contains(string(rest), "after") {
			t.Errorf("%s: the request after it was answered: %q", path, rest)
		}
		c.Close()
		if n := after.Load(); n != 0 {
			t.Fatalf("%s: the handler of the request after it ran %d times", path, n)
		}
	}
	c, br := svDial(t, s.addr)
	io.WriteString(c, pipelined("/after", "/after"))
	for range 2 {
		if _, body := svRead(t, br, "GET"); body != "after" {
			t.Errorf("after the failures: %q", body)
		}
	}
}

// TestAdaptPipelinedBodies: a body the handler leaves unread is dropped
// before the request after it is parsed, and a pipelined request reads
// its own body, chunked or not.
func TestAdaptPipelinedBodies(t *testing.T) {
	s := adStart(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ignore" {
			io.WriteString(w, "ignored")
			return
		}
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %q %v", r.URL.Path, b, err)
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, "POST /ignore HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nGET /nope\r\n"+
		"GET /get HTTP/1.1\r\nHost: x\r\n\r\n"+
		"POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"+
		"PUT /length HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz"+
		"GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"ignored", `/get "" <nil>`, `/chunked "abcde" <nil>`, `/length "wxyz" <nil>`, `/last "" <nil>`} {
		if resp, body := svRead(t, br, "GET"); body != want || resp.Close {
			t.Errorf("%v %q (Close %v), want %q", resp.Status, body, resp.Close, want)
		}
	}
}

// TestAdaptHijackPipelined: a handler that hijacks gets the requests
// pipelined after its own, parsed already or not, in its bufio.Reader;
// their handlers never run.
func TestAdaptHijackPipelined(t *testing.T) {
	var next atomic.Int64
	got := make(chan string, 1)
	parsed := new(atomic.Int64)
	// One worker: the handlers of the requests after the hijack, if they
	// ran, would run on it before a request that comes later (the probe).
	s := adStartCounting(t, parsed, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hijack":
			if !testutil.Eventually(5*time.Second, func() bool { return parsed.Load() >= 3 }) {
				t.Errorf("%d requests parsed while the handler ran, want 3", parsed.Load())
			}
			got <- hijackBuffered(w)
		case "/probe":
			io.WriteString(w, "probe")
		default:
			next.Add(1)
		}
	}), &evhttp.AdapterConfig{Workers: 1}, nil)
	c, _ := svDial(t, s.addr)
	tail := "GET /next HTTP/1.1\r\nHost: x\r\n\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\nGET /partial HTTP/1.1\r\n"
	io.WriteString(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n"+tail)
	if g := <-got; g != tail {
		t.Errorf("hijacked reader holds %q, want %q", g, tail)
	}
	c.Close()
	// The probe's handler runs on the only worker once it is done with
	// the hijacked connection: a barrier through the pool.
	p, pbr := svDial(t, s.addr)
	io.WriteString(p, pipelined("/probe"))
	if _, body := svRead(t, pbr, "GET"); body != "probe" {
		t.Fatalf("probe: %q", body)
	}
	if n := next.Load(); n != 0 {
		t.Errorf("%d handlers of the requests after the hijack ran", n)
	}
}

// TestAdaptUpgradeHolds: what follows a request that may switch
// protocols (Upgrade, CONNECT) is not parsed while its handler runs: it
// is the new protocol's, for Hijack.
func TestAdaptUpgradeHolds(t *testing.T) {
	got := make(chan string, 1)
	parsed := new(atomic.Int64)
	running := make(chan struct{})
	goOn := make(chan struct{})
	s := adStartCounting(t, parsed, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := parsed.Load()
		running <- struct{}{}
		<-goOn // the loop has read what followed the head meanwhile, and parsed it if it would
		if r.Method != "CONNECT" {
			w.Header().Set("Upgrade", "test")
			w.Header().Set("Connection", "Upgrade")
			w.WriteHeader(http.StatusSwitchingProtocols)
		}
		b := hijackBuffered(w)
		got <- fmt.Sprintf("%d parsed, %q", parsed.Load()-before, b)
	}), nil, nil)
	next := "GET /not-http-any-more HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, head := range []string{
		"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n",
		"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: test\r\n\r\n", // no Connection: upgrade
		"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	} {
		c, _ := svDial(t, s.addr)
		io.WriteString(c, head+next)
		<-running
		s.barrier()
		goOn <- struct{}{}
		if g, want := <-got, fmt.Sprintf("0 parsed, %q", next); g != want {
			t.Errorf("%.20q: %s, want %s", head, g, want)
		}
		c.Close()
	}
}

// TestAdaptTwoAdapters: pipelined requests that two adapters behind one
// Handler serve run one after the other, in order; one whose pool is full
// gets 503, and the requests after it are served.
func TestAdaptTwoAdapters(t *testing.T) {
	var running concurrent
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := running.during(2 * time.Millisecond)
			fmt.Fprintf(w, "%s %s %d", name, r.URL.Path, n)
		})
	}
	block := make(chan struct{})
	blocked := make(chan struct{}, 1)
	a := evhttp.Adapt(handler("a"), nil)
	b := evhttp.Adapt(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/block" {
			blocked <- struct{}{}
			<-block
			return
		}
		handler("b").ServeHTTP(w, r)
	}), &evhttp.AdapterConfig{Workers: 1, QueueLen: -1})
	s := svStart(t, &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		if strings.HasPrefix(string(r.Path()), "/b") {
			b.ServeHTTP1(w, r)
			return
		}
		a.ServeHTTP1(w, r)
	})})
	c, br := svDial(t, s.addr)
	io.WriteString(c, pipelined("/a1", "/b1", "/a2", "/b2", "/a3", "/a4", "/b3", "/b4"))
	for _, want := range []string{"a /a1 1", "b /b1 1", "a /a2 1", "b /b2 1", "a /a3 1", "a /a4 1", "b /b3 1", "b /b4 1"} {
		if _, body := svRead(t, br, "GET"); body != want {
			t.Errorf("%q, want %q", body, want)
		}
	}
	// b's only worker blocked on another connection: b's requests get 503.
	// The worker may still be finishing /b4 when /block arrives, and b
	// then refuses /block too: try again on a new connection.
	for attempt := 1; ; attempt++ {
		c2, br2 := svDial(t, s.addr)
		io.WriteString(c2, pipelined("/block"))
		refused := make(chan bool, 1)
		go func() {
			resp, err := http.ReadResponse(br2, nil)
			refused <- err == nil && resp.StatusCode == 503
		}()
		select {
		case <-blocked:
		case r := <-refused:
			if !r || attempt == 100 {
				t.Fatalf("/block, attempt %d: no handler and no 503", attempt)
			}
			c2.Close()
			// Polling, bounded by the attempts: whether b's worker is
			// done with /b4 is its goroutine's business, which no
			// barrier reaches.
			time.Sleep(time.Millisecond)
			continue
		}
		break
	}
	io.WriteString(c, pipelined("/a5", "/b5", "/a6"))
	for _, want := range []string{"a /a5 1", "503 Service Unavailable\n", "a /a6 1"} {
		if _, body := svRead(t, br, "GET"); body != want {
			t.Errorf("%q, want %q", body, want)
		}
	}
	close(block)
}

// TestAdaptPipelinedShutdown: Shutdown while a handler runs with requests
// pipelined behind it answers them all, the last with Connection: close.
func TestAdaptPipelinedShutdown(t *testing.T) {
	release := make(chan struct{})
	parsed := new(atomic.Int64)
	s := adStartCounting(t, parsed, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/0" {
			<-release
		}
		io.WriteString(w, r.URL.Path)
	}), nil, nil)
	c, br := svDial(t, s.addr)
	io.WriteString(c, pipelined("/0", "/1", "/2"))
	waitParsed(t, parsed, 3)
	// StartShutdown and a barrier: the loop has begun shutting down
	// before the handler returns. Shutdown then waits for the rest.
	s.srv.StartShutdown(-1, nil)
	s.barrier()
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(t.Context()) }()
	close(release)
	for i := range 3 {
		resp, body := svRead(t, br, "GET")
		if want := fmt.Sprintf("/%d", i); body != want || resp.Close != (i == 2) {
			t.Errorf("%q Close %v, want %q", body, resp.Close, want)
		}
	}
	svExpectEOF(t, c, br)
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// hijackBuffered hijacks w's connection, closes it, and returns what its
// reader had buffered, or the hijack's error text.
func hijackBuffered(w http.ResponseWriter) string {
	conn, brw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	b := make([]byte, brw.Reader.Buffered())
	io.ReadFull(brw, b)
	return string(b)
}
