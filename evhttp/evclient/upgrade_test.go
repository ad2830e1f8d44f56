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

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
)

// The upgrade tests switch to "echo", a protocol that sends every byte
// back; the server side greets first with "hello\n".

// upgradeHeader returns the header fields of an upgrade request to proto.
func upgradeHeader(proto string) http.Header {
	return http.Header{"Connection": {"Upgrade"}, "Upgrade": {proto}}
}

// startUpgradeServer starts an evhttp server on a loop of its own, serving
//
//	/echo     the upgrade to echo (400 for a request that does not offer it)
//	/to-echo  a 301 to /echo
//	/ignore   200 "ignored", whatever the request offers
//
// and returns its base URL.
func startUpgradeServer(t *testing.T) string {
	t.Helper()
	rl := startLoop(t)
	echo := evnet.Handler{
		OnOpen: func(c *evnet.Conn) { c.Write([]byte("hello\n")) },
		OnData: func(c *evnet.Conn, p []byte) int { c.Write(p); return len(p) },
	}
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		switch string(r.Path()) {
		case "/echo":
			if err := w.Upgrade("echo", echo); err != nil {
				w.WriteHeader(400)
				w.WriteString(err.Error())
			}
		case "/to-echo":
			w.Header().Set("Location", "/echo")
			w.WriteHeader(301)
		default:
			w.WriteString("ignored")
		}
	})}
	var ln *evnet.Listener
	var err error
	rl.Do(func() { ln, err = srv.Serve(rl.Loop, "tcp4", "127.0.0.1:0") })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// pipe is the client side of a switched connection in a test: what the
// connection reads goes to data, its close to closed.
type pipe struct {
	data   chan string
	closed chan error
}

func newPipe() *pipe { return &pipe{data: make(chan string, 64), closed: make(chan error, 1)} }

func (pp *pipe) handler() evnet.Handler {
	return evnet.Handler{
		OnData:  func(_ *evnet.Conn, p []byte) int { pp.data <- string(p); return len(p) },
		OnClose: func(_ *evnet.Conn, err error) { pp.closed <- err },
	}
}

// expect reads from the pipe until it has received want, which must be
// all it receives.
func (pp *pipe) expect(t *testing.T, want string) {
	t.Helper()
	var got string
	for len(got) < len(want) {
		select {
		case s := <-pp.data:
			got += s
		case <-time.After(10 * time.Second):
			t.Fatalf("received %q, want %q", got, want)
		}
	}
	if got != want {
		t.Fatalf("received %q, want %q", got, want)
	}
}

// TestUpgrade switches to echo against evhttp's server (ResponseWriter.
// Upgrade), directly and after a redirect: OnUpgrade gets the 101 and the
// connection, which has left the client (Stats, Close and CloseIdle), and
// bytes flow both ways, the server's greeting first.
func TestUpgrade(t *testing.T) {
	leakCheck(t)
	base := startUpgradeServer(t)
	rl := startLoop(t)
	for _, path := range []string{"/echo", "/to-echo"} {
		t.Run(path[1:], func(t *testing.T) {
			c := newClient(t, rl, nil)
			pp := newPipe()
			events := make(chan string, 4)
			var nc *evnet.Conn
			rl.Post(func() {
				c.Stream(&evclient.Request{URL: base + path, Header: upgradeHeader("echo")}, evclient.Handler{
					OnResponse: func(*evclient.Call, *evclient.Response) { t.Error("OnResponse for a 101") },
					OnUpgrade: func(call *evclient.Call, resp *evclient.Response, conn *evnet.Conn) {
						if resp.Status != 101 || resp.Header("Upgrade") != "echo" || call.Response() != resp || resp.URL != base+"/echo" {
							t.Errorf("OnUpgrade: %q, Upgrade %q, URL %s", resp.StatusLine(), resp.Header("Upgrade"), resp.URL)
						}
						if st := c.Stats(); st.Open != 0 || st.Upgrades != 1 {
							t.Errorf("stats in OnUpgrade: %+v", st)
						}
						nc = conn
						conn.SetHandler(pp.handler())
						conn.Write([]byte("ping\n")) // the client may speak at once
						events <- "upgrade"
					},
					OnDone: func(_ *evclient.Call, err error) {
						if err != nil {
							events <- err.Error()
						}
						events <- "done"
					},
				})
			})
			for _, want := range []string{"upgrade", "done"} {
				if got := <-events; got != want {
					t.Fatalf("got %q, want %q", got, want)
				}
			}
			pp.expect(t, "hello\nping\n")

			// The connection is the program's: the client's Close and
			// CloseIdle do not touch it.
			rl.Do(c.CloseIdle)
			rl.Do(c.Close)
			if st := stats(rl, c); st.Open != 0 || st.Upgrades != 1 {
				t.Errorf("stats: %+v", st)
			}
			rl.Do(func() { nc.Write([]byte("after Close\n")) })
			pp.expect(t, "after Close\n")
			rl.Do(func() { nc.Close() })
			if err := <-pp.closed; !errors.Is(err, evnet.ErrLocalClose) {
				t.Errorf("OnClose: %v", err)
			}
		})
	}
}

// TestUpgradeSameSegment: the server sends its first bytes in the same
// write (one segment on loopback) as its 101. They are not lost in the
// client's read: the handler set in OnUpgrade gets them first, as does one
// set later, after the loop has read them (evnet keeps the input until
// then).
func TestUpgradeSameSegment(t *testing.T) {
	leakCheck(t)
	srv := newRawServer(t, func(_ int, conn net.Conn, r *bufio.Reader) {
		if _, ok := readRequest(r); !ok {
			return
		}
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: ECHO\r\nConnection: Upgrade\r\n\r\nfirst bytes\n")
		// Echo until the client closes. The wrappers hide ReadFrom and
		// WriteTo: a TCP-to-TCP io.Copy splices through a pipe from a
		// sync.Pool, which outlives the test and fails its leak check.
		io.Copy(struct{ io.Writer }{conn}, struct{ io.Reader }{r})
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, later := range []bool{false, true} {
		pp := newPipe()
		upgraded := make(chan *evnet.Conn, 1)
		rl.Post(func() {
			c.Stream(&evclient.Request{URL: srv.URL(), Header: upgradeHeader("echo")}, evclient.Handler{
				OnUpgrade: func(_ *evclient.Call, _ *evclient.Response, nc *evnet.Conn) {
					if !later {
						nc.SetHandler(pp.handler())
					}
					upgraded <- nc
				},
			})
		})
		nc := <-upgraded
		if later {
			rl.Barrier() // the loop has read "first bytes", and kept them
			select {
			case s := <-pp.data:
				t.Fatalf("data %q before SetHandler", s)
			default:
			}
			rl.Do(func() { nc.SetHandler(pp.handler()) })
		}
		pp.expect(t, "first bytes\n")
		rl.Do(func() { nc.Write([]byte("echoed\n")) })
		pp.expect(t, "echoed\n")
		rl.Do(func() { nc.Close() })
		<-pp.closed
	}
	if st := stats(rl, c); st.Upgrades != 2 || st.Dials != 2 || st.Open != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestUpgradeNotPipelined: with pipelining, an upgrade request waits for
// the connection to be free of other requests, and no request is written
// behind it: the next one goes on a new connection once the switch took
// the first.
func TestUpgradeNotPipelined(t *testing.T) {
	leakCheck(t)
	base := startUpgradeServer(t)
	rl := startLoop(t)
	c := newClient(t, rl, &evclient.Config{Pipelining: true, MaxConnsPerHost: 1})
	pp := newPipe()
	results := make(chan string, 3)
	var nc *evnet.Conn
	rl.Post(func() {
		c.Get(base+"/ignore", func(resp *evclient.Response, err error) { results <- "get 1 " + string(resp.Body) })
		c.Stream(&evclient.Request{URL: base + "/echo", Header: upgradeHeader("echo")}, evclient.Handler{
			OnUpgrade: func(_ *evclient.Call, _ *evclient.Response, conn *evnet.Conn) {
				nc = conn
				conn.SetHandler(pp.handler())
				results <- "upgrade"
			},
		})
		c.Get(base+"/ignore", func(resp *evclient.Response, err error) { results <- "get 2 " + string(resp.Body) })
	})
	for _, want := range []string{"get 1 ignored", "upgrade", "get 2 ignored"} {
		if got := <-results; got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	pp.expect(t, "hello\n")
	if st := stats(rl, c); st.Pipelined != 0 || st.Reused != 1 || st.Dials != 2 || st.Upgrades != 1 || st.Open != 1 {
		t.Errorf("stats %+v", st)
	}
	rl.Do(func() { nc.Close() })
	<-pp.closed
}

// TestUpgradeRefused: the requests the client refuses at once, the 101s
// it refuses, and a server that ignores the upgrade.
func TestUpgradeRefused(t *testing.T) {
	leakCheck(t)
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	const url = "http://127.0.0.1:1/"
	for _, tt := range []struct {
		name   string
		header http.Header
		do     bool // with Do; else Stream with OnUpgrade
	}{
		{"Do", upgradeHeader("echo"), true},
		{"no Connection", http.Header{"Upgrade": {"echo"}}, false},
		{"no Upgrade", http.Header{"Connection": {"upgrade"}}, false},
	} {
		var got error
		rl.Do(func() {
			req := &evclient.Request{URL: url, Header: tt.header}
			if tt.do {
				c.Do(req, func(_ *evclient.Response, err error) { got = err })
				return
			}
			c.Stream(req, evclient.Handler{
				OnUpgrade: func(*evclient.Call, *evclient.Response, *evnet.Conn) {},
				OnDone:    func(_ *evclient.Call, err error) { got = err },
			})
		})
		if !errors.Is(got, evclient.ErrRequest) {
			t.Errorf("%s: %v, want ErrRequest at once", tt.name, got)
		}
	}
	rl.Do(func() { // Stream without OnUpgrade
		c.Stream(&evclient.Request{URL: url, Header: upgradeHeader("echo")}, evclient.Handler{
			OnDone: func(_ *evclient.Call, err error) {
				if !errors.Is(err, evclient.ErrRequest) || !strings.Contains(err.Error(), "needs Handler.OnUpgrade") {
					t.Errorf("without OnUpgrade: %v", err)
				}
			},
		})
	})

	// 101s that cannot be handed over.
	srv := newRawServer(t, func(_ int, conn net.Conn, r *bufio.Reader) {
		req, err := http.ReadRequest(r)
		if err != nil {
			return
		}
		switch req.URL.Path {
		case "/other":
			io.Copy(io.Discard, req.Body)
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo, other\r\nConnection: Upgrade\r\n\r\n")
		case "/none":
			io.Copy(io.Discard, req.Body)
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n")
		case "/early": // before the (streamed) body
			io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		}
		io.Copy(io.Discard, r)
	})
	for _, path := range []string{"/other", "/none", "/early"} {
		errc := make(chan error, 1)
		rl.Post(func() {
			call := c.Stream(&evclient.Request{Method: "POST", URL: srv.URL() + path, Header: upgradeHeader("echo"), StreamBody: path == "/early"}, evclient.Handler{
				OnUpgrade: func(*evclient.Call, *evclient.Response, *evnet.Conn) { t.Errorf("%s: OnUpgrade", path) },
				OnDone:    func(_ *evclient.Call, err error) { errc <- err },
			})
			if path == "/early" {
				call.Write([]byte("a body that never ends"))
			}
		})
		if err := <-errc; !errors.Is(err, evclient.ErrUpgrade) {
			t.Errorf("%s: %v, want ErrUpgrade", path, err)
		}
		rl.Barrier()
		if st := stats(rl, c); st.Open != 0 || st.Upgrades != 0 {
			t.Errorf("%s: stats %+v", path, st)
		}
	}

	// A server that ignores the upgrade answers as usual, and the
	// connection stays in the pool.
	base := startUpgradeServer(t)
	var body string
	errc := make(chan error, 1)
	rl.Post(func() {
		c.Stream(&evclient.Request{URL: base + "/ignore", Header: upgradeHeader("echo")}, evclient.Handler{
			OnUpgrade: func(*evclient.Call, *evclient.Response, *evnet.Conn) { t.Error("OnUpgrade") },
			OnBody:    func(_ *evclient.Call, p []byte) { body += string(p) },
			OnDone:    func(_ *evclient.Call, err error) { errc <- err },
		})
	})
	if err := <-errc; err != nil || body != "ignored" {
		t.Errorf("ignored upgrade: %v, body %q", err, body)
	}
	if st := stats(rl, c); st.Idle != 1 || st.Upgrades != 0 {
		t.Errorf("after an ignored upgrade: %+v", st)
	}
}
