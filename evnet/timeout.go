package evnet

// Timeouts: a connection's deadlines (idle, write and dial timeouts, and
// SetTimer), and the loop's timing wheel that checks them, one Timer per
// loop however many connections have a timeout.

import (
	"time"

	"github.com/eddyloop/eddy"
)

// timing holds the timeouts of a connection, and its links in the loop's
// timing wheel. Times are nanoseconds since loopState.base.
type timing struct {
	idle, wto  int64
	lastRead   int64
	lastWrite  int64
	connDL     int64 // dial deadline, or -1
	alarm      int64 // SetTimer's time, or -1
	prev, next *Conn
	// at is the tick whose slot holds the connection (slot at%wheelSlots),
	// -1 when it is not in the wheel, tslotBusy while onTick has it.
	at int64
}

const (
	// tslotBusy marks a connection that onTick has taken out of its slot.
	tslotBusy  = -2
	wheelSlots = 256
	// wheelTick is the resolution of connection timeouts: a connection
	// times out at most two ticks after its deadline (the ticker's phase
	// is its start's, not the slots').
	wheelTick = 50 * time.Millisecond
)

// timingWheel is the loop's timing wheel, embedded in loopState.
// Connections with a timeout sit in the slot of their deadline (rounded
// up to a tick), or of an earlier tick. Activity only stores a time in
// the connection; a connection moves to a later slot only when its slot
// comes up and its deadline turns out to be later (libev's "move the
// timer only when it would fire"), to an earlier one at once. One Timer
// ticks while the wheel holds any connection.
type timingWheel struct {
	wheel  [wheelSlots]*Conn
	timed  int   // connections in the wheel
	tick   int64 // index of the next slot to process, in ticks since base
	ticker eddy.Timer
}

func (c *Conn) timing() *timing {
	if c.tm == nil {
		now := c.sh.ls.now()
		c.tm = &timing{lastRead: now, lastWrite: now, connDL: -1, alarm: -1, at: -1}
	}
	return c.tm
}

// deadline returns c's earliest deadline, or -1.
func (c *Conn) deadline() int64 {
	dl := c.failAt()
	if c.tm != nil && c.flags&fClosed == 0 {
		if a := c.tm.alarm; a >= 0 && (dl < 0 || a < dl) {
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
			earliest(t.connDL)
		}
		return dl
	}
	if c.flags&fHandshake != 0 && t.connDL >= 0 {
		earliest(t.connDL) // the TLS handshake's deadline
	}
	if t.idle > 0 {
		earliest(t.lastRead + t.idle)
	}
	if t.wto > 0 && c.q != nil {
		earliest(t.lastWrite + t.wto)
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
	if c.closed() || t.alarm < 0 || t.alarm > now {
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
// off. Cheap: it costs no timer or goroutine of its own.
func (c *Conn) SetIdleTimeout(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.idle = int64(max(d, 0))
	t.lastRead = c.sh.ls.now()
	c.sh.ls.schedule(c)
}

// SetWriteTimeout closes the connection with ErrTimeout when its output
// queue is not empty and the kernel took none of it for d; zero turns it
// off.
func (c *Conn) SetWriteTimeout(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.wto = int64(max(d, 0))
	t.lastWrite = c.sh.ls.now()
	c.sh.ls.schedule(c)
}

// SetTimer makes the handler's OnTimer run once, d from now; without an
// OnTimer, the connection is then closed with ErrTimeout: a deadline. A
// later call replaces the time, StopTimer cancels it, and closing the
// connection forgets it. Like the idle and write timeouts it costs no
// timer or goroutine of its own: it rings from the loop's timing wheel,
// never early and at most two ticks (100 ms) late, so it suits timeouts,
// not precise scheduling (for that, an eddy.Timer). On a connection still
// connecting, OnTimer may run before OnOpen.
func (c *Conn) SetTimer(d time.Duration) {
	if c.closed() {
		return
	}
	t := c.timing()
	t.alarm = c.sh.ls.now() + int64(max(d, 0))
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
	if !s.ticker.IsActive() {
		s.tick = max(s.tick, s.now()/int64(wheelTick))
	}
	t := (dl + int64(wheelTick) - 1) / int64(wheelTick)
	if t < s.tick {
		t = s.tick
	}
	if at := c.tm.at; at >= 0 {
		if at <= t {
			return // its slot comes up first
		}
		s.unlink(c)
	}
	slot := t % wheelSlots
	c.tm.at = t
	c.tm.prev = nil
	c.tm.next = s.wheel[slot]
	if c.tm.next != nil {
		c.tm.next.tm.prev = c
	}
	s.wheel[slot] = c
	s.timed++
	if s.timed == 1 {
		s.ticker.Start(s.loop)
	}
}

func (s *loopState) unlink(c *Conn) {
	if c.tm.prev != nil {
		c.tm.prev.tm.next = c.tm.next
	} else {
		s.wheel[c.tm.at%wheelSlots] = c.tm.next
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
	now := s.now()
	end := now / int64(wheelTick)
	for s.tick <= end && s.timed > 0 {
		slot := s.tick % wheelSlots
		s.tick++ // before the callbacks: what they schedule goes to a later slot
		c := s.wheel[slot]
		s.wheel[slot] = nil
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
	if s.timed == 0 {
		s.ticker.Stop()
	}
	if s.tick <= end {
		s.tick = end + 1
	}
}
