package interop

// evws against WebSocket implementations of other languages, run as
// subprocesses from testdata/peers on loopback: the npm ws package and
// python3-websockets, as clients of evws's server and as servers of evws's
// client (Dial). A browser (browser_test.go) takes the client's part too.
//
// The exchange is the same for every pair; both sides check what they see,
// and a tap between them (tap_test.go) checks what crossed the wire:
//
//	connection /a, permessage-deflate not offered (a browser offers it):
//	  the client sends text, binary, 1 MiB of binary, a text in three
//	  fragments ("frag", "men", "ted ✓"): each comes back as it was sent,
//	  the last whole;
//	  "frag": the server answers "server fragmented" in three fragments;
//	  a Ping "p1": the server answers a Pong "p1";
//	  "ping": the server sends a Ping "sp", and on its Pong the text "pong:sp";
//	  the client closes with 4001 "client bye"; the server echoes 4001.
//	connection /b, permessage-deflate offered and accepted:
//	  1 MiB of compressible text comes back, compressed each way, twice
//	  (the second time compressed against the first by a client whose
//	  context the server keeps);
//	  "close": the server closes with 4002 "server bye"; the client echoes it.
//	connection /c, permessage-deflate with windows of 512 bytes asked each
//	way (server_max_window_bits=9, client_max_window_bits=9; peer clients
//	only, a browser cannot ask):
//	  a short text, one longer than the window, 1 MiB of compressible text
//	  come back (the server may compress only those no longer than its
//	  window); the client closes with 1000.
//
// A peer server is also run with its window limited (server BITS), against
// which evws's client takes the same steps on /a and /b.
//
// A peer server prints "listening PORT", then a JSON line per connection
// closed: its path, whether permessage-deflate was negotiated, and the
// code and reason of the Close frame it received. A peer client prints "ok
// STEP" per step and "done" at the end, or fails with a message.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/evws"
	"github.com/eddyloop/eddy/internal/testutil"
	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// The messages of the exchange (each sender chooses its own bytes: the
// echo is checked by the side that sent them).
var (
	peerText  = "héllo, wörld ✓"
	peerBytes = func() []byte {
		p := make([]byte, 256)
		for i := range p {
			p[i] = byte(i)
		}
		return p
	}()
	peerMebibyte = func() []byte {
		p := make([]byte, 1<<20)
		for i := range p {
			p[i] = byte(i*7 + i>>8)
		}
		return p
	}()
	peerCompressible = strings.Repeat("eddy interop ", 80660)
)

// peerTimeout bounds a peer client's run, and each wait for a peer.
const peerTimeout = 60 * time.Second

// A peer is a WebSocket implementation of another language, run as a
// script of testdata/peers.
type peer struct {
	name string
	// command returns the script's command line, failing the test (with
	// CI set) or skipping it when the peer is not installed.
	command func(t *testing.T) []string
}

var peers = []peer{
	{"ws (npm)", func(t *testing.T) []string {
		node := testutil.NeedPeer(t, "node", "nodejs")
		_, err := exec.Command(node, "-e", "import('./testdata/peers/node_modules/ws/wrapper.mjs')").CombinedOutput()
		need(t, err == nil, "the npm package ws", "cd interop/testdata/peers && npm ci")
		return []string{node, "testdata/peers/ws_peer.mjs"}
	}},
	{"websockets (python3)", func(t *testing.T) []string {
		// Debian's python3, whose dist-packages hold python3-websockets
		// (a python3 earlier in PATH may be another installation).
		const python = "/usr/bin/python3"
		err := exec.Command(python, "-c", "import websockets").Run()
		need(t, err == nil, "python3-websockets", "apt-get install python3-websockets")
		return []string{python, "testdata/peers/websockets_peer.py"}
	}},
}

// need fails the test when CI is set, and skips it otherwise, unless ok:
// what is missing, and how to install it.
func need(t *testing.T, ok bool, what, how string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required when CI is set (test.sh installs it: %s)", what, how)
	}
	t.Skipf("%s not installed (test.sh installs it: %s)", what, how)
}

// evwsServers are the configurations of evws's server that the peers'
// clients and the browser meet: permessage-deflate with the clients'
// compression contexts declined (the default) or kept within a budget.
var evwsServers = []struct {
	name string
	cfg  evws.Config
}{
	{"deflate", evws.Config{Deflate: true}},
	{"deflate+context", evws.Config{Deflate: true, ContextTakeoverBudget: 1 << 20}},
}

// TestPeerClients: each peer's client against evws's server.
func TestPeerClients(t *testing.T) {
	for _, p := range peers {
		for _, s := range evwsServers {
			t.Run(p.name+"/"+s.name, func(t *testing.T) {
				argv := p.command(t)
				srv := startEvwsServer(t, testloop.Start(t), s.cfg)
				ctx, cancel := context.WithTimeout(context.Background(), peerTimeout)
				defer cancel()
				cmd := exec.CommandContext(ctx, argv[0], append(argv[1:], "client", srv.url)...)
				cmd.WaitDelay = time.Second
				out, err := cmd.CombinedOutput()
				if err != nil || !bytes.HasSuffix(out, []byte("done\n")) {
					t.Fatalf("%s client: %v\n%s", p.name, err, out)
				}
				t.Logf("%s client:\n%s", p.name, out)
				srv.check(t, false, true, true)
				wires := srv.tap.wait(t, 3)
				checkWire(t, wires, false, true)
				checkContext(t, wires["/b"], s.cfg.ContextTakeoverBudget > 0)
				c := wires["/c"]
				c.expect(t, []string{"deflate", "close 1000"}, []string{"deflate", "close 1000"})
				checkWindow(t, c, "9")
			})
		}
	}
}

// TestPeerServers: evws's client against each peer's server, as it is by
// default and with a window of 512 bytes for what it compresses.
func TestPeerServers(t *testing.T) {
	for _, p := range peers {
		for _, bits := range []string{"", "9"} {
			name := p.name
			if bits != "" {
				name += "/server_max_window_bits=" + bits
			}
			t.Run(name, func(t *testing.T) { testPeerServer(t, p, bits) })
		}
	}
}

// testPeerServer runs p's server, with server_max_window_bits if bits is
// set, against evws's client.
func testPeerServer(t *testing.T, p peer, bits string) {
	argv := p.command(t)
	argv = append(argv, "server")
	if bits != "" {
		argv = append(argv, bits)
	}
	lines := startProcess(t, exec.Command(argv[0], argv[1:]...), 5*time.Second)
	var port string
	select {
	case l := <-lines:
		var ok bool
		if port, ok = strings.CutPrefix(l, "listening "); !ok {
			t.Fatalf("%s server: %q, want listening PORT", p.name, l)
		}
	case <-time.After(peerTimeout):
		t.Fatalf("%s server did not say where it listens", p.name)
	}
	tp := startTap(t, "127.0.0.1:"+port)
	runEvwsClient(t, testloop.Start(t), "ws://"+tp.addr)

	got := map[string]peerClosed{}
	for len(got) < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("%s server ended; saw %v", p.name, got)
			}
			var c peerClosed
			if err := json.Unmarshal([]byte(l), &c); err != nil {
				t.Fatalf("%s server: %q: %v", p.name, l, err)
			}
			got[c.Path] = c
		case <-time.After(peerTimeout):
			t.Fatalf("%s server reported %d connections closed of 2: %v", p.name, len(got), got)
		}
	}
	if c := got["/a"]; c.Compressed || c.Code != 4001 || c.Reason != "client bye" {
		t.Errorf("%s server, /a: %+v; want uncompressed, closed by 4001 \"client bye\"", p.name, c)
	}
	if c := got["/b"]; !c.Compressed || c.Code != 4002 {
		t.Errorf("%s server, /b: %+v; want compressed, its 4002 echoed", p.name, c)
	}
	wires := tp.wait(t, 2)
	checkWire(t, wires, false, true)
	if bits != "" {
		checkWindow(t, wires["/b"], bits)
	}
}

// peerClosed is a peer server's line about a connection closed.
type peerClosed struct {
	Path       string
	Compressed bool
	Code       int
	Reason     string
}

// startProcess starts cmd in a process group of its own, with its standard
// input a pipe, and returns its standard output's lines; its standard error
// is logged if the test fails. When the test ends, its input is closed (a
// peer server's signal to exit) and its group is killed if cmd has not
// exited within grace.
func startProcess(t *testing.T, cmd *exec.Cmd, grace time.Duration) <-chan string {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer // written by exec's copying goroutine until Wait
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		select {
		case <-exited:
		case <-time.After(grace):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("%s: standard error:\n%s", cmd.Path, stderr.Bytes())
		}
	})
	return lines
}

// evwsServer is evws's side of the exchange as a server, behind a tap.
type evwsServer struct {
	url    string // ws://127.0.0.1:PORT, the tap's address
	tap    *tap
	closed chan serverClosed
}

// serverClosed is what the server saw of a connection, at its end.
type serverClosed struct {
	path       string
	compressed bool
	err        error
}

// startEvwsServer serves the exchange on rl with evws at /a, /b and /c, with
// cfg (permessage-deflate, a budget for clients' contexts).
func startEvwsServer(t *testing.T, rl *testloop.Loop, cfg evws.Config) *evwsServer {
	t.Helper()
	s := &evwsServer{closed: make(chan serverClosed, 4)}
	cfg.MaxMessageBytes = 64 << 20
	upgraders := map[string]*evws.Upgrader{}
	for _, path := range []string{"/a", "/b", "/c"} {
		upgraders[path] = evws.NewUpgrader(&cfg, evws.Handler{
			OnMessage: serveCommand,
			OnPong: func(c *evws.Conn, p []byte) {
				c.WriteMessage(evws.Text, append([]byte("pong:"), p...))
			},
			OnClose: func(c *evws.Conn, err error) {
				s.closed <- serverClosed{path, c.Compressed(), err}
			},
		})
	}
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		u, ok := upgraders[string(r.Path())]
		if !ok {
			w.WriteHeader(404)
			return
		}
		u.ServeHTTP1(w, r)
	})}
	s.tap = startTap(t, serve(t, rl, srv))
	s.url = "ws://" + s.tap.addr
	return s
}

// serve serves srv on rl, on a loopback port, until the test ends, and
// returns its address.
func serve(t *testing.T, rl *testloop.Loop, srv *evhttp.Server) string {
	t.Helper()
	var addr string
	var err error
	rl.Do(func() {
		var ln *evnet.Listener
		if ln, err = srv.Serve(rl.Loop, "tcp", "127.0.0.1:0"); err == nil {
			addr = ln.Addr().String()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() }) // from another goroutine than the loop's
	return addr
}

// serveCommand is the server's part of the exchange: the commands
// "frag", "ping" and "close", and an echo of every other message.
func serveCommand(c *evws.Conn, op evws.Opcode, p []byte) {
	var err error
	switch {
	case op != evws.Text:
		err = c.WriteMessage(op, p)
	case string(p) == "frag":
		err = errors.Join(
			c.WriteFragment(evws.Text, []byte("server "), false),
			c.WriteFragment(evws.Text, []byte("frag"), false),
			c.WriteFragment(evws.Text, []byte("mented"), true))
	case string(p) == "ping":
		err = c.WriteControl(evws.Ping, []byte("sp"))
	case string(p) == "close":
		err = c.Close(4002, "server bye")
	default:
		err = c.WriteMessage(op, p)
	}
	if err != nil {
		c.Close(evws.CloseInternalError, err.Error())
	}
}

// check waits for the connections of the exchange to end on the server
// (/a, /b, and /c if withC), and checks what it saw of each: compressed or
// not (a browser's /a is, with a server that accepts it), and the close.
func (s *evwsServer) check(t *testing.T, compressedA, compressedB, withC bool) {
	t.Helper()
	got := map[string]serverClosed{}
	n := 2
	if withC {
		n = 3
	}
	for len(got) < n {
		select {
		case c := <-s.closed:
			got[c.path] = c
		case <-time.After(peerTimeout):
			t.Fatalf("evws server: %d connections closed of %d: %v", len(got), n, got)
		}
	}
	if withC {
		checkClosed(t, "evws server, /c", got["/c"].compressed, got["/c"].err, true, evws.CloseError{Code: 1000, Remote: true})
	}
	checkClosed(t, "evws server, /a", got["/a"].compressed, got["/a"].err, compressedA, evws.CloseError{Code: 4001, Reason: "client bye", Remote: true})
	checkClosed(t, "evws server, /b", got["/b"].compressed, got["/b"].err, compressedB, evws.CloseError{Code: 4002, Reason: "server bye"})
}

// checkClosed checks a connection's compression and close.
func checkClosed(t *testing.T, who string, compressed bool, err error, wantCompressed bool, want evws.CloseError) {
	t.Helper()
	if compressed != wantCompressed {
		t.Errorf("%s: compressed %v, want %v", who, compressed, wantCompressed)
	}
	var ce *evws.CloseError
	if !errors.As(err, &ce) || *ce != want {
		t.Errorf("%s: closed by %v, want %v", who, err, &want)
	}
}

// evwsClient is evws's client, its callbacks made into events for a test
// to take in order.
type evwsClient struct {
	rl     *testloop.Loop
	c      *evws.Conn
	events chan clientEvent
}

// clientEvent is a message (op Text or Binary), a Pong (op Pong), or the
// end of the connection (err).
type clientEvent struct {
	op  evws.Opcode
	p   []byte
	err error
}

// dial connects to url with evws.Dial on rl.
func dial(t *testing.T, rl *testloop.Loop, cl *evclient.Client, url string, cfg *evws.Config) *evwsClient {
	t.Helper()
	wc := &evwsClient{rl: rl, events: make(chan clientEvent, 8)}
	opened := make(chan error, 1)
	rl.Do(func() {
		_, err := evws.Dial(cl, url, cfg, evws.Handler{
			OnOpen: func(c *evws.Conn) { wc.c = c; opened <- nil },
			OnMessage: func(c *evws.Conn, op evws.Opcode, p []byte) {
				wc.events <- clientEvent{op: op, p: bytes.Clone(p)}
			},
			OnPong: func(c *evws.Conn, p []byte) { wc.events <- clientEvent{op: evws.Pong, p: bytes.Clone(p)} },
			OnClose: func(c *evws.Conn, err error) {
				if wc.c == nil {
					opened <- err
				}
				wc.events <- clientEvent{err: err}
			},
		})
		if err != nil {
			opened <- err
		}
	})
	select {
	case err := <-opened:
		if err != nil {
			t.Fatalf("evws.Dial %s: %v", url, err)
		}
	case <-time.After(peerTimeout):
		t.Fatalf("evws.Dial %s: no answer", url)
	}
	return wc
}

// do runs f with the connection on its loop; an error fails the test.
func (wc *evwsClient) do(t *testing.T, step string, f func(c *evws.Conn) error) {
	t.Helper()
	var err error
	wc.rl.Do(func() { err = f(wc.c) })
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
}

// expect takes the next event and checks it is op with payload p.
func (wc *evwsClient) expect(t *testing.T, step string, op evws.Opcode, p []byte) {
	t.Helper()
	select {
	case ev := <-wc.events:
		if ev.err != nil || ev.op != op || !bytes.Equal(ev.p, p) {
			t.Fatalf("%s: got op %v, %d bytes, %v; want op %v, %d bytes", step, ev.op, len(ev.p), ev.err, op, len(p))
		}
	case <-time.After(peerTimeout):
		t.Fatalf("%s: nothing came", step)
	}
}

// expectClose takes the next event and checks it is the end, by want.
func (wc *evwsClient) expectClose(t *testing.T, step string, compressed bool, want evws.CloseError) {
	t.Helper()
	select {
	case ev := <-wc.events:
		checkClosed(t, step, wc.c.Compressed(), ev.err, compressed, want)
	case <-time.After(peerTimeout):
		t.Fatalf("%s: did not close", step)
	}
}

// runEvwsClient takes the client's part of the exchange with evws.Dial
// against the server at base.
func runEvwsClient(t *testing.T, rl *testloop.Loop, base string) {
	var cl *evclient.Client
	rl.Do(func() { cl = evclient.New(rl.Loop, nil) })
	t.Cleanup(func() { rl.Do(func() { cl.Close() }) })
	cfg := &evws.Config{MaxMessageBytes: 64 << 20}

	a := dial(t, rl, cl, base+"/a", cfg)
	for _, m := range []struct {
		step string
		op   evws.Opcode
		p    []byte
	}{{"a text", evws.Text, []byte(peerText)}, {"a binary", evws.Binary, peerBytes}, {"a binary 1 MiB", evws.Binary, peerMebibyte}} {
		a.do(t, m.step, func(c *evws.Conn) error { return c.WriteMessage(m.op, m.p) })
		a.expect(t, m.step, m.op, m.p)
	}
	a.do(t, "a fragmented", func(c *evws.Conn) error {
		return errors.Join(
			c.WriteFragment(evws.Text, []byte("frag"), false),
			c.WriteFragment(evws.Text, []byte("men"), false),
			c.WriteFragment(evws.Text, []byte("ted ✓"), true))
	})
	a.expect(t, "a fragmented", evws.Text, []byte("fragmented ✓"))
	a.do(t, "a fragmented by the server", func(c *evws.Conn) error { return c.WriteMessage(evws.Text, []byte("frag")) })
	a.expect(t, "a fragmented by the server", evws.Text, []byte("server fragmented"))
	a.do(t, "a ping", func(c *evws.Conn) error { return c.WriteControl(evws.Ping, []byte("p1")) })
	a.expect(t, "a ping", evws.Pong, []byte("p1"))
	a.do(t, "a ping by the server", func(c *evws.Conn) error { return c.WriteMessage(evws.Text, []byte("ping")) })
	a.expect(t, "a ping by the server", evws.Text, []byte("pong:sp"))
	a.do(t, "a close", func(c *evws.Conn) error { return c.Close(4001, "client bye") })
	a.expectClose(t, "evws client, /a", false, evws.CloseError{Code: 4001, Reason: "client bye"})

	cfg.Deflate = true
	b := dial(t, rl, cl, base+"/b", cfg)
	for _, step := range []string{"b compressed", "b compressed again"} {
		b.do(t, step, func(c *evws.Conn) error { return c.WriteMessage(evws.Text, []byte(peerCompressible)) })
		b.expect(t, step, evws.Text, []byte(peerCompressible))
	}
	b.do(t, "b close by the server", func(c *evws.Conn) error { return c.WriteMessage(evws.Text, []byte("close")) })
	b.expectClose(t, "evws client, /b", true, evws.CloseError{Code: 4002, Reason: "server bye", Remote: true})
}

// checkContext checks that the server kept the client's compression
// context (kept) or declined it, by its answer in the handshake.
func checkContext(t *testing.T, w *wire, kept bool) {
	t.Helper()
	if w != nil && strings.Contains(w.extensions, "client_no_context_takeover") == kept {
		t.Errorf("tap, %s: the server answered %q; the client's context kept: want %v", w.path, w.extensions, kept)
	}
}

// checkWindow checks that the server's handshake limited its window to
// bits.
func checkWindow(t *testing.T, w *wire, bits string) {
	t.Helper()
	if w != nil && !strings.Contains(w.extensions, "server_max_window_bits="+bits) {
		t.Errorf("tap, %s: the server answered %q, want server_max_window_bits=%s", w.path, w.extensions, bits)
	}
}

// checkWire checks the frames that crossed the tap for the exchange, each
// way; a browser (browser) sends no fragment nor Ping, and compresses /a
// if the server accepts it; the server accepts it if deflate.
func checkWire(t *testing.T, wires map[string]*wire, browser, deflate bool) {
	t.Helper()
	toServer := []string{"text", "binary", "pong", "close 4001 client bye"}
	if !browser {
		toServer = append(toServer, "fragmented", "ping")
	}
	wires["/a"].expect(t, toServer, []string{"text", "binary", "fragmented", "ping", "close 4001"})
	wires["/b"].expect(t, []string{"close 4002"}, []string{"close 4002 server bye"})
	if deflate {
		wires["/b"].expect(t, []string{"deflate"}, []string{"deflate"})
	} else {
		wires["/b"].expectNone(t, "deflate")
	}
	if !browser || !deflate {
		wires["/a"].expectNone(t, "deflate")
	}
}
