package evws_test

import (
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"testing"

	"github.com/eddyloop/eddy/evws"
	"golang.org/x/sys/unix"
)

// TestIdleMemory measures the live heap per upgraded, idle connection
// after one echoed message, on the server's side: the clients are raw
// descriptors (no Go state). EDDY_WSMEM=N sets the count (default 2,000).
// The figure includes evnet's connection and what evhttp leaves behind.
func TestIdleMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	n := 2000
	if v, err := strconv.Atoi(os.Getenv("EDDY_WSMEM")); err == nil && v > 0 {
		n = v
	}
	t.Run("plain", func(t *testing.T) { idleMemory(t, n, "", frame(0x81, true, make([]byte, 64)), 1024) })
	t.Run("deflate", func(t *testing.T) {
		idleMemory(t, n, "Sec-WebSocket-Extensions: permessage-deflate\r\n", frame(0xc1, true, deflateRaw(make([]byte, 64))), 2048)
	})
}

// idleMemory measures the heap per connection upgraded with the extension
// offer ext and after the echo of msg, and checks it against limit.
func idleMemory(t *testing.T, n int, ext string, msg []byte, limit int64) {
	s := startServer(t, &evws.Config{Deflate: true}, echoHandler)
	handshake := []byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + testKey + "\r\n" + ext + "\r\n")
	buf := make([]byte, 4096)
	fds := make([]int, 0, n+1) // closed at the end; a Cleanup each would weigh on the heap measured
	t.Cleanup(func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	})
	sa := &unix.SockaddrInet4{Port: int(s.addr.Port()), Addr: s.addr.Addr().As4()}
	dial := func() int {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.CloseOnExec(fd)
		fds = append(fds, fd)
		if err := unix.Connect(fd, sa); err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		tv := unix.Timeval{Sec: 10}
		unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		write(fd, handshake)
		got := 0
		for got < 4 || string(buf[got-4:got]) != "\r\n\r\n" {
			k, err := read(fd, buf[got:])
			if err != nil || k <= 0 {
				t.Fatalf("handshake: %v", err)
			}
			got += k
		}
		write(fd, msg)
		if k, err := read(fd, buf); err != nil || k < 2 {
			t.Fatalf("echo: %d %v", k, err)
		}
		return fd
	}
	dial() // warm: the loop's buffers
	heap := func() uint64 {
		s.rl.Barrier()
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for range n {
		dial()
	}
	after := heap()
	per := (int64(after) - int64(before)) / int64(n)
	t.Logf("%d idle upgraded connections: %d bytes of live heap each", n, per)
	if path := os.Getenv("EDDY_WSMEM_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	if per > limit {
		t.Errorf("%d bytes per idle connection, want at most %d", per, limit)
	}
}

// read and write are blocking system calls retried after EINTR (the
// runtime's preemption signals interrupt them).
func read(fd int, p []byte) (int, error) {
	for {
		n, err := unix.Read(fd, p)
		if err != unix.EINTR {
			return n, err
		}
	}
}

func write(fd int, p []byte) {
	for len(p) > 0 {
		n, err := unix.Write(fd, p)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return
		}
		p = p[n:]
	}
}
