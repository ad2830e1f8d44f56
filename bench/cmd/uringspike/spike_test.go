package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs a server on a loopback port in its own locked thread (it never
// returns; the test binary's exit ends it) and returns the address.
func start(t *testing.T, backend string, o options, log io.Writer) string {
	t.Helper()
	lfd, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sa, err := unix.Getsockname(lfd)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		runtime.LockOSThread()
		var err error
		if backend == "epoll" {
			err = serveEpoll(lfd, o)
		} else {
			err = serveUring(lfd, o, log)
		}
		panic(err)
	}()
	return fmt.Sprintf("127.0.0.1:%d", sa.(*unix.SockaddrInet4).Port)
}

var variants = []struct {
	name, backend string
	o             options
}{
	{"epoll", "epoll", options{}},
	{"epoll-raw", "epoll", options{waitCall: waitRaw}},
	{"epoll-hold", "epoll", options{waitCall: waitHold}},
	{"uring-hold", "uring", options{setupFlags: setupSingleIssuer | setupDeferTaskrun, countWait: true, nbufs: 64, bufSize: 4096, waitCall: waitHold}},
	{"uring-raw-nosqarray", "uring", options{setupFlags: setupSingleIssuer | setupDeferTaskrun | setupNoSQArray, countWait: true, nbufs: 64, bufSize: 4096, waitCall: waitRaw}},
	{"uring", "uring", options{setupFlags: setupSingleIssuer | setupDeferTaskrun, countWait: true, nbufs: 64, bufSize: 4096}},
	{"uring-plain-coop", "uring", options{setupFlags: setupCoopTaskrun | setupSubmitAll, nbufs: 64, bufSize: 4096, regRing: true}},
	{"uring-tinybufs", "uring", options{setupFlags: setupSingleIssuer | setupDeferTaskrun, countWait: true, nbufs: 4, bufSize: 512}},
	{"uring-unavailable", "uring", options{simFail: true}},
}

func TestEcho(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			addr := start(t, v.backend, v.o, io.Discard)
			var wg sync.WaitGroup
			for i := 0; i < 8; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Error(err)
						return
					}
					defer c.Close()
					c.SetDeadline(time.Now().Add(20 * time.Second))
					for _, n := range []int{1, 64, 4097, 300000} {
						msg := bytes.Repeat([]byte{byte('a' + i)}, n)
						for j := range msg {
							msg[j] += byte(j % 7)
						}
						go c.Write(msg)
						got := make([]byte, n)
						if _, err := io.ReadFull(c, got); err != nil {
							t.Errorf("conn %d, %d bytes: %v", i, n, err)
							return
						}
						if !bytes.Equal(got, msg) {
							t.Errorf("conn %d, %d bytes: echo differs", i, n)
							return
						}
					}
				}(i)
			}
			wg.Wait()
		})
	}
}

func TestHTTP(t *testing.T) {
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			o := v.o
			o.http = true
			addr := start(t, v.backend, o, io.Discard)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(20 * time.Second))
			req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
			post := "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
			stream := strings.Repeat(req, 500) + post + req
			const want = 502
			// in pieces that split requests anywhere
			go func() {
				for i := 0; i < len(stream); i += 7 {
					c.Write([]byte(stream[i:min(i+7, len(stream))]))
				}
			}()
			br := bufio.NewReader(c)
			for i := 0; i < want; i++ {
				line, err := br.ReadString('!')
				if err != nil {
					t.Fatalf("response %d: %v", i, err)
				}
				if !strings.HasPrefix(line, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(line, "\r\n\r\nHello, World!") {
					t.Fatalf("response %d: %q", i, line)
				}
			}
			// a malformed request closes the connection
			c.Write([]byte("GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n"))
			if n, err := br.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("after a bad request: %d, %v; want EOF", n, err)
			}
		})
	}
}

func TestFallback(t *testing.T) {
	var log syncBuf
	addr := start(t, "uring", options{simFail: true}, &log)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("ping"))
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("echo after fallback: %q, %v", got, err)
	}
	if l := log.String(); !strings.Contains(l, "operation not permitted; falling back to epoll") || strings.Count(l, "\n") != 1 {
		t.Fatalf("log %q: want one line about falling back", l)
	}
}
