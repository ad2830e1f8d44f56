package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
)

// startEchoUDP runs echoUDP on a fresh port of addr ("127.0.0.1" or "::1")
// on a loop running in its own goroutine, and stops both when the test
// ends. It returns the server's address and what it logged.
func startEchoUDP(t *testing.T, addr string) (netip.AddrPort, func() string) {
	t.Helper()
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var log strings.Builder
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(&log, format+"\n", args...)
	}
	logged := func() string {
		mu.Lock()
		defer mu.Unlock()
		return log.String()
	}
	var ap netip.AddrPort
	var stop func()
	// echoUDP takes a fixed address: borrow a free port from the kernel.
	// Another process may take it in between, hence the retries.
	for try := 0; ; try++ {
		pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
		if err != nil {
			t.Fatal(err)
		}
		ap = pc.LocalAddr().(*net.UDPAddr).AddrPort()
		pc.Close()
		if stop, err = echoUDP(l, ap, logf); err == nil {
			break
		} else if try == 5 {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	t.Cleanup(func() {
		l.Post(stop)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("loop: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the loop did not stop after the echo server did")
		}
		l.Close()
	})
	return ap, logged
}

// TestEchoUDP sends datagrams of many sizes from two clients, over IPv4
// and IPv6, and reads each one back.
func TestEchoUDP(t *testing.T) {
	for _, addr := range []string{"127.0.0.1", "::1"} {
		t.Run(addr, func(t *testing.T) {
			ap, logged := startEchoUDP(t, addr)
			var clients []*net.UDPConn
			for range 2 {
				c, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(ap))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				clients = append(clients, c)
			}
			buf := make([]byte, 70000)
			for i := range 200 {
				c := clients[i%2]
				msg := bytes.Repeat([]byte{byte(i)}, 1+i*i*7%60000)
				if _, err := c.Write(msg); err != nil {
					t.Fatal(err)
				}
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, err := c.Read(buf)
				if err != nil {
					t.Fatalf("datagram %d: %v", i, err)
				}
				if !bytes.Equal(buf[:n], msg) {
					t.Fatalf("datagram %d: %d bytes back, want %d", i, n, len(msg))
				}
			}
			if s := logged(); s != "" {
				t.Errorf("unexpected log:\n%s", s)
			}
		})
	}
}

// TestEchoUDPSocat checks interoperability with socat, a peer that is not
// Go: it sends a line and prints what comes back.
func TestEchoUDPSocat(t *testing.T) {
	socat := testutil.NeedPeer(t, "socat", "socat")
	for _, tc := range []struct{ addr, peer string }{
		{"127.0.0.1", "UDP4:127.0.0.1:%d"},
		{"::1", "UDP6:[::1]:%d"},
	} {
		t.Run(tc.addr, func(t *testing.T) {
			ap, _ := startEchoUDP(t, tc.addr)
			// -t: after stdin's EOF, wait this long for the reply, then exit.
			cmd := exec.Command(socat, "-t", "1", "-", fmt.Sprintf(tc.peer, ap.Port()))
			cmd.Stdin = strings.NewReader("hello from socat\n")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("socat: %v\n%s", err, stderr.Bytes())
			}
			if string(out) != "hello from socat\n" {
				t.Errorf("socat got %q back", out)
			}
		})
	}
}
