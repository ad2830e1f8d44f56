package eddy

import "github.com/eddyloop/eddy/internal/poller"

// Events is a set of readiness bits. An IO watcher asks for Read and Write,
// optionally with Edge or OneShot; its callback is told Read and Write, plus
// Error and Hangup, which are only ever reported. Timer, Signal and other
// watchers are invoked with the zero value.
type Events = poller.Events

const (
	// Read is readiness to read, or to accept on a listening socket.
	Read = poller.Read
	// Write is readiness to write, or the end of a nonblocking connect.
	Write = poller.Write
	// Error reports an error condition on the descriptor, or that the loop
	// could not register it (see IO.Err). It is only reported.
	Error = poller.Error
	// Hangup reports that the peer closed its end. It is only reported.
	Hangup = poller.Hangup
	// Edge asks for edge-triggered readiness: a report when the state
	// changes, not on every iteration while it lasts. Read until EAGAIN. The
	// poll backend cannot do this and reports level-triggered, a superset.
	Edge = poller.Edge
	// OneShot asks for one report: the watcher is stopped just before its
	// callback runs, and Start arms it again.
	OneShot = poller.OneShot
)

// Backend is the interface a kernel readiness mechanism implements for a
// Loop. eddy ships epoll, kqueue and poll(2) backends; a custom one is given
// in Config.Backend. The contract, method by method, is in the documentation
// of package internal/poller and repeated here:
//
//   - Modify(fd, gen, prev, next) changes the interest for fd from prev to
//     next; prev without Read|Write adds, next without Read|Write removes. It
//     must tolerate a kernel that disagrees with prev (add of a registered
//     fd modifies; modify of a missing fd adds; removing nothing succeeds),
//     and every event for the registration must carry gen.
//   - Wait(out, timeout) stores up to len(out) events; timeout < 0 blocks,
//     0 polls; it never returns early because of rounding; EINTR is (0, nil);
//     a Wake makes it return and is never reported as an event.
//   - Wake() may be called from any goroutine and never blocks.
//   - Close() releases the backend's descriptors; Name() names it.
//
// A backend with a descriptor of its own that becomes readable when Wait has
// something to report should also have a method Fd() int; Loop.Fd, Embed and
// Config.GoPoller need it. One that keeps its registrations in user space
// may also have methods Registered(fd int) bool, Gen(fd int) uint32 and
// Interest(fd int) Events (the poll backend and eddytest's fake do): debug
// mode then checks its registrations against the loop's fd table.
type Backend = poller.Poller

// BackendEvent is one readiness report from Backend.Wait: the descriptor, the
// generation given to Modify for its registration, and the ready bits.
type BackendEvent = poller.Event
