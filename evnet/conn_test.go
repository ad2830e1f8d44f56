package evnet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// pattern returns n bytes of a recognisable pattern.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func dialTCP(t *testing.T, ln *evnet.Listener) *net.TCPConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	return nc.(*net.TCPConn)
}

// waitLoop polls cond on the loop goroutine until it holds.
func waitLoop(t *testing.T, rl *runLoop, what string, cond func() bool) {
	t.Helper()
	ok := testutil.Eventually(10*time.Second, func() bool {
		var v bool
		rl.Do(func() { v = cond() })
		return v
	})
	if !ok {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestSlowReader: a client writes a lot and does not read. The echo
// server's queue stops near the high mark (reading pauses), and everything
// arrives once the client reads.
func TestSlowReader(t *testing.T) {
	rl := startLoop(t)
	var maxBuf int
	srv := &echoServer{}
	h := srv.handler()
	h.OnData = func(c *evnet.Conn, p []byte) int {
		c.Write(p)
		maxBuf = max(maxBuf, c.Buffered())
		if c.Full() {
			c.PauseRead()
		}
		return len(p)
	}
	// Small buffers on both ends, set before the handshake: shrunk after
	// it, a receive buffer stalls TCP itself (testutil.DialRecvBuf).
	lc := evnet.ListenConfig{Conn: evnet.ConnConfig{ReadBuffer: 32 << 10, WriteBuffer: 32 << 10}}
	var ln *evnet.Listener
	rl.Do(func() {
		var err error
		ln, err = lc.Listen(rl.Loop, "tcp", "127.0.0.1:0", h)
		if err != nil {
			t.Fatal(err)
		}
	})
	defer rl.Do(func() { ln.Close(); srv.closeAll() })
	nc := testutil.DialRecvBuf(t, ln.Addr().String(), 32<<10, 60*time.Second)
	nc.SetWriteBuffer(32 << 10)
	const total = 4 << 20
	data := pattern(total)
	var written int
	var mu sync.Mutex
	go func() {
		for off := 0; off < total; off += 32 << 10 {
			n, err := nc.Write(data[off : off+32<<10])
			mu.Lock()
			written += n
			mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	// Wait for the server to stop reading: its queue is full, and nothing
	// resumes it (OnDrain) while the client reads nothing. The writer
	// then stalls once the kernel's buffers are full, far short of total.
	waitLoop(t, rl, "the server to pause", func() bool {
		for c := range srv.conns {
			return c.IsPaused()
		}
		return false
	})
	mu.Lock()
	w := written
	mu.Unlock()
	if w >= total {
		t.Fatalf("the writer never stalled")
	}
	var paused bool
	var buffered, peak int
	rl.Do(func() {
		for c := range srv.conns {
			paused, buffered = c.IsPaused(), c.Buffered()
		}
		peak = maxBuf
	})
	if !paused || peak > evnet.DefaultHighWater+evnet.ReadBufferSize {
		t.Fatalf("paused %v, queue %d bytes, at most %d: want paused and under %d", paused, buffered, peak, evnet.DefaultHighWater+evnet.ReadBufferSize)
	}
	got := make([]byte, total)
	if n, err := io.ReadFull(nc, got); err != nil {
		var st string
		rl.Do(func() {
			for c := range srv.conns {
				st = fmt.Sprintf("%v paused %v", c, c.IsPaused())
			}
		})
		t.Fatalf("read %d of %d: %v; server: %s", n, total, err, st)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("echo differs")
	}
}

// TestProducerWatermarks: a producer writes while !Full and resumes in
// OnDrain; the queue never exceeds the high mark by more than one write.
func TestProducerWatermarks(t *testing.T) {
	rl := startLoop(t)
	const total, chunk = 8 << 20, 4 << 10
	data := pattern(total)
	var off, maxBuf, drains int
	var closeErr error
	produce := func(c *evnet.Conn) {
		for off < total && !c.Full() {
			c.Write(data[off : off+chunk])
			off += chunk
			maxBuf = max(maxBuf, c.Buffered())
		}
		if off == total {
			c.Close()
		}
	}
	h := evnet.Handler{
		OnOpen:  produce,
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnDrain: func(c *evnet.Conn) { drains++; produce(c) },
		OnClose: func(c *evnet.Conn, err error) { closeErr = err },
	}
	var ln *evnet.Listener
	rl.Do(func() {
		var err error
		ln, err = evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", h)
		if err != nil {
			t.Fatal(err)
		}
	})
	defer rl.Do(func() { ln.Close() })
	nc := dialTCP(t, ln)
	// The client reads nothing until the server's queue has filled, so
	// the producer must stop on Full and resume in OnDrain whatever the
	// machine's scheduling.
	waitLoop(t, rl, "queue to fill", func() bool { return maxBuf > 0 })
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes, want %d, equal %v", len(got), total, bytes.Equal(got, data[:len(got)]))
	}
	waitLoop(t, rl, "close", func() bool { return closeErr != nil })
	rl.Do(func() {
		if !errors.Is(closeErr, evnet.ErrLocalClose) {
			t.Errorf("close reason %v, want ErrLocalClose", closeErr)
		}
		if maxBuf > evnet.DefaultHighWater+chunk || drains == 0 {
			t.Errorf("queue peaked at %d with %d drains", maxBuf, drains)
		}
	})
}

// TestHalfClose: the client shuts down writing; the server still echoes
// what it had and then closes with ErrEOF. And CloseWrite on the server
// side sends EOF while it keeps reading.
func TestHalfClose(t *testing.T) {
	rl := startLoop(t)
	srv := &echoServer{}
	ln := listen(t, rl, "tcp", "127.0.0.1:0", evnet.ListenConfig{}, srv)
	nc := dialTCP(t, ln)
	data := pattern(1 << 20)
	go func() { nc.Write(data); nc.CloseWrite() }()
	got, err := io.ReadAll(nc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	waitLoop(t, rl, "close", func() bool { return srv.closed == 1 })
	rl.Do(func() {
		if !errors.Is(srv.reasons[0], evnet.ErrEOF) {
			t.Errorf("reason %v, want ErrEOF", srv.reasons[0])
		}
	})

	// Server-side CloseWrite: it sends a greeting, shuts down writing, and
	// still receives.
	var received []byte
	var reason error
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			c.Write([]byte("bye"))
			if err := c.CloseWrite(); err != nil {
				t.Error(err)
			}
			if _, err := c.Write([]byte("x")); !errors.Is(err, evnet.ErrWriteClosed) {
				t.Errorf("Write after CloseWrite: %v", err)
			}
		},
		OnData:  func(c *evnet.Conn, p []byte) int { received = append(received, p...); return len(p) },
		OnClose: func(c *evnet.Conn, err error) { reason = err },
	}
	var ln2 *evnet.Listener
	rl.Do(func() { ln2, _ = evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", h) })
	defer rl.Do(func() { ln2.Close() })
	nc2 := dialTCP(t, ln2)
	got, err = io.ReadAll(nc2)
	if err != nil || string(got) != "bye" {
		t.Fatalf("got %q, %v", got, err)
	}
	nc2.Write([]byte("still here"))
	nc2.CloseWrite()
	waitLoop(t, rl, "close", func() bool { return reason != nil })
	rl.Do(func() {
		if string(received) != "still here" || !errors.Is(reason, evnet.ErrEOF) {
			t.Errorf("received %q, reason %v", received, reason)
		}
	})
}

// TestResetMidWrite: the peer resets while the server has a queue; the
// server closes with ErrReset (ECONNRESET or EPIPE), exactly once.
func TestResetMidWrite(t *testing.T) {
	rl := startLoop(t)
	var reasons []error
	var opened bool
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			opened = true
			c.SetWriteBuffer(4096)
			c.Write(pattern(4 << 20))
		},
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, err error) { reasons = append(reasons, err) },
	}
	var ln *evnet.Listener
	rl.Do(func() { ln, _ = evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", h) })
	defer rl.Do(func() { ln.Close() })
	nc := dialTCP(t, ln)
	nc.SetReadBuffer(4096)
	waitLoop(t, rl, "open", func() bool { return opened })
	io.ReadFull(nc, make([]byte, 1000))
	nc.SetLinger(0)
	nc.Close() // RST
	waitLoop(t, rl, "close", func() bool { return len(reasons) > 0 })
	rl.Barrier() // a second OnClose would have run by now
	rl.Do(func() {
		if len(reasons) != 1 || !errors.Is(reasons[0], evnet.ErrReset) {
			t.Errorf("reasons %v, want one ErrReset", reasons)
		}
	})
}

// TestAbortSendsReset: Abort makes the peer see ECONNRESET.
func TestAbortSendsReset(t *testing.T) {
	rl := startLoop(t)
	var reason error
	h := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			c.Write([]byte("partial"))
			c.Abort()
			if _, err := c.Write(p); !errors.Is(err, evnet.ErrClosed) {
				t.Errorf("Write after Abort: %v", err)
			}
			return 0
		},
		OnClose: func(c *evnet.Conn, err error) { reason = err },
	}
	var ln *evnet.Listener
	rl.Do(func() { ln, _ = evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", h) })
	defer rl.Do(func() { ln.Close() })
	nc := dialTCP(t, ln)
	nc.Write([]byte("hi"))
	_, err := io.ReadAll(nc)
	if !errors.Is(err, unix.ECONNRESET) {
		t.Errorf("peer read: %v, want ECONNRESET", err)
	}
	waitLoop(t, rl, "close", func() bool { return reason != nil })
	rl.Do(func() {
		if !errors.Is(reason, evnet.ErrAborted) {
			t.Errorf("reason %v", reason)
		}
	})
}

// TestCloseInCallbacks: Close, Abort and a second Close from inside
// OnOpen, OnData and OnClose; OnClose runs once, after the callback.
func TestCloseInCallbacks(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(c *evnet.Conn)
		data func(c *evnet.Conn, p []byte) int
		want error
	}{
		{"CloseInOpen", func(c *evnet.Conn) { c.Write([]byte("x")); c.Close() }, nil, evnet.ErrLocalClose},
		{"AbortInOpen", func(c *evnet.Conn) { c.Abort() }, nil, evnet.ErrAborted},
		{"CloseInData", nil, func(c *evnet.Conn, p []byte) int { c.Write(p); c.Close(); c.Close(); return len(p) }, evnet.ErrLocalClose},
		{"AbortInData", nil, func(c *evnet.Conn, p []byte) int { c.Abort(); c.Close(); return 0 }, evnet.ErrAborted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rl := startLoop(t)
			var closes int
			var reason error
			inCb := false
			h := evnet.Handler{
				OnOpen: func(c *evnet.Conn) {
					if tc.open != nil {
						inCb = true
						tc.open(c)
						inCb = false
					}
				},
				OnData: func(c *evnet.Conn, p []byte) int {
					if tc.data == nil {
						return len(p)
					}
					inCb = true
					defer func() { inCb = false }()
					return tc.data(c, p)
				},
				OnClose: func(c *evnet.Conn, err error) {
					if inCb {
						t.Error("OnClose ran inside another callback")
					}
					closes++
					reason = err
					c.Close()
					c.Abort()
				},
			}
			var ln *evnet.Listener
			rl.Do(func() { ln, _ = evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", h) })
			defer rl.Do(func() { ln.Close() })
			// The dial itself may see the reset of AbortInOpen.
			if nc, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second); err == nil {
				nc.SetDeadline(time.Now().Add(10 * time.Second))
				nc.Write([]byte("hello"))
				io.ReadAll(nc)
				nc.Close()
			}
			waitLoop(t, rl, "close", func() bool { return closes > 0 })
			rl.Barrier() // a second OnClose would have run by now
			rl.Do(func() {
				if closes != 1 || !errors.Is(reason, tc.want) {
					t.Errorf("%d closes, reason %v, want 1 and %v", closes, reason, tc.want)
				}
			})
		})
	}
}

// TestFdReuseAfterClose: a closed Conn's descriptor number is reused by a
// new descriptor; the old handle returns ErrClosed and the new descriptor
// is untouched.
func TestFdReuseAfterClose(t *testing.T) {
	rl := startLoop(t)
	a, b := testutil.Socketpair(t)
	var c *evnet.Conn
	rl.Do(func() {
		var err error
		c, err = evnet.Adopt(rl.Loop, a, evnet.Handler{OnData: func(*evnet.Conn, []byte) int { return 0 }}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.Close()
	})
	// The number a is free: the next descriptor takes it.
	r, w := testutil.Pipe(t)
	if r != a && w != a {
		t.Logf("descriptor %d not reused (got %d, %d)", a, r, w)
	}
	rl.Do(func() {
		if _, err := c.Write([]byte("must not land")); !errors.Is(err, evnet.ErrClosed) {
			t.Errorf("Write after close: %v", err)
		}
		if err := c.Close(); !errors.Is(err, evnet.ErrClosed) {
			t.Errorf("Close after close: %v", err)
		}
		if err := c.Abort(); !errors.Is(err, evnet.ErrClosed) {
			t.Errorf("Abort after close: %v", err)
		}
		c.PauseRead()
		c.ResumeRead()
		c.SetIdleTimeout(time.Millisecond)
		if c.Fd() != -1 || c.CloseWrite() == nil || c.SetNoDelay(true) == nil {
			t.Error("closed Conn still acts on its descriptor")
		}
	})
	// Nothing was written to the pipe that reused the number.
	buf := make([]byte, 16)
	if n, err := unix.Read(r, buf); err != unix.EAGAIN {
		t.Errorf("pipe read: %d bytes, %v: want EAGAIN", n, err)
	}
	// And the socket's peer sees EOF.
	unix.SetNonblock(b, false)
	if n, err := unix.Read(b, buf); n != 0 || err != nil {
		t.Errorf("peer read %d, %v: want EOF", n, err)
	}
}

// TestPeerVanishes: the client closes without warning mid-stream, or
// never sends anything and closes; the server closes each connection
// once with ErrEOF or ErrReset and keeps serving others.
func TestPeerVanishes(t *testing.T) {
	rl := startLoop(t)
	srv := &echoServer{}
	ln := listen(t, rl, "tcp", "127.0.0.1:0", evnet.ListenConfig{}, srv)
	for i := range 20 {
		nc := dialTCP(t, ln)
		if i%2 == 0 {
			nc.Write(pattern(256 << 10))
		}
		nc.Close()
	}
	waitLoop(t, rl, "20 closes", func() bool { return srv.closed == 20 })
	rl.Do(func() {
		for _, err := range srv.reasons {
			if !errors.Is(err, evnet.ErrEOF) && !errors.Is(err, evnet.ErrReset) {
				t.Errorf("reason %v", err)
			}
		}
	})
	nc := dialTCP(t, ln)
	nc.Write([]byte("ping"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(nc, got); err != nil || string(got) != "ping" {
		t.Fatalf("after vanishing peers: %q %v", got, err)
	}
}

func netipLoopback() netip.AddrPort { return netip.MustParseAddrPort("127.0.0.1:0") }

// TestOverflow: a Write past ConnConfig.MaxBuffered, or unconsumed input past
// it, closes the connection with ErrOverflow instead of growing.
func TestOverflow(t *testing.T) {
	rl := startLoop(t)
	a, b := testutil.Socketpair(t)
	var reason error
	var werr error
	rl.Do(func() {
		c, err := evnet.Adopt(rl.Loop, a, evnet.Handler{
			OnData:  func(c *evnet.Conn, p []byte) int { return 0 },
			OnClose: func(c *evnet.Conn, err error) { reason = err },
		}, &evnet.ConnConfig{MaxBuffered: 1 << 20})

		if err != nil {
			t.Fatal(err)
		}
		_, werr = c.Write(make([]byte, 4<<20))
	})
	rl.Do(func() {
		if !errors.Is(werr, evnet.ErrOverflow) || !errors.Is(reason, evnet.ErrOverflow) {
			t.Errorf("output: Write %v, close reason %v: want ErrOverflow", werr, reason)
		}
	})

	// Input: the peer sends more than the cap and OnData keeps it all.
	c2, d := testutil.Socketpair(t)
	reason = nil
	rl.Do(func() {
		_, err := evnet.Adopt(rl.Loop, c2, evnet.Handler{
			OnData:  func(c *evnet.Conn, p []byte) int { return 0 },
			OnClose: func(c *evnet.Conn, err error) { reason = err },
		}, &evnet.ConnConfig{MaxBuffered: 64 << 10})

		if err != nil {
			t.Fatal(err)
		}
	})
	// The test writes itself, 256 KiB in all: when the socket is full,
	// the loop reads what is there (Barrier) before the next try. Once the
	// connection has closed, the write fails.
	buf := make([]byte, 8<<10)
	for range 32 {
		_, err := unix.Write(d, buf)
		for err == unix.EAGAIN {
			rl.Barrier()
			_, err = unix.Write(d, buf)
		}
		if err != nil {
			break
		}
	}
	waitLoop(t, rl, "input overflow", func() bool { return reason != nil })
	rl.Do(func() {
		if !errors.Is(reason, evnet.ErrOverflow) {
			t.Errorf("input: reason %v, want ErrOverflow", reason)
		}
	})
	_ = b
}
