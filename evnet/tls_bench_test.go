package evnet_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// tlsEchoRig is an evnet TLS echo server and an evnet TLS client on one
// loop, driven by hand on the caller's goroutine: the client writes a
// message, the loop runs until the echo is back. Both ends are counted.
type tlsEchoRig struct {
	l      *eddy.Loop
	client *evnet.Conn
	msg    []byte
	got    int
	open   int
}

func newTLSEchoRig(t testing.TB, size int, version uint16) *tlsEchoRig {
	return newTLSEchoRigStd(t, size, version, false)
}

// newTLSEchoRigStd is newTLSEchoRig whose server keeps crypto/tls's
// record layer (TLSConfig.StdRecords) if std.
func newTLSEchoRigStd(t testing.TB, size int, version uint16, std bool) *tlsEchoRig {
	t.Helper()
	p := getPKI(t)
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	r := &tlsEchoRig{l: l, msg: bytes.Repeat([]byte("m"), size)}
	srv := &echoServer{onOpen: func(*evnet.Conn) { r.open++ }}
	sc := p.ServerConfig()
	sc.MaxVersion = version
	ln, err := evnet.ListenConfig{TLS: &evnet.TLSConfig{Config: sc, StdRecords: std}}.Listen(l, "tcp", "127.0.0.1:0", srv.handler())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); srv.closeAll() })
	h := evnet.Handler{
		OnOpen: func(*evnet.Conn) { r.open++ },
		OnData: func(c *evnet.Conn, p []byte) int { r.got += len(p); return len(p) },
	}
	r.client, err = evnet.Dialer{TLS: &evnet.TLSConfig{Config: p.ClientConfig()}}.Dial(l, "tcp", ln.Addr().String(), h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.client.Abort() })
	for deadline := time.Now().Add(10 * time.Second); r.open < 2; {
		if time.Now().After(deadline) {
			t.Fatal("no handshake")
		}
		l.RunOnce()
	}
	return r
}

// round sends one message and runs the loop until its echo is back.
func (r *tlsEchoRig) round(t testing.TB) {
	r.got = 0
	if _, err := r.client.Write(r.msg); err != nil {
		t.Fatal(err)
	}
	for r.got < len(r.msg) {
		if err := r.l.RunOnce(); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkTLSEcho measures one message echoed over TLS: the client's
// encryption and write, the server's read, decryption, OnData, encryption
// and write, the client's read and decryption, with the loop iterations
// around them. TLS1.3std is TLS 1.3 with the server on crypto/tls's
// record layer (TLSConfig.StdRecords); the client is always crypto/tls's.
func BenchmarkTLSEcho(b *testing.B) {
	versions := []struct {
		name string
		v    uint16
		std  bool
	}{{"TLS1.2", tls.VersionTLS12, false}, {"TLS1.3", tls.VersionTLS13, false}, {"TLS1.3std", tls.VersionTLS13, true}}
	for _, v := range versions {
		for _, size := range []int{64, 1024, 16 << 10} {
			b.Run(v.name+"/"+byteSize(size), func(b *testing.B) {
				r := newTLSEchoRigStd(b, size, v.v, v.std)
				for range 10 {
					r.round(b)
				}
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					r.round(b)
				}
			})
		}
	}
}

// TestTLSEchoAllocs: echoing a message over TLS allocates nothing of
// evnet's in steady state. crypto/tls itself allocates 24 bytes for each
// record it reads into an empty buffer (readFromUntil's &atLeastReader
// escapes through bytes.Buffer.ReadFrom), which no transport can avoid:
// one at each end here for TLS 1.2, the message and its echo being a
// record each; for TLS 1.3 only the client's, the server being on
// evnet's record layer. If a Go release removes it, the test says so, to
// lower the bound.
func TestTLSEchoAllocs(t *testing.T) {
	for _, v := range tlsVersions {
		cryptoTLS := 2.0 // one record read at each end
		if v.v == tls.VersionTLS13 && evnet.OwnRecordsDefault() {
			cryptoTLS = 1 // the client's: the server's record layer is evnet's
		}
		r := newTLSEchoRig(t, 1024, v.v)
		for range 10 {
			r.round(t)
		}
		allocs := testing.AllocsPerRun(200, func() { r.round(t) })
		switch {
		case raceEnabled:
		case allocs > cryptoTLS:
			t.Errorf("%s: %v allocations per echoed message, want %v (crypto/tls's)", v.name, allocs, cryptoTLS)
		case allocs < cryptoTLS:
			t.Logf("%s: %v allocations per echoed message: crypto/tls no longer allocates per record read; lower the bound", v.name, allocs)
		}
	}
}

// BenchmarkTLSHandshake measures a full TLS 1.3 handshake (ECDSA P-256,
// no resumption) with a 1-byte echo, client and server in this process:
// the server on evnet, or crypto/tls's on a goroutine per connection, as
// net/http serves. The difference is what the layer adds to a handshake.
func BenchmarkTLSHandshake(b *testing.B) {
	p := getPKI(b)
	sc := p.ServerConfig()
	sc.SessionTicketsDisabled = true
	run := func(b *testing.B, addr string) {
		cc := p.ClientConfig()
		cc.CurvePreferences = []tls.CurveID{tls.X25519}
		buf := make([]byte, 1)
		b.ReportAllocs()
		cpu0 := processCPU()
		defer func() { b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N)/1e3, "cpu-µs/op") }()
		for b.Loop() {
			c, err := tls.Dial("tcp", addr, cc)
			if err != nil {
				b.Fatal(err)
			}
			c.Write(buf)
			if _, err := io.ReadFull(c, buf); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	}
	b.Run("evnet", func(b *testing.B) {
		rl := startLoop(b)
		srv := &echoServer{}
		ln := listen(b, rl, "tcp", "127.0.0.1:0", evnet.ListenConfig{TLS: &evnet.TLSConfig{Config: sc}}, srv)
		run(b, ln.Addr().String())
	})
	b.Run("crypto-tls", func(b *testing.B) {
		addr, _ := goServerTB(b, sc)
		run(b, addr)
	})
}

// processCPU returns the process's CPU time (user and system), in
// nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// TestWriteKeepsArgument: Conn.Write does not make its argument escape,
// plain or TLS, so that a caller's buffer on its stack stays there (the
// TLS path copies what it gives crypto/tls, whose Write lets its argument
// escape). A change that breaks this shows as one allocation here, and in
// every caller's allocation tests.
func TestWriteKeepsArgument(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := newTLSEchoRig(t, 32, tls.VersionTLS13)
	for range 10 {
		r.round(t)
	}
	allocs := testing.AllocsPerRun(100, func() {
		var b [32]byte // on the stack unless Write's p escapes
		r.got = 0
		r.client.Write(b[:])
		for r.got < len(b) {
			r.l.RunOnce()
		}
	})
	want := 2.0 // crypto/tls's own, one per record read at each end
	if evnet.OwnRecordsDefault() {
		want = 1 // the client's only
	}
	if allocs > want {
		t.Errorf("%v allocations per write of a stack buffer, want %v (crypto/tls's)", allocs, want)
	}
}
