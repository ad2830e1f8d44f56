package evdns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/poller"
	"github.com/eddyloop/eddy/internal/testutil"
)

// Happy Eyeballs on the fake clock. A Resolver on a fake loop asks the
// fake DNS server, whose answers each test releases when it wants them;
// Dial's attempts are recorded with the fake time at which they start.
// Every attempt connects to a loopback listener, whatever address it was
// meant for (documentation addresses, which nothing reaches), and the fake
// backend reports nothing for it: an attempt stays in progress until the
// test makes it connect or the dial ends.

// eyeballs is the state of one such test.
type eyeballs struct {
	t     *testing.T
	l     *eddy.Loop
	be    *eddytest.Backend
	clock *eddytest.Clock
	srv   *fakeServer
	r     *Resolver
	ln    net.Listener
	gates map[dnsmessage.Type]chan struct{}

	begin time.Time   // when the dial began
	fds   []string    // the descriptors open before the dial
	tries []attemptAt // the attempts, in order
	ds    *Dialing
	done  bool // the dial called back, with conn or err
	conn  *evnet.Conn
	err   error
}

// attemptAt is a connection attempt and when it started.
type attemptAt struct {
	addr netip.Addr
	at   time.Duration // since the dial began
	c    *evnet.Conn
}

// script is the fake server's answer to a question of one type, released
// when the test opens the type's gate; nil answers nothing.
type script func(q *dnsmessage.Message) []byte

// withAddrs answers with the given addresses as records of the question's
// type (A or AAAA).
func withAddrs(ips ...string) script {
	return func(q *dnsmessage.Message) []byte {
		name := q.Questions[0].Name.String()
		var rrs []dnsmessage.Resource
		for _, ip := range ips {
			if q.Questions[0].Type == dnsmessage.TypeA {
				rrs = append(rrs, rrA(name, ip, 300))
			} else {
				rrs = append(rrs, rrAAAA(name, ip, 300))
			}
		}
		return reply(q, dnsmessage.RCodeSuccess, rrs, nil)
	}
}

// noData answers that the name has no record of the type; refused
// refuses the question.
func noData(q *dnsmessage.Message) []byte {
	return reply(q, dnsmessage.RCodeSuccess, nil, soa(30))
}

func refused(q *dnsmessage.Message) []byte { return reply(q, dnsmessage.RCodeRefused, nil, nil) }

// newEyeballs prepares a test whose server answers A questions with a and
// AAAA questions with aaaa, each when released.
func newEyeballs(t *testing.T, a, aaaa script) *eyeballs {
	e := &eyeballs{t: t, gates: map[dnsmessage.Type]chan struct{}{
		dnsmessage.TypeA: make(chan struct{}), dnsmessage.TypeAAAA: make(chan struct{})}}
	scripts := map[dnsmessage.Type]script{dnsmessage.TypeA: a, dnsmessage.TypeAAAA: aaaa}
	e.srv = newFakeServer(t, func(q *dnsmessage.Message, _ int, _ bool) []fakeReply {
		qt := q.Questions[0].Type
		if f := scripts[qt]; f != nil {
			return []fakeReply{{msg: f(q), gate: e.gates[qt]}}
		}
		return nil
	})
	e.l, e.be, e.clock = fakeLoop(t)
	e.r = NewResolver(e.l, testConfig(5*time.Second, 1, e.srv.addr), nil, nil)
	t.Cleanup(e.r.Close)
	var err error
	if e.ln, err = net.Listen("tcp4", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ln.Close() })
	saved := dialAttempt
	dialAttempt = e.attempt
	t.Cleanup(func() { dialAttempt = saved })
	t.Cleanup(func() { e.ds.Cancel() }) // a test that failed half way
	return e
}

// attempt is dialAttempt for the test: it records the attempt and
// connects to the loopback listener instead.
func (e *eyeballs) attempt(d evnet.Dialer, l *eddy.Loop, _, addr string, h evnet.Handler) (*evnet.Conn, error) {
	c, err := d.Dial(l, "tcp4", e.ln.Addr().String(), h)
	e.tries = append(e.tries, attemptAt{netip.MustParseAddrPort(addr).Addr(), l.Now().Sub(e.begin), c})
	return c, err
}

// dial starts the dial of he.test with d and waits until both questions
// have reached the server.
func (e *eyeballs) dial(d Dialer) {
	e.t.Helper()
	e.fds = testutil.OpenFds()
	e.begin = e.l.Now()
	e.ds = d.Dial(e.r, "tcp", "he.test.:80", evnet.Handler{}, func(c *evnet.Conn, err error) {
		e.done, e.conn, e.err = true, c, err
	})
	if e.ds == nil {
		e.t.Fatalf("Dial returned nil: %v", e.err)
	}
	if !testutil.Eventually(testWait, func() bool { return e.srv.udpQueries.Load() == 2 }) {
		e.t.Fatalf("%d queries reached the server, want 2", e.srv.udpQueries.Load())
	}
}

// inFlight reports whether a query of type qt is in flight.
func (e *eyeballs) inFlight(qt dnsmessage.Type) bool {
	for k := range e.r.inflight {
		if k.qtype == qt {
			return true
		}
	}
	return false
}

// release lets the server send its answer to the question of type qt,
// and runs the loop until the resolver has taken it.
func (e *eyeballs) release(qt dnsmessage.Type) {
	e.t.Helper()
	close(e.gates[qt])
	e.runUntil(fmt.Sprintf("the %v answer taken", qt), func() bool { return !e.inFlight(qt) })
}

// runUntil runs the loop, without letting fake time pass, until cond
// holds: the answers reach the real sockets on real time.
func (e *eyeballs) runUntil(what string, cond func() bool) {
	e.t.Helper()
	pumpUntil(e.t, e.l, e.be, what, cond)
}

// advance lets d of fake time pass and runs what is due.
func (e *eyeballs) advance(d time.Duration) {
	e.t.Helper()
	e.clock.Advance(d)
	if err := e.l.RunNoWait(); err != nil {
		e.t.Fatal(err)
	}
}

// want checks the attempts so far, written "address@time".
func (e *eyeballs) want(tries ...string) {
	e.t.Helper()
	var got []string
	for _, a := range e.tries {
		got = append(got, fmt.Sprintf("%v@%v", a.addr, a.at))
	}
	if !slices.Equal(got, tries) {
		e.t.Fatalf("attempts %q, want %q", got, tries)
	}
}

// cancel cancels the dial, which must be in progress, and checks that
// it left nothing behind: no query in flight, no descriptor open.
func (e *eyeballs) cancel() {
	e.t.Helper()
	if e.done {
		e.t.Fatalf("the dial ended: %v %v", e.conn, e.err)
	}
	if !e.ds.Cancel() {
		e.t.Fatal("Cancel of a dial in progress returned false")
	}
	e.checkClean()
	if e.done {
		e.t.Fatal("the callback ran after Cancel")
	}
}

// checkClean runs the loop and checks that no query is in flight and
// that the descriptors open are those open before the dial.
func (e *eyeballs) checkClean() {
	e.t.Helper()
	e.advance(0)
	if s := e.r.Stats(); s.InFlight != 0 || s.Queued != 0 {
		e.t.Errorf("%d queries in flight, %d queued", s.InFlight, s.Queued)
	}
	if now := testutil.OpenFds(); !slices.Equal(now, e.fds) {
		e.t.Errorf("descriptors open after the dial:\n%q\nbefore:\n%q", now, e.fds)
	}
}

const (
	v6a, v6b = "2001:db8::1", "2001:db8::2"
	v4a, v4b = "192.0.2.1", "192.0.2.2"
)

func TestEyeballsAAAAFirst(t *testing.T) {
	e := newEyeballs(t, withAddrs(v4a, v4b), withAddrs(v6a, v6b))
	e.dial(Dialer{})
	e.release(dnsmessage.TypeAAAA) // IPv6 starts at once
	e.want(v6a + "@0s")
	e.advance(10 * time.Millisecond)
	e.release(dnsmessage.TypeA) // joins the list; the attempt delay runs on
	e.want(v6a + "@0s")
	e.advance(239 * time.Millisecond)
	e.want(v6a + "@0s")
	e.advance(time.Millisecond)
	e.want(v6a+"@0s", v4a+"@250ms")
	e.advance(250 * time.Millisecond)
	e.advance(250 * time.Millisecond)
	e.want(v6a+"@0s", v4a+"@250ms", v6b+"@500ms", v4b+"@750ms")
	e.cancel()
}

func TestEyeballsAFirstWaitsResolutionDelay(t *testing.T) {
	e := newEyeballs(t, withAddrs(v4a, v4b), withAddrs(v6a, v6b))
	e.dial(Dialer{})
	e.release(dnsmessage.TypeA)
	e.want() // the resolution delay: IPv4 waits for the AAAA answer
	e.advance(DefaultResolutionDelay - time.Millisecond)
	e.want()
	e.advance(time.Millisecond)
	e.want(v4a + "@50ms")
	// The AAAA answer comes late: its addresses take their turns,
	// families alternating, on the attempt delay already running.
	e.advance(50 * time.Millisecond)
	e.release(dnsmessage.TypeAAAA)
	e.want(v4a + "@50ms")
	e.advance(200 * time.Millisecond)
	e.want(v4a+"@50ms", v6a+"@300ms")
	e.advance(250 * time.Millisecond)
	e.advance(250 * time.Millisecond)
	e.want(v4a+"@50ms", v6a+"@300ms", v4b+"@550ms", v6b+"@800ms")
	e.cancel()
}

func TestEyeballsAAAADuringResolutionDelay(t *testing.T) {
	e := newEyeballs(t, withAddrs(v4a), withAddrs(v6a))
	e.dial(Dialer{ResolutionDelay: 100 * time.Millisecond, AttemptDelay: time.Second})
	e.release(dnsmessage.TypeA)
	e.advance(20 * time.Millisecond)
	e.release(dnsmessage.TypeAAAA) // within the delay: IPv6 first, at once
	e.want(v6a + "@20ms")
	e.advance(80 * time.Millisecond) // the end of the (stopped) delay
	e.want(v6a + "@20ms")
	e.advance(920 * time.Millisecond)
	e.want(v6a+"@20ms", v4a+"@1.02s")
	e.cancel()
}

func TestEyeballsNegativeAAAAEndsResolutionDelay(t *testing.T) {
	e := newEyeballs(t, withAddrs(v4a), noData)
	e.dial(Dialer{})
	e.release(dnsmessage.TypeA)
	e.advance(10 * time.Millisecond)
	e.release(dnsmessage.TypeAAAA) // no IPv6 address: no reason to wait
	e.want(v4a + "@10ms")
	e.cancel()
}

func TestEyeballsAAAANeverComes(t *testing.T) {
	e := newEyeballs(t, withAddrs(v4a, v4b), nil) // AAAA unanswered
	e.dial(Dialer{})
	e.release(dnsmessage.TypeA)
	e.advance(DefaultResolutionDelay)
	e.want(v4a + "@50ms")
	e.advance(DefaultAttemptDelay)
	e.want(v4a+"@50ms", v4b+"@300ms")
	// The AAAA question times out (5s, one attempt): the lookup is over,
	// and the attempts in progress go on.
	e.advance(5*time.Second - 300*time.Millisecond)
	if e.inFlight(dnsmessage.TypeAAAA) || e.ds.resolving {
		t.Fatal("the AAAA question did not time out")
	}
	e.want(v4a+"@50ms", v4b+"@300ms")
	e.cancel()
}

func TestEyeballsAttemptAfterIdleDelay(t *testing.T) {
	// The attempt delay has run out with nothing left to try when the
	// AAAA answer comes: its address is tried at once.
	e := newEyeballs(t, withAddrs(v4a), withAddrs(v6a))
	e.dial(Dialer{})
	e.release(dnsmessage.TypeA)
	e.advance(DefaultResolutionDelay)
	e.advance(DefaultAttemptDelay)
	e.advance(100 * time.Millisecond)
	e.release(dnsmessage.TypeAAAA)
	e.want(v4a+"@50ms", v6a+"@400ms")
	e.cancel()
}

func TestEyeballsOneFamilyFails(t *testing.T) {
	t.Run("AAAA", func(t *testing.T) {
		e := newEyeballs(t, withAddrs(v4a), refused)
		e.dial(Dialer{})
		e.release(dnsmessage.TypeAAAA)
		e.want()
		e.advance(30 * time.Millisecond)
		e.release(dnsmessage.TypeA) // the AAAA answer is in: no delay
		e.want(v4a + "@30ms")
		e.cancel()
	})
	t.Run("A", func(t *testing.T) {
		e := newEyeballs(t, refused, withAddrs(v6a))
		e.dial(Dialer{})
		e.release(dnsmessage.TypeA)
		e.want()
		e.advance(30 * time.Millisecond)
		e.release(dnsmessage.TypeAAAA)
		e.want(v6a + "@30ms")
		e.cancel()
	})
	t.Run("both", func(t *testing.T) {
		e := newEyeballs(t, refused, refused)
		e.dial(Dialer{})
		e.release(dnsmessage.TypeAAAA)
		e.release(dnsmessage.TypeA)
		e.want()
		if !e.done || e.conn != nil || !errors.Is(e.err, ErrRefused) {
			t.Fatalf("done %v, conn %v, err %v; want ErrRefused", e.done, e.conn, e.err)
		}
		e.checkClean()
	})
}

func TestEyeballsWinnerClosesTheOthers(t *testing.T) {
	e := newEyeballs(t, withAddrs(v4a), withAddrs(v6a))
	e.dial(Dialer{})
	e.release(dnsmessage.TypeAAAA)
	e.release(dnsmessage.TypeA)
	e.advance(DefaultAttemptDelay)
	e.want(v6a+"@0s", v4a+"@250ms")
	// The IPv4 attempt connects first.
	fd := e.tries[1].c.Fd()
	e.be.Ready(fd, poller.Write)
	e.runUntil("the dial's callback", func() bool { return e.done })
	e.be.Clear(fd, poller.Write)
	if e.err != nil || e.conn != e.tries[1].c {
		t.Fatalf("won by %v (err %v), want the IPv4 attempt", e.conn, e.err)
	}
	if e.ds.Cancel() {
		t.Error("Cancel after the callback returned true")
	}
	e.conn.Close()
	e.checkClean()
}

func TestEyeballsCancel(t *testing.T) {
	// Cancel while both questions are in flight, and in the resolution
	// delay: every query stops, every socket closes, nothing calls back.
	e := newEyeballs(t, withAddrs(v4a), withAddrs(v6a))
	e.dial(Dialer{})
	e.cancel()

	e = newEyeballs(t, withAddrs(v4a), nil)
	e.dial(Dialer{})
	e.release(dnsmessage.TypeA)
	e.cancel()
	if e.ds.resDelay.IsActive() {
		t.Error("the resolution delay runs on after Cancel")
	}
	e.advance(time.Minute)
	e.want()
}

func TestAttemptOrder(t *testing.T) {
	in := addrs("192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1", "2001:db8::2")
	order := func(network string, late ...netip.Addr) []netip.Addr {
		ds := &Dialing{network: network}
		ds.add(in)
		var out []netip.Addr
		for a, ok := ds.pop(); ok; a, ok = ds.pop() {
			out = append(out, a)
			ds.add(late) // a late answer joins the families' turns
			late = nil
		}
		return out
	}
	if got, want := order("tcp"), addrs("2001:db8::1", "192.0.2.1", "2001:db8::2", "192.0.2.2", "192.0.2.3"); !slices.Equal(got, want) {
		t.Errorf("tcp: %v, want %v", got, want)
	}
	if got := order("tcp4"); !slices.Equal(got, in[:3]) {
		t.Errorf("tcp4: %v", got)
	}
	if got := order("tcp6"); !slices.Equal(got, in[3:]) {
		t.Errorf("tcp6: %v", got)
	}
	in = addrs("192.0.2.1", "192.0.2.2")
	if got, want := order("tcp", addrs("2001:db8::1", "2001:db8::2")...), addrs("192.0.2.1", "2001:db8::1", "192.0.2.2", "2001:db8::2"); !slices.Equal(got, want) {
		t.Errorf("late IPv6: %v, want %v", got, want)
	}
}
