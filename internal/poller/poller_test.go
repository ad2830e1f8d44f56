package poller

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// backend is one constructor under test. backends lists every backend built
// on this system: poll here, the others from NAME_test.go files that share
// their backend's build line.
type backend struct {
	name string
	new  func() (Poller, error)
}

var backends = []backend{{"poll", NewPoll}}

// TestMain fails the run if a test leaves a descriptor open.
func TestMain(m *testing.M) {
	// Not a settle: the first timer starts the runtime's network poller
	// (its epoll and wake-up descriptors), which must be open before the
	// snapshot of descriptors; a 1µs sleep is the shortest way to start one.
	time.Sleep(time.Microsecond)
	before := openFds()
	code := m.Run()
	if leaked := slices.DeleteFunc(openFds(), func(fd int) bool {
		return slices.Contains(before, fd)
	}); code == 0 && len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "descriptors left open: %v\n", leaked)
		code = 1
	}
	os.Exit(code)
}

func openFds() []int {
	var fds []int
	for fd := 0; fd < 1<<15; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			fds = append(fds, fd)
		}
	}
	return fds
}

// fdSet holds the descriptors one test opened and closes those still open
// when the test ends.
type fdSet struct {
	t    *testing.T
	open map[int]bool
}

func (s *fdSet) pipe() (r, w int) {
	s.t.Helper()
	r, w, err := newPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	s.open[r], s.open[w] = true, true
	return r, w
}

func (s *fdSet) socketpair() (a, b int) {
	s.t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, fd := range fds {
		s.open[fd] = true
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			s.t.Fatal(err)
		}
	}
	return fds[0], fds[1]
}

func (s *fdSet) close(fd int) {
	if s.open[fd] {
		delete(s.open, fd)
		unix.Close(fd)
	}
}

// each runs f as a subtest against every backend, with a fresh poller and
// an fdSet.
func each(t *testing.T, f func(t *testing.T, name string, p Poller, fds *fdSet)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			p, err := b.new()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			fds := &fdSet{t: t, open: map[int]bool{}}
			t.Cleanup(func() {
				for fd := range fds.open {
					unix.Close(fd)
				}
			})
			f(t, b.name, p, fds)
		})
	}
}

func modify(t *testing.T, p Poller, fd int, gen uint32, prev, next Events) {
	t.Helper()
	if err := p.Modify(fd, gen, prev, next); err != nil {
		t.Fatalf("Modify(%d, %d, %b, %b) = %v, want nil", fd, gen, prev, next, err)
	}
}

func write(t *testing.T, fd int) {
	t.Helper()
	if _, err := unix.Write(fd, []byte{'x'}); err != nil {
		t.Fatalf("write(%d) = %v", fd, err)
	}
}

// expect waits up to a second for an event on fd and returns it, ignoring
// events for other descriptors and empty returns.
func expect(t *testing.T, p Poller, fd int) Event {
	t.Helper()
	out := make([]Event, 64)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		n, err := p.Wait(out, 10*time.Millisecond)
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
		for _, ev := range out[:n] {
			if ev.Fd == int32(fd) {
				return ev
			}
		}
	}
	t.Fatalf("no event for fd %d", fd)
	return Event{}
}

// expectNone fails if a short Wait reports an event on fd.
func expectNone(t *testing.T, p Poller, fd int) {
	t.Helper()
	out := make([]Event, 64)
	n, err := p.Wait(out, 10*time.Millisecond)
	if err != nil {
		t.Fatalf("Wait = %v", err)
	}
	for _, ev := range out[:n] {
		if ev.Fd == int32(fd) {
			t.Fatalf("unexpected event %+v", ev)
		}
	}
}

// expectReady is expect plus a check of the generation and of the bits that
// must be set (want) and must not be (not).
func expectReady(t *testing.T, p Poller, fd int, gen uint32, want, not Events) {
	t.Helper()
	ev := expect(t, p, fd)
	if ev.Gen != gen || ev.Ready&want != want || ev.Ready&not != 0 {
		t.Fatalf("event %+v, want gen %d, bits %b set and %b clear", ev, gen, want, not)
	}
}

func TestNew(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.Name() != defaultName {
		t.Fatalf("New().Name() = %q, want %q", p.Name(), defaultName)
	}
}

// TestNames: Names lists New's backend first, every backend the tests run
// (the backends list), and nothing twice; Open makes each of them and no
// other.
func TestNames(t *testing.T) {
	names := Names()
	if len(names) == 0 || names[0] != defaultName {
		t.Fatalf("Names() = %q, want %q first", names, defaultName)
	}
	var tested []string
	for _, b := range backends {
		tested = append(tested, b.name)
	}
	if got, want := slices.Sorted(slices.Values(names)), slices.Sorted(slices.Values(tested)); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want the backends tested here, %q", got, want)
	}
	for _, name := range names {
		p, ok, err := Open(name)
		if !ok || err != nil {
			t.Errorf("Open(%q) = %v, %v", name, ok, err)
			continue
		}
		if p.Name() != name {
			t.Errorf("Open(%q).Name() = %q", name, p.Name())
		}
		p.Close()
	}
	for _, name := range []string{"", "auto", "select", "EPOLL"} {
		if p, ok, err := Open(name); ok || p != nil || err != nil {
			t.Errorf("Open(%q) = %v, %v, %v; want nil, false, nil", name, p, ok, err)
		}
	}
}

// TestPollRegistry: the poll backend reports its registrations (Registry),
// including a OneShot disarmed by its report, for the loop's debug mode.
func TestPollRegistry(t *testing.T) {
	p, err := NewPoll()
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fds := &fdSet{t: t, open: map[int]bool{}}
	defer func() {
		for fd := range fds.open {
			unix.Close(fd)
		}
	}()
	reg := p.(Registry)
	check := func(fd int, registered bool, gen uint32, ev Events) {
		t.Helper()
		if r, g, e := reg.Registered(fd), reg.Gen(fd), reg.Interest(fd); r != registered || g != gen || e != ev {
			t.Errorf("fd %d: Registered, Gen, Interest = %v, %d, %#x; want %v, %d, %#x", fd, r, g, e, registered, gen, ev)
		}
	}
	r, w := fds.pipe()
	check(r, false, 0, 0)
	check(-1, false, 0, 0)
	check(1<<20, false, 0, 0)
	modify(t, p, r, 7, 0, Read)
	check(r, true, 7, Read)
	modify(t, p, w, 8, 0, Write|OneShot)
	check(w, true, 8, Write|OneShot)
	expectReady(t, p, w, 8, Write, 0)
	check(w, true, 8, 0) // disarmed until the next Modify
	modify(t, p, w, 9, Write|OneShot, Write|OneShot)
	check(w, true, 9, Write|OneShot)
	modify(t, p, r, 7, Read, 0)
	check(r, false, 0, 0)
	check(w, true, 9, Write|OneShot) // moved into r's slot
}

func TestReadable(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		r, w := fds.pipe()
		modify(t, p, r, 7, 0, Read)
		expectNone(t, p, r)
		write(t, w)
		expectReady(t, p, r, 7, Read, Write)
	})
}

func TestWritable(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		_, w := fds.pipe()
		modify(t, p, w, 8, 0, Write)
		expectReady(t, p, w, 8, Write, Read)
	})
}

func TestLevelRepeats(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		r, w := fds.pipe()
		write(t, w)
		modify(t, p, r, 1, 0, Read)
		for range 3 {
			expectReady(t, p, r, 1, Read, 0)
		}
	})
}

// TestEdge checks that Edge reports at least once, and, except on poll,
// which reports level-triggered, only once per change of state.
func TestEdge(t *testing.T) {
	each(t, func(t *testing.T, name string, p Poller, fds *fdSet) {
		r, w := fds.pipe()
		modify(t, p, r, 1, 0, Read|Edge)
		write(t, w)
		expectReady(t, p, r, 1, Read, 0)
		if name == "poll" {
			return
		}
		expectNone(t, p, r) // the byte is still there, but nothing changed
		write(t, w)
		expectReady(t, p, r, 1, Read, 0)
	})
}

func TestOneShot(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		r, w := fds.pipe()
		modify(t, p, r, 1, 0, Read|OneShot)
		write(t, w)
		expectReady(t, p, r, 1, Read, 0)
		expectNone(t, p, r)
		write(t, w)
		expectNone(t, p, r)
		modify(t, p, r, 2, Read|OneShot, Read|OneShot)
		expectReady(t, p, r, 2, Read, 0)
		expectNone(t, p, r)
		fds.close(w) // not even a hangup is reported now
		expectNone(t, p, r)
	})
}

// TestOneShotReadWrite checks that a OneShot registration for both
// directions reports once, although kqueue keeps a filter for each.
func TestOneShotReadWrite(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		a, b := fds.socketpair()
		write(t, b)
		modify(t, p, a, 1, 0, ReadWrite|OneShot)
		expect(t, p, a)
		expectNone(t, p, a)
		expectNone(t, p, a)
		modify(t, p, a, 2, ReadWrite|OneShot, Write|OneShot)
		expectReady(t, p, a, 2, Write, Read)
		expectNone(t, p, a)
	})
}

func TestModify(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		a, b := fds.socketpair()
		modify(t, p, a, 1, 0, Read)
		expectNone(t, p, a)
		write(t, b)
		expectReady(t, p, a, 1, Read, Write)
		modify(t, p, a, 1, Read, ReadWrite)
		expectReady(t, p, a, 1, ReadWrite, 0)
		modify(t, p, a, 1, ReadWrite, Write)
		expectReady(t, p, a, 1, Write, Read)
		modify(t, p, a, 1, Write, 0)
		expectNone(t, p, a)
	})
}

func TestRemoveTwice(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		r, w := fds.pipe()
		modify(t, p, r, 1, 0, Read)
		modify(t, p, r, 1, Read, 0)
		modify(t, p, r, 1, Read, 0)
		modify(t, p, r, 1, 0, 0)
		write(t, w)
		expectNone(t, p, r)
	})
}

// TestRemoveOutOfOrder removes registrations that are not the newest, which
// moves others around in poll's table, and then changes a moved one.
func TestRemoveOutOfOrder(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		rs := make([]int, 4)
		for i := range rs {
			r, w := fds.pipe()
			rs[i] = r
			modify(t, p, r, uint32(i), 0, Read)
			write(t, w)
		}
		modify(t, p, rs[0], 0, Read, 0)
		modify(t, p, rs[3], 9, Read, Read)
		modify(t, p, rs[1], 1, Read, 0)
		want := map[int32]uint32{int32(rs[2]): 2, int32(rs[3]): 9}
		got := map[int32]uint32{}
		out := make([]Event, 64)
		for deadline := time.Now().Add(time.Second); len(got) < len(want) && time.Now().Before(deadline); {
			n, err := p.Wait(out, 10*time.Millisecond)
			if err != nil {
				t.Fatalf("Wait = %v", err)
			}
			for _, ev := range out[:n] {
				got[ev.Fd] = ev.Gen
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("events (fd: gen) %v, want %v", got, want)
		}
	})
}

// TestAddRegistered adds a descriptor that is registered already (EEXIST
// under epoll): the add must become a modify.
func TestAddRegistered(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		r, w := fds.pipe()
		modify(t, p, r, 1, 0, Read)
		modify(t, p, r, 2, 0, Read)
		write(t, w)
		expectReady(t, p, r, 2, Read, 0)
	})
}

// TestReusedFd modifies a registration whose descriptor was closed and
// reopened under the same number (ENOENT under epoll): the modify must
// become an add, and events must carry the new generation.
func TestReusedFd(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		r1, w1 := fds.pipe()
		modify(t, p, r1, 1, 0, Read)
		fds.close(w1)
		fds.close(r1)
		r2, w2 := fds.pipe()
		if r2 != r1 {
			t.Skipf("fd %d not reused (got %d)", r1, r2)
		}
		modify(t, p, r2, 2, Read, Read)
		write(t, w2)
		expectReady(t, p, r2, 2, Read, 0)
	})
}

func TestGeneration(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		gens := []uint32{0, 1, 1 << 31, 1<<32 - 1} // 1<<32-1 is -1 as int32
		rs := make([]int, len(gens))
		for i, gen := range gens {
			r, w := fds.pipe()
			rs[i] = r
			modify(t, p, r, gen, 0, Read)
			write(t, w)
		}
		for i, gen := range gens {
			expectReady(t, p, rs[i], gen, Read, 0)
		}
	})
}

// TestHangup closes the write end of a pipe. poll(2) may report that as
// plain Read on some systems; the others must say Hangup.
func TestHangup(t *testing.T) {
	each(t, func(t *testing.T, name string, p Poller, fds *fdSet) {
		r, w := fds.pipe()
		modify(t, p, r, 3, 0, Read)
		fds.close(w)
		ev := expect(t, p, r)
		want := Hangup
		if name == "poll" {
			want = 0
		}
		if ev.Gen != 3 || ev.Ready&(Read|Hangup) == 0 || ev.Ready&want != want {
			t.Fatalf("event %+v, want gen 3 and Hangup", ev)
		}
	})
}

func TestWake(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, _ *fdSet) {
		out := make([]Event, 8)
		wait := func(timeout time.Duration) time.Duration {
			t.Helper()
			start := time.Now()
			n, err := p.Wait(out, timeout)
			if n != 0 || err != nil {
				t.Fatalf("Wait = %d, %v, want 0, nil", n, err)
			}
			return time.Since(start)
		}

		// From another goroutine, into a blocking Wait.
		done := make(chan error)
		time.AfterFunc(20*time.Millisecond, func() { done <- p.Wake() })
		wait(-1)
		if err := <-done; err != nil {
			t.Fatalf("Wake = %v", err)
		}

		// Before the Wait.
		if err := p.Wake(); err != nil {
			t.Fatalf("Wake = %v", err)
		}
		if d := wait(10 * time.Second); d > 5*time.Second {
			t.Fatalf("Wait after Wake took %v", d)
		}

		// Many coalesce, enough to fill a pipe: one Wait takes them all.
		for range 70000 {
			if err := p.Wake(); err != nil {
				t.Fatalf("Wake = %v", err)
			}
		}
		if d := wait(10 * time.Second); d > 5*time.Second {
			t.Fatalf("Wait after Wakes took %v", d)
		}
		if d := wait(30 * time.Millisecond); d < 30*time.Millisecond {
			t.Fatalf("Wait(30ms) after a drained wake-up returned in %v", d)
		}
	})
}

// TestTimeout checks that a timeout finer than a millisecond is rounded up,
// never down.
func TestTimeout(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, _ *fdSet) {
		out := make([]Event, 8)
		// A signal (the runtime's preemption signal, say) may end a wait
		// early with EINTR, which Wait reports as 0 events: the caller
		// waits again. Rounding down would end every wait early.
		early := 0
		for range 5 {
			start := time.Now()
			if n, err := p.Wait(out, 1500*time.Microsecond); n != 0 || err != nil {
				t.Fatalf("Wait = %d, %v, want 0, nil", n, err)
			}
			if d := time.Since(start); d < 1500*time.Microsecond {
				t.Logf("Wait(1.5ms) returned after %v", d)
				early++
			}
		}
		if early > 2 {
			t.Fatalf("%d of 5 Wait(1.5ms) returned early", early)
		}
		start := time.Now()
		if _, err := p.Wait(out, 0); err != nil {
			t.Fatalf("Wait(0) = %v", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Wait(0) took %v", d)
		}
	})
}

func TestShortOut(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		const ready = 5
		for i := range ready {
			r, w := fds.pipe()
			modify(t, p, r, uint32(i), 0, Read)
			write(t, w)
		}
		out := make([]Event, 2)
		n, err := p.Wait(out[:1], time.Second)
		if n != 1 || err != nil {
			t.Fatalf("Wait(out[:1]) = %d, %v, want 1, nil", n, err)
		}
		if n, err := p.Wait(out, time.Second); n != 2 || err != nil {
			t.Fatalf("Wait(out[:2]) = %d, %v, want 2, nil", n, err)
		}
		seen := map[int32]bool{}
		big := make([]Event, 64)
		for deadline := time.Now().Add(time.Second); len(seen) < ready && time.Now().Before(deadline); {
			n, err := p.Wait(big, 10*time.Millisecond)
			if err != nil {
				t.Fatalf("Wait = %v", err)
			}
			for _, ev := range big[:n] {
				seen[ev.Fd] = true
			}
		}
		if len(seen) != ready {
			t.Fatalf("saw %d ready descriptors, want %d", len(seen), ready)
		}
	})
}

// TestShortOutFair checks that when more descriptors are ready than out
// holds, the ones left out are reported by the following waits instead of
// starving behind the same few: level-triggered, all stay ready, and
// len(out) waits of one event each must together name every one.
func TestShortOutFair(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		const ready = 5
		for i := range ready {
			r, w := fds.pipe()
			modify(t, p, r, uint32(i), 0, Read)
			write(t, w)
		}
		seen := map[int32]bool{}
		out := make([]Event, 1)
		for range ready {
			n, err := p.Wait(out, time.Second)
			if n != 1 || err != nil {
				t.Fatalf("Wait(out[:1]) = %d, %v, want 1, nil", n, err)
			}
			seen[out[0].Fd] = true
		}
		if len(seen) != ready {
			t.Fatalf("%d waits of one event named %d descriptors, want %d", ready, len(seen), ready)
		}
	})
}

// TestBadFd registers descriptors that are not open. epoll and kqueue refuse
// them with EBADF. poll(2) has no registration to fail: it refuses only a
// negative fd, and reports a closed one as Error (POLLNVAL) from Wait.
func TestBadFd(t *testing.T) {
	each(t, func(t *testing.T, name string, p Poller, fds *fdSet) {
		if err := p.Modify(-1, 1, 0, Read); !errors.Is(err, unix.EBADF) {
			t.Fatalf("Modify(-1) = %v, want EBADF", err)
		}
		r, w := fds.pipe()
		fds.close(w)
		fds.close(r)
		err := p.Modify(r, 2, 0, Read)
		if name != "poll" {
			if !errors.Is(err, unix.EBADF) {
				t.Fatalf("Modify(closed fd) = %v, want EBADF", err)
			}
			return
		}
		if err != nil {
			t.Fatalf("Modify(closed fd) = %v, want nil", err)
		}
		expectReady(t, p, r, 2, Error, 0)
		modify(t, p, r, 2, Read, 0)
	})
}

func TestClose(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, _ *fdSet) {
		if err := p.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if _, err := p.Wait(make([]Event, 1), 0); err != ErrClosed {
			t.Fatalf("Wait after Close = %v, want ErrClosed", err)
		}
		if err := p.Modify(0, 0, 0, Read); err != ErrClosed {
			t.Fatalf("Modify after Close = %v, want ErrClosed", err)
		}
		if err := p.Close(); err != ErrClosed {
			t.Fatalf("second Close = %v, want ErrClosed", err)
		}
	})
}

// TestWaitAllocs checks that Wait, the hot path, does not allocate.
func TestWaitAllocs(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		r, w := fds.pipe()
		modify(t, p, r, 1, 0, Read)
		write(t, w)
		out := make([]Event, 8)
		if allocs := testing.AllocsPerRun(100, func() { p.Wait(out, 0) }); allocs != 0 {
			t.Fatalf("Wait allocates %v times, want 0", allocs)
		}
	})
}

// BenchmarkWait measures a Wait that finds 100 of 10,000 registered
// descriptors ready (level-triggered, left ready). The 10,000 are both ends
// of 5,000 pipes, registered for Read; only read ends ever hold data. Both
// ends, rather than 10,000 pipes, keep it within a 20,000-descriptor limit.
func BenchmarkWait(b *testing.B) {
	const registered, ready = 10000, 100
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			p, err := be.new()
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			fds := make([]int, 0, registered)
			defer func() {
				for _, fd := range fds {
					unix.Close(fd)
				}
			}()
			for len(fds) < registered {
				r, w, err := newPipe()
				if err != nil {
					b.Skipf("after %d descriptors: %v", len(fds), err)
				}
				fds = append(fds, r, w)
			}
			for i, fd := range fds {
				if err := p.Modify(fd, uint32(i), 0, Read); err != nil {
					b.Fatal(err)
				}
			}
			for i := range ready {
				w := fds[2*i*(registered/2/ready)+1] // spread over the table
				if _, err := unix.Write(w, []byte{'x'}); err != nil {
					b.Fatal(err)
				}
			}
			out := make([]Event, 256)
			events := 0
			b.ReportAllocs()
			for b.Loop() {
				n, err := p.Wait(out, 0)
				if err != nil || n > ready {
					b.Fatalf("Wait = %d, %v, want %d, nil", n, err, ready)
				}
				events += n
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
		})
	}
}

// TestForget: every backend is a Forgetter. A descriptor forgotten and
// closed leaves nothing behind: a new one with the same number registers as
// new (prev 0) and reports with its own generation; a shared descriptor
// forgotten (its file kept open and readable by a dup) reports nothing
// after the close.
func TestForget(t *testing.T) {
	each(t, func(t *testing.T, _ string, p Poller, fds *fdSet) {
		f, ok := p.(Forgetter)
		if !ok {
			t.Fatalf("%T is not a Forgetter", p)
		}
		// Not shared: forgotten, closed, reused.
		r1, w1 := fds.pipe()
		modify(t, p, r1, 1, 0, Read)
		if err := f.Forget(r1, Read, false); err != nil {
			t.Fatalf("Forget(%d, Read, false) = %v", r1, err)
		}
		fds.close(r1)
		fds.close(w1)
		r2, w2 := fds.pipe()
		if r2 != r1 {
			t.Skipf("fd %d not reused (got %d)", r1, r2)
		}
		modify(t, p, r2, 2, 0, Read)
		write(t, w2)
		expectReady(t, p, r2, 2, Read, 0)
		if err := f.Forget(r2, Read, false); err != nil {
			t.Fatalf("Forget(%d, Read, false) = %v", r2, err)
		}
		fds.close(r2)
		fds.close(w2)

		// Shared: a dup keeps the file open, and readable.
		a, b := fds.socketpair()
		dup, err := unix.Dup(a)
		if err != nil {
			t.Fatal(err)
		}
		fds.open[dup] = true
		modify(t, p, a, 3, 0, Read)
		if err := f.Forget(a, Read, true); err != nil {
			t.Fatalf("Forget(%d, Read, true) = %v", a, err)
		}
		fds.close(a)
		write(t, b)
		expectNone(t, p, a)
		// Forgetting what is not registered succeeds.
		if err := f.Forget(a, Read, true); err != nil {
			t.Fatalf("Forget of a closed descriptor = %v, want nil", err)
		}
	})
}
