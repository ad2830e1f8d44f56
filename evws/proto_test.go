package evws_test

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evws"
)

// TestContextTakeover: a client that keeps its compression context is
// accepted with a budget, its messages inflated against the ones before;
// without a budget it is told client_no_context_takeover.
func TestContextTakeover(t *testing.T) {
	s := startServer(t, &evws.Config{Deflate: true, ContextTakeoverBudget: 1 << 20, ContextWindowBits: 12}, echoHandler)
	rc, head := dialRaw(t, s.addr, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
	if !strings.Contains(head, "permessage-deflate; server_no_context_takeover; client_max_window_bits=12\r\n") {
		t.Fatalf("head:\n%s", head)
	}
	// One compressor for every message, never reset: the second message
	// refers to the first.
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, 9)
	msg := strings.Repeat("the same words again and again ", 10)
	for i := range 3 {
		b.Reset()
		fw.Write([]byte(msg))
		fw.Flush()
		z := b.Bytes()[:b.Len()-4]
		if i > 0 && len(z) > 20 {
			t.Fatalf("message %d compressed to %d bytes: no back reference", i, len(z))
		}
		rc.send(frame(0xc1, true, z))
		b0, p, err := rc.read()
		if err != nil {
			t.Fatal(err)
		}
		if b0&0x40 != 0 {
			out, _ := inflate(p)
			p = []byte(out)
		}
		if string(p) != msg {
			t.Fatalf("message %d echoed as %q", i, trunc(p))
		}
	}

	// No budget left: 1 MiB is 256 windows of 4 KiB... make one with none.
	s2 := startServer(t, &evws.Config{Deflate: true}, echoHandler)
	_, head = dialRaw(t, s2.addr, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
	if !strings.Contains(head, "client_no_context_takeover") {
		t.Fatalf("without a budget:\n%s", head)
	}
}

// TestSmallWindow: a client that asks server_max_window_bits=9 gets
// compressed only the messages no longer than 512 bytes.
func TestSmallWindow(t *testing.T) {
	s := startServer(t, &evws.Config{Deflate: true}, echoHandler)
	rc, head := dialRaw(t, s.addr, "Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=9\r\n")
	if !strings.Contains(head, "server_max_window_bits=9") {
		t.Fatalf("head:\n%s", head)
	}
	for _, n := range []int{500, 5000} {
		msg := strings.Repeat("z", n)
		rc.send(frame(0x81, true, []byte(msg)))
		b0, p, _ := rc.read()
		compressed := b0&0x40 != 0
		if compressed != (n <= 512) {
			t.Fatalf("%d bytes: compressed %v", n, compressed)
		}
		if compressed {
			out, _ := inflate(p)
			p = []byte(out)
		}
		if string(p) != msg {
			t.Fatalf("%d bytes: echo %q", n, trunc(p))
		}
	}
}

// TestBadExtensionOffers: malformed or unknown offers are declined, not
// failed.
func TestBadExtensionOffers(t *testing.T) {
	s := startServer(t, &evws.Config{Deflate: true}, echoHandler)
	for _, offer := range []string{
		"permessage-deflate; server_max_window_bits=16",
		"permessage-deflate; server_max_window_bits",
		"permessage-deflate; client_no_context_takeover=1",
		"permessage-deflate; foo",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"x-unknown",
		"permessage-deflate;;",
	} {
		rc, head := dialRaw(t, s.addr, "Sec-WebSocket-Extensions: "+offer+"\r\n")
		if !strings.HasPrefix(head, "HTTP/1.1 101") || strings.Contains(head, "Sec-WebSocket-Extensions") {
			t.Fatalf("offer %q:\n%s", offer, head)
		}
		rc.send(frame(0x81, true, []byte("ok")))
		rc.expect(0x81, "ok")
	}
}

// TestPingPong: pings are answered, pongs reported, control frames sent.
func TestPingPong(t *testing.T) {
	pongs := make(chan string, 1)
	s := startServer(t, nil, evws.Handler{
		OnOpen: func(c *evws.Conn) {
			c.WriteControl(evws.Ping, []byte("are you there"))
			if err := c.WriteControl(evws.Ping, make([]byte, 126)); !errors.Is(err, evws.ErrControlTooLong) {
				t.Errorf("long ping: %v", err)
			}
		},
		OnPong: func(c *evws.Conn, p []byte) { pongs <- string(p) },
	})
	rc := upgradeRaw(t, s.addr, "")
	rc.expect(0x89, "are you there")
	rc.send(frame(0x8a, true, []byte("yes")))
	if got := <-pongs; got != "yes" {
		t.Fatalf("pong %q", got)
	}
	rc.send(frame(0x89, true, []byte("and you?")))
	rc.expect(0x8a, "and you?")
}

// TestWriteFragment: a message sent in pieces, with a ping between them.
func TestWriteFragment(t *testing.T) {
	s := startServer(t, nil, evws.Handler{
		OnOpen: func(c *evws.Conn) {
			c.WriteFragment(evws.Text, []byte("one "), false)
			if err := c.WriteMessage(evws.Binary, []byte("x")); !errors.Is(err, evws.ErrOpcode) {
				t.Errorf("a message inside a fragmented one: %v", err)
			}
			c.WriteControl(evws.Ping, nil)
			c.WriteFragment(evws.Text, []byte("two"), true)
			c.WriteMessage(evws.Binary, []byte("after"))
		},
	})
	rc := upgradeRaw(t, s.addr, "")
	rc.expect(0x01, "one ")
	rc.expect(0x89, "")
	rc.expect(0x80, "two")
	rc.expect(0x82, "after")
}

// TestPauseRead: a handler that pauses gets nothing until it resumes, and
// the frames wait in the kernel and evnet meanwhile.
func TestPauseRead(t *testing.T) {
	var got []string
	var conn *evws.Conn
	s := startServer(t, nil, evws.Handler{
		OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
			got = append(got, string(p))
			conn = c
			c.PauseRead()
		},
	})
	rc := upgradeRaw(t, s.addr, "")
	rc.send(frame(0x81, true, []byte("a")), frame(0x81, true, []byte("b")), frame(0x81, true, []byte("c")))
	s.rl.Barrier() // the frames are in: only the first may be delivered
	for _, want := range []string{"a", "ab", "abc"} {
		s.rl.Do(func() {
			if strings.Join(got, "") != want {
				t.Fatalf("delivered %q, want %q", got, want)
			}
			conn.ResumeRead()
		})
		s.rl.Barrier()
	}
}

// TestClientChecksServer: eddy's client fails a server that masks its
// frames (1002), and refuses a 101 with a bad accept value.
func TestClientChecksServer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		accept func(key string) string
		frame  []byte
		want   string
	}{
		{"masked frame", acceptFor, frame(0x81, true, []byte("masked")), "1002"},
		{"bad accept", func(string) string { return "AAAA" }, nil, "Sec-WebSocket-Accept"},
		{"invalid utf-8", acceptFor, frame(0x81, false, []byte{0xc0, 0x80}), "1007"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			closeCode := make(chan []byte, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				br := bufio.NewReader(c)
				req, err := http.ReadRequest(br)
				if err != nil {
					return
				}
				c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + tc.accept(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"))
				c.Write(tc.frame)
				for { // up to the client's Close frame
					b0, p, err := readMasked(br)
					if err != nil || b0&0x0f == 8 {
						closeCode <- p
						return
					}
				}
			}()
			r := talk(t, "ws://"+ln.Addr().String()+"/", nil, nil, "hi")
			if r.err == nil || !strings.Contains(r.err.Error(), tc.want) {
				t.Fatalf("closed with %v, want %q in it", r.err, tc.want)
			}
			if tc.frame != nil {
				if p := <-closeCode; len(p) < 2 || itoa(int(p[0])<<8|int(p[1])) != tc.want {
					t.Fatalf("the client's Close frame: %q, want code %s", p, tc.want)
				}
			}
		})
	}
}

func acceptFor(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// readMasked reads one masked frame (from a client) and unmasks it.
func readMasked(br *bufio.Reader) (byte, []byte, error) {
	var h [2]byte
	if _, err := br.Read(h[:1]); err != nil {
		return 0, nil, err
	}
	if _, err := br.Read(h[1:]); err != nil {
		return 0, nil, err
	}
	n := int(h[1] & 0x7f)
	var key [4]byte
	for i := range key {
		key[i], _ = br.ReadByte()
	}
	p := make([]byte, n)
	for i := range p {
		c, _ := br.ReadByte()
		p[i] = c ^ key[i&3]
	}
	return h[0], p, nil
}

// TestStreamCompressed: with OnFragment, a compressed message is inflated
// whole, then delivered in one piece; an uncompressed one in pieces.
func TestStreamCompressed(t *testing.T) {
	type piece struct {
		op   evws.Opcode
		n    int
		last bool
	}
	got := make(chan piece, 100)
	s := startServer(t, &evws.Config{Deflate: true}, evws.Handler{
		OnFragment: func(c *evws.Conn, op evws.Opcode, p []byte, last bool) { got <- piece{op, len(p), last} },
	})
	rc := upgradeRaw(t, s.addr, "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	msg := strings.Repeat("stream me ", 1000)
	rc.send(frame(0x41, true, deflateRaw([]byte(msg[:5000]))), frame(0x80, true, nil))
	if p := <-got; p != (piece{evws.Text, len(msg) / 2, true}) {
		t.Fatalf("compressed: %+v", p)
	}
	rc.send(frame(0x02, true, []byte("ab")), frame(0x80, true, []byte("cd")))
	if p1, p2 := <-got, <-got; p1 != (piece{evws.Binary, 2, false}) || p2 != (piece{evws.Binary, 2, true}) {
		t.Fatalf("uncompressed: %+v %+v", p1, p2)
	}
}

// TestSubprotocols: the server's first choice that the client offers, or
// none.
func TestSubprotocols(t *testing.T) {
	s := startServer(t, &evws.Config{Subprotocols: []string{"v2.chat", "v1.chat"}}, echoHandler)
	for _, tc := range []struct{ offer, want string }{
		{"v1.chat, v2.chat", "Sec-WebSocket-Protocol: v2.chat\r\n"},
		{"v1.chat", "Sec-WebSocket-Protocol: v1.chat\r\n"},
		{"mqtt", ""},
	} {
		_, head := dialRaw(t, s.addr, "Sec-WebSocket-Protocol: "+tc.offer+"\r\n")
		if tc.want != "" && !strings.Contains(head, tc.want) || tc.want == "" && strings.Contains(head, "Sec-WebSocket-Protocol") {
			t.Fatalf("offer %q:\n%s", tc.offer, head)
		}
	}
}

// TestClientKeepAlive: eddy's client pings a silent server and closes
// the connection when no answer comes (ErrDeadPeer).
func TestClientKeepAlive(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	pinged := make(chan bool, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptFor(req.Header.Get("Sec-WebSocket-Key")) + "\r\n\r\n"))
		sawPing := false
		for { // read everything, answer nothing
			b0, _, err := readMasked(br)
			if err != nil {
				break
			}
			sawPing = sawPing || b0 == 0x89
		}
		pinged <- sawPing
	}()
	r := talk(t, "ws://"+ln.Addr().String()+"/", &evws.Config{PingInterval: 100 * time.Millisecond}, nil, "x")
	if !errors.Is(r.err, evws.ErrDeadPeer) {
		t.Fatalf("closed with %v, want ErrDeadPeer", r.err)
	}
	if !<-pinged {
		t.Fatal("the client sent no ping")
	}
}
