package evdns

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/internal/testutil"
)

func TestLookupHost(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 2, srv.addr), nil, nil)

	got, err := lookupHost(t, rl, r, "www.example.com")
	if err != nil || !slices.Equal(got, addrs("192.0.2.1", "2001:db8::1")) {
		t.Fatalf("LookupHost = %v, %v", got, err)
	}
	got, err = lookupHost(t, rl, r, "v4.example.com.")
	if err != nil || !slices.Equal(got, addrs("192.0.2.4")) {
		t.Fatalf("LookupHost(v4) = %v, %v", got, err)
	}
	// Through a CNAME chain.
	got, err = lookupHost(t, rl, r, "ALIAS.example.com")
	if err != nil || !slices.Equal(got, addrs("192.0.2.1", "2001:db8::1")) {
		t.Fatalf("LookupHost(alias) = %v, %v", got, err)
	}
	if s := stats(rl, r); s.Queries != 6 || s.Dropped != 0 || s.InFlight != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestLookupHostHostsFirst(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	h, _ := ParseHosts([]byte("192.0.2.77 www.example.com\n192.0.2.78 local.test\n"))
	r := newTestResolver(t, rl, testConfig(time.Second, 2, srv.addr), h, nil)
	ch := make(chan []netip.Addr, 1)
	rl.Do(func() {
		if req := r.LookupHost("WWW.example.com.", func(a []netip.Addr, err error) { ch <- a }); req != nil {
			t.Errorf("a lookup answered from the hosts table returned a Request")
		}
	})
	if got := <-ch; !slices.Equal(got, addrs("192.0.2.77")) {
		t.Errorf("got %v", got)
	}
	names, err := lookupAddr(t, rl, r, netip.MustParseAddr("192.0.2.78"))
	if err != nil || !slices.Equal(names, []string{"local.test"}) {
		t.Errorf("LookupAddr = %v, %v", names, err)
	}
	got, err := lookupHost(t, rl, r, "2001:db8::5")
	if err != nil || !slices.Equal(got, addrs("2001:db8::5")) {
		t.Errorf("literal: %v, %v", got, err)
	}
	if n := srv.udpQueries.Load(); n != 0 {
		t.Errorf("%d queries sent", n)
	}
}

func TestLookupTypes(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 2, srv.addr), nil, nil)

	ans, err := lookup(t, rl, r, "example.com.", dnsmessage.TypeMX)
	if err != nil || len(ans.Records) != 2 || ans.Records[0].Body.(*dnsmessage.MXResource).MX.String() != "mail.example.com." {
		t.Fatalf("MX = %+v, %v", ans, err)
	}
	if ans.Name != "example.com." || ans.Canonical() != "example.com." || ans.Type != dnsmessage.TypeMX {
		t.Errorf("MX answer = %+v", ans)
	}
	ans, err = lookup(t, rl, r, "_http._tcp.example.com.", dnsmessage.TypeSRV)
	if err != nil || len(ans.Records) != 1 || ans.Records[0].Body.(*dnsmessage.SRVResource).Port != 80 {
		t.Fatalf("SRV = %+v, %v", ans, err)
	}
	ans, err = lookup(t, rl, r, "example.com.", dnsmessage.TypeTXT)
	if err != nil || len(ans.Records) != 1 || ans.Records[0].Body.(*dnsmessage.TXTResource).TXT[0] != "v=spf1 -all" {
		t.Fatalf("TXT = %+v, %v", ans, err)
	}
	ans, err = lookup(t, rl, r, "example.com.", dnsmessage.TypeNS)
	if err != nil || len(ans.Records) != 1 {
		t.Fatalf("NS = %+v, %v", ans, err)
	}
	ans, err = lookup(t, rl, r, "example.com.", dnsmessage.TypeSOA)
	if err != nil || len(ans.Records) != 1 || ans.Records[0].Body.(*dnsmessage.SOAResource).MinTTL != 60 {
		t.Fatalf("SOA = %+v, %v", ans, err)
	}
	ans, err = lookup(t, rl, r, "www.example.com.", dnsmessage.TypeAAAA)
	if err != nil || !slices.Equal(ans.Addrs, addrs("2001:db8::1")) {
		t.Fatalf("AAAA = %+v, %v", ans, err)
	}
	// CNAME asked for itself: the chain is not followed.
	ans, err = lookup(t, rl, r, "alias.example.com.", dnsmessage.TypeCNAME)
	if err != nil || len(ans.Records) != 1 || len(ans.CNAMEs) != 0 ||
		ans.Records[0].Body.(*dnsmessage.CNAMEResource).CNAME.String() != "alias2.example.com." {
		t.Fatalf("CNAME = %+v, %v", ans, err)
	}
	// A through the chain: reported.
	ans, err = lookup(t, rl, r, "alias.example.com.", dnsmessage.TypeA)
	if err != nil || !slices.Equal(ans.CNAMEs, []string{"alias2.example.com.", "www.example.com."}) ||
		ans.Canonical() != "www.example.com." || !slices.Equal(ans.Addrs, addrs("192.0.2.1")) {
		t.Fatalf("A via CNAME = %+v, %v", ans, err)
	}
	// PTR, v4 and v6.
	names, err := lookupAddr(t, rl, r, netip.MustParseAddr("192.0.2.1"))
	if err != nil || !slices.Equal(names, []string{"www.example.com."}) {
		t.Fatalf("LookupAddr v4 = %v, %v", names, err)
	}
	names, err = lookupAddr(t, rl, r, netip.MustParseAddr("2001:db8::1"))
	if err != nil || !slices.Equal(names, []string{"www.example.com."}) {
		t.Fatalf("LookupAddr v6 = %v, %v", names, err)
	}
	_, err = lookupAddr(t, rl, r, netip.MustParseAddr("192.0.2.200"))
	if !errors.Is(err, ErrNXDomain) || !strings.Contains(err.Error(), "lookup 192.0.2.200") {
		t.Fatalf("LookupAddr unknown: %v", err)
	}
}

func TestReverseName(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.1", "1.2.0.192.in-addr.arpa."},
		{"::ffff:10.0.0.1", "1.0.0.10.in-addr.arpa."},
		{"2001:db8::567:89ab", "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."},
	} {
		if got := ReverseName(netip.MustParseAddr(c.in)); got != c.want {
			t.Errorf("ReverseName(%s) = %s, want %s", c.in, got, c.want)
		}
	}
	if ReverseName(netip.Addr{}) != "" {
		t.Errorf("ReverseName of the zero Addr is not empty")
	}
}

func TestCNAMEChainFollowUp(t *testing.T) {
	// The server answers each name alone, without following CNAMEs: the
	// resolver must ask for the targets itself.
	z := testZone()
	srv := newFakeServer(t, func(q *dnsmessage.Message, _ int, _ bool) []fakeReply {
		name := strings.ToLower(q.Questions[0].Name.String())
		var ans []dnsmessage.Resource
		for _, rr := range z[name] {
			if rr.Header.Type == q.Questions[0].Type || rr.Header.Type == dnsmessage.TypeCNAME {
				ans = append(ans, rr)
			}
		}
		return []fakeReply{{msg: reply(q, dnsmessage.RCodeSuccess, ans, soa(10))}}
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, nil)
	ans, err := lookup(t, rl, r, "alias.example.com.", dnsmessage.TypeA)
	if err != nil || !slices.Equal(ans.CNAMEs, []string{"alias2.example.com.", "www.example.com."}) || !slices.Equal(ans.Addrs, addrs("192.0.2.1")) {
		t.Fatalf("A via CNAME = %+v, %v", ans, err)
	}
	if n := srv.udpQueries.Load(); n != 3 {
		t.Errorf("%d queries, want 3", n)
	}
	_, err = lookup(t, rl, r, "loop1.example.com.", dnsmessage.TypeA)
	if !errors.Is(err, ErrCNAMELoop) {
		t.Fatalf("CNAME loop: %v", err)
	}
}

func TestCNAMELoopInAnswer(t *testing.T) {
	srv := newFakeServer(t, func(q *dnsmessage.Message, _ int, _ bool) []fakeReply {
		return []fakeReply{{msg: reply(q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{
			rrCNAME("loop1.example.com.", "loop2.example.com.", 300), rrCNAME("loop2.example.com.", "loop1.example.com.", 300),
		}, nil)}}
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, nil)
	if _, err := lookupHost(t, rl, r, "loop1.example.com."); !errors.Is(err, ErrCNAMELoop) {
		t.Fatalf("err = %v", err)
	}
}

func rcodeServer(t *testing.T, rcode dnsmessage.RCode) *fakeServer {
	return newFakeServer(t, func(q *dnsmessage.Message, _ int, _ bool) []fakeReply {
		return []fakeReply{{msg: reply(q, rcode, nil, nil)}}
	})
}

func TestErrors(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, nil)

	_, err := lookupHost(t, rl, r, "nope.example.com.")
	if !errors.Is(err, ErrNXDomain) || err.Error() != "evdns: lookup nope.example.com.: no such host" {
		t.Errorf("NXDOMAIN: %v", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Temporary() || e.Name != "nope.example.com." {
		t.Errorf("error %#v", err)
	}
	_, err = lookup(t, rl, r, "v4.example.com.", dnsmessage.TypeAAAA)
	if !errors.Is(err, ErrNoData) {
		t.Errorf("NODATA: %v", err)
	}
	_, err = lookupHost(t, rl, r, "bad..name")
	if !errors.Is(err, ErrInvalidName) {
		t.Errorf("invalid: %v", err)
	}

	for _, c := range []struct {
		rcode dnsmessage.RCode
		want  error
	}{
		{dnsmessage.RCodeServerFailure, ErrServFail},
		{dnsmessage.RCodeRefused, ErrRefused},
		{dnsmessage.RCodeNotImplemented, ErrServerError},
	} {
		s1, s2 := rcodeServer(t, c.rcode), rcodeServer(t, c.rcode)
		r := newTestResolver(t, rl, testConfig(time.Second, 2, s1.addr, s2.addr), nil, nil)
		start := time.Now()
		_, err := lookup(t, rl, r, "www.example.com.", dnsmessage.TypeA)
		if !errors.Is(err, c.want) {
			t.Errorf("%v: err = %v, want %v", c.rcode, err, c.want)
		}
		if time.Since(start) > 900*time.Millisecond {
			t.Errorf("%v: took %v: the next server must be tried at once", c.rcode, time.Since(start))
		}
		// Every server, every attempt.
		if n1, n2 := s1.udpQueries.Load(), s2.udpQueries.Load(); n1 != 2 || n2 != 2 {
			t.Errorf("%v: queries %d, %d; want 2, 2", c.rcode, n1, n2)
		}
	}
}

func TestServFailThenAnswer(t *testing.T) {
	// The first server fails; the second one answers: failover.
	bad := rcodeServer(t, dnsmessage.RCodeServerFailure)
	good := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, bad.addr, good.addr), nil, nil)
	if got, err := lookupHost(t, rl, r, "www.example.com."); err != nil || len(got) != 2 {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestSearchList(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	c := testConfig(time.Second, 1, srv.addr)
	c.Search = []string{"nowhere.example.com", "corp.example.com"}
	r := newTestResolver(t, rl, c, nil, nil)
	got, err := lookupHost(t, rl, r, "host")
	if err != nil || !slices.Equal(got, addrs("192.0.2.9")) {
		t.Fatalf("host = %v, %v", got, err)
	}
	ans, err := lookup(t, rl, r, "host", dnsmessage.TypeA)
	if err != nil || ans.Name != "host.corp.example.com." {
		t.Fatalf("Lookup(host) = %+v, %v", ans, err)
	}
	// NODATA on a candidate, NXDOMAIN on the others: NODATA wins.
	_, err = lookup(t, rl, r, "v4.example.com", dnsmessage.TypeMX)
	if !errors.Is(err, ErrNoData) {
		t.Fatalf("err = %v", err)
	}
	_, err = lookupHost(t, rl, r, "none")
	if !errors.Is(err, ErrNXDomain) || !strings.Contains(err.Error(), "lookup none:") {
		t.Fatalf("err = %v", err)
	}
}

func TestSearchListServFailContinues(t *testing.T) {
	// SERVFAIL on the first candidate gives way to the next one, as in
	// glibc; a timeout would end the lookup.
	z := testZone()
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if strings.Contains(strings.ToLower(q.Questions[0].Name.String()), ".bad.example.com.") {
			return []fakeReply{{msg: reply(q, dnsmessage.RCodeServerFailure, nil, nil)}}
		}
		return z.handler(q, n, tcp)
	})
	rl := startLoop(t)
	c := testConfig(time.Second, 1, srv.addr)
	c.Search = []string{"bad.example.com", "corp.example.com"}
	r := newTestResolver(t, rl, c, nil, nil)
	if got, err := lookupHost(t, rl, r, "host"); err != nil || !slices.Equal(got, addrs("192.0.2.9")) {
		t.Fatalf("host = %v, %v", got, err)
	}
	if _, err := lookupHost(t, rl, r, "other"); !errors.Is(err, ErrServFail) {
		t.Fatalf("err = %v, want SERVFAIL (remembered over NXDOMAIN)", err)
	}
}

func TestHostileAnswersDropped(t *testing.T) {
	z := testZone()
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		good := z.answer(q)
		wrongID := append([]byte(nil), good...)
		wrongID[0] ^= 0xff
		q2 := *q
		q2.Questions = []dnsmessage.Question{{Name: dnsmessage.MustNewName("evil.example.com."), Type: q.Questions[0].Type, Class: dnsmessage.ClassINET}}
		wrongQ := reply(&q2, dnsmessage.RCodeSuccess, []dnsmessage.Resource{rrA("evil.example.com.", "203.0.113.66", 300)}, nil)
		q3 := *q
		q3.Questions = []dnsmessage.Question{{Name: q.Questions[0].Name, Type: dnsmessage.TypeMX, Class: dnsmessage.ClassINET}}
		wrongType := reply(&q3, dnsmessage.RCodeSuccess, nil, nil)
		poison := reply(q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{rrA(q.Questions[0].Name.String(), "203.0.113.66", 300)}, nil)
		notResp := append([]byte(nil), good...)
		notResp[2] &^= 0x80
		return []fakeReply{
			{msg: wrongID}, {msg: wrongQ}, {msg: wrongType}, {msg: notResp},
			{msg: poison, otherPort: true},
			{msg: []byte("garbage")}, {msg: good[:len(good)-3]}, {msg: good[:5]},
			{msg: good, delay: 20 * time.Millisecond},
		}
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(2*time.Second, 1, srv.addr), nil, nil)
	got, err := lookup(t, rl, r, "www.example.com.", dnsmessage.TypeA)
	if err != nil || !slices.Equal(got.Addrs, addrs("192.0.2.1")) {
		t.Fatalf("got %+v, %v", got, err)
	}
	// The datagram from another port never reaches a connected socket;
	// the others are read and dropped.
	if s := stats(rl, r); s.Dropped != 7 || s.Queries != 1 || s.Retries != 0 {
		t.Errorf("stats = %+v, want 7 dropped", s)
	}
}

func TestQueryIDsAndPortsRandom(t *testing.T) {
	ids := map[uint16]bool{}
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	z := testZone()
	var seen []*dnsmessage.Message
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		<-mu
		seen = append(seen, q)
		ids[q.ID] = true
		mu <- struct{}{}
		return z.handler(q, n, tcp)
	})
	rl := startLoop(t)
	c := testConfig(time.Second, 1, srv.addr)
	if c.EDNS0 {
		t.Fatal("testConfig sets EDNS0")
	}
	// Without option edns0 the OPT record goes out all the same: EDNS0 is
	// always on (see the package doc and Config.EDNS0).
	r := newTestResolver(t, rl, c, nil, &ResolverConfig{CacheSize: -1})
	for range 20 {
		if _, err := lookup(t, rl, r, "www.example.com.", dnsmessage.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	<-mu
	defer func() { mu <- struct{}{} }()
	if len(ids) < 15 {
		t.Errorf("only %d distinct IDs in 20 queries", len(ids))
	}
	for _, q := range seen {
		if len(q.Additionals) != 1 || q.Additionals[0].Header.Type != dnsmessage.TypeOPT || q.Additionals[0].Header.Class != EDNSBufferSize {
			t.Fatalf("no EDNS0 OPT with %d bytes: %+v", EDNSBufferSize, q.Additionals)
		}
		if !q.RecursionDesired {
			t.Fatalf("RD not set")
		}
	}
}

func TestTimeoutAllServersDown(t *testing.T) {
	// One server is silent, the other port has nobody (ICMP unreachable).
	silent := newFakeServer(t, func(*dnsmessage.Message, int, bool) []fakeReply { return nil })
	down := newFakeServer(t, nil)
	downAddr := down.addr
	down.close()
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(50*time.Millisecond, 2, silent.addr, downAddr), nil, nil)
	start := time.Now()
	_, err := lookupHost(t, rl, r, "www.example.com.")
	if !errors.Is(err, ErrTimeout) || err.Error() != "evdns: lookup www.example.com.: no answer from any server" {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v", d)
	}
	if !testutil.Eventually(time.Second, func() bool { return silent.udpQueries.Load() == 4 }) {
		t.Errorf("silent server got %d queries, want 4 (2 attempts x A and AAAA)", silent.udpQueries.Load())
	}
	if s := stats(rl, r); s.Timeouts != 4 || s.InFlight != 0 || s.Queries != 8 {
		t.Errorf("stats = %+v", s)
	}
	// Timeouts are not cached.
	if s := stats(rl, r); s.CacheEntries != 0 {
		t.Errorf("%d cache entries", s.CacheEntries)
	}
}

func TestLateAnswerAfterRetry(t *testing.T) {
	// The first query is answered late, after the retry has been sent
	// and answered at once. The late answer must be dropped.
	z := testZone()
	late, sent := make(chan struct{}), make(chan struct{})
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if n == 1 {
			return []fakeReply{{msg: z.answer(q), gate: late, sent: sent}}
		}
		return z.handler(q, n, tcp)
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(60*time.Millisecond, 3, srv.addr), nil, nil)
	got, err := lookup(t, rl, r, "www.example.com.", dnsmessage.TypeA)
	if err != nil || !slices.Equal(got.Addrs, addrs("192.0.2.1")) {
		t.Fatalf("got %+v, %v", got, err)
	}
	// Under load a retry may time out too; at least one did.
	s := stats(rl, r)
	if s.Retries < 1 || s.Timeouts != s.Retries {
		t.Errorf("stats = %+v", s)
	}
	close(late)
	<-sent       // the late answer has reached the closed port
	rl.Barrier() // and would have been read by now, were the socket open
	if s2 := stats(rl, r); s2.InFlight != 0 || s2.Retries != s.Retries || s2.Dropped != 0 {
		t.Errorf("stats = %+v", s2)
	}
}

func TestFailoverAndRotate(t *testing.T) {
	silent := newFakeServer(t, func(*dnsmessage.Message, int, bool) []fakeReply { return nil })
	good := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(50*time.Millisecond, 2, silent.addr, good.addr), nil, nil)
	if _, err := lookup(t, rl, r, "www.example.com.", dnsmessage.TypeA); err != nil {
		t.Fatal(err)
	}
	if s := stats(rl, r); s.Timeouts != 1 || s.Retries != 1 {
		t.Errorf("failover stats = %+v", s)
	}

	a, b := newFakeServer(t, testZone().handler), newFakeServer(t, testZone().handler)
	c := testConfig(time.Second, 1, a.addr, b.addr)
	c.Rotate = true
	r2 := newTestResolver(t, rl, c, nil, &ResolverConfig{CacheSize: -1})
	for range 4 {
		if _, err := lookup(t, rl, r2, "www.example.com.", dnsmessage.TypeA); err != nil {
			t.Fatal(err)
		}
	}
	if a.udpQueries.Load() != 2 || b.udpQueries.Load() != 2 {
		t.Errorf("rotate: %d and %d queries", a.udpQueries.Load(), b.udpQueries.Load())
	}
}

func bigTXT() []string {
	var txt []string
	for i := range 10 {
		txt = append(txt, strings.Repeat(string(rune('a'+i)), 200))
	}
	return txt
}

func TestTCPFallback(t *testing.T) {
	txt := bigTXT()
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if !tcp {
			m := reply(q, dnsmessage.RCodeSuccess, nil, nil)
			m[2] |= 0x02 // TC
			return []fakeReply{{msg: m}}
		}
		return []fakeReply{{msg: reply(q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{rrTXT(q.Questions[0].Name.String(), 300, txt...)}, nil)}}
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, nil)
	ans, err := lookup(t, rl, r, "big.example.com.", dnsmessage.TypeTXT)
	if err != nil || !slices.Equal(ans.Records[0].Body.(*dnsmessage.TXTResource).TXT, txt) {
		t.Fatalf("got %+v, %v", ans, err)
	}
	if s := stats(rl, r); s.TCP != 1 || s.Queries != 2 {
		t.Errorf("stats = %+v", s)
	}

	// use-vc: TCP from the start.
	c := testConfig(time.Second, 1, srv.addr)
	c.UseVC = true
	r2 := newTestResolver(t, rl, c, nil, nil)
	if _, err := lookup(t, rl, r2, "big2.example.com.", dnsmessage.TypeTXT); err != nil {
		t.Fatal(err)
	}
	if s := stats(rl, r2); s.TCP != 1 || s.Queries != 1 {
		t.Errorf("use-vc stats = %+v", s)
	}
}

func TestTCPFallbackFails(t *testing.T) {
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if tcp {
			return []fakeReply{{msg: []byte("junk")}, {msg: nil}} // garbage, then the connection is closed
		}
		m := reply(q, dnsmessage.RCodeSuccess, nil, nil)
		m[2] |= 0x02
		return []fakeReply{{msg: m}}
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 2, srv.addr), nil, nil)
	_, err := lookup(t, rl, r, "big.example.com.", dnsmessage.TypeTXT)
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("err = %v", err)
	}
}

func TestCoalescing(t *testing.T) {
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		return []fakeReply{{msg: testZone().answer(q), delay: 30 * time.Millisecond}}
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, nil)
	ch := make(chan hostResult, 3)
	rl.Do(func() {
		for range 3 {
			r.LookupHost("www.example.com.", func(a []netip.Addr, err error) { ch <- hostResult{append([]netip.Addr(nil), a...), err} })
		}
	})
	for range 3 {
		res := <-ch
		if res.err != nil || len(res.addrs) != 2 {
			t.Fatalf("got %+v", res)
		}
	}
	if n := srv.udpQueries.Load(); n != 2 {
		t.Errorf("%d queries, want 2 (one A, one AAAA)", n)
	}
	if s := stats(rl, r); s.Coalesced != 4 {
		t.Errorf("stats = %+v", s)
	}
}

func TestCancel(t *testing.T) {
	srv := newFakeServer(t, func(*dnsmessage.Message, int, bool) []fakeReply { return nil })
	l, _, _ := fakeLoop(t)
	r := NewResolver(l, testConfig(100*time.Millisecond, 1, srv.addr), nil, nil)
	defer r.Close()
	called := 0
	req1 := r.LookupHost("www.example.com.", func([]netip.Addr, error) { called++ })
	req2 := r.LookupHost("www.example.com.", func([]netip.Addr, error) { called++ })
	if req1 == nil || req2 == nil {
		t.Fatal("nil Request for a lookup in progress")
	}
	if !req1.Cancel() || req1.Cancel() {
		t.Error("Cancel results wrong")
	}
	if s := r.Stats(); s.InFlight != 2 {
		t.Errorf("in flight after one of two Cancels: %d", s.InFlight)
	}
	req2.Cancel()
	if s := r.Stats(); s.InFlight != 0 {
		t.Errorf("in flight after Cancel: %d", s.InFlight)
	}
	// No timer or socket is left to call back: the loop has nothing to
	// run, and Run returns at once.
	if l.Alive() {
		t.Error("the loop is alive after every lookup was canceled")
	} else if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if called != 0 {
		t.Fatal("a canceled lookup called back")
	}
	var nilReq *Request
	if nilReq.Cancel() {
		t.Error("nil Cancel")
	}
}

func TestMaxInFlight(t *testing.T) {
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		return []fakeReply{{msg: testZone().answer(q), delay: 10 * time.Millisecond}}
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, &ResolverConfig{MaxInFlight: 1, MaxQueued: 2})
	ch := make(chan answerResult, 4)
	rl.Do(func() {
		for _, n := range []string{"www", "v4", "alias", "host.corp"} {
			r.Lookup(n+".example.com.", dnsmessage.TypeA, func(a *Answer, err error) { ch <- answerResult{a, err} })
		}
		if s := r.Stats(); s.InFlight != 1 || s.Queued != 2 {
			t.Errorf("stats = %+v", s)
		}
	})
	ok, full := 0, 0
	for range 4 {
		res := <-ch
		switch {
		case res.err == nil:
			ok++
		case errors.Is(res.err, ErrTooManyQueries):
			full++
		default:
			t.Errorf("err %v", res.err)
		}
	}
	if ok != 3 || full != 1 {
		t.Errorf("%d ok, %d full", ok, full)
	}
}

func TestClose(t *testing.T) {
	srv := newFakeServer(t, func(*dnsmessage.Message, int, bool) []fakeReply { return nil })
	rl := startLoop(t)
	var r *Resolver
	rl.Do(func() { r = NewResolver(rl.Loop, testConfig(time.Second, 1, srv.addr), nil, nil) })
	ch := make(chan error, 2)
	rl.Do(func() {
		r.LookupHost("www.example.com.", func(_ []netip.Addr, err error) { ch <- err })
		r.Close()
		r.Lookup("www.example.com.", dnsmessage.TypeMX, func(_ *Answer, err error) { ch <- err })
	})
	for range 2 {
		if err := <-ch; !errors.Is(err, ErrClosed) {
			t.Errorf("err = %v", err)
		}
	}
}

// fuzzAnswer builds a message answering a query for www.example.com. A
// with ID 0x1234, for the fuzz seeds.
func fuzzAnswer(rcode dnsmessage.RCode, tc bool, answers []dnsmessage.Resource, auth *dnsmessage.Resource) []byte {
	q := &dnsmessage.Message{Header: dnsmessage.Header{ID: 0x1234, RecursionDesired: true},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName("www.example.com."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}}}
	b := reply(q, rcode, answers, auth)
	if tc {
		b[2] |= 0x02
	}
	return b
}

// FuzzHandleAnswer hands arbitrary bytes to a query in flight as its
// answer: whatever they are, nothing panics, and the lookup waiting on
// the query either calls back exactly once, with an Answer or an error,
// or keeps waiting (the message was dropped).
func FuzzHandleAnswer(f *testing.F) {
	f.Add(fuzzAnswer(dnsmessage.RCodeSuccess, false, []dnsmessage.Resource{rrA("www.example.com.", "192.0.2.1", 300)}, nil))
	f.Add(fuzzAnswer(dnsmessage.RCodeSuccess, false, []dnsmessage.Resource{
		rrCNAME("www.example.com.", "a.example.com.", 60), rrCNAME("a.example.com.", "b.example.com.", 60), rrA("b.example.com.", "192.0.2.2", 30)}, nil))
	f.Add(fuzzAnswer(dnsmessage.RCodeSuccess, false, []dnsmessage.Resource{rrCNAME("www.example.com.", "elsewhere.example.net.", 60)}, nil))
	f.Add(fuzzAnswer(dnsmessage.RCodeNameError, false, nil, soa(60)))
	f.Add(fuzzAnswer(dnsmessage.RCodeSuccess, false, nil, soa(60)))
	f.Add(fuzzAnswer(dnsmessage.RCodeServerFailure, false, nil, nil))
	f.Add(fuzzAnswer(dnsmessage.RCodeSuccess, true, nil, nil))
	f.Add([]byte("\x12\x34garbage"))
	clock := eddytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := eddy.NewLoop(&eddy.Config{Backend: eddytest.NewBackend(clock), Clock: clock})
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	conf := testConfig(time.Second, 1, netip.MustParseAddrPort("127.0.0.1:53"))
	qmsg, err := buildQuery(dnsmessage.MustNewName("www.example.com."), dnsmessage.TypeA, false)
	if err != nil {
		f.Fatal(err)
	}
	// Over TCP already and without EDNS0 already, so that no answer makes
	// the query send anything (a truncated answer, a FORMERR): the fuzzer
	// sends nothing anywhere.
	f.Fuzz(func(t *testing.T, msg []byte) {
		r := NewResolver(l, conf, nil, nil)
		// Closed, so that the CNAME targets an answer may name are not
		// asked: the fuzzer sends nothing anywhere.
		r.closed = true
		const name = "www.example.com."
		q := &query{r: r, key: qkey{name, dnsmessage.TypeA}, name: name, qtype: dnsmessage.TypeA,
			id: 0x1234, started: true, tcp: true, noEDNS: true, try: 1, msg: qmsg}
		r.running = 1
		r.inflight[q.key] = q
		calls := 0
		req := &Request{r: r, kind: kindType, name: name, qtype: dnsmessage.TypeA, cands: []string{name}, nslots: 1, pending: 1,
			cbAns: func(a *Answer, err error) {
				calls++
				if (a == nil) == (err == nil) {
					t.Errorf("callback with %v and %v", a, err)
				}
				if a != nil && len(a.Records) == 0 {
					t.Errorf("an Answer without records")
				}
			}}
		req.slots[0] = slot{qtype: dnsmessage.TypeA, cur: name}
		req.subs[0] = q
		q.waiters = []waiter{{req, 0}}
		q.handle(msg)
		if calls > 1 || (calls == 1) != q.done {
			t.Errorf("%d callbacks, query done %v", calls, q.done)
		}
		if q.done && r.running != 0 {
			t.Errorf("running %d", r.running)
		}
	})
}

// BenchmarkLookupHostCached measures a LookupHost answered from the cache:
// a map access and the callback, no allocation.
func BenchmarkLookupHostCached(b *testing.B) {
	srv := newFakeServer(b, testZone().handler)
	l, err := eddy.NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := NewResolver(l, testConfig(time.Second, 1, srv.addr), nil, nil)
	defer r.Close()
	n := 0
	cb := func(a []netip.Addr, err error) { n += len(a) }
	r.LookupHost("www.example.com", cb)
	if err := l.Run(); err != nil || n != 2 {
		b.Fatalf("priming lookup: %v, %d addresses", err, n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.LookupHost("www.example.com", cb)
	}
	if n != 2*(b.N+1) {
		b.Fatalf("%d addresses", n)
	}
}

// BenchmarkLookupCached measures a Lookup (MX) answered from the cache.
func BenchmarkLookupCached(b *testing.B) {
	srv := newFakeServer(b, testZone().handler)
	l, err := eddy.NewLoop(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := NewResolver(l, testConfig(time.Second, 1, srv.addr), nil, nil)
	defer r.Close()
	n := 0
	cb := func(a *Answer, err error) { n += len(a.Records) }
	r.Lookup("example.com.", dnsmessage.TypeMX, cb)
	if err := l.Run(); err != nil || n != 2 {
		b.Fatalf("priming lookup: %v, %d records", err, n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		r.Lookup("example.com.", dnsmessage.TypeMX, cb)
	}
}

func TestFormErrRetriesWithoutEDNS(t *testing.T) {
	z := testZone()
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if len(q.Additionals) > 0 {
			return []fakeReply{{msg: reply(q, dnsmessage.RCodeFormatError, nil, nil)}}
		}
		return z.handler(q, n, tcp)
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, nil)
	if ans, err := lookup(t, rl, r, "www.example.com.", dnsmessage.TypeA); err != nil || len(ans.Addrs) != 1 {
		t.Fatalf("got %+v, %v", ans, err)
	}
	if n := srv.udpQueries.Load(); n != 2 {
		t.Errorf("%d queries, want 2", n)
	}
	// FORMERR without EDNS0 too: a server error.
	srv.setHandler(func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		return []fakeReply{{msg: reply(q, dnsmessage.RCodeFormatError, nil, nil)}}
	})
	if _, err := lookup(t, rl, r, "v4.example.com.", dnsmessage.TypeA); !errors.Is(err, ErrServerError) {
		t.Fatalf("err = %v", err)
	}
}

func TestSingleRequest(t *testing.T) {
	// With single-request the AAAA question leaves only once the A answer
	// (sent 20ms after the A question arrived) is in.
	var mu sync.Mutex
	var arrived []time.Time
	z := testZone()
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		mu.Lock()
		arrived = append(arrived, time.Now())
		mu.Unlock()
		return []fakeReply{{msg: z.answer(q), delay: 20 * time.Millisecond}}
	})
	rl := startLoop(t)
	c := testConfig(time.Second, 1, srv.addr)
	c.SingleRequest = true
	r := newTestResolver(t, rl, c, nil, nil)
	got, err := lookupHost(t, rl, r, "www.example.com.")
	if err != nil || !slices.Equal(got, addrs("192.0.2.1", "2001:db8::1")) {
		t.Fatalf("got %v, %v", got, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(arrived) != 2 || arrived[1].Sub(arrived[0]) < 20*time.Millisecond {
		t.Errorf("questions arrived at %v: not one after the other", arrived)
	}
}

func TestRetryFakeClock(t *testing.T) {
	// The first try is not answered; the second is. On the fake clock the
	// answer comes exactly one Timeout after the lookup started.
	z := testZone()
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if n == 1 {
			return nil
		}
		return z.handler(q, n, tcp)
	})
	l, be, _ := fakeLoop(t)
	r := NewResolver(l, testConfig(5*time.Second, 2, srv.addr), nil, nil)
	defer r.Close()
	start := l.Now()
	var ans *Answer
	var at time.Duration
	r.Lookup("www.example.com.", dnsmessage.TypeA, func(a *Answer, err error) {
		if err != nil {
			t.Errorf("err %v", err)
		}
		ans, at = a, l.Now().Sub(start)
	})
	if err := l.RunOnce(); err != nil { // waits 5s of fake time: the timeout, a retry
		t.Fatal(err)
	}
	if s := r.Stats(); s.Retries != 1 || s.Timeouts != 1 {
		t.Fatalf("stats = %+v", s)
	}
	if !testutil.Eventually(5*time.Second, func() bool { return srv.udpQueries.Load() == 2 }) {
		t.Fatal("no retry reached the server")
	}
	pumpUntil(t, l, be, "the answer to the retry", func() bool { return ans != nil })
	if l.Now().Sub(start) > 5*time.Second {
		t.Fatal("fake time moved past the retry")
	}
	if ans == nil || at != 5*time.Second || len(ans.Addrs) != 1 {
		t.Errorf("answer %+v after %v, want 5s", ans, at)
	}
}

func TestWatchFiles(t *testing.T) {
	srv := newFakeServer(t, testZone().handler)
	rl := startLoop(t)
	c := testConfig(time.Second, 1, srv.addr)
	r := newTestResolver(t, rl, c, nil, nil)
	dir := t.TempDir()
	confPath, hostsPath := filepath.Join(dir, "resolv.conf"), filepath.Join(dir, "hosts")
	write := func(path, data string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	rl.Do(func() {
		if err := r.WatchFiles(confPath, hostsPath, 20*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := lookupHost(t, rl, r, "box.test."); !errors.Is(err, ErrNXDomain) {
		t.Fatalf("before the hosts file: %v", err)
	}
	write(hostsPath, "192.0.2.50 box.test\n")
	if !testutil.Eventually(5*time.Second, func() bool {
		got, err := lookupHost(t, rl, r, "box.test.")
		return err == nil && slices.Equal(got, addrs("192.0.2.50"))
	}) {
		t.Fatal("the new hosts file was not used")
	}
	write(confPath, "nameserver 192.0.2.53\noptions ndots:3 attempts:4\n")
	if !testutil.Eventually(5*time.Second, func() bool {
		var ok bool
		rl.Do(func() {
			ok = r.conf.Ndots == 3 && r.conf.Attempts == 4 && slices.Equal(r.conf.Servers, aps("192.0.2.53:53"))
		})
		return ok
	}) {
		t.Fatal("the new resolv.conf was not used")
	}
	if s := stats(rl, r); s.Reloads < 2 || s.ReloadErrors != 0 {
		t.Errorf("stats = %+v", s)
	}
}
