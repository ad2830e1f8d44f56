package evnet_test

// The TLS layer against other TLS stacks: openssl s_client (OpenSSL) and
// gnutls-cli (GnuTLS), each talking to an evnet TLS echo server.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// peerSession is a TLS client program talking to the server: lines go to
// its standard input, and its standard output is watched for lines.
type peerSession struct {
	t      *testing.T
	cmd    *exec.Cmd
	in     io.WriteCloser
	mu     sync.Mutex
	out    []string
	cancel context.CancelFunc
	done   chan struct{}
}

func startPeer(t *testing.T, name string, args ...string) *peerSession {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	s := &peerSession{t: t, cmd: exec.CommandContext(ctx, name, args...), cancel: cancel, done: make(chan struct{})}
	var err error
	if s.in, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.mu.Lock()
			s.out = append(s.out, sc.Text())
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { s.close() })
	return s
}

// send writes line and a newline to the peer's input.
func (s *peerSession) send(line string) {
	io.WriteString(s.in, line+"\n")
}

// expect waits for a line of output that contains want, after the
// first skip lines, and returns the index of the line after it.
func (s *peerSession) expect(skip int, want string) int {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		for i := skip; i < len(s.out); i++ {
			if strings.Contains(s.out[i], want) {
				s.mu.Unlock()
				return i + 1
			}
		}
		s.mu.Unlock()
		select {
		case <-s.done:
			s.mu.Lock()
			out := strings.Join(s.out, "\n")
			s.mu.Unlock()
			s.t.Fatalf("%s ended without %q:\n%s", s.cmd.Path, want, out)
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no %q from %s", want, s.cmd.Path)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// close ends the peer's input and waits for it to exit.
func (s *peerSession) close() {
	s.in.Close()
	s.cmd.Wait()
	s.cancel()
}

// TestTLSOpenSSL: openssl s_client against the evnet TLS echo server:
// TLS 1.2 and 1.3 with each of their suites crypto/tls offers for an
// ECDSA certificate; a KeyUpdate with update_requested (s_client's "K")
// answered by the server's own; one without ("k"); a TLS 1.2
// renegotiation ("R") refused with an alert and a close.
func TestTLSOpenSSL(t *testing.T) {
	openssl := testutil.NeedPeer(t, "openssl", "openssl")
	p := getPKI(t)
	_, _, ca := p.Files(t)
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig()})
	closed := 0
	run := func(t *testing.T, args ...string) *peerSession {
		return startPeer(t, openssl, append([]string{"s_client", "-connect", e.addr, "-CAfile", ca,
			"-verify_return_error", "-msg", "-no_ign_eof"}, args...)...)
	}
	suites := []struct{ version, suite string }{
		{"-tls1_3", "TLS_AES_128_GCM_SHA256"},
		{"-tls1_3", "TLS_AES_256_GCM_SHA384"},
		{"-tls1_3", "TLS_CHACHA20_POLY1305_SHA256"},
		{"-tls1_2", "ECDHE-ECDSA-AES128-GCM-SHA256"},
		{"-tls1_2", "ECDHE-ECDSA-AES256-GCM-SHA384"},
		{"-tls1_2", "ECDHE-ECDSA-CHACHA20-POLY1305"},
		{"-tls1_2", "ECDHE-ECDSA-AES128-SHA"},
	}
	for _, s := range suites {
		t.Run(s.suite, func(t *testing.T) {
			flag := "-cipher"
			if s.version == "-tls1_3" {
				flag = "-ciphersuites"
			}
			ps := run(t, s.version, flag, s.suite)
			ps.send("hello, " + s.suite)
			i := ps.expect(0, "Cipher is "+s.suite)
			ps.expect(i, "hello, "+s.suite)
			ps.close()
			closed++
			if r := e.waitReasons(t, closed); !errors.Is(r[closed-1], evnet.ErrEOF) {
				t.Errorf("server: reason %v, want ErrEOF (close_notify)", r[closed-1])
			}
		})
	}
	t.Run("KeyUpdate", func(t *testing.T) {
		ps := run(t, "-tls1_3")
		ps.send("before")
		i := ps.expect(0, "before")
		// s_client takes a command only alone in its read of the input: each
		// is sent once the one before has been seen through.
		const sent, got = ">>> TLS 1.3, Handshake [length 0005], KeyUpdate", "<<< TLS 1.3, Handshake [length 0005], KeyUpdate"
		ps.send("K") // update_requested: the server must update its key too
		i = ps.expect(i, got)
		ps.send("after K")
		i = ps.expect(i, "after K")
		ps.send("k") // not requested: no answer
		i = ps.expect(i, sent)
		ps.send("after k")
		i = ps.expect(i, "after k")
		for range 20 { // many, each answered (crypto/tls refuses more than 16
			// in a row without application data between them, a DoS guard)
			ps.send("K")
			i = ps.expect(i, got)
			ps.send("data")
			i = ps.expect(i, "data")
		}
		ps.close()
		closed++
		if r := e.waitReasons(t, closed); !errors.Is(r[closed-1], evnet.ErrEOF) {
			t.Errorf("server: reason %v, want ErrEOF", r[closed-1])
		}
	})
	t.Run("renegotiation", func(t *testing.T) {
		ps := run(t, "-tls1_2")
		ps.send("hello")
		i := ps.expect(0, "hello")
		ps.send("R")
		ps.expect(i, "Alert")
		ps.close()
		closed++
		r := e.waitReasons(t, closed)
		if reason := r[closed-1]; reason == nil || errors.Is(reason, evnet.ErrEOF) || errors.Is(reason, evnet.ErrHandshake) {
			t.Errorf("server: reason %v, want crypto/tls's error", reason)
		}
		t.Logf("server: %v", r[closed-1])
	})
}

// TestTLSGnuTLS: gnutls-cli, an independent TLS stack, against the evnet
// TLS echo server, TLS 1.2 and 1.3.
func TestTLSGnuTLS(t *testing.T) {
	gnutls := testutil.NeedPeer(t, "gnutls-cli", "gnutls-bin")
	p := getPKI(t)
	_, _, ca := p.Files(t)
	e := startTLSEcho(t, &evnet.TLSConfig{Config: p.ServerConfig()})
	host, port, _ := strings.Cut(e.addr, ":")
	for i, v := range []string{"TLS1.2", "TLS1.3"} {
		t.Run(v, func(t *testing.T) {
			ps := startPeer(t, gnutls, "--x509cafile="+ca, "--priority=NORMAL:-VERS-ALL:+VERS-"+v, "-p", port, host)
			ps.send("hello, gnutls")
			j := ps.expect(0, "- Description: ("+v+"-")
			ps.expect(j, "hello, gnutls")
			ps.close()
			if r := e.waitReasons(t, i+1); !errors.Is(r[i], evnet.ErrEOF) {
				t.Errorf("server: reason %v, want ErrEOF (close_notify)", r[i])
			}
		})
	}
}

// lineClient is an evnet TLS client whose input arrives as lines on a
// channel, for conversations with a peer process.
type lineClient struct {
	rl     *runLoop
	c      *evnet.Conn
	lines  chan string
	opened chan tls.ConnectionState
	closed chan error
	buf    []byte
}

func dialLines(t *testing.T, rl *runLoop, addr string, cfg *tls.Config) *lineClient {
	t.Helper()
	lc := &lineClient{rl: rl, lines: make(chan string, 1024), opened: make(chan tls.ConnectionState, 1), closed: make(chan error, 1)}
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			st, _ := c.TLSState()
			lc.opened <- st
		},
		OnData: func(c *evnet.Conn, p []byte) int {
			lc.buf = append(lc.buf, p...)
			for {
				i := bytes.IndexByte(lc.buf, '\n')
				if i < 0 {
					break
				}
				lc.lines <- string(lc.buf[:i])
				lc.buf = lc.buf[i+1:]
			}
			return len(p)
		},
		OnClose: func(c *evnet.Conn, err error) { lc.closed <- err },
	}
	var err error
	rl.Do(func() {
		lc.c, err = evnet.Dialer{Timeout: 5 * time.Second, TLS: &evnet.TLSConfig{Config: cfg}}.Dial(rl.Loop, "tcp", addr, h)
	})
	if err != nil {
		t.Fatal(err)
	}
	return lc
}

// state waits for the handshake and returns its state, or the close's
// reason.
func (lc *lineClient) state(t *testing.T) (tls.ConnectionState, error) {
	t.Helper()
	select {
	case st := <-lc.opened:
		return st, nil
	case err := <-lc.closed:
		return tls.ConnectionState{}, err
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake in 10s")
	}
	return tls.ConnectionState{}, nil
}

func (lc *lineClient) send(line string) {
	lc.rl.Do(func() { lc.c.Write([]byte(line + "\n")) })
}

func (lc *lineClient) expect(t *testing.T, want string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case l := <-lc.lines:
			if strings.Contains(l, want) {
				return
			}
		case err := <-lc.closed:
			t.Fatalf("closed (%v) before %q", err, want)
		case <-timeout:
			t.Fatalf("no %q in 10s", want)
		}
	}
}

// TestTLSOpenSSLServer: the evnet client against openssl s_server, TLS
// 1.2 and 1.3: lines both ways, session resumption, a KeyUpdate with
// update_requested answered, and client certificates required.
func TestTLSOpenSSLServer(t *testing.T) {
	openssl := testutil.NeedPeer(t, "openssl", "openssl")
	p := getPKI(t)
	cert, key, ca := p.Files(t)
	rl := startLoop(t)
	server := func(t *testing.T, args ...string) (*peerSession, string) {
		port := freePort(t, rl)
		ps := startPeer(t, openssl, append([]string{"s_server", "-accept", "127.0.0.1:" + port, "-cert", cert, "-key", key,
			"-CAfile", ca, "-msg", "-naccept", "2"}, args...)...) // it exits after its two connections
		ps.expect(0, "ACCEPT")
		return ps, "127.0.0.1:" + port
	}
	for _, v := range []struct {
		name, flag string
		version    uint16
	}{{"TLS1.2", "-tls1_2", tls.VersionTLS12}, {"TLS1.3", "-tls1_3", tls.VersionTLS13}} {
		t.Run(v.name, func(t *testing.T) {
			ps, addr := server(t, v.flag)
			cfg := p.ClientConfig()
			cfg.ClientSessionCache = tls.NewLRUClientSessionCache(4)
			for i := range 2 {
				lc := dialLines(t, rl, addr, cfg)
				st, err := lc.state(t)
				if err != nil {
					t.Fatal(err)
				}
				if st.Version != v.version || st.DidResume != (i == 1) {
					t.Errorf("connection %d: version %x, resumed %v", i, st.Version, st.DidResume)
				}
				lc.send("hello from evnet")
				ps.expect(0, "hello from evnet")
				ps.send("hello from openssl")
				lc.expect(t, "hello from openssl")
				if v.version == tls.VersionTLS13 && i == 0 {
					ps.send("K") // KeyUpdate, update_requested: the client answers with its own
					ps.expect(0, "<<< TLS 1.3, Handshake [length 0005], KeyUpdate")
					lc.send("after the update")
					ps.expect(0, "after the update")
					ps.send("still here")
					lc.expect(t, "still here")
				}
				lc.rl.Do(func() { lc.c.Close() })
				if err := <-lc.closed; !errors.Is(err, evnet.ErrLocalClose) {
					t.Errorf("close: %v", err)
				}
			}
		})
	}
	t.Run("mTLS", func(t *testing.T) {
		_, addr := server(t, "-Verify", "1", "-verify_return_error")
		cfg := p.ClientConfig()
		cfg.Certificates = []tls.Certificate{p.Client}
		lc := dialLines(t, rl, addr, cfg)
		if _, err := lc.state(t); err != nil {
			t.Fatalf("with a client certificate: %v", err)
		}
		lc.rl.Do(func() { lc.c.Close() })
		<-lc.closed
		// Without one: TLS 1.3 tells the client after its side of the
		// handshake, with an alert that closes the connection.
		lc = dialLines(t, rl, addr, p.ClientConfig())
		_, err := lc.state(t)
		if err == nil {
			lc.send("no certificate")
			select {
			case err = <-lc.closed:
			case <-time.After(10 * time.Second):
				t.Fatal("not closed without a client certificate")
			}
		}
		if err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Errorf("without a client certificate: %v", err)
		}
	})
}
