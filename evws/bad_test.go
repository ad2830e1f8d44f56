package evws_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evws"
)

// maxHeader is the longest frame header.
const maxHeader = 14

// TestStalledHandshake: half a handshake that stalls is closed by the
// HTTP server's header timeout, and the server goes on serving.
func TestStalledHandshake(t *testing.T) {
	s := startServer(t, nil, echoHandler)
	c, err := net.Dial("tcp", s.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
	c.SetDeadline(time.Now().Add(10 * time.Second))
	b, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(b), "HTTP/1.1 408") && len(b) != 0 {
		t.Fatalf("stalled handshake got %q", b)
	}
	rc := upgradeRaw(t, s.addr, "")
	rc.send(frame(0x81, true, []byte("still serving")))
	rc.expect(0x81, "still serving")
}

// TestSlowReader: a client that stops reading while the server sends it
// a lot: the queue stays within MaxQueuedBytes and a message, and the
// policy applies.
func TestSlowReader(t *testing.T) {
	for _, policy := range []evws.QueuePolicy{evws.QueueWait, evws.QueueDrop, evws.QueueClose} {
		var maxQueued, refused int
		var closeErr error
		closed := make(chan struct{})
		s := startServer(t, &evws.Config{MaxQueuedBytes: 1 << 20, QueuePolicy: policy}, evws.Handler{
			OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
				chunk := make([]byte, 64<<10)
				for range 1024 { // 64 MiB offered
					if err := c.WriteMessage(evws.Binary, chunk); err != nil {
						refused++
						if errors.Is(err, evws.ErrClosed) || policy == evws.QueueClose {
							break
						}
					}
					maxQueued = max(maxQueued, c.Buffered())
				}
			},
			OnClose: func(c *evws.Conn, err error) { closeErr = err; close(closed) },
		})
		rc := upgradeRaw(t, s.addr, "")
		rc.send(frame(0x81, true, []byte("flood me")))
		if policy == evws.QueueClose {
			<-closed
		}
		s.rl.Barrier()
		s.rl.Do(func() {
			if maxQueued > 1<<20+64<<10+maxHeader || refused == 0 {
				t.Errorf("policy %d: queue reached %d bytes, %d messages refused", policy, maxQueued, refused)
			}
			if policy == evws.QueueClose && !errors.Is(closeErr, evws.ErrQueueFull) {
				t.Errorf("policy close: closed with %v", closeErr)
			}
		})
		rc.c.Close()
	}
}

// TestDeadPeer: a peer that answers no ping is closed with ErrDeadPeer;
// one that answers stays.
func TestDeadPeer(t *testing.T) {
	errc := make(chan error, 2)
	s := startServer(t, &evws.Config{PingInterval: 100 * time.Millisecond}, evws.Handler{
		OnClose: func(c *evws.Conn, err error) { errc <- err },
	})
	alive := upgradeRaw(t, s.addr, "")
	dead := upgradeRaw(t, s.addr, "")
	go func() { // the live peer answers pings
		for {
			b0, p, err := alive.read()
			if err != nil {
				return
			}
			if b0 == 0x89 {
				alive.c.Write(frame(0x8a, true, p))
			}
		}
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, evws.ErrDeadPeer) {
			t.Fatalf("closed with %v, want ErrDeadPeer", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dead peer not detected")
	}
	if _, err := io.ReadAll(dead.br); err != nil && !strings.Contains(err.Error(), "reset") {
		t.Fatalf("dead peer's connection: %v", err)
	}
	select {
	case err := <-errc:
		t.Fatalf("the live peer was closed too: %v", err)
	case <-time.After(400 * time.Millisecond):
	}
	if st := s.u.Stats(); st.DeadPeers != 1 {
		t.Errorf("stats %+v, want 1 dead peer", st)
	}
}

// TestCloseTimeout: a peer that never answers the server's Close frame
// is cut after CloseTimeout.
func TestCloseTimeout(t *testing.T) {
	errc := make(chan error, 1)
	s := startServer(t, &evws.Config{CloseTimeout: 200 * time.Millisecond}, evws.Handler{
		OnOpen: func(c *evws.Conn) {
			if err := c.Close(evws.CloseAbnormal, ""); !errors.Is(err, evws.ErrCloseCode) {
				t.Errorf("Close(1006): %v, want ErrCloseCode", err)
			}
			c.Close(evws.CloseGoingAway, "bye")
		},
		OnClose: func(c *evws.Conn, err error) { errc <- err },
	})
	rc := upgradeRaw(t, s.addr, "")
	rc.expect(0x88, "\x03\xe9bye")
	select {
	case err := <-errc:
		var ce *evws.CloseError
		if !errors.As(err, &ce) || ce.Code != evws.CloseGoingAway {
			t.Fatalf("closed with %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close handshake never timed out")
	}
}
