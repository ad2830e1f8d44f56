package main

import (
	"bytes"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/eddyloop/eddy/bench/internal/hello"
	"github.com/eddyloop/eddy/bench/internal/httpcheck"
)

// echoServer serves TCP echo on a loopback port until the test ends.
func echoServer(t *testing.T) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

func TestEchoClosedLoopAndFixedRate(t *testing.T) {
	addr := echoServer(t)
	for _, rate := range []float64{0, 2000} {
		res, err := runEcho(echoConfig{addr: addr, conns: 4, size: 1000, rate: rate,
			warmup: 50 * time.Millisecond, window: 300 * time.Millisecond, pid: os.Getpid()})
		if err != nil {
			t.Fatalf("rate %v: %v", rate, err)
		}
		if res.Msgs == 0 || res.Errors != 0 || res.P50us <= 0 || res.P99us < res.P50us {
			t.Fatalf("rate %v: implausible result %+v", rate, res)
		}
		if rate > 0 && (res.MsgsPerS < rate/2 || res.MsgsPerS > rate*1.5) {
			t.Errorf("fixed rate %v: achieved %v msgs/s", rate, res.MsgsPerS)
		}
	}
}

func TestEchoDetectsWrongBytes(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // answers every message with the wrong bytes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					for i := range buf[:n] {
						buf[i] = '?'
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()
	_, err = runEcho(echoConfig{addr: ln.Addr().(*net.TCPAddr), conns: 2, size: 64,
		warmup: 10 * time.Millisecond, window: 200 * time.Millisecond})
	if err == nil {
		t.Fatal("no error for a server that echoes the wrong bytes")
	}
}

func TestIdle(t *testing.T) {
	addr := echoServer(t) // in this process, so -pid is our own
	res, err := runIdle(idleConfig{addr: addr, conns: 50, size: 64, pid: os.Getpid(),
		sources: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, settle: 10 * time.Millisecond, timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// The client ends are in this process too, so the server side is
	// 2 descriptors per connection here.
	if res.Accepted < 50 || res.RSSBefore <= 0 || res.RSSIdle <= 0 || res.RSSMsg <= 0 {
		t.Fatalf("implausible result %+v", res)
	}
}

// httpServer serves HTTP on a loopback port until the test ends; answer
// returns what to write for n complete requests read together.
func httpServer(t *testing.T, answer func(n int) []byte) *net.TCPAddr {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				var in []byte
				buf := make([]byte, 4096)
				for {
					m, err := c.Read(buf)
					if err != nil {
						return
					}
					in = append(in, buf[:m]...)
					n, used, bad := hello.Scan(in)
					if bad {
						return
					}
					in = in[:copy(in, in[used:])]
					if n > 0 {
						if _, err := c.Write(answer(n)); err != nil {
							return
						}
					}
				}
			}()
		}
	}()
	return ln.Addr().(*net.TCPAddr)
}

func TestHTTPClosedLoopAndFixedRate(t *testing.T) {
	addr := httpServer(t, func(n int) []byte { return hello.Append(nil, n) })
	for _, rate := range []float64{0, 2000} {
		res, err := runEcho(echoConfig{addr: addr, http: true, conns: 4, rate: rate,
			warmup: 50 * time.Millisecond, window: 300 * time.Millisecond, pid: os.Getpid()})
		if err != nil {
			t.Fatalf("rate %v: %v", rate, err)
		}
		if res.Proto != "http" || res.Msgs == 0 || res.Errors != 0 || res.P50us <= 0 || res.Size != len(httpcheck.Request) {
			t.Fatalf("rate %v: implausible result %+v", rate, res)
		}
		if rate > 0 && (res.MsgsPerS < rate/2 || res.MsgsPerS > rate*1.5) {
			t.Errorf("fixed rate %v: achieved %v msgs/s", rate, res.MsgsPerS)
		}
	}
}

func TestHTTPChecksResponses(t *testing.T) {
	resp := hello.Response()
	for _, c := range []struct {
		name   string
		answer func(n int) []byte
	}{
		{"wrong body", func(n int) []byte { return bytes.ReplaceAll(hello.Append(nil, n), []byte("World"), []byte("world")) }},
		{"missing body", func(n int) []byte { return bytes.Repeat(resp[:len(resp)-13], n) }},
		{"one too many", func(n int) []byte { return hello.Append(nil, n+1) }},
		{"404", func(n int) []byte { return bytes.ReplaceAll(hello.Append(nil, n), []byte("200 OK"), []byte("404 No")) }},
		{"close", func(n int) []byte {
			return bytes.ReplaceAll(hello.Append(nil, n), []byte("Server: bench"), []byte("Connection: close"))
		}},
	} {
		addr := httpServer(t, c.answer)
		res, err := runEcho(echoConfig{addr: addr, http: true, conns: 2,
			warmup: 10 * time.Millisecond, window: 200 * time.Millisecond})
		if err == nil {
			t.Errorf("%s: no error (%+v)", c.name, res)
		}
	}
}

func TestIdleHTTP(t *testing.T) {
	addr := httpServer(t, func(n int) []byte { return hello.Append(nil, n) })
	res, err := runIdle(idleConfig{addr: addr, http: true, conns: 50, size: 64, pid: os.Getpid(),
		sources: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, settle: 10 * time.Millisecond, timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if res.Proto != "http" || res.Accepted < 50 || res.RSSMsg <= 0 {
		t.Fatalf("implausible result %+v", res)
	}
	// A server that answers with a wrong response fails the run.
	bad := httpServer(t, func(n int) []byte { return []byte("HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n") })
	if _, err := runIdle(idleConfig{addr: bad, http: true, conns: 5, pid: os.Getpid(),
		sources: []net.IP{net.IPv4(127, 0, 0, 1).To4()}, settle: 10 * time.Millisecond, timeout: 5 * time.Second}); err == nil {
		t.Fatal("no error for a server answering 500")
	}
}
