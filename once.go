package eddy

import (
	"fmt"
	"time"
)

// Once calls cb once, on the loop, when fd becomes ready for events or
// when timeout has passed, whichever comes first, and then forgets both
// (libev's ev_once). The callback is told the events that happened (Read,
// Write, Error, Hangup, as for an IO watcher), or 0 when the timeout came
// first: Events has no bit of its own for a timeout. With fd < 0 there is
// only the timeout, and with timeout < 0 only the descriptor; a timeout of
// zero fires in the next iteration. Until it fires, Once keeps Run alive
// like any active watcher; Close drops it without calling cb.
//
// events asks for Read and Write, and may carry Edge or OneShot, which
// must then match the other watchers on fd, as for IO.Start.
//
// Once returns an error, and never calls cb, when fd and timeout are both
// negative (ErrBadFd), when the loop is closed (ErrClosed), and when the
// descriptor cannot be watched (see IO.Start).
//
// Unlike the watcher types, which the loop never allocates, Once allocates
// a small record holding an IO and a Timer on every call, to be garbage
// once cb has run. Code that waits again and again on one descriptor should
// keep its own IO and Timer instead.
func (l *Loop) Once(fd int, events Events, timeout time.Duration, cb func(ev Events)) error {
	if l.closed {
		return ErrClosed
	}
	if fd < 0 && timeout < 0 {
		return fmt.Errorf("%w: Once needs a descriptor or a timeout", ErrBadFd)
	}
	o := &once{cb: cb}
	if fd >= 0 {
		o.io.Init(o.onIO, fd, events)
		if err := o.io.Start(l); err != nil {
			return err
		}
	}
	if timeout >= 0 {
		o.tm.Init(o.onTimer, timeout, 0)
		o.tm.Start(l)
	}
	return nil
}

// once is the record of one Loop.Once call.
type once struct {
	io IO
	tm Timer
	cb func(ev Events)
}

func (o *once) onIO(_ *IO, ev Events) { o.fire(ev) }
func (o *once) onTimer(*Timer)        { o.fire(0) }

// fire stops both watchers, which forgets the other one's pending callback
// if both fired in one iteration, and calls back.
func (o *once) fire(ev Events) {
	o.io.Stop()
	o.tm.Stop()
	if o.cb != nil {
		o.cb(ev)
	}
}
