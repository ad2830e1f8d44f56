package eddy

import (
	"errors"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
	"golang.org/x/sys/unix"
)

func onceLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := NewLoop(&Config{Debug: true})
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

// onceRun runs l until Once's callback ran (nothing else keeps it alive)
// and returns the events it got and how many times it ran.
func onceRun(t *testing.T, l *Loop, fd int, events Events, timeout time.Duration) (Events, int) {
	t.Helper()
	var got Events
	calls := 0
	if err := l.Once(fd, events, timeout, func(ev Events) { got = ev; calls++ }); err != nil {
		t.Fatalf("Once(%d, %v, %v) = %v", fd, events, timeout, err)
	}
	if !l.Alive() {
		t.Fatalf("Once does not keep the loop alive")
	}
	if err := l.Run(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return got, calls
}

func TestOnceReadyBeforeTimeout(t *testing.T) {
	l := onceLoop(t)
	r, w := testutil.Pipe(t)
	unix.Write(w, []byte{1})
	start := time.Now()
	got, calls := onceRun(t, l, r, Read, time.Hour)
	if got != Read || calls != 1 {
		t.Errorf("Once on a readable fd: cb(%v) ran %d times, want cb(Read) once", got, calls)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Once took %v: it waited for the timeout", d)
	}
	if len(l.timers) != 0 || l.fdst(r).first != nil {
		t.Errorf("Once left %d timers and fd watchers %v behind", len(l.timers), l.fdst(r).first)
	}
	l.verify()
}

func TestOnceTimeoutBeforeReady(t *testing.T) {
	l := onceLoop(t)
	r, _ := testutil.Pipe(t)
	const d = 20 * time.Millisecond
	start := time.Now()
	l.UpdateNow() // timers count from the cached time: make it the present
	got, calls := onceRun(t, l, r, Read, d)
	if got != 0 || calls != 1 {
		t.Errorf("Once timing out: cb(%v) ran %d times, want cb(0) once", got, calls)
	}
	if el := time.Since(start); el < d {
		t.Errorf("Once timed out after %v, before %v", el, d)
	}
	if l.fdst(r).first != nil || l.fdst(r).reg != 0 && !l.fdst(r).changed {
		t.Errorf("Once left the fd watched")
	}
}

func TestOnceTimerOnly(t *testing.T) {
	l := onceLoop(t)
	got, calls := onceRun(t, l, -1, Read, 0)
	if got != 0 || calls != 1 {
		t.Errorf("Once(-1, 0): cb(%v) ran %d times, want cb(0) once", got, calls)
	}
}

func TestOnceFdOnly(t *testing.T) {
	l := onceLoop(t)
	r, w := testutil.Pipe(t)
	whenAsleep(t, l, func() { unix.Write(w, []byte{1}) }) // Once's wait has no end but the fd
	got, calls := onceRun(t, l, r, Read, -1)
	if got != Read || calls != 1 || len(l.timers) != 0 {
		t.Errorf("Once without timeout: cb(%v) ran %d times, %d timers; want cb(Read) once, no timer", got, calls, len(l.timers))
	}
}

func TestOnceWritable(t *testing.T) {
	l := onceLoop(t)
	_, w := testutil.Pipe(t)
	got, calls := onceRun(t, l, w, Write, time.Hour)
	if got != Write || calls != 1 {
		t.Errorf("Once(Write) on an empty pipe: cb(%v) ran %d times, want cb(Write) once", got, calls)
	}
}

// TestOnceBothInOneIteration makes the fd ready and the timeout expire in
// the same iteration: the callback still runs once.
func TestOnceBothInOneIteration(t *testing.T) {
	l := onceLoop(t)
	r, w := testutil.Pipe(t)
	unix.Write(w, []byte{1})
	got, calls := onceRun(t, l, r, Read, 0)
	if calls != 1 {
		t.Errorf("callback ran %d times (last with %v), want once", calls, got)
	}
}

func TestOnceErrors(t *testing.T) {
	l := onceLoop(t)
	called := false
	cb := func(Events) { called = true }
	if err := l.Once(-1, Read, -1, cb); !errors.Is(err, ErrBadFd) {
		t.Errorf("Once(-1, -1) = %v, want ErrBadFd", err)
	}
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatal(err)
	}
	r := p[0]
	unix.Close(p[0])
	unix.Close(p[1])
	var got Events
	err := l.Once(r, Read, time.Hour, func(ev Events) { got = ev })
	if l.Backend() == "poll" {
		// poll(2) has no registration to refuse: the fd reports Error.
		if err != nil {
			t.Fatalf("Once on a closed fd with poll(2) = %v, want nil", err)
		}
		l.Run()
		if got&Error == 0 {
			t.Errorf("Once on a closed fd with poll(2) called back with %v, want Error", got)
		}
	} else if err == nil {
		t.Errorf("Once on a closed fd = nil, want an error")
	}
	if len(l.timers) != 0 || l.Alive() {
		t.Errorf("a failed Once left a timer (%d) or the loop alive", len(l.timers))
	}
	l.Close()
	if err := l.Once(-1, 0, 0, cb); !errors.Is(err, ErrClosed) {
		t.Errorf("Once on a closed loop = %v, want ErrClosed", err)
	}
	if called {
		t.Errorf("a failed Once called back")
	}
}

// TestOnceDroppedByClose checks that Close forgets a Once that has not fired.
func TestOnceDroppedByClose(t *testing.T) {
	l := onceLoop(t)
	called := false
	if err := l.Once(-1, 0, time.Hour, func(Events) { called = true }); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Errorf("Close called the Once callback")
	}
}

// TestOnceAllocs pins down what Once costs: its record and the method
// values binding it to its watchers.
func TestOnceAllocs(t *testing.T) {
	l, err := NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, w := testutil.Pipe(t)
	unix.Write(w, []byte{1})
	cb := func(Events) {}
	for _, tc := range []struct {
		name    string
		fd      int
		timeout time.Duration
		max     float64
	}{
		{"timer", -1, 0, 2},
		{"fd", r, -1, 2},
		{"both", r, time.Hour, 3},
	} {
		allocs := testing.AllocsPerRun(100, func() {
			l.Once(tc.fd, Read, tc.timeout, cb)
			l.RunNoWait()
		})
		if allocs > tc.max {
			t.Errorf("Once (%s) + RunNoWait: %v allocations, want at most %v", tc.name, allocs, tc.max)
		}
	}
}
