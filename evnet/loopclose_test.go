package evnet_test

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// TestLoopCloseClosesSockets: closing a loop closes what evnet has on it.
// A connection with output queued is reset and one without is closed,
// both with OnClose(eddy.ErrClosed); a Dial or Listen from OnClose is refused; the
// listener stops listening; a packet socket gets OnClose(eddy.ErrClosed).
// TestMain's check finds no descriptor left open.
func TestLoopCloseClosesSockets(t *testing.T) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	reasons := map[string]error{}
	var redialErr, relistenErr error
	var served *evnet.Conn
	ln, err := evnet.Listen(l, "tcp", "127.0.0.1:0", evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			served = c
			c.Write(make([]byte, 6<<20)) // more than the socket buffers take
		},
		OnData: func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, reason error) {
			reasons["served"] = reason
			_, redialErr = evnet.Dial(l, "tcp", "127.0.0.1:1", time.Second, evnet.Handler{})
			_, relistenErr = evnet.Listen(l, "tcp", "127.0.0.1:0", evnet.Handler{})
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(p[0], true)
	defer unix.Close(p[1])
	if _, err := evnet.Adopt(l, p[0], evnet.Handler{
		OnData:  func(c *evnet.Conn, b []byte) int { return len(b) },
		OnClose: func(c *evnet.Conn, reason error) { reasons["pipe"] = reason },
	}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := evnet.ListenUDP(l, netip.MustParseAddrPort("127.0.0.1:0"),
		func(*evnet.PacketConn, []byte, netip.AddrPort) {},
		&evnet.PacketConfig{OnClose: func(c *evnet.PacketConn, err error) { reasons["udp"] = err }}); err != nil {
		t.Fatal(err)
	}
	client, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	deadline := time.Now().Add(5 * time.Second)
	for served == nil || served.Buffered() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the connection was not accepted, or its output not queued")
		}
		if err := l.RunNoWait(); err != nil {
			t.Fatal(err)
		}
	}

	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"served", "pipe", "udp"} {
		if !errors.Is(reasons[name], eddy.ErrClosed) {
			t.Errorf("%s closed with %v, want eddy.ErrClosed", name, reasons[name])
		}
	}
	if redialErr == nil {
		t.Error("a Dial from OnClose on the closing loop succeeded")
	}
	if relistenErr == nil {
		t.Error("a Listen from OnClose on the closing loop succeeded")
	}
	if err := ln.Close(); !errors.Is(err, evnet.ErrClosed) {
		t.Errorf("Listener.Close after the loop closed = %v, want ErrClosed", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still listens after the loop closed", addr)
	}
	// The queued output was dropped: the client reads what the kernel had,
	// then the reset.
	client.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 1<<20)
	for {
		_, err := client.Read(buf)
		if err == nil {
			continue
		}
		if !errors.Is(err, unix.ECONNRESET) {
			t.Errorf("client read ended with %v, want a reset", err)
		}
		break
	}
}
