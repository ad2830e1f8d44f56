package evnet_test

// The TLS layer against bad input and hostile clients, and the fact
// about crypto/tls that it rests on.

import (
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// tempError is a net.Error whose Temporary() is true, as evnet's
// transport returns when it has no more input.
type tempError struct{}

func (tempError) Error() string   { return "would block" }
func (tempError) Timeout() bool   { return true }
func (tempError) Temporary() bool { return true }

// switchConn is a net.Conn that reads from its pipe until nonblock is
// set, then from buf, returning tempError when buf is empty.
type switchConn struct {
	net.Conn
	nonblock bool
	buf      []byte
}

func (s *switchConn) Read(b []byte) (int, error) {
	if !s.nonblock {
		return s.Conn.Read(b)
	}
	if len(s.buf) == 0 {
		return 0, tempError{}
	}
	n := copy(b, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// TestTLSWouldBlockNotSticky pins the fact the TLS layer rests on: when
// its transport's Read fails with a net.Error whose Temporary() is true,
// tls.Conn.Read returns that error without keeping it, and the next Read
// goes on where the last stopped, even in the middle of a record. If a Go
// release changes this, evnet's TLS connections stop working: this test
// says why.
func TestTLSWouldBlockNotSticky(t *testing.T) {
	p := getPKI(t)
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			sc := p.ServerConfig()
			sc.SessionTicketsDisabled = true // nothing to read after the handshake
			sconn := &switchConn{Conn: a}
			server := tls.Server(sconn, sc)
			cc := p.ClientConfig()
			cc.MaxVersion = v.v
			client := tls.Client(b, cc)
			errc := make(chan error, 1)
			go func() { errc <- client.Handshake() }()
			if err := server.Handshake(); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			sconn.nonblock = true
			go func() { _, err := client.Write([]byte("hello, loop")); errc <- err }()
			record := make([]byte, 5)
			if _, err := io.ReadFull(a, record); err != nil {
				t.Fatal(err)
			}
			record = append(record, make([]byte, int(record[3])<<8|int(record[4]))...)
			if _, err := io.ReadFull(a, record[5:]); err != nil {
				t.Fatal(err)
			}
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 100)
			for _, cut := range []int{0, 3, 5, 9} { // no input, part of the header, the header, more
				sconn.buf = record[:cut]
				n, err := server.Read(buf)
				var ne net.Error
				if n != 0 || !errors.As(err, &ne) || !ne.Temporary() {
					t.Fatalf("Read with %d bytes of the record: %d, %v; want 0 and the transport's temporary error", cut, n, err)
				}
				record = record[cut:]
			}
			sconn.buf = record
			n, err := server.Read(buf)
			if err != nil || string(buf[:n]) != "hello, loop" {
				t.Fatalf("Read after would-blocks: %q, %v: crypto/tls kept the transport's temporary error (evnet's TLS layer depends on it not doing so)", buf[:n], err)
			}
		})
	}
}

// rawDial connects to addr with plain TCP.
func rawDial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c
}

// clientHello returns the first flight of a crypto/tls client (its
// ClientHello record) for cfg.
func clientHello(t testing.TB, cfg *tls.Config) []byte {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		tls.Client(a, cfg).Handshake()
		a.Close()
	}()
	b.SetDeadline(time.Now().Add(5 * time.Second))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(b, hdr); err != nil {
		t.Fatal(err)
	}
	rec := append(hdr, make([]byte, int(hdr[3])<<8|int(hdr[4]))...)
	if _, err := io.ReadFull(b, rec[5:]); err != nil {
		t.Fatal(err)
	}
	b.Close()
	return rec
}

// TestTLSBadClients: what is not a TLS client, or not one we accept, gets
// crypto/tls's alert (or a close) and closes with ErrHandshake, without
// OnOpen; the server goes on serving.
func TestTLSBadClients(t *testing.T) {
	p := getPKI(t)
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig()})
	hello := clientHello(t, p.ClientConfig())
	cases := []struct {
		name  string
		send  []byte
		alert byte // the alert the client must get, or 0 for none
	}{
		{"garbage", bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 100), 0},
		{"SSLv2 hello", []byte{0x80, 0x2e, 0x01, 0x00, 0x02, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10, 0x07, 0x00, 0xc0, 0x05, 0x00, 0x80, 0x03, 0x00, 0x80, 0x01, 0x00, 0x80, 0x06, 0x00, 0x40, 0x04, 0x00, 0x80, 0x02, 0x00, 0x80, 0x00, 0x00, 0x04, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f}, 70},
		{"first record too long", append([]byte{0x16, 0x03, 0x01, 0x48, 0x01}, make([]byte, 100)...), 22},
		{"a handshake record of garbage", append([]byte{0x16, 0x03, 0x01, 0x00, 0x10}, bytes.Repeat([]byte{0xff}, 16)...), 80},
		{"ClientHello then garbage", append(append([]byte(nil), hello...), bytes.Repeat([]byte{0x17}, 50)...), 0},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := rawDial(t, e.addr)
			defer c.Close()
			if _, err := c.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(c) // until the server closes (or resets)
			if tc.alert != 0 && (len(got) < 7 || got[0] != 0x15 || got[6] != tc.alert) {
				t.Errorf("got % x, want alert %d", got[:min(len(got), 16)], tc.alert)
			}
			r := e.waitReasons(t, i+1)
			if !errors.Is(r[i], evnet.ErrHandshake) {
				t.Errorf("reason %v, want ErrHandshake", r[i])
			}
			t.Logf("reason: %v", r[i])
		})
	}
	// TLS 1.0 and 1.1 only: protocol_version.
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		cc := p.ClientConfig()
		cc.MinVersion, cc.MaxVersion = v, v
		c, err := tls.Dial("tcp", e.addr, cc)
		if err == nil {
			c.Close()
			t.Fatalf("TLS %x: handshake succeeded", v)
		}
		if !strings.Contains(err.Error(), "protocol version") {
			t.Errorf("TLS %x: %v, want a protocol_version alert", v, err)
		}
	}
	e.waitReasons(t, len(cases)+2)
	e.mu.Lock()
	opened := len(e.states)
	e.mu.Unlock()
	if opened != 0 {
		t.Errorf("%d connections opened", opened)
	}
	var done, failed uint64
	e.rl.Do(func() { done, failed = e.ln.TLSHandshakes() })
	if done != 0 || failed != uint64(len(cases)+2) {
		t.Errorf("TLSHandshakes: %d done, %d failed, want 0 and %d", done, failed, len(cases)+2)
	}
	if s := e.ln.Stats(); s.TLSHandshakes != done || s.TLSFailed != failed {
		t.Errorf("Stats: %d handshakes, %d failed; TLSHandshakes says %d and %d", s.TLSHandshakes, s.TLSFailed, done, failed)
	}
	// Still serving.
	c := dialTLS(t, e.addr, p.ClientConfig())
	echoHash(t, c, 1000, 1000)
	c.Close()
}

// TestTLSOversizedRecord: after the handshake, a record longer than TLS
// 1.3 allows (2^14+256) gets record_overflow and a close.
func TestTLSOversizedRecord(t *testing.T) {
	p := getPKI(t)
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig()})
	c := dialTLS(t, e.addr, p.ClientConfig())
	defer c.Close()
	echoHash(t, c, 10, 10)
	n := 1<<14 + 257
	c.NetConn().Write(append([]byte{0x17, 0x03, 0x03, byte(n >> 8), byte(n)}, make([]byte, n)...))
	_, err := c.Read(make([]byte, 10))
	if err == nil || !strings.Contains(err.Error(), "record overflow") {
		t.Errorf("client: %v, want record overflow", err)
	}
	r := e.waitReasons(t, 1)
	if r[0] == nil || errors.Is(r[0], evnet.ErrEOF) {
		t.Errorf("reason %v", r[0])
	}
	t.Logf("reason: %v", r[0])
}

// slowConn writes one byte at a time while slow is set.
type slowConn struct {
	net.Conn
	slow bool
}

func (s *slowConn) Write(p []byte) (int, error) {
	if !s.slow {
		return s.Conn.Write(p)
	}
	for i := range p {
		if _, err := s.Conn.Write(p[i : i+1]); err != nil {
			return i, err
		}
	}
	return len(p), nil
}

// TestTLSByteAtATime: a handshake whose every byte comes in a segment of
// its own works.
func TestTLSByteAtATime(t *testing.T) {
	p := getPKI(t)
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig()})
	for _, v := range tlsVersions {
		sc := &slowConn{Conn: rawDial(t, e.addr), slow: true}
		cc := p.ClientConfig()
		cc.MaxVersion = v.v
		c := tls.Client(sc, cc)
		if err := c.Handshake(); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		echoHash(t, c, 50, 1) // records of one byte, each byte by itself
		sc.slow = false
		echoHash(t, c, 1000, 1)
		c.Close()
	}
}

// TestTLSPlaintext: an HTTP request sent to the TLS port goes to
// TLSConfig.Plaintext, which answers in plain text.
func TestTLSPlaintext(t *testing.T) {
	p := getPKI(t)
	var mu sync.Mutex
	var got []byte
	plain := &evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			if c.IsTLS() {
				t.Error("Plaintext's connection is still TLS")
			}
		},
		OnData: func(c *evnet.Conn, b []byte) int {
			mu.Lock()
			got = append(got, b...)
			mu.Unlock()
			if bytes.Contains(b, []byte("\r\n\r\n")) {
				c.Write([]byte("HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\nplain HTTP request was sent to HTTPS port\n"))
				c.Close()
			}
			return len(b)
		},
	}
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig(), Plaintext: plain})
	for range 2 {
		c := rawDial(t, e.addr)
		c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		resp, err := io.ReadAll(c)
		c.Close()
		if err != nil || !bytes.HasPrefix(resp, []byte("HTTP/1.0 400 Bad Request\r\n")) {
			t.Fatalf("answer %q, %v", resp, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !bytes.HasPrefix(got, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /")) {
		t.Errorf("Plaintext got %q", got)
	}
	// TLS clients are still served.
	c := dialTLS(t, e.addr, p.ClientConfig())
	echoHash(t, c, 1000, 1000)
	c.Close()
}

// TestTLSHandshakeTimeout: a client that sends nothing is closed at
// HandshakeTimeout (on the fake clock), with ErrHandshake and ErrTimeout.
func TestTLSHandshakeTimeout(t *testing.T) {
	l, be := fakeLoop(t)
	p := getPKI(t)
	start := l.Now()
	var reason error
	var after time.Duration
	var ln *evnet.Listener
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) { t.Error("OnOpen ran") },
		OnData: func(c *evnet.Conn, b []byte) int { return len(b) },
		OnClose: func(c *evnet.Conn, err error) {
			reason, after = err, l.Now().Sub(start)
			ln.Close()
		},
	}
	ln, err := evnet.ListenConfig{TLS: &evnet.TLSConfig{Config: p.ServerConfig(), HandshakeTimeout: 3 * time.Second}}.Listen(l, "tcp", "127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	c := rawDial(t, ln.Addr().String())
	defer c.Close()
	be.Ready(ln.Fd(), eddy.Read)
	if err := l.RunOnce(); err != nil { // accepts
		t.Fatal(err)
	}
	be.Clear(ln.Fd(), eddy.Read)
	if ln.Accepted() != 1 {
		t.Fatalf("%d accepted", ln.Accepted())
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(reason, evnet.ErrHandshake) {
		t.Fatalf("reason %v, want ErrHandshake", reason)
	}
	timedOut(t, reason, after, 3*time.Second)
}

// stalledHandshakes opens n connections that send a whole ClientHello
// (so that a handshake goroutine starts) and then nothing.
func stalledHandshakes(t *testing.T, addr string, hello []byte, n int) []net.Conn {
	t.Helper()
	conns := make([]net.Conn, 0, n)
	for range n {
		c := rawDial(t, addr)
		if _, err := c.Write(hello); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	return conns
}

// TestTLSMaxHandshakes: with MaxHandshakes 2 and two stalled handshakes,
// a third client waits for a slot, and gets one when a stalled one times
// out. On the real clock: the timeout is long enough for the third
// handshake to finish in the half of it left on a loaded machine (400 ms
// was not, under -race beside other tests).
func TestTLSMaxHandshakes(t *testing.T) {
	p := getPKI(t)
	const timeout = 1500 * time.Millisecond
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig(), MaxHandshakes: 2, HandshakeTimeout: timeout})
	stalled := stalledHandshakes(t, e.addr, clientHello(t, p.ClientConfig()), 2)
	defer func() {
		for _, c := range stalled {
			c.Close()
		}
	}()
	e.rl.Barrier()
	// The waiting client's HandshakeTimeout runs while it waits: it comes
	// half way through the stalled ones', so that it can outlive them.
	time.Sleep(timeout / 2)
	start := time.Now()
	c := dialTLS(t, e.addr, p.ClientConfig())
	waited := time.Since(start)
	echoHash(t, c, 100, 100)
	c.Close()
	r := e.waitReasons(t, 2)
	for _, reason := range r[:2] {
		if !errors.Is(reason, evnet.ErrHandshake) || !errors.Is(reason, evnet.ErrTimeout) {
			t.Errorf("stalled: reason %v", reason)
		}
	}
	if waited < timeout/4 {
		t.Errorf("the third handshake took %v: it did not wait for a slot", waited)
	}
}

// TestTLSHandshakeFlood: 1,000 half-finished handshakes (half of them
// with a whole ClientHello, each holding a handshake goroutine; half with
// a part of one, holding none) do not stop others from being served; 300
// clients resetting mid-handshake leave no goroutine or descriptor behind.
func TestTLSHandshakeFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	p := getPKI(t)
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig()})
	hello := clientHello(t, p.ClientConfig())
	fds := len(testutil.OpenFds())
	goroutines := runtime.NumGoroutine()
	stalled := stalledHandshakes(t, e.addr, hello, 500)
	for range 500 {
		c := rawDial(t, e.addr)
		c.Write(hello[:len(hello)/2])
		stalled = append(stalled, c)
	}
	e.rl.Barrier()
	for range 5 {
		c := dialTLS(t, e.addr, p.ClientConfig())
		echoHash(t, c, 10000, 1000)
		c.Close()
	}
	t.Logf("goroutines with 1,000 half-finished handshakes: %d (%d before)", runtime.NumGoroutine(), goroutines)
	for _, c := range stalled {
		c.Close()
	}
	e.waitReasons(t, 1005)
	// 300 clients reset after the server's first flight.
	var wg sync.WaitGroup
	for range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			c.Write(hello)
			io.ReadFull(c, make([]byte, 5)) // the ServerHello's header
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
		}()
	}
	wg.Wait()
	r := e.waitReasons(t, 1305)
	var done, failed uint64
	e.rl.Do(func() { done, failed = e.ln.TLSHandshakes() })
	if done != 5 || failed != 1300 {
		t.Errorf("TLSHandshakes: %d done, %d failed, want 5 and 1300", done, failed)
	}
	if s := e.ln.Stats(); s.TLSHandshakes != 5 || s.TLSFailed != 1300 || s.Closed[evnet.CloseTLS]+s.Closed[evnet.CloseReset]+s.Closed[evnet.CloseError] < 1300 {
		t.Errorf("Stats() = %+v: want 5 handshakes, 1300 failed, and as many closed for TLS, a reset or an error", s)
	}
	resets := 0
	for _, reason := range r[1005:] {
		if errors.Is(reason, evnet.ErrReset) {
			resets++
		}
	}
	t.Logf("%d of 300 closed as reset (the others saw the reset as an EOF or a write error)", resets)
	if !testutil.Eventually(5*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines+2 }) {
		t.Errorf("goroutines: %d, %d before", runtime.NumGoroutine(), goroutines)
	}
	if n := len(testutil.OpenFds()); n > fds+2 {
		t.Errorf("descriptors: %d, %d before", n, fds)
	}
	c := dialTLS(t, e.addr, p.ClientConfig())
	echoHash(t, c, 1000, 1000)
	c.Close()
}

// TestTLSSlowReader: a client that reads slowly makes the server's queue
// fill and its reading pause (PauseRead/ResumeRead through OnDrain), and
// every byte comes back.
func TestTLSSlowReader(t *testing.T) {
	p := getPKI(t)
	e := startTLSEchoWith(t, &evnet.TLSConfig{Config: p.ServerConfig()}, func(c *evnet.Conn) {
		c.SetWriteBuffer(4096) // as TestEchoTorture: the queue fills sooner
	})
	d := &net.Dialer{Timeout: 5 * time.Second, Control: smallBuffers}
	c, err := tls.DialWithDialer(d, "tcp", e.addr, p.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(60 * time.Second))
	sr := &slowReader{Conn: c}
	echoHash(t, sr, 4<<20, 64<<10)
	var pauses int
	e.rl.Do(func() { pauses = e.srv.pauses })
	if pauses == 0 {
		t.Error("the server never paused reading")
	}
	t.Logf("the server paused reading %d times", pauses)
}

// slowReader sleeps a little before every read of its Conn.
type slowReader struct{ net.Conn }

func (s *slowReader) Read(b []byte) (int, error) {
	time.Sleep(200 * time.Microsecond)
	return s.Conn.Read(b[:min(len(b), 4096)])
}

// TestTLSGroupShutdownMidHandshake: a Group shut down with handshakes in
// flight (a goroutine each, waiting for their clients) and connections
// waiting for a slot leaves no goroutine behind (TestMain checks too).
func TestTLSGroupShutdownMidHandshake(t *testing.T) {
	p := getPKI(t)
	goroutines := runtime.NumGoroutine()
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 2})
	if err != nil {
		t.Fatal(err)
	}
	srv := &echoServer{}
	h := srv.handler()
	h.OnOpen, h.OnClose = nil, nil // shared by the loops: keep nothing
	ln, err := g.Listen("tcp", "127.0.0.1:0", evnet.ListenConfig{TLS: &evnet.TLSConfig{Config: p.ServerConfig(), MaxHandshakes: 3}}, h)
	if err != nil {
		t.Fatal(err)
	}
	conns := stalledHandshakes(t, ln.Addr().String(), clientHello(t, p.ClientConfig()), 20)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if !testutil.Eventually(5*time.Second, func() bool { return runtime.NumGoroutine() >= goroutines+2+4 }) {
		t.Logf("goroutines: %d (%d before)", runtime.NumGoroutine(), goroutines)
	}
	if err := g.Shutdown(time.Second); err != nil {
		t.Fatal(err)
	}
	if !testutil.Eventually(5*time.Second, func() bool { return runtime.NumGoroutine() <= goroutines }) {
		t.Fatalf("goroutines: %d, %d before", runtime.NumGoroutine(), goroutines)
	}
}

// TestTLSDialSilentServer: a TLS dial to a server that accepts and says
// nothing ends at the handshake timeout, or at once when closed, its
// goroutine with it (TestMain checks).
func TestTLSDialSilentServer(t *testing.T) {
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	go func() { // accepts, holds, says nothing
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := gl.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	rl := startLoop(t)
	reasons := make(chan error, 2)
	h := evnet.Handler{
		OnOpen:  func(c *evnet.Conn) { t.Error("OnOpen ran") },
		OnData:  func(c *evnet.Conn, b []byte) int { return len(b) },
		OnClose: func(c *evnet.Conn, err error) { reasons <- err },
	}
	d := evnet.Dialer{TLS: &evnet.TLSConfig{Config: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 200 * time.Millisecond}}
	var c *evnet.Conn
	rl.Do(func() {
		if _, err = d.Dial(rl.Loop, "tcp", gl.Addr().String(), h); err != nil {
			return
		}
		c, err = d.Dial(rl.Loop, "tcp", gl.Addr().String(), h)
	})
	if err != nil {
		t.Fatal(err)
	}
	rl.Barrier()
	rl.Do(func() { c.Close() })
	if err := <-reasons; !errors.Is(err, evnet.ErrLocalClose) {
		t.Errorf("closed during the handshake: %v", err)
	}
	if err := <-reasons; !errors.Is(err, evnet.ErrHandshake) || !errors.Is(err, evnet.ErrTimeout) {
		t.Errorf("silent server: %v, want ErrHandshake and ErrTimeout", err)
	}
}
