//go:build linux

package eddy

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/poller"
	"github.com/eddyloop/eddy/internal/testutil"
	"golang.org/x/sys/unix"
)

// embedLoop returns a debug-mode loop on the backend made by mk, closed
// when the test ends.
func embedLoop(t *testing.T, mk func() (poller.Poller, error)) *Loop {
	t.Helper()
	be, err := mk()
	if err != nil {
		t.Fatalf("backend: %v", err)
	}
	l, err := NewLoop(&Config{Backend: be, Debug: true})
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	t.Cleanup(func() {
		if !l.IsClosed() {
			l.Close()
		}
	})
	return l
}

// embedGuard fails the test and breaks l if it runs for longer than d.
func embedGuard(t *testing.T, l *Loop, d time.Duration) {
	t.Helper()
	g := NewTimer(func(*Timer) {
		t.Errorf("timed out after %v", d)
		l.Break(BreakAll)
	}, d, 0)
	g.Unref()
	g.Start(l)
	t.Cleanup(g.Stop)
}

// TestEmbedServesInnerLoop runs an epoll loop inside a loop on poll(2): the
// inner loop's timer, IO and Post each fire while only the outer loop runs,
// each step started from another goroutine so that the outer loop must be
// asleep and woken through the inner loop's descriptor.
func TestEmbedServesInnerLoop(t *testing.T) {
	for _, tc := range []struct {
		name string
		cb   bool
	}{{"nil-callback", false}, {"sweep-callback", true}} {
		t.Run(tc.name, func(t *testing.T) {
			outer := embedLoop(t, poller.NewPoll)
			inner := embedLoop(t, poller.NewEpoll)
			r, w := testutil.Pipe(t)

			var e Embed
			sweeps := 0
			var cb func(*Embed)
			if tc.cb {
				cb = func(e *Embed) {
					sweeps++
					if err := e.Sweep(); err != nil {
						t.Errorf("Sweep: %v", err)
					}
				}
			}
			e.Init(cb, inner)

			var steps []string
			start := time.Now()
			inner.UpdateNow() // timers count from the cached time: make it the present
			const delay = 30 * time.Millisecond
			var rd IO
			post := func() {
				steps = append(steps, "post")
				e.Stop() // the only reference the outer loop has
			}
			rd.Init(func(w *IO, ev Events) {
				var b [8]byte
				unix.Read(w.Fd(), b[:])
				steps = append(steps, "io")
				w.Stop()
				whenAsleep(t, outer, func() { inner.Post(post) })
			}, r, Read)
			if err := rd.Start(inner); err != nil {
				t.Fatal(err)
			}
			tm := NewTimer(func(*Timer) {
				if d := time.Since(start); d < delay {
					t.Errorf("inner timer fired after %v, before its %v", d, delay)
				}
				steps = append(steps, "timer")
				whenAsleep(t, outer, func() { unix.Write(w, []byte{1}) })
			}, delay, 0)
			tm.Start(inner)

			if err := e.Start(outer); err != nil {
				t.Fatalf("Start: %v", err)
			}
			embedGuard(t, outer, 5*time.Second)
			if err := outer.Run(); err != nil {
				t.Fatalf("outer Run: %v", err)
			}
			if got := len(steps); got != 3 || steps[0] != "timer" || steps[1] != "io" || steps[2] != "post" {
				t.Errorf("inner callbacks ran %q, want [timer io post]", steps)
			}
			if tc.cb && sweeps == 0 {
				t.Errorf("the Embed callback never ran")
			}
			if e.IsActive() || e.Err() != nil {
				t.Errorf("after Run: active %v, Err %v; want false, nil", e.IsActive(), e.Err())
			}
			if s := outer.Stats(); s.Iterations > 50 {
				t.Errorf("outer loop ran %d iterations for 3 inner events: it spins", s.Iterations)
			}
		})
	}
}

// TestEmbedInnerAsync checks that an Async.Send from another goroutine
// reaches the inner loop while the outer one sleeps.
func TestEmbedInnerAsync(t *testing.T) {
	outer := embedLoop(t, poller.New)
	inner := embedLoop(t, poller.NewEpoll)
	var e Embed
	e.Init(nil, inner)
	var a Async
	a.Init(func(a *Async) { e.Stop() })
	a.Start(inner)
	if err := e.Start(outer); err != nil {
		t.Fatal(err)
	}
	embedGuard(t, outer, 5*time.Second)
	whenAsleep(t, outer, a.Send)
	if err := outer.Run(); err != nil {
		t.Fatal(err)
	}
	if e.IsActive() {
		t.Errorf("the Async callback never ran")
	}
	a.Stop()
}

func TestEmbedStartErrors(t *testing.T) {
	outer := embedLoop(t, poller.New)
	var e Embed
	e.Init(nil, outer)
	if err := e.Start(outer); !errors.Is(err, ErrEmbedSelf) {
		t.Errorf("Start with inner == outer = %v, want ErrEmbedSelf", err)
	}
	e.Init(nil, nil)
	if err := e.Start(outer); !errors.Is(err, ErrEmbedSelf) {
		t.Errorf("Start with a nil inner = %v, want ErrEmbedSelf", err)
	}
	pollInner := embedLoop(t, poller.NewPoll)
	e.Init(nil, pollInner)
	if err := e.Start(outer); !errors.Is(err, ErrNotPollable) {
		t.Errorf("Start with a poll(2) inner = %v, want ErrNotPollable", err)
	}
	closed := embedLoop(t, poller.NewEpoll)
	closed.Close()
	e.Init(nil, closed)
	if err := e.Start(outer); !errors.Is(err, ErrClosed) {
		t.Errorf("Start with a closed inner = %v, want ErrClosed", err)
	}
	if e.IsActive() || outer.Alive() {
		t.Errorf("failed Starts left the Embed active (%v) or the loop alive (%v)", e.IsActive(), outer.Alive())
	}
}

// TestEmbedRefs checks that only the Embed itself keeps the outer loop
// alive, that Start and Stop are idempotent, and that Unref works on it.
func TestEmbedRefs(t *testing.T) {
	outer := embedLoop(t, poller.NewPoll)
	inner := embedLoop(t, poller.NewEpoll)
	var e Embed
	e.Init(nil, inner)
	for range 2 {
		if err := e.Start(outer); err != nil {
			t.Fatal(err)
		}
	}
	if outer.refs != 1 {
		t.Errorf("outer refs with one Embed = %d, want 1", outer.refs)
	}
	e.Unref()
	if outer.Alive() {
		t.Errorf("outer loop alive with only an unreferenced Embed")
	}
	if err := outer.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	e.Ref()
	e.Stop()
	e.Stop()
	if outer.refs != 0 || e.IsActive() || e.io.IsActive() || e.tm.IsActive() || e.prep.IsActive() {
		t.Errorf("after Stop: refs %d, active %v/%v/%v/%v", outer.refs, e.IsActive(), e.io.IsActive(), e.tm.IsActive(), e.prep.IsActive())
	}
	// Restarting registers no second clean-up with the outer loop.
	n := len(outer.onClose)
	e.Start(outer)
	e.Stop()
	e.Start(outer)
	if len(outer.onClose) != n {
		t.Errorf("restarting the Embed added %d clean-ups", len(outer.onClose)-n)
	}
	outer.verify()
}

// TestEmbedOuterClose checks that closing the outer loop stops its Embeds
// and leaves the inner loop usable on its own.
func TestEmbedOuterClose(t *testing.T) {
	outer := embedLoop(t, poller.NewEpoll)
	inner := embedLoop(t, poller.NewEpoll)
	var e Embed
	e.Init(nil, inner)
	if err := e.Start(outer); err != nil {
		t.Fatal(err)
	}
	if err := outer.Close(); err != nil {
		t.Fatal(err)
	}
	if e.IsActive() {
		t.Errorf("Embed active after its outer loop closed")
	}
	fired := false
	tm := NewTimer(func(*Timer) { fired = true }, 0, 0)
	tm.Start(inner)
	if err := inner.Run(); err != nil || !fired {
		t.Errorf("inner Run after the outer loop closed: %v, timer fired %v", err, fired)
	}
}

// TestEmbedInnerClose checks that closing the inner loop stops the Embed
// at the next outer iteration instead of leaving the outer loop hanging.
func TestEmbedInnerClose(t *testing.T) {
	outer := embedLoop(t, poller.NewPoll)
	inner := embedLoop(t, poller.NewEpoll)
	var e Embed
	e.Init(nil, inner)
	if err := e.Start(outer); err != nil {
		t.Fatal(err)
	}
	if err := outer.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	inner.Close()
	// Not Run: it would wait once more after the Embed stopped, with
	// nothing to wake it.
	if err := outer.RunNoWait(); err != nil {
		t.Fatal(err)
	}
	if e.IsActive() || !errors.Is(e.Err(), ErrClosed) {
		t.Errorf("after the inner loop closed: active %v, Err %v; want false, ErrClosed", e.IsActive(), e.Err())
	}
}

// TestEmbedDrivenByRawEpoll drives a loop from a host written here with
// bare epoll calls: register the loop's Fd, wait at most Timeout (rounded up
// to milliseconds), then RunNoWait. This is the contract of Fd and Timeout
// that a foreign event loop relies on.
func TestEmbedDrivenByRawEpoll(t *testing.T) {
	inner := embedLoop(t, poller.NewEpoll)
	fd, err := inner.Fd()
	if err != nil {
		t.Fatal(err)
	}
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(ep)
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		t.Fatal(err)
	}

	r, w := testutil.Pipe(t)
	var steps []string
	start := time.Now()
	inner.UpdateNow() // timers count from the cached time: make it the present
	const delay = 30 * time.Millisecond
	done := false
	var hostWaiting atomic.Bool // the host is in, or about to enter, epoll_wait
	var rd IO
	rd.Init(func(w *IO, ev Events) {
		var b [8]byte
		unix.Read(w.Fd(), b[:])
		steps = append(steps, "io")
		w.Stop()
		inner.Post(func() { // from the loop's goroutine: Timeout must say 0
			steps = append(steps, "post")
			NewTimer(func(*Timer) {
				steps = append(steps, "timer2")
				done = true
			}, 10*time.Millisecond, 0).Start(inner)
		})
	}, r, Read)
	if err := rd.Start(inner); err != nil {
		t.Fatal(err)
	}
	NewTimer(func(*Timer) {
		if d := time.Since(start); d < delay {
			t.Errorf("timer fired after %v, before its %v", d, delay)
		}
		steps = append(steps, "timer")
		go func() { // the byte arrives while the host waits in epoll_wait
			if !testutil.Eventually(5*time.Second, hostWaiting.Load) {
				t.Errorf("the host never waited")
			}
			unix.Write(w, []byte{1})
		}()
	}, delay, 0).Start(inner)

	evs := make([]unix.EpollEvent, 4)
	deadline := time.Now().Add(5 * time.Second)
	iterations := 0
	for !done && time.Now().Before(deadline) {
		ms := 1000 // a foreign loop's own wake-up
		if d, ok := inner.Timeout(); ok {
			ms = int((d + time.Millisecond - 1) / time.Millisecond)
		}
		hostWaiting.Store(true)
		_, err := unix.EpollWait(ep, evs, ms)
		hostWaiting.Store(false)
		if err != nil && err != unix.EINTR {
			t.Fatalf("epoll_wait: %v", err)
		}
		if err := inner.RunNoWait(); err != nil {
			t.Fatalf("RunNoWait: %v", err)
		}
		iterations++
	}
	want := []string{"timer", "io", "post", "timer2"}
	if len(steps) != len(want) || steps[0] != want[0] || steps[1] != want[1] || steps[2] != want[2] || steps[3] != want[3] {
		t.Errorf("callbacks ran %q, want %q", steps, want)
	}
	if iterations > 50 {
		t.Errorf("the host ran %d iterations for 4 events: Fd or Timeout made it spin", iterations)
	}
}
