package eddy

import "time"

// Timer calls back after a delay, and then every Repeat if that is
// positive: "wake me up in five seconds". Delays are relative to the loop's
// cached time (Now), which was read when the current iteration began; call
// UpdateNow first from a callback that ran long. A timer never fires before
// its deadline on the monotonic clock, and timers with equal deadlines fire
// in the order they were started.
//
// For an idle timeout that is pushed forward on every bit of activity, set
// Repeat and call Again on activity: it only moves the deadline, which costs
// far less than Stop and Start (libev's ev_timer_again).
type Timer struct {
	watcher
	node   timeNode
	cb     func(t *Timer)
	after  time.Duration
	repeat time.Duration
}

// NewTimer returns a Timer initialised with Init.
func NewTimer(cb func(t *Timer), after, repeat time.Duration) *Timer {
	t := new(Timer)
	t.Init(cb, after, repeat)
	return t
}

// Init sets the callback, the delay and the repeat interval. A negative or
// zero delay fires in the next iteration; a repeat that is not positive
// means the timer stops after firing once.
func (t *Timer) Init(cb func(t *Timer), after, repeat time.Duration) {
	t.cb = cb
	t.Set(after, repeat)
}

// Set changes the delay and repeat interval of a stopped timer; it has no
// effect on an active one.
func (t *Timer) Set(after, repeat time.Duration) {
	if t.active {
		return
	}
	t.after, t.repeat = after, max(repeat, 0)
}

// Repeat returns the repeat interval.
func (t *Timer) Repeat() time.Duration { return t.repeat }

// SetRepeat changes the repeat interval, which is used the next time the
// timer fires or Again is called. It may be called at any time.
func (t *Timer) SetRepeat(repeat time.Duration) { t.repeat = max(repeat, 0) }

// Start starts the timer: it fires after the delay, counted from Now.
// Starting an active timer does nothing, nor does starting on a closed loop.
func (t *Timer) Start(l *Loop) {
	if t.active || l.closed {
		return
	}
	t.activate(l)
	t.node.w = t
	l.heapPush(&t.node, l.now+int64(max(t.after, 0)))
}

// Stop stops the timer. Stopping an inactive timer does nothing; a
// pending callback is forgotten.
func (t *Timer) Stop() {
	if !t.active {
		t.clearPending()
		return
	}
	t.loop.heapRemove(int(t.node.index))
	t.deactivate()
}

// Again restarts the timer with its repeat interval as the delay, counted
// from Now: an active timer's deadline moves, an inactive one starts, and
// with a zero repeat it is stopped. It is the cheap way to push an idle
// timeout forward: one heap adjustment, no removal and insertion. An
// inactive timer needs to have been started once, to know its loop.
func (t *Timer) Again() {
	l := t.loop
	if l == nil {
		return
	}
	switch {
	case t.repeat <= 0:
		t.Stop()
	case t.active:
		l.heapSet(int(t.node.index), l.now+int64(t.repeat))
	case !l.closed:
		t.activate(l)
		t.node.w = t
		l.heapPush(&t.node, l.now+int64(t.repeat))
	}
}

// Remaining returns the time until the timer fires, counted from Now (zero
// or less when it is due), or its delay if it is not active.
func (t *Timer) Remaining() time.Duration {
	if !t.active {
		return t.after
	}
	return time.Duration(t.loop.timers[t.node.index].at - t.loop.now)
}

func (t *Timer) expire(l *Loop) {
	if t.repeat > 0 {
		r := int64(t.repeat)
		at := l.timers[0].at + r
		if at <= l.now { // overrun: skip the missed beats, keep the phase
			at += ((l.now-at)/r + 1) * r
		}
		l.heapSet(0, at)
	} else {
		l.heapRemove(0)
		t.deactivate()
	}
	l.queue(t, 0)
}

func (t *Timer) invoke(Events) { t.cb(t) }
