package evnet

// Timeouts: a connection's deadlines (idle, write and dial timeouts, and
// SetTimer), and the loop's timing wheel that checks them, one Timer per
// loop however many connections have a timeout.

import (
	"math/bits"
	"time"

	"github.com/eddyloop/eddy"
)

// timing holds the timeouts of a connection, and its links in the loop's
// timing wheel. Times are milliseconds since the wheel's msBase (see
// stamp), deadlines and activity rounded up, so that nothing times out
// early; durations are milliseconds too, at most maxTimeout. Kept to 44
// bytes, the 48-byte size class: every connection of a server has one.
type timing struct {
	prev, next *Conn
	idle, wto  int32
	lastRead   int32
	lastWrite  int32
	connDL     int32 // dial or handshake deadline, or -1
	alarm      int32 // SetTimer's time, or -1
	// at is the tick whose slot holds the connection (slot at%wheelSlots),
	// -1 when it is not in the wheel, tslotBusy while onTick has it.
	at int32
}

const (
	// tslotBusy marks a connection that onTick has taken out of its slot.
	tslotBusy  = -2
	wheelSlots = 256
	// wheelTick is the resolution of connection timeouts: a connection
	// times out at most a tick after its deadline, and the loop's
	// latency.
	wheelTick = 50 * time.Millisecond
	tickMs    = int64(wheelTick / time.Millisecond)

	// maxTimeout bounds every connection timeout: a longer one counts as
	// this long (about 12 days). It keeps a deadline in an int32 of
	// milliseconds while the clock stays below rebaseAt.
	maxTimeout = (1<<30 - 1) * time.Millisecond
	// rebaseAt is when the millisecond clock moves its zero forward
	// (rebase), by a whole number of wheel turns; about 12 days.
	rebaseAt = 1 << 30
)

// timingWheel is the loop's timing wheel, embedded in loopState.
// Connections with a timeout sit in the slot of their deadline (rounded
// up to a tick), or of an earlier tick. Activity only stores a time in
// the connection; a connection moves to a later slot only when its slot
// comes up and its deadline turns out to be later (libev's "move the
// timer only when it would fire"), to an earlier one at once. One Timer
// is set for the first tick whose slot holds a connection, not for every
// tick: a loop whose connections wait for far deadlines wakes once a
// wheel turn (12.8 s) at most, for each slot they fill, as nginx's wakes
// for its earliest timer.
type timingWheel struct {
	wheel  [wheelSlots]*Conn
	used   [wheelSlots / 64]uint64 // bit i: wheel[i] holds a connection
	timed  int                     // connections in the wheel
	tick   int64                   // index of the next slot to process, in ticks since msBase
	armed  int64                   // the tick the ticker is set for, when it is active
	ticker eddy.Timer
	// msBase is the zero of the connections' times, in milliseconds
	// since loopState.base; rebase moves it.
	msBase int64
	inTick bool // onTick is running: a rebase waits for the next one
}

// stamp returns the loop's time in milliseconds since msBase, rounded up:
// the time of activity, and the base of a deadline.
func (s *loopState) stamp() int32 {
	if s.msNow()+1 >= rebaseAt && !s.inTick { // rounded up, it may be rebaseAt
		s.rebase()
	}
	return int32((s.now()+int64(time.Millisecond)-1)/int64(time.Millisecond) - s.msBase)
}

// msNow returns the loop's time in milliseconds since msBase, rounded
// down: what has come by now.
func (s *loopState) msNow() int64 {
	return s.now()/int64(time.Millisecond) - s.msBase
}

// after returns the deadline d from now.
func (s *loopState) after(d time.Duration) int32 {
	return s.stamp() + msDur(d)
}

// msDur returns d in milliseconds, rounded up, between 0 and maxTimeout.
func msDur(d time.Duration) int32 {
	d = min(max(d, 0), maxTimeout)
	return int32((d + time.Millisecond - 1) / time.Millisecond)
}

// rebase moves msBase forward by whole turns of the wheel, so that the
// times kept in int32 never overflow however long the loop runs, and
// shifts every connection's times by as much. Times long past are kept
// as long past: a deadline at 0, an activity time at -rebaseAt (as old as
// the longest timeout).
func (s *loopState) rebase() {
	turn := tickMs * wheelSlots
	shift := s.msNow() / turn * turn
	if shift <= 0 {
		return
	}
	s.msBase += shift
	ticks := shift / tickMs // a whole number of turns: slots stay put
	s.tick -= ticks
	s.armed -= ticks
	past := func(v int32) int32 { return int32(max(int64(v)-shift, -rebaseAt)) }
	deadline := func(v int32) int32 {
		if v < 0 {
			return v
		}
		return int32(max(int64(v)-shift, 0))
	}
	for _, c := range s.conns {
		t := c.tm
		if t == nil {
			continue
		}
		t.lastRead, t.lastWrite = past(t.lastRead), past(t.lastWrite)
		t.connDL, t.alarm = deadline(t.connDL), deadline(t.alarm)
		if t.at >= 0 {
			t.at -= int32(ticks)
		}
	}
}

func (c *Conn) timing() *timing {
	if c.tm == nil {
		now := c.sh.ls.stamp()
		c.tm = &timing{lastRead: now, lastWrite: now, connDL: -1, alarm: -1, at: -1}
	}
	return c.tm
}

// deadline returns c's earliest deadline, or -1.
func (c *Conn) deadline() int64 {
	dl := c.failAt()
	if c.tm != nil && c.flags&fClosed == 0 {
		if a := int64(c.tm.alarm); a >= 0 && (dl < 0 || a < dl) {
			dl = a
		}
	}
	return dl
}

// failAt returns when c times out (dial, idle or write timeout), or -1.
func (c *Conn) failAt() int64 {
	t := c.tm
	if t == nil || c.flags&fClosed != 0 {
		return -1
	}
	dl := int64(-1)
	earliest := func(d int64) {
		if dl < 0 || d < dl {
			dl = d
		}
	}
	if c.flags&fConnecting != 0 {
		if t.connDL >= 0 {
			earliest(int64(t.connDL))
		}
		return dl
	}
	if c.flags&fHandshake != 0 && t.connDL >= 0 {
		earliest(int64(t.connDL)) // the TLS handshake's deadline
	}
	if t.idle > 0 {
		earliest(int64(t.lastRead) + int64(t.idle))
	}
	if t.wto > 0 && c.q != nil {
		earliest(int64(t.lastWrite) + int64(t.wto))
	}
	return dl
}

// expire is the wheel's verdict on c, now: it fails with ErrTimeout if
// one of its timeouts has passed, else its SetTimer time, if come, rings.
func (c *Conn) expire(now int64) {
	if dl := c.failAt(); dl >= 0 && dl <= now {
		if c.flags&fHandshake != 0 {
			c.fail(errHandshakeTimeout)
			return
		}
		c.fail(ErrTimeout)
		return
	}
	t := c.tm
	if c.closed() || t.alarm < 0 || int64(t.alarm) > now {
		return
	}
	t.alarm = -1
	f := c.handler().OnTimer
	if f == nil {
		c.fail(ErrTimeout)
		return
	}
	c.flags |= fInCb
	f(c)
	c.leave()
}

// SetIdleTimeout closes the connection with ErrTimeout when nothing is
// read from it for d, counted from now and from every read; zero turns it
// off. Cheap: it costs no timer or goroutine of its own. Like every
// connection timeout it is kept to the millisecond, rounded up, and at
// most about 12 days: a longer one counts as 12 days.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.idle = msDur(d)
	t.lastRead = c.sh.ls.stamp()
	c.sh.ls.schedule(c)
}

// SetWriteTimeout closes the connection with ErrTimeout when its output
// queue is not empty and the kernel took none of it for d; zero turns it
// off. As with SetIdleTimeout, d counts to the millisecond, up to 12 days.
func (c *Conn) SetWriteTimeout(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.wto = msDur(d)
	t.lastWrite = c.sh.ls.stamp()
	c.sh.ls.schedule(c)
}

// SetTimer makes the handler's OnTimer run once, d from now; without an
// OnTimer, the connection is then closed with ErrTimeout: a deadline. A
// later call replaces the time, StopTimer cancels it, and closing the
// connection forgets it. Like the idle and write timeouts it costs no
// timer or goroutine of its own: it rings from the loop's timing wheel,
// never early and at most a tick (50 ms) late, so it suits timeouts,
// not precise scheduling (for that, an eddy.Timer); d longer than 12 days
// counts as 12 days. On a connection still connecting, OnTimer may run
// before OnOpen.
func (c *Conn) SetTimer(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.alarm = c.sh.ls.after(d)
	c.sh.ls.schedule(c)
}

// StopTimer cancels the time set with SetTimer, if any.
func (c *Conn) StopTimer() {
	if c.tm == nil || c.tm.alarm < 0 || c.closed() {
		return
	}
	c.tm.alarm = -1
	c.sh.ls.schedule(c)
}

// schedule puts c in the wheel for its current deadline, or takes it out
// if it has none. A connection already in the slot of an earlier tick
// stays there: when that slot comes up, onTick moves it on. So a deadline
// pushed later (a SetTimer per request, say) costs no relinking.
func (s *loopState) schedule(c *Conn) {
	if c.tm.at == tslotBusy {
		return // onTick is looking at c and will schedule it
	}
	dl := c.deadline()
	if dl < 0 {
		if c.tm.at >= 0 {
			s.unlink(c)
		}
		return
	}
	if s.timed == 0 { // no slot to process until now: the wheel starts here
		s.tick = max(s.tick, s.msNow()/tickMs)
	}
	t := (dl + tickMs - 1) / tickMs
	if t < s.tick {
		t = s.tick
	}
	if at := int64(c.tm.at); at >= 0 {
		if at <= t {
			return // its slot comes up first
		}
		s.unlink(c)
	}
	slot := t % wheelSlots
	c.tm.at = int32(t)
	c.tm.prev = nil
	c.tm.next = s.wheel[slot]
	if c.tm.next != nil {
		c.tm.next.tm.prev = c
	}
	s.wheel[slot] = c
	s.used[slot/64] |= 1 << (slot % 64)
	s.timed++
	if !s.inTick { // else onTick sets the ticker when it ends
		s.arm(s.tick + (t-s.tick)%wheelSlots) // when the slot comes up
	}
}

// arm sets the ticker for tick next, unless it is set for an earlier one.
func (s *loopState) arm(next int64) {
	if s.ticker.IsActive() {
		if s.armed <= next {
			return
		}
		s.ticker.Stop()
	}
	s.armed = next
	d := time.Duration((next*tickMs+s.msBase)*int64(time.Millisecond) - s.now())
	s.ticker.Set(max(d, 0), 0)
	s.ticker.Start(s.loop)
}

// nextTick returns the first tick from s.tick whose slot holds a
// connection; the wheel is not empty.
func (s *loopState) nextTick() int64 {
	from := int(s.tick % wheelSlots)
	const words = wheelSlots / 64
	for i := 0; i <= words; i++ { // the first word twice: from's bit on, then before it
		w := (from/64 + i) % words
		b := s.used[w]
		switch i {
		case 0:
			b &= ^uint64(0) << (from % 64)
		case words:
			b &= 1<<(from%64) - 1
		}
		if b != 0 {
			slot := w*64 + bits.TrailingZeros64(b)
			return s.tick + int64((slot-from+wheelSlots)%wheelSlots)
		}
	}
	return s.tick
}

func (s *loopState) unlink(c *Conn) {
	if c.tm.prev != nil {
		c.tm.prev.tm.next = c.tm.next
	} else {
		slot := c.tm.at % wheelSlots
		s.wheel[slot] = c.tm.next
		if c.tm.next == nil {
			s.used[slot/64] &^= 1 << (slot % 64)
		}
	}
	if c.tm.next != nil {
		c.tm.next.tm.prev = c.tm.prev
	}
	c.tm.prev, c.tm.next, c.tm.at = nil, nil, -1
	s.timed--
	if s.timed == 0 {
		s.ticker.Stop()
	}
}

// onTick processes the slots whose time has come.
func (s *loopState) onTick(*eddy.Timer) {
	if s.msNow() >= rebaseAt {
		s.rebase()
	}
	s.inTick = true
	defer func() { s.inTick = false }()
	now := s.msNow()
	end := now / tickMs
	for s.tick <= end && s.timed > 0 {
		slot := s.tick % wheelSlots
		s.tick++ // before the callbacks: what they schedule goes to a later slot
		c := s.wheel[slot]
		if c == nil {
			continue
		}
		s.wheel[slot] = nil
		s.used[slot/64] &^= 1 << (slot % 64)
		var list *Conn
		for c != nil { // detach the slot: rescheduling may refill it
			next := c.tm.next
			c.tm.next, c.tm.prev = list, nil
			c.tm.at = tslotBusy
			s.timed--
			list = c
			c = next
		}
		for c = list; c != nil; {
			next := c.tm.next
			c.tm.next, c.tm.at = nil, -1
			c.expire(now)
			if !c.closed() {
				s.schedule(c)
			}
			c = next
		}
	}
	if s.tick <= end {
		s.tick = end + 1
	}
	if s.timed == 0 {
		s.ticker.Stop()
	} else {
		s.arm(s.nextTick())
	}
}
