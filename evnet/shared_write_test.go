package evnet_test

import (
	"bytes"
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
	fb, err := unix.Dup(b)
	if err != nil {
		t.Fatal(err)
	}
	peer := os.NewFile(uintptr(fb), "peer")
	defer peer.Close()
	got, err := io.ReadAll(peer)
	if err != nil {
		t.Fatal(err)
	}
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
