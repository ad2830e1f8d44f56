//go:build linux

package evdns

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/poller"
)

// TestHostLoop drives a Resolver from a host loop that is not eddy's: a
// raw epoll loop written here, as a C program's or another library's
// would be. The eddy loop under the resolver is never run on its own; the
// host loop watches its one descriptor (Loop.Fd) and wakes up no later
// than Loop.Timeout, and calls Loop.RunNoWait then. That single
// descriptor and timeout stand for every socket and timer of the
// resolver, as c-ares's ares_fds and ares_timeout do.
func TestHostLoop(t *testing.T) {
	addr := startDnsmasq(t)

	// The embedded loop needs a backend with a descriptor: epoll, even in
	// a build whose default is poll(2) (-tags evpoll).
	be, err := poller.NewEpoll()
	if err != nil {
		t.Fatal(err)
	}
	l, err := eddy.NewLoop(&eddy.Config{Backend: be})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd, err := l.Fd()
	if err != nil {
		t.Fatal(err)
	}

	// The host loop: its own epoll instance, watching the eddy loop's fd.
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}); err != nil {
		t.Fatal(err)
	}

	c := testConfig(time.Second, 2, addr)
	c.Search = []string{"zone.test"}
	r := NewResolver(l, c, nil, &ResolverConfig{CacheSize: -1})
	defer r.Close()

	// Lookups started from the host loop's goroutine (the eddy loop's
	// owner from now on), some of them over TCP (big.zone.test).
	var hostAddrs []netip.Addr
	var txt *Answer
	var mxErr, hostErr, txtErr error
	pending := 3
	r.LookupHost("www", func(a []netip.Addr, err error) { hostAddrs, hostErr = a, err; pending-- })
	r.Lookup("big.zone.test.", dnsmessage.TypeTXT, func(a *Answer, err error) { txt, txtErr = a, err; pending-- })
	r.Lookup("nope.zone.test.", dnsmessage.TypeMX, func(_ *Answer, err error) { mxErr = err; pending-- })

	events := make([]unix.EpollEvent, 4)
	wakeups := 0
	deadline := time.Now().Add(testWait)
	for pending > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("lookups did not finish; stats %+v", r.Stats())
		}
		ms := -1
		if d, ok := l.Timeout(); ok {
			ms = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		if ms < 0 || ms > 100 {
			ms = 100 // the host's own housekeeping tick
		}
		n, err := unix.EpollWait(ep, events, ms)
		if err != nil && err != unix.EINTR {
			t.Fatal(err)
		}
		if n > 0 {
			wakeups++
		}
		if err := l.RunNoWait(); err != nil {
			t.Fatal(err)
		}
	}
	if hostErr != nil || !slices.Equal(hostAddrs, addrs("192.0.2.1", "2001:db8::1")) {
		t.Errorf("LookupHost(www) = %v, %v", hostAddrs, hostErr)
	}
	if txtErr != nil || len(txt.Records) != 1 || !slices.Equal(txt.Records[0].Body.(*dnsmessage.TXTResource).TXT, dnsmasqTXT()) {
		t.Errorf("TXT big.zone.test = %+v, %v", txt, txtErr)
	}
	if !errors.Is(mxErr, ErrNXDomain) {
		t.Errorf("MX nope.zone.test: %v", mxErr)
	}
	if wakeups == 0 {
		t.Errorf("the host loop never saw the eddy loop's descriptor readable")
	}
	if s := r.Stats(); s.TCP == 0 || s.InFlight != 0 {
		t.Errorf("stats %+v", s)
	}
}
