// Package poller is eddy's contact with the kernel's readiness interfaces:
// epoll on Linux, kqueue on the BSDs and macOS, and poll(2) on every unix.
// It knows nothing of watchers, timers or callbacks; the loop in the module
// root drives it.
//
// # The backend contract
//
// A backend implements Poller. Its methods, except Wake, are called only from
// the goroutine running the loop, one at a time.
//
//   - Modify(fd, gen, prev, next) changes the interest registered for fd from
//     prev to next. prev is what the loop last asked for (Read|Write bits plus
//     the Edge and OneShot flags); next is what it wants now. prev without
//     Read|Write means "not registered": add it. next without Read|Write means
//     "remove it". A backend must tolerate that the kernel disagrees with prev:
//     an add that finds the fd already registered modifies it, a modify that
//     finds it missing adds it (the fd may have been closed and reused since),
//     and a remove that finds nothing to remove succeeds. gen is an opaque
//     generation number that every Event for this registration must carry, so
//     that the loop can drop events from an older registration of a reused fd.
//     Errors the kernel gives for the fd itself (EBADF, EPERM for a regular file
//     under epoll) are returned unwrapped, as unix.Errno.
//   - Wait(out, timeout) waits for readiness and stores up to len(out) events in
//     out, returning how many. timeout < 0 blocks until an event or a Wake;
//     timeout == 0 polls without blocking; otherwise it waits at most timeout,
//     rounding up to the kernel's resolution (never returning early because of
//     rounding down). An interrupted wait (EINTR) returns (0, nil). A Wake makes
//     the current or next Wait return; the wake-up itself is consumed inside
//     Wait and is never reported as an Event. A OneShot registration reports at
//     most one event and then stays registered with no interest until the next
//     Modify. Edge asks for edge-triggered reports; a backend that cannot do
//     that reports level-triggered, which is a superset.
//   - Wake() makes a blocked or future Wait return. It is the only method safe
//     to call from any goroutine, concurrently with everything else, and it
//     must not block. Several Wakes before a Wait may coalesce into one.
//   - Close() releases every descriptor the backend owns. Nothing is called
//     after it.
//   - Name() is a short lowercase name: "epoll", "kqueue", "poll".
//
// A backend may also implement Forgetter, which the loop calls instead of a
// removing Modify when the caller is about to close the descriptor; see
// there. Without it, the loop removes the registration with Modify at once,
// before the close.
//
// A backend whose readiness can itself be waited for (an epoll or kqueue
// descriptor) also implements Pollable, which is what lets a loop be embedded
// in another loop or parked in Go's runtime poller.
//
// New returns the best backend built for the system. The evpoll build tag
// makes it return the poll(2) backend everywhere, so that the portable
// backend is tested where CI runs; the other constructors stay available.
// Names lists the backends built for the system and Open makes one by name.
//
// To add a backend: write NAME.go with one //go:build line, implement Poller
// (and Pollable if it has a descriptor), add it to New and to the natives
// list of its systems (natives is declared once per system, in the file of
// its mechanism), and append it to the backends list of poller_test.go from
// a NAME_test.go with the same build line, so that the contract suite runs
// against it.
package poller

import (
	"errors"
	"time"
)

// Events is a set of readiness bits. Read and Write are asked for and
// reported; Error and Hangup are only reported; Edge and OneShot only modify a
// request.
type Events uint8

const (
	// Read is readiness to read, or to accept on a listening socket.
	Read Events = 1 << iota
	// Write is readiness to write, or a finished nonblocking connect.
	Write
	// Error reports an error condition on the descriptor.
	Error
	// Hangup reports that the peer closed its end.
	Hangup
	// Edge asks for edge-triggered reports: one report per change of state,
	// instead of one per wait while the state lasts.
	Edge
	// OneShot asks for one report, after which the registration has no
	// interest until it is modified again.
	OneShot
)

// ReadWrite is the mask of the interest bits.
const ReadWrite = Read | Write

// Event is one readiness report from Wait.
type Event struct {
	Fd    int32  // the descriptor
	Gen   uint32 // the generation given to Modify for this registration
	Ready Events // what happened: Read, Write, Error, Hangup
}

// Poller is a kernel readiness backend; see the package documentation for
// the contract each method must keep.
type Poller interface {
	Modify(fd int, gen uint32, prev, next Events) error
	Wait(out []Event, timeout time.Duration) (int, error)
	Wake() error
	Close() error
	Name() string
}

// Forgetter is implemented by backends that can drop a registration more
// cheaply when they know that its descriptor is about to be closed.
//
// Forget(fd, prev, shared) tells the backend that the caller will close fd
// right after the call, before the next Wait; prev is the interest the loop
// last asked for (Read|Write bits set: fd is registered). The backend drops
// whatever it keeps for fd, and removes the kernel's registration only where
// the close would not: epoll ties a registration to the open file, which
// outlives the close when shared says that another reference to it may exist
// (a dup, a child that inherited it, another process that was sent it), so
// epoll removes it then and not otherwise; kqueue's close removes the
// descriptor's filters in any case; poll has nothing in the kernel. Like
// Modify's removal, Forget succeeds when it finds nothing to remove. Events
// already reported for the old registration carry its generation, which the
// loop no longer accepts.
type Forgetter interface {
	Forget(fd int, prev Events, shared bool) error
}

// Pollable is implemented by backends whose own descriptor becomes readable
// when a Wait would report events (or a Wake is pending).
type Pollable interface {
	Fd() int
}

// Holder is implemented by backends that can wait a short while without
// leaving the Go processor.
//
// Why: a goroutine that blocks in an ordinary system call on a process
// with one processor (GOMAXPROCS=1) has the processor taken away by the
// runtime's monitor after 20µs or so; taking it hands it to another
// thread, and getting it back wakes the monitor, which then polls every
// 20µs for the next millisecond. For a loop that sleeps briefly thousands
// of times a second, that costs more CPU than the loop's own work. The
// loop therefore looks for events with HoldWait, which makes raw system
// calls the runtime does not see, before it blocks with Wait. (It passes
// d=0 by default: a sleeping HoldWait with a short d, in place of Wait,
// arms a kernel timer at every sleep, which measured dearer than the
// blocking Wait it saves.) With eddy.Config.HoldProcessor every wait is a
// HoldWait, with the loop's own timeout.
//
// HoldWait waits at most d, or until an event when d < 0 (the caller's
// processor is held meanwhile, so other goroutines may wait for it as
// long), and reports what Wait would. ready is true when the wait ended for a
// reason other than the time running out (events, a wake-up, an error):
// then the caller must not block in Wait before it has handled n events.
// When ready is false, n is 0 and the caller goes on to Wait.
type Holder interface {
	HoldWait(out []Event, d time.Duration) (n int, ready bool, err error)
}

// Registry is implemented by backends that keep their registrations in
// user space (poll(2), and package eddytest's fake), so that the loop's
// debug mode can check them against its own fd table. Like Modify, its
// methods are called only from the loop's goroutine.
type Registry interface {
	// Registered reports whether fd is registered.
	Registered(fd int) bool
	// Gen returns the generation of fd's registration, or zero.
	Gen(fd int) uint32
	// Interest returns the interest last given to Modify for fd, or zero
	// when fd is not registered or is a OneShot registration that has
	// reported since.
	Interest(fd int) Events
}

// ErrClosed is returned by a backend used after Close.
var ErrClosed = errors.New("poller: closed")

// waitMillis converts a Wait timeout to the milliseconds poll-style calls
// take, rounding up so that a wait never ends before the timeout.
func waitMillis(timeout time.Duration) int {
	switch {
	case timeout < 0:
		return -1
	case timeout == 0:
		return 0
	}
	const maxMillis = 1<<31 - 1
	ms := (timeout + time.Millisecond - 1) / time.Millisecond
	if ms > maxMillis {
		ms = maxMillis
	}
	return int(ms)
}
