package evnet_test

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestGroup: a group of 3 loops serves TCP (SO_REUSEPORT) and Unix (one
// acceptor, round-robin hand-off) echo; Shutdown closes idle connections,
// lets a busy one drain and resets one whose peer never reads.
func TestGroup(t *testing.T) {
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 3})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	perLoop := map[any]int{}
	var reasons []error
	var queued atomic.Bool // some connection holds a queue the kernel cannot take
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			mu.Lock()
			perLoop[c.Loop()]++
			mu.Unlock()
			c.SetWriteBuffer(4096) // so that a peer that does not read makes a queue
		},
		OnData: func(c *evnet.Conn, p []byte) int {
			c.Write(p)
			// More than the kernel's buffers could take: the peer is not
			// reading, and what is queued stays until the deadline.
			if c.Buffered() >= 1<<20 {
				queued.Store(true)
			}
			return len(p)
		},
		OnClose: func(c *evnet.Conn, err error) {
			mu.Lock()
			reasons = append(reasons, err)
			mu.Unlock()
		},
	}
	ln, err := g.Listen("tcp", "127.0.0.1:0", evnet.ListenConfig{}, h)
	if err != nil {
		t.Fatal(err)
	}
	path := t.TempDir() + "/g.sock"
	if _, err := g.Listen("unix", path, evnet.ListenConfig{}, h); err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := range 30 {
		network, addr := "tcp", ln.Addr().String()
		if i%2 == 1 {
			network, addr = "unix", path
		}
		nc, err := net.DialTimeout(network, addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		conns = append(conns, nc)
		nc.Write([]byte("ping"))
		got := make([]byte, 4)
		if _, err := io.ReadFull(nc, got); err != nil || string(got) != "ping" {
			t.Fatalf("%s: %q %v", network, got, err)
		}
	}
	mu.Lock()
	if len(perLoop) < 2 {
		t.Errorf("connections on %d loop(s), want them spread: %v", len(perLoop), perLoop)
	}
	mu.Unlock()
	// A connection whose peer never reads keeps a queue: it is reset at
	// the drain deadline.
	stuck := conns[0].(*net.TCPConn)
	stuck.SetReadBuffer(4096)
	go func() { stuck.Write(make([]byte, 2<<20)) }()
	if !testutil.Eventually(10*time.Second, queued.Load) {
		t.Fatal("the server never queued output for the stuck reader")
	}

	start := time.Now()
	if err := g.Shutdown(300 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Shutdown took %v", d)
	}
	if err := g.Shutdown(time.Second); !errors.Is(err, evnet.ErrClosed) {
		t.Errorf("second Shutdown: %v", err)
	}
	for _, c := range conns[1:] {
		if _, err := io.ReadAll(c); err != nil {
			t.Errorf("after Shutdown: %v, want EOF", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reasons) != 30 {
		t.Errorf("%d closes, want 30", len(reasons))
	}
	aborted := 0
	for _, r := range reasons {
		if errors.Is(r, evnet.ErrAborted) {
			aborted++
		}
	}
	if aborted != 1 {
		t.Errorf("%d connections reset at the deadline, want 1: %v", aborted, reasons)
	}
}

// TestGroupSharedBackend: one Backend value cannot serve several loops, so
// a group of more than one refuses it; BackendName gives each its own.
func TestGroupSharedBackend(t *testing.T) {
	clock := eddytest.NewClock(time.Unix(0, 0))
	be := eddytest.NewBackend(clock)
	defer be.Close()
	if g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2, Loop: eddy.Config{Backend: be}}); err == nil {
		g.Shutdown(time.Second)
		t.Fatal("NewGroup shared one Backend among 2 loops")
	}
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2, Loop: eddy.Config{BackendName: "poll"}})
	if err != nil {
		t.Fatal(err)
	}
	g.Shutdown(time.Second)
}
