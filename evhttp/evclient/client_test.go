package evclient_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

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

func TestClientRequestErrors(t *testing.T) {
	leakCheck(t)
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, tt := range []struct {
		req  evclient.Request
		want error
	}{
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
