// Package ascii holds the ASCII case folding that protocol code needs:
// header names, tokens, schemes and DNS names compare without regard to
// ASCII case and never by Unicode rules (strings.EqualFold folds 'K' and
// the Kelvin sign together; HTTP and DNS must not). It is the one home of
// these functions in the module, as net/http/internal/ascii is in Go's.
// Nothing here allocates unless it returns a new string.
package ascii

// text is a string or a byte slice: the functions take either, so callers
// compare a parsed []byte with a string constant without converting.
type text interface{ ~string | ~[]byte }

// Lower returns c in lower case if it is an ASCII upper-case letter, and c
// otherwise.
func Lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// EqualFold reports whether a and b are equal under ASCII case folding:
// bytes outside A-Z and a-z must be equal as they are.
func EqualFold[A, B text](a A, b B) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if Lower(a[i]) != Lower(b[i]) {
			return false
		}
	}
	return true
}

// ToLower returns s with its ASCII upper-case letters in lower case. It
// returns s itself, without allocating, when s has none.
func ToLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = Lower(b[j])
			}
			return string(b)
		}
	}
	return s
}
