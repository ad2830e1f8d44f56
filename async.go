package eddy

import "sync/atomic"

// Async lets other goroutines wake the loop: Send, callable from any
// goroutine, makes the callback run on the loop. Sends that arrive before
// the callback runs coalesce into one call, so it must look at shared
// state (a channel, an atomic, a locked queue) to learn what happened.
// For running a function on the loop, Loop.Post is simpler.
type Async struct {
	watcher
	cb   func(a *Async)
	idx  int32
	sent atomic.Bool
	lp   atomic.Pointer[Loop]
}

// Init sets the callback.
func (a *Async) Init(cb func(a *Async)) { a.cb = cb }

// Start starts the watcher; a Send made before Start is delivered after it.
// Starting an active watcher does nothing, nor does starting on a closed
// loop.
func (a *Async) Start(l *Loop) {
	if a.active || l.closed {
		return
	}
	a.activate(l)
	l.asyncs.add(a)
	a.lp.Store(l)
	if a.sent.Load() {
		l.asyncSent.Store(true)
	}
}

// Stop stops the watcher; a pending callback is forgotten, a Send not yet
// seen by the loop is kept for the next Start.
func (a *Async) Stop() {
	if !a.active {
		a.clearPending()
		return
	}
	a.loop.asyncs.remove(a)
	a.deactivate()
}

// Send makes the callback run on the loop, waking it if it sleeps. It is
// safe to call from any goroutine, and cheap when a send is already
// pending: no system call. Before the watcher was first started it only
// records the send.
func (a *Async) Send() {
	if a.sent.Swap(true) {
		return
	}
	if l := a.lp.Load(); l != nil {
		l.asyncSent.Store(true)
		l.wakeup()
	}
}

// Sent reports whether a Send is waiting for the callback. It is safe to
// call from any goroutine.
func (a *Async) Sent() bool { return a.sent.Load() }

func (a *Async) slot() *int32     { return &a.idx }
func (a *Async) invoke(ev Events) { a.cb(a) }
