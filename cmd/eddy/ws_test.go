package main

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// startWS runs "eddy ws -addr A args..." and waits until it listens.
func startWS(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, append([]string{"ws", "-addr", addr}, args...)...)
	p := &process{cmd: cmd, addr: addr, stderr: new(syncBuffer), done: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-p.done
	})
	if !testutil.Eventually(10*time.Second, func() bool { return strings.Contains(p.stderr.String(), "listening on") }) {
		t.Fatalf("eddy ws did not start:\n%s", p.stderr.String())
	}
	return p
}

// wsPeer is a minimal WebSocket client on net.Conn.
type wsPeer struct {
	t    *testing.T
	c    net.Conn
	br   *bufio.Reader
	head string
}

func dialWS(t *testing.T, addr, path, extra string) *wsPeer {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n%s\r\n", path, extra)
	w := &wsPeer{t: t, c: c, br: bufio.NewReader(c)}
	for {
		line, err := w.br.ReadString('\n')
		if err != nil {
			t.Fatalf("handshake: %v (%q)", err, w.head)
		}
		w.head += line
		if line == "\r\n" {
			break
		}
	}
	if !strings.HasPrefix(w.head, "HTTP/1.1 101 ") || !strings.Contains(w.head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") {
		t.Fatalf("handshake answered:\n%s", w.head)
	}
	return w
}

// send writes one masked frame: b0 is FIN|RSV|opcode.
func (w *wsPeer) send(b0 byte, p []byte) {
	b := []byte{b0}
	switch n := len(p); {
	case n <= 125:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	key := [4]byte{9, 8, 7, 6}
	b = append(b, key[:]...)
	for i, c := range p {
		b = append(b, c^key[i&3])
	}
	if _, err := w.c.Write(b); err != nil {
		w.t.Fatal(err)
	}
}

// read reads one frame, inflating it when RSV1 is set.
func (w *wsPeer) read() (op byte, p []byte) {
	w.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(w.br, h[:]); err != nil {
		w.t.Fatalf("read: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		io.ReadFull(w.br, x[:])
		n = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		io.ReadFull(w.br, x[:])
		n = binary.BigEndian.Uint64(x[:])
	}
	p = make([]byte, n)
	if _, err := io.ReadFull(w.br, p); err != nil {
		w.t.Fatalf("read: %v", err)
	}
	if h[0]&0x40 != 0 {
		var b bytes.Buffer
		b.ReadFrom(flate.NewReader(bytes.NewReader(append(p, 0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff))))
		p = b.Bytes()
	}
	return h[0] & 0x0f, p
}

func (w *wsPeer) expect(op byte, p string) {
	w.t.Helper()
	gop, gp := w.read()
	if gop != op || string(gp) != p {
		w.t.Fatalf("got %d %.40q (%d bytes), want %d %.40q (%d bytes)", gop, gp, len(gp), op, p, len(p))
	}
}

func deflated(p string) []byte {
	var b bytes.Buffer
	fw, _ := flate.NewWriter(&b, 6)
	fw.Write([]byte(p))
	fw.Flush()
	return b.Bytes()[:b.Len()-4]
}

// TestWSBinary drives "eddy ws": echo on every path, text as text and
// binary as binary, compressed or not; 426 for a plain GET; -max-message;
// -broadcast; the -connect client, plain and over TLS; SIGTERM.
func TestWSBinary(t *testing.T) {
	bin := buildEddy(t)
	p := startWS(t, bin, "-loops", "2", "-max-message", "100000", "-deflate")

	for _, path := range []string{"/", "/any/path?q=1"} {
		w := dialWS(t, p.addr, path, "")
		w.send(0x81, []byte("hello"))
		w.expect(1, "hello")
		w.send(0x82, []byte{0, 0xff})
		w.expect(2, "\x00\xff")
		w.send(0x01, []byte("frag"))
		w.send(0x80, []byte("ment"))
		w.expect(1, "fragment")
	}
	// permessage-deflate, both ways.
	w := dialWS(t, p.addr, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	if !strings.Contains(w.head, "permessage-deflate") {
		t.Fatalf("no permessage-deflate in:\n%s", w.head)
	}
	long := strings.Repeat("squeeze ", 1000)
	w.send(0xc1, deflated(long))
	w.expect(1, long)
	w.send(0xc2, deflated(long))
	w.expect(2, long)
	// -max-message: 1009.
	w.send(0x82, make([]byte, 100001))
	if op, b := w.read(); op != 8 || len(b) < 2 || binary.BigEndian.Uint16(b) != 1009 {
		t.Fatalf("over -max-message: %d %q, want close 1009", op, b)
	}
	// The largest message the default -max-message allows, 16 MiB, echoed.
	p2 := startWS(t, bin, "-deflate=true")
	w2 := dialWS(t, p2.addr, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n")
	huge := strings.Repeat("0123456789abcdef", 1<<20)
	w2.send(0x81, []byte(huge))
	w2.expect(1, huge)
	w2.send(0xc1, deflated(huge))
	w2.expect(1, huge)

	// Without -deflate (the default): an offer is declined.
	p3 := startWS(t, bin)
	if w3 := dialWS(t, p3.addr, "/", "Sec-WebSocket-Extensions: permessage-deflate\r\n"); strings.Contains(w3.head, "Sec-WebSocket-Extensions") {
		t.Fatalf("-deflate=false answered:\n%s", w3.head)
	}

	// A plain GET: 426.
	c, br := dialServe(t, p.addr)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if line, _ := br.ReadString('\n'); !strings.HasPrefix(line, "HTTP/1.1 426 ") {
		t.Fatalf("plain GET: %q", line)
	}

	// The client: stdin lines out as text, messages to stdout, a clean close.
	for _, deflate := range []string{"-deflate=true", "-deflate=false"} {
		cmd := exec.Command(bin, "ws", "-connect", "ws://"+p.addr+"/chat", deflate)
		cmd.Stdin = strings.NewReader("one\ntwo\n" + long + "\n")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || string(out) != "one\ntwo\n"+long+"\n" {
			t.Fatalf("eddy ws -connect %s: %v, stdout %.60q, stderr %s", deflate, err, out, stderr.String())
		}
	}
	p.stop(t, syscall.SIGTERM, "terminated: stopped after")
}

func TestWSBroadcast(t *testing.T) {
	bin := buildEddy(t)
	maddr := freeAddr(t)
	p := startWS(t, bin, "-loops", "2", "-broadcast", "-deflate", "-metrics", maddr)
	var peers []*wsPeer
	for i := range 4 {
		ext := ""
		if i%2 == 0 {
			ext = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
		}
		peers = append(peers, dialWS(t, p.addr, "/", ext))
	}
	// The hub knows a connection once its OnOpen ran: a first message
	// from each, seen by itself, says so.
	for i, w := range peers {
		w.send(0x81, []byte(fmt.Sprint("hello from ", i)))
		for {
			if _, b := w.read(); string(b) == fmt.Sprint("hello from ", i) {
				break
			}
		}
	}
	msg := strings.Repeat("news ", 100)
	peers[1].send(0x81, []byte(msg))
	for i, w := range peers {
		for {
			op, b := w.read()
			if string(b) == msg {
				if op != 1 {
					t.Fatalf("peer %d: opcode %d", i, op)
				}
				break
			}
		}
	}
	resp, err := http.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`eddy_ws_upgrades_total{server="ws"} 4` + "\n", `eddy_ws_open{server="ws"} 4` + "\n",
		`eddy_ws_messages_total{server="ws"} 5` + "\n", `eddy_ws_refused_total{server="ws"} 0` + "\n",
		`eddy_ws_failed_total{server="ws",code="1002"} 0` + "\n", `eddy_connections_open{server="ws"} 4` + "\n",
		`eddy_loop_iterations_total{loop="1"} `, "# TYPE eddy_loop_lag_seconds histogram\n"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

func TestWSTLS(t *testing.T) {
	bin := buildEddy(t)
	cert, key, ca := testutil.TestPKI(t).Files(t)
	p := startWS(t, bin, "-tls-cert", cert, "-tls-key", key)
	if !strings.Contains(p.stderr.String(), "wss://") {
		t.Fatalf("first line: %s", p.stderr.String())
	}
	cmd := exec.Command(bin, "ws", "-connect", "wss://localhost:"+p.addr[strings.LastIndex(p.addr, ":")+1:]+"/", "-cacert", ca)
	cmd.Stdin = strings.NewReader("secret\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || string(out) != "secret\n" {
		t.Fatalf("wss: %v, stdout %q, stderr %s", err, out, stderr.String())
	}
	// An unknown authority fails the handshake: exit 1.
	cmd = exec.Command(bin, "ws", "-connect", "wss://localhost:"+p.addr[strings.LastIndex(p.addr, ":")+1:]+"/")
	cmd.Stdin = strings.NewReader("")
	if err := cmd.Run(); err == nil {
		t.Fatal("wss to an unknown authority succeeded")
	}
}

func TestWSUsage(t *testing.T) {
	for _, args := range [][]string{
		{"-max-message", "0"},
		{"-connect", "http://x/"},
		{"-connect", "ws://x/", "-cacert", "a", "-insecure"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if got := dispatch(append([]string{"ws"}, args...), &stdout, &stderr); got != 2 {
			t.Errorf("eddy ws %v: status %d, want 2 (%s)", args, got, stderr.String())
		}
	}
}
