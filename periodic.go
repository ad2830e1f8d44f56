package eddy

import "time"

// maxPeriodicSleep bounds a wait while Periodics are active, so that a jump
// of the wall clock is noticed within that time even with nothing else to do.
const maxPeriodicSleep = 60 * time.Second

// wallJumpSlack is how far the wall clock may drift from the monotonic one
// (NTP slewing) before the Periodics are rescheduled.
const wallJumpSlack = int64(10 * time.Millisecond)

// Periodic calls back at points in wall-clock time: "every hour on the
// hour", "at 03:00", or whenever a reschedule function says. Unlike a Timer,
// which counts monotonic time, a Periodic follows the wall clock: when the
// system time is set forward past its next point, it fires at once; when it
// is set back, it waits until the wall clock reaches the point again. The
// loop notices a jump on its next iteration, and wakes at least every 60s
// while Periodics are active to look.
//
// A Periodic works in one of three ways:
//   - interval > 0: it fires at offset + k*interval for every whole k, that
//     is every interval with the phase given by offset;
//   - interval == 0: it fires once, at offset, and stops;
//   - with a reschedule function (SetReschedule): it fires at the time the
//     function returns, given the current wall time; interval and offset are
//     then unused.
type Periodic struct {
	watcher
	node     timeNode
	cb       func(p *Periodic)
	offset   time.Time
	interval time.Duration
	resched  func(p *Periodic, now time.Time) time.Time
	at       int64 // next point, wall-clock Unix ns
}

// NewPeriodic returns a Periodic initialised with Init.
func NewPeriodic(cb func(p *Periodic), offset time.Time, interval time.Duration) *Periodic {
	p := new(Periodic)
	p.Init(cb, offset, interval)
	return p
}

// Init sets the callback, the offset (the phase, or the one point in time
// when interval is zero) and the interval.
func (p *Periodic) Init(cb func(p *Periodic), offset time.Time, interval time.Duration) {
	p.cb = cb
	p.Set(offset, interval)
}

// Set changes the offset and interval of a stopped Periodic; it has no
// effect on an active one.
func (p *Periodic) Set(offset time.Time, interval time.Duration) {
	if p.active {
		return
	}
	p.offset, p.interval = offset, max(interval, 0)
}

// SetReschedule makes f choose every next point: it gets the current wall
// time and returns the next point, which should be later. A point that is
// not later fires in the next iteration. Nil goes back to offset and
// interval. It has no effect on an active Periodic.
func (p *Periodic) SetReschedule(f func(p *Periodic, now time.Time) time.Time) {
	if p.active {
		return
	}
	p.resched = f
}

// At returns the wall-clock time of the next point while active.
func (p *Periodic) At() time.Time { return time.Unix(0, p.at) }

// Start starts the Periodic. Starting an active one does nothing, nor does
// starting on a closed loop.
func (p *Periodic) Start(l *Loop) {
	if p.active || l.closed {
		return
	}
	p.activate(l)
	p.node.w = p
	l.nperiod++
	if l.nperiod == 1 {
		l.wallSkew = l.clock.Wall().UnixNano() - l.now
	}
	wall := l.clock.Wall().UnixNano()
	p.at = p.next(wall, true)
	l.heapPush(&p.node, l.monoFor(p.at, wall))
}

// Stop stops the Periodic. Stopping an inactive one does nothing; a
// pending callback is forgotten.
func (p *Periodic) Stop() {
	if !p.active {
		p.clearPending()
		return
	}
	l := p.loop
	l.heapRemove(int(p.node.index))
	l.nperiod--
	p.deactivate()
}

// next computes the next point after wall. first is true at Start, where an
// interval point equal to wall counts.
func (p *Periodic) next(wall int64, first bool) int64 {
	switch {
	case p.resched != nil:
		return p.resched(p, time.Unix(0, wall)).UnixNano()
	case p.interval == 0:
		return p.offset.UnixNano()
	}
	iv, off := int64(p.interval), p.offset.UnixNano()
	k := (wall - off) / iv
	if wall-off < 0 && (wall-off)%iv != 0 {
		k-- // floor division
	}
	at := off + k*iv
	if at < wall || !first && at == wall {
		at += iv
	}
	return at
}

// monoFor converts a wall-clock point to a monotonic deadline.
func (l *Loop) monoFor(at, wall int64) int64 {
	return l.now + max(at-wall, 0)
}

func (p *Periodic) expire(l *Loop) {
	wall := l.clock.Wall().UnixNano()
	if wall < p.at { // the wall clock went back: wait until it catches up
		l.heapSet(0, l.monoFor(p.at, wall))
		return
	}
	if p.resched == nil && p.interval == 0 {
		p.Stop()
	} else {
		p.at = p.next(wall, false)
		// A reschedule point that is not later fires in the next
		// iteration: a deadline of now would make queueTimers spin.
		l.heapSet(0, max(l.monoFor(p.at, wall), l.now+1))
	}
	l.queue(p, 0)
}

// checkWallClock reschedules every Periodic when the wall clock jumped
// relative to the monotonic one since the last check.
func (l *Loop) checkWallClock() {
	wall := l.clock.Wall().UnixNano()
	skew := wall - l.now
	if d := skew - l.wallSkew; d < wallJumpSlack && d > -wallJumpSlack {
		return
	}
	l.wallSkew = skew
	for i := range l.timers {
		if p, ok := l.timers[i].n.w.(*Periodic); ok {
			l.timers[i].at = l.monoFor(p.at, wall)
		}
	}
	for i := len(l.timers)/4 + 1; i >= 0; i-- { // re-heapify
		if i < len(l.timers) {
			l.heapDown(i)
		}
	}
}

func (p *Periodic) invoke(Events) { p.cb(p) }
