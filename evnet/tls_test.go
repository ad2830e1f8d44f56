package evnet_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// getPKI returns the test binary's certificates (testutil.TestPKI).
func getPKI(t testing.TB) *testutil.PKI { return testutil.TestPKI(t) }

// tlsEcho is a TLS echo server on its own loop: the echoServer of
// main_test.go behind a TLS listener. It records the TLS state of each
// connection at OnOpen.
type tlsEcho struct {
	rl     *runLoop
	srv    *echoServer
	ln     *evnet.Listener
	addr   string
	mu     sync.Mutex
	states []tls.ConnectionState
}

func startTLSEcho(t *testing.T, cfg *evnet.TLSConfig) *tlsEcho {
	t.Helper()
	return startTLSEchoWith(t, cfg, nil)
}

// startTLSEchoWith is startTLSEcho with a function of the test's own at
// OnOpen.
func startTLSEchoWith(t *testing.T, cfg *evnet.TLSConfig, open func(c *evnet.Conn)) *tlsEcho {
	t.Helper()
	e := &tlsEcho{rl: startLoop(t)}
	e.srv = &echoServer{onOpen: func(c *evnet.Conn) {
		if open != nil {
			open(c)
		}
		st, ok := c.TLSState()
		if !ok || !c.IsTLS() {
			t.Errorf("OnOpen: TLSState ok=%v, IsTLS %v", ok, c.IsTLS())
		}
		e.mu.Lock()
		e.states = append(e.states, st)
		e.mu.Unlock()
	}}
	e.ln = listen(t, e.rl, "tcp", "127.0.0.1:0", evnet.ListenConfig{TLS: cfg}, e.srv)
	e.addr = e.ln.Addr().String()
	return e
}

// reasons returns the close reasons seen so far.
func (e *tlsEcho) reasons() []error {
	var r []error
	e.rl.Do(func() { r = append(r, e.srv.reasons...) })
	return r
}

// waitReasons waits until n connections have closed and returns the reasons.
func (e *tlsEcho) waitReasons(t *testing.T, n int) []error {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := e.reasons()
		if len(r) >= n {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections closed, want %d: %v", len(r), n, r)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// listenTLS listens on rl for TLS connections served by h.
func listenTLS(t *testing.T, rl *runLoop, cfg *evnet.TLSConfig, h evnet.Handler) *evnet.Listener {
	t.Helper()
	var ln *evnet.Listener
	var err error
	rl.Do(func() { ln, err = evnet.ListenConfig{TLS: cfg}.Listen(rl.Loop, "tcp", "127.0.0.1:0", h) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rl.Do(func() { ln.Close() }) })
	return ln
}

func dialTLS(t testing.TB, addr string, cfg *tls.Config) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// echoHash writes size random bytes in writes of up to chunk bytes on one
// goroutine while another reads the echo, and compares the hashes. A
// negative chunk means writes and reads of random sizes up to -chunk.
func echoHash(t *testing.T, c net.Conn, size, chunk int) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	want := sha256.Sum256(data)
	next := func() int { return chunk }
	if chunk < 0 {
		next = func() int { return 1 + mrand.IntN(-chunk) }
	}
	errc := make(chan error, 1)
	go func() {
		for p := data; len(p) > 0; {
			n := min(len(p), next())
			if _, err := c.Write(p[:n]); err != nil {
				errc <- err
				return
			}
			p = p[n:]
		}
		errc <- nil
	}()
	h := sha256.New()
	buf := make([]byte, max(chunk, -chunk))
	for got := 0; got < size; {
		n, err := c.Read(buf[:min(size-got, next())])
		h.Write(buf[:n])
		got += n
		if err != nil {
			t.Fatalf("read echo: %d of %d bytes: %v", got, size, err)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatalf("echo differs from what was sent")
	}
}

var tlsVersions = []struct {
	name string
	v    uint16
}{{"TLS1.2", tls.VersionTLS12}, {"TLS1.3", tls.VersionTLS13}}

// TestTLSEcho: Go's crypto/tls client against an evnet TLS echo server,
// TLS 1.2 and 1.3: a large transfer both ways (the server's reading
// pauses on a full queue), many small writes, ALPN, the state at OnOpen,
// and close_notify both ways at the end.
func TestTLSEcho(t *testing.T) {
	p := getPKI(t)
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			sc := p.ServerConfig()
			sc.NextProtos = []string{"h2", "http/1.1"}
			e := startTLSEcho(t, &evnet.TLSConfig{Config: sc})
			cc := p.ClientConfig()
			cc.MinVersion, cc.MaxVersion = v.v, v.v
			cc.NextProtos = []string{"http/1.1"}
			c := dialTLS(t, e.addr, cc)
			if got := c.ConnectionState().NegotiatedProtocol; got != "http/1.1" {
				t.Errorf("client: ALPN %q", got)
			}
			echoHash(t, c, 8<<20, 256<<10)
			echoHash(t, c, 64<<10, 7)
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			r := e.waitReasons(t, 1)
			if !errors.Is(r[0], evnet.ErrEOF) {
				t.Errorf("server: close reason %v, want ErrEOF (close_notify)", r[0])
			}
			e.mu.Lock()
			st := e.states[0]
			e.mu.Unlock()
			if st.Version != v.v || st.NegotiatedProtocol != "http/1.1" || st.ServerName != "localhost" {
				t.Errorf("server's state: version %x, ALPN %q, SNI %q", st.Version, st.NegotiatedProtocol, st.ServerName)
			}
			var paused int
			e.rl.Do(func() { paused = e.srv.pauses })
			t.Logf("server paused reading %d times", paused)
		})
	}
}

// TestTLSHalfClose: the client's close_notify is the server's EOF; the
// server still writes, then closes with its own close_notify, which the
// client reads as io.EOF after every byte.
func TestTLSHalfClose(t *testing.T) {
	p := getPKI(t)
	rl := startLoop(t)
	var reason error
	closed := make(chan struct{})
	h := evnet.Handler{
		OnData: func(c *evnet.Conn, b []byte) int { return len(b) },
		OnEOF: func(c *evnet.Conn) {
			c.Write(bytes.Repeat([]byte("after EOF "), 10000))
			c.Close()
		},
		OnClose: func(c *evnet.Conn, err error) { reason = err; close(closed) },
	}
	ln := listenTLS(t, rl, &evnet.TLSConfig{Config: p.ServerConfig()}, h)
	c := dialTLS(t, ln.Addr().String(), p.ClientConfig())
	defer c.Close()
	c.Write([]byte("hello"))
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if len(got) != 100000 {
		t.Fatalf("read %d bytes, want 100000", len(got))
	}
	<-closed
	if !errors.Is(reason, evnet.ErrLocalClose) {
		t.Fatalf("server: reason %v", reason)
	}
}

// TestTLSTruncated: a FIN without close_notify closes with ErrTruncated.
func TestTLSTruncated(t *testing.T) {
	p := getPKI(t)
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig()})
	c := dialTLS(t, e.addr, p.ClientConfig())
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	c.NetConn().Close() // no close_notify
	r := e.waitReasons(t, 1)
	if !errors.Is(r[0], evnet.ErrTruncated) {
		t.Fatalf("reason %v, want ErrTruncated", r[0])
	}
}

// TestTLSResumption: a second connection with the client's session cache
// resumes (a ticket), on TLS 1.2 and 1.3.
func TestTLSResumption(t *testing.T) {
	p := getPKI(t)
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig()})
			cc := p.ClientConfig()
			cc.MaxVersion = v.v
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i := range 2 {
				c := dialTLS(t, e.addr, cc)
				// A round trip: the TLS 1.3 ticket comes after the handshake.
				c.Write([]byte("x"))
				io.ReadFull(c, make([]byte, 1))
				if got := c.ConnectionState().DidResume; got != (i == 1) {
					t.Errorf("connection %d: DidResume %v", i, got)
				}
				c.Close()
			}
			e.waitReasons(t, 2)
			e.mu.Lock()
			defer e.mu.Unlock()
			if !e.states[1].DidResume {
				t.Errorf("server: second connection not resumed")
			}
		})
	}
}

// TestTLSClientCert: mTLS required; a client without a certificate gets
// an alert and the server a handshake error; with one, the server sees it.
func TestTLSClientCert(t *testing.T) {
	p := getPKI(t)
	sc := p.ServerConfig()
	sc.ClientAuth = tls.RequireAndVerifyClientCert
	sc.ClientCAs = p.CAPool
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			e := startTLSEcho(t, &evnet.TLSConfig{Config: sc})
			cc := p.ClientConfig()
			cc.MaxVersion = v.v
			// Without a certificate: the handshake fails (TLS 1.3 clients learn it
			// at their first read).
			c, err := tls.Dial("tcp", e.addr, cc)
			if err == nil {
				c.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = c.Read(make([]byte, 1))
				c.Close()
			}
			// An alert: bad_certificate (TLS 1.2), certificate_required (1.3).
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte("remote error: tls:")) {
				t.Errorf("client without a certificate: %v", err)
			}
			r := e.waitReasons(t, 1)
			if !errors.Is(r[0], evnet.ErrHandshake) {
				t.Errorf("server: reason %v, want ErrHandshake", r[0])
			}
			// With one.
			cc.Certificates = []tls.Certificate{p.Client}
			c = dialTLS(t, e.addr, cc)
			echoHash(t, c, 1000, 100)
			c.Close()
			e.waitReasons(t, 2)
			e.mu.Lock()
			defer e.mu.Unlock()
			if len(e.states) != 1 || len(e.states[0].PeerCertificates) != 1 ||
				e.states[0].PeerCertificates[0].Subject.CommonName != "eddy test client" {
				t.Errorf("server: %d opened, peer certificates %v", len(e.states), e.states)
			}
		})
	}
}

// goServer is a crypto/tls echo server on a goroutine per connection.
func goServer(t *testing.T, cfg *tls.Config) (addr string, resumed func() int) {
	return goServerTB(t, cfg)
}

func goServerTB(t testing.TB, cfg *tls.Config) (addr string, resumed func() int) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	n := 0
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
				tc := c.(*tls.Conn)
				tc.SetDeadline(time.Now().Add(30 * time.Second))
				if tc.Handshake() != nil {
					return
				}
				if tc.ConnectionState().DidResume {
					mu.Lock()
					n++
					mu.Unlock()
				}
				io.Copy(tc, tc)
			}()
		}
	}()
	return ln.Addr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// tlsClient is an evnet TLS client that sends data (in pieces, as the
// queue allows) and gathers what comes back.
type tlsClient struct {
	data   []byte
	sent   int
	got    []byte
	state  tls.ConnectionState
	opened bool
	reason error
	done   chan struct{}
}

func (cl *tlsClient) handler() evnet.Handler {
	cl.done = make(chan struct{})
	return evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			cl.opened = true
			cl.state, _ = c.TLSState()
			cl.pump(c)
		},
		OnDrain: cl.pump,
		OnData: func(c *evnet.Conn, p []byte) int {
			cl.got = append(cl.got, p...)
			if len(cl.got) == len(cl.data) {
				c.Close()
			}
			return len(p)
		},
		OnClose: func(c *evnet.Conn, err error) { cl.reason = err; close(cl.done) },
	}
}

func (cl *tlsClient) pump(c *evnet.Conn) {
	for cl.sent < len(cl.data) && !c.Full() {
		n := min(len(cl.data)-cl.sent, 10000)
		c.Write(cl.data[cl.sent : cl.sent+n])
		cl.sent += n
	}
}

// TestTLSDial: an evnet client against crypto/tls's server: a large
// transfer both ways, then session resumption, TLS 1.2 and 1.3.
func TestTLSDial(t *testing.T) {
	p := getPKI(t)
	for _, v := range tlsVersions {
		t.Run(v.name, func(t *testing.T) {
			sc := p.ServerConfig()
			sc.NextProtos = []string{"http/1.1"}
			addr, resumed := goServer(t, sc)
			rl := startLoop(t)
			cc := p.ClientConfig()
			cc.ServerName = "" // from the address: 127.0.0.1, an IP SAN
			cc.MaxVersion = v.v
			cc.NextProtos = []string{"http/1.1"}
			cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			d := evnet.Dialer{Timeout: 5 * time.Second, TLS: &evnet.TLSConfig{Config: cc}}
			for i, size := range []int{4 << 20, 1000} {
				cl := &tlsClient{data: make([]byte, size)}
				rand.Read(cl.data)
				var err error
				rl.Do(func() {
					var c *evnet.Conn
					c, err = d.Dial(rl.Loop, "tcp", addr, cl.handler())
					if err == nil {
						c.Write([]byte{}) // nothing: fine before the handshake
					}
				})
				if err != nil {
					t.Fatal(err)
				}
				select {
				case <-cl.done:
				case <-time.After(30 * time.Second):
					t.Fatal("timeout")
				}
				if !errors.Is(cl.reason, evnet.ErrLocalClose) || !bytes.Equal(cl.got, cl.data) {
					t.Fatalf("connection %d: reason %v, %d of %d bytes back", i, cl.reason, len(cl.got), len(cl.data))
				}
				if cl.state.Version != v.v || cl.state.NegotiatedProtocol != "http/1.1" || cl.state.DidResume != (i == 1) {
					t.Errorf("connection %d: version %x, ALPN %q, resumed %v", i, cl.state.Version, cl.state.NegotiatedProtocol, cl.state.DidResume)
				}
			}
			if n := resumed(); n != 1 {
				t.Errorf("server saw %d resumed sessions, want 1", n)
			}
		})
	}
}

// TestTLSDialEarlyWrite: bytes written right after Dial, before the
// handshake, are sent after it, in order.
func TestTLSDialEarlyWrite(t *testing.T) {
	p := getPKI(t)
	addr, _ := goServer(t, p.ServerConfig())
	rl := startLoop(t)
	cl := &tlsClient{data: []byte("early bytes, then more")}
	cl.sent = len(cl.data)
	rl.Do(func() {
		c, err := evnet.Dialer{TLS: &evnet.TLSConfig{Config: p.ClientConfig()}}.Dial(rl.Loop, "tcp", addr, cl.handler())
		if err != nil {
			t.Error(err)
			return
		}
		c.Write(cl.data[:12])
		c.Write(cl.data[12:])
	})
	<-cl.done
	if string(cl.got) != string(cl.data) {
		t.Fatalf("got %q (%v)", cl.got, cl.reason)
	}
}

// TestTLSDialBadCert: a server whose certificate the client does not
// trust: OnClose without OnOpen, with ErrHandshake wrapping crypto/tls's
// verification error.
func TestTLSDialBadCert(t *testing.T) {
	p := getPKI(t)
	addr, _ := goServer(t, p.ServerConfig())
	rl := startLoop(t)
	cl := &tlsClient{}
	rl.Do(func() {
		_, err := evnet.Dialer{TLS: &evnet.TLSConfig{Config: &tls.Config{}}}.Dial(rl.Loop, "tcp", addr, cl.handler())
		if err != nil {
			t.Error(err)
		}
	})
	<-cl.done
	var verr *tls.CertificateVerificationError
	if cl.opened || !errors.Is(cl.reason, evnet.ErrHandshake) || !errors.As(cl.reason, &verr) {
		t.Fatalf("opened %v, reason %v", cl.opened, cl.reason)
	}
}

// TestTLSSendFile: SendFile on a TLS connection reads, encrypts and sends
// the region in order with the writes around it, to a slow reader too.
func TestTLSSendFile(t *testing.T) {
	p := getPKI(t)
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	want := append(append([]byte("head"), data[100:]...), "middle"...)
	want = append(append(want, data[:5000]...), "tail"...)
	rl := startLoop(t)
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			c.SetWriteBuffer(4096) // the socket fills: the records wait in the queue
			c.Write([]byte("head"))
			if err := c.SendFile(f, 100, int64(len(data)-100), func(error) {}); err != nil {
				t.Error(err)
			}
			c.Write([]byte("middle"))
			if err := c.SendFile(f, 0, 5000, nil); err != nil { // closes f when sent
				t.Error(err)
			}
			c.Write([]byte("tail"))
			c.Close()
		},
		OnData: func(c *evnet.Conn, b []byte) int { return len(b) },
	}
	ln := listenTLS(t, rl, &evnet.TLSConfig{Config: p.ServerConfig()}, h)
	for _, slow := range []bool{false, true} {
		d := &net.Dialer{Timeout: 5 * time.Second, Control: smallBuffers}
		c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), p.ClientConfig())
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(30 * time.Second))
		var r io.Reader = c
		if slow {
			r = &slowReader{Conn: c}
		}
		got, err := io.ReadAll(r)
		c.Close()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("slow %v: %d bytes of %d, equal %v, %v", slow, len(got), len(want), bytes.Equal(got, want), err)
		}
		t.Logf("slow %v: %d bytes, equal", slow, len(got))
	}
}

// TestTLSSendFileClosed: a TLS connection that closes with a region
// still in its pump gives the file back with the reason.
func TestTLSSendFileClosed(t *testing.T) {
	p := getPKI(t)
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	rl := startLoop(t)
	doneErr := make(chan error, 1)
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			c.SetWriteBuffer(4096)
			f, err := os.Open(path)
			if err != nil {
				t.Error(err)
				return
			}
			c.SendFile(f, 0, 8<<20, func(err error) { f.Close(); doneErr <- err })
		},
		OnData: func(c *evnet.Conn, b []byte) int { return len(b) },
	}
	ln := listenTLS(t, rl, &evnet.TLSConfig{Config: p.ServerConfig()}, h)
	d := &net.Dialer{Timeout: 5 * time.Second, Control: smallBuffers}
	c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), p.ClientConfig())
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(c, make([]byte, 100000))
	c.NetConn().(*net.TCPConn).SetLinger(0)
	c.NetConn().Close()
	select {
	case err := <-doneErr:
		if err == nil {
			t.Fatal("done(nil): the region was not all sent")
		}
		t.Logf("done: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("done not called")
	}
}

// TestTLSGroup: a Group's TLS listeners, TCP (a listener per loop) and
// Unix (one acceptor handing connections to the loops): every loop
// serves TLS, and a session resumes whichever loop takes the next
// connection, the loops of one Listen sharing one tls.Config. Two Listen
// calls clone the Config twice, with their own automatic ticket keys:
// keys set with SetSessionTicketKeys make sessions resume across them.
func TestTLSGroup(t *testing.T) {
	p := getPKI(t)
	g, err := evnet.NewGroup(&evnet.GroupConfig{Loops: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(time.Second)
	srv := &echoServer{}
	var mu sync.Mutex
	resumed := 0
	srv.onOpen = func(c *evnet.Conn) {
		if st, _ := c.TLSState(); st.DidResume {
			mu.Lock()
			resumed++
			mu.Unlock()
		}
	}
	h := srv.handler()
	h.OnOpen = func(c *evnet.Conn) { srv.onOpen(c) } // the loops share srv: only onOpen runs
	h.OnClose = nil
	sc := p.ServerConfig()
	sc.SetSessionTicketKeys([][32]byte{{1, 2, 3}})
	lc := evnet.ListenConfig{TLS: &evnet.TLSConfig{Config: sc}}
	ln, err := g.Listen("tcp", "127.0.0.1:0", lc, h)
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "tls.sock")
	if _, err := g.Listen("unix", sock, lc, h); err != nil {
		t.Fatal(err)
	}
	cc := p.ClientConfig()
	cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	const n = 12
	for i := range n {
		network, addr := "tcp", ln.Addr().String()
		if i%2 == 1 {
			network, addr = "unix", sock
		}
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, network, addr, cc)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		echoHash(t, c, 1000, 100) // the TLS 1.3 ticket comes meanwhile
		c.Close()
	}
	mu.Lock()
	if resumed != n-1 {
		t.Errorf("%d of %d connections resumed, want %d", resumed, n, n-1)
	}
	mu.Unlock()
	// Automatic ticket keys: the loops of one Listen share them.
	ln2, err := g.Listen("tcp", "127.0.0.1:0", evnet.ListenConfig{TLS: &evnet.TLSConfig{Config: p.ServerConfig()}}, h)
	if err != nil {
		t.Fatal(err)
	}
	cc.ClientSessionCache = tls.NewLRUClientSessionCache(4)
	for i := range 9 {
		c := dialTLS(t, ln2.Addr().String(), cc)
		echoHash(t, c, 100, 100)
		if got := c.ConnectionState().DidResume; got != (i > 0) {
			t.Errorf("automatic keys, connection %d: resumed %v", i, got)
		}
		c.Close()
	}
}

// TestTLSServerCloseWrite: the server's CloseWrite sends close_notify and
// a FIN, and it still reads: the client sees io.EOF, then writes, and the
// server gets the bytes.
func TestTLSServerCloseWrite(t *testing.T) {
	p := getPKI(t)
	rl := startLoop(t)
	got := make(chan string, 1)
	var buf []byte
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			c.Write([]byte("bye"))
			c.CloseWrite()
		},
		OnData: func(c *evnet.Conn, b []byte) int { buf = append(buf, b...); return len(b) },
		OnEOF:  func(c *evnet.Conn) { got <- string(buf); c.Close() },
	}
	ln := listenTLS(t, rl, &evnet.TLSConfig{Config: p.ServerConfig()}, h)
	c := dialTLS(t, ln.Addr().String(), p.ClientConfig())
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "bye" {
		t.Fatalf("client read %q, %v", b, err)
	}
	c.Write([]byte("still heard"))
	c.CloseWrite()
	if s := <-got; s != "still heard" {
		t.Fatalf("server got %q", s)
	}
}

// TestTLSIdleTimeoutAndSetHandler: the idle timeout counts after the
// handshake as before it, and SetHandler hands a TLS connection's
// plaintext, leftovers included, to the next handler.
func TestTLSIdleTimeoutAndSetHandler(t *testing.T) {
	p := getPKI(t)
	rl := startLoop(t)
	reason := make(chan error, 1)
	second := evnet.Handler{
		OnData: func(c *evnet.Conn, b []byte) int {
			c.Write(append([]byte("second:"), b...))
			return len(b)
		},
		OnClose: func(c *evnet.Conn, err error) { reason <- err },
	}
	first := evnet.Handler{
		OnData: func(c *evnet.Conn, b []byte) int {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return 0
			}
			c.Write([]byte("first:" + string(b[:i+1])))
			c.SetHandler(second) // the rest of b is second's
			return i + 1
		},
	}
	cfg := &evnet.TLSConfig{Config: p.ServerConfig()}
	var ln *evnet.Listener
	var err error
	rl.Do(func() {
		ln, err = evnet.ListenConfig{TLS: cfg, Conn: evnet.ConnConfig{IdleTimeout: 300 * time.Millisecond}}.Listen(rl.Loop, "tcp", "127.0.0.1:0", first)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Do(func() { ln.Close() })
	c := dialTLS(t, ln.Addr().String(), p.ClientConfig())
	defer c.Close()
	c.Write([]byte("line\nrest"))
	want := "first:line\nsecond:rest"
	b := make([]byte, len(want))
	if _, err := io.ReadFull(c, b); err != nil || string(b) != want {
		t.Fatalf("got %q, %v", b, err)
	}
	select {
	case err := <-reason:
		if !errors.Is(err, evnet.ErrTimeout) {
			t.Fatalf("reason %v, want ErrTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no idle timeout")
	}
}

// TestCertFiles: a certificate replaced on disk is served to the next
// handshakes; a broken replacement keeps the one in use, with the error
// logged.
func TestCertFiles(t *testing.T) {
	p := getPKI(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	replace := func(path string, b []byte) { // by rename, as certificate tools do
		tmp := path + ".new"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace(certFile, p.ServerCertPEM)
	replace(keyFile, p.ServerKeyPEM)
	rl := startLoop(t)
	logged := make(chan string, 10)
	var cf *evnet.CertFiles
	var err error
	rl.Do(func() {
		cf, err = evnet.LoadCertFiles(rl.Loop, certFile, keyFile, func(f string, a ...any) { logged <- fmt.Sprintf(f, a...) })
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Do(cf.Close)
	e := startTLSEcho(t, &evnet.TLSConfig{Config: &tls.Config{GetCertificate: cf.GetCertificate}})
	serial := func() int64 {
		c := dialTLS(t, e.addr, p.ClientConfig())
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if s := serial(); s != 2 {
		t.Fatalf("serial %d, want 2", s)
	}
	// A broken certificate: logged, the old one kept.
	replace(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"))
	select {
	case msg := <-logged:
		t.Logf("logged: %s", msg)
	case <-time.After(15 * time.Second):
		t.Fatal("the broken certificate was not reported")
	}
	if s := serial(); s != 2 {
		t.Fatalf("after a broken replacement: serial %d, want 2", s)
	}
	// A new certificate, then its key.
	np, err := testutil.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	old := cf.Certificate()
	replace(keyFile, np.ServerKeyPEM) // does not match the certificate yet: kept
	replace(certFile, np.ServerCertPEM)
	if !testutil.Eventually(15*time.Second, func() bool { return cf.Certificate() != old }) {
		t.Fatal("the new certificate was not loaded")
	}
	cc := p.ClientConfig()
	cc.RootCAs = np.CAPool
	c := dialTLS(t, e.addr, cc) // verifies against the new CA
	c.Close()
}

// TestStartTLS: a STARTTLS-like protocol. The server answers "GO" to a
// "STARTTLS" line and starts TLS, its client sending the ClientHello at
// once after the line (so the handshake starts with bytes OnData left)
// or after the answer; an evnet client starts TLS on its side the same
// way against crypto/tls.
func TestStartTLS(t *testing.T) {
	p := getPKI(t)
	rl := startLoop(t)
	cfg := &evnet.TLSConfig{Config: p.ServerConfig()}
	var mu sync.Mutex
	var states []tls.ConnectionState
	echo := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			st, _ := c.TLSState()
			mu.Lock()
			states = append(states, st)
			mu.Unlock()
		},
		OnData: func(c *evnet.Conn, b []byte) int { c.Write(b); return len(b) },
	}
	plain := evnet.Handler{
		OnData: func(c *evnet.Conn, b []byte) int {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return 0
			}
			if string(b[:i]) != "STARTTLS" {
				c.Close()
				return len(b)
			}
			c.Write([]byte("GO\n"))
			if err := c.StartTLSServer(cfg, echo); err != nil {
				t.Error(err)
			}
			return i + 1 // the rest, if any, is the ClientHello
		},
	}
	var ln *evnet.Listener
	var err error
	rl.Do(func() { ln, err = evnet.Listen(rl.Loop, "tcp", "127.0.0.1:0", plain) })
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Do(func() { ln.Close() })
	for _, eager := range []bool{true, false} {
		raw := rawDial(t, ln.Addr().String())
		sc := &startTLSConn{Conn: raw, eager: eager}
		if !eager {
			raw.Write([]byte("STARTTLS\n"))
			sc.readGo(t)
		}
		c := tls.Client(sc, p.ClientConfig())
		if err := c.Handshake(); err != nil {
			t.Fatalf("eager %v: %v", eager, err)
		}
		echoHash(t, c, 100000, 1000)
		c.Close()
	}
	mu.Lock()
	if len(states) != 2 || states[0].Version != tls.VersionTLS13 {
		t.Errorf("server: %d TLS connections opened", len(states))
	}
	mu.Unlock()

	// The client's side, against crypto/tls.
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer gl.Close()
	go func() {
		c, err := gl.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		line := make([]byte, 9)
		io.ReadFull(c, line)
		c.Write([]byte("GO\n"))
		tc := tls.Server(c, p.ServerConfig())
		io.Copy(tc, tc)
	}()
	cl := &tlsClient{data: []byte("hello after STARTTLS")}
	ch := cl.handler()
	first := evnet.Handler{
		OnOpen: func(c *evnet.Conn) { c.Write([]byte("STARTTLS\n")) },
		OnData: func(c *evnet.Conn, b []byte) int {
			if string(b) != "GO\n" {
				t.Errorf("got %q", b)
			}
			cc := p.ClientConfig()
			cc.ServerName = "" // the peer's address
			if err := c.StartTLSClient(&evnet.TLSConfig{Config: cc}, ch); err != nil {
				t.Error(err)
			}
			return len(b)
		},
		OnClose: ch.OnClose,
	}
	rl.Do(func() { _, err = evnet.Dial(rl.Loop, "tcp", gl.Addr().String(), 5*time.Second, first) })
	if err != nil {
		t.Fatal(err)
	}
	<-cl.done
	if string(cl.got) != string(cl.data) || cl.state.Version != tls.VersionTLS13 {
		t.Fatalf("client: got %q, version %x, reason %v", cl.got, cl.state.Version, cl.reason)
	}
}

// startTLSConn is a client's connection that says STARTTLS: eager, it
// sends the line in front of its first write (the ClientHello) and reads
// the server's answer before its first read.
type startTLSConn struct {
	net.Conn
	eager      bool
	wrote, got bool
}

func (s *startTLSConn) Write(p []byte) (int, error) {
	if s.eager && !s.wrote {
		s.wrote = true
		_, err := s.Conn.Write(append([]byte("STARTTLS\n"), p...))
		return len(p), err
	}
	return s.Conn.Write(p)
}

func (s *startTLSConn) Read(p []byte) (int, error) {
	if s.eager && !s.got {
		s.got = true
		b := make([]byte, 3)
		if _, err := io.ReadFull(s.Conn, b); err != nil || string(b) != "GO\n" {
			return 0, fmt.Errorf("answer %q, %v", b, err)
		}
	}
	return s.Conn.Read(p)
}

func (s *startTLSConn) readGo(t *testing.T) {
	b := make([]byte, 3)
	if _, err := io.ReadFull(s.Conn, b); err != nil || string(b) != "GO\n" {
		t.Fatalf("answer %q, %v", b, err)
	}
}

// TestTLSConfigPassedThrough: what the tls.Config asks is done as
// crypto/tls does it: SNI through GetCertificate, an OCSP staple, and
// TLS 1.2 as the minimum when MinVersion is 0 (without changing the
// caller's Config).
func TestTLSConfigPassedThrough(t *testing.T) {
	p := getPKI(t)
	other, err := testutil.NewPKI()
	if err != nil {
		t.Fatal(err)
	}
	stapled := p.Server
	stapled.OCSPStaple = []byte("a staple")
	var mu sync.Mutex
	var names, addrs []string
	sc := &tls.Config{GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		mu.Lock()
		names = append(names, hello.ServerName)
		addrs = append(addrs, hello.Conn.RemoteAddr().String()+" "+hello.Conn.LocalAddr().String())
		mu.Unlock()
		if hello.ServerName == "other.example" {
			return &other.Server, nil
		}
		return &stapled, nil
	}}
	e := startTLSEcho(t, &evnet.TLSConfig{Config: sc})
	if sc.MinVersion != 0 {
		t.Errorf("the caller's Config was changed: MinVersion %x", sc.MinVersion)
	}
	c := dialTLS(t, e.addr, p.ClientConfig())
	if got := string(c.ConnectionState().OCSPResponse); got != "a staple" {
		t.Errorf("OCSP staple %q", got)
	}
	mu.Lock()
	if want := c.LocalAddr().String() + " " + c.RemoteAddr().String(); len(addrs) != 1 || addrs[0] != want {
		t.Errorf("ClientHelloInfo.Conn's remote and local addresses %q, want %q", addrs, want)
	}
	mu.Unlock()
	c.Close()
	cc := p.ClientConfig()
	cc.ServerName = "other.example"
	cc.InsecureSkipVerify = true
	c = dialTLS(t, e.addr, cc)
	if cn := c.ConnectionState().PeerCertificates[0].Issuer.CommonName; cn != "eddy test CA" || c.ConnectionState().PeerCertificates[0].Equal(p.Server.Leaf) {
		t.Errorf("SNI other.example: certificate issued by %q, the default one: %v", cn, c.ConnectionState().PeerCertificates[0].Equal(p.Server.Leaf))
	}
	c.Close()
	mu.Lock()
	if len(names) != 2 || names[0] != "localhost" || names[1] != "other.example" {
		t.Errorf("GetCertificate saw %q", names)
	}
	mu.Unlock()
	cc = p.ClientConfig()
	cc.MaxVersion = tls.VersionTLS11
	cc.MinVersion = tls.VersionTLS10
	if c, err := tls.Dial("tcp", e.addr, cc); err == nil {
		c.Close()
		t.Error("a TLS 1.1 client was served")
	}
}
