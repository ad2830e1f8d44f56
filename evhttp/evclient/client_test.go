package evclient_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

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
// fill up and the writer at the other end sees backpressure.
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

func TestClientHead(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1234")
		if r.Method != "HEAD" {
			w.Write(make([]byte, 1234))
		}
	}))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	resp, err := doReq(t, rl, c, &evclient.Request{Method: "HEAD", URL: srv.URL})
	if err != nil || resp.Status != 200 || len(resp.Body) != 0 || resp.ContentLength != 1234 {
		t.Fatalf("HEAD: %v %+v", err, resp)
	}
	// The connection is reused, so HEAD's body was rightly not waited for.
	resp = mustGet(t, rl, c, srv.URL)
	if len(resp.Body) != 1234 {
		t.Fatalf("GET after HEAD: %d bytes", len(resp.Body))
	}
	if st := stats(rl, c); st.Dials != 1 || st.Reused != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestClientNoBodyStatuses(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		w.WriteHeader(code)
	}))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, code := range []int{204, 304, 404} {
		resp := mustGet(t, rl, c, srv.URL+"/?code="+strconv.Itoa(code))
		if resp.Status != code || len(resp.Body) != 0 {
			t.Errorf("%d: got %d %q", code, resp.Status, resp.Body)
		}
	}
	if st := stats(rl, c); st.Dials != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestClientPostBytes(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, n := range []int{0, 10, 20 << 10, 5 << 20} {
		body := pattern(n, uint64(n))
		resp, err := doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL + "/post", Body: body,
			Header: http.Header{"User-Agent": {"tester/1"}}})
		if err != nil {
			t.Fatalf("POST %d bytes: %v", n, err)
		}
		host := strings.TrimPrefix(srv.URL, "http://")
		want := fmt.Sprintf("POST /post host=%s ua=tester/1 len=%d sum=%s te=[] expect=", host, n, digest(body))
		if string(resp.Body) != want {
			t.Errorf("POST %d bytes: %q, want %q", n, resp.Body, want)
		}
	}
}

func TestClientChunkedUpload(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	const total = 6 << 20
	data := pattern(total, 7)
	early := 1000 // written before the connection is ready
	off := early
	var writes, fullStops int
	var body bytes.Buffer
	ch := make(chan error, 1)
	rl.Post(func() {
		call := c.Stream(&evclient.Request{Method: "PUT", URL: srv.URL + "/up?slow=1", StreamBody: true}, evclient.Handler{
			OnWrite: func(call *evclient.Call) {
				for off < total {
					if call.Full() {
						fullStops++
						return
					}
					n := min(total-off, 1+int(uint(off*7919)%(48<<10)))
					if _, err := call.Write(data[off : off+n]); err != nil {
						t.Errorf("Write: %v", err)
						return
					}
					writes++
					off += n
				}
				call.CloseBody()
			},
			OnBody: func(_ *evclient.Call, p []byte) { body.Write(p) },
			OnDone: func(_ *evclient.Call, err error) { ch <- err },
		})
		if _, err := call.Write(data[:early]); err != nil {
			t.Errorf("early Write: %v", err)
		}
	})
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	want := fmt.Sprintf("PUT /up?slow=1 host=%s ua=%s len=%d sum=%s te=[chunked] expect=", host, evclient.DefaultUserAgent, total, digest(data))
	if body.String() != want {
		t.Errorf("got %q, want %q", body.String(), want)
	}
	if fullStops == 0 {
		t.Errorf("the producer never saw Full in %d writes", writes)
	}
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

func TestClientLargeResponse(t *testing.T) {
	leakCheck(t)
	data := pattern(8<<20, 3)
	srv := newCountingServer(t, bigHandler(data))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, mode := range []string{"length", "chunked"} {
		t.Run(mode, func(t *testing.T) {
			url := srv.URL + "/big"
			if mode == "chunked" {
				url += "?chunked=1"
			}
			// Gathered whole.
			resp := mustGet(t, rl, c, url)
			if len(resp.Body) != len(data) || !bytes.Equal(resp.Body, data) {
				t.Fatalf("Do: %d bytes, want %d (equal %v)", len(resp.Body), len(data), bytes.Equal(resp.Body, data))
			}
			// Streamed, pausing every 512 KiB for 2 ms.
			var got bytes.Buffer
			var paused bool
			var pauses, whilePaused int
			var resume eddy.Timer
			ch := make(chan error, 1)
			rl.Post(func() {
				var call *evclient.Call
				resume.Init(func(*eddy.Timer) { paused = false; call.ResumeRead() }, 2*time.Millisecond, 0)
				call = c.Stream(&evclient.Request{URL: url}, evclient.Handler{
					OnResponse: func(call *evclient.Call, resp *evclient.Response) {
						if resp.Status != 200 {
							t.Errorf("status %d", resp.Status)
						}
					},
					OnBody: func(call *evclient.Call, p []byte) {
						if paused {
							whilePaused++
						}
						before := got.Len()
						got.Write(p)
						if got.Len()/(512<<10) != before/(512<<10) {
							paused = true
							pauses++
							call.PauseRead()
							resume.Start(rl.Loop)
						}
					},
					OnDone: func(_ *evclient.Call, err error) { resume.Stop(); ch <- err },
				})
			})
			if err := <-ch; err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("Stream: %d bytes, want %d", got.Len(), len(data))
			}
			if pauses < 10 || whilePaused != 0 {
				t.Errorf("%d pauses, %d deliveries while paused", pauses, whilePaused)
			}
		})
	}
	if st := stats(rl, c); st.Dials != 1 {
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
		readRequest(r)         // the second request: closed unanswered
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

func TestClientServerClosesMidResponse(t *testing.T) {
	leakCheck(t)
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		if _, ok := readRequest(r); ok {
			io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
		}
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	_, err := doReq(t, rl, c, &evclient.Request{URL: srv.URL()})
	if !errors.Is(err, evclient.ErrConnClosed) {
		t.Fatalf("got %v, want ErrConnClosed", err)
	}
	var ce *evclient.Error
	if !errors.As(err, &ce) || ce.Method != "GET" || ce.URL != srv.URL() {
		t.Errorf("error %#v", err)
	}
	if st := stats(rl, c); st.Retries != 0 || st.Open != 0 {
		t.Errorf("stats %+v", st)
	}

	// Streamed, the program got the head and the 10 bytes first.
	var got []byte
	ch := make(chan error, 1)
	rl.Post(func() {
		c.Stream(&evclient.Request{URL: srv.URL()}, evclient.Handler{
			OnBody: func(_ *evclient.Call, p []byte) { got = append(got, p...) },
			OnDone: func(_ *evclient.Call, err error) { ch <- err },
		})
	})
	if err := <-ch; !errors.Is(err, evclient.ErrConnClosed) || string(got) != "0123456789" {
		t.Errorf("Stream: %v, body %q", err, got)
	}
}

func TestClientPipelining(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Later requests answer faster, which must not reorder anything.
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

func TestClientRedirects(t *testing.T) {
	leakCheck(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/r/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		if n == 0 {
			http.Redirect(w, r, "/echo", http.StatusFound)
			return
		}
		http.Redirect(w, r, "/r/"+strconv.Itoa(n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/code/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.PathValue("code"))
		io.Copy(io.Discard, r.Body)
		http.Redirect(w, r, "/echo?from="+r.PathValue("code"), code)
	})
	mux.HandleFunc("/nolocation", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(302)
		io.WriteString(w, "no location")
	})
	mux.HandleFunc("/tohttps", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://example.com/", 302)
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s body=%q auth=%q referer=%t", r.Method, r.URL.RequestURI(), body, r.Header.Get("Authorization"), r.Referer() != "")
	})
	srv := newCountingServer(t, mux)
	rl := startLoop(t)
	c := newClient(t, rl, nil)

	resp := mustGet(t, rl, c, srv.URL+"/r/3")
	if string(resp.Body) != `GET /echo body="" auth="" referer=true` || resp.Redirects != 4 || resp.URL != srv.URL+"/echo" {
		t.Errorf("/r/3: %q, %d redirects, URL %s", resp.Body, resp.Redirects, resp.URL)
	}
	for _, tt := range []struct {
		code int
		want string
	}{
		{301, `GET /echo?from=301 body=""`},
		{302, `GET /echo?from=302 body=""`},
		{303, `GET /echo?from=303 body=""`},
		{307, `POST /echo?from=307 body="payload"`},
		{308, `POST /echo?from=308 body="payload"`},
	} {
		resp, err := doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL + "/code/" + strconv.Itoa(tt.code),
			Body: []byte("payload"), Header: http.Header{"Authorization": {"Bearer x"}}})
		if err != nil {
			t.Fatalf("%d: %v", tt.code, err)
		}
		// Same host: Authorization is kept.
		if want := tt.want + ` auth="Bearer x" referer=true`; string(resp.Body) != want {
			t.Errorf("%d: %q, want %q", tt.code, resp.Body, want)
		}
	}
	resp = mustGet(t, rl, c, srv.URL+"/nolocation")
	if resp.Status != 302 || string(resp.Body) != "no location" {
		t.Errorf("302 without Location: %d %q", resp.Status, resp.Body)
	}
	// A streamed body cannot be replayed: the 307 is the answer.
	ch := make(chan int, 1)
	rl.Post(func() {
		var status int
		call := c.Stream(&evclient.Request{Method: "POST", URL: srv.URL + "/code/307", StreamBody: true}, evclient.Handler{
			OnResponse: func(_ *evclient.Call, r *evclient.Response) { status = r.Status },
			OnDone:     func(*evclient.Call, error) { ch <- status },
		})
		call.Write([]byte("streamed"))
		call.CloseBody()
	})
	if got := <-ch; got != 307 {
		t.Errorf("streamed POST to a 307: status %d", got)
	}
	if _, err := doReq(t, rl, c, &evclient.Request{URL: srv.URL + "/tohttps"}); !errors.Is(err, evclient.ErrHTTPS) {
		t.Errorf("redirect to https: %v", err)
	}

	// The limit.
	c2 := newClient(t, rl, &evclient.Config{MaxRedirects: 2})
	if _, err := doReq(t, rl, c2, &evclient.Request{URL: srv.URL + "/r/5"}); !errors.Is(err, evclient.ErrTooManyRedirects) {
		t.Errorf("limit 2: %v", err)
	} else if !strings.Contains(err.Error(), "/r/3: too many redirects: stopped after 2") {
		t.Errorf("error text: %v", err)
	}
	if resp := mustGet(t, rl, c2, srv.URL+"/r/1"); resp.Redirects != 2 {
		t.Errorf("2 redirects under limit 2: %d", resp.Redirects)
	}
	// Not followed at all.
	c3 := newClient(t, rl, &evclient.Config{MaxRedirects: -1})
	if resp := mustGet(t, rl, c3, srv.URL+"/r/1"); resp.Status != 301 || resp.Header("Location") != "/r/0" {
		t.Errorf("MaxRedirects -1: %d %q", resp.Status, resp.Header("Location"))
	}
}

func TestClientHeaderTimeout(t *testing.T) {
	leakCheck(t)
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		readRequest(r)
		io.Copy(io.Discard, r) // never answers
	})
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{HeaderTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := doReq(t, rl, c, &evclient.Request{URL: srv.URL()})
	if !errors.Is(err, evclient.ErrHeaderTimeout) {
		t.Fatalf("got %v, want ErrHeaderTimeout", err)
	}
	if d := time.Since(start); d < 200*time.Millisecond || d > 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
	if st := stats(rl, c); st.Open != 0 {
		t.Errorf("connection kept after a timeout: %+v", st)
	}
}

func TestClientTimeout(t *testing.T) {
	leakCheck(t)
	stop := make(chan struct{})
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer close(stop)
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{Timeout: 300 * time.Millisecond})
	start := time.Now()
	_, err := doReq(t, rl, c, &evclient.Request{URL: srv.URL})
	if !errors.Is(err, evclient.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("timed out after %v", d)
	}
}

func TestClientConnectErrors(t *testing.T) {
	leakCheck(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	_, err = doReq(t, rl, c, &evclient.Request{URL: "http://" + dead + "/x"})
	if !errors.Is(err, evclient.ErrConnect) || !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("closed port: %v, want ErrConnect and ECONNREFUSED", err)
	}
	want := "evclient: GET http://" + dead + "/x: could not connect to " + dead + ": "
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start with %q", err, want)
	}
	if st := stats(rl, c); st.DialErrors != 1 || st.Open != 0 {
		t.Errorf("stats %+v", st)
	}
}

// fullBacklog returns the address of a loopback listener whose accept
// queue is full, so that a new connect hangs (the kernel drops its SYN),
// or "" when the system accepts the connections anyway.
func fullBacklog(t *testing.T) string {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(fd)
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := unix.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
	for range 8 {
		c, err := net.DialTimeout("tcp4", addr, 200*time.Millisecond)
		if err != nil {
			return addr // this one hung: the queue is full
		}
		t.Cleanup(func() { c.Close() })
	}
	return ""
}

func TestClientConnectTimeout(t *testing.T) {
	leakCheck(t)
	rl := startLoop(t)
	t.Run("backlog", func(t *testing.T) {
		addr := fullBacklog(t)
		if addr == "" {
			t.Skip("the kernel accepted every connection: no hanging connect to time out")
		}
		c := newClient(t, rl, &evclient.Config{ConnectTimeout: 150 * time.Millisecond})
		start := time.Now()
		_, err := doReq(t, rl, c, &evclient.Request{URL: "http://" + addr + "/"})
		if !errors.Is(err, evclient.ErrConnectTimeout) {
			t.Fatalf("got %v, want ErrConnectTimeout", err)
		}
		if d := time.Since(start); d < 150*time.Millisecond || d > 3*time.Second {
			t.Errorf("timed out after %v", d)
		}
		if st := stats(rl, c); st.Open != 0 || st.DialErrors != 1 {
			t.Errorf("stats %+v", st)
		}
	})
	t.Run("dial-func", func(t *testing.T) {
		// A DialFunc that never finishes: the client's own timer
		// ends the dial and cancels it.
		var canceled bool
		c := newClient(t, rl, &evclient.Config{
			ConnectTimeout: 100 * time.Millisecond,
			Dial: func(string, time.Duration, evnet.Handler, func(*evnet.Conn, error)) func() bool {
				return func() bool { canceled = true; return true }
			},
		})
		_, err := doReq(t, rl, c, &evclient.Request{URL: "http://slow.example/"})
		if !errors.Is(err, evclient.ErrConnectTimeout) {
			t.Fatalf("got %v, want ErrConnectTimeout", err)
		}
		rl.Do(func() {
			if !canceled {
				t.Error("the dial was not canceled")
			}
		})
	})
}

func TestClientResolveHostsFile(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	dir := t.TempDir()
	hostsPath := filepath.Join(dir, "hosts")
	if err := os.WriteFile(hostsPath, []byte("127.0.0.1 www.cltest.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hosts, err := evdns.ReadHosts(hostsPath)
	if err != nil {
		t.Fatal(err)
	}
	rl := startLoop(t)
	var r *evdns.Resolver
	rl.Do(func() {
		// DefaultConfig, not the system's: the name is in the hosts table,
		// and nothing is asked of any server.
		r = evdns.NewResolver(rl.Loop, evdns.DefaultConfig(), hosts, nil)
	})
	t.Cleanup(func() { rl.Do(r.Close) })
	c := newClient(t, rl, &evclient.Config{
		Dial: func(hostport string, timeout time.Duration, h evnet.Handler, done func(*evnet.Conn, error)) func() bool {
			return evdns.Dial(r, "tcp", hostport, timeout, h, done).Cancel
		},
	})
	url := "http://WWW.cltest.example:" + port + "/named"
	for range 2 {
		resp := mustGet(t, rl, c, url)
		if !strings.HasPrefix(string(resp.Body), "GET /named host=www.cltest.example:"+port+" ") {
			t.Fatalf("body %q", resp.Body)
		}
	}
	if st := stats(rl, c); st.Dials != 1 {
		t.Errorf("stats %+v", st)
	}
	// A name the hosts table lacks fails with the resolver's error.
	_, err = doReq(t, rl, c, &evclient.Request{URL: "http://nowhere.invalid./"})
	if err == nil || !errors.Is(err, evclient.ErrConnect) {
		t.Errorf("unknown name: %v", err)
	}

	// Without a Dial function, names go through Config.Resolver.
	c2 := newClient(t, rl, &evclient.Config{Resolver: r})
	if resp, err := doReq(t, rl, c2, &evclient.Request{URL: url}); err != nil || !strings.HasPrefix(string(resp.Body), "GET /named ") {
		t.Errorf("through Resolver: %v", err)
	}
}

func TestClientExpectContinue(t *testing.T) {
	leakCheck(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echoHandler)
	mux.HandleFunc("/deny", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 401) })
	srv := newCountingServer(t, mux)
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{ExpectContinueTimeout: 10 * time.Second})
	body := pattern(100<<10, 5)
	resp, err := doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL + "/echo", Body: body, ExpectContinue: true})
	if err != nil || !strings.Contains(string(resp.Body), "len=102400 sum="+digest(body)+" te=[] expect=100-continue") {
		t.Fatalf("with 100 Continue: %v %q", err, resp.Body)
	}
	start := time.Now()
	resp, err = doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL + "/deny", Body: body, ExpectContinue: true})
	if err != nil || resp.Status != 401 {
		t.Fatalf("denied: %v %+v", err, resp)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the final answer took %v: the client waited for the timeout", d)
	}
	// The body never went: that connection is not reused.
	mustGet(t, rl, c, srv.URL+"/echo")
	if st := stats(rl, c); st.Dials != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestClientRawResponses(t *testing.T) {
	leakCheck(t)
	answers := map[string]string{
		"/early":   "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfinal",
		"/eof":     "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end",
		"/http10":  "HTTP/1.0 200 OK\r\n\r\nold style",
		"/trailer": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n0\r\nX-Sum: 42\r\n\r\n",
		"/folded":  "HTTP/1.1 200 OK\r\nX-Long: one\r\n two\r\nContent-Length: 0\r\n\r\n",
		"/bad":     "HTTP/1.1 2x0 Nope\r\n\r\n",
		"/badlen":  "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"/101":     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",
		"/chunks":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n",
	}
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		for {
			req, ok := readRequest(r)
			if !ok {
				return
			}
			a := answers[req.URL.Path]
			io.WriteString(conn, a)
			if strings.Contains(a, "Connection: close") || strings.HasPrefix(a, "HTTP/1.0") {
				return
			}
		}
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, tt := range []struct{ path, body string }{
		{"/early", "final"}, {"/eof", "until the end"}, {"/http10", "old style"}, {"/trailer", "abc"}, {"/early", "final"},
	} {
		resp := mustGet(t, rl, c, srv.URL()+tt.path)
		if resp.Status != 200 || string(resp.Body) != tt.body {
			t.Errorf("%s: %d %q", tt.path, resp.Status, resp.Body)
		}
		if tt.path == "/trailer" && resp.Trailer("x-sum") != "42" {
			t.Errorf("trailer %q", resp.Trailer("X-Sum"))
		}
	}
	resp := mustGet(t, rl, c, srv.URL()+"/folded")
	if v := resp.Header("X-Long"); !strings.HasPrefix(v, "one") || !strings.HasSuffix(v, "two") {
		t.Errorf("folded header %q", v)
	}
	for _, path := range []string{"/bad", "/badlen", "/101", "/chunks"} {
		if _, err := doReq(t, rl, c, &evclient.Request{URL: srv.URL() + path}); !errors.Is(err, evclient.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", path, err)
		}
	}
}

func TestClientRequestErrors(t *testing.T) {
	leakCheck(t)
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, tt := range []struct {
		req  evclient.Request
		want error
	}{
		{evclient.Request{URL: "https://example.com/"}, evclient.ErrHTTPS},
		{evclient.Request{URL: "ftp://example.com/"}, evclient.ErrScheme},
		{evclient.Request{URL: "example.com/"}, evclient.ErrURL},
		{evclient.Request{URL: "http:///path"}, evclient.ErrURL},
		{evclient.Request{URL: "http://127.0.0.1:99999/"}, evclient.ErrURL},
		{evclient.Request{URL: "http://[::1/"}, evclient.ErrURL},
		{evclient.Request{URL: "http://127.0.0.1:1/", Method: "GE T"}, evclient.ErrRequest},
		{evclient.Request{URL: "http://127.0.0.1:1/", Header: http.Header{"Bad Name": {"x"}}}, evclient.ErrRequest},
		{evclient.Request{URL: "http://127.0.0.1:1/", Header: http.Header{"X": {"a\r\nInjected: 1"}}}, evclient.ErrRequest},
	} {
		var got error
		var ran bool
		rl.Do(func() {
			call := c.Do(&tt.req, func(_ *evclient.Response, err error) { got, ran = err, true })
			if call != nil || !ran {
				t.Errorf("%s: error not reported at once", tt.req.URL)
			}
		})
		if !errors.Is(got, tt.want) {
			t.Errorf("%q %q: %v, want %v", tt.req.Method, tt.req.URL, got, tt.want)
		}
	}
	rl.Do(c.Close)
	if _, err := doReq(t, rl, c, &evclient.Request{URL: "http://127.0.0.1:1/"}); !errors.Is(err, evclient.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestClientBodyLimit(t *testing.T) {
	leakCheck(t)
	data := pattern(100<<10, 1)
	srv := newCountingServer(t, bigHandler(data))
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{MaxBodyBytes: 50 << 10})
	for _, q := range []string{"", "?chunked=1"} {
		if _, err := doReq(t, rl, c, &evclient.Request{URL: srv.URL + q}); !errors.Is(err, evclient.ErrBodyTooLarge) {
			t.Errorf("%q: %v, want ErrBodyTooLarge", q, err)
		}
	}
	// Stream has no limit.
	var n int
	ch := make(chan error, 1)
	rl.Post(func() {
		c.Stream(&evclient.Request{URL: srv.URL}, evclient.Handler{
			OnBody: func(_ *evclient.Call, p []byte) { n += len(p) },
			OnDone: func(_ *evclient.Call, err error) { ch <- err },
		})
	})
	if err := <-ch; err != nil || n != len(data) {
		t.Errorf("Stream: %v, %d bytes", err, n)
	}
}

func TestClientCancelAndClose(t *testing.T) {
	leakCheck(t)
	gotReq := make(chan struct{}, 4)
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		readRequest(r)
		gotReq <- struct{}{}
		io.Copy(io.Discard, r) // never answers; returns when the client closes
	})
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{MaxConnsPerHost: 1})
	ran := make(chan string, 4)
	var call1, call2 *evclient.Call
	rl.Do(func() {
		call1 = c.Get(srv.URL()+"/1", func(*evclient.Response, error) { ran <- "1" })
		call2 = c.Get(srv.URL()+"/2", func(*evclient.Response, error) { ran <- "2" }) // queued behind
	})
	<-gotReq
	rl.Do(func() {
		if st := c.Stats(); st.Queued != 1 || st.Open != 1 {
			t.Errorf("stats %+v", st)
		}
		if !call2.Cancel() || call2.Cancel() {
			t.Error("Cancel of a queued call")
		}
		if !call1.Cancel() {
			t.Error("Cancel of a call in flight")
		}
		if st := c.Stats(); st.Queued != 0 || st.Open != 0 {
			t.Errorf("after Cancel: %+v", st)
		}
	})
	errc := make(chan error, 1)
	rl.Do(func() {
		c.Get(srv.URL()+"/3", func(_ *evclient.Response, err error) { errc <- err })
	})
	<-gotReq
	rl.Do(c.Close)
	if err := <-errc; !errors.Is(err, evclient.ErrClosed) {
		t.Errorf("in flight at Close: %v", err)
	}
	select {
	case s := <-ran:
		t.Errorf("callback of canceled call %s ran", s)
	default:
	}
}

func TestClientConnLimits(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond)
		io.WriteString(w, "x")
	}))
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{MaxConnsPerHost: 2, MaxIdleConnsPerHost: 1, IdleTimeout: 300 * time.Millisecond})
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
	if st := stats(rl, c); st.Idle != 1 || st.Open != 1 {
		t.Errorf("after: %+v", st)
	}
	// The idle timeout closes the last one.
	if !testutil.Eventually(5*time.Second, func() bool { return stats(rl, c).Open == 0 }) {
		t.Errorf("idle timeout: %+v", stats(rl, c))
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

func TestClientCallbacksReenter(t *testing.T) {
	leakCheck(t)
	data := pattern(1<<20, 9)
	srv := newCountingServer(t, bigHandler(data))
	rl := startLoop(t)
	c := newClient(t, rl, nil)

	// Paused at the head of a response without a body: it ends anyway.
	ch := make(chan error, 1)
	rl.Post(func() {
		c.Stream(&evclient.Request{Method: "HEAD", URL: srv.URL}, evclient.Handler{
			OnResponse: func(call *evclient.Call, _ *evclient.Response) { call.PauseRead() },
			OnDone:     func(_ *evclient.Call, err error) { ch <- err },
		})
	})
	if err := <-ch; err != nil {
		t.Fatal(err)
	}
	mustGet(t, rl, c, srv.URL) // the connection was not left paused
	if st := stats(rl, c); st.Dials != 1 {
		t.Errorf("stats %+v", st)
	}

	// Canceled from its own OnBody: no more callbacks, the connection goes.
	var bodies int
	done := make(chan struct{})
	rl.Post(func() {
		c.Stream(&evclient.Request{URL: srv.URL}, evclient.Handler{
			OnBody: func(call *evclient.Call, p []byte) {
				bodies++
				if !call.Cancel() {
					t.Error("Cancel from OnBody")
				}
				close(done)
			},
			OnDone: func(*evclient.Call, error) { t.Error("OnDone after Cancel") },
		})
	})
	<-done
	if st := stats(rl, c); bodies != 1 || st.Open != 0 {
		t.Errorf("after Cancel in OnBody: %d bodies, %+v", bodies, st)
	}

	// Close from a callback, with other calls in flight and queued.
	c2 := newClient(t, rl, &evclient.Config{MaxConnsPerHost: 1})
	errs := make(chan error, 3)
	rl.Post(func() {
		c2.Stream(&evclient.Request{URL: srv.URL}, evclient.Handler{
			OnBody: func(*evclient.Call, []byte) { c2.Close() },
			OnDone: func(_ *evclient.Call, err error) { errs <- err },
		})
		c2.Get(srv.URL, func(_ *evclient.Response, err error) { errs <- err })
		c2.Get(srv.URL, func(_ *evclient.Response, err error) { errs <- err })
	})
	for range 3 {
		if err := <-errs; !errors.Is(err, evclient.ErrClosed) {
			t.Errorf("closed from a callback: %v", err)
		}
	}
	if st := stats(rl, c2); st.Open != 0 || st.Queued != 0 {
		t.Errorf("after Close: %+v", st)
	}
}

func TestClientRedirectOtherHost(t *testing.T) {
	leakCheck(t)
	other := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "auth=%q cookie=%q x=%q host=%s", r.Header.Get("Authorization"), r.Header.Get("Cookie"), r.Header.Get("X-Keep"), r.Host)
	}))
	first := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if r.URL.Path == "/auth" {
			fmt.Fprintf(w, "user=%s pass=%s", user, pass)
			return
		}
		http.Redirect(w, r, other.URL+"/there", http.StatusTemporaryRedirect)
	}))
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	resp, err := doReq(t, rl, c, &evclient.Request{URL: first.URL + "/here", Host: "virtual.example",
		Header: http.Header{"Authorization": {"Bearer secret"}, "Cookie": {"a=b"}, "X-Keep": {"kept"}}})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`auth="" cookie="" x="kept" host=%s`, strings.TrimPrefix(other.URL, "http://"))
	if string(resp.Body) != want {
		t.Errorf("got %q, want %q", resp.Body, want)
	}
	u := strings.Replace(first.URL, "http://", "http://al%20ice:s3cret@", 1)
	if resp := mustGet(t, rl, c, u+"/auth#frag"); string(resp.Body) != "user=al ice pass=s3cret" {
		t.Errorf("userinfo: %q", resp.Body)
	}
}

func TestClientUnsolicited(t *testing.T) {
	leakCheck(t)
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		if _, ok := readRequest(r); !ok {
			return
		}
		// An answer, then bytes nobody asked for on the idle connection.
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		time.Sleep(20 * time.Millisecond)
		io.WriteString(conn, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
		io.Copy(io.Discard, r)
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	mustGet(t, rl, c, srv.URL())
	if !testutil.Eventually(5*time.Second, func() bool { return stats(rl, c).Open == 0 }) {
		t.Errorf("connection kept after an unsolicited answer: %+v", stats(rl, c))
	}
	if resp := mustGet(t, rl, c, srv.URL()); string(resp.Body) != "ok" {
		t.Errorf("%q", resp.Body)
	}
}
