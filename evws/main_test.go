package evws_test

import (
	"bufio"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evws"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// TestMain fails the run when a test leaves descriptors open or goroutines
// running.
func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// echoHandler echoes every message, with backpressure: reading pauses
// while the output queue is full.
var echoHandler = evws.Handler{
	OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
		c.WriteMessage(op, p)
		if c.Full() {
			c.PauseRead()
		}
	},
	OnDrain: func(c *evws.Conn) { c.ResumeRead() },
}

// server is an evhttp server with an Upgrader on a loop of its own.
type server struct {
	u    *evws.Upgrader
	rl   *testloop.Loop
	addr netip.AddrPort
	srv  *evhttp.Server
}

func startServer(t testing.TB, cfg *evws.Config, h evws.Handler) *server {
	t.Helper()
	rl := testloop.Start(t)
	u := evws.NewUpgrader(cfg, h)
	srv := &evhttp.Server{Handler: u, HeaderTimeout: time.Second}
	s := &server{u: u, rl: rl, srv: srv}
	var err error
	rl.Do(func() {
		ln, lerr := srv.Serve(rl.Loop, "tcp", "127.0.0.1:0")
		err = lerr
		if ln != nil {
			s.addr = ln.Addr()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return s
}

const testKey = "dGhlIHNhbXBsZSBub25jZQ=="

// rawClient is a WebSocket client written on net.Conn for the tests, which
// sends whatever it is told.
type rawClient struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr netip.AddrPort, extra string) (*rawClient, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n%s\r\n", testKey, extra)
	rc := &rawClient{t: t, c: c, br: bufio.NewReader(c)}
	var head strings.Builder
	for {
		line, err := rc.br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the response head: %v (%q)", err, head.String())
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	return rc, head.String()
}

// upgradeRaw dials and checks the 101.
func upgradeRaw(t testing.TB, addr netip.AddrPort, extra string) *rawClient {
	t.Helper()
	rc, head := dialRaw(t, addr, extra)
	if !strings.HasPrefix(head, "HTTP/1.1 101 ") || !strings.Contains(head, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") {
		t.Fatalf("response head:\n%s", head)
	}
	return rc
}

// frame builds a frame: b0 is FIN|RSV|opcode; masked with a fixed key.
func frame(b0 byte, masked bool, p []byte) []byte {
	var b []byte
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(p); {
	case n <= 125:
		b = append(b, b0, m|byte(n))
	case n <= 0xffff:
		b = append(b, b0, m|126, byte(n>>8), byte(n))
	default:
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, p...)
	}
	key := [4]byte{1, 2, 3, 4}
	b = append(b, key[:]...)
	for i, c := range p {
		b = append(b, c^key[i&3])
	}
	return b
}

func (rc *rawClient) send(frames ...[]byte) {
	rc.t.Helper()
	for _, f := range frames {
		if _, err := rc.c.Write(f); err != nil {
			rc.t.Fatalf("write: %v", err)
		}
	}
}

// read reads a frame: its first byte and payload.
func (rc *rawClient) read() (b0 byte, p []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(rc.br, h[:]); err != nil {
		return
	}
	if h[1]&0x80 != 0 {
		return 0, nil, fmt.Errorf("masked frame from the server")
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		io.ReadFull(rc.br, x[:])
		n = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		io.ReadFull(rc.br, x[:])
		n = binary.BigEndian.Uint64(x[:])
	}
	p = make([]byte, n)
	_, err = io.ReadFull(rc.br, p)
	return h[0], p, err
}

func (rc *rawClient) expect(b0 byte, p string) {
	rc.t.Helper()
	g0, gp, err := rc.read()
	if err != nil || g0 != b0 || string(gp) != p {
		rc.t.Fatalf("got frame %#x %q (%v), want %#x %q", g0, trunc(gp), err, b0, trunc([]byte(p)))
	}
}

// expectClose reads frames until a Close and checks its code, then
// that the server closes the connection.
func (rc *rawClient) expectClose(code int) {
	rc.t.Helper()
	for {
		b0, p, err := rc.read()
		if err != nil {
			rc.t.Fatalf("no close frame: %v", err)
		}
		if b0&0x0f != 0x8 {
			continue
		}
		got := 0
		if len(p) >= 2 {
			got = int(binary.BigEndian.Uint16(p))
		}
		if got != code {
			rc.t.Fatalf("close code %d (%q), want %d", got, p[min(2, len(p)):], code)
		}
		break
	}
	rc.send(frame(0x88, true, []byte{byte(code >> 8), byte(code)}))
	if _, err := io.Copy(io.Discard, rc.br); err != nil {
		rc.t.Fatalf("after close: %v", err)
	}
}

func trunc(p []byte) string {
	if len(p) > 40 {
		return fmt.Sprintf("%q... (%d bytes)", p[:40], len(p))
	}
	return string(p)
}

// roundTrip sends a raw request and returns the response head.
func roundTrip(t testing.TB, s *server, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", s.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	br := bufio.NewReader(c)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		head.WriteString(line)
		if err != nil || line == "\r\n" {
			return head.String()
		}
	}
}

// timeZero is no deadline.
var timeZero time.Time

// deflateRaw deflates p as permessage-deflate sends it (no final block,
// no 00 00 ff ff).
func deflateRaw(p []byte) []byte {
	var b strings.Builder
	w, _ := flate.NewWriter(&b, flate.BestSpeed)
	w.Write(p)
	w.Flush()
	s := b.String()
	return []byte(s[:len(s)-4])
}

// readMessage reads a data message, its fragments reassembled (and
// inflated if compressed), and the control frames that came between them.
func (rc *rawClient) readMessage() (op byte, msg []byte, controls []string) {
	rc.t.Helper()
	compressed := false
	for {
		b0, p, err := rc.read()
		if err != nil {
			rc.t.Fatalf("reading a message: %v", err)
		}
		switch o := b0 & 0x0f; {
		case o >= 8:
			controls = append(controls, fmt.Sprintf("%x:%s", o, p))
			continue
		case o != 0:
			op, compressed = o, b0&0x40 != 0
		}
		msg = append(msg, p...)
		if b0&0x80 != 0 {
			if compressed {
				out, err := inflate(msg)
				if err != nil {
					rc.t.Fatalf("inflate: %v", err)
				}
				msg = []byte(out)
			}
			return op, msg, controls
		}
	}
}
