package evnet_test

import (
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// echoRig is an evnet echo server on one end of a socketpair, driven by
// hand on the caller's goroutine: write to peer, RunOnce, read from peer.
type echoRig struct {
	l    *eddy.Loop
	peer int
	msg  []byte
	back []byte
}

func newEchoRig(t testing.TB, size int) *echoRig {
	t.Helper()
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	a, b := testutil.Socketpair(t)
	srv := &echoServer{}
	c, err := evnet.Adopt(l, a, srv.handler(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Abort() })
	return &echoRig{l: l, peer: b, msg: make([]byte, size), back: make([]byte, size)}
}

// round sends one message and reads its echo.
func (r *echoRig) round(t testing.TB) {
	if n, err := unix.Write(r.peer, r.msg); n != len(r.msg) || err != nil {
		t.Fatalf("write: %d, %v", n, err)
	}
	for got := 0; got < len(r.back); {
		if err := r.l.RunOnce(); err != nil {
			t.Fatal(err)
		}
		n, err := unix.Read(r.peer, r.back[got:])
		if err == unix.EAGAIN {
			continue
		}
		if err != nil || n == 0 {
			t.Fatalf("read: %d, %v", n, err)
		}
		got += n
	}
}

// BenchmarkEcho measures one echoed message: the server's read, OnData,
// and write, with the loop iteration around them.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{64, 1024, 16 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			r := newEchoRig(b, size)
			r.round(b)
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				r.round(b)
			}
		})
	}
}

// TestEchoAllocs: echoing a message allocates nothing in steady state.
func TestEchoAllocs(t *testing.T) {
	r := newEchoRig(t, 1024)
	r.round(t)
	allocs := testing.AllocsPerRun(200, func() { r.round(t) })
	if !raceEnabled && allocs > 0 {
		t.Fatalf("%v allocations per echoed message, want 0", allocs)
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<10:
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// BenchmarkSetTimer measures a per-request timeout pushed later (as
// evhttp's keep-alive timeout is), on a loop with 1,000 timed
// connections: the connection stays in its slot, nothing is relinked.
func BenchmarkSetTimer(b *testing.B) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	h := evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int { return len(p) }}
	var conns []*evnet.Conn
	for range 1000 {
		a, _ := testutil.Socketpair(b)
		c, err := evnet.Adopt(l, a, h, nil)
		if err != nil {
			b.Fatal(err)
		}
		c.SetTimer(time.Minute)
		conns = append(conns, c)
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.Abort()
		}
	})
	b.ReportAllocs()
	d := time.Minute
	for b.Loop() {
		d += time.Microsecond
		conns[0].SetTimer(d)
	}
}
