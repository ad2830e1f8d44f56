//go:build linux

package eddy

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/poller"
	"github.com/eddyloop/eddy/internal/testutil"
	"golang.org/x/sys/unix"
)

func goPollerLoop(t testing.TB) *Loop {
	t.Helper()
	be, err := poller.NewEpoll()
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoop(&Config{Backend: be, GoPoller: true})
	if err != nil {
		t.Fatalf("NewLoop(GoPoller): %v", err)
	}
	t.Cleanup(func() {
		if !l.IsClosed() {
			l.Close()
		}
	})
	return l
}

// TestGoPollerRunsWatchers chains a timer, IO on a pipe, a Post and an
// Async.Send, each started from another goroutine, so that the loop must
// be parked in the runtime poller and woken for each.
func TestGoPollerRunsWatchers(t *testing.T) {
	l := goPollerLoop(t)
	if l.gp.file == nil {
		t.Fatal("GoPoller loop has no runtime-poller file")
	}
	r, w := testutil.Pipe(t)
	var steps []string
	start := time.Now()
	l.UpdateNow() // timers count from the cached time: make it the present
	const delay = 30 * time.Millisecond
	later := func(f func()) { whenAsleep(t, l, f) } // parked in the runtime poller
	var a Async
	var rd IO
	a.Init(func(a *Async) {
		steps = append(steps, "async")
		a.Stop()
	})
	a.Start(l)
	rd.Init(func(w *IO, ev Events) {
		var b [8]byte
		unix.Read(w.Fd(), b[:])
		steps = append(steps, "io")
		w.Stop()
		later(func() {
			l.Post(func() {
				steps = append(steps, "post")
				later(a.Send)
			})
		})
	}, r, Read)
	if err := rd.Start(l); err != nil {
		t.Fatal(err)
	}
	NewTimer(func(*Timer) {
		if d := time.Since(start); d < delay {
			t.Errorf("timer fired after %v, before its %v", d, delay)
		}
		steps = append(steps, "timer")
		later(func() { unix.Write(w, []byte{1}) })
	}, delay, 0).Start(l)
	embedGuard(t, l, 5*time.Second)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	want := []string{"timer", "io", "post", "async"}
	if len(steps) != len(want) || steps[0] != want[0] || steps[1] != want[1] || steps[2] != want[2] || steps[3] != want[3] {
		t.Errorf("callbacks ran %q, want %q", steps, want)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("the chain took %v: wake-ups were lost and waited for a deadline", el)
	}
}

// TestGoPollerPostPingPong posts from another goroutine, one function at a
// time, so that most posts find the loop parked or about to park: every
// wake-up must be seen.
func TestGoPollerPostPingPong(t *testing.T) {
	l := goPollerLoop(t)
	var keep Async
	keep.Init(func(*Async) {})
	keep.Start(l)
	done := make(chan error, 1)
	go func() { done <- l.Run() }()
	const rounds = 2000
	ack := make(chan struct{})
	f := func() { ack <- struct{}{} }
	for i := range rounds {
		l.Post(f)
		select {
		case <-ack:
		case <-time.After(5 * time.Second):
			t.Fatalf("round %d: posted function not run within 5s", i)
		}
	}
	l.Post(keep.Stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// procThreads returns the process's thread count from /proc/self/status.
func procThreads(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for line := range bytes.Lines(b) {
		if v, ok := bytes.CutPrefix(line, []byte("Threads:")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				t.Fatalf("Threads line %q: %v", line, err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}

// sleepLoops starts n loops, each sleeping in Run on its own goroutine with
// a one-hour timer, and returns once all are asleep, with a function that
// wakes, stops and closes them.
func sleepLoops(t *testing.T, n int, goPoller bool) (stop func()) {
	t.Helper()
	loops := make([]*Loop, n)
	timers := make([]Timer, n)
	var wg sync.WaitGroup
	for i := range loops {
		be, err := poller.NewEpoll()
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewLoop(&Config{Backend: be, GoPoller: goPoller})
		if err != nil {
			t.Fatal(err)
		}
		loops[i] = l
		timers[i].Init(func(*Timer) {}, time.Hour, 0)
		timers[i].Start(l)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.Run(); err != nil {
				t.Errorf("Run: %v", err)
			}
		}()
	}
	asleep := testutil.Eventually(5*time.Second, func() bool {
		for _, l := range loops {
			if !l.sleeping.Load() {
				return false
			}
		}
		return true
	})
	if !asleep {
		t.Fatalf("%d loops did not all go to sleep", n)
	}
	return func() {
		for i, l := range loops {
			l.Post(timers[i].Stop)
		}
		wg.Wait()
		for _, l := range loops {
			if err := l.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		}
	}
}

// TestGoPollerHoldsNoThread starts 50 sleeping loops with GoPoller and
// checks that the process gains hardly any threads, then 50 without and
// checks that it has at least one thread per loop: a loop sleeping in the
// backend's wait holds an OS thread, one parked in Go's poller does not.
// The GoPoller case runs first, so that idle threads left by the other
// cannot hide its cost.
func TestGoPollerHoldsNoThread(t *testing.T) {
	const n = 50
	base := procThreads(t)
	stop := sleepLoops(t, n, true)
	// Not a settle but the measurement's window: a loop blocked in a
	// system call has a thread of its own within milliseconds (the
	// runtime's monitor hands its processor on after 20µs, and the blocked
	// thread stays), as the second half shows; parked loops must not gain
	// threads over the same time. No barrier can show that the runtime
	// will not start a thread: only time passing can.
	time.Sleep(50 * time.Millisecond)
	withGP := procThreads(t)
	stop()

	stop = sleepLoops(t, n, false)
	// Each loop enters epoll_wait just after it says it sleeps, and the
	// runtime starts a thread for each blocked one within milliseconds.
	testutil.Eventually(5*time.Second, func() bool { return procThreads(t) >= n })
	without := procThreads(t)
	stop()

	t.Logf("threads: %d at start, %d with %d GoPoller loops asleep, %d with %d loops asleep in epoll_wait",
		base, withGP, n, without, n)
	if grew := withGP - base; grew > n/5 {
		t.Errorf("%d sleeping GoPoller loops added %d threads, want at most %d", n, grew, n/5)
	}
	if without < n {
		t.Errorf("%d loops asleep in epoll_wait, but only %d threads: the test cannot tell", n, without)
	}
}

// TestGoPollerClose checks that Close releases the duplicate descriptor,
// after a run and without one.
func TestGoPollerClose(t *testing.T) {
	before := len(testutil.OpenFds())
	for _, run := range []bool{false, true} {
		be, err := poller.NewEpoll()
		if err != nil {
			t.Fatal(err)
		}
		l, err := NewLoop(&Config{Backend: be, GoPoller: true})
		if err != nil {
			t.Fatal(err)
		}
		if run {
			NewTimer(func(*Timer) {}, time.Millisecond, 0).Start(l)
			if err := l.Run(); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Close(); err != nil {
			t.Errorf("Close (run %v): %v", run, err)
		}
		if l.gp.file != nil {
			t.Errorf("Close (run %v) left the runtime-poller file", run)
		}
		if err := l.Close(); !errors.Is(err, ErrClosed) {
			t.Errorf("second Close = %v, want ErrClosed", err)
		}
	}
	if after := len(testutil.OpenFds()); after != before {
		t.Errorf("%d descriptors open before, %d after: Close leaks", before, after)
	}
}

func TestGoPollerNotPollable(t *testing.T) {
	before := len(testutil.OpenFds())
	be, err := poller.NewPoll()
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoop(&Config{Backend: be, GoPoller: true})
	if !errors.Is(err, ErrNotPollable) || l != nil {
		t.Errorf("NewLoop(poll backend, GoPoller) = %v, %v; want nil, ErrNotPollable", l, err)
	}
	if after := len(testutil.OpenFds()); after != before {
		t.Errorf("%d descriptors open before, %d after: the refused backend leaked", before, after)
	}
}
