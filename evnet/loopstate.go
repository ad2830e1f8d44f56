package evnet

import (
	"slices"
	"sync"
	"time"

	"github.com/eddyloop/eddy"
)

// loopState is what evnet keeps per loop: the read buffer all the loop's
// connections share, the timing wheel of their timeouts, and the sockets
// to close when the loop closes. It lives from evnet's first use of the
// loop until the loop closes; refs counts the listeners, connections and
// packet sockets, and the read buffer is freed when it falls to zero.
// Loop goroutine only, except the registry.
type loopState struct {
	loop *eddy.Loop
	refs int
	buf  []byte // ReadBufferSize bytes, allocated on first read
	base int64  // the loop's Monotonic when the state was made: now's zero

	// The loop's sockets, closed by loopClosed. A connection knows its
	// index in conns (Conn.slot); listeners and packet sockets are few.
	conns     []*Conn
	listeners []*Listener
	packets   []*PacketConn

	// The timing wheel: connections with a timeout sit in the slot of their
	// deadline (rounded up to a tick), or of an earlier tick. Activity only
	// stores a time in the connection; a connection moves to a later slot
	// only when its slot comes up and its deadline turns out to be later
	// (libev's "move the timer only when it would fire"), to an earlier
	// one at once. One Timer ticks while the wheel holds any connection.
	wheel  [wheelSlots]*Conn
	timed  int   // connections in the wheel
	tick   int64 // index of the next slot to process, in ticks since base
	ticker eddy.Timer
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

var (
	statesMu sync.Mutex
	states   = map[*eddy.Loop]*loopState{}
)

// acquire returns the state of l, creating it, and counts one more user.
// Loop goroutine only.
func acquire(l *eddy.Loop) *loopState {
	statesMu.Lock()
	defer statesMu.Unlock()
	s := states[l]
	if s == nil {
		s = &loopState{loop: l, base: int64(l.Monotonic())}
		s.ticker.Init(s.onTick, wheelTick, wheelTick)
		if !l.IsClosed() { // else what is made on l fails to start
			states[l] = s
			l.OnClose(s.loopClosed)
		}
	}
	s.refs++
	return s
}

// retain counts one more user of s. Like release, it takes no lock:
// statesMu guards the registry only, and refs is the loop's.
func (s *loopState) retain() { s.refs++ }

// release counts one user less, and frees the read buffer with the last.
func (s *loopState) release() {
	s.refs--
	if s.refs == 0 {
		s.ticker.Stop()
		s.buf = nil
	}
}

// loopClosed closes the loop's sockets when the loop closes (its watchers
// are stopped by then, and it refuses new ones): every connection at once
// with the reason eddy.ErrClosed, reset if output was still queued; every
// listener; every packet socket, whose OnClose gets eddy.ErrClosed. Then
// it forgets the state.
func (s *loopState) loopClosed() {
	for len(s.conns) > 0 {
		s.conns[len(s.conns)-1].loopClosed()
	}
	for len(s.listeners) > 0 {
		s.listeners[len(s.listeners)-1].Close()
	}
	for len(s.packets) > 0 {
		s.packets[len(s.packets)-1].closeWith(eddy.ErrClosed)
	}
	statesMu.Lock()
	if states[s.loop] == s {
		delete(states, s.loop)
	}
	statesMu.Unlock()
}

// track adds c, whose descriptor is now watched, to s.conns.
func (s *loopState) track(c *Conn) {
	c.slot = int32(len(s.conns))
	s.conns = append(s.conns, c)
}

// forget takes c out of s.conns.
func (s *loopState) forget(c *Conn) {
	i, last := c.slot, len(s.conns)-1
	if i < 0 || int(i) > last || s.conns[i] != c {
		return
	}
	s.conns[i] = s.conns[last]
	s.conns[i].slot = i
	s.conns[last] = nil
	s.conns = s.conns[:last]
	c.slot = -1
}

// remove deletes v from the small list *list, if it is there.
func remove[T comparable](list *[]T, v T) {
	if i := slices.Index(*list, v); i >= 0 {
		*list = slices.Delete(*list, i, i+1)
	}
}

// readBuf returns the shared read buffer.
func (s *loopState) readBuf() []byte {
	if s.buf == nil {
		s.buf = make([]byte, ReadBufferSize)
	}
	return s.buf
}

// now returns the loop's cached time as nanoseconds since s.base.
func (s *loopState) now() int64 { return int64(s.loop.Monotonic()) - s.base }

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
