package evnet

// The per-loop state that the loop's connections, listeners and packet
// sockets share: the read buffer, the count of users, and the registry
// of sockets to close when the loop closes. The timing wheel it embeds
// is in timeout.go.

import (
	"slices"
	"sync"

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
	// The TLS layer's (tls.go): the plaintext that records decrypt to,
	// ReadBufferSize bytes allocated on first use, the records crypto/tls
	// writes during one call, before they go to the socket, and the copy
	// of the plaintext given to it.
	plain, records, plainOut []byte
	base                     int64 // the loop's Monotonic when the state was made: now's zero

	// The loop's sockets, closed by loopClosed. A connection knows its
	// index in conns (Conn.slot); listeners and packet sockets are few.
	conns     []*Conn
	listeners []*Listener
	packets   []*PacketConn

	timingWheel // the connections' timeouts (timeout.go)
}

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
		s.ticker.Init(s.onTick, 0, 0)
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
		s.buf, s.plain, s.records, s.plainOut = nil, nil, nil, nil
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
