package evclient_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/eddyloop/eddy/evhttp/evclient"
)

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
