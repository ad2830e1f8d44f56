package sock

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestConnect: a nonblocking connect to a listener completes, and
// ConnectResult reports success; to a closed port it reports the refusal.
func TestConnect(t *testing.T) {
	sa, family, err := Sockaddr(netip.MustParseAddrPort("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	lfd, err := ListenStream(family, sa, ListenConfig{ReusePort: true, Backlog: 8})
	if err != nil {
		t.Fatal(err)
	}
	ap, err := LocalAddr(lfd)
	if err != nil {
		t.Fatal(err)
	}
	target, _, _ := Sockaddr(ap)
	fd, _, err := Connect(family, target, Buffers{})
	if err != nil {
		unix.Close(lfd)
		t.Fatal(err)
	}
	defer unix.Close(fd)
	waitWritable(t, fd)
	if err := ConnectResult(fd); err != nil {
		t.Fatalf("ConnectResult: %v", err)
	}
	if got, err := RemoteAddr(fd); err != nil || got != ap {
		t.Fatalf("RemoteAddr = %v, %v; want %v", got, err, ap)
	}
	if err := SetLinger(fd, 0); err != nil {
		t.Fatal(err)
	}
	unix.Close(lfd) // the port is closed now

	fd2, _, err := Connect(family, target, Buffers{})
	if err != nil {
		return // refused at once: fine
	}
	defer unix.Close(fd2)
	waitWritable(t, fd2)
	if err := ConnectResult(fd2); err != unix.ECONNREFUSED {
		t.Fatalf("ConnectResult to a closed port: %v, want ECONNREFUSED", err)
	}
}

func waitWritable(t *testing.T, fd int) {
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(pfd, int(5*time.Second/time.Millisecond))
	for err == unix.EINTR { // a signal of the runtime's (preemption)
		n, err = unix.Poll(pfd, int(5*time.Second/time.Millisecond))
	}
	if n != 1 || err != nil {
		t.Fatalf("poll: %d, %v", n, err)
	}
}

func TestUnixSockaddr(t *testing.T) {
	if _, err := UnixSockaddr(""); err == nil {
		t.Error("UnixSockaddr(\"\") succeeded")
	}
	sa, err := UnixSockaddr("@abstract")
	if err != nil || sa.Name != "@abstract" {
		t.Errorf("UnixSockaddr(@abstract) = %v, %v", sa, err)
	}
}

// TestRemoteAddr: RemoteAddr reads the peer's address and port, IPv4 and
// IPv6, without allocating; on a socket that is not connected it fails.
func TestRemoteAddr(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		sa, family, err := Sockaddr(netip.MustParseAddrPort(addr))
		if err != nil {
			t.Fatal(err)
		}
		lfd, err := ListenStream(family, sa, ListenConfig{Backlog: 8})
		if err != nil {
			t.Logf("%s: %v (no IPv6 here?)", addr, err)
			continue
		}
		defer unix.Close(lfd)
		ap, _ := LocalAddr(lfd)
		target, _, _ := Sockaddr(ap)
		fd, _, err := Connect(family, target, Buffers{})
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		waitWritable(t, fd)
		got, err := RemoteAddr(fd)
		if err != nil || got != ap {
			t.Errorf("RemoteAddr = %v, %v; want %v", got, err, ap)
		}
		if n := testing.AllocsPerRun(100, func() { RemoteAddr(fd) }); n != 0 {
			t.Errorf("RemoteAddr: %v allocations, want none", n)
		}
		if _, err := RemoteAddr(lfd); err == nil {
			t.Errorf("RemoteAddr of a listener: no error")
		}
	}
}
