package evdns

import (
	"errors"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// Every dial test stays on loopback: the names come from a hosts table,
// and the resolver's only server is a closed loopback port.

// dialServer is an evnet listener on the test loop that counts the
// connections it accepted and those that closed.
type dialServer struct {
	ln             *evnet.Listener
	opened, closed int
}

func listenOn(t *testing.T, rl *runLoop, addr string) *dialServer {
	t.Helper()
	s, err := tryListen(rl, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rl.Do(func() { s.ln.Close() }) })
	return s
}

// tryListen listens on addr; the caller closes the listener.
func tryListen(rl *runLoop, addr string) (*dialServer, error) {
	s := &dialServer{}
	var err error
	rl.Do(func() {
		s.ln, err = evnet.Listen(rl.Loop, "tcp", addr, evnet.Handler{
			OnOpen:  func(*evnet.Conn) { s.opened++ },
			OnClose: func(*evnet.Conn, error) { s.closed++ },
		})
	})
	return s, err
}

type dialResult struct {
	c   *evnet.Conn
	err error
}

// dialName dials hostport with d on rl, with a handler that records
// OnClose, and waits for the callback.
func dialName(t *testing.T, rl *runLoop, r HostResolver, d Dialer, hostport string) (dialResult, chan error) {
	t.Helper()
	ch := make(chan dialResult, 1)
	closed := make(chan error, 1)
	rl.Post(func() {
		d.Dial(r, "tcp", hostport, evnet.Handler{OnClose: func(_ *evnet.Conn, err error) { closed <- err }},
			func(c *evnet.Conn, err error) { ch <- dialResult{c, err} })
	})
	select {
	case res := <-ch:
		return res, closed
	case <-time.After(testWait):
		t.Fatalf("Dial(%s) did not call back", hostport)
		return dialResult{}, nil
	}
}

// deadServer returns a loopback UDP address where nothing listens.
func deadServer(t *testing.T) netip.AddrPort {
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(freePort(t)))
}

func hostsTable(t *testing.T, text string) *Hosts {
	h, err := ParseHosts([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestDialFallsBackToIPv4(t *testing.T) {
	rl := startLoop(t)
	s := listenOn(t, rl, "127.0.0.1:0")
	port := strconv.Itoa(int(s.ln.Addr().Port()))
	h := hostsTable(t, "::1 dual.test\n127.0.0.1 dual.test\n")
	r := newTestResolver(t, rl, testConfig(time.Second, 1, deadServer(t)), h, nil)

	// ::1 is tried first and refused at once (nothing listens there on
	// this port), well before the attempt delay: 127.0.0.1 wins.
	start := time.Now()
	res, closed := dialName(t, rl, r, Dialer{Timeout: 5 * time.Second, AttemptDelay: 5 * time.Second}, "dual.test:"+port)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("took %v: the refused IPv6 attempt did not start the next one at once", took)
	}
	var remote netip.AddrPort
	rl.Do(func() { remote = res.c.RemoteAddr(); res.c.Close() })
	if remote != netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), s.ln.Addr().Port()) {
		t.Errorf("connected to %v", remote)
	}
	if err := <-closed; !errors.Is(err, evnet.ErrLocalClose) {
		t.Errorf("OnClose(%v), want ErrLocalClose", err)
	}
}

func TestDialErrors(t *testing.T) {
	rl := startLoop(t)
	s := listenOn(t, rl, "127.0.0.1:0")
	port := s.ln.Addr().Port()
	free := freePort(t)
	h := hostsTable(t, "127.0.0.1 one.test\n::1 six.test\n")
	r := newTestResolver(t, rl, testConfig(time.Second, 1, deadServer(t)), h, nil)

	res, _ := dialName(t, rl, r, Dialer{}, "one.test:"+strconv.Itoa(free))
	if !errors.Is(res.err, unix.ECONNREFUSED) || res.c != nil {
		t.Errorf("refused: %v", res.err)
	}
	res, _ = dialName(t, rl, r, Dialer{}, "nope.test:"+strconv.Itoa(int(port)))
	if !errors.Is(res.err, ErrTimeout) { // the dead server: no answer
		t.Errorf("unresolvable: %v", res.err)
	}
	res, _ = dialName(t, rl, r, Dialer{}, "one.test")
	if res.err == nil {
		t.Errorf("missing port: no error")
	}
	ch := make(chan error, 1)
	rl.Post(func() {
		Dial(r, "tcp6", "one.test:"+strconv.Itoa(int(port)), time.Second, evnet.Handler{}, func(c *evnet.Conn, err error) { ch <- err })
	})
	if err := <-ch; !errors.Is(err, ErrNoAddress) {
		t.Errorf("tcp6 to a v4-only name: %v", err)
	}
}

// fullBacklog opens a listening TCP socket on addr:port with a full
// accept queue: a SYN to it is dropped, so a connect hangs. It fails when
// the address cannot be bound.
func fullBacklog(t *testing.T, addr [4]byte, port int) error {
	t.Helper()
	lfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.CloseOnExec(lfd)
	t.Cleanup(func() { unix.Close(lfd) })
	if err := unix.Bind(lfd, &unix.SockaddrInet4{Addr: addr, Port: port}); err != nil {
		return err
	}
	if err := unix.Listen(lfd, 0); err != nil {
		t.Fatal(err)
	}
	// Fill the queue (a backlog of 0 holds one connection, or two).
	var first int
	for i := range 3 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		unix.Connect(fd, &unix.SockaddrInet4{Addr: addr, Port: port})
		if i == 0 {
			first = fd
		}
	}
	// The queue is full once the first connection is established.
	waitWritable(t, first)
	return nil
}

// waitWritable waits, up to testWait, for the nonblocking socket fd to
// become writable: for its connect to complete.
func waitWritable(t *testing.T, fd int) {
	t.Helper()
	pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
	n, err := unix.Poll(pfd, int(testWait/time.Millisecond))
	for err == unix.EINTR {
		n, err = unix.Poll(pfd, int(testWait/time.Millisecond))
	}
	if err != nil || n != 1 || pfd[0].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
		t.Fatalf("connect did not complete: %v, revents %#x", err, pfd[0].Revents)
	}
}

// listenPair listens on 127.0.0.1 with a port that is free on the second
// loopback address too, and calls second with that port until it binds
// there (a port taken on one address may be free on the other).
func listenPair(t *testing.T, rl *runLoop, second func(port int) error) (*dialServer, int) {
	t.Helper()
	for range 20 {
		s := listenOn(t, rl, "127.0.0.1:0")
		port := int(s.ln.Addr().Port())
		if err := second(port); err == nil {
			return s, port
		}
	}
	t.Fatal("no port free on both loopback addresses")
	return nil, 0
}

func TestDialHappyEyeballsSlowFirst(t *testing.T) {
	rl := startLoop(t)
	_, port := listenPair(t, rl, func(port int) error { return fullBacklog(t, [4]byte{127, 0, 0, 2}, port) })
	h := hostsTable(t, "127.0.0.2 slow.test\n127.0.0.1 slow.test\n")
	r := newTestResolver(t, rl, testConfig(time.Second, 1, deadServer(t)), h, nil)

	const delay = 100 * time.Millisecond
	start := time.Now()
	res, _ := dialName(t, rl, r, Dialer{Timeout: 5 * time.Second, AttemptDelay: delay}, "slow.test:"+strconv.Itoa(port))
	took := time.Since(start)
	if res.err != nil {
		t.Fatal(res.err)
	}
	var remote netip.AddrPort
	rl.Do(func() { remote = res.c.RemoteAddr(); res.c.Close() })
	if remote.Addr() != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("connected to %v, want 127.0.0.1", remote)
	}
	if took < delay || took > 3*time.Second {
		t.Errorf("took %v, want the attempt delay %v and a little", took, delay)
	}
}

func TestDialTimeout(t *testing.T) {
	rl := startLoop(t)
	_, port := listenPair(t, rl, func(port int) error { return fullBacklog(t, [4]byte{127, 0, 0, 3}, port) })
	h := hostsTable(t, "127.0.0.3 hang.test\n")
	r := newTestResolver(t, rl, testConfig(time.Second, 1, deadServer(t)), h, nil)
	res, _ := dialName(t, rl, r, Dialer{Timeout: 100 * time.Millisecond}, "hang.test:"+strconv.Itoa(port))
	if !errors.Is(res.err, ErrDialTimeout) && !errors.Is(res.err, evnet.ErrTimeout) {
		t.Errorf("err = %v, want a timeout", res.err)
	}
}

func TestDialLosersClosed(t *testing.T) {
	rl := startLoop(t)
	var s2 *dialServer
	s1, port := listenPair(t, rl, func(port int) error {
		var err error
		s2, err = tryListen(rl, "127.0.0.4:"+strconv.Itoa(port))
		return err
	})
	t.Cleanup(func() { rl.Do(func() { s2.ln.Close() }) })
	h := hostsTable(t, "127.0.0.1 two.test\n127.0.0.4 two.test\n")
	r := newTestResolver(t, rl, testConfig(time.Second, 1, deadServer(t)), h, nil)

	// A tiny attempt delay starts both attempts at once: whichever
	// connects first wins and the other is closed.
	for range 20 {
		res, closed := dialName(t, rl, r, Dialer{AttemptDelay: time.Nanosecond}, "two.test:"+strconv.Itoa(port))
		if res.err != nil {
			t.Fatal(res.err)
		}
		rl.Do(func() { res.c.Close() })
		if err := <-closed; !errors.Is(err, evnet.ErrLocalClose) {
			t.Fatalf("winner's OnClose(%v)", err)
		}
	}
	// Every connection the servers accepted is closed in the end: the
	// winners by the test, the losers by Dial.
	var open, total int
	if !testutil.Eventually(testWait, func() bool {
		rl.Do(func() { open = s1.opened + s2.opened - s1.closed - s2.closed; total = s1.opened + s2.opened })
		return open == 0 && total >= 20
	}) {
		t.Fatalf("%d of %d server connections still open", open, total)
	}
}

func TestDialCancel(t *testing.T) {
	rl := startLoop(t)
	_, port := listenPair(t, rl, func(port int) error { return fullBacklog(t, [4]byte{127, 0, 0, 5}, port) })
	h := hostsTable(t, "127.0.0.5 hang.test\n")
	r := newTestResolver(t, rl, testConfig(time.Second, 1, deadServer(t)), h, nil)
	called := false
	rl.Do(func() {
		ds := Dial(r, "tcp", "hang.test:"+strconv.Itoa(port), time.Second, evnet.Handler{}, func(*evnet.Conn, error) { called = true })
		if !ds.Cancel() || ds.Cancel() {
			t.Errorf("Cancel: want true then false")
		}
	})
	rl.Barrier() // the closed attempt's events, if any, are handled
	rl.Do(func() {
		if called {
			t.Errorf("callback ran after Cancel")
		}
	})
}

func TestDialSilentAAAADoesNotStall(t *testing.T) {
	// The A answer comes at once and the AAAA answer never: the dial
	// connects over IPv4 after the resolution delay, not after the AAAA
	// question's timeout, which the win then cancels.
	rl := startLoop(t)
	s := listenOn(t, rl, "127.0.0.1:0")
	srv := newFakeServer(t, func(q *dnsmessage.Message, n int, tcp bool) []fakeReply {
		if q.Questions[0].Type != dnsmessage.TypeA {
			return nil
		}
		return []fakeReply{{msg: reply(q, dnsmessage.RCodeSuccess, []dnsmessage.Resource{rrA("v4only.test.", "127.0.0.1", 300)}, nil)}}
	})
	r := newTestResolver(t, rl, testConfig(30*time.Second, 1, srv.addr), nil, nil)
	start := time.Now()
	res, _ := dialName(t, rl, r, Dialer{}, "v4only.test.:"+strconv.Itoa(int(s.ln.Addr().Port())))
	if res.err != nil {
		t.Fatal(res.err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v: the dial waited for the AAAA answer", took)
	}
	rl.Do(func() { res.c.Close() })
	if st := stats(rl, r); st.InFlight != 0 {
		t.Errorf("%d queries in flight after the dial", st.InFlight)
	}
}
