package evws_test

import (
	"bytes"
	"compress/flate"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evws"
)

func TestEchoRaw(t *testing.T) {
	s := startServer(t, nil, echoHandler)
	rc := upgradeRaw(t, s.addr, "")
	rc.send(frame(0x81, true, []byte("hello")))
	rc.expect(0x81, "hello")
	rc.send(frame(0x82, true, []byte{0, 1, 2, 255}))
	rc.expect(0x82, "\x00\x01\x02\xff")
	// Fragmented, with a ping between the fragments.
	rc.send(frame(0x01, true, []byte("frag")), frame(0x89, true, []byte("pi")), frame(0x00, true, []byte("men")), frame(0x80, true, []byte("ted")))
	rc.expect(0x8a, "pi")
	rc.expect(0x81, "fragmented")
	// Empty messages, and large ones (16-bit and 64-bit lengths).
	rc.send(frame(0x81, true, nil))
	rc.expect(0x81, "")
	big := bytes.Repeat([]byte("0123456789"), 100_000)
	rc.send(frame(0x82, true, big[:1000]))
	rc.expect(0x82, string(big[:1000]))
	rc.send(frame(0x82, true, big))
	rc.expect(0x82, string(big))
	// A message split byte by byte.
	f := frame(0x81, true, []byte("héllo wörld"))
	for i := range f {
		rc.send(f[i : i+1])
	}
	rc.expect(0x81, "héllo wörld")
	rc.send(frame(0x88, true, []byte{0x03, 0xe8, 'b', 'y', 'e'}))
	rc.expect(0x88, "\x03\xe8")
}

func TestBadInput(t *testing.T) {
	s := startServer(t, &evws.Config{MaxMessageBytes: 1 << 20, Deflate: true}, echoHandler)
	for _, tc := range []struct {
		name   string
		ext    string
		frames [][]byte
		code   int
	}{
		{"unmasked", "", [][]byte{frame(0x81, false, []byte("x"))}, 1002},
		{"rsv1 without extension", "", [][]byte{frame(0xc1, true, []byte("x"))}, 1002},
		{"rsv2", "", [][]byte{frame(0xa1, true, []byte("x"))}, 1002},
		{"opcode 3", "", [][]byte{frame(0x83, true, nil)}, 1002},
		{"opcode 11", "", [][]byte{frame(0x8b, true, nil)}, 1002},
		{"control too long", "", [][]byte{frame(0x89, true, make([]byte, 126))}, 1002},
		{"fragmented ping", "", [][]byte{frame(0x09, true, nil)}, 1002},
		{"continuation first", "", [][]byte{frame(0x80, true, []byte("x"))}, 1002},
		{"text inside text", "", [][]byte{frame(0x01, true, []byte("x")), frame(0x81, true, []byte("y"))}, 1002},
		{"invalid utf-8", "", [][]byte{frame(0x81, true, []byte("a\xffb"))}, 1007},
		// Fails at once, though the message's end never comes.
		{"invalid utf-8 first fragment", "", [][]byte{frame(0x01, true, []byte("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))}, 1007},
		{"truncated utf-8", "", [][]byte{frame(0x81, true, []byte("a\xce"))}, 1007},
		{"close code 1005", "", [][]byte{frame(0x88, true, []byte{0x03, 0xed})}, 1002},
		{"close code 999", "", [][]byte{frame(0x88, true, []byte{0x03, 0xe7})}, 1002},
		{"close of one byte", "", [][]byte{frame(0x88, true, []byte{0x03})}, 1002},
		{"close reason not utf-8", "", [][]byte{frame(0x88, true, []byte{0x03, 0xe8, 0xff})}, 1007},
		{"too big", "", [][]byte{frame(0x82, true, make([]byte, 1<<20+1))}, 1009},
		{"too big fragmented", "", [][]byte{frame(0x02, true, make([]byte, 1<<19)), frame(0x80, true, make([]byte, 1<<19+1))}, 1009},
		{"bomb", "Sec-WebSocket-Extensions: permessage-deflate\r\n", [][]byte{frame(0xc2, true, bomb(64<<20))}, 1009},
		{"bad deflate", "Sec-WebSocket-Extensions: permessage-deflate\r\n", [][]byte{frame(0xc2, true, []byte{0xff, 0xff, 0xff})}, 1007},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := upgradeRaw(t, s.addr, tc.ext)
			rc.send(tc.frames...)
			rc.expectClose(tc.code)
		})
	}
	// Counted: 12 cases with 1002, 5 with 1007, 3 with 1009, all closed.
	s.rl.Barrier()
	if st := s.u.Stats(); st.ProtocolErrors != 12 || st.InvalidData != 5 || st.TooBig != 3 || st.Upgraded != 20 || st.Closed != 20 {
		t.Errorf("stats %+v", st)
	}
}

// bomb returns n zero bytes deflated (about n/1000 bytes), without the
// final block, as permessage-deflate sends them.
func bomb(n int) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	w.Write(make([]byte, n))
	w.Flush()
	return b.Bytes()[:b.Len()-4]
}

func TestDeflateRaw(t *testing.T) {
	s := startServer(t, &evws.Config{Deflate: true}, echoHandler)
	rc, head := dialRaw(t, s.addr, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
	if !strings.Contains(head, "Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover\r\n") {
		t.Fatalf("head:\n%s", head)
	}
	msg := strings.Repeat("compress me ", 100)
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, 5)
	w.Write([]byte(msg))
	w.Flush()
	rc.send(frame(0xc1, true, b.Bytes()[:b.Len()-4]))
	b0, p, err := rc.read()
	if err != nil || b0 != 0xc1 {
		t.Fatalf("frame %#x %v", b0, err)
	}
	out, _ := inflate(p)
	if out != msg {
		t.Fatalf("echo inflated to %q", trunc([]byte(out)))
	}
	// A short message goes back uncompressed.
	rc.send(frame(0x81, true, []byte("hi")))
	rc.expect(0x81, "hi")
}

func inflate(p []byte) (string, error) {
	r := flate.NewReader(bytes.NewReader(append(p, 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff)))
	var b bytes.Buffer
	_, err := b.ReadFrom(r)
	return b.String(), err
}

func TestHandshakeRefused(t *testing.T) {
	s := startServer(t, &evws.Config{CheckOrigin: func(origin, host string) bool { return origin != "http://evil" }}, echoHandler)
	for _, tc := range []struct {
		name, req, want string
	}{
		{"plain GET", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 426 "},
		{"version 8", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: " + testKey + "\r\n\r\n", "Sec-WebSocket-Version: 13"},
		{"bad key", "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: abc\r\n\r\n", "HTTP/1.1 400 "},
		{"origin", "GET / HTTP/1.1\r\nHost: x\r\nOrigin: http://evil\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + testKey + "\r\n\r\n", "HTTP/1.1 403 "},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + testKey + "\r\n\r\n", "HTTP/1.0 426 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := roundTrip(t, s, tc.req)
			if !strings.Contains(got, tc.want) {
				t.Fatalf("response:\n%s\nwant %q in it", got, tc.want)
			}
		})
	}
	if st := s.u.Stats(); st.Refused != 5 || st.Upgraded != 0 {
		t.Errorf("stats %+v, want 5 refused", st)
	}
}

// TestCloseCodes: a valid close code is echoed, an invalid one fails the
// connection with 1002.
func TestCloseCodes(t *testing.T) {
	s := startServer(t, nil, echoHandler)
	for _, code := range []int{1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999} {
		rc := upgradeRaw(t, s.addr, "")
		rc.send(frame(0x88, true, []byte{byte(code >> 8), byte(code), 'o', 'k'}))
		rc.expect(0x88, string([]byte{byte(code >> 8), byte(code)}))
	}
	for _, code := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535} {
		rc := upgradeRaw(t, s.addr, "")
		rc.send(frame(0x88, true, []byte{byte(code >> 8), byte(code)}))
		rc.expectClose(1002)
	}
	// A Close frame without a code is answered with none.
	rc := upgradeRaw(t, s.addr, "")
	rc.send(frame(0x88, true, nil))
	rc.expect(0x88, "")
}

// TestHandshakeWithBody: a handshake that carries a body is refused with
// 400 (the switch would come before the body is read).
func TestHandshakeWithBody(t *testing.T) {
	s := startServer(t, nil, echoHandler)
	got := roundTrip(t, s, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: "+testKey+"\r\nContent-Length: 3\r\n\r\nabc")
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") || strings.Contains(got, "Sec-WebSocket-Accept") {
		t.Fatalf("response:\n%s", got)
	}
}

// TestEchoHuge: 16 MiB messages (the default limit) echoed by a server
// whose evnet queue is left at its 8 MiB cap: the echo is paced in
// fragments, a Pong goes between them, the message after it waits.
func TestEchoHuge(t *testing.T) {
	s := startServer(t, &evws.Config{Deflate: true}, echoHandler)
	huge := bytes.Repeat([]byte("0123456789abcdef"), 1<<20)
	for _, ext := range []string{"", "Sec-WebSocket-Extensions: permessage-deflate\r\n"} {
		rc := upgradeRaw(t, s.addr, ext)
		rc.c.SetDeadline(time.Now().Add(30 * time.Second))
		go func() {
			rc.c.Write(frame(0x82, true, huge))
			rc.c.Write(frame(0x89, true, []byte("ping")))
			rc.c.Write(frame(0x81, true, []byte("after")))
		}()
		op, msg, controls := rc.readMessage()
		if op != 2 || !bytes.Equal(msg, huge) {
			t.Fatalf("%q: echo op %d, %d bytes", ext, op, len(msg))
		}
		if op, msg, c2 := rc.readMessage(); op != 1 || string(msg) != "after" {
			t.Fatalf("%q: then %d %q", ext, op, trunc(msg))
		} else {
			controls = append(controls, c2...)
		}
		if len(controls) != 1 || controls[0] != "a:ping" {
			t.Fatalf("%q: control frames %q, want the pong", ext, controls)
		}
		// Incompressible: compressed, still over 1 MiB, paced in
		// fragments with RSV1 on the first only.
		noise := make([]byte, 3<<20)
		rand.NewChaCha8([32]byte{1}).Read(noise)
		go rc.c.Write(frame(0x82, true, noise))
		if op, msg, _ := rc.readMessage(); op != 2 || !bytes.Equal(msg, noise) {
			t.Fatalf("%q: noise echoed as op %d, %d bytes", ext, op, len(msg))
		}
	}
}
