package eddy

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/internal/testutil"
)

// Debug mode is only as good as what verify catches. Each case below builds
// a healthy loop on the fake backend and clock, breaks one invariant behind
// the loop's back, and checks that verify reports that invariant, that a
// debug-mode iteration does too where the iteration leaves the damage in
// place, and that the loop verifies again once the damage is undone.

// debugLoop returns a loop in debug mode on eddytest's fake backend and
// clock, closed when the test ends.
func debugLoop(t *testing.T) (*Loop, *eddytest.Backend) {
	t.Helper()
	be := eddytest.NewBackend(nil)
	l, err := NewLoop(&Config{Backend: be, Clock: be.Clock(), Debug: true})
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, be
}

// panicMessage runs f and returns what it panicked with, as a string, or
// "" if it returned.
func panicMessage(f func()) (msg string) {
	defer func() {
		if v := recover(); v != nil {
			msg = fmt.Sprint(v)
			if msg == "" {
				msg = "(empty panic)"
			}
		}
	}()
	f()
	return ""
}

// startTimers starts timers due in one and two hours, so that the heap has
// a parent and a child, and returns them in heap order.
func startTimers(t *testing.T, l *Loop) (parent, child *Timer) {
	t.Helper()
	parent = NewTimer(func(*Timer) {}, time.Hour, 0)
	child = NewTimer(func(*Timer) {}, 2*time.Hour, 0)
	parent.Start(l)
	child.Start(l)
	if len(l.timers) != 2 || l.timers[0].n != &parent.node {
		t.Fatalf("the heap does not hold the two timers in deadline order")
	}
	return parent, child
}

// startIO starts a Read watcher on the fake descriptor 5.
func startIO(t *testing.T, l *Loop) *IO {
	t.Helper()
	w := NewIO(func(*IO, Events) {}, 5, Read)
	if err := w.Start(l); err != nil {
		t.Fatalf("Start: %v", err)
	}
	return w
}

var debugBreakages = []struct {
	name string
	// breakIt breaks one invariant of l and returns what undoes it.
	breakIt func(t *testing.T, l *Loop) (undo func())
	// want is a part of verify's message.
	want string
	// iterates: a debug-mode iteration leaves the damage in place, so it
	// must report it too.
	iterates bool
}{
	{
		name: "timer heap out of order",
		breakIt: func(t *testing.T, l *Loop) func() {
			startTimers(t, l)
			h := l.timers
			h[0].at, h[1].at = h[1].at, h[0].at
			return func() { h[0].at, h[1].at = h[1].at, h[0].at }
		},
		want:     "timer heap entry 1 is before its parent",
		iterates: true,
	},
	{
		name: "timer heap entry with a wrong index",
		breakIt: func(t *testing.T, l *Loop) func() {
			_, child := startTimers(t, l)
			child.node.index = 0
			return func() { child.node.index = 1 }
		},
		want:     "timer heap entry 1 has index 0",
		iterates: true,
	},
	{
		name: "stopped timer left in the heap",
		breakIt: func(t *testing.T, l *Loop) func() {
			_, child := startTimers(t, l)
			child.active = false
			return func() { child.active = true }
		},
		want:     "timer heap entry 1 is not an active watcher of this loop",
		iterates: true,
	},
	{
		name: "timer heap entry of another loop",
		breakIt: func(t *testing.T, l *Loop) func() {
			parent, _ := startTimers(t, l)
			parent.loop = new(Loop)
			return func() { parent.loop = l }
		},
		want: "timer heap entry 0 is not an active watcher of this loop",
	},
	{
		name: "periodics miscounted",
		breakIt: func(t *testing.T, l *Loop) func() {
			l.nperiod++
			return func() { l.nperiod-- }
		},
		want: "0 periodics in the heap, 1 counted",
	},
	{
		name: "fd entry whose watcher is gone",
		breakIt: func(t *testing.T, l *Loop) func() {
			w := startIO(t, l)
			st := l.fdst(5)
			st.first = nil // unlinked without Stop: nothing will remove the registration
			return func() { st.first = w }
		},
		want:     "fd 5 is registered with no watcher and no change queued",
		iterates: true,
	},
	{
		name: "fd entry listing a stopped watcher",
		breakIt: func(t *testing.T, l *Loop) func() {
			w := startIO(t, l)
			w.active = false
			return func() { w.active = true }
		},
		want:     "fd 5 lists a watcher that is inactive",
		iterates: true,
	},
	{
		name: "fd entry listing another fd's watcher",
		breakIt: func(t *testing.T, l *Loop) func() {
			w := startIO(t, l)
			w.fd = 6
			return func() { w.fd = 5 }
		},
		want:     "of fd 6",
		iterates: true,
	},
	{
		name: "fd entry with a stale generation",
		breakIt: func(t *testing.T, l *Loop) func() {
			startIO(t, l)
			st := l.fdst(5)
			st.gen++ // the backend's events now carry a generation the loop drops
			return func() { st.gen-- }
		},
		want:     "fd 5 is registered with generation 2 and interest 0x1, but the backend holds generation 1 and interest 0x1",
		iterates: true,
	},
	{
		name: "fd entry with interest the backend does not hold",
		breakIt: func(t *testing.T, l *Loop) func() {
			startIO(t, l)
			st := l.fdst(5)
			st.reg |= Write
			return func() { st.reg &^= Write }
		},
		want:     "interest 0x3, but the backend holds generation 1 and interest 0x1",
		iterates: true,
	},
	{
		name: "fd marked changed but not queued",
		breakIt: func(t *testing.T, l *Loop) func() {
			startIO(t, l)
			st := l.fdst(5)
			st.changed = true
			return func() { st.changed = false }
		},
		want: "1 fds marked changed, 0 in the change queue",
	},
	{
		name: "fd queued but not marked changed",
		breakIt: func(t *testing.T, l *Loop) func() {
			startIO(t, l)
			l.changes = append(l.changes, 5)
			return func() { l.changes = l.changes[:0] }
		},
		want: "fd 5 is in the change queue but not marked changed",
	},
	{
		name: "pending entry that its watcher does not point back to",
		breakIt: func(t *testing.T, l *Loop) func() {
			w := new(Idle)
			w.Init(func(*Idle) {})
			l.Feed(w, 0)
			w.pending = 7
			return func() { w.pending = 1 }
		},
		want: "pending entry 0 at priority 0 does not match its watcher (7)",
	},
	{
		name: "pending entries miscounted",
		breakIt: func(t *testing.T, l *Loop) func() {
			l.npending++
			return func() { l.npending-- }
		},
		want: "0 pending entries, 1 counted",
	},
	{
		name: "idle watcher in the wrong slot",
		breakIt: func(t *testing.T, l *Loop) func() {
			w := new(Idle)
			w.Init(func(*Idle) {})
			w.Start(l)
			w.idx = 3
			return func() { w.idx = 0 }
		},
		want: "idle watcher 0 is misplaced or inactive",
	},
	{
		name: "stopped check watcher left in its list",
		breakIt: func(t *testing.T, l *Loop) func() {
			w := new(Check)
			w.Init(func(*Check) {})
			w.Start(l)
			w.active = false
			return func() { w.active = true }
		},
		want:     "check watcher 0 is misplaced or inactive",
		iterates: true,
	},
	{
		name: "negative reference count",
		breakIt: func(t *testing.T, l *Loop) func() {
			l.refs = -1
			return func() { l.refs = 0 }
		},
		want:     "reference count -1",
		iterates: true,
	},
}

// TestDebugVerifyCatches breaks each invariant verify checks and sees it
// reported: by verify itself and, in debug mode, by the iteration after
// which it runs.
func TestDebugVerifyCatches(t *testing.T) {
	for _, c := range debugBreakages {
		t.Run(c.name, func(t *testing.T) {
			l, _ := debugLoop(t)
			l.verify()
			undo := c.breakIt(t, l)
			msg := panicMessage(l.verify)
			if !strings.Contains(msg, "loop invariant broken") || !strings.Contains(msg, c.want) {
				t.Errorf("verify() panicked with %q, want a broken invariant saying %q", msg, c.want)
			}
			if c.iterates {
				msg = panicMessage(func() { l.RunNoWait() })
				if !strings.Contains(msg, c.want) {
					t.Errorf("a debug-mode RunNoWait panicked with %q, want %q", msg, c.want)
				}
			}
			undo()
			if msg := panicMessage(l.verify); msg != "" {
				t.Fatalf("verify() after undoing the damage: %s", msg)
			}
		})
	}
}

// TestDebugOffSkipsVerify: without debug mode an iteration does not verify
// (the check costs a walk of the fd table).
func TestDebugOffSkipsVerify(t *testing.T) {
	if os.Getenv("EDDY_DEBUG") == "1" {
		t.Skip("EDDY_DEBUG=1 turns debug mode on for every loop")
	}
	be := eddytest.NewBackend(nil)
	l, err := NewLoop(&Config{Backend: be, Clock: be.Clock()})
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	defer l.Close()
	l.refs = -1
	if msg := panicMessage(func() { l.RunNoWait() }); msg != "" {
		t.Errorf("RunNoWait without debug mode panicked: %s", msg)
	}
	l.refs = 0
}

// TestDebugVerifyPollBackend checks the poll backend's side of the
// generation check: it reports its registrations, so that verify sees a
// stale generation there too.
func TestDebugVerifyPollBackend(t *testing.T) {
	l, err := NewLoop(&Config{BackendName: "poll", Debug: true})
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	defer l.Close()
	r, _ := testutil.Pipe(t)
	w := NewIO(func(*IO, Events) {}, r, Read)
	if err := w.Start(l); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer w.Stop()
	l.verify()
	st := l.fdst(r)
	st.gen++
	if msg := panicMessage(l.verify); !strings.Contains(msg, "but the backend holds generation") {
		t.Errorf("verify() with a stale generation on the poll backend panicked with %q", msg)
	}
	st.gen--
}
