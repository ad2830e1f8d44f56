package evws

// The wire format of RFC 6455 §5: frame headers read and written from
// buffers, with no connection behind them, and masking.

import (
	"encoding/binary"
	"errors"
)

// Opcode is the opcode of a frame (RFC 6455 §5.2): the kind of a message
// (Text, Binary) or of a control frame (Close, Ping, Pong).
type Opcode uint8

// The opcodes of RFC 6455 §11.8.
const (
	Continuation Opcode = 0x0
	Text         Opcode = 0x1
	Binary       Opcode = 0x2
	Close        Opcode = 0x8
	Ping         Opcode = 0x9
	Pong         Opcode = 0xA
)

// String returns the opcode's name, or its number for an unknown one.
func (op Opcode) String() string {
	switch op {
	case Continuation:
		return "continuation"
	case Text:
		return "text"
	case Binary:
		return "binary"
	case Close:
		return "close"
	case Ping:
		return "ping"
	case Pong:
		return "pong"
	}
	return "opcode " + string("0123456789abcdef"[op&15])
}

// IsControl reports whether op is the opcode of a control frame.
func (op Opcode) IsControl() bool { return op&0x8 != 0 }

// The bits of a frame's first byte.
const (
	bitFin  = 0x80
	bitRSV1 = 0x40
	bitRSV2 = 0x20
	bitRSV3 = 0x10
	bitMask = 0x80
)

// maxControl is the largest payload of a control frame (RFC 6455 §5.5).
const maxControl = 125

// maxHeader is the longest frame header: 2 bytes, 8 of length, 4 of mask.
const maxHeader = 14

// frameHeader is a parsed frame header.
type frameHeader struct {
	fin    bool
	rsv    byte // the RSV1-3 bits, in place (0x70)
	op     Opcode
	masked bool
	mask   [4]byte
	length uint64
}

// errFrameLength is a 64-bit length with its most significant bit set.
var errFrameLength = errors.New("evws: frame length out of range")

// parseHeader reads a frame header from the start of p. It returns the
// header and its length in bytes, or n == 0 when p does not hold the whole
// header yet. It checks only what the header alone says is wrong (a length
// with its top bit set); the rules that depend on the connection (masking,
// reserved bits, opcodes, control frames) are the reader's.
func parseHeader(p []byte) (h frameHeader, n int, err error) {
	if len(p) < 2 {
		return h, 0, nil
	}
	b0, b1 := p[0], p[1]
	h.fin = b0&bitFin != 0
	h.rsv = b0 & (bitRSV1 | bitRSV2 | bitRSV3)
	h.op = Opcode(b0 & 0x0f)
	h.masked = b1&bitMask != 0
	n = 2
	switch l := b1 & 0x7f; l {
	case 126:
		if len(p) < 4 {
			return h, 0, nil
		}
		h.length = uint64(binary.BigEndian.Uint16(p[2:]))
		n = 4
	case 127:
		if len(p) < 10 {
			return h, 0, nil
		}
		h.length = binary.BigEndian.Uint64(p[2:])
		if h.length>>63 != 0 {
			return h, 0, errFrameLength
		}
		n = 10
	default:
		h.length = uint64(l)
	}
	if h.masked {
		if len(p) < n+4 {
			return h, 0, nil
		}
		copy(h.mask[:], p[n:n+4])
		n += 4
	}
	return h, n, nil
}

// appendHeader appends a frame header to b: fin, the reserved bits rsv
// (0x40 for a compressed message's first frame), the opcode, the payload
// length and, when masked, the mask key.
func appendHeader(b []byte, fin bool, rsv byte, op Opcode, length int, masked bool, mask [4]byte) []byte {
	b0 := rsv | byte(op)
	if fin {
		b0 |= bitFin
	}
	var b1 byte
	if masked {
		b1 = bitMask
	}
	switch {
	case length <= 125:
		b = append(b, b0, b1|byte(length))
	case length <= 0xffff:
		b = append(b, b0, b1|126, byte(length>>8), byte(length))
	default:
		b = append(b, b0, b1|127)
		b = binary.BigEndian.AppendUint64(b, uint64(length))
	}
	if masked {
		b = append(b, mask[:]...)
	}
	return b
}

// maskBytes applies the mask key to b in place, b starting at offset pos
// of the payload, and returns the offset after b.
func maskBytes(key [4]byte, pos int, b []byte) int {
	if len(b) >= 16 {
		// Rotate the key to the current position, then 8 bytes at a time.
		var k [8]byte
		for i := range 8 {
			k[i] = key[(pos+i)&3]
		}
		k64 := binary.LittleEndian.Uint64(k[:])
		for len(b) >= 8 {
			binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k64)
			b = b[8:]
		}
		// pos advanced by a multiple of 8: its residue mod 4 is unchanged.
	}
	for i := range b {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}
