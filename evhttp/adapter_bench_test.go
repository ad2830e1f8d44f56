package evhttp_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
)

// stdHello is the plaintext handler of the benchmarks, for net/http.
var stdHello = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "Hello, World!")
})

// benchServe serves h on a loop of its own (no debug mode) and returns
// the address.
func benchServe(b *testing.B, h evhttp.Handler) string {
	b.Helper()
	l, err := eddy.NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	srv := &evhttp.Server{Handler: h}
	ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	b.Cleanup(func() {
		srv.Close()
		<-done
		l.Close()
	})
	return ln.Addr().String()
}

// rawConn dials addr and learns the length of the server's responses
// (they differ only in their Date value) from a first GET.
func rawConn(b *testing.B, addr string) (net.Conn, int) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	n := 0
	c.Write([]byte(getReq))
	for !bytes.HasSuffix(buf[:n], []byte("Hello, World!")) {
		k, err := c.Read(buf[n:])
		if err != nil {
			b.Fatal(err)
		}
		n += k
	}
	return c, n
}

// rawGet sends one GET on c and reads its n-byte response into buf.
func rawGet(c net.Conn, n int, buf []byte) error {
	if _, err := c.Write([]byte(getReq)); err != nil {
		return err
	}
	for got := 0; got < n; {
		k, err := c.Read(buf[got:])
		if err != nil {
			return err
		}
		got += k
	}
	return nil
}

// parallelGets times GETs from 16 connections per processor at once,
// each one request at a time.
func parallelGets(b *testing.B, addr string) {
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		c, n := rawConn(b, addr)
		defer c.Close()
		buf := make([]byte, 4096)
		for pb.Next() {
			if err := rawGet(c, n, buf); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// rawGets times sequential GETs on one kept-alive TCP connection, with a
// client that allocates nothing: what is measured is the server's work.
func rawGets(b *testing.B, addr string) {
	c, n := rawConn(b, addr)
	defer c.Close()
	buf := make([]byte, 4096)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := rawGet(c, n, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdaptPlaintext: one GET at a time over loopback TCP, answered
// by the same plaintext handler through the adapter, by net/http's own
// server, and (for scale) by the native handler on the loop.
func BenchmarkAdaptPlaintext(b *testing.B) {
	b.Run("adapter", func(b *testing.B) { rawGets(b, benchServe(b, evhttp.Adapt(stdHello, nil))) })
	b.Run("net-http", func(b *testing.B) {
		ts := httptest.NewServer(stdHello)
		defer ts.Close()
		rawGets(b, ts.Listener.Addr().String())
	})
	b.Run("native", func(b *testing.B) { rawGets(b, benchServe(b, hello)) })
}

// BenchmarkAdaptPlaintextParallel is BenchmarkAdaptPlaintext with many
// connections at once: the adapter's loop feeding its pool, against
// net/http's goroutine per connection.
func BenchmarkAdaptPlaintextParallel(b *testing.B) {
	b.Run("adapter", func(b *testing.B) { parallelGets(b, benchServe(b, evhttp.Adapt(stdHello, nil))) })
	b.Run("net-http", func(b *testing.B) {
		ts := httptest.NewServer(stdHello)
		defer ts.Close()
		parallelGets(b, ts.Listener.Addr().String())
	})
	b.Run("native", func(b *testing.B) { parallelGets(b, benchServe(b, hello)) })
}

// pipelinedGets times bursts of 16 GETs pipelined in one write on one
// kept-alive connection, each op one request (the last burst may be
// shorter).
func pipelinedGets(b *testing.B, addr string) {
	const depth = 16
	c, n := rawConn(b, addr)
	defer c.Close()
	burst := []byte(strings.Repeat(getReq, depth))
	buf := make([]byte, 64<<10)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		k := min(depth, b.N-done)
		if _, err := c.Write(burst[:k*len(getReq)]); err != nil {
			b.Fatal(err)
		}
		for got := 0; got < k*n; {
			m, err := c.Read(buf[got:])
			if err != nil {
				b.Fatal(err)
			}
			got += m
		}
		done += k
	}
}

// BenchmarkAdaptPipelined: 16 GETs pipelined per write on one
// connection: the adapter serves them back to back on one goroutine and
// answers them in one write.
func BenchmarkAdaptPipelined(b *testing.B) {
	b.Run("adapter", func(b *testing.B) { pipelinedGets(b, benchServe(b, evhttp.Adapt(stdHello, nil))) })
	b.Run("net-http", func(b *testing.B) {
		ts := httptest.NewServer(stdHello)
		defer ts.Close()
		pipelinedGets(b, ts.Listener.Addr().String())
	})
	b.Run("native", func(b *testing.B) { pipelinedGets(b, benchServe(b, hello)) })
}
