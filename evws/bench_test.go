package evws_test

import (
	"encoding/binary"
	"io"
	"strings"
	"testing"

	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evws"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// echoCase is a message echoed in the allocation test and benchmark.
type echoCase struct {
	name  string
	ext   string // the handshake's extension offer
	frame []byte // the frame the client sends
}

func echoCases() []echoCase {
	text := []byte(strings.Repeat("x", 64))
	long := strings.Repeat("a compressible message, ", 40)
	return []echoCase{
		{"text64", "", frame(0x81, true, text)},
		{"binary64", "", frame(0x82, true, text)},
		{"binary16K", "", frame(0x82, true, make([]byte, 16<<10))},
		{"fragmented", "", append(frame(0x01, true, text[:30]), frame(0x80, true, text[30:])...)},
		{"deflate1K", "Sec-WebSocket-Extensions: permessage-deflate\r\n", frame(0xc1, true, deflatedBytes(long))},
	}
}

func deflatedBytes(s string) []byte { return deflateRaw([]byte(s)) }

// readFrameInto reads one frame into buf without allocating and returns
// its payload length.
func readFrameInto(r io.Reader, buf []byte) (int, error) {
	h := buf[:10] // the header is read into buf too: a local array would escape
	if _, err := io.ReadFull(r, h[:2]); err != nil {
		return 0, err
	}
	n := int(h[1] & 0x7f)
	switch n {
	case 126:
		if _, err := io.ReadFull(r, h[2:4]); err != nil {
			return 0, err
		}
		n = int(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		if _, err := io.ReadFull(r, h[2:10]); err != nil {
			return 0, err
		}
		n = int(binary.BigEndian.Uint64(h[2:10]))
	}
	_, err := io.ReadFull(r, buf[:n])
	return n, err
}

// TestAllocs: an echoed message costs the server no allocation once the
// connection is warm, plain, fragmented or compressed.
func TestAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector allocates")
	}
	s := startServer(t, &evws.Config{Deflate: true}, echoHandler)
	buf := make([]byte, 64<<10)
	for _, tc := range echoCases() {
		t.Run(tc.name, func(t *testing.T) {
			rc := upgradeRaw(t, s.addr, tc.ext)
			echo := func() {
				if _, err := rc.c.Write(tc.frame); err != nil {
					t.Fatal(err)
				}
				if _, err := readFrameInto(rc.c, buf); err != nil {
					t.Fatal(err)
				}
			}
			rc.br = nil // read from the socket itself, not through bufio
			for range 20 {
				echo()
			}
			if n := testing.AllocsPerRun(200, echo); n != 0 {
				t.Errorf("%v allocations per echoed message, want 0", n)
			}
		})
	}
}

// BenchmarkEcho: a message sent and its echo read back, one at a time,
// over loopback.
func BenchmarkEcho(b *testing.B) {
	s := startServer(b, &evws.Config{Deflate: true}, echoHandler)
	buf := make([]byte, 64<<10)
	for _, tc := range echoCases() {
		b.Run(tc.name, func(b *testing.B) {
			rc := upgradeRaw(b, s.addr, tc.ext)
			rc.c.SetDeadline(timeZero)
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.frame)))
			for b.Loop() {
				if _, err := rc.c.Write(tc.frame); err != nil {
					b.Fatal(err)
				}
				if _, err := readFrameInto(rc.c, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestClientAllocs: a message sent by eddy's client and its echo received
// cost no allocation once warm (server included).
func TestClientAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector allocates")
	}
	for _, deflate := range []bool{false, true} {
		s := startServer(t, &evws.Config{Deflate: deflate}, echoHandler)
		rl := testloop.Start(t)
		got := make(chan struct{}, 1)
		opened := make(chan *evws.Conn, 1)
		msg := []byte(strings.Repeat("m", 200))
		rl.Do(func() {
			cl := evclient.New(rl.Loop, nil)
			t.Cleanup(func() { rl.Do(func() { cl.Close() }) })
			evws.Dial(cl, "ws://"+s.addr.String()+"/", &evws.Config{Deflate: deflate}, evws.Handler{
				OnOpen:    func(c *evws.Conn) { opened <- c },
				OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) { got <- struct{}{} },
			})
		})
		c := <-opened
		send := func() { c.WriteMessage(evws.Text, msg) }
		echo := func() {
			rl.Post(send)
			<-got
		}
		for range 20 {
			echo()
		}
		if n := testing.AllocsPerRun(200, echo); n != 0 {
			t.Errorf("deflate %v: %v allocations per message and echo through eddy's client, want 0", deflate, n)
		}
	}
}
