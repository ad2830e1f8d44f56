package testutil

import (
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// DialRecvBuf connects to the TCP address addr from a socket whose receive
// buffer (SO_RCVBUF) is size bytes, set before it connects, and closes the
// connection when the test ends. Its deadline is d from now.
//
// A test that wants a small receive buffer must ask for it this way, not
// with SetReadBuffer on a connected socket. The window scale is settled
// during the handshake, for the buffer the socket had then; shrunk after
// it, the buffer cannot hold the window its peer was offered. While the
// reader pauses, both ends fall into zero-window probing, and the probes
// back off exponentially (TCP_INFO's backoff): a test whose reader pauses for 2 s
// then took 1.4 s to read 4 MiB over loopback, against 20 ms with the
// buffer set before the connect, and CI runs have seen such stalls last
// past a minute (tcp(7): the buffer size "must be set prior to the
// listen(2) or connect(2) calls"). evnet's own sockets get theirs from
// ConnConfig.ReadBuffer.
func DialRecvBuf(t testing.TB, addr string, size int, d time.Duration) *net.TCPConn {
	t.Helper()
	dialer := net.Dialer{Timeout: 5 * time.Second, Control: BufferControl(size, 0)}
	c, err := dialer.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(d))
	return c.(*net.TCPConn)
}

// BufferControl returns a net.Dialer Control function that sets a socket's
// receive and send buffers (SO_RCVBUF, SO_SNDBUF) to rcv and snd bytes
// before it connects; a size of zero is left to the kernel.
func BufferControl(rcv, snd int) func(network, address string, rc syscall.RawConn) error {
	return func(_, _ string, rc syscall.RawConn) error {
		var err error
		rc.Control(func(fd uintptr) {
			for _, o := range [...]struct{ opt, size int }{{unix.SO_RCVBUF, rcv}, {unix.SO_SNDBUF, snd}} {
				if o.size > 0 && err == nil {
					err = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, o.opt, o.size)
				}
			}
		})
		return err
	}
}
