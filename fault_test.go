package eddy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
)

// Spurious wake-ups (EINTR) neither fire timers early nor lose them.
func TestFaultSpuriousWakeups(t *testing.T) {
	l, be, c := newFake(t)
	var at []time.Duration
	eddy.NewTimer(func(*eddy.Timer) { at = append(at, c.Monotonic()) }, time.Second, 0).Start(l)
	for range 3 {
		be.Spurious()
	}
	for i := range 3 {
		must(t, l.RunOnce())
		if len(at) != 0 {
			t.Fatalf("spurious wake-up %d fired the timer at %v", i+1, at)
		}
	}
	must(t, l.Run())
	if len(at) != 1 || at[0] != time.Second {
		t.Errorf("after spurious wake-ups: timer fired at %v, want [1s]", at)
	}
	if got := be.Waits(); got != 4 {
		t.Errorf("Waits() = %d, want 4", got)
	}
}

// A failing wait ends Run with a wrapped error; the loop can run again.
func TestFaultWaitError(t *testing.T) {
	l, be, _ := newFake(t)
	fired := 0
	eddy.NewTimer(func(*eddy.Timer) { fired++ }, time.Second, 0).Start(l)
	errBoom := errors.New("boom")
	be.FailWait(errBoom)
	err := l.Run()
	if !errors.Is(err, errBoom) {
		t.Fatalf("Run() = %v, want an error wrapping %v", err, errBoom)
	}
	if !strings.Contains(err.Error(), "eddy") || !strings.Contains(err.Error(), "fake") {
		t.Errorf("Run() error %q does not name the package and the backend", err)
	}
	if fired != 0 {
		t.Errorf("timer fired in the failed iteration")
	}
	must(t, l.Run())
	if fired != 1 {
		t.Errorf("Run after the error: timer fired %d times, want 1", fired)
	}
}

// catch runs f and returns what it panicked with, or nil.
func catch(f func()) (v any) {
	defer func() { v = recover() }()
	f()
	return nil
}

// A panicking callback propagates out of Run; the callbacks it interrupted
// run in the next Run, and the loop can be run and closed.
func TestFaultPanicInCallback(t *testing.T) {
	l, be, _ := newFake(t)
	var tr trace
	bomb := eddy.NewTimer(func(*eddy.Timer) { tr.add("bomb"); panic("kaboom") }, time.Second, 0)
	after := eddy.NewTimer(func(*eddy.Timer) { tr.add("after") }, time.Second, 0)
	tick := eddy.NewTimer(func(*eddy.Timer) { tr.add("tick") }, 2*time.Second, 0)
	bomb.Start(l)
	after.Start(l)
	tick.Start(l)
	if v := catch(func() { l.Run() }); v != "kaboom" {
		t.Fatalf("Run() panicked with %v, want kaboom", v)
	}
	tr.check(t, "the panic", "bomb")
	l.Verify()
	if !after.IsPending() {
		t.Errorf("the callback after the panic is no longer pending")
	}
	must(t, l.Run())
	tr.check(t, "the next Run", "bomb", "after", "tick")
	l.Verify()

	// In a nested Run too; the loop (and debug mode's owner) recovers.
	nested := eddy.NewTimer(func(*eddy.Timer) {
		eddy.NewTimer(func(*eddy.Timer) { panic("deep") }, 0, 0).Start(l)
		l.Run()
	}, time.Second, 0)
	nested.Start(l)
	if v := catch(func() { l.Run() }); v != "deep" {
		t.Fatalf("nested Run() panicked with %v, want deep", v)
	}
	l.Verify()
	done := runAsync(l.Run) // another goroutine may run the loop now
	must(t, await(t, done, 10*time.Second, "Run on another goroutine"))
	must(t, l.Close())
	if !be.Closed() {
		t.Errorf("Close did not close the backend")
	}
}

// Regression: a panicking posted function used to strand the functions
// posted after it until some later Post.
func TestFaultPanicInPost(t *testing.T) {
	l, _, _ := newFake(t)
	var tr trace
	l.Post(func() { tr.add("one") })
	l.Post(func() { panic("post") })
	l.Post(func() { tr.add("three") })
	if v := catch(func() { l.Run() }); v != "post" {
		t.Fatalf("Run() panicked with %v, want post", v)
	}
	tr.check(t, "the panic", "one")
	if !l.Alive() {
		t.Errorf("Alive() = false with a posted function not yet run")
	}
	must(t, l.Run())
	tr.check(t, "the next Run", "one", "three")
	l.Post(func() { tr.add("four") })
	must(t, l.Run())
	tr.check(t, "a later Post", "one", "three", "four")
}

// Close from outside Run stops every watcher for good.
func TestFaultCloseStopsEverything(t *testing.T) {
	l, be, _ := newFake(t)
	ran := 0
	cb := func() { ran++ }
	tm := eddy.NewTimer(func(*eddy.Timer) { cb() }, 0, time.Second)
	per := eddy.NewPeriodic(func(*eddy.Periodic) { cb() }, epoch, time.Minute)
	io := eddy.NewIO(func(*eddy.IO, eddy.Events) { cb() }, 3, eddy.Read)
	idle, prep, chk, as := new(eddy.Idle), new(eddy.Prepare), new(eddy.Check), new(eddy.Async)
	idle.Init(func(*eddy.Idle) { cb() })
	prep.Init(func(*eddy.Prepare) { cb() })
	chk.Init(func(*eddy.Check) { cb() })
	as.Init(func(*eddy.Async) { cb() })
	tm.Start(l)
	per.Start(l)
	must(t, io.Start(l))
	idle.Start(l)
	prep.Start(l)
	chk.Start(l)
	as.Start(l)
	be.Ready(3, eddy.Read)
	l.Feed(tm, 0)
	as.Send()
	l.Post(cb)

	must(t, l.Close())
	for _, w := range []eddy.Watcher{tm, per, io, idle, prep, chk, as} {
		if w.IsActive() || w.IsPending() {
			t.Errorf("%T after Close: IsActive() = %v, IsPending() = %v", w, w.IsActive(), w.IsPending())
		}
	}
	if l.Alive() || l.Refs() != 0 || !l.IsClosed() {
		t.Errorf("after Close: Alive() = %v, Refs() = %d, IsClosed() = %v", l.Alive(), l.Refs(), l.IsClosed())
	}
	for _, run := range []func() error{l.Run, l.RunOnce, l.RunNoWait} {
		if err := run(); !errors.Is(err, eddy.ErrClosed) {
			t.Errorf("run on a closed loop = %v, want ErrClosed", err)
		}
	}
	tm.Start(l)
	idle.Start(l)
	if tm.IsActive() || idle.IsActive() {
		t.Errorf("Start on a closed loop made a watcher active")
	}
	if ran != 0 {
		t.Errorf("%d callbacks ran after Close", ran)
	}
	if err := l.Close(); !errors.Is(err, eddy.ErrClosed) {
		t.Errorf("second Close() = %v, want ErrClosed", err)
	}
}

func TestFaultCloseInsideRun(t *testing.T) {
	l, _, _ := newFake(t)
	var err error
	eddy.NewTimer(func(*eddy.Timer) { err = l.Close() }, 0, 0).Start(l)
	must(t, l.Run())
	if !errors.Is(err, eddy.ErrRunning) {
		t.Errorf("Close() inside Run = %v, want ErrRunning", err)
	}
	if l.IsClosed() {
		t.Errorf("IsClosed() after a refused Close = true")
	}
	must(t, l.Close())
}

// Debug mode panics when the loop's API is used from a goroutine other than
// the one running it, before changing anything.
func TestFaultDebugForeignGoroutine(t *testing.T) {
	l, be, _ := newFake(t)
	keep := keepAlive(l)
	done := runAsync(l.Run)
	if !testutil.Eventually(10*time.Second, be.Blocked) {
		be.Wake()
		t.Fatal("the loop never went to sleep")
	}
	foreign := make(chan any)
	tm := eddy.NewTimer(func(*eddy.Timer) {}, time.Second, 0)
	go func() { foreign <- catch(func() { tm.Start(l) }) }()
	v := <-foreign
	msg, _ := v.(string)
	if !strings.Contains(msg, "goroutine") || !strings.Contains(msg, "Post") {
		t.Errorf("Timer.Start from a foreign goroutine panicked with %v, want a message about goroutines and Post", v)
	}
	w := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, 5000, eddy.Read)
	go func() { foreign <- catch(func() { w.Start(l) }) }()
	if v := <-foreign; v == nil {
		t.Errorf("IO.Start from a foreign goroutine did not panic")
	}
	go func() { foreign <- catch(func() { l.Run() }) }()
	if v := <-foreign; v == nil || !strings.Contains(fmt.Sprint(v), "Run called") {
		t.Errorf("a second Run from a foreign goroutine panicked with %v, want a message about Run", v)
	}
	// The loop is intact: the refused watchers are not active, and the
	// invariants hold (checked on the loop goroutine).
	var active bool
	var refs int
	l.Post(func() {
		active = tm.IsActive() || w.IsActive()
		refs = l.Refs()
		l.Verify()
		keep.Stop()
	})
	must(t, await(t, done, 10*time.Second, "Run"))
	if active || refs != 1 {
		t.Errorf("after the refused Starts: active %v, Refs() %d; want false, 1 (keep)", active, refs)
	}
	// Once Run returned, the owner is released: this goroutine may use it.
	tm.Start(l)
	must(t, l.Run())
}
