package evproxy_test

import (
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evproxy"
)

// clockProxy is a Proxy served on a loop whose clock is fake
// (eddytest.Clock): time moves only when the test calls Advance, so that
// queue timeouts, ejections and health checks are tested without waiting
// for them, and a slow machine cannot make one happen by accident. Its
// sockets are real.
type clockProxy struct {
	*eddy.Loop
	clock *eddytest.Clock
	p     *evproxy.Proxy
	addr  string
}

// startClockProxy serves a Proxy configured by cfg on a fake-clock loop.
func startClockProxy(t *testing.T, cfg *evproxy.Config) *clockProxy {
	t.Helper()
	clock := eddytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	l, err := eddy.NewLoop(&eddy.Config{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	cp := &clockProxy{Loop: l, clock: clock}
	// A referenced timer a (fake) day away keeps Run going while the
	// test has nothing active on the loop.
	keep := eddy.NewTimer(func(*eddy.Timer) {}, 24*time.Hour, 24*time.Hour)
	done := make(chan error, 1)
	l.Post(func() { keep.Start(l) })
	go func() { done <- l.Run() }()
	if cp.p, err = evproxy.New(cfg); err != nil {
		t.Fatal(err)
	}
	srv := &evhttp.Server{Handler: cp.p, MaxBodyBytes: -1}
	cp.Do(func() {
		ln, err := srv.Serve(l, "tcp", "127.0.0.1:0")
		if err != nil {
			t.Error(err)
			return
		}
		cp.addr = ln.Addr().String()
	})
	t.Cleanup(func() {
		srv.Close()
		cp.p.Close()
		cp.Post(func() { keep.Stop(); l.Break(eddy.BreakAll) })
		if err := <-done; err != nil {
			t.Errorf("loop: %v", err)
		}
		l.Close()
	})
	if cp.addr == "" {
		t.FailNow()
	}
	return cp
}

// Do runs f on the loop and waits for it to return.
func (cp *clockProxy) Do(f func()) {
	ch := make(chan struct{})
	cp.Post(func() { f(); close(ch) })
	<-ch
}

// Barrier returns once the loop has handled what was ready when it was
// called, and what that caused (two Post round trips, as testloop's).
func (cp *clockProxy) Barrier() {
	cp.Do(func() {})
	cp.Do(func() {})
}

// Advance lets d pass on the loop's clock and returns once the loop has
// run what came due, and what that caused.
func (cp *clockProxy) Advance(d time.Duration) {
	cp.clock.Advance(d)
	cp.Barrier()
}

// stats returns the figures of the Proxy's upstream addresses, once the
// loop has handled what is ready (the end of a response the client may
// have read before the proxy read it from the upstream).
func (cp *clockProxy) stats() []evproxy.UpstreamStats {
	cp.Barrier()
	return cp.p.Upstreams(nil)
}
