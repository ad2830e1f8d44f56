package evdns

import (
	"errors"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evnet"
)

// The system resolver tests use only "localhost" and address literals,
// which the system answers without the network.

func systemLookupHost(t *testing.T, rl *runLoop, s *SystemResolver, name string) ([]netip.Addr, error) {
	t.Helper()
	ch := make(chan hostResult, 1)
	rl.Post(func() {
		inside := true
		s.LookupHost(name, func(a []netip.Addr, err error) {
			if inside {
				t.Errorf("callback ran inside LookupHost")
			}
			ch <- hostResult{a, err}
		})
		inside = false
	})
	select {
	case res := <-ch:
		return res.addrs, res.err
	case <-time.After(testWait):
		t.Fatalf("LookupHost(%s) did not call back", name)
		return nil, nil
	}
}

func TestSystemResolverLookupHost(t *testing.T) {
	rl := startLoop(t)
	var s *SystemResolver
	rl.Do(func() { s = NewSystemResolver(rl.Loop) })

	got, err := systemLookupHost(t, rl, s, "localhost")
	if err != nil || !slices.ContainsFunc(got, netip.Addr.IsLoopback) {
		t.Errorf("localhost: %v, %v", got, err)
	}
	got, err = systemLookupHost(t, rl, s, "192.0.2.1")
	if err != nil || !slices.Equal(got, addrs("192.0.2.1")) {
		t.Errorf("literal: %v, %v", got, err)
	}
	got, err = systemLookupHost(t, rl, s, "2001:db8::1")
	if err != nil || !slices.Equal(got, addrs("2001:db8::1")) {
		t.Errorf("v6 literal: %v, %v", got, err)
	}
}

func TestSystemResolverLookupAddr(t *testing.T) {
	rl := startLoop(t)
	var s *SystemResolver
	rl.Do(func() { s = NewSystemResolver(rl.Loop) })
	type res struct {
		names []string
		err   error
	}
	ch := make(chan res, 1)
	rl.Post(func() {
		s.LookupAddr(netip.MustParseAddr("127.0.0.1"), func(n []string, err error) { ch <- res{n, err} })
	})
	r := <-ch
	// 127.0.0.1 is named in /etc/hosts almost everywhere; without the
	// entry the system says the address has no name (an *Error).
	var e *Error
	if r.err != nil && !errors.As(r.err, &e) {
		t.Errorf("LookupAddr(127.0.0.1) = %v, %v", r.names, r.err)
	}
	if r.err == nil && len(r.names) == 0 {
		t.Errorf("LookupAddr(127.0.0.1): no names and no error")
	}
}

func TestSystemResolverCancel(t *testing.T) {
	// The test goroutine runs the loop itself: work queued by a loop keeps
	// it alive until the work's done function has run on it, so when Run
	// returns the canceled lookup's work has ended (or was taken off the
	// queue) and come back, without calling back.
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := NewSystemResolver(l)
	called, later := false, false
	req := s.LookupHost("localhost", func([]netip.Addr, error) { called = true })
	if !req.Cancel() || req.Cancel() {
		t.Errorf("Cancel: want true then false")
	}
	s.LookupHost("127.0.0.1", func(_ []netip.Addr, err error) {
		if err != nil {
			t.Error(err)
		}
		later = true
	})
	var nilReq *SystemRequest
	if nilReq.Cancel() {
		t.Errorf("nil Cancel = true")
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if called || !later {
		t.Errorf("callbacks: canceled %v, later %v; want false, true", called, later)
	}
}

func TestSystemErrorMapping(t *testing.T) {
	if err := systemError("x", errors.New("boom")); err.Error() != "evdns: lookup x: boom" {
		t.Errorf("other error: %v", err)
	}
}

// TestDialSystemResolver dials "localhost" through the system resolver:
// Dial works with either strategy.
func TestDialSystemResolver(t *testing.T) {
	rl := startLoop(t)
	s := listenOn(t, rl, "127.0.0.1:0")
	var sr *SystemResolver
	rl.Do(func() { sr = NewSystemResolver(rl.Loop) })
	res, closed := dialName(t, rl, sr, Dialer{Timeout: 5 * time.Second, AttemptDelay: 50 * time.Millisecond}, "localhost:"+strconv.Itoa(int(s.ln.Addr().Port())))
	if res.err != nil {
		t.Fatal(res.err)
	}
	rl.Do(func() { res.c.Close() })
	if err := <-closed; !errors.Is(err, evnet.ErrLocalClose) {
		t.Errorf("OnClose(%v)", err)
	}
}
