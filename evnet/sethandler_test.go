package evnet_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// switchLog records the callbacks of the handlers of a SetHandler test.
// Loop goroutine only.
type switchLog struct{ events []string }

func (l *switchLog) add(format string, args ...any) {
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *switchLog) String() string { return strings.Join(l.events, "; ") }

// has reports whether an event starts with prefix.
func (l *switchLog) has(prefix string) bool {
	for _, e := range l.events {
		if strings.HasPrefix(e, prefix) {
			return true
		}
	}
	return false
}

// waitEvent waits for an event of lg that starts with prefix.
func waitEvent(t *testing.T, rl *runLoop, lg *switchLog, prefix string) {
	t.Helper()
	waitLoop(t, rl, prefix, func() bool { return lg.has(prefix) })
}

// checkLog checks the events of lg, on the loop.
func checkLog(t *testing.T, rl *runLoop, lg *switchLog, want string) {
	t.Helper()
	var got string
	rl.Do(func() { got = lg.String() })
	if got != want {
		t.Errorf("events\n\t%s\nwant\n\t%s", got, want)
	}
}

// echoB is the handler connections switch to, named "B" in the log: it
// echoes what it gets. OnOpen is set, to show that it never runs; OnEOF
// too unless closeOnEOF (then evnet closes with ErrEOF).
func echoB(lg *switchLog, closeOnEOF bool) evnet.Handler {
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) { lg.add("B open") },
		OnData: func(c *evnet.Conn, p []byte) int {
			lg.add("B data %q", p)
			c.Write(p)
			return len(p)
		},
		OnDrain: func(c *evnet.Conn) { lg.add("B drain") },
		OnEOF: func(c *evnet.Conn) {
			lg.add("B eof")
			c.Write([]byte("bye"))
			c.Close()
		},
		OnClose: func(c *evnet.Conn, err error) { lg.add("B close: %v", err) },
	}
	if closeOnEOF {
		h.OnEOF = nil
	}
	return h
}

// adoptPair adopts one end of a socket pair with h, after pre has been
// written to the other end (so that the first read gets it all), and
// returns the other end as a net.Conn, with a deadline. eof shuts the
// other end down for writing before the adoption.
func adoptPair(t *testing.T, rl *runLoop, pre string, eof bool, h evnet.Handler) (*evnet.Conn, net.Conn) {
	t.Helper()
	a, b := testutil.Socketpair(t)
	if n, err := unix.Write(b, []byte(pre)); n != len(pre) || err != nil {
		t.Fatalf("write %d of %d: %v", n, len(pre), err)
	}
	if eof {
		unix.Shutdown(b, unix.SHUT_WR)
	}
	f := os.NewFile(uintptr(b), "peer")
	peer, err := net.FileConn(f) // a dup
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	peer.SetDeadline(time.Now().Add(20 * time.Second))
	var c *evnet.Conn
	rl.Do(func() {
		c, err = evnet.Adopt(rl.Loop, a, h, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, peer
}

// expectRead reads len(want) bytes from peer and checks them.
func expectRead(t *testing.T, peer net.Conn, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if n, err := io.ReadFull(peer, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got[:n], err, want)
	}
}

// TestSetHandlerInData: a handler that reads a greeting and switches from
// inside OnData: the new handler gets what the old one left unconsumed at
// once, without new bytes from the peer, before what is read after it;
// then the new bytes, the EOF and OnClose. The old handler gets nothing
// more, the new OnOpen never runs, and the Context stays the program's.
func TestSetHandlerInData(t *testing.T) {
	rl := startLoop(t)
	var lg switchLog
	b := echoB(&lg, false)
	old := evnet.Handler{
		OnOpen: func(c *evnet.Conn) { c.SetContext("mine") },
		OnData: func(c *evnet.Conn, p []byte) int {
			lg.add("A data %q", p)
			i := bytes.IndexByte(p, '\n')
			if i < 0 {
				return 0
			}
			c.Write([]byte("ok\n"))
			c.SetHandler(b)
			lg.add("A switched, context %v", c.Context())
			return i + 1
		},
		OnDrain: func(c *evnet.Conn) { lg.add("A drain") },
		OnEOF:   func(c *evnet.Conn) { lg.add("A eof") },
		OnClose: func(c *evnet.Conn, err error) { lg.add("A close: %v", err) },
	}
	_, peer := adoptPair(t, rl, "HELLO\nearly", false, old)
	expectRead(t, peer, "ok\nearly") // no byte sent after the greeting's
	io.WriteString(peer, "more")
	expectRead(t, peer, "more")
	peer.(*net.UnixConn).CloseWrite()
	if rest, err := io.ReadAll(peer); err != nil || string(rest) != "bye" {
		t.Fatalf("after the EOF: %q, %v", rest, err)
	}
	waitEvent(t, rl, &lg, "B close")
	checkLog(t, rl, &lg, `A data "HELLO\nearly"; A switched, context mine; B data "early"; B data "more"; B eof; B close: `+evnet.ErrLocalClose.Error())
}

// TestSetHandlerLarge: a switch in the middle of the first of several
// reads, and a second switch by the new handler, also with input left:
// every byte reaches the last handler once, in order.
func TestSetHandlerLarge(t *testing.T) {
	rl := startLoop(t)
	data := pattern(48 << 10)
	var got []byte
	var switches int
	last := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			got = append(got, p...)
			return len(p)
		},
	}
	middle := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			got = append(got, p[:100]...)
			c.SetHandler(last)
			c.SetHandler(last) // the last call wins; twice is the same
			switches++
			return 100
		},
	}
	first := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			got = append(got, p[:10]...)
			c.SetHandler(middle)
			switches++
			return 10
		},
	}
	_, peer := adoptPair(t, rl, string(data[:1000]), false, first)
	wrote := make(chan error, 1)
	go func() { _, err := peer.Write(data[1000:]); wrote <- err }()
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	waitLoop(t, rl, "all the data", func() bool { return len(got) >= len(data) })
	rl.Do(func() {
		if switches != 2 || !bytes.Equal(got, data) {
			t.Errorf("%d switches, got %d bytes, equal %v", switches, len(got), bytes.Equal(got, data))
		}
	})
}

// TestSetHandlerFromTimer: a handler that keeps the input (OnData
// consumes nothing) switches from a timer: the new handler gets that
// input without new bytes from the peer. While reading is paused, the
// input waits for ResumeRead.
func TestSetHandlerFromTimer(t *testing.T) {
	for _, paused := range []bool{false, true} {
		t.Run(fmt.Sprintf("paused=%v", paused), func(t *testing.T) {
			rl := startLoop(t)
			var lg switchLog
			b := echoB(&lg, false)
			old := evnet.Handler{
				OnData: func(c *evnet.Conn, p []byte) int {
					lg.add("A data %q", p)
					if paused {
						c.PauseRead()
					}
					eddy.NewTimer(func(*eddy.Timer) {
						c.SetHandler(b)
						lg.add("switched")
						if paused {
							eddy.NewTimer(func(*eddy.Timer) {
								lg.add("resume")
								c.ResumeRead()
							}, 30*time.Millisecond, 0).Start(c.Loop())
						}
					}, 10*time.Millisecond, 0).Start(c.Loop())
					return 0
				},
				OnClose: func(c *evnet.Conn, err error) { lg.add("A close: %v", err) },
			}
			c, peer := adoptPair(t, rl, "kept", false, old)
			expectRead(t, peer, "kept")
			want := `A data "kept"; switched; B data "kept"`
			if paused {
				want = `A data "kept"; switched; resume; B data "kept"`
			}
			checkLog(t, rl, &lg, want)
			rl.Do(func() { c.Close() })
			want += "; B close: " + evnet.ErrLocalClose.Error()
			checkLog(t, rl, &lg, want)
		})
	}
}

// TestSetHandlerAfterEOF: the peer sent its data and shut down its side
// before the switch; the old handler kept the data and saw the EOF. The
// new handler gets the data, then the EOF: its OnEOF, or, without one,
// the close with ErrEOF after its output. Whether the switch is made in
// the old OnEOF or later, from a timer.
func TestSetHandlerAfterEOF(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fromTimer  bool
		closeOnEOF bool
		reply      string
		reason     error
	}{
		{"InOnEOF", false, false, "databye", evnet.ErrLocalClose},
		{"InOnEOF/NoOnEOF", false, true, "data", evnet.ErrEOF},
		{"FromTimer", true, false, "databye", evnet.ErrLocalClose},
		{"FromTimer/NoOnEOF", true, true, "data", evnet.ErrEOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rl := startLoop(t)
			var lg switchLog
			b := echoB(&lg, tc.closeOnEOF)
			old := evnet.Handler{
				OnData: func(c *evnet.Conn, p []byte) int { lg.add("A data %q", p); return 0 },
				OnEOF: func(c *evnet.Conn) {
					lg.add("A eof")
					if !tc.fromTimer {
						c.SetHandler(b)
						return
					}
					eddy.NewTimer(func(*eddy.Timer) { c.SetHandler(b) }, 10*time.Millisecond, 0).Start(c.Loop())
				},
				OnClose: func(c *evnet.Conn, err error) { lg.add("A close: %v", err) },
			}
			_, peer := adoptPair(t, rl, "data", true, old)
			if got, err := io.ReadAll(peer); err != nil || string(got) != tc.reply {
				t.Fatalf("read %q, %v; want %q", got, err, tc.reply)
			}
			waitEvent(t, rl, &lg, "B close")
			want := `A data "data"; A eof; B data "data"; B eof; B close: ` + tc.reason.Error()
			if tc.closeOnEOF {
				want = `A data "data"; A eof; B data "data"; B close: ` + tc.reason.Error()
			}
			checkLog(t, rl, &lg, want)
		})
	}
}

// TestSetHandlerDrain: output queued by the old handler: OnDrain is the
// new handler's, and the queue is sent whole.
func TestSetHandlerDrain(t *testing.T) {
	rl := startLoop(t)
	var lg switchLog
	data := pattern(1 << 20)
	b := echoB(&lg, false)
	b.OnDrain = func(c *evnet.Conn) {
		if !lg.has("B drain") {
			lg.add("B drain")
			c.Close()
		}
	}
	old := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			c.SetWriteBuffer(4096)
			c.Write(data)
			lg.add("A full %v", c.Full())
			c.SetHandler(b)
		},
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnDrain: func(c *evnet.Conn) { lg.add("A drain") },
		OnClose: func(c *evnet.Conn, err error) { lg.add("A close: %v", err) },
	}
	var ln *evnet.Listener
	rl.Do(func() {
		var err error
		ln, err = evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", old)
		if err != nil {
			t.Fatal(err)
		}
	})
	defer rl.Do(func() { ln.Close() })
	nc := dialTCP(t, ln)
	waitEvent(t, rl, &lg, "A full")
	got, err := io.ReadAll(nc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	waitEvent(t, rl, &lg, "B close")
	checkLog(t, rl, &lg, "A full true; B drain; B close: "+evnet.ErrLocalClose.Error())
}

// TestSetHandlerClosed: a handler set in the callback in which the
// connection closes gets the OnClose; SetHandler in OnClose, or on a
// closed connection, does nothing.
func TestSetHandlerClosed(t *testing.T) {
	rl := startLoop(t)
	var lg switchLog
	late := evnet.Handler{
		OnData:  func(c *evnet.Conn, p []byte) int { lg.add("late data"); return len(p) },
		OnClose: func(c *evnet.Conn, err error) { lg.add("late close") },
	}
	b := echoB(&lg, false)
	b.OnClose = func(c *evnet.Conn, err error) {
		lg.add("B close: %v", err)
		c.SetHandler(late)
	}
	old := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			lg.add("A data %q", p)
			c.SetHandler(b)
			c.Close()
			return len(p)
		},
		OnClose: func(c *evnet.Conn, err error) { lg.add("A close: %v", err) },
	}
	c, peer := adoptPair(t, rl, "bye", false, old)
	if got, err := io.ReadAll(peer); err != nil || len(got) != 0 {
		t.Fatalf("read %q, %v", got, err)
	}
	waitEvent(t, rl, &lg, "B close")
	rl.Do(func() {
		c.SetHandler(late)
		if c.Err() == nil || c.Fd() != -1 {
			t.Errorf("closed conn: Err %v, Fd %d", c.Err(), c.Fd())
		}
	})
	rl.Barrier() // "late close" (or a second "B close") would have run by now
	checkLog(t, rl, &lg, `A data "bye"; B close: `+evnet.ErrLocalClose.Error())
}

// TestSetHandlerDial: on a dialled connection still connecting, the new
// handler replaces the whole handler: its OnOpen runs on connect.
func TestSetHandlerDial(t *testing.T) {
	rl := startLoop(t)
	srv := &echoServer{}
	ln := listen(t, rl, "tcp", "127.0.0.1:0", evnet.ListenConfig{}, srv)
	var lg switchLog
	b := echoB(&lg, false)
	b.OnOpen = func(c *evnet.Conn) { lg.add("B open"); c.Write([]byte("ping")) }
	b.OnData = func(c *evnet.Conn, p []byte) int {
		lg.add("B data %q", p)
		c.Close()
		return len(p)
	}
	old := evnet.Handler{
		OnOpen:  func(c *evnet.Conn) { lg.add("A open") },
		OnData:  func(c *evnet.Conn, p []byte) int { lg.add("A data"); return len(p) },
		OnClose: func(c *evnet.Conn, err error) { lg.add("A close: %v", err) },
	}
	rl.Do(func() {
		c, err := evnet.Dial(rl.Loop, "tcp", ln.Addr().String(), 5*time.Second, old)
		if err != nil {
			t.Fatal(err)
		}
		c.SetHandler(b)
	})
	waitEvent(t, rl, &lg, "B close")
	checkLog(t, rl, &lg, `B open; B data "ping"; B close: `+evnet.ErrLocalClose.Error())
}

// TestSetHandlerGroup: a Group keeps track of the connections whose
// handler was replaced: Shutdown closes them (the new OnClose runs, the
// old one never), resets the one whose peer does not read at the drain
// deadline, and returns once they are all closed.
func TestSetHandlerGroup(t *testing.T) {
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var newReasons, oldReasons []error
	var queued atomic.Int64 // the largest output queue
	b := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			c.Write(p)
			if n := int64(c.Buffered()); n > queued.Load() {
				queued.Store(n)
			}
			return len(p)
		},
		OnClose: func(c *evnet.Conn, err error) {
			mu.Lock()
			newReasons = append(newReasons, err)
			mu.Unlock()
		},
	}
	old := evnet.Handler{
		OnOpen: func(c *evnet.Conn) { c.SetWriteBuffer(4096) },
		OnData: func(c *evnet.Conn, p []byte) int {
			if !bytes.HasPrefix(p, []byte("switch\n")) {
				c.Write(p) // the old protocol's echo
				return len(p)
			}
			c.SetHandler(b)
			return len("switch\n")
		},
		OnClose: func(c *evnet.Conn, err error) {
			mu.Lock()
			oldReasons = append(oldReasons, err)
			mu.Unlock()
		},
	}
	ln, err := g.Listen("tcp", "127.0.0.1:0", evnet.ListenConfig{}, old)
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	const n = 8
	for i := range n {
		nc, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		conns = append(conns, nc)
		msg := "switch\nhi"
		if i == n-1 {
			msg = "plain" // stays with the old handler
		}
		io.WriteString(nc, msg)
		want := strings.TrimPrefix(msg, "switch\n")
		got := make([]byte, len(want))
		if _, err := io.ReadFull(nc, got); err != nil || string(got) != want {
			t.Fatalf("conn %d: %q, %v", i, got, err)
		}
	}
	// A switched connection whose peer never reads keeps a queue, larger
	// than the kernel's buffers can take.
	stuck := conns[0].(*net.TCPConn)
	stuck.SetReadBuffer(4096)
	go func() { stuck.Write(make([]byte, 2<<20)) }()
	if !testutil.Eventually(10*time.Second, func() bool { return queued.Load() > 256<<10 }) {
		t.Fatal("the server never queued output for the stuck reader")
	}
	start := time.Now()
	if err := g.Shutdown(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	for _, c := range conns[1:] {
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("after Shutdown: %v, want EOF", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	aborted := 0
	for _, r := range newReasons {
		if errors.Is(r, evnet.ErrAborted) {
			aborted++
		}
	}
	if len(newReasons) != n-1 || len(oldReasons) != 1 || aborted != 1 {
		t.Errorf("new handler's closes %v, old handler's %v: want %d and 1, one ErrAborted", newReasons, oldReasons, n-1)
	}
}
