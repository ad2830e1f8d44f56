package eddy_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
)

// named returns an Idle watcher (never started, only fed) whose callback
// records name, at priority prio.
func named(tr *trace, name string, prio int) *eddy.Idle {
	w := new(eddy.Idle)
	w.Init(func(*eddy.Idle) { tr.add("%s", name) })
	w.SetPriority(prio)
	return w
}

func TestPriorityOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		prios []int // fed in this order, named by index
		want  []string
	}{
		{"fifo", []int{0, 0, 0}, []string{"0", "1", "2"}},
		{"higher first", []int{-2, -1, 0, 1, 2}, []string{"4", "3", "2", "1", "0"}},
		{"mixed", []int{0, 2, -1, 2, 0, -2}, []string{"1", "3", "0", "4", "2", "5"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _, _ := newFake(t)
			var tr trace
			for i, p := range tc.prios {
				l.Feed(named(&tr, fmt.Sprint(i), p), 0)
			}
			must(t, l.RunNoWait())
			tr.check(t, fmt.Sprintf("fed with priorities %v", tc.prios), tc.want...)
		})
	}
}

// A callback that feeds a higher-priority watcher has it run next, before
// the rest of the lower priority; one that feeds a lower one has it run
// after everything of higher priority.
func TestPriorityFeedFromCallback(t *testing.T) {
	l, _, _ := newFake(t)
	var tr trace
	high := named(&tr, "high", 2)
	low := named(&tr, "low", -2)
	first := new(eddy.Idle)
	first.Init(func(*eddy.Idle) {
		tr.add("first")
		l.Feed(high, 0)
		l.Feed(low, 0)
	})
	first.SetPriority(-1)
	l.Feed(first, 0)
	l.Feed(named(&tr, "second", -1), 0)
	l.Feed(named(&tr, "zero", 0), 0)
	must(t, l.RunNoWait())
	tr.check(t, "feeding from a callback", "zero", "first", "high", "second", "low")
}

func TestSetPriority(t *testing.T) {
	l, _, _ := newFake(t)
	tm := new(eddy.Timer)
	for _, tc := range []struct{ in, want int }{
		{0, 0}, {1, 1}, {eddy.MaxPriority, eddy.MaxPriority}, {99, eddy.MaxPriority},
		{-1, -1}, {-99, eddy.MinPriority},
	} {
		tm.SetPriority(tc.in)
		if got := tm.Priority(); got != tc.want {
			t.Errorf("SetPriority(%d); Priority() = %d, want %d", tc.in, got, tc.want)
		}
	}
	tm.SetPriority(1)
	tm.Init(func(*eddy.Timer) {}, time.Second, 0)
	tm.Start(l)
	tm.SetPriority(2) // no effect while active
	if got := tm.Priority(); got != 1 {
		t.Errorf("SetPriority on an active watcher changed it to %d", got)
	}
	tm.Stop()
	idle := new(eddy.Idle)
	idle.Init(func(*eddy.Idle) {})
	l.Feed(idle, 0)
	idle.SetPriority(2) // no effect while pending
	if got := idle.Priority(); got != 0 {
		t.Errorf("SetPriority on a pending watcher changed it to %d", got)
	}
	must(t, l.RunNoWait())
}

// Watchers stopped while pending never run; a callback may stop others.
func TestStopWhilePending(t *testing.T) {
	l, _, _ := newFake(t)
	var tr trace
	var a, b, c *eddy.Timer
	a = eddy.NewTimer(func(*eddy.Timer) {
		tr.add("a")
		if !b.IsPending() || !c.IsPending() {
			t.Errorf("b and c due with a: IsPending() = %v, %v; want true, true", b.IsPending(), c.IsPending())
		}
		b.Stop()
		if b.IsPending() || b.IsActive() {
			t.Errorf("after Stop: b.IsPending() = %v, IsActive() = %v", b.IsPending(), b.IsActive())
		}
	}, time.Second, 0)
	b = eddy.NewTimer(func(*eddy.Timer) { tr.add("b") }, time.Second, 0)
	c = eddy.NewTimer(func(*eddy.Timer) { tr.add("c") }, time.Second, 0)
	a.Start(l)
	b.Start(l)
	c.Start(l)
	must(t, l.Run())
	tr.check(t, "a stops b", "a", "c")

	// Fed while inactive, then stopped: never runs either.
	tr.reset()
	fed := eddy.NewTimer(func(*eddy.Timer) { tr.add("fed") }, time.Hour, 0)
	l.Feed(fed, 0)
	fed.Stop()
	must(t, l.RunNoWait())
	tr.check(t, "fed inactive watcher, stopped")

	tr.reset()
	tm := eddy.NewTimer(func(*eddy.Timer) { tr.add("timer") }, 0, 0)
	tm.Start(l)
	l.Feed(tm, 0)
	tm.Stop()
	must(t, l.Run())
	tr.check(t, "active, fed, stopped")
	if l.Pending() != 0 {
		t.Errorf("Pending() = %d after Run, want 0", l.Pending())
	}
}

func TestStartStopIdempotent(t *testing.T) {
	l, _, _ := newFake(t)
	n := 0
	tm := eddy.NewTimer(func(*eddy.Timer) { n++ }, time.Second, 0)
	tm.Stop() // never started
	tm.Start(l)
	tm.Start(l)
	if got := l.Refs(); got != 1 {
		t.Errorf("Refs() after two Starts = %d, want 1", got)
	}
	must(t, l.Run())
	if n != 1 {
		t.Errorf("timer started twice fired %d times, want 1", n)
	}
	tm.Stop()
	tm.Stop()
	if got := l.Refs(); got != 0 {
		t.Errorf("Refs() after two Stops = %d, want 0", got)
	}

	idle, prep, chk, as := new(eddy.Idle), new(eddy.Prepare), new(eddy.Check), new(eddy.Async)
	idle.Init(func(*eddy.Idle) {})
	prep.Init(func(*eddy.Prepare) {})
	chk.Init(func(*eddy.Check) {})
	as.Init(func(*eddy.Async) {})
	io := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, 3, eddy.Read)
	per := eddy.NewPeriodic(func(*eddy.Periodic) {}, epoch, time.Hour)
	type startable struct {
		name  string
		start func()
		w     eddy.Watcher
	}
	watchers := []startable{
		{"idle", func() { idle.Start(l) }, idle},
		{"prepare", func() { prep.Start(l) }, prep},
		{"check", func() { chk.Start(l) }, chk},
		{"async", func() { as.Start(l) }, as},
		{"io", func() { must(t, io.Start(l)) }, io},
		{"periodic", func() { per.Start(l) }, per},
	}
	for _, w := range watchers {
		w.w.Stop()
		w.start()
		w.start()
		if !w.w.IsActive() || l.Refs() != 1 {
			t.Errorf("%s started twice: IsActive() = %v, Refs() = %d; want true, 1", w.name, w.w.IsActive(), l.Refs())
		}
		l.Verify()
		w.w.Stop()
		w.w.Stop()
		if w.w.IsActive() || l.Refs() != 0 {
			t.Errorf("%s stopped twice: IsActive() = %v, Refs() = %d; want false, 0", w.name, w.w.IsActive(), l.Refs())
		}
		l.Verify()
	}
}

// A one-shot timer restarted from its own callback fires again; a
// repeating one stopped from its callback does not.
func TestRestartFromCallback(t *testing.T) {
	l, _, c := newFake(t)
	var at []time.Duration
	tm := new(eddy.Timer)
	tm.Init(func(tm *eddy.Timer) {
		at = append(at, c.Monotonic())
		if tm.IsActive() {
			t.Errorf("a one-shot timer is active in its callback")
		}
		if len(at) < 3 {
			tm.Start(l)
		}
	}, time.Second, 0)
	tm.Start(l)
	must(t, l.Run())
	if want := []time.Duration{time.Second, 2 * time.Second, 3 * time.Second}; fmt.Sprint(at) != fmt.Sprint(want) {
		t.Errorf("restarted timer fired at %v, want %v", at, want)
	}

	at = at[:0]
	rep := eddy.NewTimer(func(tm *eddy.Timer) {
		at = append(at, c.Monotonic())
		if !tm.IsActive() {
			t.Errorf("a repeating timer is inactive in its callback")
		}
		if len(at) == 2 {
			tm.Stop()
		}
	}, time.Second, time.Second)
	rep.Start(l)
	must(t, l.Run())
	if want := []time.Duration{4 * time.Second, 5 * time.Second}; fmt.Sprint(at) != fmt.Sprint(want) {
		t.Errorf("repeating timer fired at %v, want %v", at, want)
	}
}

func TestFeed(t *testing.T) {
	l, _, _ := newFake(t)
	var got []eddy.Events
	w := eddy.NewIO(func(_ *eddy.IO, ev eddy.Events) { got = append(got, ev) }, 3, eddy.Read)
	must(t, w.Start(l))
	l.Feed(w, eddy.Read)
	l.Feed(w, eddy.Write) // a pending watcher accumulates
	must(t, l.RunNoWait())
	if len(got) != 1 || got[0] != eddy.Read|eddy.Write {
		t.Errorf("two Feeds: callbacks with %v, want one with Read|Write", got)
	}

	// Feed from a callback runs in the same iteration.
	got = got[:0]
	feeder := new(eddy.Check)
	feeder.Init(func(c *eddy.Check) {
		l.Feed(w, eddy.Error)
		c.Stop()
	})
	feeder.Start(l)
	must(t, l.RunNoWait())
	if len(got) != 1 || got[0] != eddy.Error {
		t.Errorf("Feed from a callback: callbacks with %v, want one with Error", got)
	}
	w.Stop()
}

func TestFeedFd(t *testing.T) {
	l, _, _ := newFake(t)
	var tr trace
	rd := eddy.NewIO(func(_ *eddy.IO, ev eddy.Events) { tr.add("rd:%d", ev) }, 4, eddy.Read)
	wr := eddy.NewIO(func(_ *eddy.IO, ev eddy.Events) { tr.add("wr:%d", ev) }, 4, eddy.Write)
	must(t, rd.Start(l))
	must(t, wr.Start(l))
	for _, tc := range []struct {
		fd   int
		ev   eddy.Events
		want []string
	}{
		{4, eddy.Read, []string{fmt.Sprintf("rd:%d", eddy.Read)}},
		{4, eddy.Write, []string{fmt.Sprintf("wr:%d", eddy.Write)}},
		{4, eddy.Read | eddy.Write, []string{fmt.Sprintf("rd:%d", eddy.Read), fmt.Sprintf("wr:%d", eddy.Write)}},
		{4, eddy.Hangup, []string{fmt.Sprintf("rd:%d", eddy.Hangup), fmt.Sprintf("wr:%d", eddy.Hangup)}},
		{5, eddy.Read, nil},
		{-1, eddy.Read, nil},
		{1 << 20, eddy.Read, nil},
	} {
		tr.reset()
		l.FeedFd(tc.fd, tc.ev)
		must(t, l.RunNoWait())
		tr.check(t, fmt.Sprintf("FeedFd(%d, %d)", tc.fd, tc.ev), tc.want...)
	}
	rd.Stop()
	wr.Stop()
}
