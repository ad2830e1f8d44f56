package evclient_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// The timeout tests run the client on a fake clock (clockLoop): each
// checks that nothing happens a millisecond before the deadline and that
// the timeout comes at it, without waiting for either.

// startDo runs c.Do on the loop and returns where its result will come.
func startDo(rl runner, c *evclient.Client, req *evclient.Request) <-chan result {
	ch := make(chan result, 1)
	rl.Do(func() {
		c.Do(req, func(r *evclient.Response, err error) { ch <- result{r, err} })
	})
	return ch
}

// noResult fails the test if the call has ended.
func noResult(t *testing.T, ch <-chan result, when string) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s: the call ended: %v", when, r.err)
	default:
	}
}

// waitResult returns the result of the call, which must have ended.
func waitResult(t *testing.T, ch <-chan result) result {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the call did not end")
		return result{}
	}
}

func TestClientHeaderTimeout(t *testing.T) {
	leakCheck(t)
	got := make(chan struct{}, 1)
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		readRequest(r)
		got <- struct{}{}
		io.Copy(io.Discard, r) // never answers
	})
	rl := startClockLoop(t)
	c := newClient(t, rl, &evclient.Config{HeaderTimeout: 200 * time.Millisecond})
	ch := startDo(rl, c, &evclient.Request{URL: srv.URL()})
	<-got // written: the wait for the head has begun
	rl.Advance(199 * time.Millisecond)
	noResult(t, ch, "before HeaderTimeout")
	rl.Advance(time.Millisecond)
	if r := waitResult(t, ch); !errors.Is(r.err, evclient.ErrHeaderTimeout) {
		t.Fatalf("got %v, want ErrHeaderTimeout", r.err)
	}
	if st := stats(rl, c); st.Open != 0 {
		t.Errorf("connection kept after a timeout: %+v", st)
	}
}

func TestClientTimeout(t *testing.T) {
	leakCheck(t)
	stop := make(chan struct{})
	got := make(chan struct{}, 1)
	srv := newCountingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		got <- struct{}{}
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer close(stop)
	rl := startClockLoop(t)
	c := newClient(t, rl, &evclient.Config{Timeout: 300 * time.Millisecond})
	ch := startDo(rl, c, &evclient.Request{URL: srv.URL})
	<-got
	rl.Advance(299 * time.Millisecond)
	noResult(t, ch, "before Timeout")
	rl.Advance(time.Millisecond)
	if r := waitResult(t, ch); !errors.Is(r.err, evclient.ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", r.err)
	}
}

func TestClientConnectTimeout(t *testing.T) {
	leakCheck(t)
	rl := startClockLoop(t)
	t.Run("backlog", func(t *testing.T) {
		addr := fullBacklog(t)
		if addr == "" {
			t.Skip("the kernel accepted every connection: no hanging connect to time out")
		}
		c := newClient(t, rl, &evclient.Config{ConnectTimeout: 150 * time.Millisecond})
		ch := startDo(rl, c, &evclient.Request{URL: "http://" + addr + "/"})
		rl.Advance(149 * time.Millisecond)
		noResult(t, ch, "before ConnectTimeout")
		rl.Advance(time.Millisecond)
		if r := waitResult(t, ch); !errors.Is(r.err, evclient.ErrConnectTimeout) {
			t.Fatalf("got %v, want ErrConnectTimeout", r.err)
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
		ch := startDo(rl, c, &evclient.Request{URL: "http://slow.example/"})
		rl.Advance(99 * time.Millisecond)
		noResult(t, ch, "before ConnectTimeout")
		rl.Advance(time.Millisecond)
		if r := waitResult(t, ch); !errors.Is(r.err, evclient.ErrConnectTimeout) {
			t.Fatalf("got %v, want ErrConnectTimeout", r.err)
		}
		rl.Do(func() {
			if !canceled {
				t.Error("the dial was not canceled")
			}
		})
	})
}

// TestClientExpectContinue: the body waits for "100 Continue", and is not
// sent at all when a final answer comes first. On the fake clock, time
// stands still: the answers came without the client waiting for
// ExpectContinueTimeout.
func TestClientExpectContinue(t *testing.T) {
	leakCheck(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echoHandler)
	mux.HandleFunc("/deny", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 401) })
	srv := newCountingServer(t, mux)
	rl := startClockLoop(t)
	c := newClient(t, rl, nil)
	body := pattern(100<<10, 5)
	resp, err := doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL + "/echo", Body: body, ExpectContinue: true})
	if err != nil || !strings.Contains(string(resp.Body), "len=102400 sum="+digest(body)+" te=[] expect=100-continue") {
		t.Fatalf("with 100 Continue: %v %q", err, resp.Body)
	}
	resp, err = doReq(t, rl, c, &evclient.Request{Method: "POST", URL: srv.URL + "/deny", Body: body, ExpectContinue: true})
	if err != nil || resp.Status != 401 {
		t.Fatalf("denied: %v %+v", err, resp)
	}
	// The body never went: that connection is not reused.
	mustGet(t, rl, c, srv.URL+"/echo")
	if st := stats(rl, c); st.Dials != 2 {
		t.Errorf("stats %+v", st)
	}
}

// TestClientExpectContinueTimeout: a server that never says "100
// Continue" gets the (streamed) body after ExpectContinueTimeout, as from
// net/http's client: OnWrite runs then, and not before.
func TestClientExpectContinueTimeout(t *testing.T) {
	leakCheck(t)
	gotHead := make(chan struct{}, 1)
	srv := newRawServer(t, func(n int, conn net.Conn, r *bufio.Reader) {
		req, err := http.ReadRequest(r) // no 100 Continue: that is a server's job
		if err != nil {
			return
		}
		gotHead <- struct{}{}
		b, _ := io.ReadAll(req.Body)
		fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
	})
	rl := startClockLoop(t)
	c := newClient(t, rl, &evclient.Config{ExpectContinueTimeout: time.Second})
	var writes int
	var got []byte
	done := make(chan error, 1)
	rl.Do(func() {
		c.Stream(&evclient.Request{Method: "PUT", URL: srv.URL(), StreamBody: true, ExpectContinue: true}, evclient.Handler{
			OnWrite: func(call *evclient.Call) {
				writes++
				call.Write([]byte("the body"))
				call.CloseBody()
			},
			OnBody: func(_ *evclient.Call, p []byte) { got = append(got, p...) },
			OnDone: func(_ *evclient.Call, err error) { done <- err },
		})
	})
	<-gotHead // the wait for 100 Continue has begun
	rl.Advance(999 * time.Millisecond)
	rl.Do(func() {
		if writes != 0 {
			t.Errorf("OnWrite ran %d times before ExpectContinueTimeout", writes)
		}
	})
	rl.Advance(time.Millisecond)
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no body sent after ExpectContinueTimeout")
	}
	if err != nil || string(got) != "the body" || writes != 1 {
		t.Errorf("after ExpectContinueTimeout: %v, body %q, %d OnWrite", err, got, writes)
	}
}

// TestClientIdleTimeout: a pooled connection is closed once it has been
// idle for IdleTimeout (evnet's timing wheel: up to two 50ms ticks later),
// not before.
func TestClientIdleTimeout(t *testing.T) {
	leakCheck(t)
	srv := newCountingServer(t, http.HandlerFunc(echoHandler))
	rl := startClockLoop(t)
	c := newClient(t, rl, &evclient.Config{IdleTimeout: time.Second})
	mustGet(t, rl, c, srv.URL)
	rl.Advance(999 * time.Millisecond)
	if st := stats(rl, c); st.Idle != 1 || st.Open != 1 {
		t.Fatalf("before IdleTimeout: %+v", st)
	}
	for range 3 {
		rl.Advance(50 * time.Millisecond)
	}
	if st := stats(rl, c); st.Idle != 0 || st.Open != 0 {
		t.Fatalf("after IdleTimeout: %+v", st)
	}
	// The next request dials again.
	mustGet(t, rl, c, srv.URL)
	if st := stats(rl, c); st.Dials != 2 || st.Retries != 0 {
		t.Errorf("stats %+v", st)
	}
}
