package evnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
	"golang.org/x/sys/unix"
)

var (
	udpLo4 = netip.MustParseAddrPort("127.0.0.1:0")
	udpLo6 = netip.MustParseAddrPort("[::1]:0")
)

// udpNewLoop returns a loop in debug mode, closed when the test ends, and
// fails the test if the test leaves descriptors open.
func udpNewLoop(t testing.TB) *eddy.Loop {
	t.Helper()
	before := testutil.OpenFds()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		var extra []string
		if !testutil.Eventually(2*time.Second, func() bool {
			extra = nil
			for _, fd := range testutil.OpenFds() {
				if _, found := slices.BinarySearch(before, fd); !found {
					extra = append(extra, fd)
				}
			}
			return len(extra) == 0
		}) {
			t.Errorf("descriptors left open: %v", extra)
		}
	})
	l, err := eddy.NewLoop(&eddy.Config{Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// udpRun runs iterations of l on the test's goroutine until cond holds,
// and fails the test if it does not within d.
func udpRun(t testing.TB, l *eddy.Loop, d time.Duration, cond func() bool) {
	t.Helper()
	tick := eddy.NewTimer(func(*eddy.Timer) {}, 5*time.Millisecond, 5*time.Millisecond)
	tick.Start(l)
	defer tick.Stop()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		if err := l.RunOnce(); err != nil {
			t.Fatal(err)
		}
	}
}

// udpPaths runs f once with batching (where the system has it) and once
// with the per-datagram path forced.
func udpPaths(t *testing.T, f func(t *testing.T)) {
	for _, perPacket := range []bool{false, true} {
		name := "batch"
		if perPacket {
			name = "perpacket"
		}
		t.Run(name, func(t *testing.T) {
			udpForcePerPacket = perPacket
			defer func() { udpForcePerPacket = false }()
			f(t)
		})
	}
}

// udpMustListen listens on ap or fails the test.
func udpMustListen(t testing.TB, l *eddy.Loop, ap netip.AddrPort, h PacketHandler, cfg *PacketConfig) *PacketConn {
	t.Helper()
	c, err := ListenUDP(l, ap, h, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func udpEchoHandler(t testing.TB) PacketHandler {
	return func(c *PacketConn, p []byte, from netip.AddrPort) {
		if err := c.WriteTo(p, from); err != nil {
			t.Errorf("echo WriteTo %s: %v", from, err)
		}
	}
}

// TestUDPEchoMany sends thousands of datagrams each way between two
// PacketConns, in windows of 64 so that loopback drops none, and checks
// every payload and the sender's address.
func TestUDPEchoMany(t *testing.T) {
	for _, ap := range []netip.AddrPort{udpLo4, udpLo6} {
		t.Run(ap.Addr().String(), func(t *testing.T) {
			udpPaths(t, func(t *testing.T) {
				l := udpNewLoop(t)
				srv := udpMustListen(t, l, ap, udpEchoHandler(t), nil)
				got := make(map[uint32]bool)
				var bad error
				cli := udpMustListen(t, l, ap, func(c *PacketConn, p []byte, from netip.AddrPort) {
					if from != srv.LocalAddr() {
						bad = fmt.Errorf("reply from %s, want %s", from, srv.LocalAddr())
					}
					seq := binary.BigEndian.Uint32(p)
					if !bytes.Equal(p, udpPayload(seq)) {
						bad = fmt.Errorf("datagram %d corrupted: %d bytes", seq, len(p))
					}
					got[seq] = true
				}, nil)
				const total, window = 3000, 64
				for base := uint32(0); base < total; base += window {
					for seq := base; seq < base+window; seq++ {
						if err := cli.WriteTo(udpPayload(seq), srv.LocalAddr()); err != nil {
							t.Fatal(err)
						}
					}
					udpRun(t, l, 5*time.Second, func() bool { return len(got) == int(base+window) || bad != nil })
					if bad != nil {
						t.Fatal(bad)
					}
				}
			})
		})
	}
}

// udpPayload is datagram seq: its number, then 4 to 1400 bytes of pattern.
func udpPayload(seq uint32) []byte {
	p := make([]byte, 4+int(seq*37%1397)+4)
	binary.BigEndian.PutUint32(p, seq)
	for i := 4; i < len(p); i++ {
		p[i] = byte(seq) + byte(i)
	}
	return p
}

// TestUDPSenderAddress checks the address handed to the handler against
// the peers' own idea of their addresses, for IPv4, IPv6, and IPv4 into a
// dual-stack IPv6 socket (unmapped).
func TestUDPSenderAddress(t *testing.T) {
	cases := []struct{ listen, peer string }{
		{"127.0.0.1:0", "127.0.0.1:0"},
		{"[::1]:0", "[::1]:0"},
		{"[::]:0", "127.0.0.1:0"},
	}
	for _, tc := range cases {
		t.Run(tc.listen+"<-"+tc.peer, func(t *testing.T) {
			udpPaths(t, func(t *testing.T) {
				l := udpNewLoop(t)
				var from []netip.AddrPort
				var data []string
				srv := udpMustListen(t, l, netip.MustParseAddrPort(tc.listen), func(c *PacketConn, p []byte, f netip.AddrPort) {
					from = append(from, f)
					data = append(data, string(p))
					if err := c.WriteTo([]byte("re:"+string(p)), f); err != nil {
						t.Error(err)
					}
				}, nil)
				dst := srv.LocalAddr()
				if dst.Addr().IsUnspecified() {
					dst = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), dst.Port())
				}
				var peers []*net.UDPConn
				for range 2 {
					pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(tc.peer)))
					if err != nil {
						t.Fatal(err)
					}
					defer pc.Close()
					peers = append(peers, pc)
				}
				for i, pc := range peers {
					if _, err := pc.WriteToUDPAddrPort([]byte(fmt.Sprint("peer", i)), dst); err != nil {
						t.Fatal(err)
					}
					udpRun(t, l, 5*time.Second, func() bool { return len(from) == i+1 })
					want := pc.LocalAddr().(*net.UDPAddr).AddrPort()
					want = netip.AddrPortFrom(want.Addr().Unmap(), want.Port())
					if from[i] != want || data[i] != fmt.Sprint("peer", i) {
						t.Errorf("datagram %d: %q from %s, want %q from %s", i, data[i], from[i], fmt.Sprint("peer", i), want)
					}
					buf := make([]byte, 100)
					pc.SetReadDeadline(time.Now().Add(5 * time.Second))
					n, rfrom, err := pc.ReadFromUDPAddrPort(buf)
					if err != nil {
						t.Fatal(err)
					}
					if string(buf[:n]) != "re:"+fmt.Sprint("peer", i) || rfrom.Port() != dst.Port() {
						t.Errorf("reply %q from %s", buf[:n], rfrom)
					}
				}
			})
		})
	}
}

// TestUDPSendQueue covers the EAGAIN path: while the kernel "refuses"
// sends, datagrams are queued up to MaxQueuedPackets, the next one is
// dropped with ErrPacketQueueFull, and once sends succeed the queue is
// flushed in order on writable (with sendmmsg on Linux). Loopback never
// refuses a UDP send (TestUDPLoopbackNeverEAGAIN), so the refusal is
// injected at the system-call seam.
func TestUDPSendQueue(t *testing.T) {
	for _, ap := range []netip.AddrPort{udpLo4, udpLo6} {
		t.Run(ap.Addr().String(), func(t *testing.T) {
			udpPaths(t, func(t *testing.T) {
				l := udpNewLoop(t)
				var got [][]byte
				rcv := udpMustListen(t, l, ap, func(c *PacketConn, p []byte, from netip.AddrPort) {
					got = append(got, bytes.Clone(p))
				}, nil)
				const max = 100
				snd := udpMustListen(t, l, ap, func(*PacketConn, []byte, netip.AddrPort) {}, &PacketConfig{MaxQueuedPackets: max})
				full := true
				udpInjectSendErr = func(c *PacketConn) error {
					if c == snd && full {
						return unix.EAGAIN
					}
					return nil
				}
				defer func() { udpInjectSendErr = nil }()
				for i := range max {
					if err := snd.WriteTo(udpPayload(uint32(i)), rcv.LocalAddr()); err != nil {
						t.Fatalf("write %d: %v", i, err)
					}
				}
				if n := snd.QueuedPackets(); n != max {
					t.Fatalf("QueuedPackets = %d, want %d", n, max)
				}
				err := snd.WriteTo([]byte("one too many"), rcv.LocalAddr())
				if !errors.Is(err, ErrPacketQueueFull) {
					t.Fatalf("write past the cap: %v, want ErrPacketQueueFull", err)
				}
				// An iteration with the kernel still refusing keeps the queue.
				l.RunNoWait()
				if n := snd.QueuedPackets(); n != max || len(got) != 0 {
					t.Fatalf("after a refused flush: %d queued, %d received", n, len(got))
				}
				full = false
				udpRun(t, l, 5*time.Second, func() bool { return len(got) == max })
				for i, p := range got {
					if !bytes.Equal(p, udpPayload(uint32(i))) {
						t.Fatalf("datagram %d out of order or corrupted", i)
					}
				}
				if n := snd.QueuedPackets(); n != 0 {
					t.Errorf("QueuedPackets = %d after the flush", n)
				}
				// With the queue empty, a write goes straight to the kernel.
				if err := snd.WriteTo([]byte("direct"), rcv.LocalAddr()); err != nil || snd.QueuedPackets() != 0 {
					t.Fatalf("direct write: %v, %d queued", err, snd.QueuedPackets())
				}
				udpRun(t, l, 5*time.Second, func() bool { return len(got) == max+1 })
			})
		})
	}
}

// TestUDPSendQueueBytes checks the byte bound of the queue.
func TestUDPSendQueueBytes(t *testing.T) {
	l := udpNewLoop(t)
	snd := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) {}, &PacketConfig{MaxQueuedBytes: 1000})
	udpInjectSendErr = func(*PacketConn) error { return unix.EAGAIN }
	defer func() { udpInjectSendErr = nil }()
	dst := netip.MustParseAddrPort("127.0.0.1:9")
	if err := snd.WriteTo(make([]byte, 600), dst); err != nil {
		t.Fatal(err)
	}
	if err := snd.WriteTo(make([]byte, 600), dst); !errors.Is(err, ErrPacketQueueFull) {
		t.Fatalf("second write: %v, want ErrPacketQueueFull", err)
	}
	if err := snd.WriteTo(make([]byte, 400), dst); err != nil {
		t.Fatalf("write within the bound: %v", err)
	}
	// Close drops the queue.
	if err := snd.Close(); err != nil {
		t.Fatal(err)
	}
	if n := snd.QueuedPackets(); n != 0 {
		t.Errorf("QueuedPackets = %d after Close", n)
	}
}

// TestUDPLoopbackNeverEAGAIN documents why TestUDPSendQueue injects EAGAIN:
// even with the smallest SO_SNDBUF, loopback takes every datagram (those the
// receiver has no room for are dropped, not refused).
func TestUDPLoopbackNeverEAGAIN(t *testing.T) {
	l := udpNewLoop(t)
	rcv := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) {}, &PacketConfig{ReadBuffer: 1})
	snd := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) {}, &PacketConfig{WriteBuffer: 1})
	p := make([]byte, 60000)
	for i := range 2000 {
		if err := snd.WriteTo(p, rcv.LocalAddr()); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if n := snd.QueuedPackets(); n != 0 {
		t.Logf("loopback refused sends here after all: %d datagrams queued", n)
	}
}

// TestUDPConnRefused checks that a connected PacketConn reports the ICMP
// port unreachable of loopback as ECONNREFUSED, and stays open.
func TestUDPConnRefused(t *testing.T) {
	for _, ap := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(ap, func(t *testing.T) {
			udpPaths(t, func(t *testing.T) {
				// The port is bound, then closed; a test running at the same
				// time (a DNS server of evdns's, say) may be given it again
				// and answer: then the case is tried on another port.
				for try := 1; ; try++ {
					if !udpConnRefused(t, ap) {
						return
					}
					if try == 5 {
						t.Fatal("5 closed ports in a row were taken again and answered")
					}
					t.Logf("the closed port was taken again and answered: another port")
				}
			})
		})
	}
}

// udpConnRefused is TestUDPConnRefused on one closed port of ap's
// address. It reports whether a datagram came from the port, which then
// was not closed any more.
func udpConnRefused(t *testing.T, ap string) (reused bool) {
	l := udpNewLoop(t)
	pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(ap)))
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().(*net.UDPAddr).AddrPort()
	pc.Close()
	var reported error
	c, err := DialUDP(l, dead, func(*PacketConn, []byte, netip.AddrPort) { reused = true },
		&PacketConfig{OnError: func(c *PacketConn, err error) { reported = err }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.RemoteAddr() != dead {
		t.Errorf("RemoteAddr = %s, want %s", c.RemoteAddr(), dead)
	}
	if err := c.WriteTo([]byte("x"), dead); err == nil {
		t.Error("WriteTo on a connected PacketConn succeeded")
	}
	var writeErr error
	udpRun(t, l, 5*time.Second, func() bool {
		if reported == nil && writeErr == nil {
			writeErr = c.Write([]byte("ping"))
		}
		return reused || reported != nil || writeErr != nil
	})
	if reused {
		return true
	}
	err = reported
	if err == nil {
		err = writeErr
	}
	if !errors.Is(err, unix.ECONNREFUSED) {
		t.Fatalf("error = %v, want ECONNREFUSED", err)
	}
	t.Logf("reported: %v", err)
	if err := c.Write([]byte("again")); err != nil && !errors.Is(err, unix.ECONNREFUSED) {
		t.Errorf("Write after the error: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("Close after ECONNREFUSED: %v (the error must not close it)", err)
	}
	return false
}

// TestUDPLocalAddrLazy checks that DialUDP does not ask the system for
// the local address (getsockname) until LocalAddr is called, that the
// address is then the one datagrams come from and stays known after
// Close, and that ListenUDP's is known at once.
func TestUDPLocalAddrLazy(t *testing.T) {
	for _, ap := range []netip.AddrPort{udpLo4, udpLo6} {
		t.Run(ap.String(), func(t *testing.T) {
			l := udpNewLoop(t)
			var from []netip.AddrPort
			srv := udpMustListen(t, l, ap, func(c *PacketConn, p []byte, f netip.AddrPort) { from = append(from, f) }, nil)
			if !srv.localSet || srv.LocalAddr().Port() == 0 {
				t.Fatalf("ListenUDP: local address %s not known at once", srv.LocalAddr())
			}
			nop := func(*PacketConn, []byte, netip.AddrPort) {}
			c, err := DialUDP(l, srv.LocalAddr(), nop, nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.localSet {
				t.Error("DialUDP asked for the local address")
			}
			if err := c.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			udpRun(t, l, 5*time.Second, func() bool { return len(from) == 1 })
			if got := c.LocalAddr(); got != from[0] || !c.localSet {
				t.Errorf("LocalAddr = %s, want %s (the datagram's source)", got, from[0])
			}
			c.Close()
			if got := c.LocalAddr(); got != from[0] {
				t.Errorf("LocalAddr after Close = %s, want %s", got, from[0])
			}
			// Closed before anyone asked: the zero AddrPort, as
			// Conn.LocalAddr gives, and the old descriptor untouched.
			c2, err := DialUDP(l, srv.LocalAddr(), nop, nil)
			if err != nil {
				t.Fatal(err)
			}
			c2.Close()
			if got := c2.LocalAddr(); got.IsValid() {
				t.Errorf("LocalAddr, first asked after Close = %s, want the zero AddrPort", got)
			}
			// A bound local address is reported as bound.
			bound := netip.AddrPortFrom(ap.Addr(), 0)
			c3, err := DialUDP(l, srv.LocalAddr(), nop, &PacketConfig{LocalAddr: bound})
			if err != nil {
				t.Fatal(err)
			}
			defer c3.Close()
			if got := c3.LocalAddr(); got.Addr() != ap.Addr() || got.Port() == 0 {
				t.Errorf("LocalAddr of a socket bound to %s = %s", bound, got)
			}
			srv.Close()
			if !srv.LocalAddr().IsValid() {
				t.Error("ListenUDP: LocalAddr after Close lost")
			}
		})
	}
}

// TestUDPClose checks exactly-once OnClose, errors after Close, closing
// from inside the handler, and that a closed PacketConn never touches its
// old descriptor number once reused.
func TestUDPClose(t *testing.T) {
	udpPaths(t, func(t *testing.T) {
		l := udpNewLoop(t)
		var closes []error
		delivered := 0
		srv := udpMustListen(t, l, udpLo4, func(c *PacketConn, p []byte, from netip.AddrPort) {
			delivered++
			if err := c.Close(); err != nil {
				t.Errorf("Close in handler: %v", err)
			}
		}, &PacketConfig{OnClose: func(c *PacketConn, err error) { closes = append(closes, err) }})
		addr := srv.LocalAddr()
		oldFd := srv.fd
		cli := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) {}, nil)
		for range 10 {
			if err := cli.WriteTo([]byte("x"), addr); err != nil {
				t.Fatal(err)
			}
		}
		udpRun(t, l, 5*time.Second, func() bool { return len(closes) > 0 })
		l.RunNoWait()
		if delivered != 1 {
			t.Errorf("%d datagrams delivered, want 1: none after Close in the handler", delivered)
		}
		if len(closes) != 1 || closes[0] != nil {
			t.Errorf("OnClose calls: %v, want one with nil", closes)
		}
		if err := srv.Close(); !errors.Is(err, ErrClosed) {
			t.Errorf("second Close: %v, want ErrClosed", err)
		}
		if len(closes) != 1 {
			t.Errorf("OnClose ran %d times", len(closes))
		}
		// The descriptor number is free: a new socket likely gets it.
		reuse := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) {
			t.Error("the new socket received a datagram from a closed PacketConn")
		}, nil)
		t.Logf("old fd %d, new fd %d", oldFd, reuse.fd)
		for name, err := range map[string]error{
			"WriteTo":              srv.WriteTo([]byte("x"), reuse.LocalAddr()),
			"Write":                srv.Write([]byte("x")),
			"JoinGroup":            srv.JoinGroup(netip.MustParseAddr("239.1.2.3"), 0),
			"LeaveGroup":           srv.LeaveGroup(netip.MustParseAddr("239.1.2.3"), 0),
			"SetMulticastLoopback": srv.SetMulticastLoopback(true),
			"SetMulticastTTL":      srv.SetMulticastTTL(1),
			"SetMulticastIface":    srv.SetMulticastInterface(0),
		} {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close: %v, want ErrClosed", name, err)
			}
		}
		if err := cli.Write([]byte("x")); err == nil {
			t.Error("Write on an unconnected PacketConn succeeded")
		}
		l.RunNoWait()
	})
}

// TestUDPReplyErrors checks that a reply the kernel rejects (EMSGSIZE:
// longer than any UDP datagram) is reported: by WriteTo outside the
// handler, by OnError for a reply sent with the batch, and that the other
// replies of the batch still leave.
func TestUDPReplyErrors(t *testing.T) {
	udpPaths(t, func(t *testing.T) {
		l := udpNewLoop(t)
		var errs []error
		huge := make([]byte, 70000)
		srv := udpMustListen(t, l, udpLo4, func(c *PacketConn, p []byte, from netip.AddrPort) {
			if err := c.WriteTo(huge, from); err != nil {
				errs = append(errs, err)
			}
			if err := c.WriteTo(p, from); err != nil {
				t.Error(err)
			}
		}, &PacketConfig{OnError: func(c *PacketConn, err error) { errs = append(errs, err) }})
		var got []string
		cli := udpMustListen(t, l, udpLo4, func(c *PacketConn, p []byte, from netip.AddrPort) {
			got = append(got, string(p))
		}, nil)
		if err := cli.WriteTo(huge, srv.LocalAddr()); !errors.Is(err, unix.EMSGSIZE) {
			t.Errorf("WriteTo of %d bytes: %v, want EMSGSIZE", len(huge), err)
		}
		for _, m := range []string{"a", "b", "c"} {
			cli.WriteTo([]byte(m), srv.LocalAddr())
		}
		udpRun(t, l, 5*time.Second, func() bool { return len(got) == 3 && len(errs) == 3 })
		if strings.Join(got, "") != "abc" {
			t.Errorf("replies %q, want a b c", got)
		}
		for _, err := range errs {
			if !errors.Is(err, unix.EMSGSIZE) {
				t.Errorf("reported %v, want EMSGSIZE", err)
			}
		}
	})
}

// TestUDPRepliesQueued checks answers written from the handler while the
// kernel refuses sends: they wait in the queue, in order, and leave once it
// takes them again.
func TestUDPRepliesQueued(t *testing.T) {
	udpPaths(t, func(t *testing.T) {
		l := udpNewLoop(t)
		srv := udpMustListen(t, l, udpLo4, udpEchoHandler(t), nil)
		var got []string
		cli := udpMustListen(t, l, udpLo4, func(c *PacketConn, p []byte, from netip.AddrPort) {
			got = append(got, string(p))
		}, nil)
		full := true
		udpInjectSendErr = func(c *PacketConn) error {
			if c == srv && full {
				return unix.EAGAIN
			}
			return nil
		}
		defer func() { udpInjectSendErr = nil }()
		for i := range 10 {
			cli.WriteTo([]byte{'0' + byte(i)}, srv.LocalAddr())
		}
		udpRun(t, l, 5*time.Second, func() bool { return srv.QueuedPackets() == 10 })
		if len(got) != 0 {
			t.Fatalf("%d replies arrived while the kernel refused them", len(got))
		}
		full = false
		udpRun(t, l, 5*time.Second, func() bool { return len(got) == 10 })
		if s := strings.Join(got, ""); s != "0123456789" {
			t.Errorf("replies %q, want 0123456789", s)
		}
	})
}

// TestUDPTruncated checks that a datagram longer than MaxPacketSize is
// reported and dropped, and the next one delivered.
func TestUDPTruncated(t *testing.T) {
	udpPaths(t, func(t *testing.T) {
		l := udpNewLoop(t)
		var errs []error
		var got []string
		srv := udpMustListen(t, l, udpLo4, func(c *PacketConn, p []byte, from netip.AddrPort) {
			got = append(got, string(p))
		}, &PacketConfig{MaxPacketSize: 16, OnError: func(c *PacketConn, err error) { errs = append(errs, err) }})
		cli := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) {}, nil)
		cli.WriteTo(bytes.Repeat([]byte("x"), 100), srv.LocalAddr())
		cli.WriteTo([]byte("short"), srv.LocalAddr())
		udpRun(t, l, 5*time.Second, func() bool { return len(got) == 1 })
		if len(errs) != 1 || !errors.Is(errs[0], ErrPacketTruncated) || got[0] != "short" {
			t.Errorf("errors %v, datagrams %q", errs, got)
		}
	})
}

// TestUDPReadsPerEvent checks the fairness cap: one readiness event reads
// at most MaxReadsPerEvent datagrams.
func TestUDPReadsPerEvent(t *testing.T) {
	udpPaths(t, func(t *testing.T) {
		l := udpNewLoop(t)
		n := 0
		srv := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) { n++ }, &PacketConfig{MaxReadsPerEvent: 4})
		pc, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.LocalAddr()))
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		for range 20 {
			if _, err := pc.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.RunOnce(); err != nil {
			t.Fatal(err)
		}
		if n != 4 {
			t.Errorf("first event read %d datagrams, want 4", n)
		}
		udpRun(t, l, 5*time.Second, func() bool { return n == 20 })
	})
}

// TestUDPListenErrors covers the argument checks.
func TestUDPListenErrors(t *testing.T) {
	l := udpNewLoop(t)
	if _, err := ListenUDP(l, udpLo4, nil, nil); err == nil {
		t.Error("ListenUDP with a nil handler succeeded")
	}
	if _, err := ListenUDP(l, netip.AddrPort{}, func(*PacketConn, []byte, netip.AddrPort) {}, nil); err == nil {
		t.Error("ListenUDP on the zero address succeeded")
	}
	c := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) {}, nil)
	if err := c.WriteTo([]byte("x"), udpLo6); err == nil {
		t.Error("WriteTo an IPv6 address from an IPv4 socket succeeded")
	}
	if err := c.JoinGroup(netip.MustParseAddr("127.0.0.1"), 0); err == nil {
		t.Error("JoinGroup of a unicast address succeeded")
	}
	// SO_REUSEPORT lets two sockets share a port.
	h := func(*PacketConn, []byte, netip.AddrPort) {}
	a := udpMustListen(t, l, udpLo4, h, &PacketConfig{ReusePort: true})
	if _, err := ListenUDP(l, a.LocalAddr(), h, nil); err == nil {
		t.Error("a second bind without SO_REUSEPORT succeeded")
	}
	udpMustListen(t, l, a.LocalAddr(), h, &PacketConfig{ReusePort: true})
}

// TestUDPMulticast joins 239.1.2.3 on the loopback interface and sends to
// it from the same host, with loopback on and the outgoing interface set
// to lo (the default route may point elsewhere). For IPv6 it joins
// ff02::1:3 on lo; Linux's lo has no MULTICAST flag by default, so the kernel
// refuses to send there (ENETUNREACH): the test then checks join and leave
// only, and says so.
func TestUDPMulticast(t *testing.T) {
	lo := udpLoopbackInterface(t)
	t.Run("v4", func(t *testing.T) {
		udpPaths(t, func(t *testing.T) {
			l := udpNewLoop(t)
			group := netip.MustParseAddr("239.1.2.3")
			var got []string
			rcv := udpMustListen(t, l, netip.MustParseAddrPort("0.0.0.0:0"), func(c *PacketConn, p []byte, from netip.AddrPort) {
				got = append(got, string(p))
			}, nil)
			if err := rcv.JoinGroup(group, lo.Index); err != nil {
				t.Fatalf("JoinGroup %s on %s: %v", group, lo.Name, err)
			}
			snd := udpMustListen(t, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) {}, nil)
			for _, err := range []error{snd.SetMulticastInterface(lo.Index), snd.SetMulticastLoopback(true), snd.SetMulticastTTL(1)} {
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := snd.SetMulticastTTL(256); err == nil {
				t.Error("SetMulticastTTL(256) succeeded")
			}
			dst := netip.AddrPortFrom(group, rcv.LocalAddr().Port())
			if err := snd.WriteTo([]byte("hello group"), dst); err != nil {
				t.Fatalf("WriteTo %s: %v", dst, err)
			}
			udpRun(t, l, 5*time.Second, func() bool { return len(got) == 1 })
			if got[0] != "hello group" {
				t.Errorf("got %q", got[0])
			}
			if err := rcv.LeaveGroup(group, lo.Index); err != nil {
				t.Errorf("LeaveGroup: %v", err)
			}
			if err := rcv.LeaveGroup(group, lo.Index); err == nil {
				t.Error("leaving a group twice succeeded")
			}
		})
	})
	t.Run("v6", func(t *testing.T) {
		l := udpNewLoop(t)
		group := netip.MustParseAddr("ff02::1:3")
		var got []string
		rcv := udpMustListen(t, l, netip.MustParseAddrPort("[::]:0"), func(c *PacketConn, p []byte, from netip.AddrPort) {
			got = append(got, string(p))
		}, nil)
		if err := rcv.JoinGroup(group, lo.Index); err != nil {
			t.Fatalf("JoinGroup %s on %s: %v", group, lo.Name, err)
		}
		if err := rcv.JoinGroup(netip.MustParseAddr("239.1.2.3"), lo.Index); err == nil {
			t.Error("an IPv6 socket joined an IPv4 group")
		}
		snd := udpMustListen(t, l, netip.MustParseAddrPort("[::]:0"), func(*PacketConn, []byte, netip.AddrPort) {}, nil)
		for _, err := range []error{snd.SetMulticastInterface(lo.Index), snd.SetMulticastLoopback(true), snd.SetMulticastTTL(1)} {
			if err != nil {
				t.Fatal(err)
			}
		}
		dst := netip.AddrPortFrom(group.WithZone(lo.Name), rcv.LocalAddr().Port())
		err := snd.WriteTo([]byte("hello group6"), dst)
		switch {
		case errors.Is(err, unix.ENETUNREACH) && lo.Flags&net.FlagMulticast == 0:
			t.Logf("IPv6 multicast send on %s refused (%v): the interface has no MULTICAST flag; join and leave checked only", lo.Name, err)
		case err != nil:
			t.Fatalf("WriteTo %s: %v", dst, err)
		default:
			udpRun(t, l, 5*time.Second, func() bool { return len(got) == 1 })
		}
		if err := rcv.LeaveGroup(group, lo.Index); err != nil {
			t.Errorf("LeaveGroup: %v", err)
		}
	})
}

// udpLoopbackInterface returns the loopback interface ("lo" on Linux).
func udpLoopbackInterface(t *testing.T) net.Interface {
	t.Helper()
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 && ifi.Flags&net.FlagUp != 0 {
			return ifi
		}
	}
	t.Fatal("no loopback interface is up")
	return net.Interface{}
}

// TestUDPAllocs checks that echoing datagrams allocates nothing in steady
// state on the batched path.
func TestUDPAllocs(t *testing.T) {
	if !udpHaveBatch {
		t.Log("no batched path on this system: the per-datagram path allocates a sockaddr per datagram")
		return
	}
	l := udpNewLoop(t)
	rt := udpNewRoundTrip(t, l, udpLo4)
	rt.round(t, 32) // warm up: buffers, queues, maps
	allocs := testing.AllocsPerRun(20, func() { rt.round(t, 32) })
	if allocs > 0 {
		t.Errorf("%.1f allocations per round of 32 echoed datagrams, want 0", allocs)
	}
}

// udpRoundTrip is a client and an echo server on one loop.
type udpRoundTrip struct {
	l        *eddy.Loop
	srv, cli *PacketConn
	msg      []byte
	got      int
}

func udpNewRoundTrip(t testing.TB, l *eddy.Loop, ap netip.AddrPort) *udpRoundTrip {
	rt := &udpRoundTrip{l: l, msg: make([]byte, 64)}
	cfg := &PacketConfig{MaxPacketSize: 2048, MaxReadsPerEvent: 64}
	rt.srv = udpMustListen(t, l, ap, func(c *PacketConn, p []byte, from netip.AddrPort) {
		c.WriteTo(p, from)
	}, cfg)
	rt.cli = udpMustListen(t, l, ap, func(c *PacketConn, p []byte, from netip.AddrPort) { rt.got++ }, cfg)
	// The ticker bounds every wait, so that a lost datagram fails the test
	// instead of hanging it.
	tick := eddy.NewTimer(func(*eddy.Timer) {}, 100*time.Millisecond, 100*time.Millisecond)
	tick.Start(l)
	t.Cleanup(tick.Stop)
	return rt
}

// round sends n datagrams and runs the loop until all n came back.
func (rt *udpRoundTrip) round(t testing.TB, n int) {
	rt.got = 0
	dst := rt.srv.LocalAddr()
	for range n {
		if err := rt.cli.WriteTo(rt.msg, dst); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for rt.got < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d datagrams echoed within 10s", rt.got, n)
		}
		if err := rt.l.RunOnce(); err != nil {
			t.Fatal(err)
		}
	}
}

// BenchmarkUDPEcho measures a datagram's round trip through a client and
// an echo server on one loop, 32 datagrams in flight; ns/op is per
// datagram echoed.
func BenchmarkUDPEcho(b *testing.B) {
	for _, perPacket := range []bool{false, true} {
		name := "batch"
		if perPacket || !udpHaveBatch {
			name = "perpacket"
		}
		b.Run(name, func(b *testing.B) {
			udpForcePerPacket = perPacket
			defer func() { udpForcePerPacket = false }()
			l, err := eddy.NewLoop(nil)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			rt := udpNewRoundTrip(b, l, udpLo4)
			rt.round(b, 32)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += 32 {
				rt.round(b, min(32, b.N-done))
			}
		})
	}
}

// BenchmarkUDPWriteConnected measures Write of one datagram on a
// connected PacketConn with nothing queued (a DNS client's query), to a
// server on the same loop drained every 32 writes so that loopback drops
// none; ns/op is per datagram, received included. It must not allocate.
func BenchmarkUDPWriteConnected(b *testing.B) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	got := 0
	cfg := &PacketConfig{MaxPacketSize: 2048}
	srv := udpMustListen(b, l, udpLo4, func(*PacketConn, []byte, netip.AddrPort) { got++ }, cfg)
	cli, err := DialUDP(l, srv.LocalAddr(), func(*PacketConn, []byte, netip.AddrPort) {}, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer cli.Close()
	msg := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += 32 {
		n := min(32, b.N-done)
		got = 0
		for range n {
			if err := cli.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		for got < n {
			if err := l.RunOnce(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
