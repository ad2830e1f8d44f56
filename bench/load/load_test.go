package main

import (
	"io"
	"net"
	"os"
	"testing"
	"time"
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
