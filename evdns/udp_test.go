package evdns

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy/internal/testutil"
)

// Shared UDP sockets (udpSock, ResolverConfig.UDPMaxQueries).

// startLookups starts a Lookup (type A) of each name in one loop
// callback, so that their queries are all outstanding at once, then
// calls after (if not nil) in the same callback, before any answer can
// be taken, and returns the channel the results come on.
func startLookups(rl *runLoop, r *Resolver, after func(), names ...string) chan answerResult {
	ch := make(chan answerResult, len(names))
	rl.Do(func() {
		for _, n := range names {
			r.Lookup(n, dnsmessage.TypeA, func(a *Answer, err error) { ch <- answerResult{a, err} })
		}
		if after != nil {
			after()
		}
	})
	return ch
}

// waitResults waits for n results on ch and fails the test on an error
// or a missing address.
func waitResults(t *testing.T, ch chan answerResult, n int) {
	t.Helper()
	for range n {
		select {
		case res := <-ch:
			if res.err != nil || len(res.ans.Addrs) != 1 {
				t.Fatalf("result %+v, %v", res.ans, res.err)
			}
		case <-time.After(testWait):
			t.Fatal("a lookup did not call back")
		}
	}
}

// wildZone answers any name with 192.0.2.7, after delay.
func wildZone(delay time.Duration) func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
	return func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		a := rrA(q.Questions[0].Name.String(), "192.0.2.7", 300)
		return []fakeReply{{msg: reply(q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{a}, nil), delay: delay}}
	}
}

func testNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d.example.com.", prefix, i)
	}
	return out
}

// openSockets returns the number of the resolver's open UDP sockets and
// of its outstanding UDP attempts.
func openSockets(rl *runLoop, r *Resolver) (socks, attempts int) {
	rl.Do(func() { socks, attempts = len(r.udpOpen), len(r.pending) })
	return socks, attempts
}

func TestUDPSocketShared(t *testing.T) {
	// Ten queries at once, four per socket: the source ports go 4, 4, 2,
	// three different ports; every socket is closed once its queries are
	// answered.
	srv := newFakeServer(t, wildZone(50*time.Millisecond))
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, &ResolverConfig{CacheSize: -1, UDPMaxQueries: 4})
	ch := startLookups(rl, r, func() {
		if socks, attempts := len(r.udpOpen), len(r.pending); socks != 3 || attempts != 10 {
			t.Errorf("%d sockets open, %d attempts outstanding; want 3 and 10", socks, attempts)
		}
	}, testNames("n", 10)...)
	waitResults(t, ch, 10)
	srcs, ids := srv.sources()
	if len(srcs) != 10 {
		t.Fatalf("%d queries arrived", len(srcs))
	}
	for i, src := range srcs {
		if first := srcs[i/4*4]; src != first {
			t.Errorf("query %d from %s, want %s (the port of query %d)", i, src, first, i/4*4)
		}
		if i%4 == 0 && i > 0 && src.Port() == srcs[i-1].Port() {
			t.Errorf("query %d from the port of query %d: the socket was not replaced after 4", i, i-1)
		}
	}
	if srcs[0].Port() == srcs[8].Port() {
		t.Errorf("the first and third sockets share port %d", srcs[0].Port())
	}
	for i := range 10 {
		for j := i / 4 * 4; j < i; j++ {
			if ids[i] == ids[j] {
				t.Errorf("queries %d and %d share socket and ID %#x", j, i, ids[i])
			}
		}
	}
	if socks, attempts := openSockets(rl, r); socks != 0 || attempts != 0 {
		t.Errorf("after the answers: %d sockets open, %d attempts outstanding", socks, attempts)
	}
	if s := stats(rl, r); s.Queries != 10 || s.Dropped != 0 || s.Timeouts != 0 {
		t.Errorf("stats = %+v", s)
	}

	// The default shares a socket among 32 attempts.
	r2 := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, &ResolverConfig{CacheSize: -1})
	ch = startLookups(rl, r2, func() {
		if socks := len(r2.udpOpen); socks != 2 {
			t.Errorf("33 queries with the default UDPMaxQueries: %d sockets, want 2", socks)
		}
	}, testNames("d", 33)...)
	waitResults(t, ch, 33)
}

func TestUDPMaxQueriesOne(t *testing.T) {
	// One socket per attempt: every query, and every retry, from a port of
	// its own.
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if strings.HasPrefix(q.Questions[0].Name.String(), "retry.") && n <= 8 {
			return nil // the first try of each: answered only on the retry
		}
		return wildZone(20*time.Millisecond)(q, n, tcp)
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(100*time.Millisecond, 2, srv.addr), nil, &ResolverConfig{CacheSize: -1, UDPMaxQueries: 1})
	var ns []string
	for i := range 8 {
		ns = append(ns, fmt.Sprintf("retry.n%d.example.com.", i))
	}
	ch := startLookups(rl, r, func() {
		if socks, attempts := len(r.udpOpen), len(r.pending); socks != 8 || attempts != 8 {
			t.Errorf("%d sockets open, %d attempts outstanding; want 8 and 8", socks, attempts)
		}
	}, ns...)
	waitResults(t, ch, 8)
	srcs, _ := srv.sources()
	seen := map[netip.AddrPort]int{}
	for i, src := range srcs {
		if j, dup := seen[src]; dup && (i < 8 || j >= 8) {
			// A port may be used again only once its socket is closed:
			// never among the 8 first tries, open at once, nor among
			// the 8 retries, open at once.
			t.Errorf("queries %d and %d both from %s", j, i, src)
		}
		seen[src] = i
	}
	if len(srcs) != 16 {
		t.Errorf("%d queries, want 16", len(srcs))
	}
	if socks, _ := openSockets(rl, r); socks != 0 {
		t.Errorf("%d sockets left open", socks)
	}
}

// seqSource gives the values of seq, then those of a ChaCha8: a test's
// script of query IDs.
type seqSource struct {
	seq  []uint64
	rest *rand.ChaCha8
}

func (s *seqSource) Uint64() uint64 {
	if len(s.seq) > 0 {
		v := s.seq[0]
		s.seq = s.seq[1:]
		return v
	}
	return s.rest.Uint64()
}

func TestUDPIDCollision(t *testing.T) {
	srv := newFakeServer(t, wildZone(30*time.Millisecond))
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, &ResolverConfig{CacheSize: -1})
	// Three queries on one socket; the draws collide with the IDs
	// outstanding there and are drawn again.
	rl.Do(func() {
		r.rng = &seqSource{seq: []uint64{0x1111, 0x1111, 0x2222, 0x2222, 0x1111, 0x3333}, rest: rand.NewChaCha8([32]byte{})}
	})
	waitResults(t, startLookups(rl, r, nil, testNames("c", 3)...), 3)
	srcs, ids := srv.sources()
	if !slices.Equal(ids, []uint16{0x1111, 0x2222, 0x3333}) || srcs[0] != srcs[1] || srcs[1] != srcs[2] {
		t.Errorf("IDs %#x from %v, want 0x1111, 0x2222, 0x3333 from one port", ids, srcs)
	}

	// On different sockets the same ID is fine: the answers still find
	// their attempts.
	r2 := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, &ResolverConfig{CacheSize: -1, UDPMaxQueries: 1})
	rl.Do(func() {
		r2.rng = &seqSource{seq: []uint64{0x4444, 0x4444, 0x4444}, rest: rand.NewChaCha8([32]byte{})}
	})
	ch := startLookups(rl, r2, nil, testNames("s", 3)...)
	got := map[string]bool{}
	for range 3 {
		res := <-ch
		if res.err != nil || !slices.Equal(res.ans.Addrs, addrs("192.0.2.7")) {
			t.Fatalf("got %+v, %v", res.ans, res.err)
		}
		got[res.ans.Name] = true
	}
	if len(got) != 3 {
		t.Errorf("answers for %v", got)
	}
	srcs, ids = srv.sources()
	srcs, ids = srcs[3:], ids[3:]
	if !slices.Equal(ids, []uint16{0x4444, 0x4444, 0x4444}) || srcs[0] == srcs[1] || srcs[1] == srcs[2] || srcs[0] == srcs[2] {
		t.Errorf("IDs %#x from %v, want 0x4444 from three ports", ids, srcs)
	}
	if s := stats(rl, r2); s.Dropped != 0 {
		t.Errorf("stats = %+v", s)
	}
}

func TestUDPCrossedAnswersDropped(t *testing.T) {
	// Two queries on one socket; the server first sends each one's
	// answer under the other's ID. The ID leads each answer to the other
	// attempt, whose question it does not match: dropped, both.
	var mu sync.Mutex
	var first *dnsmessage.Message
	z := testZone()
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = q
			return nil
		}
		a1, a2 := z.answer(first), z.answer(q)
		x1, x2 := slices.Clone(a1), slices.Clone(a2)
		x1[0], x1[1], x2[0], x2[1] = a2[0], a2[1], a1[0], a1[1]
		return []fakeReply{{msg: x1}, {msg: x2}, {msg: a1, delay: 20 * time.Millisecond}, {msg: a2, delay: 20 * time.Millisecond}}
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(time.Second, 1, srv.addr), nil, nil)
	ch := startLookups(rl, r, nil, "www.example.com.", "v4.example.com.")
	got := map[string][]netip.Addr{}
	for range 2 {
		res := <-ch
		if res.err != nil {
			t.Fatal(res.err)
		}
		got[res.ans.Name] = res.ans.Addrs
	}
	if !slices.Equal(got["www.example.com."], addrs("192.0.2.1")) || !slices.Equal(got["v4.example.com."], addrs("192.0.2.4")) {
		t.Errorf("answers %v", got)
	}
	if s := stats(rl, r); s.Dropped != 2 || s.Queries != 2 {
		t.Errorf("stats = %+v, want 2 dropped", s)
	}
}

func TestUDPLateAnswerOnSharedSocket(t *testing.T) {
	// A and B share a socket. A's first try is answered late (at 1.5
	// timeouts), after A was asked again (on the same socket, which B's
	// second try keeps open until 2 timeouts) and answered: no attempt has
	// the late answer's ID any more, so it is dropped and counted. B is
	// never answered.
	const timeout = 500 * time.Millisecond
	var mu sync.Mutex
	tries := map[string]int{}
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		name := q.Questions[0].Name.String()
		mu.Lock()
		tries[name]++
		try := tries[name]
		mu.Unlock()
		switch {
		case name != "a.example.com.":
			return nil
		case try == 1:
			return wildZone(timeout*3/2)(q, n, tcp)
		}
		return wildZone(0)(q, n, tcp)
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(timeout, 2, srv.addr), nil, nil)
	ch := startLookups(rl, r, nil, "a.example.com.", "b.example.com.")
	res := <-ch
	if res.err != nil || res.ans.Name != "a.example.com." {
		t.Fatalf("first result %+v, %v", res.ans, res.err)
	}
	var srcs []netip.AddrPort
	if !testutil.Eventually(testWait, func() bool { srcs, _ = srv.sources(); return len(srcs) >= 4 }) {
		t.Fatalf("%d queries", len(srcs))
	}
	if !testutil.Eventually(timeout, func() bool { return stats(rl, r).Dropped == 1 }) {
		t.Errorf("stats = %+v, want the late answer dropped", stats(rl, r))
	}
	if srcs[0] != srcs[2] || srcs[1] != srcs[3] || srcs[0] != srcs[1] {
		t.Errorf("sources %v: the tries did not share a socket", srcs)
	}
	if res := <-ch; !errors.Is(res.err, ErrTimeout) {
		t.Errorf("B: %+v, %v", res.ans, res.err)
	}
	if socks, attempts := openSockets(rl, r); socks != 0 || attempts != 0 {
		t.Errorf("%d sockets open, %d attempts outstanding", socks, attempts)
	}
}

func TestUDPPortUnreachableFailsOverAll(t *testing.T) {
	// Five queries outstanding on one socket to a silent server; an ICMP
	// port unreachable on that socket sends all five to the next server
	// at once, long before their timeout.
	silent := newFakeServer(t, func(*dnsmessage.Message, int, bool) []fakeReply { return nil })
	good := newFakeServer(t, wildZone(0))
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(5*time.Second, 1, silent.addr, good.addr), nil, nil)
	start := time.Now()
	ch := startLookups(rl, r, nil, testNames("u", 5)...)
	if !testutil.Eventually(testWait, func() bool { return silent.udpQueries.Load() == 5 }) {
		t.Fatalf("%d queries reached the silent server", silent.udpQueries.Load())
	}
	rl.Do(func() {
		if len(r.udpOpen) != 1 || r.udpOpen[0].n != 5 {
			t.Errorf("%d sockets open, want one with 5 attempts", len(r.udpOpen))
			return
		}
		// What the socket reports when the ICMP message comes.
		s := r.udpOpen[0]
		s.onError(s.pc, fmt.Errorf("evnet: read udp: %w", syscall.ECONNREFUSED))
	})
	waitResults(t, ch, 5)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: not failed over at once", d)
	}
	if s := stats(rl, r); s.Timeouts != 0 || s.Retries != 5 || s.Queries != 10 {
		t.Errorf("stats = %+v", s)
	}
	if n := good.udpQueries.Load(); n != 5 {
		t.Errorf("the next server got %d queries, want 5", n)
	}
	if socks, attempts := openSockets(rl, r); socks != 0 || attempts != 0 {
		t.Errorf("%d sockets open, %d attempts outstanding", socks, attempts)
	}
}

func TestUDPPortUnreachableReal(t *testing.T) {
	// The same with a real port unreachable from loopback, nobody
	// listening on the first server's port: whether the kernel reports it
	// on a receive (every attempt outstanding fails over) or on the next
	// send (that attempt and the outstanding ones fail over), no query
	// waits for its timeout, and the down server's socket is retired.
	down := newFakeServer(t, nil)
	downAddr := down.addr
	down.close()
	good := newFakeServer(t, wildZone(0))
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(5*time.Second, 1, downAddr, good.addr), nil, nil)
	start := time.Now()
	waitResults(t, startLookups(rl, r, nil, testNames("p", 8)...), 8)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v: not failed over at once", d)
	}
	if s := stats(rl, r); s.Timeouts != 0 || s.Retries != 8 {
		t.Errorf("stats = %+v", s)
	}
	if n := good.udpQueries.Load(); n != 8 {
		t.Errorf("the next server got %d queries, want 8", n)
	}
	if socks, attempts := openSockets(rl, r); socks != 0 || attempts != 0 {
		t.Errorf("%d sockets open, %d attempts outstanding", socks, attempts)
	}
}

func TestUDPRetiredSocketClosed(t *testing.T) {
	// Two attempts per socket: a and b go out on the first socket, which
	// is then retired, c on a second one. a and c are answered at once,
	// b only when the test says: the second socket closes with c's
	// answer, the retired one stays open for b and closes with b's.
	var mu sync.Mutex
	var bq *dnsmessage.Message
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if q.Questions[0].Name.String() == "b.example.com." {
			mu.Lock()
			bq = q
			mu.Unlock()
			return nil
		}
		return wildZone(0)(q, n, tcp)
	})
	rl := startLoop(t)
	r := newTestResolver(t, rl, testConfig(5*time.Second, 1, srv.addr), nil, &ResolverConfig{UDPMaxQueries: 2})
	fds := len(testutil.OpenFds())
	chAC := make(chan answerResult, 2)
	chB := make(chan answerResult, 1)
	var retired *udpSock
	rl.Do(func() {
		r.Lookup("a.example.com.", dnsmessage.TypeA, func(a *Answer, err error) { chAC <- answerResult{a, err} })
		r.Lookup("b.example.com.", dnsmessage.TypeA, func(a *Answer, err error) { chB <- answerResult{a, err} })
		retired = r.udpOpen[0]
		r.Lookup("c.example.com.", dnsmessage.TypeA, func(a *Answer, err error) { chAC <- answerResult{a, err} })
		if len(r.udpOpen) != 2 || len(r.udpCur) != 1 || r.udpCur[0] == retired || retired.current {
			t.Errorf("%d sockets open, %d current; want 2 and 1 (c's)", len(r.udpOpen), len(r.udpCur))
		}
		// Counted here, before the loop can take the answers.
		if n := len(testutil.OpenFds()); n != fds+2 {
			t.Errorf("%d descriptors open, want %d: two sockets", n, fds+2)
		}
	})
	waitResults(t, chAC, 2)
	rl.Do(func() {
		if len(r.udpOpen) != 1 || r.udpOpen[0] != retired || retired.n != 1 || len(r.udpCur) != 0 {
			t.Errorf("after a's and c's answers: %d sockets open, want the retired one, with b", len(r.udpOpen))
		}
	})
	if n := len(testutil.OpenFds()); n != fds+1 {
		t.Errorf("%d descriptors open, want %d: the retired socket only", n, fds+1)
	}
	// b's answer now, to the port b came from.
	srcs, _ := srv.sources()
	mu.Lock()
	q := bq
	mu.Unlock()
	if q == nil || len(srcs) != 3 || srcs[0] != srcs[1] || srcs[1] == srcs[2] {
		t.Fatalf("b's query not seen, or sources %v not a, b on one port and c on another", srcs)
	}
	ans := reply(q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{rrA("b.example.com.", "192.0.2.8", 60)}, nil)
	if _, err := srv.udp.WriteTo(ans, net.UDPAddrFromAddrPort(srcs[1])); err != nil {
		t.Fatal(err)
	}
	if res := <-chB; res.err != nil || !slices.Equal(res.ans.Addrs, addrs("192.0.2.8")) {
		t.Fatalf("b: %+v, %v", res.ans, res.err)
	}
	if socks, attempts := openSockets(rl, r); socks != 0 || attempts != 0 {
		t.Errorf("%d sockets open, %d attempts outstanding", socks, attempts)
	}
	if n := len(testutil.OpenFds()); n != fds {
		t.Errorf("%d descriptors open, want %d", n, fds)
	}
}

func TestUDPCloseWithSocketsOutstanding(t *testing.T) {
	// Close with attempts outstanding on three sockets (one current, two
	// retired): every lookup fails with ErrClosed and every socket is
	// closed.
	srv := newFakeServer(t, func(*dnsmessage.Message, int, bool) []fakeReply { return nil })
	rl := startLoop(t)
	var r *Resolver
	rl.Do(func() {
		r = NewResolver(rl.Loop, testConfig(5*time.Second, 2, srv.addr), nil, &ResolverConfig{UDPMaxQueries: 2})
	})
	fds := len(testutil.OpenFds())
	ch := make(chan error, 3)
	rl.Do(func() {
		for _, n := range testNames("x", 3) { // A and AAAA each: 6 attempts
			r.LookupHost(n, func(_ []netip.Addr, err error) { ch <- err })
		}
	})
	if socks, attempts := openSockets(rl, r); socks != 3 || attempts != 6 {
		t.Errorf("%d sockets open, %d attempts outstanding; want 3 and 6", socks, attempts)
	}
	if n := len(testutil.OpenFds()); n != fds+3 {
		t.Errorf("%d descriptors open, want %d", n, fds+3)
	}
	rl.Do(r.Close)
	for range 3 {
		if err := <-ch; !errors.Is(err, ErrClosed) {
			t.Errorf("err = %v, want ErrClosed", err)
		}
	}
	if socks, attempts := openSockets(rl, r); socks != 0 || attempts != 0 {
		t.Errorf("after Close: %d sockets open, %d attempts outstanding", socks, attempts)
	}
	rl.Do(func() {
		if len(r.udpCur) != 0 {
			t.Errorf("%d current sockets after Close", len(r.udpCur))
		}
	})
	if n := len(testutil.OpenFds()); n != fds {
		t.Errorf("%d descriptors open after Close, want %d", n, fds)
	}
}
