package evws

// The opening handshake's pure parts (RFC 6455 §4): the key and its
// accept value, token lists, and the extension header's grammar (RFC 6455
// §9.1), which permessage-deflate's parameters (RFC 7692 §7) are read
// from.

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"strings"
)

// acceptGUID is the GUID of RFC 6455 §1.3, appended to the client's key.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey returns the Sec-WebSocket-Accept value for a client's
// Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	var sum [sha1.Size]byte
	return base64.StdEncoding.EncodeToString(h.Sum(sum[:0]))
}

// validKey reports whether key is a valid Sec-WebSocket-Key: the base64
// encoding of 16 bytes (RFC 6455 §4.2.1, item 5).
func validKey(key []byte) bool {
	if len(key) != 24 {
		return false
	}
	var dst [18]byte
	n, err := base64.StdEncoding.Decode(dst[:], key)
	return err == nil && n == 16
}

// hasToken reports whether the comma-separated list v holds token,
// compared without regard to ASCII case.
func hasToken(v, token string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// extParam is one parameter of an extension offer or response.
type extParam struct {
	name, value string
	hasValue    bool
}

// extension is one element of a Sec-WebSocket-Extensions list: an
// extension's name and its parameters.
type extension struct {
	name   string
	params []extParam
}

// errExtSyntax is a Sec-WebSocket-Extensions value that breaks the
// grammar of RFC 6455 §9.1.
var errExtSyntax = errors.New("evws: malformed Sec-WebSocket-Extensions")

// isTokenChar reports whether c may appear in an RFC 7230 token.
func isTokenChar(c byte) bool {
	if c <= ' ' || c >= 0x7f {
		return false
	}
	return !strings.ContainsRune("()<>@,;:\\\"/[]?={}", rune(c))
}

// extLexer reads a Sec-WebSocket-Extensions value.
type extLexer struct{ s string }

func (x *extLexer) skipSpace() {
	for x.s != "" && (x.s[0] == ' ' || x.s[0] == '\t') {
		x.s = x.s[1:]
	}
}

func (x *extLexer) token() string {
	x.skipSpace()
	i := 0
	for i < len(x.s) && isTokenChar(x.s[i]) {
		i++
	}
	t := x.s[:i]
	x.s = x.s[i:]
	x.skipSpace()
	return t
}

// value reads a parameter's value: a token or a quoted string whose
// unquoted content must itself be a token (RFC 6455 §9.1).
func (x *extLexer) value() (string, bool) {
	x.skipSpace()
	if x.s == "" || x.s[0] != '"' {
		t := x.token()
		return t, t != ""
	}
	var b strings.Builder
	i := 1
	for ; i < len(x.s) && x.s[i] != '"'; i++ {
		c := x.s[i]
		if c == '\\' {
			i++
			if i == len(x.s) {
				return "", false
			}
			c = x.s[i]
		}
		b.WriteByte(c)
	}
	if i == len(x.s) {
		return "", false
	}
	x.s = x.s[i+1:]
	x.skipSpace()
	v := b.String()
	for j := 0; j < len(v); j++ {
		if !isTokenChar(v[j]) {
			return "", false
		}
	}
	return v, v != ""
}

// parseExtensions appends the extensions listed in v, one header field's
// value, to dst.
func parseExtensions(dst []extension, v string) ([]extension, error) {
	x := extLexer{s: v}
	for {
		x.skipSpace()
		if x.s == "" {
			return dst, nil
		}
		if x.s[0] == ',' { // empty list elements are allowed
			x.s = x.s[1:]
			continue
		}
		e := extension{name: x.token()}
		if e.name == "" {
			return dst, errExtSyntax
		}
		for x.s != "" && x.s[0] == ';' {
			x.s = x.s[1:]
			p := extParam{name: x.token()}
			if p.name == "" {
				return dst, errExtSyntax
			}
			if x.s != "" && x.s[0] == '=' {
				x.s = x.s[1:]
				var ok bool
				if p.value, ok = x.value(); !ok {
					return dst, errExtSyntax
				}
				p.hasValue = true
			}
			e.params = append(e.params, p)
		}
		dst = append(dst, e)
		switch {
		case x.s == "":
			return dst, nil
		case x.s[0] == ',':
			x.s = x.s[1:]
		default:
			return dst, errExtSyntax
		}
	}
}
