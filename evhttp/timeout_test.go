package evhttp_test

// The Server's timeouts (header, body, idle, write), on the fake clock
// (fake_util_test.go): each is checked against the fake instant it fires
// at, which is the same on every run, and what must not happen before it
// is checked by running the loop up to that instant.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
)

// fkTick is how late a connection timeout may fire: evnet's timing wheel
// rings at most two ticks of 50ms after a deadline, never before.
const fkTick = 100 * time.Millisecond

// within fails the test unless at (a fake time, what) is in [want,
// want+fkTick].
func within(t *testing.T, what string, at, want time.Duration) {
	t.Helper()
	if at < want || at > want+fkTick {
		t.Errorf("%s at %v, want %v (+ at most %v)", what, at, want, fkTick)
	}
}

// sawEvent reports whether the test handler reported an event containing
// want.
func (s *fkServer) sawEvent(want string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.events {
		if strings.Contains(e, want) {
			return true
		}
	}
	return false
}

// TestHeaderTimeout: a head that does not arrive whole within
// HeaderTimeout of the accept gets 408 and a close, however steadily its
// bytes trickle in (slowloris); a connection that says nothing is closed
// without an answer; a kept-alive connection's header timeout counts from
// the first byte of its next request, not from the end of the previous
// one.
func TestHeaderTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	t.Run("dribbled", func(t *testing.T) {
		s := fkStart(t, &evhttp.Server{HeaderTimeout: timeout})
		c := s.dial()
		head := "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("z", 200)
		sent := 0
		drip := eddy.NewTimer(func(*eddy.Timer) { // a byte every 10ms from the accept on
			if sent < len(head) {
				c.write(head[sent : sent+1])
				sent++
			}
		}, 0, 10*time.Millisecond)
		drip.Start(s.l)
		resp, _, at := c.awaitResponse("GET", 2*time.Second)
		drip.Stop()
		if resp.StatusCode != 408 || !resp.Close {
			t.Errorf("%v, Close %v; want 408 and Connection: close", resp.Status, resp.Close)
		}
		within(t, "408", at, timeout)
		t.Logf("408 at %v, after %d bytes", at, sent)
		if sent < 25 {
			t.Errorf("only %d bytes dribbled by the 408", sent)
		}
		c.awaitEOF(time.Second)
	})
	t.Run("silent", func(t *testing.T) {
		s := fkStart(t, &evhttp.Server{HeaderTimeout: timeout})
		c := s.dial()
		at := c.awaitEOF(2 * time.Second)
		within(t, "close", at, timeout)
		t.Logf("closed at %v", at)
		if len(c.in) > 0 {
			t.Errorf("a connection that said nothing got %q", c.in)
		}
	})
	t.Run("kept alive", func(t *testing.T) {
		s := fkStart(t, &evhttp.Server{HeaderTimeout: timeout})
		c := s.dial()
		c.write(getReq)
		if _, body, _ := c.awaitResponse("GET", time.Second); body != "Hello, World!" {
			t.Fatalf("first request: %q", body)
		}
		s.runFor(2 * timeout) // idle, longer than the header timeout
		c.write(getReq[:10])
		s.runFor(timeout - 50*time.Millisecond)
		if !c.quiet() {
			t.Fatalf("before the second head's end: %q (EOF %v)", c.in, c.eof)
		}
		c.write(getReq[10:])
		if _, body, _ := c.awaitResponse("GET", time.Second); body != "Hello, World!" {
			t.Fatalf("second request: %q", body)
		}
		// The third head stops half way: 408, HeaderTimeout from its
		// first byte.
		s.runFor(time.Second)
		start := s.elapsed()
		c.write(getReq[:10])
		resp, _, at := c.awaitResponse("GET", 2*time.Second)
		if resp.StatusCode != 408 || !resp.Close {
			t.Errorf("third request: %v, Close %v; want 408 and Connection: close", resp.Status, resp.Close)
		}
		within(t, "408", at-start, timeout)
	})
}

// TestBodyTimeout: a body whose bytes keep coming, each within
// BodyTimeout of the one before, is waited for however long it takes; one
// that stops gets 408 and a close BodyTimeout after its last byte, and
// the handler is told.
func TestBodyTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := fkStart(t, &evhttp.Server{BodyTimeout: timeout})
	c := s.dial()
	c.write("POST /sum HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
	for range 5 { // 5 more bytes over 750ms, more than the timeout
		s.runFor(timeout - 50*time.Millisecond)
		c.write("x")
	}
	last := s.elapsed()
	s.runFor(timeout - 50*time.Millisecond)
	if !c.quiet() || s.sawEvent("sum body") {
		t.Fatalf("while the body trickled in: %q (EOF %v), events %q", c.in, c.eof, s.events)
	}
	resp, _, at := c.awaitResponse("POST", time.Second)
	if resp.StatusCode != 408 || !resp.Close {
		t.Errorf("%v, Close %v; want 408 and Connection: close", resp.Status, resp.Close)
	}
	within(t, "408", at-last, timeout)
	c.awaitEOF(time.Second)
	if want := "sum body: " + evhttp.ErrBodyTimeout.Error(); !s.sawEvent(want) {
		t.Errorf("no event %q among %q", want, s.events)
	}
}

// TestIdleTimeout: a kept-alive connection is closed IdleTimeout after
// its last response, and not before.
func TestIdleTimeout(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := fkStart(t, &evhttp.Server{IdleTimeout: timeout})
	c := s.dial()
	for range 3 { // requests a little less than the timeout apart keep it
		c.write(getReq)
		if _, body, _ := c.awaitResponse("GET", time.Second); body != "Hello, World!" {
			t.Fatalf("%q", body)
		}
		s.runFor(timeout - 50*time.Millisecond)
		if !c.quiet() {
			t.Fatalf("idle for less than the timeout: %q (EOF %v)", c.in, c.eof)
		}
	}
	c.write(getReq)
	c.awaitResponse("GET", time.Second)
	last := s.elapsed()
	at := c.awaitEOF(time.Second)
	within(t, "close", at-last, timeout)
	within(t, "StateClosed", c.closedAt-last, timeout)
	if len(c.in) > 0 {
		t.Errorf("after the last response: %q", c.in)
	}
}

// TestWriteTimeout: a response the client stops reading is cut, and the
// connection closed, WriteTimeout after the kernel last took any of it;
// the handler's exchange ends with evnet's timeout. A client that keeps
// reading, however slowly, gets the whole of a response that takes many
// times WriteTimeout: it is a stall timeout.
func TestWriteTimeout(t *testing.T) {
	const timeout = time.Second
	const n = 8 << 20
	req := fmt.Sprintf("GET /big?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", n)
	t.Run("stalled", func(t *testing.T) {
		s := fkStart(t, &evhttp.Server{WriteTimeout: timeout})
		c := s.dial()
		c.write(req)
		// The server writes until the socket's buffer and the output
		// queue are full; the client reads nothing.
		s.runUntil(time.Second, func() bool { return s.fulls.Load() > 0 })
		if s.fulls.Load() == 0 {
			t.Fatal("the handler never saw Full")
		}
		stalled := s.elapsed()
		s.runFor(timeout - 50*time.Millisecond)
		if c.closedAt >= 0 || s.sawEvent("big done") {
			t.Fatalf("closed at %v, before the write timeout (stalled at %v); events %q", c.closedAt, stalled, s.events)
		}
		if !s.runUntil(time.Second, func() bool { return c.closedAt >= 0 }) {
			t.Fatal("the connection is still open")
		}
		within(t, "close", c.closedAt-stalled, timeout)
		if want := "big done: " + evnet.ErrTimeout.Error(); !s.sawEvent(want) {
			t.Errorf("no event %q among %q", want, s.events)
		}
		// The client gets what the kernel held, then the end: a cut
		// response.
		c.awaitEOF(time.Second)
		t.Logf("stalled at %v, closed at %v, %d bytes for the client", stalled, c.closedAt, c.got)
		if c.got >= n {
			t.Errorf("the client got %d bytes of a response of %d cut short", c.got, n)
		}
	})
	t.Run("slow reader", func(t *testing.T) {
		s := fkStart(t, &evhttp.Server{WriteTimeout: timeout})
		c := s.dial()
		c.write(req)
		start := s.elapsed()
		head := int64(-1) // the head's length, once read
		for c.eof || head < 0 || c.got-head < n {
			if c.eof || s.elapsed()-start > time.Minute {
				t.Fatalf("%d bytes after %v, EOF %v", c.got, s.elapsed()-start, c.eof)
			}
			s.runFor(timeout / 2) // then read all there is: a slow, steady client
			c.pull(head < 0)
			if i := strings.Index(string(c.in), "\r\n\r\n"); head < 0 && i >= 0 {
				if !strings.HasPrefix(string(c.in), "HTTP/1.1 200 OK\r\n") {
					t.Fatalf("head %.100q", c.in)
				}
				head, c.in = int64(i+4), nil
			}
		}
		t.Logf("%d bytes in %v", c.got-head, s.elapsed()-start)
		if took := s.elapsed() - start; took < 2*timeout || c.got-head != n || c.closedAt >= 0 {
			t.Errorf("%d bytes of %d in %v, closed at %v: want all of a response that takes longer than the write timeout", c.got-head, n, took, c.closedAt)
		}
		s.runFor(0)
		if !s.sawEvent("big done: <nil>") {
			t.Errorf("events %q", s.events)
		}
	})
}
