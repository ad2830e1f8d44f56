package eddy

import (
	"fmt"

	"github.com/eddyloop/eddy/internal/poller"
)

// IO watches a file descriptor for readiness: "is this fd readable or
// writable?". It is level-triggered unless its events include Edge or
// OneShot: while the fd stays readable, the callback runs in every
// iteration. Several IO watchers may watch one fd; the fd's registration
// with the kernel is the union of their interests, and all of them must
// agree on Edge and OneShot.
//
// Interest changes (Start, Stop, Modify) are batched and applied once per
// iteration, just before the wait, except that the first watcher started on
// an fd registers it at once, so that Start can report a bad fd, and that
// StopForClose settles the registration of an fd about to be closed at once.
//
// The special problem of disappearing fds: stop an fd's watchers with
// StopForClose just before closing it. Stop alone leaves the registration's
// removal to the next iteration, when the number no longer names the
// descriptor: the removal then fails (harmlessly, but a system call is
// wasted), and the registration of a descriptor that was dup'ed or inherited
// survives the close (epoll tracks the open file, not the number) and keeps
// waking the loop. Close the fd at least before starting a watcher on the fd
// number's next owner. eddy tags each registration with a generation, so an
// fd closed and reused while registered never gets the old registration's
// events.
type IO struct {
	watcher
	cb     func(w *IO, ev Events)
	fd     int
	events Events // Read|Write, Edge, OneShot
	next   *IO    // the next watcher on the same fd
	err    error  // why the loop stopped this watcher, if it did
}

// fdState is the loop's record of one descriptor.
type fdState struct {
	first   *IO           // active watchers on this fd, in start order
	gen     uint32        // generation of the current registration
	reg     poller.Events // interest the backend holds for it
	changed bool          // queued in Loop.changes
}

// NewIO returns an IO watcher initialised with Init.
func NewIO(cb func(w *IO, ev Events), fd int, events Events) *IO {
	w := new(IO)
	w.Init(cb, fd, events)
	return w
}

// Init sets the callback, the descriptor and the events to watch for. It
// must not be called while the watcher is active.
func (w *IO) Init(cb func(w *IO, ev Events), fd int, events Events) {
	w.cb = cb
	w.Set(fd, events)
}

// Set changes the descriptor and events of a stopped watcher; it has no
// effect on an active one (use Modify).
func (w *IO) Set(fd int, events Events) {
	if w.active {
		return
	}
	w.fd = fd
	w.events = events &^ (Error | Hangup)
}

// Fd returns the watched descriptor.
func (w *IO) Fd() int { return w.fd }

// Events returns the events the watcher asks for.
func (w *IO) Events() Events { return w.events }

// Err returns the error that made the loop stop this watcher (the backend
// refused a registration, for instance because the fd was closed), or nil.
// The callback was then invoked once with Error.
func (w *IO) Err() error { return w.err }

// Start starts watching. Starting an active watcher does nothing. It
// returns an error, and leaves the watcher stopped, when the descriptor is
// negative, when the Edge and OneShot flags differ from those of other
// watchers on the fd, or when the backend refuses it (EBADF for a closed fd,
// EPERM for a regular file under epoll).
func (w *IO) Start(l *Loop) error {
	if w.active {
		return nil
	}
	if l.closed {
		return ErrClosed
	}
	if w.fd < 0 {
		return fmt.Errorf("%w: %d", ErrBadFd, w.fd)
	}
	l.checkGoroutine() // before growFds changes anything
	if w.fd >= l.fdCap() {
		l.growFds(w.fd)
	}
	st := l.fdst(w.fd)
	mode := w.events & (Edge | OneShot)
	if st.first != nil && st.first.events&(Edge|OneShot) != mode {
		return ErrTriggerMismatch
	}
	w.err = nil
	w.activate(l)
	if st.first == nil {
		st.first = w
		st.gen++
		if want := w.events; want&poller.ReadWrite != 0 {
			if err := l.be.Modify(w.fd, st.gen, st.reg, want); err != nil {
				st.first = nil
				w.deactivate()
				return fmt.Errorf("eddy: watch fd %d: %w", w.fd, err)
			}
			st.reg = want
		}
		return nil
	}
	p := st.first
	for p.next != nil {
		p = p.next
	}
	p.next = w
	l.fdChanged(w.fd)
	return nil
}

// Stop stops watching. Stopping an inactive watcher does nothing; a pending
// callback is forgotten.
func (w *IO) Stop() {
	if !w.active {
		w.clearPending()
		return
	}
	l := w.loop
	st := l.fdst(w.fd)
	for pp := &st.first; *pp != nil; pp = &(*pp).next {
		if *pp == w {
			*pp = w.next
			break
		}
	}
	w.next = nil
	w.deactivate()
	l.fdChanged(w.fd)
}

// StopForClose stops w, like Stop, for a caller that closes w's descriptor
// right after, before the loop waits again. When w is the last watcher on
// the descriptor, its registration is settled at once, while the number
// still names the descriptor, instead of in the next iteration (when a
// removal would fail with EBADF), and with no system call where none is
// needed: kqueue's close removes the descriptor's filters, poll(2) keeps
// its table in the process, and epoll's close removes the registration
// unless shared is true.
//
// shared says that the descriptor's open file may outlive the close: it
// was dup'ed, inherited by or sent to another process, or handed over by
// someone who may keep a copy (stdin, say); epoll then removes the
// registration now, with one epoll_ctl. Pass false only for a descriptor
// whose every copy you know of. Other watchers left on the descriptor keep
// their registration, and fail with EBADF in the next iteration if the
// descriptor is closed under them.
func (w *IO) StopForClose(shared bool) {
	if !w.active {
		w.clearPending()
		return
	}
	l, fd := w.loop, w.fd
	w.Stop()
	st := l.fdst(fd)
	if st.first != nil || st.reg&poller.ReadWrite == 0 {
		return
	}
	if l.forget != nil {
		l.forget.Forget(fd, st.reg, shared)
	} else {
		l.be.Modify(fd, st.gen, st.reg, 0)
	}
	// Forgotten, whatever the backend said: the descriptor is going away.
	// The change Stop queued finds nothing left to do.
	st.reg = 0
}

// Modify changes the events an active watcher asks for, without stopping
// it; the change reaches the kernel before the next wait. On a stopped
// watcher it is Set with the same fd. Edge and OneShot cannot change while
// other watchers share the fd.
func (w *IO) Modify(events Events) {
	events &^= Error | Hangup
	if !w.active {
		w.events = events
		return
	}
	if events == w.events {
		return
	}
	st := w.loop.fdst(w.fd)
	if (events^w.events)&(Edge|OneShot) != 0 && (st.first != w || w.next != nil) {
		events = events&^(Edge|OneShot) | w.events&(Edge|OneShot)
	}
	w.events = events
	w.loop.fdChanged(w.fd)
}

func (w *IO) invoke(ev Events) { w.cb(w, ev) }

// The fd table is kept in fixed pages, so that it grows without copying
// (and without leaving the old copies to the garbage collector): a server
// with many connections pays 16 bytes per descriptor, not up to four times
// that.
const (
	fdPageBits = 9
	fdPageMask = 1<<fdPageBits - 1
)

type fdPage [1 << fdPageBits]fdState

// fdCap returns the number of descriptors the table has room for.
func (l *Loop) fdCap() int { return len(l.fds) << fdPageBits }

// fdst returns fd's entry; fd must be below fdCap.
func (l *Loop) fdst(fd int) *fdState { return &l.fds[fd>>fdPageBits][fd&fdPageMask] }

func (l *Loop) growFds(fd int) {
	for fd >= l.fdCap() {
		l.fds = append(l.fds, new(fdPage))
	}
}

// fdChanged queues fd for reify.
func (l *Loop) fdChanged(fd int) {
	st := l.fdst(fd)
	if !st.changed {
		st.changed = true
		l.changes = append(l.changes, int32(fd))
	}
}

// reify applies the interest changes batched since the last wait: one
// backend call per fd whose union of interests changed.
func (l *Loop) reify() {
	for i := 0; i < len(l.changes); i++ {
		fd := int(l.changes[i])
		st := l.fdst(fd)
		st.changed = false
		var want poller.Events
		for w := st.first; w != nil; w = w.next {
			want |= w.events
		}
		if want&poller.ReadWrite == 0 {
			want = 0
		}
		if want == st.reg {
			continue
		}
		if err := l.be.Modify(fd, st.gen, st.reg, want); err != nil {
			l.fdKill(fd, err)
			continue
		}
		st.reg = want
	}
	l.changes = l.changes[:0]
}

// fdKill stops every watcher on fd after the backend refused it, and tells
// each through its callback with Error and through Err.
func (l *Loop) fdKill(fd int, err error) {
	st := l.fdst(fd)
	err = fmt.Errorf("eddy: watch fd %d: %w", fd, err)
	for w := st.first; w != nil; w = st.first {
		w.Stop()
		w.err = err
		l.queue(w, Error)
	}
	st.reg = 0
}

// queueIO queues the watchers of the n ready descriptors in l.events,
// dropping events from an older registration of a reused fd.
func (l *Loop) queueIO(n int) {
	l.stats.IOEvents += uint64(n)
	for i := 0; i < n; i++ {
		e := &l.events[i]
		fd := int(e.Fd)
		if uint(fd) >= uint(l.fdCap()) { // a custom backend may report anything
			continue
		}
		st := l.fdst(fd)
		if st.gen != e.Gen || st.first == nil {
			continue
		}
		oneShot := st.reg&OneShot != 0
		for w := st.first; w != nil; {
			next := w.next
			if got := e.Ready & (w.events&poller.ReadWrite | Error | Hangup); got != 0 {
				if oneShot {
					w.Stop()
				}
				l.queue(w, got)
			}
			w = next
		}
		if oneShot {
			st.reg = 0 // the kernel disarmed it; reify re-arms what is left
			l.fdChanged(fd)
		}
	}
}

// FeedFd queues the callbacks of the watchers on fd whose interest
// includes ev, as if the backend had reported ev (libev's ev_feed_fd_event).
func (l *Loop) FeedFd(fd int, ev Events) {
	if fd < 0 || fd >= l.fdCap() {
		return
	}
	for w := l.fdst(fd).first; w != nil; w = w.next {
		if got := ev & (w.events&poller.ReadWrite | Error | Hangup); got != 0 {
			l.queue(w, got)
		}
	}
}
