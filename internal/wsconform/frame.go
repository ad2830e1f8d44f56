package wsconform

import (
	"encoding/binary"
)

// Opcodes of RFC 6455 section 5.2.
const (
	opCont   = 0x0
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xA
)

// wf describes one frame the runner writes. Every field is taken as it is,
// so a case can write what a conforming endpoint never would: reserved
// bits, reserved opcodes, fragmented or oversized control frames.
type wf struct {
	fin     bool
	rsv     byte // 0..7: RSV1 is 4, RSV2 2, RSV3 1
	op      byte
	payload []byte
	badMask bool // masked the wrong way for the writer's side
	zeroKey bool // masked with the key 00 00 00 00
}

func text(s string) wf          { return wf{fin: true, op: opText, payload: []byte(s)} }
func textB(b []byte) wf         { return wf{fin: true, op: opText, payload: b} }
func binary_(b []byte) wf       { return wf{fin: true, op: opBinary, payload: b} }
func ping(b []byte) wf          { return wf{fin: true, op: opPing, payload: b} }
func pong(b []byte) wf          { return wf{fin: true, op: opPong, payload: b} }
func frag(op byte, b []byte) wf { return wf{op: op, payload: b} }
func cont(b []byte, fin bool) wf {
	return wf{fin: fin, op: opCont, payload: b}
}

// closeF is a close frame with a status code and a reason.
func closeF(code int, reason string) wf {
	p := make([]byte, 2, 2+len(reason))
	binary.BigEndian.PutUint16(p, uint16(code))
	return wf{fin: true, op: opClose, payload: append(p, reason...)}
}

// closeRaw is a close frame with the payload as given.
func closeRaw(p []byte) wf { return wf{fin: true, op: opClose, payload: p} }

// appendFrame appends f's encoding to dst, masked with key when mask is
// set. Payload lengths take the shortest form, as RFC 6455 5.2 requires.
func appendFrame(dst []byte, f wf, mask bool, key [4]byte) []byte {
	b0 := f.op & 0xF
	if f.fin {
		b0 |= 0x80
	}
	b0 |= (f.rsv & 7) << 4
	var b1 byte
	if mask {
		b1 = 0x80
	}
	n := len(f.payload)
	switch {
	case n < 126:
		dst = append(dst, b0, b1|byte(n))
	case n < 1<<16:
		dst = append(dst, b0, b1|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, b1|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !mask {
		return append(dst, f.payload...)
	}
	dst = append(dst, key[:]...)
	start := len(dst)
	dst = append(dst, f.payload...)
	maskBytes(dst[start:], key, 0)
	return dst
}

// maskBytes XORs b with key, starting at position pos of the key, and
// returns the position after b.
func maskBytes(b []byte, key [4]byte, pos int) int {
	pos &= 3
	i := 0
	for ; i < len(b) && pos != 0; i++ {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	if len(b)-i >= 8 {
		k := uint64(binary.LittleEndian.Uint32(key[:]))
		k |= k << 32
		for ; len(b)-i >= 8; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[pos]
		pos = (pos + 1) & 3
	}
	return pos
}

// utf8FailAt returns the offset of the first byte at which b stops being
// a prefix of valid UTF-8 (the point where an endpoint validating
// incrementally must fail), or -1 when b is valid UTF-8 or a valid prefix
// cut inside its last code point.
func utf8FailAt(b []byte) int {
	i := 0
	for i < len(b) {
		c := b[i]
		if c < 0x80 {
			i++
			continue
		}
		n := 0
		lo, hi := byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			n = 1
		case c == 0xE0:
			n, lo = 2, 0xA0
		case c == 0xED:
			n, hi = 2, 0x9F
		case c >= 0xE1 && c <= 0xEF:
			n = 2
		case c == 0xF0:
			n, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			n = 3
		case c == 0xF4:
			n, hi = 3, 0x8F
		default:
			return i
		}
		for k := 1; k <= n; k++ {
			if i+k >= len(b) {
				return -1
			}
			x := b[i+k]
			if k > 1 {
				lo, hi = 0x80, 0xBF
			}
			if x < lo || x > hi {
				return i + k
			}
		}
		i += n + 1
	}
	return -1
}
