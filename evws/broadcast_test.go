package evws_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evws"
)

// TestBroadcast: a Prepared message reaches every subscriber, compressed
// for those that negotiated permessage-deflate, and sending it costs no
// allocation per connection.
func TestBroadcast(t *testing.T) {
	const n = 20
	s, subs, clients := subscribers(t, &evws.Config{Deflate: true}, n)
	msg := strings.Repeat("breaking news ", 20)
	m, err := evws.NewPrepared(evws.Text, []byte(msg), true)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 50
	s.rl.Do(func() {
		if len(subs) != n {
			t.Fatalf("%d subscribers, want %d", len(subs), n)
		}
		send := func() {
			for _, c := range subs {
				if err := c.WritePrepared(m); err != nil {
					t.Errorf("WritePrepared: %v", err)
				}
			}
		}
		send()
		if a := testing.AllocsPerRun(runs-2, send); a != 0 && !raceOn {
			t.Errorf("%v allocations to send to %d connections, want 0", a, n)
		}
	})
	for i, rc := range clients {
		for j := range runs {
			b0, p, err := rc.read()
			if err != nil {
				t.Fatalf("client %d, message %d: %v", i, j, err)
			}
			if compressed := b0&0x40 != 0; compressed != (i%2 == 0) {
				t.Fatalf("client %d: compressed %v", i, compressed)
			}
			if b0&0x40 != 0 {
				out, _ := inflate(p)
				p = []byte(out)
			}
			if b0&0x0f != 1 || string(p) != msg {
				t.Fatalf("client %d, message %d: %#x %q", i, j, b0, trunc(p))
			}
		}
	}
}

// TestBroadcastHuge: a 16 MiB Prepared message, fragmented once, goes to
// every subscriber paced by reference (past evnet's 8 MiB cap).
func TestBroadcastHuge(t *testing.T) {
	var subs []*evws.Conn
	s := startServer(t, &evws.Config{Deflate: true}, evws.Handler{
		OnOpen: func(c *evws.Conn) { subs = append(subs, c) },
	})
	var clients []*rawClient
	for i := range 3 {
		ext := ""
		if i == 0 {
			ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		}
		rc := upgradeRaw(t, s.addr, ext)
		rc.c.SetDeadline(time.Now().Add(30 * time.Second))
		clients = append(clients, rc)
	}
	s.rl.Barrier()
	huge := bytes.Repeat([]byte("all of it "), 1677722)[:16<<20]
	m, err := evws.NewPrepared(evws.Binary, huge, true)
	if err != nil {
		t.Fatal(err)
	}
	s.rl.Do(func() {
		for _, c := range subs {
			if err := c.WritePrepared(m); err != nil {
				t.Errorf("WritePrepared: %v", err)
			}
			if c.Compressed() {
				continue // compressed, it is small: one frame, not paced
			}
			if err := c.WritePrepared(m); !errors.Is(err, evws.ErrQueueFull) {
				t.Errorf("a second message behind a paced one: %v, want ErrQueueFull", err)
			}
		}
	})
	for i, rc := range clients {
		if op, msg, _ := rc.readMessage(); op != 2 || !bytes.Equal(msg, huge) {
			t.Fatalf("client %d: op %d, %d bytes", i, op, len(msg))
		}
	}
}

// subscribers starts a server with cfg and n raw clients upgraded to it
// (those of even index offering permessage-deflate when cfg.Deflate),
// and returns the server connections in the clients' order.
func subscribers(tb testing.TB, cfg *evws.Config, n int) (*server, []*evws.Conn, []*rawClient) {
	var subs []*evws.Conn
	s := startServer(tb, cfg, evws.Handler{
		OnOpen: func(c *evws.Conn) { subs = append(subs, c) },
	})
	var clients []*rawClient
	for i := range n {
		ext := ""
		if i%2 == 0 && cfg != nil && cfg.Deflate {
			ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		}
		clients = append(clients, upgradeRaw(tb, s.addr, ext))
		s.rl.Barrier() // the server's connections in the clients' order
	}
	var out []*evws.Conn
	s.rl.Do(func() { out = append(out, subs...) })
	return s, out, clients
}
