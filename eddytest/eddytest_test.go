package eddytest_test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/internal/poller"
	"github.com/eddyloop/eddy/internal/testutil"
)

func TestMain(m *testing.M) { os.Exit(testutil.Main(m)) }

// The loop's debug mode finds Registered, Gen and Interest by this
// interface; a change of their signatures would silently turn the check off.
var _ poller.Registry = (*eddytest.Backend)(nil)

var epoch = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)

func TestClock(t *testing.T) {
	c := eddytest.NewClock(time.Now()) // the monotonic reading is dropped
	start := c.Wall()
	if got := c.Monotonic(); got != 0 {
		t.Errorf("Monotonic() = %v, want 0", got)
	}
	c.Advance(3 * time.Second)
	if got := c.Monotonic(); got != 3*time.Second {
		t.Errorf("after Advance(3s): Monotonic() = %v, want 3s", got)
	}
	if got := c.Wall().Sub(start); got != 3*time.Second {
		t.Errorf("after Advance(3s): Wall() moved %v, want 3s", got)
	}
	c.JumpWall(-time.Hour)
	if got := c.Monotonic(); got != 3*time.Second {
		t.Errorf("after JumpWall(-1h): Monotonic() = %v, want 3s", got)
	}
	if got := c.Wall().Sub(start); got != 3*time.Second-time.Hour {
		t.Errorf("after JumpWall(-1h): Wall() moved %v, want %v", got, 3*time.Second-time.Hour)
	}
	defer func() {
		if recover() == nil {
			t.Errorf("Advance(-1) did not panic")
		}
	}()
	c.Advance(-1)
}

// wait calls be.Wait with room for 8 events and fails the test on error.
func wait(t *testing.T, be *eddytest.Backend, timeout time.Duration) []poller.Event {
	t.Helper()
	out := make([]poller.Event, 8)
	n, err := be.Wait(out, timeout)
	if err != nil {
		t.Fatalf("Wait(%v) = %v", timeout, err)
	}
	return out[:n]
}

func expect(t *testing.T, what string, got []poller.Event, want ...poller.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: Wait = %v, want %v", what, got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: Wait = %v, want %v", what, got, want)
		}
	}
}

func TestBackendLevel(t *testing.T) {
	be := eddytest.NewBackend(eddytest.NewClock(epoch))
	if err := be.Modify(4, 7, 0, poller.Read); err != nil {
		t.Fatal(err)
	}
	be.Ready(4, poller.Read|poller.Write)
	be.Ready(5, poller.Read) // not registered
	for i := range 2 {
		expect(t, "level, wait "+string(rune('1'+i)), wait(t, be, -1), poller.Event{Fd: 4, Gen: 7, Ready: poller.Read})
	}
	be.Clear(4, poller.Read)
	expect(t, "after Clear", wait(t, be, 0))
	be.Ready(4, poller.Hangup)
	expect(t, "hangup without interest in it", wait(t, be, 0), poller.Event{Fd: 4, Gen: 7, Ready: poller.Hangup})
	if err := be.Modify(4, 8, poller.Read, poller.Write); err != nil {
		t.Fatal(err)
	}
	expect(t, "modified", wait(t, be, 0), poller.Event{Fd: 4, Gen: 8, Ready: poller.Write | poller.Hangup})
	if err := be.Modify(4, 8, poller.Write, 0); err != nil {
		t.Fatal(err)
	}
	if be.Registered(4) {
		t.Errorf("Registered(4) after removal = true")
	}
	expect(t, "removed", wait(t, be, 0))
	if got := be.Modifies(); got != 3 {
		t.Errorf("Modifies() = %d, want 3", got)
	}
}

func TestBackendEdgeAndOneShot(t *testing.T) {
	be := eddytest.NewBackend(nil)
	be.Ready(3, poller.Read) // ready before the registration
	be.Modify(3, 1, 0, poller.Read|poller.Edge)
	be.Modify(4, 2, 0, poller.Read|poller.OneShot)
	be.Ready(4, poller.Read)
	expect(t, "first", wait(t, be, 0),
		poller.Event{Fd: 3, Gen: 1, Ready: poller.Read}, poller.Event{Fd: 4, Gen: 2, Ready: poller.Read})
	expect(t, "second", wait(t, be, 0))
	if got := be.Interest(4); got != 0 {
		t.Errorf("Interest of a OneShot that reported = %v, want 0", got)
	}
	if !be.Registered(4) {
		t.Errorf("Registered of a OneShot that reported = false, want true")
	}
	be.Ready(3, poller.Read)
	be.Modify(4, 2, 0, poller.Read|poller.OneShot) // rearm
	expect(t, "edge again, oneshot rearmed", wait(t, be, 0),
		poller.Event{Fd: 3, Gen: 1, Ready: poller.Read}, poller.Event{Fd: 4, Gen: 2, Ready: poller.Read})
	be.Ready(3, poller.Read)
	be.Clear(3, poller.Read)
	expect(t, "edge cleared before the wait", wait(t, be, 0))
}

func TestBackendWaitTimeouts(t *testing.T) {
	c := eddytest.NewClock(epoch)
	be := eddytest.NewBackend(c)
	expect(t, "poll", wait(t, be, 0))
	if got := c.Monotonic(); got != 0 {
		t.Errorf("after Wait(0): Monotonic() = %v, want 0", got)
	}
	expect(t, "timeout", wait(t, be, 1500*time.Millisecond))
	if got := c.Monotonic(); got != 1500*time.Millisecond {
		t.Errorf("after Wait(1.5s): Monotonic() = %v, want 1.5s", got)
	}
	if got := be.LastTimeout(); got != 1500*time.Millisecond {
		t.Errorf("LastTimeout() = %v, want 1.5s", got)
	}
	be.Wake()
	be.Wake()
	expect(t, "woken", wait(t, be, time.Second))
	if got := c.Monotonic(); got != 1500*time.Millisecond {
		t.Errorf("a woken Wait advanced the clock to %v", got)
	}
	be.Spurious()
	expect(t, "spurious", wait(t, be, time.Second))
	if got := c.Monotonic(); got != 1500*time.Millisecond {
		t.Errorf("a spurious Wait advanced the clock to %v", got)
	}
	errBoom := errors.New("boom")
	be.FailWait(errBoom)
	if _, err := be.Wait(make([]poller.Event, 1), -1); err != errBoom {
		t.Errorf("Wait after FailWait = %v, want %v", err, errBoom)
	}
	if got, want := be.Waits(), 5; got != want {
		t.Errorf("Waits() = %d, want %d", got, want)
	}
}

func TestBackendBlockingWait(t *testing.T) {
	for _, tc := range []struct {
		name string
		poke func(be *eddytest.Backend)
		want int
	}{
		{"Wake", func(be *eddytest.Backend) { be.Wake() }, 0},
		{"Ready", func(be *eddytest.Backend) { be.Ready(9, poller.Read) }, 1},
		{"Inject", func(be *eddytest.Backend) { be.Inject(poller.Event{Fd: 1, Ready: poller.Read}) }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := eddytest.NewBackend(nil)
			be.Modify(9, 1, 0, poller.Read)
			done := make(chan int)
			go func() {
				n, _ := be.Wait(make([]poller.Event, 4), -1)
				done <- n
			}()
			if !testutil.Eventually(10*time.Second, be.Blocked) {
				t.Fatal("Wait(-1) did not block")
			}
			tc.poke(be)
			select {
			case n := <-done:
				if n != tc.want {
					t.Errorf("Wait(-1) after %s = %d events, want %d", tc.name, n, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("Wait(-1) not released by %s", tc.name)
			}
		})
	}
}

func TestBackendFaultsAndLimits(t *testing.T) {
	be := eddytest.NewBackend(nil)
	if err := be.Modify(-1, 1, 0, poller.Read); err != syscall.EBADF {
		t.Errorf("Modify(-1) = %v, want EBADF", err)
	}
	errBoom := errors.New("boom")
	be.FailModify(5, errBoom)
	if err := be.Modify(5, 1, 0, poller.Read); err != errBoom {
		t.Errorf("Modify after FailModify = %v, want %v", err, errBoom)
	}
	if err := be.Modify(5, 1, 0, poller.Read); err != nil {
		t.Errorf("second Modify after FailModify = %v, want nil", err)
	}
	be.CloseFd(5)
	if be.Registered(5) {
		t.Errorf("Registered(5) after CloseFd = true")
	}
	if err := be.Modify(5, 2, poller.Read, poller.Write); err != syscall.EBADF {
		t.Errorf("Modify of a closed fd = %v, want EBADF", err)
	}
	if err := be.Modify(5, 2, poller.Read, 0); err != nil {
		t.Errorf("removal of a closed fd = %v, want nil", err)
	}
	be.OpenFd(5)
	if err := be.Modify(5, 3, poller.Read, poller.Read); err != nil {
		t.Errorf("Modify of a reopened fd = %v, want nil", err)
	}
	if got := be.Gen(5); got != 3 {
		t.Errorf("Gen(5) = %d, want 3", got)
	}

	for fd := 10; fd < 15; fd++ {
		be.Modify(fd, 1, 0, poller.Read)
		be.Ready(fd, poller.Read)
	}
	be.Inject(poller.Event{Fd: 99, Gen: 42, Ready: poller.Write})
	out := make([]poller.Event, 3)
	n, _ := be.Wait(out, 0)
	expect(t, "limited to len(out)", out[:n],
		poller.Event{Fd: 99, Gen: 42, Ready: poller.Write},
		poller.Event{Fd: 10, Gen: 1, Ready: poller.Read},
		poller.Event{Fd: 11, Gen: 1, Ready: poller.Read})

	if err := be.Close(); err != nil {
		t.Fatal(err)
	}
	if !be.Closed() {
		t.Errorf("Closed() after Close = false")
	}
	if err := be.Close(); err != poller.ErrClosed {
		t.Errorf("second Close = %v, want %v", err, poller.ErrClosed)
	}
	if _, err := be.Wait(out, 0); err != poller.ErrClosed {
		t.Errorf("Wait after Close = %v, want %v", err, poller.ErrClosed)
	}
	if got := be.Name(); got != "fake" {
		t.Errorf("Name() = %q, want fake", got)
	}
}
