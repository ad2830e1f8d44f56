package evnet_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestListenerStats: connections on a real loopback listener, closed for
// three reasons, and their bytes, as another goroutine reads them.
func TestListenerStats(t *testing.T) {
	rl := startLoop(t)
	srv := &echoServer{}
	srv.onOpen = func(c *evnet.Conn) {
		if srv.opened == 3 {
			c.Close() // the third: closed by the server
		}
	}
	ln := listen(t, rl, "tcp", "127.0.0.1:0", evnet.ListenConfig{}, srv)
	addr := ln.Addr().String()
	echoOnce(t, "tcp", addr, "hello")       // closed by the client: EOF
	echoOnce(t, "tcp", addr, "hello again") // EOF
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, nc) // the server closes it
	nc.Close()
	nc, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.(*net.TCPConn).SetLinger(0)
	nc.Write([]byte("x"))
	waitLoop(t, rl, "the fourth echo", func() bool { return srv.opened == 4 && ln.Stats().BytesIn == 17 })
	nc.Close() // a reset
	ok := testutil.Eventually(10*time.Second, func() bool { s := ln.Stats(); return s.Open() == 0 })
	s := ln.Stats()
	if !ok || s.Accepted != 4 || s.Closed[evnet.CloseEOF] != 2 || s.Closed[evnet.CloseLocal] != 1 ||
		s.Closed[evnet.CloseReset]+s.Closed[evnet.CloseEOF] != 3 || s.BytesIn != 17 || s.BytesOut != 17 {
		t.Errorf("Stats() = %+v: want 4 accepted, 2 EOF, 1 local, 1 reset, 17 bytes each way", s)
	}
	if ln.Accepted() != 4 {
		t.Errorf("Accepted() = %d", ln.Accepted())
	}
}

// TestListenerStatsGroup: the listener Group.Listen returns sums the
// figures of every loop's.
func TestListenerStatsGroup(t *testing.T) {
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 3})
			if err != nil {
				t.Fatal(err)
			}
			defer g.Shutdown(time.Second)
			addr := "127.0.0.1:0"
			if network == "unix" {
				addr = t.TempDir() + "/s"
			}
			h := evnet.Handler{OnData: func(c *evnet.Conn, p []byte) int { c.Write(p); return len(p) }}
			ln, err := g.Listen(network, addr, evnet.ListenConfig{}, h)
			if err != nil {
				t.Fatal(err)
			}
			if network == "tcp" {
				addr = ln.Addr().String()
			}
			for i := range 30 {
				echoOnce(t, network, addr, fmt.Sprintf("message %02d", i))
			}
			if !testutil.Eventually(10*time.Second, func() bool { return ln.Stats().Open() == 0 }) {
				t.Fatalf("connections left open: %+v", ln.Stats())
			}
			if s := ln.Stats(); s.Accepted != 30 || s.Closed[evnet.CloseEOF] != 30 || s.BytesIn != 300 || s.BytesOut != 300 {
				t.Errorf("Stats() = %+v, want 30 accepted and closed by EOF, 300 bytes each way", s)
			}
		})
	}
}

// TestClassifyClose sorts the close reasons into their classes.
func TestClassifyClose(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want evnet.CloseClass
	}{
		{evnet.ErrEOF, evnet.CloseEOF},
		{evnet.ErrLocalClose, evnet.CloseLocal},
		{evnet.ErrAborted, evnet.CloseAborted},
		{evnet.ErrTimeout, evnet.CloseTimeout},
		{evnet.ErrOverflow, evnet.CloseOverflow},
		{fmt.Errorf("evnet: read: %w", evnet.ErrReset), evnet.CloseReset},
		{fmt.Errorf("%w: %w", evnet.ErrHandshake, evnet.ErrTimeout), evnet.CloseTLS},
		{evnet.ErrTruncated, evnet.CloseTLS},
		{eddy.ErrClosed, evnet.CloseLoop},
		{fmt.Errorf("evnet: write: %w", unix.EPIPE), evnet.CloseError},
		{errors.New("other"), evnet.CloseError},
		{nil, evnet.CloseError},
	} {
		if got := evnet.ClassifyClose(tc.err); got != tc.want {
			t.Errorf("ClassifyClose(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	for k := range evnet.NumCloseClasses {
		if evnet.CloseClass(k).String() == "unknown" {
			t.Errorf("class %d has no name", k)
		}
	}
}
