package evws

// Broadcast: a message framed (and compressed) once, and the same bytes
// queued by reference on every connection it goes to.

import (
	"compress/flate"
	"sync"
)

// Prepared is a message framed once for many server connections: its
// frame is built (and, for permessage-deflate, compressed) when it is
// made, and WritePrepared hands the same immutable bytes to each
// connection, which queues them by reference (evnet.Conn.WriteShared):
// sending it to N connections costs no copy, no compression and no
// allocation per connection. A Prepared is immutable and may be sent from
// any loop. Client connections, whose frames are masked each with its own
// key, frame it again.
type Prepared struct {
	op    Opcode
	data  []byte
	plain []byte // the unmasked frame
	z     []byte // the compressed frame (RSV1), or nil
}

// flatePool holds the compressors of NewPrepared, which may run on any
// goroutine.
var flatePool sync.Pool

// NewPrepared frames p, copied, as a message of type op (Text or Binary);
// with deflate, a compressed frame is made too, for the connections that
// negotiated permessage-deflate.
func NewPrepared(op Opcode, p []byte, deflate bool) (*Prepared, error) {
	if op != Text && op != Binary {
		return nil, ErrOpcode
	}
	m := &Prepared{op: op}
	m.plain = appendHeader(make([]byte, 0, maxHeader+len(p)), true, 0, op, len(p), false, [4]byte{})
	hl := len(m.plain)
	m.plain = append(m.plain, p...)
	m.data = m.plain[hl:]
	if deflate {
		var s sink
		fw, _ := flatePool.Get().(*flate.Writer)
		if fw == nil {
			fw, _ = flate.NewWriter(&s, flate.BestSpeed)
		}
		fw.Reset(&s)
		fw.Write(p)
		fw.Flush()
		flatePool.Put(fw)
		zb := s.b[:len(s.b)-4]
		m.z = appendHeader(make([]byte, 0, maxHeader+len(zb)), true, bitRSV1, op, len(zb), false, [4]byte{})
		m.z = append(m.z, zb...)
	}
	return m, nil
}

// WritePrepared sends a prepared message: its compressed frame on a
// connection that negotiated permessage-deflate (when it has one and the
// peer's window allows), its plain frame otherwise. The queue limit and
// policy are WriteMessage's.
func (c *Conn) WritePrepared(m *Prepared) error {
	switch {
	case c.sending != 0:
		return ErrOpcode
	case c.flags&fCloseSent != 0:
		return ErrClosed
	case c.nc == nil:
		return ErrNotOpen
	}
	if c.flags&fClient != 0 {
		return c.WriteMessage(m.op, m.data)
	}
	frame := m.plain
	if c.flags&fDeflate != 0 && m.z != nil && len(m.data) <= c.maxCompress() {
		frame = m.z
	}
	if c.queued() >= c.cfg.MaxQueuedBytes || c.paced != nil {
		return c.queueFull()
	}
	_, err := c.nc.WriteShared(frame)
	return err
}
