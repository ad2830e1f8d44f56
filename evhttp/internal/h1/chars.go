package h1

// The lexical level of the grammar: byte classes, tokens, field values,
// and the elements of comma-separated lists (HasToken). Case folding is
// package ascii's.

import "github.com/eddyloop/eddy/internal/ascii"

// Byte classes, as bits of one table indexed by byte value.
const (
	cTchar  uint8 = 1 << iota // tchar (RFC 9110 §5.6.2): the bytes of a token
	cValue                    // field-vchar, SP or HTAB (RFC 9110 §5.5): the bytes of a field value
	cTarget                   // a byte allowed in a request-target: visible ASCII (0x21-0x7E)
	cHost                     // a byte allowed in a Host value: reg-name, IP-literal and port bytes (RFC 3986 §3.2)
	cHex                      // HEXDIG
	cScheme                   // a byte allowed after the first letter of a URI scheme (RFC 3986 §3.1)
)

// class holds the byte classes of every byte value.
var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		alpha := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		digit := '0' <= c && c <= '9'
		if alpha || digit || contains("!#$%&'*+-.^_`|~", c) {
			t[c] |= cTchar
		}
		if c == '\t' || c >= 0x20 && c != 0x7f {
			t[c] |= cValue
		}
		if 0x21 <= c && c <= 0x7e {
			t[c] |= cTarget
		}
		if alpha || digit || contains("-._~!$&'()*+,;=%:[]", c) {
			t[c] |= cHost
		}
		if digit || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' {
			t[c] |= cHex
		}
		if alpha || digit || contains("+-.", c) {
			t[c] |= cScheme
		}
	}
	return t
}()

func contains(s string, c int) bool {
	for i := 0; i < len(s); i++ {
		if int(s[i]) == c {
			return true
		}
	}
	return false
}

func isTchar(c byte) bool { return class[c]&cTchar != 0 }
func isValue(c byte) bool { return class[c]&cValue != 0 }
func isWS(c byte) bool    { return c == ' ' || c == '\t' }

// TrimOWS returns b without leading and trailing SP and HTAB (optional
// white space, RFC 9110 §5.6.3).
func TrimOWS(b []byte) []byte {
	for len(b) > 0 && isWS(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isWS(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// isToken reports whether b is a non-empty token.
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if !isTchar(c) {
			return false
		}
	}
	return true
}

// nextElement returns the next element of the comma-separated list v
// (RFC 9110 §5.6.1) at or after offset i, with OWS trimmed, and the offset
// just past it and its comma. Commas inside quoted strings do not split.
// ok is false when v has no more elements; bad is true when a quoted string
// is not terminated. Empty elements are returned as empty slices, so that
// callers can decide whether to ignore them.
func nextElement(v []byte, i int) (elem []byte, next int, ok, bad bool) {
	if i > len(v) {
		return nil, i, false, false
	}
	start := i
	quoted := false
	for ; i < len(v); i++ {
		c := v[i]
		switch {
		case quoted && c == '\\':
			i++
			if i == len(v) {
				return nil, i, false, true
			}
		case c == '"':
			quoted = !quoted
		case c == ',' && !quoted:
			return TrimOWS(v[start:i]), i + 1, true, false
		}
	}
	if quoted {
		return nil, i, false, true
	}
	return TrimOWS(v[start:]), len(v) + 1, true, false
}

// HasToken reports whether the comma-separated list value contains token,
// compared without regard to ASCII case, as for Connection or TE values.
// It does not allocate.
func HasToken(value []byte, token string) bool {
	for i := 0; ; {
		e, next, ok, _ := nextElement(value, i)
		if !ok {
			return false
		}
		if ascii.EqualFold(e, token) {
			return true
		}
		i = next
	}
}
