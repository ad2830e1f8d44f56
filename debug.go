package eddy

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/eddyloop/eddy/internal/poller"
)

// goid returns the current goroutine's id, read from its stack header. It
// is slow and used only in debug mode.
func goid() uint64 {
	buf := stackBufs.Get().(*[64]byte)
	b := buf[:runtime.Stack(buf[:], false)]
	var id uint64
	for _, c := range b[len("goroutine "):] {
		if c < '0' || c > '9' {
			break
		}
		id = id*10 + uint64(c-'0')
	}
	stackBufs.Put(buf)
	return id
}

// stackBufs holds goid's buffers: runtime.Stack makes its argument escape,
// and debug mode must not allocate where the loop does not.
var stackBufs = sync.Pool{New: func() any { return new([64]byte) }}

// enterGoroutine records the goroutine entering Run, in debug mode, and
// panics if another goroutine is already running the loop.
func (l *Loop) enterGoroutine() {
	id := goid()
	if !l.owner.CompareAndSwap(0, id) && l.owner.Load() != id {
		panic(fmt.Sprintf("eddy: Run called on goroutine %d while goroutine %d runs the loop", id, l.owner.Load()))
	}
}

// checkGoroutine panics, in debug mode, when the loop's API is used from a
// goroutine other than the one running the loop.
func (l *Loop) checkGoroutine() {
	if !l.debug {
		return
	}
	if owner := l.owner.Load(); owner != 0 {
		if id := goid(); id != owner {
			panic(fmt.Sprintf("eddy: loop API called from goroutine %d while goroutine %d runs the loop (only Post, Wake and Async.Send are goroutine-safe)", id, owner))
		}
	}
}

// verify checks the loop's invariants (libev's ev_verify) and panics with
// a description of the first one broken. Debug mode runs it after every
// iteration; tests call it directly.
func (l *Loop) verify() {
	fail := func(format string, args ...any) {
		panic(fmt.Sprintf("eddy: loop invariant broken: "+format, args...))
	}
	for i := range l.timers {
		e := &l.timers[i]
		if int(e.n.index) != i {
			fail("timer heap entry %d has index %d", i, e.n.index)
		}
		if i > 0 && e.before(&l.timers[(i-1)/4]) {
			fail("timer heap entry %d is before its parent", i)
		}
		if h := e.n.w.hdr(); !h.active || h.loop != l {
			fail("timer heap entry %d is not an active watcher of this loop", i)
		}
	}
	periodics := 0
	for i := range l.timers {
		if _, ok := l.timers[i].n.w.(*Periodic); ok {
			periodics++
		}
	}
	if periodics != l.nperiod {
		fail("%d periodics in the heap, %d counted", periodics, l.nperiod)
	}
	l.verifyFds(fail)
	pending := 0
	for p := range l.pend {
		q := &l.pend[p]
		for i := q.head; i < len(q.items); i++ {
			pending++
			if w := q.items[i].w; w != nil && int(w.hdr().pending) != i+1 {
				fail("pending entry %d at priority %d does not match its watcher (%d)", i, p+MinPriority, w.hdr().pending)
			}
		}
	}
	if pending != l.npending {
		fail("%d pending entries, %d counted", pending, l.npending)
	}
	checkList(fail, "idle", l.idles.items, l)
	checkList(fail, "prepare", l.prepares.items, l)
	checkList(fail, "check", l.checks.items, l)
	checkList(fail, "async", l.asyncs.items, l)
	if l.refs < 0 {
		fail("reference count %d", l.refs)
	}
}

// verifyFds checks the fd table: each entry lists only active watchers of
// its own fd, holds a registration only while it has watchers or a change
// queued, and is marked changed exactly when it is in the change queue. With
// a backend that can say (a poller.Registry), an entry with nothing queued
// matches the backend's registration of its fd, if the backend has one: same
// generation, same interest. (The backend may have none: the fd may have been
// closed while watched, which the kernel notices and the loop cannot.)
func (l *Loop) verifyFds(fail func(string, ...any)) {
	reg, _ := l.be.(poller.Registry)
	changed := 0
	for fd := range l.fdCap() {
		st := l.fdst(fd)
		for w := st.first; w != nil; w = w.next {
			if !w.active || w.loop != l || w.fd != fd {
				fail("fd %d lists a watcher that is inactive, of another loop, or of fd %d", fd, w.fd)
			}
		}
		if st.changed {
			changed++
			continue
		}
		if st.first == nil && st.reg != 0 {
			fail("fd %d is registered with no watcher and no change queued", fd)
		}
		if reg != nil && st.reg != 0 && reg.Registered(fd) {
			if gen, ev := reg.Gen(fd), reg.Interest(fd); gen != st.gen || ev != st.reg {
				fail("fd %d is registered with generation %d and interest %#x, but the backend holds generation %d and interest %#x",
					fd, st.gen, st.reg, gen, ev)
			}
		}
	}
	for _, fd := range l.changes {
		if int(fd) >= l.fdCap() || !l.fdst(int(fd)).changed {
			fail("fd %d is in the change queue but not marked changed", fd)
		}
	}
	if changed != len(l.changes) {
		fail("%d fds marked changed, %d in the change queue", changed, len(l.changes))
	}
}

func checkList[T interface {
	Watcher
	slot() *int32
}](fail func(string, ...any), kind string, items []T, l *Loop) {
	for i, w := range items {
		if int(*w.slot()) != i || !w.IsActive() || w.hdr().loop != l {
			fail("%s watcher %d is misplaced or inactive", kind, i)
		}
	}
}
