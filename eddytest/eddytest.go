package eddytest

import (
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/eddyloop/eddy/internal/poller"
)

// Clock is a fake clock for a loop's Config.Clock: its time moves only when
// Advance or JumpWall is called, or when a Backend waits with a timeout. Its
// monotonic reading starts at zero. It is safe for concurrent use.
type Clock struct {
	mu   sync.Mutex
	mono time.Duration // guarded by mu
	wall time.Time     // guarded by mu
}

// NewClock returns a Clock whose wall clock reads wall (without any
// monotonic reading wall may carry) and whose monotonic clock reads zero.
func NewClock(wall time.Time) *Clock {
	return &Clock{wall: wall.Round(0)}
}

// Monotonic returns the time on the monotonic clock: the sum of every
// Advance since NewClock.
func (c *Clock) Monotonic() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mono
}

// Wall returns the time on the wall clock.
func (c *Clock) Wall() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

// Advance lets d pass: both the monotonic and the wall clock move forward
// by d. It panics if d is negative, since a monotonic clock never goes back;
// use JumpWall to set the wall clock back.
func (c *Clock) Advance(d time.Duration) {
	if d < 0 {
		panic("eddytest: Clock.Advance with a negative duration")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mono += d
	c.wall = c.wall.Add(d)
}

// JumpWall moves only the wall clock, by d (forward or back), as when the
// system time is set: the monotonic clock does not move.
func (c *Clock) JumpWall(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wall = c.wall.Add(d)
}

// Backend is a scripted in-memory readiness backend for a loop's
// Config.Backend. It keeps the registrations the loop makes with Modify and
// reports, in Wait, the events a test makes ready with Ready. It never
// touches the kernel: descriptor numbers are only numbers. It is safe for
// concurrent use, so that Ready, Inject and Wake may be called from another
// goroutine while the loop waits.
//
// Readiness is level-triggered: a descriptor made ready stays ready, and is
// reported by every Wait, until Clear. A registration with Edge reports once
// per Ready call (and once when it is modified while ready, as epoll does); a
// registration with OneShot reports once and then has no interest until the
// next Modify. Error and Hangup are reported to any registration with Read or
// Write interest, as the kernel does.
//
// A loop in debug mode (eddy.Config.Debug) uses Registered, Gen and Interest
// to check its fd table against the registrations after every iteration.
type Backend struct {
	clock *Clock

	mu          sync.Mutex
	cond        sync.Cond             // signalled on Ready, Inject, Wake and Close
	regs        map[int]*registration // registered descriptors
	ready       map[int]poller.Events // level-triggered state
	edges       map[int]poller.Events // edges not yet reported
	closedFds   map[int]bool          // descriptors CloseFd marked closed
	failModify  map[int]error         // the next Modify of fd fails
	failWait    error                 // the next Wait fails
	injected    []poller.Event        // reported first by the next Wait
	spurious    int                   // Waits to end at once with nothing
	woken       bool                  // a Wake not yet consumed by a Wait
	blocked     bool                  // a Wait is blocked
	closed      bool                  // Close was called
	modifies    int                   // Modify calls
	waits       int                   // Wait calls
	wakes       int                   // Wake calls
	lastTimeout time.Duration         // of the last Wait
}

// registration is the Backend's record of one registered descriptor.
type registration struct {
	gen      uint32
	interest poller.Events // as given to Modify
	armed    bool          // false once a OneShot registration has reported
}

// NewBackend returns a Backend whose Waits with a timeout advance c. A nil
// c gets a Clock of its own, starting at the Unix epoch.
func NewBackend(c *Clock) *Backend {
	if c == nil {
		c = NewClock(time.Unix(0, 0).UTC())
	}
	b := &Backend{
		clock:      c,
		regs:       make(map[int]*registration),
		ready:      make(map[int]poller.Events),
		edges:      make(map[int]poller.Events),
		closedFds:  make(map[int]bool),
		failModify: make(map[int]error),
	}
	b.cond.L = &b.mu
	return b
}

// Clock returns the clock that the Backend's Waits advance.
func (b *Backend) Clock() *Clock { return b.clock }

// Name returns "fake".
func (b *Backend) Name() string { return "fake" }

// Modify changes the interest registered for fd from prev to next, as the
// backend contract says: next without Read or Write removes the
// registration, anything else adds or replaces it with generation gen,
// whatever prev says. It fails with syscall.EBADF for a negative fd and, unless
// it removes, for a descriptor marked closed by CloseFd; with the error given
// to FailModify, once, for fd; and with poller.ErrClosed after Close. Every
// call counts in Modifies.
func (b *Backend) Modify(fd int, gen uint32, prev, next poller.Events) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return poller.ErrClosed
	}
	b.modifies++
	if fd < 0 {
		return syscall.EBADF
	}
	if err, ok := b.failModify[fd]; ok {
		delete(b.failModify, fd)
		return err
	}
	if next&poller.ReadWrite == 0 {
		delete(b.regs, fd)
		delete(b.edges, fd)
		return nil
	}
	if b.closedFds[fd] {
		return syscall.EBADF
	}
	r := b.regs[fd]
	if r == nil {
		r = new(registration)
		b.regs[fd] = r
	}
	r.gen, r.interest, r.armed = gen, next, true
	if next&poller.Edge != 0 {
		b.edges[fd] = b.ready[fd] // a modification re-checks readiness
	}
	return nil
}

// Wait reports, in out, the events ready for registered descriptors whose
// interest matches, each with its registration's generation: first the
// events given to Inject, then the descriptors in increasing order, at most
// len(out) in all. With nothing to report it returns 0 at once if timeout
// is 0 or a Wake is pending; if timeout is positive it advances the Clock
// by exactly timeout and returns 0 (time passes instantly); if timeout is
// negative it blocks until another goroutine calls Wake, Ready or Inject.
// A FailWait error or a Spurious wake-up, if one was asked for, comes first.
func (b *Backend) Wait(out []poller.Event, timeout time.Duration) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, poller.ErrClosed
	}
	b.waits++
	b.lastTimeout = timeout
	if err := b.failWait; err != nil {
		b.failWait = nil
		return 0, err
	}
	if b.spurious > 0 {
		b.spurious--
		return 0, nil
	}
	for {
		if n := b.collectLocked(out); n > 0 {
			b.woken = false // the wake-up descriptor would be drained too
			return n, nil
		}
		if b.woken {
			b.woken = false
			return 0, nil
		}
		switch {
		case timeout == 0:
			return 0, nil
		case timeout > 0:
			b.clock.Advance(timeout)
			return 0, nil
		}
		b.blocked = true
		b.cond.Wait()
		b.blocked = false
		if b.closed {
			return 0, poller.ErrClosed
		}
	}
}

// collectLocked stores the reportable events in out and returns how many.
func (b *Backend) collectLocked(out []poller.Event) int {
	n := 0
	for n < len(out) && len(b.injected) > 0 {
		out[n] = b.injected[0]
		b.injected = b.injected[1:]
		n++
	}
	if n == len(out) || len(b.regs) == 0 {
		return n
	}
	fds := make([]int, 0, len(b.regs))
	for fd := range b.regs {
		fds = append(fds, fd)
	}
	slices.Sort(fds)
	for _, fd := range fds {
		if n == len(out) {
			break
		}
		r := b.regs[fd]
		if !r.armed {
			continue
		}
		mask := r.interest&poller.ReadWrite | poller.Error | poller.Hangup
		var got poller.Events
		if r.interest&poller.Edge != 0 {
			got = b.edges[fd] & mask
			b.edges[fd] &^= got
		} else {
			got = b.ready[fd] & mask
		}
		if got == 0 {
			continue
		}
		if r.interest&poller.OneShot != 0 {
			r.armed = false
		}
		out[n] = poller.Event{Fd: int32(fd), Gen: r.gen, Ready: got}
		n++
	}
	return n
}

// Wake makes the current or the next Wait return. Several Wakes before a
// Wait coalesce. It is safe to call from any goroutine.
func (b *Backend) Wake() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return poller.ErrClosed
	}
	b.wakes++
	b.woken = true
	b.cond.Broadcast()
	return nil
}

// Close marks the Backend closed: every later call fails with
// poller.ErrClosed, and a blocked Wait returns it. The second Close returns
// poller.ErrClosed.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return poller.ErrClosed
	}
	b.closed = true
	b.cond.Broadcast()
	return nil
}

// Ready makes ev (Read, Write, Error, Hangup; other bits are ignored) ready
// on fd until Clear takes it back, and wakes a blocked Wait. For an Edge
// registration every call is one report. It does nothing for a descriptor
// marked closed by CloseFd.
func (b *Backend) Ready(fd int, ev poller.Events) {
	ev &= poller.ReadWrite | poller.Error | poller.Hangup
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closedFds[fd] || ev == 0 {
		return
	}
	b.ready[fd] |= ev
	b.edges[fd] |= ev
	b.cond.Broadcast()
}

// Clear makes ev no longer ready on fd, as when a test's code has read
// everything there was to read. An edge not yet reported is forgotten too.
func (b *Backend) Clear(fd int, ev poller.Events) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ready[fd] &^= ev
	b.edges[fd] &^= ev
}

// Inject makes the next Wait report evs as they are, before anything else,
// whether or not they match a registration: the way to deliver an event
// that a kernel could still report for an older registration of a reused
// descriptor. It wakes a blocked Wait.
func (b *Backend) Inject(evs ...poller.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.injected = append(b.injected, evs...)
	b.cond.Broadcast()
}

// CloseFd simulates closing the descriptor fd: the kernel forgets its
// registration and readiness, and Modify fails with syscall.EBADF for it
// until OpenFd.
func (b *Backend) CloseFd(fd int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closedFds[fd] = true
	delete(b.regs, fd)
	delete(b.ready, fd)
	delete(b.edges, fd)
}

// OpenFd undoes CloseFd, as when the number fd is given to a new
// descriptor, which is not registered and not ready.
func (b *Backend) OpenFd(fd int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.closedFds, fd)
}

// FailModify makes the next Modify of fd fail with err, without changing
// the registration.
func (b *Backend) FailModify(fd int, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failModify[fd] = err
}

// FailWait makes the next Wait fail with err.
func (b *Backend) FailWait(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failWait = err
}

// Spurious makes the next Wait return (0, nil) at once, without reporting
// anything or advancing the clock: a spurious wake-up, or an EINTR.
func (b *Backend) Spurious() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.spurious++
}

// Registered reports whether fd is registered.
func (b *Backend) Registered(fd int) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.regs[fd] != nil
}

// Interest returns the interest registered for fd, as last given to
// Modify, or zero if fd is not registered or is a OneShot registration that
// has reported and not been modified since.
func (b *Backend) Interest(fd int) poller.Events {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.regs[fd]; r != nil && r.armed {
		return r.interest
	}
	return 0
}

// Gen returns the generation of fd's registration, or zero if it is not
// registered.
func (b *Backend) Gen(fd int) uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r := b.regs[fd]; r != nil {
		return r.gen
	}
	return 0
}

// Modifies returns the number of Modify calls so far, failed ones
// included: the way to check that a loop batches its interest changes.
func (b *Backend) Modifies() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.modifies
}

// Waits returns the number of Wait calls so far.
func (b *Backend) Waits() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.waits
}

// Wakes returns the number of Wake calls so far.
func (b *Backend) Wakes() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.wakes
}

// LastTimeout returns the timeout of the last Wait call: negative for a
// wait without a deadline, zero for a poll.
func (b *Backend) LastTimeout() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lastTimeout
}

// Blocked reports whether a Wait is blocked, waiting for Wake, Ready or
// Inject. A test that wakes a loop from another goroutine polls it to know
// that the loop is asleep.
func (b *Backend) Blocked() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.blocked
}

// Closed reports whether Close was called.
func (b *Backend) Closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// The Backend is a poller.Poller.
var _ poller.Poller = (*Backend)(nil)
