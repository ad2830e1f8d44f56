package evproxy_test

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evdns"
	"github.com/eddyloop/eddy/evhttp/evclient"
	"github.com/eddyloop/eddy/evproxy"
	"github.com/eddyloop/eddy/internal/testutil"
)

// fakeDNS is a DNS server on 127.0.0.1 (UDP) that answers the A questions
// of one name with the addresses the test sets, with a TTL, and the other
// questions with no record.
type fakeDNS struct {
	name    string // fully qualified
	ttl     uint32
	addr    netip.AddrPort
	mu      sync.Mutex
	addrs   []netip.Addr
	queries atomic.Int32 // A questions for name
}

// newFakeDNS starts a fakeDNS for name with ttl, closed when the test ends.
func newFakeDNS(t *testing.T, name string, ttl uint32) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeDNS{name: name, ttl: ttl, addr: pc.LocalAddr().(*net.UDPAddr).AddrPort()}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if out := s.answer(buf[:n]); out != nil {
				pc.WriteTo(out, from)
			}
		}
	}()
	return s
}

// resolver is a Config.Resolver: a resolver that asks s alone, with no
// hosts file.
func (s *fakeDNS) resolver(l *eddy.Loop) *evdns.Resolver {
	conf := evdns.DefaultConfig()
	conf.Servers = []netip.AddrPort{s.addr}
	return evdns.NewResolver(l, conf, nil, nil)
}

// set sets the addresses of s's name.
func (s *fakeDNS) set(addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs = s.addrs[:0]
	for _, a := range addrs {
		s.addrs = append(s.addrs, netip.MustParseAddr(a))
	}
}

// answer builds the answer to the query q, or nil for garbage.
func (s *fakeDNS) answer(q []byte) []byte {
	var m dnsmessage.Message
	if m.Unpack(q) != nil || len(m.Questions) != 1 {
		return nil
	}
	question := m.Questions[0]
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: m.ID, Response: true, Authoritative: true, RecursionDesired: m.RecursionDesired})
	b.EnableCompression()
	b.StartQuestions()
	b.Question(question)
	b.StartAnswers()
	known := strings.EqualFold(question.Name.String(), s.name)
	if known && question.Type == dnsmessage.TypeA {
		s.queries.Add(1)
		s.mu.Lock()
		for _, a := range s.addrs {
			h := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: s.ttl}
			b.AResource(h, dnsmessage.AResource{A: a.As4()})
		}
		s.mu.Unlock()
	}
	out, _ := b.Finish()
	return out
}

// namedUpstreams starts an upstream on 127.0.0.1:P and one on
// 127.0.0.2:P, the same port, each answering its own address; a request
// for /hold waits until hold is closed.
func namedUpstreams(t *testing.T, hold chan struct{}) (port string) {
	t.Helper()
	for range 20 {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ = net.SplitHostPort(l1.Addr().String())
		l2, err := net.Listen("tcp", "127.0.0.2:"+port)
		if err != nil {
			l1.Close()
			continue
		}
		for _, ln := range []net.Listener{l1, l2} {
			s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/hold" {
					<-hold
				}
				io.WriteString(w, r.Context().Value(http.LocalAddrContextKey).(net.Addr).String())
			}))
			s.Listener = ln
			s.Start()
			t.Cleanup(s.Close)
		}
		return port
	}
	t.Skip("no port free on both 127.0.0.1 and 127.0.0.2")
	return ""
}

// TestResolve proxies to an upstream given by name: its address at first,
// then, once the TTL has run out, the new one (the old one drains the
// request it has in flight), then both.
func TestResolve(t *testing.T) {
	hold := make(chan struct{})
	port := namedUpstreams(t, hold)
	dns := newFakeDNS(t, "app.test.", 30)
	dns.set("127.0.0.1")
	upstream := "http://app.test:" + port
	cp := startClockProxy(t, &evproxy.Config{Upstreams: []string{upstream},
		Resolver: dns.resolver})
	url := "http://" + cp.addr
	one, two := "127.0.0.1:"+port, "127.0.0.2:"+port
	for range 2 {
		if s, body := get(t, url+"/"); s != 200 || body != one {
			t.Fatalf("%d %q, want the first address", s, body)
		}
	}
	// Another goroutine reads the figures all along, as a metrics
	// exporter would, while the loop changes the addresses: -race checks.
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		var buf []evproxy.UpstreamStats
		for {
			select {
			case <-stop:
				return
			default:
				buf = cp.p.Upstreams(buf[:0])
			}
		}
	}()
	defer func() { close(stop); <-stopped }()
	held := make(chan int)
	go func() { s, _ := get(t, url+"/hold"); held <- s }()
	testutil.Eventually(10*time.Second, func() bool { return cp.p.Upstreams(nil)[0].InFlight == 1 })
	dns.set("127.0.0.2")
	cp.Advance(29 * time.Second)
	if n := dns.queries.Load(); n != 1 {
		t.Errorf("%d queries before the TTL ran out", n)
	}
	cp.Advance(time.Second)
	retired := func() bool {
		st := cp.stats()
		return len(st) == 2 && st[0].Addr == one && st[0].Retired && st[1].Addr == two && !st[1].Retired
	}
	if !testutil.Eventually(10*time.Second, retired) {
		t.Fatalf("after the TTL: %+v", cp.stats())
	}
	for range 2 {
		if s, body := get(t, url+"/"); s != 200 || body != two {
			t.Fatalf("%d %q, want the second address", s, body)
		}
	}
	close(hold)
	if s := <-held; s != 200 {
		t.Errorf("the request in flight to the retired address: %d", s)
	}
	if st := cp.stats(); st[0].InFlight != 0 || st[0].Requests != 3 || st[1].Requests != 2 {
		t.Errorf("figures %+v", st)
	}

	dns.set("127.0.0.1", "127.0.0.2")
	cp.Advance(30 * time.Second)
	both := func() bool {
		st := cp.stats()
		return len(st) == 2 && !st[0].Retired && !st[1].Retired
	}
	if !testutil.Eventually(10*time.Second, both) {
		t.Fatalf("after the TTL: %+v", cp.stats())
	}
	got := map[string]int{}
	for range 4 {
		_, body := get(t, url+"/")
		got[body]++
	}
	if got[one] != 2 || got[two] != 2 {
		t.Errorf("answers %v, want two from each address", got)
	}
}

// TestResolveFails answers 502 at once for an upstream whose name does
// not resolve.
func TestResolveFails(t *testing.T) {
	dns := newFakeDNS(t, "app.test.", 30)
	var logged atomic.Int32
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{"http://nowhere.test"},
		ErrorLog: func(string, ...any) { logged.Add(1) },
		Resolver: dns.resolver})
	if s, body := get(t, "http://"+addr+"/"); s != 502 || logged.Load() != 1 {
		t.Errorf("%d %q, %d errors logged", s, body, logged.Load())
	}
}

// TestResolveHTTPS reaches an https upstream given by name at the address
// the name resolves to, 127.0.0.2, which its certificate does not name:
// it is verified under the name.
func TestResolveHTTPS(t *testing.T) {
	pki := testutil.TestPKI(t)
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skip("no 127.0.0.2:", err)
	}
	s := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secure") }))
	s.Listener = ln
	s.TLS = pki.ServerConfig()
	s.StartTLS()
	t.Cleanup(s.Close)
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	dns := newFakeDNS(t, "localhost.", 30)
	dns.set("127.0.0.2")
	addr := startProxy(t, &evproxy.Config{Upstreams: []string{"https://localhost:" + port},
		Client:   evclient.Config{TLS: &tls.Config{RootCAs: pki.CAPool}},
		Resolver: dns.resolver})
	if s, body := get(t, "http://"+addr+"/"); s != 200 || body != "secure" {
		t.Errorf("%d %q, want 200 secure", s, body)
	}
}
