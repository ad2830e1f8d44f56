package evnet_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// sfFile writes data to a new file in the test's directory and opens it;
// the test closes it when it ends unless SendFile released it first.
func sfFile(t *testing.T, data []byte) (*os.File, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "region")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, path
}

// sfServer listens on network and hands the accepted connections to the
// test through a channel; OnData drops the input.
type sfServer struct {
	ln     *evnet.Listener
	addr   string
	conns  chan *evnet.Conn
	closed chan error
}

func sfListen(t *testing.T, rl *runLoop, network string, onOpen func(c *evnet.Conn)) *sfServer {
	t.Helper()
	s := &sfServer{conns: make(chan *evnet.Conn, 4), closed: make(chan error, 4)}
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "sock")
		s.addr = addr
	}
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			if onOpen != nil {
				onOpen(c)
			}
			s.conns <- c
		},
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, err error) { s.closed <- err },
	}
	var err error
	rl.Do(func() { s.ln, err = evnet.Listen(rl.Loop, network, addr, h) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rl.Do(func() { s.ln.Close() }) })
	if s.addr == "" {
		s.addr = s.ln.Addr().String()
	}
	return s
}

// dial connects to s and returns the client's end. (The client's receive
// buffer is left alone: shrinking it on an established connection makes
// Linux stall the sender on zero windows for seconds.)
func (s *sfServer) dial(t *testing.T, network string) (net.Conn, *evnet.Conn) {
	t.Helper()
	nc, err := net.DialTimeout(network, s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(60 * time.Second))
	select {
	case c := <-s.conns:
		return nc, c
	case <-time.After(10 * time.Second):
		t.Fatal("no connection accepted")
	}
	return nil, nil
}

// firstDiff describes where got and want part.
func firstDiff(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("%d bytes, want %d; first difference at %d", len(got), len(want), i)
		}
	}
	return fmt.Sprintf("%d bytes, want %d; one is a prefix of the other", len(got), len(want))
}

// TestSendFileOrder: writes and file regions, in a random order and of
// random sizes, arrive in the order they were queued, with sendfile and
// with the pread fallback, over TCP and a Unix socket, while the client
// reads at its own pace (so that the queue fills, sends are partial, and
// regions wait behind bytes and bytes behind regions).
func TestSendFileOrder(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		for _, fallback := range []bool{false, true} {
			name := network + "/sendfile"
			if fallback {
				name = network + "/pread"
			}
			t.Run(name, func(t *testing.T) {
				if fallback {
					evnet.DisableSendfile(t)
				}
				copied := evnet.CopiedRegions()
				testSendFileOrder(t, network)
				// Linux's sendfile takes TCP and Unix sockets alike.
				if n := evnet.CopiedRegions() - copied; runtime.GOOS == "linux" && (n == 0) != !fallback {
					t.Errorf("%d regions copied with pread, with sendfile disabled: %v", n, fallback)
				}
			})
		}
	}
}

func testSendFileOrder(t *testing.T, network string) {
	rl := startLoop(t)
	data := pattern(4 << 20)
	f, _ := sfFile(t, data)
	s := sfListen(t, rl, network, func(c *evnet.Conn) { c.SetWriteBuffer(64 << 10) })
	nc, c := s.dial(t, network)

	rng := rand.New(rand.NewPCG(1, uint64(len(network))))
	noise := make([]byte, 1<<20) // the written bytes: unlike the file's
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	var want []byte
	var regions int
	var released, failed atomic.Int32
	done := func(err error) {
		if err != nil {
			failed.Add(1)
		}
		released.Add(1)
	}
	var maxBuffered int
	rl.Do(func() {
		// First a large region with an empty queue: sent at once as far as
		// the kernel takes it, the rest queued.
		if err := c.SendFile(f, 100, 1<<20, done); err != nil {
			t.Fatal(err)
		}
		want = append(want, data[100:100+1<<20]...)
		regions++
		if c.Buffered() == 0 || c.Buffered() >= 1<<20 {
			t.Errorf("after a 1 MiB region to a slow reader: %d bytes queued, want a partial send", c.Buffered())
		}
		for range 300 {
			switch rng.IntN(4) {
			case 0, 1:
				off := rng.Int64N(int64(len(data)))
				n := rng.Int64N(min(int64(len(data))-off, 200<<10) + 1)
				if err := c.SendFile(f, off, n, done); err != nil {
					t.Fatal(err)
				}
				want = append(want, data[off:off+n]...)
				regions++
			case 2:
				off := rng.IntN(len(noise) - 40<<10)
				b := noise[off : off+1+rng.IntN(40<<10)]
				c.Write(b)
				want = append(want, b...)
			case 3:
				b := []byte(fmt.Sprintf("<%d>", len(want)))
				c.Write(b)
				want = append(want, b...)
			}
			maxBuffered = max(maxBuffered, c.Buffered())
		}
		c.Close()
	})
	got, err := io.ReadAll(nc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("stream: %s", firstDiff(got, want))
	}
	waitLoop(t, rl, "regions released", func() bool { return int(released.Load()) == regions })
	if failed.Load() != 0 {
		t.Errorf("%d regions released with an error", failed.Load())
	}
	if err := <-s.closed; !errors.Is(err, evnet.ErrLocalClose) {
		t.Errorf("close reason %v", err)
	}
	t.Logf("%d regions, %d bytes, queue peaked at %d bytes", regions, len(want), maxBuffered)
}

// TestSendFileLarge: a 64 MiB (sparse) file to a client that stops
// reading at every 8 MiB: it arrives whole and in order, the queue counts
// it against the watermarks (Full at once, OnDrain once it is nearly
// sent), and the server's memory does not grow with it.
func TestSendFileLarge(t *testing.T) {
	const size = 64 << 20
	path := filepath.Join(t.TempDir(), "sparse")
	w, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Truncate(size); err != nil {
		t.Fatal(err)
	}
	// A marker every MiB: its own offset.
	for off := int64(0); off < size; off += 1 << 20 {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(off))
		w.WriteAt(b[:], off+12345)
	}
	w.Close()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}

	t.Cleanup(func() { f.Close() })
	rl := startLoop(t)
	var full bool
	var releaseErr error
	released := false
	s := sfListen(t, rl, "tcp", func(c *evnet.Conn) { c.SetWriteBuffer(64 << 10) })
	nc, c := s.dial(t, "tcp")
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rl.Do(func() {
		c.Write([]byte("HEAD"))
		if err := c.SendFile(f, 0, size, func(err error) { released, releaseErr = true, err; f.Close() }); err != nil {
			t.Fatal(err)
		}
		c.Write([]byte("TAIL"))
		full = c.Full()
	})
	var got int64
	head := make([]byte, 4)
	if _, err := io.ReadFull(nc, head); err != nil || string(head) != "HEAD" {
		t.Fatalf("head %q, %v", head, err)
	}
	var region [1 << 20]byte
	for got < size {
		want := min(int64(len(region)), size-got)
		if _, err := io.ReadFull(nc, region[:want]); err != nil {
			t.Fatalf("at %d: %v", got, err)
		}
		if m := binary.BigEndian.Uint64(region[12345:]); m != uint64(got) {
			t.Fatalf("marker at %d reads %d", got+12345, m)
		}
		got += want
		if got%(8<<20) == 0 {
			// The reader stops until the loop has sent what the socket
			// takes (Barrier): the region's bytes left keep the queue Full.
			rl.Barrier()
			rl.Do(func() {
				if !c.Full() && got < size-(1<<20) {
					t.Errorf("not Full with %d bytes queued", c.Buffered())
				}
			})
		}
	}
	tail := make([]byte, 4)
	if _, err := io.ReadFull(nc, tail); err != nil || string(tail) != "TAIL" {
		t.Fatalf("tail %q, %v", tail, err)
	}
	waitLoop(t, rl, "release", func() bool { return released })
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Errorf("%d MiB allocated while sending a 64 MiB file", grew>>20)
	}
	rl.Do(func() {
		if !full || releaseErr != nil || c.Buffered() != 0 {
			t.Errorf("full %v, release %v, %d bytes left", full, releaseErr, c.Buffered())
		}
		c.Close()
	})
}

// TestSendFileWatermarks: a region counts against the high watermark by
// its bytes not yet sent, and OnDrain runs when it has fallen to the low
// one; a region does not count against MaxBuffered.
func TestSendFileWatermarks(t *testing.T) {
	data := pattern(4 << 20)
	f, _ := sfFile(t, data)
	rl := startLoop(t)
	var drains int
	var atDrain int
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			c.SetWriteBuffer(64 << 10)
			if err := c.SendFile(f, 0, int64(len(data)), func(error) {}); err != nil {
				t.Error(err)
			}
			if !c.Full() || c.Buffered() < len(data)/2 {
				t.Errorf("after SendFile: Full %v, %d buffered", c.Full(), c.Buffered())
			}
		},
		OnData: func(c *evnet.Conn, p []byte) int { return len(p) },
		OnDrain: func(c *evnet.Conn) {
			drains++
			atDrain = c.Buffered()
			c.Close()
		},
	}
	var ln *evnet.Listener
	lc := evnet.ListenConfig{Conn: evnet.ConnConfig{HighWater: 64 << 10, LowWater: 32 << 10, MaxBuffered: 256 << 10}}
	rl.Do(func() { ln, _ = lc.Listen(rl.Loop, "tcp", "127.0.0.1:0", h) })
	defer rl.Do(func() { ln.Close() })
	nc := dialTCP(t, ln)
	got, err := io.ReadAll(nc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("%s, %v", firstDiff(got, data), err)
	}
	rl.Do(func() {
		if drains != 1 || atDrain > 32<<10 {
			t.Errorf("%d drains, %d bytes queued at the drain", drains, atDrain)
		}
	})
}

// TestSendFileRelease: the file of a region is released exactly once
// whatever ends the connection: sent whole (nil), Abort, the peer's reset,
// Close of a connection still dialling; with done nil, the connection
// closes the file itself.
func TestSendFileRelease(t *testing.T) {
	data := pattern(8 << 20)
	path := filepath.Join(t.TempDir(), "region")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	open := func() *os.File {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	// openFds reports whether the file is still open in the process.
	isOpen := func() bool {
		for _, fd := range testutil.OpenFds() {
			if strings.HasSuffix(fd, " -> "+path) {
				return true
			}
		}
		return false
	}
	rl := startLoop(t)

	t.Run("abort", func(t *testing.T) {
		s := sfListen(t, rl, "tcp", func(c *evnet.Conn) { c.SetWriteBuffer(64 << 10) })
		_, c := s.dial(t, "tcp")
		f := open()
		defer f.Close()
		var errs []error
		rl.Do(func() {
			c.SendFile(f, 0, int64(len(data)), func(err error) { errs = append(errs, err) })
			c.SendFile(f, 0, 10, func(err error) { errs = append(errs, err) })
			if c.Buffered() == 0 {
				t.Error("nothing queued")
			}
			c.Abort()
		})
		rl.Do(func() {
			if len(errs) != 2 || !errors.Is(errs[0], evnet.ErrAborted) || !errors.Is(errs[1], evnet.ErrAborted) {
				t.Errorf("releases %v, want two ErrAborted", errs)
			}
		})
		if f.Fd() == ^uintptr(0) {
			t.Error("the connection closed a file it had to give back")
		}
	})

	t.Run("close owned", func(t *testing.T) {
		s := sfListen(t, rl, "tcp", func(c *evnet.Conn) { c.SetWriteBuffer(64 << 10) })
		_, c := s.dial(t, "tcp")
		f := open()
		rl.Do(func() {
			if err := c.SendFile(f, 0, int64(len(data)), nil); err != nil {
				t.Error(err)
			}
			c.Abort()
		})
		if isOpen() || f.Fd() != ^uintptr(0) {
			t.Error("the file is still open after the connection closed")
		}
	})

	t.Run("peer reset", func(t *testing.T) {
		s := sfListen(t, rl, "tcp", func(c *evnet.Conn) { c.SetWriteBuffer(64 << 10) })
		nc, c := s.dial(t, "tcp")
		f := open()
		errc := make(chan error, 2)
		rl.Do(func() {
			if err := c.SendFile(f, 0, int64(len(data)), func(err error) { errc <- err; f.Close() }); err != nil {
				t.Error(err)
			}
		})
		io.ReadFull(nc, make([]byte, 1000))
		nc.(*net.TCPConn).SetLinger(0)
		nc.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, evnet.ErrReset) {
				t.Errorf("released with %v, want ErrReset", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("not released after the peer's reset")
		}
		if err := <-s.closed; !errors.Is(err, evnet.ErrReset) {
			t.Errorf("close reason %v", err)
		}
	})

	t.Run("sent", func(t *testing.T) {
		s := sfListen(t, rl, "tcp", nil)
		nc, c := s.dial(t, "tcp")
		f := open()
		rl.Do(func() {
			if err := c.SendFile(f, 5, 1000, nil); err != nil {
				t.Error(err)
			}
			c.Close()
		})
		got, err := io.ReadAll(nc)
		if err != nil || !bytes.Equal(got, data[5:1005]) {
			t.Fatalf("%s, %v", firstDiff(got, data[5:1005]), err)
		}
		<-s.closed
		if isOpen() {
			t.Error("the file is still open after it was sent")
		}
	})

	t.Run("zero", func(t *testing.T) {
		s := sfListen(t, rl, "tcp", nil)
		_, c := s.dial(t, "tcp")
		f := open()
		defer f.Close()
		rl.Do(func() {
			called := false
			if err := c.SendFile(f, 0, 0, func(err error) { called = err == nil }); err != nil || !called {
				t.Errorf("zero bytes: %v, released %v", err, called)
			}
			c.Close()
		})
	})

	t.Run("dialling", func(t *testing.T) {
		// A region queued while the connect is in progress is released
		// when the connection is closed before it connects (Close drops
		// the queue then), and sent once it connects otherwise.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
		f := open()
		defer f.Close()
		var released error
		rl.Do(func() {
			c, err := evnet.Dial(rl.Loop, "tcp", l.Addr().String(), 0, evnet.Handler{OnData: func(*evnet.Conn, []byte) int { return 0 }})
			if err != nil {
				t.Fatal(err)
			}
			c.SendFile(f, 0, 100, func(err error) { released = err })
			c.Close()
		})
		if !errors.Is(released, evnet.ErrLocalClose) {
			t.Errorf("released with %v, want ErrLocalClose", released)
		}
		rl.Do(func() {
			c, err := evnet.Dial(rl.Loop, "tcp", l.Addr().String(), 0, evnet.Handler{
				OnOpen: func(c *evnet.Conn) { c.Close() },
				OnData: func(*evnet.Conn, []byte) int { return 0 },
			})
			if err != nil {
				t.Fatal(err)
			}
			c.Write([]byte("<"))
			c.SendFile(f, 7, 100<<10, nil)
			c.Write([]byte(">"))
		})
		nc, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		for range 2 { // the first accepted may be the closed dial
			got, _ := io.ReadAll(nc)
			if len(got) > 0 {
				want := append(append([]byte("<"), data[7:7+100<<10]...), '>')
				if !bytes.Equal(got, want) {
					t.Errorf("%s", firstDiff(got, want))
				}
				break
			}
			nc.Close()
			if nc, err = l.Accept(); err != nil {
				t.Fatal(err)
			}
			nc.SetDeadline(time.Now().Add(10 * time.Second))
		}
	})
	if isOpen() {
		t.Error("the file is still open")
	}
}

// TestSendFileShort: a file that ends before its region closes the
// connection with ErrShortFile after what it had, with sendfile and with
// the fallback.
func TestSendFileShort(t *testing.T) {
	for _, fallback := range []bool{false, true} {
		t.Run(fmt.Sprint("fallback=", fallback), func(t *testing.T) {
			if fallback {
				evnet.DisableSendfile(t)
			}
			data := pattern(10000)
			f, _ := sfFile(t, data)
			rl := startLoop(t)
			s := sfListen(t, rl, "tcp", nil)
			nc, c := s.dial(t, "tcp")
			var released error
			rl.Do(func() {
				c.Write([]byte("x"))
				// Sent at once up to the end of the file, and failed there
				// (an error: the file is kept), or queued after a short send
				// and failed on the next (released with the reason).
				err := c.SendFile(f, 1000, 20000, func(err error) { released = err })
				if err != nil && (!errors.Is(err, evnet.ErrShortFile) || released != nil) {
					t.Errorf("SendFile: %v (released %v), want ErrShortFile and the file kept", err, released)
				}
				if err != nil {
					released = err
				}
			})
			got, _ := io.ReadAll(nc)
			waitLoop(t, rl, "release", func() bool { return released != nil })
			if !errors.Is(released, evnet.ErrShortFile) {
				t.Errorf("released with %v", released)
			}
			released = nil
			if want := append([]byte("x"), data[1000:]...); !bytes.Equal(got, want) {
				t.Errorf("%s", firstDiff(got, want))
			}
			if err := <-s.closed; !errors.Is(err, evnet.ErrShortFile) {
				t.Errorf("close reason %v", err)
			}

			// Queued behind bytes, the region fails later: the release
			// tells why.
			nc, c = s.dial(t, "tcp")
			rl.Do(func() {
				c.SetWriteBuffer(64 << 10)
				c.Write(make([]byte, 4<<20))
				if err := c.SendFile(f, 1000, 20000, func(err error) { released = err }); err != nil {
					t.Error(err)
				}
			})
			io.Copy(io.Discard, nc)
			waitLoop(t, rl, "release", func() bool { return released != nil })
			if !errors.Is(released, evnet.ErrShortFile) {
				t.Errorf("released with %v", released)
			}
		})
	}
}

// TestSendFileErrors: what SendFile refuses it does not take: the file
// stays the caller's, done is not called.
func TestSendFileErrors(t *testing.T) {
	f, _ := sfFile(t, pattern(100))
	closedFile, _ := sfFile(t, pattern(100))
	closedFile.Close()
	rl := startLoop(t)
	s := sfListen(t, rl, "tcp", nil)
	_, c := s.dial(t, "tcp")
	called := false
	done := func(error) { called = true }
	rl.Do(func() {
		for _, tc := range []struct {
			f       *os.File
			off, n  int64
			want    error
			comment string
		}{
			{nil, 0, 1, os.ErrInvalid, "nil file"},
			{closedFile, 0, 1, os.ErrInvalid, "closed file"},
			{f, -1, 1, os.ErrInvalid, "negative offset"},
			{f, 0, -1, os.ErrInvalid, "negative length"},
		} {
			if err := c.SendFile(tc.f, tc.off, tc.n, done); !errors.Is(err, tc.want) {
				t.Errorf("%s: %v, want %v", tc.comment, err, tc.want)
			}
		}
		c.CloseWrite()
		if err := c.SendFile(f, 0, 1, done); !errors.Is(err, evnet.ErrWriteClosed) {
			t.Errorf("after CloseWrite: %v", err)
		}
		c.Close()
		if err := c.SendFile(f, 0, 1, done); !errors.Is(err, evnet.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
	})
	if called || f.Fd() == ^uintptr(0) {
		t.Errorf("a refused region was released (done called %v)", called)
	}
}
