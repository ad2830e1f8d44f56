package evws

// An incremental UTF-8 validator: a message's text may arrive in pieces
// cut anywhere, even inside a character, and an invalid sequence must fail
// the connection as soon as its first wrong byte is seen (RFC 6455 §8.1),
// not when the message ends.

import "encoding/binary"

// utf8State is where a validation stopped: the continuation bytes still
// expected, and the range the next one must be in (narrower than
// 0x80-0xBF after E0, ED, F0 and F4, which exclude overlong forms,
// surrogates and code points past U+10FFFF). The zero value is the start
// of a text.
type utf8State struct {
	need   uint8
	lo, hi byte
}

// valid feeds p to the validator and reports whether it is, so far, a
// prefix of valid UTF-8. After false, the state is meaningless.
func (s *utf8State) valid(p []byte) bool {
	need, lo, hi := s.need, s.lo, s.hi
	for i := 0; i < len(p); {
		if need == 0 {
			// ASCII, 8 bytes at a time.
			for i+8 <= len(p) && binary.LittleEndian.Uint64(p[i:])&0x8080808080808080 == 0 {
				i += 8
			}
			if i == len(p) {
				break
			}
			b := p[i]
			i++
			switch {
			case b < 0x80:
				continue
			case b < 0xC2:
				return false // continuation byte, or overlong C0/C1
			case b < 0xE0:
				need, lo, hi = 1, 0x80, 0xBF
			case b == 0xE0:
				need, lo, hi = 2, 0xA0, 0xBF
			case b == 0xED:
				need, lo, hi = 2, 0x80, 0x9F
			case b < 0xF0:
				need, lo, hi = 2, 0x80, 0xBF
			case b == 0xF0:
				need, lo, hi = 3, 0x90, 0xBF
			case b < 0xF4:
				need, lo, hi = 3, 0x80, 0xBF
			case b == 0xF4:
				need, lo, hi = 3, 0x80, 0x8F
			default:
				return false
			}
			continue
		}
		b := p[i]
		i++
		if b < lo || b > hi {
			return false
		}
		need--
		lo, hi = 0x80, 0xBF
	}
	s.need, s.lo, s.hi = need, lo, hi
	return true
}

// complete reports whether the text fed so far ends on a character
// boundary.
func (s *utf8State) complete() bool { return s.need == 0 }

// validUTF8 reports whether p is whole, valid UTF-8.
func validUTF8(p []byte) bool {
	var s utf8State
	return s.valid(p) && s.complete()
}
