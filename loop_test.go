package eddy_test

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
)

// epoch is the wall time every fake clock starts at.
var epoch = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)

// newFake returns a debug-mode loop on a fake backend and clock, closed
// when the test ends.
func newFake(t testing.TB) (*eddy.Loop, *eddytest.Backend, *eddytest.Clock) {
	t.Helper()
	c := eddytest.NewClock(epoch)
	be := eddytest.NewBackend(c)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: c, Debug: true, Logger: quiet})
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, be, c
}

// newReal returns a debug-mode loop on the system's backend and clocks,
// closed when the test ends.
func newReal(t testing.TB) *eddy.Loop {
	t.Helper()
	l, err := eddy.NewLoop(&eddy.Config{Debug: true, Logger: quiet})
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

var quiet = slog.New(slog.DiscardHandler)

// trace records what happened, in order.
type trace []string

func (tr *trace) add(format string, args ...any) { *tr = append(*tr, fmt.Sprintf(format, args...)) }

func (tr *trace) reset() { *tr = (*tr)[:0] }

// check fails the test unless the trace is want.
func (tr *trace) check(t testing.TB, what string, want ...string) {
	t.Helper()
	if !slices.Equal(*tr, want) {
		t.Errorf("%s: trace = [%s], want [%s]", what, strings.Join(*tr, " "), strings.Join(want, " "))
	}
}

// must fails the test if err is not nil.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// runAsync runs f (a Run of some loop) on a goroutine and returns a channel
// that gets its result.
func runAsync(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// await waits for the result of runAsync, failing the test after d.
func await(t testing.TB, done <-chan error, d time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
		return nil
	}
}

func TestNewLoopDefaults(t *testing.T) {
	l := newReal(t)
	if got := l.Backend(); got != "epoll" && got != "kqueue" && got != "poll" {
		t.Errorf("Backend() = %q, want epoll, kqueue or poll", got)
	}
	if d := time.Since(l.Now()); d < 0 || d > time.Minute {
		t.Errorf("Now() is %v away from time.Now()", d)
	}
	if l.Alive() {
		t.Errorf("Alive() of a new loop = true")
	}
	fl, _, _ := newFake(t)
	if got := fl.Backend(); got != "fake" {
		t.Errorf("Backend() = %q, want fake", got)
	}
	if !fl.Now().Equal(epoch) {
		t.Errorf("Now() = %v, want %v", fl.Now(), epoch)
	}
	if _, err := fl.Fd(); !errors.Is(err, eddy.ErrNotPollable) {
		t.Errorf("Fd() on the fake backend: err = %v, want ErrNotPollable", err)
	}
}

// Regression: Run with no referenced watcher active used to block forever
// in its first wait (with no timer, the wait had no deadline).
func TestRunReturnsWithNothingReferenced(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(l *eddy.Loop)
	}{
		{"empty", func(*eddy.Loop) {}},
		{"unref async", func(l *eddy.Loop) {
			a := new(eddy.Async)
			a.Init(func(*eddy.Async) {})
			a.Start(l)
			a.Unref()
		}},
		{"unref io", func(l *eddy.Loop) {
			w := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, 3, eddy.Read)
			w.Start(l)
			w.Unref()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, be, _ := newFake(t)
			tc.setup(l)
			done := runAsync(l.Run)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run() = %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("Run() with nothing referenced did not return")
				be.Wake()
				<-done
			}
			if got := be.LastTimeout(); got != 0 {
				t.Errorf("Run() waited with timeout %v, want 0", got)
			}
		})
	}
	t.Run("real backend", func(t *testing.T) {
		l := newReal(t)
		a := new(eddy.Async)
		a.Init(func(*eddy.Async) {})
		a.Start(l)
		a.Unref()
		done := runAsync(l.Run)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run() = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run() with only an unreferenced Async did not return")
			l.Post(a.Stop)
			<-done
		}
	})
}

func TestRunUnrefRef(t *testing.T) {
	l, _, c := newFake(t)
	var tr trace
	long := eddy.NewTimer(func(*eddy.Timer) { tr.add("long") }, time.Hour, 0)
	short := eddy.NewTimer(func(*eddy.Timer) { tr.add("short") }, time.Second, 0)
	long.Start(l)
	long.Unref()
	long.Unref() // idempotent
	short.Start(l)
	if got := l.Refs(); got != 1 {
		t.Errorf("Refs() = %d, want 1", got)
	}
	must(t, l.Run())
	tr.check(t, "Run with an unreferenced timer", "short")
	if got := c.Monotonic(); got != time.Second {
		t.Errorf("Run returned at %v, want 1s", got)
	}
	if !long.IsActive() || long.HasRef() {
		t.Errorf("unreferenced timer: IsActive() = %v, HasRef() = %v, want true, false", long.IsActive(), long.HasRef())
	}
	long.Ref()
	long.Ref() // idempotent
	if got := l.Refs(); got != 1 {
		t.Errorf("Refs() after Ref = %d, want 1", got)
	}
	must(t, l.Run())
	tr.check(t, "Run after Ref", "short", "long")
	if got := c.Monotonic(); got != time.Hour {
		t.Errorf("Run returned at %v, want 1h", got)
	}
	if got := l.Refs(); got != 0 {
		t.Errorf("Refs() at the end = %d, want 0", got)
	}

	// Unref of an inactive watcher holds when it starts.
	idle := new(eddy.Idle)
	n := 0
	idle.Init(func(*eddy.Idle) { n++ })
	idle.Unref()
	idle.Start(l)
	if got := l.Refs(); got != 0 {
		t.Errorf("Refs() with an unreferenced idle = %d, want 0", got)
	}
	must(t, l.Run())
	if n != 1 {
		t.Errorf("unreferenced idle ran %d times in Run, want 1", n)
	}
	idle.Stop()
}

func TestRunOnceWaits(t *testing.T) {
	l, be, c := newFake(t)
	fired := 0
	eddy.NewTimer(func(*eddy.Timer) { fired++ }, 250*time.Millisecond, 0).Start(l)
	must(t, l.RunOnce())
	if fired != 1 {
		t.Errorf("RunOnce: timer fired %d times, want 1", fired)
	}
	if got := be.LastTimeout(); got != 250*time.Millisecond {
		t.Errorf("RunOnce waited %v, want 250ms", got)
	}
	if got := l.Now().Sub(epoch); got != 250*time.Millisecond {
		t.Errorf("Now() after RunOnce = epoch+%v, want epoch+250ms", got)
	}
	if c.Monotonic() != 250*time.Millisecond {
		t.Errorf("clock at %v, want 250ms", c.Monotonic())
	}
	if got := l.Monotonic(); got != 250*time.Millisecond {
		t.Errorf("Monotonic() after RunOnce = %v, want 250ms (the clock's reading)", got)
	}
	c.Advance(time.Second)
	if got := l.Monotonic(); got != 250*time.Millisecond {
		t.Errorf("Monotonic() moved to %v before UpdateNow, want the cached 250ms", got)
	}
}

func TestRunNoWaitDoesNotWait(t *testing.T) {
	l, be, c := newFake(t)
	fired := 0
	tm := eddy.NewTimer(func(*eddy.Timer) { fired++ }, time.Second, 0)
	tm.Start(l)
	for range 3 {
		must(t, l.RunNoWait())
	}
	if fired != 0 {
		t.Errorf("RunNoWait fired a timer that was not due")
	}
	if got := be.LastTimeout(); got != 0 {
		t.Errorf("RunNoWait waited with timeout %v, want 0", got)
	}
	if c.Monotonic() != 0 || !l.Now().Equal(epoch) {
		t.Errorf("RunNoWait moved time: clock %v, Now %v", c.Monotonic(), l.Now())
	}
	c.Advance(time.Second)
	must(t, l.RunNoWait())
	if fired != 1 {
		t.Errorf("RunNoWait after the deadline: fired %d, want 1", fired)
	}
	if got := be.Waits(); got != 4 {
		t.Errorf("Waits() = %d, want 4 (one per iteration)", got)
	}
}

func TestBreak(t *testing.T) {
	for _, tc := range []struct {
		how  eddy.Break
		want []string
	}{
		{eddy.BreakOne, []string{"outer", "inner", "inner returned", "after", "keep"}},
		{eddy.BreakAll, []string{"outer", "inner", "inner returned"}},
	} {
		t.Run(fmt.Sprint(tc.how), func(t *testing.T) {
			l, _, _ := newFake(t)
			var tr trace
			keep := eddy.NewTimer(func(*eddy.Timer) { tr.add("keep") }, 10*time.Second, 0)
			after := eddy.NewTimer(func(*eddy.Timer) { tr.add("after") }, 3*time.Second, 0)
			inner := eddy.NewTimer(func(*eddy.Timer) { tr.add("inner"); l.Break(tc.how) }, 2*time.Second, 0)
			outer := eddy.NewTimer(func(*eddy.Timer) {
				tr.add("outer")
				if err := l.Run(); err != nil {
					t.Errorf("nested Run() = %v", err)
				}
				tr.add("inner returned")
			}, time.Second, 0)
			for _, tm := range []*eddy.Timer{keep, after, inner, outer} {
				tm.Start(l)
			}
			must(t, l.Run())
			tr.check(t, "Break", tc.want...)
			// A Break affects only the Run it ended: the next Run goes on.
			must(t, l.Run())
			if keep.IsActive() || after.IsActive() {
				t.Errorf("Run after a Break left timers active")
			}
		})
	}
	t.Run("BreakNone cancels", func(t *testing.T) {
		l, _, _ := newFake(t)
		n := 0
		tm := eddy.NewTimer(func(tm *eddy.Timer) {
			n++
			l.Break(eddy.BreakAll)
			l.Break(eddy.BreakNone)
			if n == 3 {
				tm.Stop()
			}
		}, time.Second, time.Second)
		tm.Start(l)
		must(t, l.Run())
		if n != 3 {
			t.Errorf("Run with cancelled Breaks ran the timer %d times, want 3", n)
		}
	})
	t.Run("from prepare", func(t *testing.T) {
		l, be, _ := newFake(t)
		p := new(eddy.Prepare)
		p.Init(func(*eddy.Prepare) { l.Break(eddy.BreakOne) })
		p.Start(l)
		eddy.NewTimer(func(*eddy.Timer) { t.Errorf("timer ran after a Break in prepare") }, time.Second, 0).Start(l)
		must(t, l.Run())
		if got := be.Waits(); got != 0 {
			t.Errorf("Break in a Prepare callback still waited %d times", got)
		}
		p.Stop()
	})
}

// The phases of an iteration run in libev's order; idle watchers run only
// in an iteration with nothing else to do. Timers and Periodics share one
// heap, so those due in one iteration are queued in deadline order (start
// order for equal deadlines), which is timers first when they are due first.
func TestIterationOrder(t *testing.T) {
	l, be, c := newFake(t)
	var tr trace
	prep := new(eddy.Prepare)
	prep.Init(func(*eddy.Prepare) { tr.add("prepare") })
	chk := new(eddy.Check)
	chk.Init(func(*eddy.Check) { tr.add("check") })
	idle := new(eddy.Idle)
	idle.Init(func(*eddy.Idle) { tr.add("idle") })
	tm := eddy.NewTimer(func(*eddy.Timer) { tr.add("timer") }, time.Second, 0)
	per := eddy.NewPeriodic(func(*eddy.Periodic) { tr.add("periodic") }, epoch.Add(2*time.Second), 0)
	io := eddy.NewIO(func(*eddy.IO, eddy.Events) { tr.add("io") }, 5, eddy.Read)

	// Started in reverse, so that start order cannot explain the result.
	idle.Start(l)
	chk.Start(l)
	l.Post(func() { tr.add("post") })
	must(t, io.Start(l))
	per.Start(l)
	tm.Start(l)
	prep.Start(l)
	be.Ready(5, eddy.Read)
	c.Advance(3 * time.Second) // both the timer and the periodic are due

	must(t, l.RunOnce())
	tr.check(t, "busy iteration", "prepare", "timer", "periodic", "io", "post", "check")

	tr.reset()
	io.Stop()
	must(t, l.RunOnce())
	tr.check(t, "idle iteration", "prepare", "idle", "check")
	if got := be.LastTimeout(); got != 0 {
		t.Errorf("an active idle watcher let the loop wait %v", got)
	}

	for _, w := range []eddy.Watcher{prep, chk, idle} {
		w.Stop()
	}
}

func TestIdleOnlyWhenNothingElse(t *testing.T) {
	l, _, _ := newFake(t)
	var tr trace
	idle := new(eddy.Idle)
	idle.Init(func(w *eddy.Idle) {
		tr.add("idle")
		w.Stop()
	})
	idle.Start(l)
	tm := eddy.NewTimer(func(tm *eddy.Timer) {
		tr.add("timer")
		if tm.Repeat() == 0 {
			return
		}
		tm.SetRepeat(0)
	}, 0, time.Second)
	tm.Start(l)
	must(t, l.Run())
	// The timer's iterations have something pending: idle runs in between,
	// and the loop does not sleep while it is active.
	tr.check(t, "idle and timer", "timer", "idle", "timer")
}

func TestStats(t *testing.T) {
	l, be, c := newFake(t)
	tm := eddy.NewTimer(func(*eddy.Timer) { c.Advance(5 * time.Millisecond) }, time.Second, time.Second)
	tm.Start(l)
	io := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, 4, eddy.Read)
	must(t, io.Start(l))
	be.Ready(4, eddy.Read)
	must(t, l.RunOnce()) // IO only, no wait
	be.Clear(4, eddy.Read)
	must(t, l.RunOnce()) // the timer after 1s
	must(t, l.RunOnce()) // the timer after 995ms more
	s := l.Stats()
	want := eddy.Stats{
		Iterations:      3,
		Callbacks:       3,
		IOEvents:        1,
		WaitTime:        time.Second + 995*time.Millisecond,
		RunTime:         10 * time.Millisecond,
		CallbackTime:    10 * time.Millisecond,
		LongestCallback: 5 * time.Millisecond,
	}
	want.Lag.Counts[0] = 2 // the timer, on time twice
	if s != want {
		t.Errorf("Stats() = %+v,\nwant %+v", s, want)
	}
	tm.Stop()
	io.Stop()
}

func TestSlowCallbackLogged(t *testing.T) {
	c := eddytest.NewClock(epoch)
	var log strings.Builder
	l, err := eddy.NewLoop(&eddy.Config{
		Backend: eddytest.NewBackend(c), Clock: c, Debug: true,
		SlowCallback: 10 * time.Millisecond,
		Logger:       slog.New(slog.NewTextHandler(&log, nil)),
	})

	must(t, err)
	defer l.Close()
	eddy.NewTimer(func(*eddy.Timer) { c.Advance(time.Millisecond) }, 0, 0).Start(l)
	eddy.NewTimer(func(*eddy.Timer) { c.Advance(20 * time.Millisecond) }, 0, 0).Start(l)
	must(t, l.Run())
	if got := strings.Count(log.String(), "slow callback"); got != 1 {
		t.Errorf("log has %d slow-callback reports, want 1:\n%s", got, log.String())
	}
	if !strings.Contains(log.String(), "duration=20ms") {
		t.Errorf("log does not give the duration:\n%s", log.String())
	}
}

func TestMaxEvents(t *testing.T) {
	c := eddytest.NewClock(epoch)
	be := eddytest.NewBackend(c)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: c, Debug: true, MaxEvents: 2})
	must(t, err)
	defer l.Close()
	got := 0
	var ws []*eddy.IO
	for fd := 10; fd < 15; fd++ {
		w := eddy.NewIO(func(w *eddy.IO, _ eddy.Events) { got++; be.Clear(w.Fd(), eddy.Read) }, fd, eddy.Read)
		must(t, w.Start(l))
		be.Ready(fd, eddy.Read)
		ws = append(ws, w)
	}
	for i, want := range []int{2, 4, 5, 5} {
		must(t, l.RunNoWait())
		if got != want {
			t.Errorf("after %d iterations with MaxEvents 2: %d callbacks, want %d", i+1, got, want)
		}
	}
	for _, w := range ws {
		w.Stop()
	}
}

func TestAliveAndPending(t *testing.T) {
	l, _, _ := newFake(t)
	if l.Alive() {
		t.Errorf("Alive() of an empty loop = true")
	}
	idle := new(eddy.Idle)
	ran := 0
	idle.Init(func(*eddy.Idle) { ran++ })
	l.Feed(idle, 0) // not active, but pending keeps the loop alive
	if !l.Alive() || !idle.IsPending() || idle.IsActive() {
		t.Errorf("fed idle: Alive() = %v, IsPending() = %v, IsActive() = %v; want true, true, false",
			l.Alive(), idle.IsPending(), idle.IsActive())
	}
	must(t, l.Run())
	if ran != 1 {
		t.Errorf("fed watcher ran %d times, want 1", ran)
	}
	if l.Alive() || idle.IsPending() {
		t.Errorf("after Run: Alive() = %v, IsPending() = %v", l.Alive(), idle.IsPending())
	}
	if idle.Loop() != l {
		t.Errorf("Loop() of a fed watcher = %p, want %p", idle.Loop(), l)
	}
}

// A callback may make the loop's cached time current again.
func TestUpdateNow(t *testing.T) {
	l, _, c := newFake(t)
	var seen []time.Duration
	eddy.NewTimer(func(*eddy.Timer) {
		c.Advance(time.Second)
		seen = append(seen, l.Now().Sub(epoch))
		l.UpdateNow()
		seen = append(seen, l.Now().Sub(epoch))
	}, time.Second, 0).Start(l)
	must(t, l.Run())
	if want := []time.Duration{time.Second, 2 * time.Second}; !slices.Equal(seen, want) {
		t.Errorf("Now() before and after UpdateNow = %v, want %v", seen, want)
	}
}

func TestTimeout(t *testing.T) {
	l, _, _ := newFake(t)
	if d, ok := l.Timeout(); ok {
		t.Errorf("Timeout() of an empty loop = %v, true; want false", d)
	}
	tm := eddy.NewTimer(func(*eddy.Timer) {}, 3*time.Second, 0)
	tm.Start(l)
	if d, ok := l.Timeout(); d != 3*time.Second || !ok {
		t.Errorf("Timeout() = %v, %v; want 3s, true", d, ok)
	}
	l.Post(func() {})
	if d, ok := l.Timeout(); d != 0 || !ok {
		t.Errorf("Timeout() with a post = %v, %v; want 0, true", d, ok)
	}
	must(t, l.Run())
}

// TestOnClose checks that OnClose hooks run once, in order, after the
// watchers are stopped, and that a hook on a closed loop is ignored.
func TestOnClose(t *testing.T) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	var tm eddy.Timer
	tm.Init(func(*eddy.Timer) {}, time.Hour, 0)
	tm.Start(l)
	var got []string
	l.OnClose(func() { got = append(got, fmt.Sprint("first, timer active: ", tm.IsActive())) })
	l.OnClose(func() { got = append(got, "second") })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.OnClose(func() { got = append(got, "after close") })
	want := []string{"first, timer active: false", "second"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("hooks ran as %q, want %q", got, want)
	}
}

// TestWall: Wall reads the clock's wall time when called, so it follows a
// jump of the wall clock at once, while Now, the start time plus the
// monotonic time, does not.
func TestWall(t *testing.T) {
	l, _, c := newFake(t)
	if got := l.Wall(); !got.Equal(epoch) {
		t.Fatalf("Wall = %v, want %v", got, epoch)
	}
	c.JumpWall(time.Hour)
	c.Advance(time.Second)
	l.UpdateNow()
	if got, want := l.Wall(), epoch.Add(time.Hour+time.Second); !got.Equal(want) {
		t.Errorf("Wall after a jump = %v, want %v", got, want)
	}
	if got, want := l.Now(), epoch.Add(time.Second); !got.Equal(want) {
		t.Errorf("Now after a jump = %v, want %v (the monotonic time)", got, want)
	}
}
