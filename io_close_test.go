package eddy_test

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/internal/poller"
	"github.com/eddyloop/eddy/internal/testutil/ctlcount"
)

// openCounted opens the built-in backend name, wrapped to count the
// loop's calls (ctlcount).
func openCounted(t *testing.T, name string) *ctlcount.Backend {
	t.Helper()
	be, ok, err := poller.Open(name)
	if !ok || err != nil {
		t.Fatalf("poller.Open(%q): %v, %v", name, ok, err)
	}
	return ctlcount.New(be)
}

// epollSet returns the descriptors registered with the epoll descriptor
// epfd, from /proc/self/fdinfo: what the kernel holds, whatever the
// loop believes.
func epollSet(t *testing.T, epfd int) map[int]bool {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/self/fdinfo/%d", epfd))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	set := make(map[int]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var fd int
		if strings.HasPrefix(sc.Text(), "tfd:") {
			if _, err := fmt.Sscanf(sc.Text(), "tfd: %d", &fd); err == nil {
				set[fd] = true
			}
		}
	}
	return set
}

func socketpair(t *testing.T) [2]int {
	t.Helper()
	sp, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range sp {
		unix.SetNonblock(fd, true)
		unix.CloseOnExec(fd)
	}
	return sp
}

func countedLoop(t *testing.T, name string) (*eddy.Loop, *ctlcount.Backend) {
	t.Helper()
	be := openCounted(t, name)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, be
}

// TestStopForClose closes watched descriptors from their callbacks, as a
// server closes its connections, on every built-in backend: StopForClose
// followed by the close makes no call for a closed descriptor and, for a
// descriptor that is not shared, no removal at all (epoll's close removes
// the registration; what the kernel holds is read back from fdinfo). Stop
// followed by the close, for contrast, makes the removal after the close.
func TestStopForClose(t *testing.T) {
	const n = 20
	for _, name := range eddy.Backends() {
		t.Run(name, func(t *testing.T) {
			for _, how := range []string{"StopForClose", "Stop"} {
				l, be := countedLoop(t, name)
				for range n {
					sp := socketpair(t)
					calls := 0
					w := eddy.NewIO(func(w *eddy.IO, ev eddy.Events) {
						calls++
						if how == "Stop" {
							w.Stop()
						} else {
							w.StopForClose(false)
						}
						unix.Close(w.Fd())
					}, sp[0], eddy.Read)
					if err := w.Start(l); err != nil {
						t.Fatal(err)
					}
					l.RunNoWait()
					unix.Write(sp[1], []byte("x"))
					l.RunOnce()
					l.RunNoWait()
					unix.Close(sp[1])
					if calls != 1 {
						t.Fatalf("%s: callback ran %d times, want 1", how, calls)
					}
				}
				l.RunNoWait()
				switch how {
				case "StopForClose":
					if be.OnClosed != 0 || be.Removes != 0 || be.Modifies != n {
						t.Errorf("%s: %d calls for closed descriptors, %d removals, %d modifies; want 0, 0, %d",
							how, be.OnClosed, be.Removes, be.Modifies, n)
					}
					if be.Forgets != n {
						t.Errorf("%s: %d Forget calls, want %d", how, be.Forgets, n)
					}
				case "Stop":
					if be.OnClosed != n {
						t.Errorf("%s: %d calls for closed descriptors, want %d (one removal after each close)", how, be.OnClosed, n)
					}
				}
				if p, ok := be.Poller.(poller.Pollable); ok && name == "epoll" {
					if set := epollSet(t, p.Fd()); len(set) != 1 { // the wake-up descriptor
						t.Errorf("%s: epoll set %v after closing everything, want the wake-up descriptor alone", how, set)
					}
				}
			}
		})
	}
}

// TestStopForCloseShared closes a watched descriptor that was dup'ed: its
// open file, readable, outlives the close. With shared true the
// registration goes before the close (epoll's fdinfo shows nothing left of
// it), and the loop hears nothing more of it; without StopForClose, epoll
// keeps a registration that no descriptor of the process names.
func TestStopForCloseShared(t *testing.T) {
	for _, name := range eddy.Backends() {
		t.Run(name, func(t *testing.T) {
			for _, how := range []string{"StopForClose", "Stop"} {
				l, be := countedLoop(t, name)
				sp := socketpair(t)
				dup, err := unix.Dup(sp[0])
				if err != nil {
					t.Fatal(err)
				}
				calls := 0
				w := eddy.NewIO(func(*eddy.IO, eddy.Events) { calls++ }, sp[0], eddy.Read)
				if err := w.Start(l); err != nil {
					t.Fatal(err)
				}
				l.RunNoWait()
				if how == "Stop" {
					w.Stop()
				} else {
					w.StopForClose(true)
				}
				unix.Close(sp[0])
				unix.Write(sp[1], []byte("x")) // the dup's file is readable now
				before := l.Stats().Iterations
				for range 5 {
					l.RunNoWait()
				}
				if calls != 0 {
					t.Errorf("%s: callback ran %d times after the close", how, calls)
				}
				if l.Stats().Iterations-before != 5 {
					t.Errorf("%s: ran %d iterations, want 5", how, l.Stats().Iterations-before)
				}
				if p, ok := be.Poller.(poller.Pollable); ok && name == "epoll" {
					set := epollSet(t, p.Fd())
					switch {
					case how == "StopForClose" && len(set) != 1:
						t.Errorf("%s: epoll set %v, want the wake-up descriptor alone", how, set)
					case how == "Stop" && !set[sp[0]]:
						t.Errorf("%s: epoll set %v: the dup'ed file's registration was expected to survive", how, set)
					}
				}
				if how == "StopForClose" && be.OnClosed != 0 {
					t.Errorf("%s: %d calls for closed descriptors, want 0", how, be.OnClosed)
				}
				unix.Close(dup)
				unix.Close(sp[1])
			}
		})
	}
}

// TestStopForCloseReuse closes a watched descriptor in its callback and, in
// the same callback, opens a new one, which gets the same number, and
// watches it: the new watcher gets the new descriptor's events, the old
// one none, on every backend, whether the old descriptor's file outlives
// the close (dup'ed, with data waiting) or not.
func TestStopForCloseReuse(t *testing.T) {
	for _, name := range eddy.Backends() {
		for _, shared := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/shared=%v", name, shared), func(t *testing.T) {
				l, be := countedLoop(t, name)
				a := socketpair(t)
				if shared {
					dup, err := unix.Dup(a[0])
					if err != nil {
						t.Fatal(err)
					}
					defer unix.Close(dup)
				}
				var b [2]int
				oldCalls, newCalls := 0, 0
				var got []byte
				nw := eddy.NewIO(func(w *eddy.IO, ev eddy.Events) {
					newCalls++
					buf := make([]byte, 16)
					n, _ := unix.Read(w.Fd(), buf)
					got = append(got, buf[:max(n, 0)]...)
					w.StopForClose(false)
					unix.Close(w.Fd())
				}, -1, eddy.Read)
				ow := eddy.NewIO(func(w *eddy.IO, ev eddy.Events) {
					oldCalls++
					old := w.Fd()
					w.StopForClose(shared)
					unix.Close(old)
					b = socketpair(t)
					if b[0] != old {
						t.Skipf("the new socket got fd %d, not the old one's %d", b[0], old)
					}
					unix.Write(b[1], []byte("new"))
					nw.Set(b[0], eddy.Read)
					if err := nw.Start(l); err != nil {
						t.Errorf("start on the reused number: %v", err)
					}
					unix.Write(a[1], []byte("more for the old file")) // readable still if dup'ed
				}, a[0], eddy.Read)
				if err := ow.Start(l); err != nil {
					t.Fatal(err)
				}
				unix.Write(a[1], []byte("old"))
				for i := 0; i < 10 && newCalls == 0; i++ {
					l.RunOnce()
				}
				for range 3 {
					l.RunNoWait()
				}
				if oldCalls != 1 || newCalls != 1 || string(got) != "new" {
					t.Errorf("old watcher called %d times, new %d times with %q; want 1, 1, \"new\"", oldCalls, newCalls, got)
				}
				if be.OnClosed != 0 {
					t.Errorf("%d calls for closed descriptors, want 0", be.OnClosed)
				}
				if p, ok := be.Poller.(poller.Pollable); ok && name == "epoll" {
					if set := epollSet(t, p.Fd()); len(set) != 1 {
						t.Errorf("epoll set %v, want the wake-up descriptor alone", set)
					}
				}
				unix.Close(a[1])
				unix.Close(b[1])
			})
		}
	}
}

// TestStopForCloseFake: a backend without poller.Forgetter (package
// eddytest's) gets the removal at once, before the close, and nothing
// after it.
func TestStopForCloseFake(t *testing.T) {
	be := eddytest.NewBackend(nil)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	other := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, 7, eddy.Read)
	w := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, 7, eddy.Read)
	for _, x := range []*eddy.IO{other, w} {
		if err := x.Start(l); err != nil {
			t.Fatal(err)
		}
	}
	l.RunNoWait()
	// Not the last watcher on the fd: the registration stays.
	m := be.Modifies()
	other.StopForClose(false)
	if !be.Registered(7) || be.Modifies() != m {
		t.Fatalf("after StopForClose of one of two watchers: registered %v, %d Modify calls; want true, 0",
			be.Registered(7), be.Modifies()-m)
	}
	w.StopForClose(false)
	if be.Registered(7) || be.Modifies() != m+1 {
		t.Fatalf("after StopForClose of the last watcher: registered %v, %d Modify calls; want false, 1",
			be.Registered(7), be.Modifies()-m)
	}
	be.CloseFd(7)
	l.RunNoWait()
	l.RunNoWait()
	if be.Modifies() != m+1 {
		t.Errorf("%d Modify calls after the close, want 0", be.Modifies()-m-1)
	}
	// Stopping again, or a stopped watcher, does nothing.
	w.StopForClose(true)
	if be.Modifies() != m+1 {
		t.Errorf("StopForClose of a stopped watcher called Modify")
	}
}

// TestStopForCloseAllocs: starting a watcher and stopping it for a close
// allocates nothing, on the backends that keep tables of their own too.
func TestStopForCloseAllocs(t *testing.T) {
	for _, name := range eddy.Backends() {
		t.Run(name, func(t *testing.T) {
			l, err := eddy.NewLoop(&eddy.Config{BackendName: name})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			sp := socketpair(t)
			defer unix.Close(sp[0])
			defer unix.Close(sp[1])
			w := eddy.NewIO(func(*eddy.IO, eddy.Events) {}, sp[0], eddy.Read)
			allocs := testing.AllocsPerRun(100, func() {
				if err := w.Start(l); err != nil {
					t.Fatal(err)
				}
				// shared: the descriptor stays open here, and epoll must
				// really forget it for the next Start to be a plain add.
				w.StopForClose(true)
			})
			if allocs != 0 {
				t.Errorf("%.1f allocations per Start and StopForClose, want 0", allocs)
			}
		})
	}
}
