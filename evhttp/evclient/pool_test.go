package evclient_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

func TestClientGetKeepAlive(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	host := strings.TrimPrefix(srv.URL, "http://")
	for i := range 5 {
		resp := mustGet(t, rl, c, srv.URL+"/a?i="+strconv.Itoa(i))
		want := fmt.Sprintf("GET /a?i=%d host=%s ua=%s len=0 sum=%s te=[] expect=", i, host, evclient.DefaultUserAgent, digest(nil))
		if resp.Status != 200 || string(resp.Body) != want {
			t.Fatalf("GET %d: %d %q, want 200 %q", i, resp.Status, resp.Body, want)
		}
		if got := resp.Header("content-type"); got != "text/plain" {
			t.Errorf("Content-Type %q", got)
		}
		if got := resp.Values("X-Multi"); len(got) != 2 || got[0] != "a" || got[1] != "b" {
			t.Errorf("X-Multi %q", got)
		}
		if resp.StatusLine() != "HTTP/1.1 200 OK" || resp.Reason() != "OK" || resp.ProtoMinor != 1 {
			t.Errorf("status line %q reason %q", resp.StatusLine(), resp.Reason())
		}
		if resp.ContentLength != int64(len(want)) || resp.Headers().Get("Content-Length") != strconv.Itoa(len(want)) {
			t.Errorf("ContentLength %d", resp.ContentLength)
		}
	}
	if n := srv.newConns.Load(); n != 1 {
		t.Errorf("server saw %d connections, want 1 (keep-alive)", n)
	}
	st := stats(rl, c)
	if st.Dials != 1 || st.Reused != 4 || st.Requests != 5 || st.Idle != 1 || st.Open != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestClientServerClosesIdle(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	mustGet(t, rl, c, srv.URL)
	srv.CloseClientConnections()
	// The close is seen on the loop (EOF) and the connection dropped.
	if !testutil.Eventually(5*time.Second, func() bool { return stats(rl, c).Open == 0 }) {
		t.Fatalf("idle connection not dropped after the server closed it: %+v", stats(rl, c))
	}
	mustGet(t, rl, c, srv.URL)
	if st := stats(rl, c); st.Dials != 2 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := srv.newConns.Load(); n != 2 {
		t.Errorf("server saw %d connections", n)
	}
}

// TestClientRetryStale is the race of a server closing an idle connection
// just as a request goes out on it: the request is written, and the
// connection ends without a byte of answer. An idempotent request is sent
// again on a new connection, without the program seeing an error; a POST
// fails.
func TestClientRetryStale(t *testing.T) {
	leakCheck(t)
	const ok = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		if n%2 == 1 { // the connection made for the retry
			for {
				if _, ok2 := readRequest(r); !ok2 {
					return
				}
				io.WriteString(conn, ok)
			}
		}
		if _, ok2 := readRequest(r); !ok2 {
			return
		}
		io.WriteString(conn, ok) // keep-alive
		readRequest(r)           // the second request: closed unanswered
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	mustGet(t, rl, c, srv.URL()+"/1")
	resp := mustGet(t, rl, c, srv.URL()+"/2")
	if string(resp.Body) != "ok" {
		t.Fatalf("body %q", resp.Body)
	}
	if st := stats(rl, c); st.Retries != 1 || st.Dials != 2 {
		t.Errorf("stats %+v", st)
	}
	rl.Do(c.CloseIdle)

	// Connection 2: a POST on the reused connection is not retried.
	mustGet(t, rl, c, srv.URL()+"/3")
	_, err := doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL() + "/4", Body: []byte("x")})
	if !errors.Is(err, evclient.ErrConnClosed) || !errors.Is(err, evnet.ErrEOF) {
		t.Fatalf("POST on a stale connection: %v, want ErrConnClosed", err)
	}
	if !strings.Contains(err.Error(), "evclient: POST "+srv.URL()+"/4: connection closed before") {
		t.Errorf("error text %q", err)
	}
}

func TestClientPipelining(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Later requests answer faster, which must not reorder anything.
		// The sleep paces a real peer (net/http's server, which answers a
		// connection's requests one at a time): it keeps requests in
		// flight there while the client pipelines more behind them.
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		time.Sleep(time.Duration(10-i) * time.Millisecond)
		io.WriteString(w, r.URL.Query().Get("i"))
	}))
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{Pipelining: true, MaxConnsPerHost: 1, MaxPipeline: 4})
	const n = 10
	ch := make(chan string, n)
	rl.Post(func() {
		for i := range n {
			c.Get(srv.URL+"/?i="+strconv.Itoa(i), func(resp *evclient.Response, err error) {
				if err != nil {
					ch <- err.Error()
					return
				}
				ch <- string(resp.Body)
			})
		}
	})
	for i := range n {
		if got := <-ch; got != strconv.Itoa(i) {
			t.Fatalf("answer %d: %q", i, got)
		}
	}
	st := stats(rl, c)
	if st.Pipelined == 0 || st.Dials != 1 || srv.newConns.Load() != 1 {
		t.Errorf("stats %+v, server connections %d", st, srv.newConns.Load())
	}
	// A POST is not pipelined, but goes after the others.
	resp, err := doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL + "/?i=9", Body: []byte("x")})
	if err != nil || string(resp.Body) != "9" {
		t.Errorf("POST: %v", err)
	}
}

// TestClientPipelineRetry: the server answers the first pipelined request
// and closes; the others are sent again on new connections.
func TestClientPipelineRetry(t *testing.T) {
	leakCheck(t)
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		req, ok := readRequest(r)
		if !ok {
			return
		}
		q := req.URL.Query().Get("i")
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(q), q)
		// A lingering close, as net/http's and nginx's: closing with the
		// pipelined requests unread would reset the connection, and the
		// reset can destroy the answer before the client reads it.
		conn.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, r)
	})
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{Pipelining: true, MaxConnsPerHost: 1})
	const n = 3
	ch := make(chan string, n)
	rl.Post(func() {
		for i := range n {
			c.Get(srv.URL()+"/?i="+strconv.Itoa(i), func(resp *evclient.Response, err error) {
				if err != nil {
					ch <- err.Error()
					return
				}
				ch <- string(resp.Body)
			})
		}
	})
	for i := range n {
		if got := <-ch; got != strconv.Itoa(i) {
			t.Fatalf("answer %d: %q", i, got)
		}
	}
	if st := stats(rl, c); st.Dials != n {
		t.Errorf("stats %+v", st)
	}
}

// TestClientConnLimits: MaxConnsPerHost bounds the connections, the
// requests beyond wait in order; MaxIdleConnsPerHost bounds those kept.
// (IdleTimeout: TestClientIdleTimeout.)
func TestClientConnLimits(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{MaxConnsPerHost: 2, MaxIdleConnsPerHost: 1})
	const n = 6
	ch := make(chan error, n)
	rl.Post(func() {
		for range n {
			c.Get(srv.URL, func(_ *evclient.Response, err error) { ch <- err })
		}
		if st := c.Stats(); st.Open != 2 || st.Queued != n-2 {
			t.Errorf("stats %+v", st)
		}
	})
	for range n {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	if got := srv.newConns.Load(); got != 2 {
		t.Errorf("server saw %d connections, want 2", got)
	}
	if st := stats(rl, c); st.Idle != 1 || st.Open != 1 || st.Dials != 2 {
		t.Errorf("after: %+v", st)
	}
}

func TestClientDisableKeepAlives(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{DisableKeepAlives: true})
	for range 3 {
		mustGet(t, rl, c, srv.URL)
	}
	if st := stats(rl, c); st.Dials != 3 || st.Reused != 0 {
		t.Errorf("stats %+v", st)
	}
	if got := srv.newConns.Load(); got != 3 {
		t.Errorf("server saw %d connections", got)
	}
}

func TestClientUnsolicited(t *testing.T) {
	leakCheck(t)
	idle := make(chan struct{})
	sent := make(chan struct{})
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		if _, ok := readRequest(r); !ok {
			return
		}
		// An answer, then, once the client has pooled the connection,
		// bytes nobody asked for on it.
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		if n == 0 {
			<-idle
			io.WriteString(conn, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
			close(sent)
		}
		io.Copy(io.Discard, r)
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	mustGet(t, rl, c, srv.URL())
	if st := stats(rl, c); st.Idle != 1 {
		t.Fatalf("not pooled: %+v", st)
	}
	close(idle)
	<-sent
	rl.Barrier() // the loop has read the 408, and dropped the connection
	if st := stats(rl, c); st.Open != 0 {
		t.Errorf("connection kept after an unsolicited answer: %+v", st)
	}
	if resp := mustGet(t, rl, c, srv.URL()); string(resp.Body) != "ok" {
		t.Errorf("%q", resp.Body)
	}
}
