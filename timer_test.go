package eddy_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
)

// A timer never fires before its deadline, counted from Now at Start; with
// the fake backend it fires exactly at it.
func TestTimerNeverEarly(t *testing.T) {
	for _, after := range []time.Duration{time.Nanosecond, time.Microsecond, 999 * time.Microsecond, time.Millisecond, 1500 * time.Millisecond, 90 * time.Minute} {
		t.Run(after.String(), func(t *testing.T) {
			l, _, c := newFake(t)
			c.Advance(7 * time.Millisecond) // a start that is not zero
			l.UpdateNow()
			start := l.Now()
			var got time.Duration
			eddy.NewTimer(func(*eddy.Timer) { got = l.Now().Sub(start) }, after, 0).Start(l)
			must(t, l.Run())
			if got != after {
				t.Errorf("Timer(%v) fired after %v, want exactly %v", after, got, after)
			}
		})
	}
}

func TestTimerRealClockNeverEarly(t *testing.T) {
	l := newReal(t)
	const after = 20 * time.Millisecond
	start := time.Now()
	var fired time.Time
	eddy.NewTimer(func(*eddy.Timer) { fired = time.Now() }, after, 0).Start(l)
	must(t, l.Run())
	if d := fired.Sub(start); d < after {
		t.Errorf("real timer of %v fired after %v", after, d)
	}
}

// Negative and zero delays fire in the next iteration, without waiting.
func TestTimerZeroAndNegative(t *testing.T) {
	l, be, c := newFake(t)
	var tr trace
	for i, d := range []time.Duration{0, -time.Second, -time.Nanosecond, 0} {
		eddy.NewTimer(func(*eddy.Timer) { tr.add("%d", i) }, d, 0).Start(l)
	}
	must(t, l.RunNoWait())
	tr.check(t, "non-positive delays", "0", "1", "2", "3")
	if c.Monotonic() != 0 || be.LastTimeout() != 0 {
		t.Errorf("non-positive delays waited: clock %v, last timeout %v", c.Monotonic(), be.LastTimeout())
	}
	// Started from a callback: fires in the next iteration, not this one.
	tr.reset()
	eddy.NewTimer(func(*eddy.Timer) {
		tr.add("outer")
		eddy.NewTimer(func(*eddy.Timer) { tr.add("inner") }, 0, 0).Start(l)
	}, 0, 0).Start(l)
	must(t, l.RunNoWait())
	tr.check(t, "zero timer started from a callback, first iteration", "outer")
	must(t, l.RunNoWait())
	tr.check(t, "zero timer started from a callback, second iteration", "outer", "inner")
}

func TestTimerEqualDeadlinesInStartOrder(t *testing.T) {
	l, _, _ := newFake(t)
	var tr trace
	const n = 50
	for i := range n {
		// Interleave two deadlines; each group must keep its start order.
		d := time.Second
		if i%2 == 1 {
			d = 2 * time.Second
		}
		eddy.NewTimer(func(*eddy.Timer) { tr.add("%d", i) }, d, 0).Start(l)
	}
	must(t, l.Run())
	var want []string
	for i := 0; i < n; i += 2 {
		want = append(want, fmt.Sprint(i))
	}
	for i := 1; i < n; i += 2 {
		want = append(want, fmt.Sprint(i))
	}
	tr.check(t, "equal deadlines", want...)
}

// A repeating timer keeps its phase: after a callback overran several
// periods, the missed beats are skipped, not bunched.
func TestTimerRepeatKeepsPhase(t *testing.T) {
	l, _, c := newFake(t)
	var at []time.Duration
	tm := eddy.NewTimer(func(tm *eddy.Timer) {
		at = append(at, c.Monotonic())
		switch len(at) {
		case 2:
			c.Advance(35 * time.Millisecond) // overrun: beats at 30, 40 missed
		case 5:
			tm.Stop()
		}
	}, 10*time.Millisecond, 10*time.Millisecond)
	tm.Start(l)
	must(t, l.Run())
	want := []time.Duration{10, 20, 55, 60, 70}
	for i := range want {
		want[i] *= time.Millisecond
	}
	if !slices.Equal(at, want) {
		t.Errorf("repeating timer fired at %v, want %v", at, want)
	}
}

func TestTimerAgain(t *testing.T) {
	l, _, c := newFake(t)
	var at []time.Duration
	tm := eddy.NewTimer(func(*eddy.Timer) { at = append(at, c.Monotonic()) }, 0, 0)

	tm.SetRepeat(time.Second)
	tm.Again() // never started: no loop known, nothing happens
	if tm.IsActive() {
		t.Fatalf("Again on a never-started timer made it active")
	}
	tm.Start(l)
	must(t, l.RunNoWait()) // fires at 0 (after 0), then repeats every 1s
	if !slices.Equal(at, []time.Duration{0}) {
		t.Fatalf("fired at %v, want [0]", at)
	}

	// Activity pushes the deadline forward: Again at 0.5s and 1.2s.
	var pushes []*eddy.Timer
	for _, d := range []time.Duration{500 * time.Millisecond, 1200 * time.Millisecond} {
		p := eddy.NewTimer(func(*eddy.Timer) { tm.Again() }, d, 0)
		p.Start(l)
		pushes = append(pushes, p)
	}
	stop := eddy.NewTimer(func(*eddy.Timer) { tm.Stop() }, 2500*time.Millisecond, 0)
	stop.Start(l)
	must(t, l.Run())
	if want := []time.Duration{0, 2200 * time.Millisecond}; !slices.Equal(at, want) {
		t.Errorf("timer pushed by Again fired at %v, want %v", at, want)
	}

	// Again on an inactive timer starts it with the repeat as delay.
	at = at[:0]
	tm.SetRepeat(300 * time.Millisecond)
	tm.Again()
	if !tm.IsActive() {
		t.Fatalf("Again on a stopped timer did not start it")
	}
	if got := tm.Remaining(); got != 300*time.Millisecond {
		t.Errorf("Remaining() after Again = %v, want 300ms", got)
	}
	tm.SetRepeat(0) // next firing is the last
	must(t, l.Run())
	if want := []time.Duration{2800 * time.Millisecond}; !slices.Equal(at, want) {
		t.Errorf("after Again: fired at %v, want %v", at, want)
	}

	// Again with a zero repeat stops an active timer.
	tm.Set(time.Second, 0)
	tm.Start(l)
	tm.Again()
	if tm.IsActive() {
		t.Errorf("Again with repeat 0 left the timer active")
	}
	l.Verify()
}

func TestTimerRemainingAndSet(t *testing.T) {
	l, _, c := newFake(t)
	tm := eddy.NewTimer(func(*eddy.Timer) {}, 3*time.Second, time.Second)
	if got := tm.Remaining(); got != 3*time.Second {
		t.Errorf("Remaining() of a stopped timer = %v, want its delay 3s", got)
	}
	tm.Start(l)
	tm.Set(time.Hour, time.Hour) // no effect while active
	if got := tm.Repeat(); got != time.Second {
		t.Errorf("Set on an active timer changed Repeat() to %v", got)
	}
	c.Advance(1200 * time.Millisecond)
	if got := tm.Remaining(); got != 3*time.Second {
		t.Errorf("Remaining() before the loop saw the time = %v, want 3s (counted from Now)", got)
	}
	l.UpdateNow()
	if got := tm.Remaining(); got != 1800*time.Millisecond {
		t.Errorf("Remaining() = %v, want 1.8s", got)
	}
	c.Advance(5 * time.Second)
	l.UpdateNow()
	if got := tm.Remaining(); got != -3200*time.Millisecond {
		t.Errorf("Remaining() of an overdue timer = %v, want -3.2s", got)
	}
	tm.SetRepeat(-time.Second)
	if got := tm.Repeat(); got != 0 {
		t.Errorf("SetRepeat(-1s); Repeat() = %v, want 0", got)
	}
	tm.Stop()
	tm.Set(2*time.Second, -5)
	if tm.Remaining() != 2*time.Second || tm.Repeat() != 0 {
		t.Errorf("Set(2s, -5): Remaining() = %v, Repeat() = %v; want 2s, 0", tm.Remaining(), tm.Repeat())
	}
}

// Many timers with random deadlines, some stopped before and some while
// the loop runs, fire in deadline order (start order among equals), each
// once, and stopped ones never.
func TestTimerHeapRandom(t *testing.T) {
	const n = 10000
	c := eddytest.NewClock(epoch)
	be := eddytest.NewBackend(c)
	// Not in debug mode: verify is O(n) and runs every 64th iteration here.
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: c})
	must(t, err)
	defer l.Close()
	rng := rand.New(rand.NewPCG(1, 2))

	type rec struct {
		deadline time.Duration
		seq      int
		stopped  bool
		fired    int
	}
	recs := make([]rec, n)
	timers := make([]*eddy.Timer, n)
	var order []int
	for i := range n {
		d := time.Duration(rng.IntN(3000)) * time.Millisecond
		recs[i] = rec{deadline: d, seq: i}
		timers[i] = eddy.NewTimer(func(*eddy.Timer) {
			recs[i].fired++
			order = append(order, i)
			if got := c.Monotonic(); got != recs[i].deadline {
				t.Errorf("timer %d (deadline %v) fired at %v", i, recs[i].deadline, got)
			}
			if rng.IntN(4) == 0 { // stop another timer, maybe pending
				j := rng.IntN(n)
				if recs[j].fired == 0 {
					recs[j].stopped = true
				}
				timers[j].Stop()
			}
		}, d, 0)
		timers[i].Start(l)
	}
	for range n / 3 {
		j := rng.IntN(n)
		recs[j].stopped = true
		timers[j].Stop()
	}
	l.Verify()
	iter := 0
	chk := new(eddy.Check)
	chk.Init(func(*eddy.Check) {
		if iter++; iter%64 == 0 {
			l.Verify()
		}
	})
	chk.Start(l)
	chk.Unref()
	must(t, l.Run())
	chk.Stop()
	l.Verify()

	for i, r := range recs {
		switch {
		case r.stopped && r.fired != 0:
			t.Errorf("timer %d fired %d times after Stop", i, r.fired)
		case !r.stopped && r.fired != 1:
			t.Errorf("timer %d fired %d times, want 1", i, r.fired)
		}
	}
	for k := 1; k < len(order); k++ {
		a, b := recs[order[k-1]], recs[order[k]]
		if a.deadline > b.deadline || a.deadline == b.deadline && a.seq > b.seq {
			t.Fatalf("timer %d (%v) fired after timer %d (%v)", order[k], b.deadline, order[k-1], a.deadline)
		}
	}
	if len(order) < n/2 {
		t.Errorf("only %d timers fired", len(order))
	}
}

func BenchmarkTimerStartStop(b *testing.B) {
	be := eddytest.NewBackend(nil)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: be.Clock()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	others := make([]eddy.Timer, 1000) // a realistic heap to sift through
	for i := range others {
		others[i].Init(func(*eddy.Timer) {}, time.Duration(i)*time.Millisecond, 0)
		others[i].Start(l)
	}
	tm := eddy.NewTimer(func(*eddy.Timer) {}, 500*time.Millisecond, 0)
	b.ReportAllocs()
	for b.Loop() {
		tm.Start(l)
		tm.Stop()
	}
}

func BenchmarkTimerAgain(b *testing.B) {
	be := eddytest.NewBackend(nil)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: be.Clock()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	others := make([]eddy.Timer, 1000)
	for i := range others {
		others[i].Init(func(*eddy.Timer) {}, time.Duration(i)*time.Millisecond, 0)
		others[i].Start(l)
	}
	tm := eddy.NewTimer(func(*eddy.Timer) {}, 500*time.Millisecond, 500*time.Millisecond)
	tm.Start(l)
	b.ReportAllocs()
	for b.Loop() {
		tm.Again()
	}
}

func TestTimerStartStopAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("allocation test")
	}
	be := eddytest.NewBackend(nil)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: be.Clock()})
	must(t, err)
	defer l.Close()
	tm := eddy.NewTimer(func(*eddy.Timer) {}, time.Second, time.Second)
	tm.Start(l) // let the heap grow once
	tm.Stop()
	if n := testing.AllocsPerRun(100, func() { tm.Start(l); tm.Again(); tm.Stop() }); n > 0 {
		t.Errorf("Timer Start, Again, Stop: %v allocations, want 0", n)
	}
}
