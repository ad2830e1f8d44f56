package evdns

import (
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy/internal/testutil/testloop"
)

// fakeReply is one datagram (or TCP message) the fake server sends in
// answer to a query.
type fakeReply struct {
	msg       []byte
	delay     time.Duration // sent after this delay
	gate      chan struct{} // if not nil, sent once the test closes it
	sent      chan struct{} // if not nil, closed once the reply is written
	otherPort bool          // sent from another socket (another port)
}

// fakeServer is an in-process DNS server on 127.0.0.1 (UDP and TCP on the
// same port) whose answers are scripted by a handler: it can answer well,
// or with a wrong ID, a wrong question, from another port, with garbage,
// late, or not at all.
type fakeServer struct {
	t     testing.TB
	udp   net.PacketConn
	other net.PacketConn
	tcp   net.Listener
	addr  netip.AddrPort

	mu      sync.Mutex
	handler func(q *dnsmessage.Message, n int, tcp bool) []fakeReply
	conns   map[net.Conn]bool
	closed  bool
	srcs    []netip.AddrPort // the source of each UDP query, in order of arrival
	ids     []uint16         // the ID of each UDP query

	udpQueries, tcpQueries atomic.Int64
	wg                     sync.WaitGroup
	quit                   chan struct{} // closed by close: gated replies are dropped
}

// newFakeServer starts a fake server with handler h (which may be changed
// later with setHandler); it is closed when the test ends. The handler
// gets the parsed query and its number among the queries of its
// transport, counted from 1.
func newFakeServer(t testing.TB, h func(q *dnsmessage.Message, n int, tcp bool) []fakeReply) *fakeServer {
	t.Helper()
	s := &fakeServer{t: t, handler: h, conns: map[net.Conn]bool{}, quit: make(chan struct{})}
	var err error
	for range 10 {
		if s.udp, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		s.addr = s.udp.LocalAddr().(*net.UDPAddr).AddrPort()
		if s.tcp, err = net.Listen("tcp4", s.addr.String()); err == nil {
			break
		}
		s.udp.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.other, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s.wg.Add(2)
	go s.serveUDP()
	go s.serveTCP()
	t.Cleanup(s.close)
	return s
}

func (s *fakeServer) setHandler(h func(q *dnsmessage.Message, n int, tcp bool) []fakeReply) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

func (s *fakeServer) getHandler() func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handler
}

// sources returns the source address and the ID of each UDP query so
// far, in order of arrival.
func (s *fakeServer) sources() ([]netip.AddrPort, []uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.srcs), slices.Clone(s.ids)
}

func (s *fakeServer) close() {
	s.mu.Lock()
	if !s.closed { // a test may close the server before its cleanup does
		close(s.quit)
	}
	s.closed = true
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.udp.Close()
	s.other.Close()
	s.tcp.Close()
	s.wg.Wait()
}

func (s *fakeServer) serveUDP() {
	defer s.wg.Done()
	buf := make([]byte, 65536)
	for {
		n, from, err := s.udp.ReadFrom(buf)
		if err != nil {
			return
		}
		var q dnsmessage.Message
		if q.Unpack(buf[:n]) != nil {
			continue
		}
		s.mu.Lock()
		s.srcs = append(s.srcs, from.(*net.UDPAddr).AddrPort())
		s.ids = append(s.ids, q.ID)
		s.mu.Unlock()
		count := int(s.udpQueries.Add(1))
		for _, r := range s.getHandler()(&q, count, false) {
			s.send(r, func(b []byte) {
				if r.otherPort {
					s.other.WriteTo(b, from)
				} else {
					s.udp.WriteTo(b, from)
				}
			})
		}
	}
}

// send sends r now, or from a goroutine after its delay or once its gate
// is open.
func (s *fakeServer) send(r fakeReply, write func([]byte)) {
	if r.sent != nil {
		w := write
		write = func(b []byte) { w(b); close(r.sent) }
	}
	if r.delay == 0 && r.gate == nil {
		write(r.msg)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if r.gate != nil {
			select {
			case <-r.gate:
			case <-s.quit:
				return
			}
		}
		if r.delay > 0 {
			// The script's delay: a real server's late answer, on real
			// time, which the resolver under test must live through.
			time.Sleep(r.delay)
		}
		write(r.msg)
	}()
}

func (s *fakeServer) serveTCP() {
	defer s.wg.Done()
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go s.serveConn(c)
	}
}

func (s *fakeServer) serveConn(c net.Conn) {
	defer s.wg.Done()
	defer c.Close()
	var mu sync.Mutex
	for {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		var q dnsmessage.Message
		if q.Unpack(msg) != nil {
			return
		}
		count := int(s.tcpQueries.Add(1))
		for _, r := range s.getHandler()(&q, count, true) {
			s.send(r, func(b []byte) {
				mu.Lock()
				defer mu.Unlock()
				if b == nil { // close the connection
					c.Close()
					return
				}
				out := binary.BigEndian.AppendUint16(nil, uint16(len(b)))
				c.Write(append(out, b...))
			})
		}
	}
}

// zone is a table of records for the fake server: name (lower case, fully
// qualified) and type to records. A name with no record of any type is
// NXDOMAIN; a name with records of other types only is NODATA.
type zone map[string][]dnsmessage.Resource

// answer is the zone's answer to q, following CNAMEs in the zone as a
// recursive server does.
func (z zone) answer(q *dnsmessage.Message) []byte {
	qq := q.Questions[0]
	name := strings.ToLower(qq.Name.String())
	var answers []dnsmessage.Resource
	for hops := 0; hops < 20; hops++ {
		rrs, ok := z[name]
		if !ok {
			if len(answers) > 0 {
				break
			}
			return reply(q, dnsmessage.RCodeNameError, nil, soa(60))
		}
		next := ""
		found := false
		for _, rr := range rrs {
			if rr.Header.Type == qq.Type {
				answers = append(answers, rr)
				found = true
			}
		}
		if !found && qq.Type != dnsmessage.TypeCNAME {
			for _, rr := range rrs {
				if c, ok := rr.Body.(*dnsmessage.CNAMEResource); ok {
					answers = append(answers, rr)
					next = strings.ToLower(c.CNAME.String())
				}
			}
		}
		if next == "" {
			break
		}
		name = next
	}
	if len(answers) == 0 {
		return reply(q, dnsmessage.RCodeSuccess, nil, soa(30))
	}
	return reply(q, dnsmessage.RCodeSuccess, answers, nil)
}

// handler answers from the zone, once per query.
func (z zone) handler(q *dnsmessage.Message, _ int, _ bool) []fakeReply {
	return []fakeReply{{msg: z.answer(q)}}
}

// reply builds the answer to q with rcode, answers and an authority SOA.
func reply(q *dnsmessage.Message, rcode dnsmessage.RCode, answers []dnsmessage.Resource, auth *dnsmessage.Resource) []byte {
	m := dnsmessage.Message{
		Header:    dnsmessage.Header{ID: q.ID, Response: true, RecursionAvailable: true, RecursionDesired: q.RecursionDesired, RCode: rcode},
		Questions: q.Questions,
		Answers:   answers,
	}
	if auth != nil {
		m.Authorities = []dnsmessage.Resource{*auth}
	}
	b, err := m.Pack()
	if err != nil {
		panic(err)
	}
	return b
}

func hdr(name string, t dnsmessage.Type, ttl uint32) dnsmessage.ResourceHeader {
	return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: t, Class: dnsmessage.ClassINET, TTL: ttl}
}

func rrA(name, ip string, ttl uint32) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeA, ttl), Body: &dnsmessage.AResource{A: netip.MustParseAddr(ip).As4()}}
}

func rrAAAA(name, ip string, ttl uint32) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeAAAA, ttl), Body: &dnsmessage.AAAAResource{AAAA: netip.MustParseAddr(ip).As16()}}
}

func rrCNAME(name, target string, ttl uint32) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeCNAME, ttl), Body: &dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target)}}
}

func rrMX(name string, pref uint16, mx string, ttl uint32) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeMX, ttl), Body: &dnsmessage.MXResource{Pref: pref, MX: dnsmessage.MustNewName(mx)}}
}

func rrTXT(name string, ttl uint32, txt ...string) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeTXT, ttl), Body: &dnsmessage.TXTResource{TXT: txt}}
}

func rrSRV(name string, prio, weight, port uint16, target string, ttl uint32) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeSRV, ttl), Body: &dnsmessage.SRVResource{Priority: prio, Weight: weight, Port: port, Target: dnsmessage.MustNewName(target)}}
}

func rrNS(name, ns string, ttl uint32) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeNS, ttl), Body: &dnsmessage.NSResource{NS: dnsmessage.MustNewName(ns)}}
}

func rrPTR(name, ptr string, ttl uint32) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypePTR, ttl), Body: &dnsmessage.PTRResource{PTR: dnsmessage.MustNewName(ptr)}}
}

func rrSOA(name string, ttl, minTTL uint32) dnsmessage.Resource {
	return dnsmessage.Resource{Header: hdr(name, dnsmessage.TypeSOA, ttl), Body: &dnsmessage.SOAResource{
		NS: dnsmessage.MustNewName("ns." + name), MBox: dnsmessage.MustNewName("admin." + name),
		Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, MinTTL: minTTL}}
}

// soa returns the authority SOA of example.com. for negative answers,
// with a MINIMUM of min seconds and a TTL of 300.
func soa(min uint32) *dnsmessage.Resource {
	r := rrSOA("example.com.", 300, min)
	return &r
}

// testZone is the zone most tests use.
func testZone() zone {
	z := zone{
		"www.example.com.":    {rrA("www.example.com.", "192.0.2.1", 300), rrAAAA("www.example.com.", "2001:db8::1", 300)},
		"v4.example.com.":     {rrA("v4.example.com.", "192.0.2.4", 300)},
		"alias.example.com.":  {rrCNAME("alias.example.com.", "alias2.example.com.", 300)},
		"alias2.example.com.": {rrCNAME("alias2.example.com.", "www.example.com.", 200)},
		"loop1.example.com.":  {rrCNAME("loop1.example.com.", "loop2.example.com.", 300)},
		"loop2.example.com.":  {rrCNAME("loop2.example.com.", "loop1.example.com.", 300)},
		"example.com.": {
			rrMX("example.com.", 10, "mail.example.com.", 300), rrMX("example.com.", 20, "mx2.example.com.", 300),
			rrNS("example.com.", "ns1.example.com.", 300), rrSOA("example.com.", 300, 60),
			rrTXT("example.com.", 300, "v=spf1 -all"),
		},
		"_http._tcp.example.com.":                       {rrSRV("_http._tcp.example.com.", 1, 5, 80, "www.example.com.", 300)},
		"1.2.0.192.in-addr.arpa.":                       {rrPTR("1.2.0.192.in-addr.arpa.", "www.example.com.", 300)},
		"host.corp.example.com.":                        {rrA("host.corp.example.com.", "192.0.2.9", 300)},
		ReverseName(netip.MustParseAddr("2001:db8::1")): {rrPTR(ReverseName(netip.MustParseAddr("2001:db8::1")), "www.example.com.", 300)},
	}
	return z
}

// runLoop is a loop running on its own goroutine for a test.
type runLoop = testloop.Loop

func startLoop(t testing.TB) *runLoop { return testloop.Start(t) }

// testConfig is a configuration naming the given servers, with a short
// timeout so that timeout tests stay fast.
func testConfig(timeout time.Duration, attempts int, servers ...netip.AddrPort) *Config {
	c := DefaultConfig()
	c.Servers = servers
	c.Timeout = timeout
	c.Attempts = attempts
	return c
}

// newTestResolver returns a resolver on rl, closed when the test ends.
func newTestResolver(t testing.TB, rl *runLoop, c *Config, h *Hosts, o *ResolverConfig) *Resolver {
	var r *Resolver
	rl.Do(func() { r = NewResolver(rl.Loop, c, h, o) })
	t.Cleanup(func() { rl.Do(r.Close) })
	return r
}

// hostResult and answerResult are what callbacks deliver to tests.
type hostResult struct {
	addrs []netip.Addr
	err   error
}

type answerResult struct {
	ans *Answer
	err error
}

const testWait = 10 * time.Second

func lookupHost(t testing.TB, rl *runLoop, r *Resolver, name string) ([]netip.Addr, error) {
	t.Helper()
	ch := make(chan hostResult, 1)
	rl.Post(func() {
		r.LookupHost(name, func(a []netip.Addr, err error) { ch <- hostResult{append([]netip.Addr(nil), a...), err} })
	})
	select {
	case res := <-ch:
		return res.addrs, res.err
	case <-time.After(testWait):
		t.Fatalf("LookupHost(%s) did not call back", name)
		return nil, nil
	}
}

func lookup(t testing.TB, rl *runLoop, r *Resolver, name string, qt dnsmessage.Type) (*Answer, error) {
	t.Helper()
	ch := make(chan answerResult, 1)
	rl.Post(func() {
		r.Lookup(name, qt, func(a *Answer, err error) { ch <- answerResult{a, err} })
	})
	select {
	case res := <-ch:
		return res.ans, res.err
	case <-time.After(testWait):
		t.Fatalf("Lookup(%s, %v) did not call back", name, qt)
		return nil, nil
	}
}

func lookupAddr(t testing.TB, rl *runLoop, r *Resolver, addr netip.Addr) ([]string, error) {
	t.Helper()
	type res struct {
		names []string
		err   error
	}
	ch := make(chan res, 1)
	rl.Post(func() {
		r.LookupAddr(addr, func(n []string, err error) { ch <- res{append([]string(nil), n...), err} })
	})
	select {
	case x := <-ch:
		return x.names, x.err
	case <-time.After(testWait):
		t.Fatalf("LookupAddr(%s) did not call back", addr)
		return nil, nil
	}
}

func stats(rl *runLoop, r *Resolver) (s Stats) {
	rl.Do(func() { s = r.Stats() })
	return s
}
