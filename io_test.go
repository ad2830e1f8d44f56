package eddy_test

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
	"golang.org/x/sys/unix"
)

// ioRec records the callbacks of an IO watcher.
type ioRec struct {
	n    int
	evs  []eddy.Events
	last eddy.Events
}

func (r *ioRec) cb(_ *eddy.IO, ev eddy.Events) {
	r.n++
	r.evs = append(r.evs, ev)
	r.last = ev
}

func (r *ioRec) reset() { *r = ioRec{} }

// expectCalls fails the test unless r saw n callbacks, the last with all of
// the bits in want (the kernel may add others, such as Hangup with Read).
func (r *ioRec) expectCalls(t testing.TB, what string, n int, want eddy.Events) {
	t.Helper()
	if r.n != n || n > 0 && r.last&want != want {
		t.Errorf("%s: %d callbacks, last with %#x; want %d, with %#x", what, r.n, r.last, n, want)
	}
}

func writeByte(t testing.TB, fd int) {
	t.Helper()
	if _, err := unix.Write(fd, []byte{'x'}); err != nil {
		t.Fatalf("write(%d): %v", fd, err)
	}
}

func drain(t testing.TB, fd int) {
	t.Helper()
	var buf [512]byte
	for {
		n, err := unix.Read(fd, buf[:])
		if err == unix.EAGAIN || n == 0 {
			return
		}
		if err != nil {
			t.Fatalf("read(%d): %v", fd, err)
		}
	}
}

// closedFd returns a descriptor number that is not open.
func closedFd(t testing.TB) int {
	t.Helper()
	for fd := 900; fd < 1000; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == unix.EBADF {
			return fd
		}
	}
	t.Fatal("no closed descriptor number in 900..999")
	return -1
}

func TestIOReadWritePipe(t *testing.T) {
	l := newReal(t)
	r, w := testutil.Pipe(t)
	var rd, wr ioRec
	rw := eddy.NewIO(rd.cb, r, eddy.Read)
	ww := eddy.NewIO(wr.cb, w, eddy.Write)
	must(t, rw.Start(l))
	must(t, ww.Start(l))

	must(t, l.RunOnce()) // the write end is writable at once
	wr.expectCalls(t, "empty pipe, write end", 1, eddy.Write)
	rd.expectCalls(t, "empty pipe, read end", 0, 0)
	ww.Stop()

	writeByte(t, w)
	must(t, l.RunOnce())
	rd.expectCalls(t, "one byte written", 1, eddy.Read)
	must(t, l.RunNoWait()) // level-triggered: still readable, reported again
	rd.expectCalls(t, "not read yet", 2, eddy.Read)
	drain(t, r)
	must(t, l.RunNoWait())
	rd.expectCalls(t, "drained", 2, eddy.Read)
	wr.expectCalls(t, "write watcher after Stop", 1, eddy.Write)
	rw.Stop()
	l.Verify()
}

func TestIOEdge(t *testing.T) {
	l := newReal(t)
	r, w := testutil.Pipe(t)
	var rd ioRec
	rw := eddy.NewIO(rd.cb, r, eddy.Read|eddy.Edge)
	must(t, rw.Start(l))
	writeByte(t, w)
	must(t, l.RunOnce())
	rd.expectCalls(t, "edge, first byte", 1, eddy.Read)
	must(t, l.RunNoWait())
	if l.Backend() != "poll" { // poll(2) reports edges level-triggered
		rd.expectCalls(t, "edge, nothing new", 1, eddy.Read)
	}
	rd.reset()
	writeByte(t, w)
	must(t, l.RunOnce())
	rd.expectCalls(t, "edge, second byte", 1, eddy.Read)
	if !rw.IsActive() {
		t.Errorf("an Edge watcher was stopped")
	}
	rw.Stop()
}

func TestIOOneShot(t *testing.T) {
	for _, tc := range []struct {
		name string
		real bool
	}{{"real", true}, {"fake", false}} {
		t.Run(tc.name, func(t *testing.T) {
			var l *eddy.Loop
			var ready func()
			fd := 5
			if tc.real {
				l = newReal(t)
				var w int
				fd, w = testutil.Pipe(t)
				ready = func() { writeByte(t, w) }
			} else {
				fl, be, _ := newFake(t)
				l = fl
				ready = func() { be.Ready(fd, eddy.Read) }
			}
			activeInCb := true
			var rd ioRec
			io := eddy.NewIO(func(w *eddy.IO, ev eddy.Events) {
				activeInCb = w.IsActive()
				rd.cb(w, ev)
			}, fd, eddy.Read|eddy.OneShot)
			must(t, io.Start(l))
			ready()
			must(t, l.RunOnce())
			rd.expectCalls(t, "oneshot", 1, eddy.Read)
			if activeInCb || io.IsActive() {
				t.Errorf("oneshot: IsActive() in the callback = %v, after = %v; want false, false", activeInCb, io.IsActive())
			}
			if l.Refs() != 0 {
				t.Errorf("a fired OneShot watcher still counts in Refs (%d)", l.Refs())
			}
			must(t, l.RunNoWait()) // still readable, but disarmed
			rd.expectCalls(t, "oneshot, disarmed", 1, eddy.Read)
			must(t, io.Start(l)) // re-arms
			must(t, l.RunNoWait())
			rd.expectCalls(t, "oneshot, restarted", 2, eddy.Read)
			l.Verify()
		})
	}
}

func TestIOHangupAndError(t *testing.T) {
	t.Run("read end sees the writer close", func(t *testing.T) {
		l := newReal(t)
		r, w := testutil.Pipe(t)
		var rd ioRec
		rw := eddy.NewIO(rd.cb, r, eddy.Read)
		must(t, rw.Start(l))
		unix.Close(w)
		must(t, l.RunOnce())
		rd.expectCalls(t, "writer closed", 1, eddy.Hangup)
		rw.Stop()
	})
	t.Run("write end sees the reader close", func(t *testing.T) {
		l := newReal(t)
		r, w := testutil.Pipe(t)
		var wr ioRec
		ww := eddy.NewIO(wr.cb, w, eddy.Write)
		must(t, ww.Start(l))
		unix.Close(r)
		must(t, l.RunOnce())
		wr.expectCalls(t, "reader closed", 1, eddy.Error)
		ww.Stop()
	})
	t.Run("socket peer closes", func(t *testing.T) {
		l := newReal(t)
		a, b := testutil.Socketpair(t)
		var rd ioRec
		rw := eddy.NewIO(rd.cb, a, eddy.Read)
		must(t, rw.Start(l))
		unix.Close(b)
		must(t, l.RunOnce())
		rd.expectCalls(t, "peer closed", 1, eddy.Hangup)
		rw.Stop()
	})
}

func TestIOStartErrors(t *testing.T) {
	l := newReal(t)
	for _, fd := range []int{-1, -100} {
		w := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, fd, eddy.Read)
		if err := w.Start(l); !errors.Is(err, eddy.ErrBadFd) || w.IsActive() {
			t.Errorf("Start on fd %d = %v, IsActive() = %v; want ErrBadFd, false", fd, err, w.IsActive())
		}
	}

	fd := closedFd(t)
	var rec ioRec
	w := eddy.NewIO(rec.cb, fd, eddy.Read)
	err := w.Start(l)
	if l.Backend() == "poll" {
		// poll(2) has no registration step to fail: the fd is reported as
		// Error (POLLNVAL) instead.
		must(t, err)
		must(t, l.RunOnce())
		rec.expectCalls(t, "closed fd under poll", 1, eddy.Error)
		w.Stop()
	} else {
		if !errors.Is(err, syscall.EBADF) || w.IsActive() || l.Refs() != 0 {
			t.Errorf("Start on closed fd %d = %v, IsActive() = %v, Refs() = %d; want EBADF, false, 0", fd, err, w.IsActive(), l.Refs())
		}
	}
	l.Verify()

	r, _ := testutil.Pipe(t)
	lvl := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, r, eddy.Read)
	must(t, lvl.Start(l))
	for _, ev := range []eddy.Events{eddy.Write | eddy.Edge, eddy.Read | eddy.OneShot} {
		other := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, r, ev)
		if err := other.Start(l); !errors.Is(err, eddy.ErrTriggerMismatch) || other.IsActive() {
			t.Errorf("Start(%#x) beside a level watcher = %v, IsActive() = %v; want ErrTriggerMismatch, false", ev, err, other.IsActive())
		}
	}
	lvl.Stop()

	l2, _, _ := newFake(t)
	l2.Close()
	if err := lvl.Start(l2); !errors.Is(err, eddy.ErrClosed) {
		t.Errorf("Start on a closed loop = %v, want ErrClosed", err)
	}
}

// Regression check for the generation tag: an fd whose watcher is stopped,
// whose number is reused and watched again, never gets an event of the old
// registration.
func TestIOGenerationDropsStaleEvents(t *testing.T) {
	l, be, _ := newFake(t)
	var old, cur ioRec
	a := eddy.NewIO(old.cb, 5, eddy.Read)
	must(t, a.Start(l))
	g1 := be.Gen(5)

	// The descriptor is closed and its number reused, while registered.
	be.CloseFd(5)
	be.OpenFd(5)
	a.Stop()
	b := eddy.NewIO(cur.cb, 5, eddy.Read)
	must(t, b.Start(l))
	g2 := be.Gen(5)
	if g1 == g2 {
		t.Fatalf("a new registration of fd 5 kept generation %d", g1)
	}
	be.Inject(eddy.BackendEvent{Fd: 5, Gen: g1, Ready: eddy.Read})
	must(t, l.RunNoWait())
	old.expectCalls(t, "stale event, old watcher", 0, 0)
	cur.expectCalls(t, "stale event, new watcher", 0, 0)

	be.Inject(eddy.BackendEvent{Fd: 5, Gen: g2, Ready: eddy.Read})
	must(t, l.RunNoWait())
	cur.expectCalls(t, "current event", 1, eddy.Read)

	// Events for an fd with no watcher, or out of the table, are dropped.
	b.Stop()
	be.Inject(eddy.BackendEvent{Fd: 5, Gen: g2, Ready: eddy.Read}, eddy.BackendEvent{Fd: 1 << 20, Ready: eddy.Read})
	must(t, l.RunNoWait())
	cur.expectCalls(t, "event after Stop", 1, eddy.Read)
	l.Verify()
}

// A callback that stops another watcher of the same batch and closes its
// descriptor: the other watcher's callback never runs.
func TestIOCloseOtherInSameBatch(t *testing.T) {
	l := newReal(t)
	r1, w1 := testutil.Pipe(t)
	r2, w2 := testutil.Pipe(t)
	var ran []int
	var ws [2]*eddy.IO
	for i, fd := range []int{r1, r2} {
		ws[i] = eddy.NewIO(func(w *eddy.IO, _ eddy.Events) {
			ran = append(ran, i)
			if other := ws[1-i]; other.IsActive() {
				other.Stop()
				unix.Close(other.Fd())
			}
			drain(t, w.Fd())
		}, fd, eddy.Read)
		must(t, ws[i].Start(l))
	}
	writeByte(t, w1)
	writeByte(t, w2)
	must(t, l.RunOnce())
	if len(ran) != 1 {
		t.Fatalf("callbacks ran for watchers %v; want exactly one", ran)
	}
	// The survivor keeps working; the closed fd's reused number is not confused.
	r3, w3 := testutil.Pipe(t) // likely takes the closed number
	var third ioRec
	w := eddy.NewIO(third.cb, r3, eddy.Read)
	must(t, w.Start(l))
	writeByte(t, []int{w1, w2}[ran[0]])
	must(t, l.RunOnce())
	if len(ran) != 2 || ran[1] != ran[0] {
		t.Errorf("after the close: callbacks ran for %v, want the survivor twice", ran)
	}
	third.expectCalls(t, "new pipe before any write", 0, 0)
	writeByte(t, w3)
	must(t, l.RunOnce())
	third.expectCalls(t, "new pipe after a write", 1, eddy.Read)
	ws[ran[0]].Stop()
	w.Stop()
	l.Verify()
}

// When the backend refuses a batched change, every watcher of the fd is
// stopped and called once with Error, and Err says why.
func TestIOReifyFailure(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		l, be, _ := newFake(t)
		var a, b ioRec
		wa := eddy.NewIO(a.cb, 6, eddy.Read)
		wb := eddy.NewIO(b.cb, 6, eddy.Write)
		must(t, wa.Start(l))
		must(t, wb.Start(l)) // batched: Read|Write at the next iteration
		errBoom := errors.New("boom")
		be.FailModify(6, errBoom)
		must(t, l.RunNoWait())
		for _, c := range []struct {
			name string
			w    *eddy.IO
			rec  *ioRec
		}{{"a", wa, &a}, {"b", wb, &b}} {
			c.rec.expectCalls(t, "refused change, watcher "+c.name, 1, eddy.Error)
			if c.w.IsActive() || !errors.Is(c.w.Err(), errBoom) {
				t.Errorf("watcher %s: IsActive() = %v, Err() = %v; want false, %v", c.name, c.w.IsActive(), c.w.Err(), errBoom)
			}
		}
		if l.Refs() != 0 {
			t.Errorf("Refs() = %d after the fd was killed, want 0", l.Refs())
		}
		// A restart works and clears Err.
		must(t, wa.Start(l))
		if wa.Err() != nil {
			t.Errorf("Err() after a successful Start = %v, want nil", wa.Err())
		}
		be.Ready(6, eddy.Read)
		must(t, l.RunNoWait())
		a.expectCalls(t, "restarted", 2, eddy.Read)
		wa.Stop()
	})
	t.Run("real", func(t *testing.T) {
		l := newReal(t)
		if l.Backend() == "poll" {
			t.Skip("poll(2) does not refuse a closed fd; it reports Error instead")
		}
		r, _ := testutil.Pipe(t)
		var rec ioRec
		w := eddy.NewIO(rec.cb, r, eddy.Read)
		must(t, w.Start(l))
		unix.Close(r) // the kernel drops the registration
		w.Modify(eddy.Read | eddy.Write)
		must(t, l.RunNoWait())
		rec.expectCalls(t, "modified after close", 1, eddy.Error)
		if w.IsActive() || !errors.Is(w.Err(), syscall.EBADF) {
			t.Errorf("IsActive() = %v, Err() = %v; want false, EBADF", w.IsActive(), w.Err())
		}
		l.Verify()
	})
}

// Interest changes are batched: one backend call per changed fd per
// iteration, none when the union did not change.
func TestIOBatching(t *testing.T) {
	l, be, _ := newFake(t)
	var rec ioRec
	w := eddy.NewIO(rec.cb, 7, eddy.Read)
	base := be.Modifies()
	step := func(what string, wantCalls int, wantInterest eddy.Events) {
		t.Helper()
		must(t, l.RunNoWait())
		if got := be.Modifies() - base; got != wantCalls {
			t.Errorf("%s: %d backend Modify calls, want %d", what, got, wantCalls)
		}
		if got := be.Interest(7); got != wantInterest {
			t.Errorf("%s: backend interest %#x, want %#x", what, got, wantInterest)
		}
		base = be.Modifies()
	}

	// The first Start registers at once (to report a bad fd); Stop and the
	// second Start in the same iteration: the second Start registers anew,
	// with a new generation, and the iteration has nothing left to do.
	must(t, w.Start(l))
	w.Stop()
	must(t, w.Start(l))
	step("start, stop, start", 2, eddy.Read)

	w.Modify(eddy.Write)
	w.Modify(eddy.Read | eddy.Write)
	w.Modify(eddy.Write)
	if !w.IsActive() || w.Events() != eddy.Write {
		t.Errorf("after Modify: IsActive() = %v, Events() = %#x; want true, Write", w.IsActive(), w.Events())
	}
	step("three Modifies", 1, eddy.Write)

	w.Modify(eddy.Read)
	w.Modify(eddy.Write)
	step("Modify and back", 0, eddy.Write)

	be.Ready(7, eddy.Read|eddy.Write)
	must(t, l.RunNoWait())
	rec.expectCalls(t, "after Modify(Write)", 1, eddy.Write)
	if rec.last&eddy.Read != 0 {
		t.Errorf("a Write watcher got Read")
	}

	w.Stop()
	must(t, w.Start(l))
	w.Stop()
	step("stop, start, stop", 2, 0)
	if be.Registered(7) {
		t.Errorf("fd 7 still registered with no watcher")
	}

	// Modify on a stopped watcher only sets the events.
	w.Modify(eddy.Read | eddy.Error | eddy.Hangup)
	if w.IsActive() || w.Events() != eddy.Read {
		t.Errorf("Modify on a stopped watcher: IsActive() = %v, Events() = %#x; want false, Read", w.IsActive(), w.Events())
	}
	step("Modify of a stopped watcher", 0, 0)
}

// Several watchers on one fd: the backend holds the union of their
// interests, and each is told only its own events.
func TestIOSharedFd(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		l, be, _ := newFake(t)
		var rd, wr, rd2 ioRec
		wrd := eddy.NewIO(rd.cb, 8, eddy.Read)
		wwr := eddy.NewIO(wr.cb, 8, eddy.Write)
		wrd2 := eddy.NewIO(rd2.cb, 8, eddy.Read)
		for _, w := range []*eddy.IO{wrd, wwr, wrd2} {
			must(t, w.Start(l))
		}
		must(t, l.RunNoWait())
		if got := be.Interest(8); got != eddy.Read|eddy.Write {
			t.Errorf("union interest %#x, want Read|Write", got)
		}
		be.Ready(8, eddy.Read)
		must(t, l.RunNoWait())
		rd.expectCalls(t, "Read, reader", 1, eddy.Read)
		rd2.expectCalls(t, "Read, second reader", 1, eddy.Read)
		wr.expectCalls(t, "Read, writer", 0, 0)
		be.Clear(8, eddy.Read)
		be.Ready(8, eddy.Write|eddy.Hangup)
		must(t, l.RunNoWait())
		wr.expectCalls(t, "Write|Hangup, writer", 1, eddy.Write|eddy.Hangup)
		rd.expectCalls(t, "Write|Hangup, reader", 2, eddy.Hangup)
		if rd.last&eddy.Write != 0 {
			t.Errorf("a Read watcher got Write")
		}
		be.Clear(8, eddy.Write|eddy.Hangup)
		wrd.Stop()
		wrd2.Stop()
		must(t, l.RunNoWait())
		if got := be.Interest(8); got != eddy.Write {
			t.Errorf("interest after the readers stopped %#x, want Write", got)
		}
		// Edge and OneShot cannot change under other watchers.
		must(t, wrd.Start(l))
		wrd.Modify(eddy.Read | eddy.Edge)
		if got := wrd.Events(); got != eddy.Read {
			t.Errorf("Modify to Edge on a shared fd: Events() = %#x, want Read", got)
		}
		wrd.Stop()
		wwr.Modify(eddy.Write | eddy.Edge) // alone now: allowed
		if got := wwr.Events(); got != eddy.Write|eddy.Edge {
			t.Errorf("Modify to Edge on an fd of its own: Events() = %#x, want Write|Edge", got)
		}
		wwr.Stop()
	})
	t.Run("real", func(t *testing.T) {
		l := newReal(t)
		a, b := testutil.Socketpair(t)
		var rd, wr ioRec
		wrd := eddy.NewIO(rd.cb, a, eddy.Read)
		wwr := eddy.NewIO(wr.cb, a, eddy.Write)
		must(t, wrd.Start(l))
		must(t, wwr.Start(l))
		must(t, l.RunOnce())
		wr.expectCalls(t, "idle socket, writer", 1, eddy.Write)
		rd.expectCalls(t, "idle socket, reader", 0, 0)
		writeByte(t, b)
		must(t, l.RunOnce())
		wr.expectCalls(t, "readable socket, writer", 2, eddy.Write)
		rd.expectCalls(t, "readable socket, reader", 1, eddy.Read)
		if rd.last&eddy.Write != 0 || wr.last&eddy.Read != 0 {
			t.Errorf("events crossed: reader got %#x, writer got %#x", rd.last, wr.last)
		}
		wrd.Stop()
		wwr.Stop()
	})
}

func TestIOFakeEdge(t *testing.T) {
	l, be, _ := newFake(t)
	var rec ioRec
	w := eddy.NewIO(rec.cb, 9, eddy.Read|eddy.Edge)
	must(t, w.Start(l))
	for i, tc := range []struct {
		ready bool
		want  int
	}{{true, 1}, {false, 1}, {true, 2}, {true, 3}, {false, 3}} {
		if tc.ready {
			be.Ready(9, eddy.Read)
		}
		must(t, l.RunNoWait())
		rec.expectCalls(t, fmt.Sprintf("step %d", i), tc.want, eddy.Read)
	}
	w.Stop()
}
