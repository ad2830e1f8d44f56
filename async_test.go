package eddy_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
)

// keepAlive starts a referenced Async that keeps Run going until stopped.
func keepAlive(l *eddy.Loop) *eddy.Async {
	a := new(eddy.Async)
	a.Init(func(*eddy.Async) {})
	a.Start(l)
	return a
}

// Functions posted from several goroutines run on the loop, each
// goroutine's in the order it posted them.
func TestPostOrderFromGoroutines(t *testing.T) {
	for _, name := range []string{"fake", "real"} {
		t.Run(name, func(t *testing.T) {
			var l *eddy.Loop
			if name == "fake" {
				l, _, _ = newFake(t)
			} else {
				l = newReal(t)
			}
			keep := keepAlive(l)
			const goroutines, posts = 8, 200
			var next [goroutines]int
			bad := 0
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Go(func() {
					for k := range posts {
						l.Post(func() {
							if next[g] != k {
								bad++
							}
							next[g] = k + 1
						})
					}
				})
			}
			go func() {
				wg.Wait()
				l.Post(keep.Stop) // after every other post
			}()
			done := runAsync(l.Run)
			must(t, await(t, done, 20*time.Second, "Run"))
			if bad != 0 {
				t.Errorf("%d posted functions ran out of their goroutine's order", bad)
			}
			for g, n := range next {
				if n != posts {
					t.Errorf("goroutine %d: %d of %d posted functions ran", g, n, posts)
				}
			}
		})
	}
}

// Post wakes a loop sleeping with no deadline: once, for the batch.
func TestPostWakesSleepingLoop(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		l, be, _ := newFake(t)
		keep := keepAlive(l)
		done := runAsync(l.Run)
		if !testutil.Eventually(10*time.Second, be.Blocked) {
			be.Wake()
			t.Fatal("the loop never went to sleep")
		}
		l.Post(keep.Stop)
		must(t, await(t, done, 10*time.Second, "Run after Post"))
		if got := be.Wakes(); got != 1 {
			t.Errorf("backend woken %d times, want 1", got)
		}
		if got := l.Stats().Wakeups; got != 1 {
			t.Errorf("Stats().Wakeups = %d, want 1", got)
		}
	})
	t.Run("real", func(t *testing.T) {
		l := newReal(t)
		keep := keepAlive(l)
		var iterations atomic.Int32
		prep := new(eddy.Prepare)
		prep.Init(func(*eddy.Prepare) { iterations.Add(1) })
		prep.Start(l)
		prep.Unref()
		done := runAsync(l.Run)
		// The loop is about to sleep, or asleep, once it has prepared.
		if !testutil.Eventually(10*time.Second, func() bool { return iterations.Load() > 0 }) {
			t.Fatal("the loop never ran its first iteration")
		}
		l.Post(func() {
			prep.Stop()
			keep.Stop()
		})
		var err error
		returned := testutil.Eventually(10*time.Second, func() bool {
			select {
			case err = <-done:
				return true
			default:
				return false
			}
		})
		if !returned {
			t.Fatal("a posted function did not wake the loop")
		}
		must(t, err)
	})
}

// Async.Send from another goroutine wakes the loop; Sends made before the
// callback runs coalesce into one call.
func TestAsyncSend(t *testing.T) {
	l, be, _ := newFake(t)
	calls := 0
	a := new(eddy.Async)
	a.Init(func(*eddy.Async) { calls++ })

	a.Send() // before Start: recorded
	if !a.Sent() {
		t.Errorf("Sent() after Send = false")
	}
	a.Start(l)
	must(t, l.RunNoWait())
	if calls != 1 || a.Sent() {
		t.Errorf("Send before Start: %d calls, Sent() = %v; want 1, false", calls, a.Sent())
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 500 {
				a.Send()
			}
		})
	}
	wg.Wait()
	must(t, l.RunNoWait())
	must(t, l.RunNoWait())
	if calls != 2 {
		t.Errorf("4000 Sends: %d calls in all, want 2 (coalesced)", calls)
	}

	// From another goroutine while the loop sleeps.
	stop := new(eddy.Async)
	stop.Init(func(s *eddy.Async) {
		s.Stop()
		a.Stop()
	})
	stop.Start(l)
	done := runAsync(l.Run)
	if !testutil.Eventually(10*time.Second, be.Blocked) {
		be.Wake()
		t.Fatal("the loop never went to sleep")
	}
	go stop.Send()
	must(t, await(t, done, 10*time.Second, "Run after Send"))

	// A Send not seen by the loop is kept across Stop for the next Start.
	a.Send()
	must(t, l.RunNoWait()) // a is stopped: nothing
	if calls != 2 || !a.Sent() {
		t.Errorf("Send to a stopped Async: %d calls, Sent() = %v; want 2, true", calls, a.Sent())
	}
	a.Start(l)
	must(t, l.RunNoWait())
	if calls != 3 {
		t.Errorf("after restart: %d calls, want 3", calls)
	}

	// Stopped while pending: the callback does not run.
	stopper := eddy.NewTimer(func(*eddy.Timer) { a.Stop() }, 0, 0)
	stopper.SetPriority(1)
	stopper.Start(l)
	a.Send()
	must(t, l.RunNoWait())
	if calls != 3 {
		t.Errorf("Async stopped while pending: %d calls, want 3", calls)
	}
	l.Verify()
}

// A posted function keeps Run alive until it has run, and so does one it
// posts in turn.
func TestPostKeepsRunAlive(t *testing.T) {
	l, be, _ := newFake(t)
	var tr trace
	l.Post(func() {
		tr.add("first")
		l.Post(func() { tr.add("second") })
	})
	if !l.Alive() {
		t.Errorf("Alive() with a posted function = false")
	}
	must(t, l.Run())
	tr.check(t, "posts", "first", "second")
	if l.Alive() {
		t.Errorf("Alive() after Run = true")
	}
	if got := be.Wakes(); got != 0 {
		t.Errorf("Posts to a loop that was not sleeping woke it %d times", got)
	}
}

// Functions posted to a closed loop, or posted and not yet run when it
// closes, never run.
func TestPostToClosedLoop(t *testing.T) {
	l, be, _ := newFake(t)
	ran := false
	l.Post(func() { ran = true })
	must(t, l.Close())
	l.Post(func() { ran = true })
	l.Wake()
	if err := l.Run(); err != eddy.ErrClosed {
		t.Errorf("Run() on a closed loop = %v, want ErrClosed", err)
	}
	if ran {
		t.Errorf("a posted function ran on a closed loop")
	}
	if got := be.Wakes(); got != 0 {
		t.Errorf("Post and Wake on a closed loop woke the backend %d times", got)
	}
	a := new(eddy.Async)
	a.Init(func(*eddy.Async) { ran = true })
	a.Start(l)
	a.Send()
	if a.IsActive() || ran {
		t.Errorf("Async on a closed loop: IsActive() = %v, ran = %v", a.IsActive(), ran)
	}
}

// Wake from another goroutine makes a sleeping loop run an iteration.
func TestWake(t *testing.T) {
	l, be, _ := newFake(t)
	keep := keepAlive(l)
	var iterations atomic.Int32
	chk := new(eddy.Check)
	chk.Init(func(*eddy.Check) {
		if iterations.Add(1) == 2 {
			keep.Stop()
		}
	})
	chk.Start(l)
	chk.Unref()
	l.Feed(chk, 0) // the first iteration does not sleep
	done := runAsync(l.Run)
	if !testutil.Eventually(10*time.Second, be.Blocked) {
		be.Wake()
		t.Fatal("the loop never went to sleep")
	}
	l.Wake()
	must(t, await(t, done, 10*time.Second, "Run after Wake"))
	if got := iterations.Load(); got != 2 {
		t.Errorf("%d iterations, want 2", got)
	}
	chk.Stop()
}
