package evhttp_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// upEcho is the "echo" protocol of the upgrade tests: every byte back,
// after an optional greeting. Its callbacks report to the test server.
type upEcho struct {
	s        *svServer
	greeting string
	eof      bool // handle the EOF itself (else evnet's default: close)
}

func (e *upEcho) handler() evnet.Handler {
	h := evnet.Handler{OnOpen: e.onOpen, OnData: e.onData, OnDrain: e.onDrain, OnClose: e.onClose}
	if e.eof {
		h.OnEOF = e.onEOF
	}
	return h
}

func (e *upEcho) onOpen(c *evnet.Conn) {
	e.s.event("echo open")
	if e.greeting != "" {
		c.Write([]byte(e.greeting))
	}
}

// onData echoes p, and stops reading while the output queue is Full.
func (e *upEcho) onData(c *evnet.Conn, p []byte) int {
	c.Write(p)
	if c.Full() && !c.IsPaused() {
		e.s.event("echo full")
		c.PauseRead()
	}
	return len(p)
}

func (e *upEcho) onDrain(c *evnet.Conn) {
	e.s.event("echo drain")
	c.ResumeRead()
}

func (e *upEcho) onEOF(c *evnet.Conn) {
	e.s.event("echo eof")
	c.Write([]byte("bye"))
	c.Close()
}

func (e *upEcho) onClose(c *evnet.Conn, reason error) { e.s.event("echo close: %v", reason) }

// upHandler serves the upgrade tests' paths, and the others with the test
// handler (svServer.serve):
//
//	/up          upgrades to echo at once (ErrNotUpgrade: 400)
//	/up/later    upgrades to echo from a timer, 30ms later
//	/up/body     ReadAll, then upgrades to echo, greeting with the body
//	/up/onbody   OnBody (a GET: no body), then upgrades to echo at once
//	/up/eof      upgrades to echo, which handles the EOF itself
//	/up/errors   Upgrade's errors, in the body of a 200
//	/up/twice    upgrades twice, reporting the second's error
//	/up/ignore   answers 200 "ignored", whatever the request offers
//	/up/ctx      upgrades to ctxProto at once (ctx/later: from a timer)
type upHandler struct{ s *svServer }

func (h *upHandler) ServeHTTP1(w *evhttp.ResponseWriter, r *evhttp.Request) {
	s := h.s
	path := string(r.Path())
	if !strings.HasPrefix(path, "/up") {
		s.serve(w, r)
		return
	}
	s.started.Add(1)
	w.OnDone(func(w *evhttp.ResponseWriter, err error) { s.event("%s done: %v", w.Request().Path(), err) })
	echo := &upEcho{s: s}
	switch path {
	case "/up":
		w.Header().Set("X-Test", "yes")
		w.Header().Set("Upgrade", "ignored")
		w.Header().Set("Connection", "ignored")
		if err := w.Upgrade("echo", echo.handler()); err != nil {
			w.WriteHeader(400)
			w.WriteString(err.Error())
		}
	case "/up/later":
		w.Async()
		t := eddy.NewTimer(func(*eddy.Timer) {
			if err := w.Upgrade("echo", echo.handler()); err != nil {
				s.event("later: %v", err)
			}
		}, 30*time.Millisecond, 0)
		t.Start(r.Loop())
	case "/up/body":
		if err := w.Upgrade("echo", echo.handler()); err != evhttp.ErrUpgradeBody {
			s.event("before the body: %v", err)
		}
		r.ReadAll(func(w *evhttp.ResponseWriter, r *evhttp.Request, body []byte, err error) {
			if err != nil {
				s.event("body: %v", err)
				return
			}
			echo.greeting = "body=" + string(body) + "\n"
			if err := w.Upgrade("echo", echo.handler()); err != nil {
				s.event("after the body: %v", err)
			}
		})
	case "/up/onbody":
		r.OnBody(func(w *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
			s.event("onbody %d bytes: %v", len(p), err)
		})
		if err := w.Upgrade("echo", echo.handler()); err != nil {
			s.event("onbody upgrade: %v", err)
		}
	case "/up/eof":
		echo.eof = true
		if err := w.Upgrade("echo", echo.handler()); err != nil {
			s.event("eof: %v", err)
		}
	case "/up/errors":
		var got []string
		try := func(proto string) {
			err := w.Upgrade(proto, echo.handler())
			got = append(got, proto+": "+errName(err))
		}
		try("other")
		try("")
		w.Header().Set("Content-Type", "text/plain")
		w.Flush()
		try("echo")
		w.WriteString(strings.Join(got, ", "))
	case "/up/written":
		w.WriteString("x")
		w.WriteString(" " + errName(w.Upgrade("echo", echo.handler())))
	case "/up/twice":
		if err := w.Upgrade("echo", echo.handler()); err != nil {
			s.event("first: %v", err)
		}
		s.event("twice: %s", errName(w.Upgrade("echo", echo.handler())))
	case "/up/ignore":
		w.WriteString("ignored")
	case "/up/ctx":
		if err := w.Upgrade("echo", ctxHandler(s)); err != nil {
			s.event("ctx: %v", err)
		}
		s.event("upgraded")
	case "/up/ctx/later":
		w.Async()
		t := eddy.NewTimer(func(*eddy.Timer) {
			if err := w.Upgrade("echo", ctxHandler(s)); err != nil {
				s.event("ctx: %v", err)
			}
			s.event("upgraded")
		}, 30*time.Millisecond, 0)
		t.Start(r.Loop())
	}
}

// ctxProto is the state of a protocol that keeps it in the connection's
// Context, set by OnOpen; its other callbacks are plain functions, which
// find it there (and would panic if they ran before OnOpen).
type ctxProto struct {
	s *svServer
	n int // bytes received
}

func ctxHandler(s *svServer) evnet.Handler {
	return evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			s.event("ctx open, context %v", c.Context())
			c.SetContext(&ctxProto{s: s})
		},
		OnData:  ctxData,
		OnClose: ctxClose,
	}
}

// ctxData answers "total:bytes|".
func ctxData(c *evnet.Conn, p []byte) int {
	st := c.Context().(*ctxProto)
	st.n += len(p)
	fmt.Fprintf(c, "%d:%s|", st.n, p)
	return len(p)
}

func ctxClose(c *evnet.Conn, reason error) {
	st := c.Context().(*ctxProto)
	st.s.event("ctx close after %d bytes: %v", st.n, reason)
}

// errName names the errors of Upgrade.
func errName(err error) string {
	for _, e := range []struct {
		err  error
		name string
	}{
		{nil, "nil"},
		{evhttp.ErrNotUpgrade, "ErrNotUpgrade"},
		{evhttp.ErrHeadSent, "ErrHeadSent"},
		{evhttp.ErrUpgradeBody, "ErrUpgradeBody"},
		{evhttp.ErrBodyNotAllowed, "ErrBodyNotAllowed"},
		{evhttp.ErrEnded, "ErrEnded"},
	} {
		if err == e.err {
			return e.name
		}
	}
	return err.Error()
}

// upStart starts a test server with the upgrade handler.
func upStart(t *testing.T, srv *evhttp.Server) *svServer {
	t.Helper()
	h := &upHandler{}
	srv.Handler = h
	var s *svServer
	if srv.ConnState == nil {
		srv.ConnState = func(c *evnet.Conn, st evhttp.ConnState) { h.s.event("state %v", st) }
	}
	s = svStart(t, srv)
	s.do(func() { h.s = s }) // on the loop, where h is used
	return s
}

// upRequest is a request for path that offers the echo protocol.
func upRequest(path string) string {
	return "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket, echo\r\nConnection: keep-alive, Upgrade\r\n\r\n"
}

// up101 is the 101 response to /up (upRequest).
const up101 = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Test: yes\r\n\r\n"

// upReadHead reads a response head, raw.
func upReadHead(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a head: %v after %q", err, b.String())
		}
		b.WriteString(line)
		if line == "\r\n" {
			return b.String()
		}
	}
}

// upExpect reads len(want) bytes and checks them.
func upExpect(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	b := make([]byte, len(want))
	if n, err := io.ReadFull(br, b); err != nil || string(b) != want {
		t.Fatalf("read %q, %v; want %q", b[:n], err, want)
	}
}

// TestUpgradeEcho: a 101 with the handler's fields (not its Upgrade and
// Connection), then the echo protocol on the connection, starting with the
// bytes sent with the request. The exchange is over at the switch, the
// server reports the connection closed, and evnet's EOF closes it.
func TestUpgradeEcho(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, upRequest("/up")+"early bytes|")
	if head := upReadHead(t, br); head != up101 {
		t.Fatalf("head %q, want %q", head, up101)
	}
	upExpect(t, br, "early bytes|")
	io.WriteString(c, "ping")
	upExpect(t, br, "ping")
	s.eventually(t, "/up done: <nil>")
	s.eventually(t, "echo open")
	s.mu.Lock()
	states := strings.Join(s.events, "; ")
	s.mu.Unlock()
	if want := "state new; state active; state hijacked; /up done: <nil>; echo open"; states != want {
		t.Errorf("events %q, want %q", states, want)
	}
	c.(*net.TCPConn).CloseWrite()
	svExpectEOF(t, c, br)
	s.eventually(t, "echo close: "+evnet.ErrEOF.Error())
}

// TestUpgradeWithoutOffer: Upgrade fails for a request that does not
// offer the protocol, and HTTP goes on.
func TestUpgradeWithoutOffer(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, "GET /up HTTP/1.1\r\nHost: x\r\n\r\n"+
		"GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"+
		"GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\n\r\n"+ // no Connection: upgrade
		"GET /path/x HTTP/1.1\r\nHost: x\r\n\r\n")
	for i := range 3 {
		if resp, body := svRead(t, br, "GET"); resp.StatusCode != 400 || body != evhttp.ErrNotUpgrade.Error() {
			t.Fatalf("request %d: %s %q", i, resp.Status, body)
		}
	}
	if _, body := svRead(t, br, "GET"); body != "/path/x" {
		t.Fatalf("last: %q", body)
	}
}

// TestUpgradePipelined: the requests before an upgrade request are
// answered first, in order, however late; what follows it is the new
// protocol's, never parsed as HTTP, whether the handler upgrades at once
// or later.
func TestUpgradePipelined(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	const after = "GET /path/b HTTP/1.1\r\nHost: x\r\n\r\n"
	for _, path := range []string{"/up", "/up/later"} {
		t.Run(path, func(t *testing.T) {
			before := s.started.Load()
			c, br := svDial(t, s.addr)
			io.WriteString(c, "GET /path/a HTTP/1.1\r\nHost: x\r\n\r\n"+
				"GET /slow?ms=50 HTTP/1.1\r\nHost: x\r\n\r\n"+
				upRequest(path)+after)
			for _, want := range []string{"/path/a", "slow 50"} {
				if _, body := svRead(t, br, "GET"); body != want {
					t.Fatalf("got %q, want %q", body, want)
				}
			}
			head := upReadHead(t, br)
			if !strings.HasPrefix(head, "HTTP/1.1 101 Switching Protocols\r\n") {
				t.Fatalf("head %q", head)
			}
			upExpect(t, br, after)
			if n := s.started.Load() - before; n != 3 {
				t.Errorf("%d handlers ran, want 3", n)
			}
			c.Close()
		})
	}
	s.eventually(t, "echo close")
}

// TestUpgradeIgnored: a handler that answers an upgrade request as any
// other keeps the connection in HTTP, the request pipelined behind it
// included, with or without a body.
func TestUpgradeIgnored(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, upRequest("/up/ignore")+"GET /path/next HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"ignored", "/path/next"} {
		if resp, body := svRead(t, br, "GET"); resp.StatusCode != 200 || body != want || resp.Close {
			t.Fatalf("%s %q (close %v), want 200 %q", resp.Status, body, resp.Close, want)
		}
	}
	io.WriteString(c, "POST /up/ignore HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: upgrade\r\nContent-Length: 5\r\n\r\nhello"+
		"GET /path/after HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"ignored", "/path/after"} {
		if resp, body := svRead(t, br, "GET"); resp.StatusCode != 200 || body != want || resp.Close {
			t.Fatalf("%s %q (close %v), want 200 %q", resp.Status, body, resp.Close, want)
		}
	}
}

// TestUpgradeBody: Upgrade waits for the request body: it fails before,
// works from ReadAll's callback, and the new protocol starts after the
// body. With Expect: 100-continue, 100 Continue comes first.
func TestUpgradeBody(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	const head = "POST /up/body HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\nContent-Length: 5\r\n"
	for _, expect := range []bool{false, true} {
		c, br := svDial(t, s.addr)
		if expect {
			io.WriteString(c, head+"Expect: 100-continue\r\n\r\n")
			if h := upReadHead(t, br); h != "HTTP/1.1 100 Continue\r\n\r\n" {
				t.Fatalf("interim %q", h)
			}
		} else {
			io.WriteString(c, head+"\r\n")
		}
		io.WriteString(c, "helloafter")
		if h := upReadHead(t, br); h != "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n" {
			t.Fatalf("head %q", h)
		}
		upExpect(t, br, "body=hello\nafter")
		c.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if strings.HasPrefix(e, "before the body") || strings.HasPrefix(e, "after the body") || strings.HasPrefix(e, "body") {
			t.Error(e)
		}
	}
}

// TestUpgradeOnBody: a handler that asked for the (empty) body and
// upgraded at once still has its body's io.EOF call, and its exchange
// ends (OnDone, Served) at the switch.
func TestUpgradeOnBody(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, upRequest("/up/onbody"))
	if h := upReadHead(t, br); h != "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n" {
		t.Fatalf("head %q", h)
	}
	io.WriteString(c, "ping")
	upExpect(t, br, "ping")
	s.eventually(t, "onbody 0 bytes: EOF")
	s.eventually(t, "/up/onbody done: <nil>")
	if n := s.srv.Served(); n != 1 {
		t.Errorf("Served() = %d, want 1", n)
	}
	c.Close()
}

// TestUpgradeErrors: Upgrade refuses a protocol the client did not
// offer, a response whose head or body was written, and a second call.
func TestUpgradeErrors(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, upRequest("/up/errors")+upRequest("/up/written")+"GET /path/x HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{
		"other: ErrNotUpgrade, : ErrNotUpgrade, echo: ErrHeadSent",
		"x ErrBodyNotAllowed",
		"/path/x",
	} {
		if _, body := svRead(t, br, "GET"); body != want {
			t.Errorf("got %q, want %q", body, want)
		}
	}
	c2, br2 := svDial(t, s.addr)
	io.WriteString(c2, upRequest("/up/twice"))
	if h := upReadHead(t, br2); !strings.HasPrefix(h, "HTTP/1.1 101 ") {
		t.Fatalf("head %q", h)
	}
	s.eventually(t, "twice: ErrEnded")
	c2.Close()
	s.eventually(t, "echo close")
}

// TestUpgradeNetHTTP: net/http's client makes the 101 exchange and talks
// over the response's body, an io.ReadWriteCloser.
func TestUpgradeNetHTTP(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	req, _ := http.NewRequest("GET", "http://"+s.addr+"/up", nil)
	req.Header.Set("Upgrade", "echo")
	req.Header.Set("Connection", "Upgrade")
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req) // no Timeout: it would wrap the body
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 101 || resp.Header.Get("Upgrade") != "echo" || resp.Header.Get("X-Test") != "yes" {
		t.Fatalf("%s %v", resp.Status, resp.Header)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("body %T is not an io.ReadWriteCloser", resp.Body)
	}
	for _, msg := range []string{"hello", "world"} {
		io.WriteString(rwc, msg)
		b := make([]byte, len(msg))
		if _, err := io.ReadFull(rwc, b); err != nil || string(b) != msg {
			t.Fatalf("echo %q, %v; want %q", b, err, msg)
		}
	}
	rwc.Close()
	s.eventually(t, "echo close")
}

// TestUpgradeShutdown: Shutdown neither waits for an upgraded connection
// nor closes it, and the loop runs on for it.
func TestUpgradeShutdown(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, upRequest("/up"))
	upReadHead(t, br)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := s.srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	io.WriteString(c, "still here")
	upExpect(t, br, "still here")
	s.srv.Close()
	io.WriteString(c, "and here")
	upExpect(t, br, "and here")
	c.Close()
	s.eventually(t, "echo close")
}

// TestUpgradeBackpressure: 8 MiB sent behind a request that upgrades
// later: the server stops reading while the handler works (the input it
// holds is the new protocol's), then the echo gets it all, in order,
// pausing while its output is Full and resuming on OnDrain.
func TestUpgradeBackpressure(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	data := svPattern(8 << 20)
	go func() {
		io.WriteString(c, upRequest("/up/later"))
		c.Write(data)
	}()
	s.eventually(t, "echo full")
	upReadHead(t, br)
	got := make([]byte, len(data))
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(data) {
		t.Fatal("the echo differs from what was sent")
	}
	s.eventually(t, "echo drain")
	c.Close()
	s.eventually(t, "echo close")
}

// TestUpgradeHalfClose: the client sends the request, protocol bytes and
// its EOF at once: the echo gets the bytes, then the EOF, whether the
// EOF reaches the server after the switch or before (/up/later), and
// with no bytes at all.
func TestUpgradeHalfClose(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	for _, tc := range []struct{ path, data, want string }{
		{"/up/eof", "data", "databye"},
		{"/up/later", "data", "data"},
		{"/up/later", "", ""},
	} {
		t.Run(tc.path+"/"+tc.data, func(t *testing.T) {
			c, br := svDial(t, s.addr)
			io.WriteString(c, upRequest(tc.path)+tc.data)
			c.(*net.TCPConn).CloseWrite()
			upReadHead(t, br)
			upExpect(t, br, tc.want)
			svExpectEOF(t, c, br)
		})
	}
	s.eventually(t, "echo eof")
	s.eventually(t, "echo close: "+evnet.ErrEOF.Error())
}

// TestUpgradeClientGone: a client that leaves before the switch ends the
// exchange with an error, and the handler given to Upgrade is never
// called.
func TestUpgradeClientGone(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, _ := svDial(t, s.addr)
	io.WriteString(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"+upRequest("/up"))
	// /up has answered, its 101 waiting behind /hold.
	if !testutil.Eventually(5*time.Second, func() bool { return s.started.Load() == 2 }) {
		t.Fatalf("%d handlers ran, want 2", s.started.Load())
	}
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	s.eventually(t, "hold done: evnet")
	s.eventually(t, "/up done: evnet")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if strings.HasPrefix(e, "echo") {
			t.Errorf("event %q", e)
		}
	}
}

// TestUpgradeContext: the new protocol owns the connection's Context: the
// server hands it over cleared, and the protocol sets its own in OnOpen,
// which runs once, after the callback that made the switch, and before
// OnData gets the bytes sent with the request. With an EOF sent before
// the switch (/up/ctx/later), the protocol gets the bytes, then the EOF
// (OnEOF nil: evnet closes with ErrEOF).
func TestUpgradeContext(t *testing.T) {
	s := upStart(t, &evhttp.Server{})
	c, br := svDial(t, s.addr)
	io.WriteString(c, upRequest("/up/ctx")+"early")
	upReadHead(t, br)
	upExpect(t, br, "5:early|")
	io.WriteString(c, "ping")
	upExpect(t, br, "9:ping|")
	c.(*net.TCPConn).CloseWrite()
	svExpectEOF(t, c, br)
	s.eventually(t, "ctx close after 9 bytes: "+evnet.ErrEOF.Error())

	c2, br2 := svDial(t, s.addr)
	io.WriteString(c2, upRequest("/up/ctx/later")+"data")
	c2.(*net.TCPConn).CloseWrite()
	upReadHead(t, br2)
	upExpect(t, br2, "4:data|")
	svExpectEOF(t, c2, br2)
	s.eventually(t, "ctx close after 4 bytes: "+evnet.ErrEOF.Error())

	s.mu.Lock()
	defer s.mu.Unlock()
	var got []string
	for _, e := range s.events {
		if strings.HasPrefix(e, "ctx") || e == "upgraded" {
			got = append(got, e)
		}
	}
	want := []string{
		"upgraded", "ctx open, context <nil>", "ctx close after 9 bytes: " + evnet.ErrEOF.Error(),
		"upgraded", "ctx open, context <nil>", "ctx close after 4 bytes: " + evnet.ErrEOF.Error(),
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("events\n\t%s\nwant\n\t%s", strings.Join(got, "; "), strings.Join(want, "; "))
	}
}
