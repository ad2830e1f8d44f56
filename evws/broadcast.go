package evws

// Broadcast: a message framed (and compressed) once, and the same bytes
// queued by reference on every connection it goes to.

import (
	"compress/flate"
	"sync"
)

// Prepared is a message framed once for many server connections: its
// frame (its fragments, for a message over 1 MiB, which is paced as
// WriteMessage paces it) is built (and, for permessage-deflate, compressed) when it is
// made, and WritePrepared hands the same immutable bytes to each
// connection, which queues them by reference (evnet.Conn.WriteShared):
// sending it to N connections costs no copy, no compression and no
// allocation per connection. A Prepared is immutable and may be sent from
// any loop. Client connections, whose frames are masked each with its own
// key, frame it again.
type Prepared struct {
	op   Opcode
	data []byte
	// plain and z are the message's frames, unmasked, plain and compressed
	// (nil without deflate): one frame, or fragments of fragBytes for a
	// message over paceBytes, sent as the queue drains.
	plain, z [][]byte
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
	m.plain = frames(op, 0, p)
	if len(m.plain) == 1 {
		m.data = m.plain[0][len(m.plain[0])-len(p):]
	} else {
		m.data = append([]byte(nil), p...)
	}
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
		m.z = frames(op, bitRSV1, s.b[:len(s.b)-4])
	}
	return m, nil
}

// frames frames payload as one message, in one buffer: one frame, or
// fragments of fragBytes when it is over paceBytes.
func frames(op Opcode, rsv byte, payload []byte) [][]byte {
	if len(payload) <= paceBytes {
		b := appendHeader(make([]byte, 0, maxHeader+len(payload)), true, rsv, op, len(payload), false, [4]byte{})
		return [][]byte{append(b, payload...)}
	}
	n := (len(payload) + fragBytes - 1) / fragBytes
	buf := make([]byte, 0, len(payload)+n*maxHeader)
	fs := make([][]byte, 0, n)
	for off := 0; off < len(payload); off += fragBytes {
		end := min(off+fragBytes, len(payload))
		start := len(buf)
		buf = appendHeader(buf, end == len(payload), rsv, op, end-off, false, [4]byte{})
		buf = append(buf, payload[off:end]...)
		fs = append(fs, buf[start:len(buf):len(buf)])
		op, rsv = Continuation, 0
	}
	return fs
}

// framesOf returns the frames of m that c sends: the compressed ones on a
// connection that negotiated permessage-deflate (when m has them and the
// peer's window allows), the plain ones otherwise.
func (c *Conn) framesOf(m *Prepared) [][]byte {
	if c.flags&fDeflate != 0 && m.z != nil && len(m.data) <= c.maxCompress() {
		return m.z
	}
	return m.plain
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
	fs := c.framesOf(m)
	if c.queued() >= c.cfg.MaxQueuedBytes || c.paced != nil {
		return c.queueFull()
	}
	if len(fs) > 1 {
		c.paced = &pacedMsg{frames: fs}
		return c.pump()
	}
	_, err := c.nc.WriteShared(fs[0])
	return err
}
