package evdns

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/internal/poller"
	"github.com/eddyloop/eddy/internal/testutil"
)

func TestCacheLRU(t *testing.T) {
	var c cache
	c.init(2)
	now := time.Unix(1000, 0)
	put := func(name string, ttl time.Duration) {
		c.put(&centry{key: ckey{name: name}, expires: now.Add(ttl)})
	}
	put("a", time.Minute)
	put("b", time.Minute)
	if c.get(ckey{name: "a"}, now) == nil { // a is now the most recent
		t.Fatal("a missing")
	}
	put("c", time.Minute)
	if c.get(ckey{name: "b"}, now) != nil {
		t.Error("b, the least recently used, was not evicted")
	}
	if c.get(ckey{name: "a"}, now) == nil || c.get(ckey{name: "c"}, now) == nil {
		t.Error("a or c evicted")
	}
	put("a", time.Second) // replaces
	if c.len() != 2 {
		t.Errorf("len %d", c.len())
	}
	if c.get(ckey{name: "a"}, now.Add(time.Second)) != nil || c.len() != 1 {
		t.Error("an expired entry was returned or kept")
	}
	c.clear()
	if c.len() != 0 || c.get(ckey{name: "c"}, now) != nil {
		t.Error("clear")
	}
	var off cache
	off.init(-1)
	off.put(&centry{key: ckey{name: "x"}, expires: now.Add(time.Hour)})
	if off.len() != 0 {
		t.Error("a disabled cache stored an entry")
	}
}

func TestCachePositiveAndNegative(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, nil)

	if _, err := lookupHost(t, rl, r, "alias.example.com"); err != nil {
		t.Fatal(err)
	}
	n := srv.udpQueries.Load()
	// Cached: answered at once, without a query.
	rl.Do(func() {
		var got []netip.Addr
		req := r.LookupHost("alias.example.com", func(a []netip.Addr, err error) { got = a })
		if req != nil || !slices.Equal(got, addrs("192.0.2.1", "2001:db8::1")) {
			t.Errorf("cached lookup: %v, %v", req, got)
		}
		// The final entry lives for the smallest TTL: alias2's 200s.
		e := r.cache.m[ckey{name: "alias.example.com", qtype: typeHost, final: true}]
		if e == nil || e.expires.Sub(rl.Now()) > 200*time.Second || e.expires.Sub(rl.Now()) < 199*time.Second {
			t.Errorf("final entry %+v", e)
		}
		// The query entries are there too: another spelling uses them.
		req = r.LookupHost("alias.EXAMPLE.com.", func(a []netip.Addr, err error) { got = a })
		if req != nil || len(got) != 2 {
			t.Errorf("lookup through the query cache: %v, %v", req, got)
		}
	})
	if srv.udpQueries.Load() != n {
		t.Errorf("cached lookups sent queries")
	}

	// NXDOMAIN: cached for min(SOA TTL 300, MINIMUM 60) = 60s (RFC 2308).
	if _, err := lookupHost(t, rl, r, "nope.example.com."); !errors.Is(err, ErrNXDomain) {
		t.Fatal(err)
	}
	n = srv.udpQueries.Load()
	rl.Do(func() {
		var got error
		if req := r.LookupHost("nope.example.com.", func(_ []netip.Addr, err error) { got = err }); req != nil || !errors.Is(got, ErrNXDomain) {
			t.Errorf("cached NXDOMAIN: %v, %v", req, got)
		}
		e := r.cache.m[ckey{name: "nope.example.com.", qtype: dnsmessage.TypeA}]
		if e == nil || e.expires.Sub(rl.Now()) > 60*time.Second || e.expires.Sub(rl.Now()) < 59*time.Second {
			t.Errorf("negative entry %+v", e)
		}
	})
	if srv.udpQueries.Load() != n {
		t.Errorf("cached NXDOMAIN sent queries")
	}
	if s := stats(rl, r); s.CacheHits != 2 || s.QueryCacheHits != 2 {
		t.Errorf("stats = %+v", s)
	}

	// NODATA without an SOA is not cached.
	srv.setHandler(func(q *dnsmessage.Message, _ int, _ bool) []fakeReply {
		return []fakeReply{{msg: reply(q, dnsmessage.RCodeSuccess, nil, nil)}}
	})
	for range 2 {
		if _, err := lookup(t, rl, r, "nosoa.example.com.", dnsmessage.TypeMX); !errors.Is(err, ErrNoData) {
			t.Fatal(err)
		}
	}
	if got := srv.udpQueries.Load() - n; got != 2 {
		t.Errorf("NODATA without SOA: %d queries, want 2", got)
	}
}

func TestCacheBounded(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, &ResolverConfig{CacheSize: 3})
	for _, n := range []string{"www", "v4", "host.corp", "alias"} {
		lookup(t, rl, r, n+".example.com.", dnsmessage.TypeA)
	}
	if s := stats(rl, r); s.CacheEntries != 3 {
		t.Errorf("%d entries, want 3", s.CacheEntries)
	}
}

// fakeLoop is a loop on the fake backend and clock, run by the test
// goroutine itself.
func fakeLoop(t *testing.T) (*eddy.Loop, *eddytest.Backend, *eddytest.Clock) {
	clock := eddytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	be := eddytest.NewBackend(clock)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, be, clock
}

func TestTimeoutsFakeClock(t *testing.T) {
	s1 := newFakeServer(t, func(*dnsmessage.Message, int, bool) []fakeReply { return nil })
	s2 := newFakeServer(t, func(*dnsmessage.Message, int, bool) []fakeReply { return nil })
	l, _, _ := fakeLoop(t)
	r := NewResolver(l, testConfig(5*time.Second, 3, s1.addr, s2.addr), nil, nil)
	defer r.Close()
	start := l.Now()
	var got error
	var at time.Duration
	r.LookupHost("www.example.com.", func(_ []netip.Addr, err error) { got, at = err, l.Now().Sub(start) })
	if err := l.Run(); err != nil { // returns once no query is left
		t.Fatal(err)
	}
	if !errors.Is(got, ErrTimeout) {
		t.Fatalf("err = %v", got)
	}
	// 3 attempts x 2 servers x 5s, A and AAAA in parallel.
	if at != 30*time.Second {
		t.Errorf("failed after %v, want exactly 30s", at)
	}
	if s := r.Stats(); s.Timeouts != 12 || s.Retries != 10 || s.Queries != 12 {
		t.Errorf("stats = %+v", s)
	}
	if !testutil.Eventually(time.Second, func() bool { return s1.udpQueries.Load() == 6 && s2.udpQueries.Load() == 6 }) {
		t.Errorf("queries %d, %d; want 6, 6", s1.udpQueries.Load(), s2.udpQueries.Load())
	}
}

// pump marks every descriptor registered for reading ready, so that the
// next iteration reads what the kernel holds for the real sockets.
func pump(be *eddytest.Backend) {
	for fd := range 4096 {
		if be.Registered(fd) && be.Interest(fd)&poller.Read != 0 {
			be.Ready(fd, poller.Read)
		}
	}
}

func unpump(be *eddytest.Backend) {
	for fd := range 4096 {
		be.Clear(fd, poller.Read)
	}
}

// pumpUntil runs the fake loop l, reading its real sockets (pump) but
// letting no fake time pass, until cond holds: answers reach the sockets
// on real time. It fails the test after testWait.
func pumpUntil(t *testing.T, l *eddy.Loop, be *eddytest.Backend, what string, cond func() bool) {
	t.Helper()
	var err error
	ok := testutil.Eventually(testWait, func() bool {
		pump(be)
		err = l.RunNoWait()
		unpump(be)
		return err != nil || cond()
	})
	switch {
	case err != nil:
		t.Fatal(err)
	case !ok:
		t.Fatalf("%s: not within %v", what, testWait)
	}
}

func TestCacheExpiryFakeClock(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	l, be, clock := fakeLoop(t)
	r := NewResolver(l, testConfig(5*time.Second, 1, srv.addr), nil, nil)
	defer r.Close()
	resolve := func() (req *Request, got []netip.Addr) {
		done := false
		req = r.LookupHost("www.example.com.", func(a []netip.Addr, err error) {
			if err != nil {
				t.Errorf("err %v", err)
			}
			got, done = a, true
		})
		if !done {
			pumpUntil(t, l, be, "the answer", func() bool { return done })
		}
		return req, got
	}
	if req, got := resolve(); req == nil || !slices.Equal(got, addrs("192.0.2.1", "2001:db8::1")) {
		t.Fatalf("first lookup: %v %v", req, got)
	}
	queries := srv.udpQueries.Load()
	clock.Advance(299 * time.Second)
	l.UpdateNow()
	if req, got := resolve(); req != nil || len(got) != 2 {
		t.Fatalf("lookup within the TTL: %v %v", req, got)
	}
	clock.Advance(time.Second) // TTL 300s: gone
	l.UpdateNow()
	if req, got := resolve(); req == nil || len(got) != 2 {
		t.Fatalf("lookup after the TTL: %v %v", req, got)
	}
	if n := srv.udpQueries.Load() - queries; n != 2 {
		t.Errorf("%d queries after expiry, want 2", n)
	}
}
