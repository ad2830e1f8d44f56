package evhttp

import (
	"net/netip"
	"testing"
	"unsafe"
)

// TestConnSize: a server connection's state stays in the 128-byte size
// class, its queue and its client's address included.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(conn{}); n > 128 {
		t.Errorf("conn is %d bytes, want at most 128", n)
	}
}

// TestPeerAddr: the address a conn keeps inline comes back as it was
// given: IPv4, IPv6, IPv4-mapped IPv6 (which stays mapped); one with a
// zone, or none, is not kept.
func TestPeerAddr(t *testing.T) {
	for _, s := range []string{
		"127.0.0.1:80",
		"0.0.0.0:0",
		"255.255.255.255:65535",
		"[::1]:8080",
		"[::]:1",
		"[2001:db8::ff00:42:8329]:443",
		"[::ffff:127.0.0.1]:5000",
		"[fe80::1]:22",
	} {
		ap := netip.MustParseAddrPort(s)
		var p peerAddr
		if !p.set(ap) {
			t.Errorf("%v: not kept", ap)
			continue
		}
		if got, ok := p.get(); !ok || got != ap {
			t.Errorf("%v: got %v, %v", ap, got, ok)
		}
	}
	// No address (a Unix socket's peer) is kept as none.
	var none peerAddr
	if !none.set(netip.AddrPort{}) {
		t.Error("no address: not kept")
	}
	if got, ok := none.get(); !ok || got.IsValid() {
		t.Errorf("no address: got %v, %v", got, ok)
	}
	for _, ap := range []netip.AddrPort{
		netip.MustParseAddrPort("[fe80::1%eth0]:22"),
		netip.MustParseAddrPort("[fe80::1%2]:22"),
	} {
		var p peerAddr
		if p.set(ap) {
			t.Errorf("%v: kept", ap)
		}
		if got, ok := p.get(); ok {
			t.Errorf("%v: got %v", ap, got)
		}
	}
}

// TestQueue: the ring of exchanges keeps request order through pushes,
// pops and cuts, counts them, and leaves those it takes out unlinked.
func TestQueue(t *testing.T) {
	var hc conn
	xs := make([]*exchange, 5)
	for i := range xs {
		xs[i] = new(exchange)
	}
	check := func(want ...*exchange) {
		t.Helper()
		var got []*exchange
		for x := hc.head(); x != nil && len(got) <= len(xs); x = hc.after(x) {
			got = append(got, x)
		}
		if len(got) != len(want) || int(hc.queued) != len(want) {
			t.Fatalf("%d queued (count %d), want %d", len(got), hc.queued, len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("exchange %d out of order", i)
			}
		}
		if len(want) == 0 && hc.q != nil || len(want) > 0 && hc.q != want[len(want)-1] {
			t.Fatal("q is not the last exchange")
		}
	}
	unlinked := func(x ...*exchange) {
		t.Helper()
		for _, y := range x {
			if y.next != nil {
				t.Fatal("an exchange out of the queue is still linked")
			}
		}
	}
	check()
	hc.push(xs[0])
	check(xs[0])
	hc.pop()
	check()
	unlinked(xs[0])
	for _, x := range xs {
		hc.push(x)
	}
	check(xs...)
	hc.pop()
	check(xs[1:]...)
	unlinked(xs[0])
	if hc.cut(xs[4]) != nil {
		t.Fatal("cut after the last took some")
	}
	check(xs[1:]...)
	// Cut after xs[2]: xs[3] and xs[4] come out, linked, the last to nil.
	y := hc.cut(xs[2])
	if y != xs[3] || y.next != xs[4] || xs[4].next != nil {
		t.Fatal("cut did not return xs[3] -> xs[4]")
	}
	xs[3].next = nil
	check(xs[1], xs[2])
	hc.push(xs[3])
	check(xs[1], xs[2], xs[3])
	y = hc.cut(nil)
	if y != xs[1] || y.next != xs[2] || xs[2].next != xs[3] || xs[3].next != nil {
		t.Fatal("cut(nil) did not return the whole queue in order")
	}
	check()
	if hc.cut(nil) != nil {
		t.Fatal("cut of an empty queue returned some")
	}
}
