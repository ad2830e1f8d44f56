package interop

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// A tap relays TCP connections to a WebSocket server and reads the frames
// that cross each way, so that a test sees what went over the wire and not
// only what each side says: that fragments were sent as fragments, that
// messages were compressed, which close codes were sent.
type tap struct {
	addr   string // where it listens, on loopback
	target string
	done   chan *wire // each connection once both ways have ended

	mu    sync.Mutex
	conns []net.Conn // closed when the test ends
}

// wire is what a tap saw of one connection.
type wire struct {
	path       string // of the request
	extensions string // Sec-WebSocket-Extensions of the response
	// frames[toServerSide] and frames[toClientSide] hold the features of
	// the frames each way: "text", "binary", "fragmented" (a data frame
	// without FIN), "deflate" (a data frame with RSV1), "ping", "pong",
	// "close CODE" and "close CODE REASON".
	frames [2]map[string]bool
}

const (
	toServerSide = 0
	toClientSide = 1
)

// startTap relays connections on a new loopback port to target until the
// test ends.
func startTap(t *testing.T, target string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{addr: ln.Addr().String(), target: target, done: make(chan *wire, 16)}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { tp.relay(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		tp.mu.Lock()
		for _, c := range tp.conns {
			c.Close()
		}
		tp.mu.Unlock()
		wg.Wait()
	})
	return tp
}

// relay copies c to a new connection to the target and back, reading the
// frames each way, until both ways have ended.
func (tp *tap) relay(c net.Conn) {
	s, err := net.Dial("tcp", tp.target)
	if err != nil {
		c.Close()
		return
	}
	tp.mu.Lock()
	tp.conns = append(tp.conns, c, s)
	tp.mu.Unlock()
	w := &wire{}
	var wg sync.WaitGroup
	wg.Go(func() { w.read(toServerSide, c, s) })
	wg.Go(func() { w.read(toClientSide, s, c) })
	wg.Wait()
	c.Close()
	s.Close()
	tp.done <- w
}

// read copies src to dst as it arrives, reading the HTTP head and then the
// frames from what it copied; src's end is passed on as a half-close.
func (w *wire) read(dir int, src, dst net.Conn) {
	r := bufio.NewReader(io.TeeReader(src, dst))
	w.frames[dir] = map[string]bool{}
	w.parse(dir, r)
	io.Copy(io.Discard, r) // the rest, if the frames stopped making sense
	dst.(*net.TCPConn).CloseWrite()
}

// parse reads the head and then the frames from r until an error.
func (w *wire) parse(dir int, r *bufio.Reader) error {
	for first := true; ; first = false {
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if f := strings.Fields(line); first && dir == toServerSide && len(f) > 1 {
			w.path = f[1]
		}
		if name, value, ok := strings.Cut(line, ":"); ok && dir == toClientSide && strings.EqualFold(name, "Sec-WebSocket-Extensions") {
			w.extensions = strings.TrimSpace(value)
		}
		if line == "\r\n" {
			break
		}
	}
	seen := w.frames[dir]
	var h [8]byte
	for {
		if _, err := io.ReadFull(r, h[:2]); err != nil {
			return err
		}
		fin, rsv1, op, masked := h[0]&0x80 != 0, h[0]&0x40 != 0, h[0]&0x0f, h[1]&0x80 != 0
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			if _, err := io.ReadFull(r, h[:2]); err != nil {
				return err
			}
			n = uint64(binary.BigEndian.Uint16(h[:2]))
		case 127:
			if _, err := io.ReadFull(r, h[:8]); err != nil {
				return err
			}
			n = binary.BigEndian.Uint64(h[:8])
		}
		var key [4]byte
		if masked {
			if _, err := io.ReadFull(r, key[:]); err != nil {
				return err
			}
		}
		if op < 8 { // data: only its header matters
			if _, err := r.Discard(int(n)); err != nil {
				return err
			}
			seen[map[byte]string{0: "continuation", 1: "text", 2: "binary"}[op]] = true
			if !fin && op != 0 {
				seen["fragmented"] = true
			}
			if rsv1 {
				seen["deflate"] = true
			}
			continue
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(r, p); err != nil {
			return err
		}
		for i := range p {
			if masked {
				p[i] ^= key[i%4]
			}
		}
		switch op {
		case 8:
			if len(p) >= 2 {
				code := binary.BigEndian.Uint16(p)
				seen[fmt.Sprintf("close %d", code)] = true
				if len(p) > 2 {
					seen[fmt.Sprintf("close %d %s", code, p[2:])] = true
				}
			}
		case 9:
			seen["ping"] = true
		case 10:
			seen["pong"] = true
		}
	}
}

// wait returns the first n connections relayed, by path, once both ways of
// each have ended.
func (tp *tap) wait(t *testing.T, n int) map[string]*wire {
	t.Helper()
	wires := map[string]*wire{}
	for range n {
		select {
		case w := <-tp.done:
			wires[w.path] = w
			t.Logf("tap, %s: to the server %v; to the client %v", w.path, keys(w.frames[toServerSide]), keys(w.frames[toClientSide]))
		case <-time.After(peerTimeout):
			t.Fatalf("tap: %d connections ended of %d", len(wires), n)
		}
	}
	return wires
}

// keys returns the features of a way, sorted.
func keys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}

// expect checks that the frames each way had the features listed.
func (w *wire) expect(t *testing.T, toServer, toClient []string) {
	t.Helper()
	if w == nil {
		t.Errorf("tap: a connection is missing")
		return
	}
	for dir, want := range [2][]string{toServer, toClient} {
		for _, f := range want {
			if !w.frames[dir][f] {
				t.Errorf("tap, %s %s: no %q frame; saw %v", w.path, [2]string{"to the server", "to the client"}[dir], f, w.frames[dir])
			}
		}
	}
}

// expectNone checks that no frame either way had the feature f.
func (w *wire) expectNone(t *testing.T, f string) {
	t.Helper()
	if w != nil && (w.frames[toServerSide][f] || w.frames[toClientSide][f]) {
		t.Errorf("tap, %s: %q frames", w.path, f)
	}
}
