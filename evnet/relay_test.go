package evnet_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"golang.org/x/sys/unix"
)

// relayResult is what a relay's done reported.
type relayResult struct {
	stats evnet.RelayStats
	err   error
}

// startRelayProxy listens on a loop and relays every connection to
// upstream with DialRelay; the results come on the returned channel.
func startRelayProxy(t *testing.T, upstream string, cfg *evnet.RelayConfig, conn evnet.ConnConfig) (string, chan relayResult) {
	t.Helper()
	rl := startLoop(t)
	results := make(chan relayResult, 4)
	var addr string
	rl.Do(func() {
		ln, err := evnet.ListenConfig{Conn: conn}.Listen(rl.Loop, "tcp", "127.0.0.1:0", evnet.Handler{
			OnOpen: func(c *evnet.Conn) {
				evnet.DialRelay(c, evnet.Dialer{Conn: conn}, "tcp", upstream, cfg, func(s evnet.RelayStats, err error) {
					results <- relayResult{s, err}
				})
			},
			OnData: func(*evnet.Conn, []byte) int { return 0 },
		})
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		t.Cleanup(func() { rl.Do(func() { ln.Close() }) })
	})
	return addr, results
}

// upstreamListener accepts connections on a goroutine and serves each with
// serve.
func upstreamListener(t *testing.T, serve func(c *net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c.(*net.TCPConn))
			}()
		}
	}()
	return ln.Addr().String()
}

func waitRelay(t *testing.T, results chan relayResult) relayResult {
	t.Helper()
	select {
	case r := <-results:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("the relay did not end")
		return relayResult{}
	}
}

// TestRelayBothWays sends 8 MiB each way at once through a relay whose
// connections may buffer at most 1 MiB: the hashes match on both ends,
// nothing overflows, and the counts are exact.
func TestRelayBothWays(t *testing.T) {
	const size = 8 << 20
	up, down := randomBytes(t, size), randomBytes(t, size)
	gotUp := make(chan [32]byte, 1)
	upstream := upstreamListener(t, func(c *net.TCPConn) {
		wrote := make(chan struct{})
		go func() { c.Write(down); c.CloseWrite(); close(wrote) }()
		h := sha256.New()
		io.Copy(h, c)
		<-wrote // the connection closes when serve returns: not before all of down is sent
		gotUp <- [32]byte(h.Sum(nil))
	})
	addr, results := startRelayProxy(t, upstream, nil, evnet.ConnConfig{MaxBuffered: 1 << 20})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() { c.Write(up); c.(*net.TCPConn).CloseWrite() }()
	h := sha256.New()
	if _, err := io.Copy(h, c); err != nil {
		t.Fatal(err)
	}
	if [32]byte(h.Sum(nil)) != sha256.Sum256(down) {
		t.Error("the bytes from the upstream differ")
	}
	if <-gotUp != sha256.Sum256(up) {
		t.Error("the bytes to the upstream differ")
	}
	r := waitRelay(t, results)
	if r.err != nil || r.stats.AToB != size || r.stats.BToA != size {
		t.Errorf("done(%+v, %v), want {%d %d} and nil", r.stats, r.err, size, size)
	}
}

// TestRelayHalfClose shuts the client's side down first: the upstream sees
// the EOF and still answers, and the client reads the answer, then the EOF.
func TestRelayHalfClose(t *testing.T) {
	upstream := upstreamListener(t, func(c *net.TCPConn) {
		req, _ := io.ReadAll(c) // until the client's half-close arrives
		c.Write(append([]byte("after EOF: "), req...))
		c.CloseWrite()
	})
	addr, results := startRelayProxy(t, upstream, nil, evnet.ConnConfig{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("question"))
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "after EOF: question" {
		t.Fatalf("read %q, %v", got, err)
	}
	if r := waitRelay(t, results); r.err != nil || r.stats.AToB != 8 || r.stats.BToA != 19 {
		t.Errorf("done(%+v, %v)", r.stats, r.err)
	}
}

// TestRelayRefused dials an upstream that refuses: the client's connection
// is closed and done has the reason.
func TestRelayRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upstream := ln.Addr().String()
	ln.Close()
	addr, results := startRelayProxy(t, upstream, &evnet.RelayConfig{ConnectTimeout: time.Second}, evnet.ConnConfig{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("the client read %d bytes, %v: want the connection closed", n, err)
	}
	if r := waitRelay(t, results); !errors.Is(r.err, unix.ECONNREFUSED) {
		t.Errorf("done(%+v, %v), want ECONNREFUSED", r.stats, r.err)
	}
}

// TestRelaySlowReader has the upstream send 16 MiB to a client that reads
// nothing for a while, through connections that may buffer 256 KiB: the
// relay pauses instead of overflowing, and every byte arrives.
func TestRelaySlowReader(t *testing.T) {
	const size = 16 << 20
	down := randomBytes(t, size)
	upstream := upstreamListener(t, func(c *net.TCPConn) {
		c.Write(down)
		c.CloseWrite()
		io.Copy(io.Discard, c)
	})
	addr, results := startRelayProxy(t, upstream, nil, evnet.ConnConfig{MaxBuffered: 256 << 10})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(300 * time.Millisecond) // the client is slow: nothing read yet
	c.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(c)
	if err != nil || !bytes.Equal(got, down) {
		t.Fatalf("read %d bytes (%v), want the %d sent", len(got), err, size)
	}
	if r := waitRelay(t, results); r.err != nil || r.stats.BToA != size {
		t.Errorf("done(%+v, %v)", r.stats, r.err)
	}
}

// TestRelayIdleTimeout resets both sides of a relay that carries nothing
// for its IdleTimeout.
func TestRelayIdleTimeout(t *testing.T) {
	upstream := upstreamListener(t, func(c *net.TCPConn) { io.Copy(io.Discard, c) })
	addr, results := startRelayProxy(t, upstream, &evnet.RelayConfig{IdleTimeout: 200 * time.Millisecond}, evnet.ConnConfig{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the client read a byte")
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
	if r := waitRelay(t, results); !errors.Is(r.err, evnet.ErrTimeout) {
		t.Errorf("done(%+v, %v), want ErrTimeout", r.stats, r.err)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	p := make([]byte, n)
	rand.Read(p)
	return p
}
