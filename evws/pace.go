package evws

// Pacing: a message larger than paceBytes is not handed to evnet whole,
// whose output queue has a hard cap (evnet.ConnConfig.MaxBuffered, 8 MiB
// by default) that a 16 MiB echo would pass. It is copied once into a
// buffer of the connection's and sent as fragments of fragBytes while
// evnet's queue holds less than paceBytes, the rest as the queue drains
// (OnDrain). Control frames (a Pong, a Close) go between two fragments.

// paceBytes is the largest message handed to evnet at once, and how full
// evnet's queue may get with the fragments of a paced message.
const paceBytes = 1 << 20

// fragBytes is the payload of each fragment of a paced message.
const fragBytes = 256 << 10

// pacedMsg is a message being sent in fragments.
type pacedMsg struct {
	// frames, if set, are a Prepared message's fragments, shared, sent
	// from next on; buf and the rest are unused then.
	frames [][]byte
	next   int

	buf     []byte // the payload (compressed, if rsv says so)
	off     int    // the bytes sent
	op      Opcode
	rsv     byte
	started bool // the first fragment is out
}

// writePaced starts sending a large payload in fragments.
func (c *Conn) writePaced(op Opcode, rsv byte, p []byte) error {
	c.paced = &pacedMsg{buf: append([]byte(nil), p...), op: op, rsv: rsv}
	return c.pump()
}

// pump writes fragments of the paced message while evnet's queue has
// room, and forgets the message once its last fragment is out.
func (c *Conn) pump() error {
	m := c.paced
	for m != nil && m.frames != nil && c.nc.Buffered() < paceBytes {
		if _, err := c.nc.WriteShared(m.frames[m.next]); err != nil {
			c.paced = nil
			return err
		}
		if m.next++; m.next == len(m.frames) {
			c.paced = nil
			return nil
		}
	}
	for m != nil && m.frames == nil && c.nc.Buffered() < paceBytes {
		n := min(len(m.buf)-m.off, fragBytes)
		last := m.off+n == len(m.buf)
		op, rsv := m.op, m.rsv
		if m.started {
			op, rsv = Continuation, 0
		}
		if err := c.writeFrameFin(last, op, rsv, m.buf[m.off:m.off+n]); err != nil {
			c.paced = nil
			return err
		}
		m.started = true
		m.off += n
		if last {
			c.paced = nil
			return nil
		}
	}
	return nil
}

// pacedLeft returns the bytes of the paced message not handed to evnet.
func (c *Conn) pacedLeft() int {
	m := c.paced
	if m == nil {
		return 0
	}
	n := len(m.buf) - m.off
	for _, f := range m.frames[m.next:] {
		n += len(f)
	}
	return n
}
