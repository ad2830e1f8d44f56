package evnet_test

// The TLS 1.3 record layer of evnet's own (tls13.go) against crypto/tls
// itself: a client that plays records one by one (after crypto/tls's
// handshake, with the secrets from its key log) sends the same program
// of records to a server with evnet's record layer and to one with
// crypto/tls's (TLSConfig.StdRecords); both must deliver the same
// plaintext and end the same way, with the same alert.

import (
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// oneRecordConn gives crypto/tls at most one record per Read, so that
// after the handshake the bytes it has not read are the test's.
type oneRecordConn struct {
	net.Conn
	buf  []byte
	left int // bytes of the current record still to give; -1: a header is next
}

func (o *oneRecordConn) Read(b []byte) (int, error) {
	if len(o.buf) == 0 {
		tmp := make([]byte, 32<<10)
		n, err := o.Conn.Read(tmp)
		if n == 0 {
			return 0, err
		}
		o.buf = tmp[:n]
	}
	if o.left <= 0 { // a header: give it alone
		if len(o.buf) < 5 {
			n := copy(b, o.buf)
			o.buf = o.buf[n:]
			o.left = -1
			return n, nil // crypto/tls reads on until the header is whole; rare
		}
		n := copy(b, o.buf[:5])
		o.left = int(o.buf[3])<<8 | int(o.buf[4])
		o.buf = o.buf[n:]
		return n, nil
	}
	n := copy(b, o.buf[:min(len(o.buf), o.left)])
	o.buf = o.buf[n:]
	o.left -= n
	return n, nil
}

// keyLog collects a client's key log lines.
type keyLog struct {
	mu    sync.Mutex
	lines []string
}

func (k *keyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.lines = append(k.lines, string(p))
	return len(p), nil
}

func (k *keyLog) secret(label string) []byte {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, l := range k.lines {
		f := strings.Fields(l)
		if len(f) == 3 && f[0] == label {
			b, _ := hex.DecodeString(f[2])
			return b
		}
	}
	return nil
}

// rawClient13 is a TLS 1.3 client whose records after crypto/tls's
// handshake are the test's.
type rawClient13 struct {
	conn *net.TCPConn
	rec  *evnet.Records13
	in   []byte // bytes from the server not parsed yet
}

func dialRaw13(t testing.TB, addr string) *rawClient13 {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	oc := &oneRecordConn{Conn: c}
	kl := &keyLog{}
	cfg := getPKI(t).ClientConfig()
	cfg.MinVersion = tls.VersionTLS13
	cfg.KeyLogWriter = kl
	tc := tls.Client(oc, cfg)
	if err := tc.Handshake(); err != nil {
		c.Close()
		t.Fatalf("handshake: %v", err)
	}
	if oc.left > 0 {
		t.Fatalf("crypto/tls stopped inside a record")
	}
	st := tc.ConnectionState()
	rec, err := evnet.NewRecords13(st.CipherSuite, kl.secret("SERVER_TRAFFIC_SECRET_0"), kl.secret("CLIENT_TRAFFIC_SECRET_0"))
	if err != nil {
		t.Fatal(err)
	}
	return &rawClient13{conn: c.(*net.TCPConn), rec: rec, in: oc.buf}
}

// outcome13 is how a program of records ended on the server and what
// the client received.
type outcome13 struct {
	plain   []byte // the plaintext the server's handler got
	reason  string // eof, truncated, or error
	alert   int    // the alert the client received (-1: none; unexpected_message for decode_error)
	detail  string
	ownSide bool // the server used evnet's record layer
}

func (o outcome13) same(p outcome13) bool {
	return bytes.Equal(o.plain, p.plain) && o.reason == p.reason && o.alert == p.alert
}

func (o outcome13) String() string {
	return fmt.Sprintf("%d bytes of plaintext (%x...), %s, alert %d (%s, own %v)", len(o.plain), o.plain[:min(len(o.plain), 16)], o.reason, o.alert, o.detail, o.ownSide)
}

// The program's operations: a byte each, then their arguments. What a
// program lacks reads as zeros.
const (
	opData    = iota // n, n bytes: an application data record
	opInner          // n (2 bytes), n bytes: a record whose whole inner plaintext is given
	opRaw            // n, n bytes: written as they are
	opKey            // b: a KeyUpdate with request_update b, then the client's next key
	opCorrupt        // i: flip a byte of the last record (at i, modulo its length)
	opHand           // n, n bytes: a handshake record
	opAlert          // level, description: an alert record
	opBig            // b: a record of 16384 bytes of data (b even) or of 16385 (b odd: too long)
	opNextKey        // the client's next key, without a KeyUpdate
	opCount
)

// play writes the records of prog to c (then a FIN) and reads what the
// server sends until it closes.
func (c *rawClient13) play(prog []byte) (alert int, err error) {
	var out []byte
	last := -1
	arg := func(n int) []byte {
		b := make([]byte, n)
		copy(b, prog)
		prog = prog[min(n, len(prog)):]
		return b
	}
	for len(prog) > 0 {
		op := prog[0] % opCount
		prog = prog[1:]
		start := len(out)
		switch op {
		case opData:
			out = c.rec.Seal(out, 23, arg(int(arg(1)[0])))
		case opInner:
			n := arg(2)
			out = c.rec.SealInner(out, arg(int(n[0])<<8|int(n[1])))
		case opRaw:
			out = append(out, arg(int(arg(1)[0]))...)
		case opKey:
			out = c.rec.Seal(out, 22, []byte{24, 0, 0, 1, arg(1)[0]})
			c.rec.UpdateOut()
		case opCorrupt:
			i := int(arg(1)[0])
			if last >= 0 && len(out) > last {
				out[last+i%(len(out)-last)] ^= 0x40
			}
			start = last
		case opHand:
			out = c.rec.Seal(out, 22, arg(int(arg(1)[0])))
		case opAlert:
			out = c.rec.Seal(out, 21, arg(2))
		case opBig:
			if len(out) > 1<<20 { // enough: the fuzzer would have the client write for long
				arg(1)
				break
			}
			if arg(1)[0]&1 == 0 {
				out = c.rec.Seal(out, 23, bytes.Repeat([]byte{'b'}, 16384))
			} else {
				out = c.rec.SealInner(out, append(bytes.Repeat([]byte{'b'}, 16385), 23))
			}
		case opNextKey:
			c.rec.UpdateOut()
		}
		last = start
	}
	go func() {
		c.conn.Write(out)
		c.conn.CloseWrite()
	}()
	alert = -1
	buf := make([]byte, 64<<10)
	for {
		n, rerr := c.conn.Read(buf)
		c.in = append(c.in, buf[:n]...)
		for len(c.in) >= 5 {
			rl := 5 + (int(c.in[3])<<8 | int(c.in[4]))
			if len(c.in) < rl {
				break
			}
			rec := c.in[:rl]
			c.in = c.in[rl:]
			p, typ, a := c.rec.Open(rec)
			if a != 0 {
				return alert, fmt.Errorf("a record from the server does not open (alert %d)", a-1)
			}
			switch typ {
			case 21:
				if len(p) == 2 && p[1] != 0 {
					alert = int(p[1])
					if alert == 50 {
						alert = 10
					}
				}
			case 22:
				for len(p) >= 4 {
					ml := 4 + (int(p[1])<<16 | int(p[2])<<8 | int(p[3]))
					if p[0] == 24 {
						c.rec.UpdateIn()
					}
					p = p[min(ml, len(p)):]
				}
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) || errors.Is(rerr, net.ErrClosed) || strings.Contains(rerr.Error(), "reset") {
				return alert, nil
			}
			return alert, rerr
		}
	}
}

// diffServer is a server that keeps the plaintext of each connection and
// how it ended.
type diffServer struct {
	addr string
	done chan outcome13
}

type diffConn struct {
	plain []byte
	own   bool
}

func startDiffServer(t testing.TB, std bool) *diffServer {
	t.Helper()
	s := &diffServer{done: make(chan outcome13, 1)}
	rl := startLoop(t)
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) { c.SetContext(&diffConn{own: evnet.OwnRecords(c)}) },
		OnData: func(c *evnet.Conn, p []byte) int {
			dc := c.Context().(*diffConn)
			dc.plain = append(dc.plain, p...)
			return len(p)
		},
		OnClose: func(c *evnet.Conn, err error) {
			dc, _ := c.Context().(*diffConn)
			if dc == nil {
				dc = &diffConn{}
			}
			o := outcome13{plain: dc.plain, reason: "error", detail: fmt.Sprint(err), ownSide: dc.own}
			switch {
			case errors.Is(err, evnet.ErrEOF):
				o.reason = "eof"
			case errors.Is(err, evnet.ErrTruncated):
				o.reason = "truncated"
			}
			s.done <- o
		},
	}
	var ln *evnet.Listener
	var err error
	cfg := &evnet.TLSConfig{Config: getPKI(t).ServerConfig(), StdRecords: std}
	rl.Do(func() { ln, err = evnet.ListenConfig{TLS: cfg}.Listen(rl.Loop, "tcp", "127.0.0.1:0", h) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rl.Do(func() { ln.Close() }) })
	s.addr = ln.Addr().String()
	return s
}

// run plays prog against s and returns the outcome.
func (s *diffServer) run(t testing.TB, prog []byte) outcome13 {
	t.Helper()
	c := dialRaw13(t, s.addr)
	defer c.conn.Close()
	alert, err := c.play(prog)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	select {
	case o := <-s.done:
		o.alert = alert
		return o
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not close the connection (a hang)")
		return outcome13{}
	}
}

// differential plays prog against both servers and compares.
func differential(t *testing.T, own, std *diffServer, prog []byte) outcome13 {
	t.Helper()
	a := own.run(t, prog)
	b := std.run(t, prog)
	if !a.ownSide || b.ownSide {
		t.Fatalf("record layers: own server's %v, std server's %v", a.ownSide, b.ownSide)
	}
	if !a.same(b) {
		t.Errorf("program %x:\nevnet:      %v\ncrypto/tls: %v", prog, a, b)
	}
	return a
}

// progs13 are programs of records, each with the end crypto/tls gives
// them (alert -1: none).
var progs13 = []struct {
	name   string
	prog   []byte
	reason string
	alert  int
}{
	{"data then FIN", cat(data("hello")), "truncated", -1},
	{"data then close_notify", cat(data("hello"), alertRec(1, 0)), "eof", -1},
	{"close_notify at error level", cat(data("x"), alertRec(2, 0)), "eof", -1},
	{"padding", cat(inner("padded\x17\x00\x00\x00\x00"), alertRec(1, 0)), "eof", -1},
	{"all zeros inside", cat(data("a"), inner("\x00\x00\x00")), "error", 10},
	{"no content type", cat(inner(""), data("e"), alertRec(1, 0)), "eof", -1}, // crypto/tls: empty application data
	{"empty records", cat(rep(16, data("")), data("z"), rep(16, data("")), alertRec(1, 0)), "eof", -1},
	{"too many empty records", cat(rep(17, data("")), data("z")), "error", 10},
	{"user_canceled ignored", cat(alertRec(1, 90), data("u"), alertRec(1, 0)), "eof", -1},
	{"fatal alert from the client", cat(data("f"), alertRec(2, 40)), "error", -1},
	{"alert of 3 bytes", cat(inner("\x02\x28\x00\x15")), "error", 10},
	{"KeyUpdate", cat(data("k1"), keyUpdate(0), data("k2"), alertRec(1, 0)), "eof", -1},
	{"KeyUpdate requested", cat(data("k1"), keyUpdate(1), data("k2"), keyUpdate(1), data("k3"), alertRec(1, 0)), "eof", -1},
	{"KeyUpdate bad request_update", cat(keyUpdate(2)), "error", 10},
	{"17 KeyUpdates in a row", cat(rep(17, keyUpdate(0))), "error", 10},
	{"KeyUpdate split over records", cat(hand("\x18\x00"), hand("\x00\x01\x00"), []byte{opNextKey}, data("s"), alertRec(1, 0)), "eof", -1},
	{"KeyUpdate then more in its record", cat(hand("\x18\x00\x00\x01\x00\x18")), "error", 10},
	{"handshake message cut by data", cat(hand("\x18\x00"), data("x")), "error", 10},
	{"a ClientHello after the handshake", cat(hand("\x01\x00\x00\x02\x03\x03")), "error", 10},
	{"a NewSessionTicket from a client", cat(hand("\x04\x00\x00\x00")), "error", 10},
	{"a huge handshake message", cat(hand("\x02\x02\x00\x00")), "error", 80},
	{"an empty handshake record", cat(hand("")), "error", 10},
	{"change_cipher_spec ignored", cat(raw("\x14\x03\x03\x00\x01\x01"), data("c"), alertRec(1, 0)), "eof", -1},
	{"bad change_cipher_spec", cat(raw("\x14\x03\x03\x00\x01\x02")), "error", 10},     // decode_error
	{"plaintext handshake record", cat(raw("\x16\x03\x03\x00\x01\x01")), "error", 20}, // decrypted first
	{"wrong record version", cat(raw("\x17\x03\x01\x00\x20"), rep(32, raw("\x00"))), "error", 70},
	{"bad tag", cat(data("ok"), data("corrupt me"), corrupt(7)), "error", 20},
	{"corrupted header", cat(data("ok"), data("corrupt me"), corrupt(1)), "error", 70},
	{"corrupted length", cat(data("ok"), data("corrupt me"), corrupt(3)), "truncated", -1},
	{"application data sealed as a handshake record's type", cat(raw("\x16\x03\x03\x00\x11"), rep(17, raw("\x00"))), "error", 20},
	{"too short for a tag", cat(raw("\x17\x03\x03\x00\x03abc")), "error", 20},
	{"oversized record", cat(raw("\x17\x03\x03\x41\x01")), "error", 22},
	{"largest record", cat(bigRec(0), bigRec(0), alertRec(1, 0)), "eof", -1},
	{"plaintext too long", cat(bigRec(1)), "error", 22},
	{"truncated record", cat(data("x"), raw("\x17\x03\x03\x00\x40abc")), "truncated", -1},
	{"data after close_notify", cat(data("a"), alertRec(1, 0), data("b")), "eof", -1},
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
func rep(n int, p []byte) []byte { return bytes.Repeat(p, n) }
func data(s string) []byte       { return append([]byte{opData, byte(len(s))}, s...) }
func inner(s string) []byte {
	return append([]byte{opInner, byte(len(s) >> 8), byte(len(s))}, s...)
}
func raw(s string) []byte           { return append([]byte{opRaw, byte(len(s))}, s...) }
func hand(s string) []byte          { return append([]byte{opHand, byte(len(s))}, s...) }
func keyUpdate(b byte) []byte       { return []byte{opKey, b} }
func corrupt(i byte) []byte         { return []byte{opCorrupt, i} }
func alertRec(level, d byte) []byte { return []byte{opAlert, level, d} }
func bigRec(b byte) []byte          { return []byte{opBig, b} }

// TestTLS13Differential: each program of progs13 against evnet's record
// layer and crypto/tls's: the same plaintext, the same end, the same
// alert, and the end written in the table.
func TestTLS13Differential(t *testing.T) {
	evnet.SetOwnRecordsDefault(t, true)
	own, std := startDiffServer(t, false), startDiffServer(t, true)
	for _, pc := range progs13 {
		t.Run(pc.name, func(t *testing.T) {
			o := differential(t, own, std, pc.prog)
			if o.reason != pc.reason || o.alert != pc.alert {
				t.Errorf("%s, alert %d; want %s, alert %d (%s)", o.reason, o.alert, pc.reason, pc.alert, o.detail)
			}
		})
	}
}

// FuzzTLS13Records: any program of records, after a real handshake,
// ends the same way on evnet's record layer as on crypto/tls's, with
// the same plaintext before, and never hangs or panics. The seeds are
// progs13 and testdata/fuzz/FuzzTLS13Records (EDDY_TLS13_CORPUS=1 writes
// progs13 there).
func FuzzTLS13Records(f *testing.F) {
	for _, pc := range progs13 {
		f.Add(pc.prog)
	}
	if os.Getenv("EDDY_TLS13_CORPUS") == "1" {
		dir := filepath.Join("testdata", "fuzz", "FuzzTLS13Records")
		os.MkdirAll(dir, 0o755)
		for i, pc := range progs13 {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", pc.prog)
			os.WriteFile(filepath.Join(dir, fmt.Sprintf("prog%02d", i)), []byte(body), 0o644)
		}
	}
	evnet.SetOwnRecordsDefault(f, true)
	own, std := startDiffServer(f, false), startDiffServer(f, true)
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) > 4096 {
			return
		}
		differential(t, own, std, prog)
	})
}

// TestTLS13OwnRecords: Go's crypto/tls clients against a TLS 1.3 echo
// server on evnet's record layer: 8 MiB and many small writes echoed
// (random sizes both ways), session tickets sent before the client's
// Finished (the default), after it (a client certificate requested) or
// not at all, resumption, a HelloRetryRequest (the client's key share
// for a group the server does not take), the state at OnOpen,
// close_notify both ways, and the server's state (TLSState, taken at the
// handshake's end) exporting the same keying material as the client's.
func TestTLS13OwnRecords(t *testing.T) {
	evnet.SetOwnRecordsDefault(t, true)
	p := getPKI(t)
	cases := []struct {
		name   string
		server func(*tls.Config)
		client func(*tls.Config)
	}{
		{"tickets", nil, nil},
		{"no tickets", func(c *tls.Config) { c.SessionTicketsDisabled = true }, nil},
		{"client certificate", func(c *tls.Config) {
			c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, p.CAPool
		}, func(c *tls.Config) { c.Certificates = []tls.Certificate{p.Client} }},
		{"resumed", nil, func(c *tls.Config) { c.ClientSessionCache = tls.NewLRUClientSessionCache(4) }},
		{"HelloRetryRequest", func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.X25519} },
			func(c *tls.Config) { c.CurvePreferences = []tls.CurveID{tls.CurveP256, tls.X25519} }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := p.ServerConfig()
			sc.NextProtos = []string{"http/1.1"}
			if tc.server != nil {
				tc.server(sc)
			}
			var mu sync.Mutex
			var own []bool
			e := startTLSEchoWith(t, &evnet.TLSConfig{Config: sc}, func(c *evnet.Conn) {
				mu.Lock()
				own = append(own, evnet.OwnRecords(c))
				mu.Unlock()
			})
			cc := p.ClientConfig()
			cc.NextProtos = []string{"http/1.1"}
			if tc.client != nil {
				tc.client(cc)
			}
			var ekm [][]byte // the client's exported keying material, per connection
			for i := range 2 {
				c := dialTLS(t, e.addr, cc)
				cs := c.ConnectionState()
				k, err := cs.ExportKeyingMaterial("EXPERIMENTAL eddy", nil, 32)
				if err != nil {
					t.Fatal(err)
				}
				ekm = append(ekm, k)
				echoHash(t, c, 8<<20, -100<<10)
				echoHash(t, c, 64<<10, -20)
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
				r := e.waitReasons(t, i+1)
				if !errors.Is(r[i], evnet.ErrEOF) {
					t.Errorf("server: close reason %v, want ErrEOF (close_notify)", r[i])
				}
			}
			e.mu.Lock()
			defer e.mu.Unlock()
			mu.Lock()
			defer mu.Unlock()
			for i := range e.states {
				st := &e.states[i]
				if !own[i] {
					t.Errorf("connection %d: crypto/tls's record layer", i)
				}
				if st.Version != tls.VersionTLS13 || st.NegotiatedProtocol != "http/1.1" || st.ServerName != "localhost" || !st.HandshakeComplete {
					t.Errorf("server's state: version %x, ALPN %q, SNI %q", st.Version, st.NegotiatedProtocol, st.ServerName)
				}
				if tc.name == "client certificate" && len(st.PeerCertificates) != 1 {
					t.Errorf("server's state: %d peer certificates", len(st.PeerCertificates))
				}
				if k, err := st.ExportKeyingMaterial("EXPERIMENTAL eddy", nil, 32); err != nil || !bytes.Equal(k, ekm[i]) {
					t.Errorf("connection %d: the server's exported keying material differs from the client's (%v)", i, err)
				}
				if tc.name == "resumed" && st.DidResume != (i == 1) {
					t.Errorf("connection %d: DidResume %v", i, st.DidResume)
				}
			}
		})
	}
}

// TestTLS13Fallback: connections that cannot use evnet's record layer
// keep crypto/tls's, and the program's KeyLogWriter and
// GetConfigForClient are still called: TLS 1.2, a GetConfigForClient
// that returns a config with TLS 1.2 at most, TLSConfig.StdRecords.
func TestTLS13Fallback(t *testing.T) {
	evnet.SetOwnRecordsDefault(t, true)
	p := getPKI(t)
	cases := []struct {
		name string
		cfg  func(*tls.Config, *evnet.TLSConfig)
		own  bool
	}{
		{"TLS 1.3", func(*tls.Config, *evnet.TLSConfig) {}, true},
		{"TLS 1.2", func(c *tls.Config, _ *evnet.TLSConfig) { c.MaxVersion = tls.VersionTLS12 }, false},
		{"StdRecords", func(_ *tls.Config, tc *evnet.TLSConfig) { tc.StdRecords = true }, false},
		{"GetConfigForClient", func(c *tls.Config, _ *evnet.TLSConfig) {
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
				n := p.ServerConfig()
				n.MaxVersion = tls.VersionTLS12
				return n, nil
			}
		}, false},
		{"GetConfigForClient nil", func(c *tls.Config, _ *evnet.TLSConfig) {
			c.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, nil }
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sc := p.ServerConfig()
			kl := &keyLog{}
			sc.KeyLogWriter = kl
			cfg := &evnet.TLSConfig{Config: sc}
			tc.cfg(sc, cfg)
			own := make(chan bool, 1)
			e := startTLSEchoWith(t, cfg, func(c *evnet.Conn) { own <- evnet.OwnRecords(c) })
			c := dialTLS(t, e.addr, p.ClientConfig())
			echoHash(t, c, 1<<20, -10<<10)
			c.Close()
			if got := <-own; got != tc.own {
				t.Errorf("evnet's record layer: %v, want %v", got, tc.own)
			}
			if sc.GetConfigForClient == nil || tc.name == "GetConfigForClient nil" {
				if kl.secret("CLIENT_TRAFFIC_SECRET_0") == nil && kl.secret("CLIENT_RANDOM") == nil {
					t.Errorf("the program's KeyLogWriter got %q", kl.lines)
				}
			}
		})
	}
}

// TestTLS13OpenSSL: openssl s_client with each TLS 1.3 suite against the
// echo server on evnet's record layer: lines both ways, KeyUpdates with
// and without update_requested, close_notify.
func TestTLS13OpenSSL(t *testing.T) {
	openssl := testutil.NeedPeer(t, "openssl", "openssl")
	evnet.SetOwnRecordsDefault(t, true)
	p := getPKI(t)
	_, _, ca := p.Files(t)
	var mu sync.Mutex
	var own []bool
	e := startTLSEchoWith(t, &evnet.TLSConfig{Config: p.ServerConfig()}, func(c *evnet.Conn) {
		mu.Lock()
		own = append(own, evnet.OwnRecords(c))
		mu.Unlock()
	})
	const got = "<<< TLS 1.3, Handshake [length 0005], KeyUpdate"
	const sent = ">>> TLS 1.3, Handshake [length 0005], KeyUpdate"
	for i, suite := range []string{"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run(suite, func(t *testing.T) {
			ps := startPeer(t, openssl, "s_client", "-connect", e.addr, "-CAfile", ca, "-verify_return_error",
				"-msg", "-no_ign_eof", "-tls1_3", "-ciphersuites", suite)
			ps.send("hello, " + suite)
			j := ps.expect(0, "Cipher is "+suite)
			j = ps.expect(j, "hello, "+suite)
			for range 3 {
				ps.send("K")
				j = ps.expect(j, got)
				ps.send("after K")
				j = ps.expect(j, "after K")
				ps.send("k")
				j = ps.expect(j, sent)
				ps.send("after k")
				j = ps.expect(j, "after k")
			}
			ps.close()
			if r := e.waitReasons(t, i+1); !errors.Is(r[i], evnet.ErrEOF) {
				t.Errorf("server: reason %v, want ErrEOF", r[i])
			}
			mu.Lock()
			defer mu.Unlock()
			if !own[i] {
				t.Errorf("crypto/tls's record layer")
			}
		})
	}
}

// TestTLS13KeyRoutes: the listener's key log router holds no handshake
// once they have ended, whether they succeeded, failed in crypto/tls, or
// their client went away after its ClientHello; a program's
// GetConfigForClient that returns a config of its own still gets
// evnet's record layer.
func TestTLS13KeyRoutes(t *testing.T) {
	evnet.SetOwnRecordsDefault(t, true)
	p := getPKI(t)
	own := make(chan bool, 8)
	sc := p.ServerConfig()
	e := startTLSEchoWith(t, &evnet.TLSConfig{Config: sc}, func(c *evnet.Conn) { own <- evnet.OwnRecords(c) })
	for range 3 {
		c := dialTLS(t, e.addr, p.ClientConfig())
		echoHash(t, c, 1<<10, 100)
		c.Close()
		if !<-own {
			t.Error("crypto/tls's record layer")
		}
	}
	untrusting := &tls.Config{ServerName: "localhost"} // fails on the server's certificate
	if c, err := tls.Dial("tcp", e.addr, untrusting); err == nil {
		c.Close()
		t.Fatal("a handshake without the CA succeeded")
	}
	c := dialRawHello(t, e.addr)
	c.Close()
	e.waitReasons(t, 5)
	var routes int
	e.rl.Do(func() { routes = evnet.KeyRoutes(e.ln) })
	if routes != 0 {
		t.Errorf("%d handshakes left with the key log router", routes)
	}

	other := p.ServerConfig()
	sc = p.ServerConfig()
	sc.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) { return other, nil }
	e = startTLSEchoWith(t, &evnet.TLSConfig{Config: sc}, func(c *evnet.Conn) { own <- evnet.OwnRecords(c) })
	c2 := dialTLS(t, e.addr, p.ClientConfig())
	echoHash(t, c2, 1<<10, 100)
	c2.Close()
	if !<-own {
		t.Error("a config from GetConfigForClient: crypto/tls's record layer")
	}
}

// dialRawHello connects to addr and sends a TLS 1.3 ClientHello, and no
// more.
func dialRawHello(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{ServerName: "localhost", MinVersion: tls.VersionTLS13}
	tls.Client(helloOnly{Conn: c}, cfg).Handshake() // fails: it reads nothing
	return c
}

// helloOnly is a net.Conn whose Read fails at once: a handshake over it
// stops after the ClientHello.
type helloOnly struct{ net.Conn }

func (helloOnly) Read([]byte) (int, error) { return 0, io.EOF }
