package evnet_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
	"golang.org/x/sys/unix"
)

// TestWriteShared: a shared buffer larger than the socket takes is queued
// by reference and sent whole, in order with the writes around it, which
// never write into it.
func TestWriteShared(t *testing.T) {
	rl := startLoop(t)
	a, b := testutil.Socketpair(t)
	var err error
	shared := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	want := append(append(append([]byte("head:"), shared...), "tail"...), shared[:100]...)
	orig := bytes.Clone(shared)
	var c *evnet.Conn
	rl.Do(func() {
		c, err = evnet.Adopt(rl.Loop, a, evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int { return len(p) }}, nil)
		if err != nil {
			return
		}
		c.Write([]byte("head:"))
		if _, err = c.WriteShared(shared); err != nil {
			return
		}
		c.Write([]byte("tail")) // appended after the shared buffer, not into it
		c.WriteShared(shared[:100])
		if c.Buffered() == 0 {
			t.Errorf("the kernel took 1 MiB at once: the test proves nothing")
		}
		c.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readPeer(t, b)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d (equal prefix %d)", len(got), len(want), commonPrefix(got, want))
	}
	if !bytes.Equal(shared, orig) {
		t.Fatal("the shared buffer was written into")
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// TestWriteSharedBuffers: several shared buffers go out in order, in one
// writev while the kernel takes them, the rest queued by reference (a
// partial write cut inside a buffer included), with ordinary writes
// around them; none is written into; MaxBuffered still holds.
func TestWriteSharedBuffers(t *testing.T) {
	rl := startLoop(t)
	a, b := testutil.Socketpair(t)
	var err error
	small := [][]byte{[]byte("one,"), []byte("two,"), []byte("three,")}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	orig := bytes.Clone(big)
	var want []byte
	for _, p := range small {
		want = append(want, p...)
	}
	want = append(append(append(append(want, big...), "mid"...), big[:7]...), big...)
	want = append(want, "tail"...)
	var c *evnet.Conn
	rl.Do(func() {
		c, err = evnet.Adopt(rl.Loop, a, evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int { return len(p) }}, nil)
		if err != nil {
			return
		}
		var n int
		if n, err = c.WriteSharedBuffers(small); err != nil || n != 14 || c.Buffered() != 0 {
			t.Errorf("small buffers: %d, %v, %d buffered; want all taken at once", n, err, c.Buffered())
		}
		if n, err = c.WriteSharedBuffers([][]byte{big, []byte("mid")}); err != nil || n != len(big)+3 {
			t.Errorf("a large buffer: %d, %v", n, err)
		}
		if c.Buffered() == 0 {
			t.Errorf("the kernel took 1 MiB at once: the test proves nothing")
		}
		c.WriteSharedBuffers([][]byte{big[:7], big}) // behind the queue
		c.Write([]byte("tail"))
		c.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	got := readPeer(t, b)
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, want %d (equal prefix %d)", len(got), len(want), commonPrefix(got, want))
	}
	if !bytes.Equal(big, orig) {
		t.Fatal("a shared buffer was written into")
	}

	// MaxBuffered: buffers that would queue beyond it fail the connection.
	a2, _ := testutil.Socketpair(t)
	rl.Do(func() {
		c, err := evnet.Adopt(rl.Loop, a2, evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int { return len(p) }},
			&evnet.ConnConfig{MaxBuffered: 1 << 20})
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := c.WriteSharedBuffers([][]byte{big, big, big}); !errors.Is(err, evnet.ErrOverflow) {
			t.Errorf("3 MiB through a 1 MiB limit: %v, want ErrOverflow", err)
		}
		if _, err := c.WriteSharedBuffers(small); !errors.Is(err, evnet.ErrClosed) {
			t.Errorf("after the overflow: %v, want ErrClosed", err)
		}
	})
}

// readPeer reads socket fd (a duplicate of it) to its end.
func readPeer(t *testing.T, fd int) []byte {
	t.Helper()
	fb, err := unix.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fb), "peer")
	defer peer.Close()
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
	return got
}
