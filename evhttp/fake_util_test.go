package evhttp_test

// The fake-clock harness: a Server on a loop with package eddytest's fake
// backend and clock, which the test runs itself, on its own goroutine.
// Connections are real socket pairs adopted with the Server's ConnHandler;
// before every iteration of the loop, their readiness is copied from the
// kernel (poll(2) with no wait) into the fake backend, so that the server
// reads and writes real descriptors as it would on epoll, while time
// passes only when the loop would wait, and then at once, to the next
// timer. A timeout fires at the same fake instant on every run, and a
// test that checks that nothing happened before it needs no sleep: it
// runs the loop up to that instant and looks.

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
)

// fkEpoch is the wall-clock time the fake clock starts at: a quarter of a
// second into a second, so that a second's boundary is not the start.
var fkEpoch = time.Date(2026, 3, 4, 5, 6, 7, 250_000_000, time.UTC)

// fkServer is a Server on a loop with the fake backend and clock. Its
// svServer gives it the test handler (svServer.serve) and what the
// handler records. Test goroutine only.
type fkServer struct {
	*svServer
	t      *testing.T
	be     *eddytest.Backend
	clock  *eddytest.Clock
	start  time.Duration // the loop's Monotonic when the harness was made
	conns  []*fkConn
	mirror eddy.Prepare // copies the kernel's readiness into be
	walls  int          // the loop's readings of the wall clock since fkStart
}

// fkClock is the loop's clock: the fake one, whose wall-clock readings
// the harness counts and gives in a zone other than UTC, so that a Date
// line must convert to GMT.
type fkClock struct {
	*eddytest.Clock
	s *fkServer
}

// Wall returns the fake wall-clock time, in Central European Time.
func (c fkClock) Wall() time.Time {
	c.s.walls++
	return c.Clock.Wall().In(time.FixedZone("CET", 3600))
}

// fkConn is a connection the fkServer serves: the server's end adopted
// by the loop, the client's end kept by the test.
type fkConn struct {
	s        *fkServer
	ec       *evnet.Conn // the server's end
	fd       int         // its descriptor, the loop's
	peer     int         // the client's end, the test's
	in       []byte      // what the client has read and not yet taken
	got      int64       // the bytes the client has read in all
	eof      bool        // the client has read the end of the stream
	closedAt time.Duration
}

// fkStart makes srv's harness: srv's Handler is the test handler if nil.
// The loop is closed when the test ends, which closes the server's
// connections, and the client ends after it.
func fkStart(t *testing.T, srv *evhttp.Server) *fkServer {
	t.Helper()
	clock := eddytest.NewClock(fkEpoch)
	be := eddytest.NewBackend(clock)
	s := &fkServer{t: t, be: be, clock: clock}
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: fkClock{clock, s}, Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	s.svServer, s.start, s.walls = &svServer{srv: srv, l: l}, l.Monotonic(), 0
	if srv.Handler == nil {
		srv.Handler = evhttp.HandlerFunc(s.serve)
	}
	if srv.ErrorLog == nil {
		srv.ErrorLog = s.logs.printf
	}
	user := srv.ConnState
	srv.ConnState = func(ec *evnet.Conn, st evhttp.ConnState) {
		if st == evhttp.StateClosed {
			for _, c := range s.conns {
				if c.ec == ec && c.closedAt < 0 {
					c.closedAt = s.elapsed()
				}
			}
		}
		if user != nil {
			user(ec, st)
		}
	}
	s.mirror.Init(s.copyReadiness)
	s.mirror.Start(l)
	s.mirror.Unref()
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("closing the loop: %v", err)
		}
		for _, c := range s.conns {
			unix.Close(c.peer)
		}
	})
	return s
}

// elapsed returns the fake time since fkStart, as the loop last read it.
func (s *fkServer) elapsed() time.Duration { return s.l.Monotonic() - s.start }

// dial makes a connection to the server: a socket pair whose first end the
// loop adopts with the server's callbacks.
func (s *fkServer) dial() *fkConn {
	s.t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		s.t.Fatalf("socketpair: %v", err)
	}
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			s.t.Fatalf("set nonblock: %v", err)
		}
	}
	c := &fkConn{s: s, fd: fds[0], peer: fds[1], closedAt: -1}
	s.conns = append(s.conns, c)
	ec, err := evnet.Adopt(s.l, fds[0], s.srv.ConnHandler(), nil)
	if err != nil {
		unix.Close(fds[0])
		s.t.Fatalf("adopt: %v", err)
	}
	c.ec = ec
	return c
}

// copyReadiness is the Prepare callback: it makes the fake backend report
// what the kernel reports for the server's ends of the open connections.
func (s *fkServer) copyReadiness(*eddy.Prepare) {
	var pfds []unix.PollFd
	for _, c := range s.conns {
		if c.closedAt < 0 {
			pfds = append(pfds, unix.PollFd{Fd: int32(c.fd), Events: unix.POLLIN | unix.POLLOUT})
		}
	}
	if len(pfds) == 0 {
		return
	}
	_, err := unix.Poll(pfds, 0)
	for err == unix.EINTR { // a signal of the runtime's (preemption)
		_, err = unix.Poll(pfds, 0)
	}
	if err != nil {
		s.t.Errorf("poll: %v", err)
		return
	}
	const all = eddy.Read | eddy.Write | eddy.Error | eddy.Hangup
	for _, p := range pfds {
		var ev eddy.Events
		if p.Revents&unix.POLLIN != 0 {
			ev |= eddy.Read
		}
		if p.Revents&unix.POLLOUT != 0 {
			ev |= eddy.Write
		}
		if p.Revents&unix.POLLERR != 0 {
			ev |= eddy.Error
		}
		if p.Revents&unix.POLLHUP != 0 {
			ev |= eddy.Hangup
		}
		s.be.Clear(int(p.Fd), all&^ev)
		if ev != 0 {
			s.be.Ready(int(p.Fd), ev)
		}
	}
}

// runUntil runs the loop, one iteration at a time, until cond holds
// (checked before the first iteration and after each) or max has passed
// on the fake clock; it reports whether cond held. A nil cond never holds.
func (s *fkServer) runUntil(max time.Duration, cond func() bool) bool {
	s.t.Helper()
	expired := false
	guard := eddy.NewTimer(func(*eddy.Timer) { expired = true }, max, 0)
	guard.Start(s.l)
	defer guard.Stop()
	for {
		if cond != nil && cond() {
			return true
		}
		if expired {
			return false
		}
		if err := s.l.RunOnce(); err != nil {
			s.t.Fatalf("RunOnce: %v", err)
		}
	}
}

// runFor runs the loop for d of fake time.
func (s *fkServer) runFor(d time.Duration) { s.runUntil(d, nil) }

// write sends p from the client's end, all of it at once (the tests'
// writes fit in the socket's buffer).
func (c *fkConn) write(p string) {
	c.s.t.Helper()
	if n, err := unix.Write(c.peer, []byte(p)); n != len(p) || err != nil {
		c.s.t.Fatalf("client write: %d of %d bytes, %v", n, len(p), err)
	}
}

// pull reads what has arrived at the client's end: into c.in if keep,
// else only counted in c.got; the end of the stream sets c.eof.
func (c *fkConn) pull(keep bool) {
	var buf [64 << 10]byte
	for !c.eof {
		n, err := unix.Read(c.peer, buf[:])
		switch {
		case n > 0:
			c.got += int64(n)
			if keep {
				c.in = append(c.in, buf[:n]...)
			}
		case err == unix.EINTR:
		case err == unix.EAGAIN:
			return
		default: // 0 bytes: the end; or an error, such as a reset
			c.eof = true
		}
	}
}

// response takes the next whole response (to a request of method) from
// what the client has read, or reports false if it has not all arrived.
// A response delimited by the close is whole only once c.eof is set.
func (c *fkConn) response(method string) (*http.Response, string, bool) {
	c.pull(true)
	r := bytes.NewReader(c.in)
	br := bufio.NewReader(r)
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return nil, "", false
	}
	if resp.ContentLength < 0 && len(resp.TransferEncoding) == 0 && resp.Body != http.NoBody && !c.eof {
		return nil, "", false // delimited by the close, which has not come
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", false
	}
	c.in = c.in[len(c.in)-r.Len()-br.Buffered():]
	return resp, string(body), true
}

// awaitResponse runs the loop until the next response (to a request of
// method) has arrived, for at most max, and returns it with the fake time
// at which it was whole. It fails the test if none came.
func (c *fkConn) awaitResponse(method string, max time.Duration) (*http.Response, string, time.Duration) {
	c.s.t.Helper()
	var resp *http.Response
	var body string
	if !c.s.runUntil(max, func() bool {
		var ok bool
		resp, body, ok = c.response(method)
		return ok
	}) {
		c.s.t.Fatalf("no response within %v (%d bytes read: %.200q)", max, c.got, c.in)
	}
	return resp, body, c.s.elapsed()
}

// awaitEOF runs the loop until the client reads the end of the stream,
// for at most max, and returns the fake time at which it did. What
// arrives meanwhile stays in c.in.
func (c *fkConn) awaitEOF(max time.Duration) time.Duration {
	c.s.t.Helper()
	if !c.s.runUntil(max, func() bool { c.pull(true); return c.eof }) {
		c.s.t.Fatalf("the connection is still open after %v", max)
	}
	return c.s.elapsed()
}

// quiet reports whether nothing has arrived at the client's end: no byte,
// no end of the stream.
func (c *fkConn) quiet() bool {
	c.pull(true)
	return len(c.in) == 0 && !c.eof
}
