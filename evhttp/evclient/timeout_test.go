package evclient_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

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
