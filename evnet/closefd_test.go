package evnet_test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/poller"
	"github.com/eddyloop/eddy/internal/testutil/ctlcount"
)

// connFd reads a connection's descriptor from its String, without Fd
// (which marks the descriptor shared).
func connFd(c *evnet.Conn) int {
	var fd int
	fmt.Sscanf(c.String(), "evnet.Conn(fd %d,", &fd)
	return fd
}

// TestCloseReuseFd closes accepted connections from OnData and, in the
// same callback, dials a new connection, whose socket gets the closed one's
// descriptor number: the new connection gets its own data, the closed one
// nothing more, and the loop never asks the backend about a closed
// descriptor nor removes a registration (the close does it).
func TestCloseReuseFd(t *testing.T) {
	be, err := poller.New()
	if err != nil {
		t.Fatal(err)
	}
	cc := ctlcount.New(be)
	l, err := eddy.NewLoop(&eddy.Config{Backend: cc})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	// The peer the new connections dial: it says "pong" and hangs up.
	peer, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	go func() {
		for {
			c, err := peer.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("pong"))
			c.Close()
		}
	}()

	const rounds = 20
	var (
		oldData, oldClose, newData, reused, done int
		failed                                   string
	)
	dialled := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			if string(p) != "pong" {
				failed = fmt.Sprintf("dialled connection got %q", p)
			}
			newData++
			c.Close()
			return len(p)
		},
		OnClose: func(c *evnet.Conn, err error) { done++ },
	}
	accepted := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			oldData++
			fd := connFd(c)
			c.Close()
			nc, err := evnet.Dial(l, "tcp", peer.Addr().String(), 0, dialled)
			if err != nil {
				failed = err.Error()
				return len(p)
			}
			if connFd(nc) == fd {
				reused++
			}
			return len(p)
		},
		OnClose: func(*evnet.Conn, error) { oldClose++ },
	}
	ln, err := evnet.Listen(l, "tcp", "127.0.0.1:0", accepted)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	go func() {
		for range rounds {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				return
			}
			c.Write([]byte("ping"))
			io.Copy(io.Discard, c) // until the server closes
			c.Close()
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for done < rounds && failed == "" && time.Now().Before(deadline) {
		l.RunOnce()
	}
	if failed != "" {
		t.Fatal(failed)
	}
	if done != rounds || oldData != rounds || oldClose != rounds || newData != rounds {
		t.Fatalf("%d rounds of %d: accepted connections' OnData %d, OnClose %d; dialled ones' OnData %d",
			done, rounds, oldData, oldClose, newData)
	}
	if reused == 0 {
		t.Errorf("no dialled connection reused the closed one's descriptor number")
	}
	if removes := cc.Removes + cc.SharedForgets; cc.OnClosed != 0 || removes != 0 {
		t.Errorf("%d backend calls for closed descriptors, %d removals; want 0, 0", cc.OnClosed, removes)
	}
	t.Logf("%d of %d dialled connections reused the closed descriptor's number", reused, rounds)
}
