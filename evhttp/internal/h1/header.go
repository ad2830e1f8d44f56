package h1

// Header fields: as parsed (Header, Headers) and looked up; the checks of
// names and values; a head's end found and its field lines split.

import "github.com/eddyloop/eddy/internal/ascii"

// Header is one field line of a head or trailer section. Name and Value
// are sub-slices of the buffer that was parsed, with the original bytes
// and case; Value has its leading and trailing whitespace removed. Both
// have their capacity cut to their length, so appending to them copies.
type Header struct {
	Name, Value []byte
}

// Headers is the field lines of a head or trailer section, in the order
// they were received. Repeated names stay separate entries.
type Headers []Header

// Index returns the index of the first field at or after from whose name
// equals name without regard to ASCII case, or -1. Use it to walk the
// values of a repeated field:
//
//	for i := h.Index("Accept", 0); i >= 0; i = h.Index("Accept", i+1) { ... }
func (h Headers) Index(name string, from int) int {
	if from < 0 {
		from = 0
	}
	for i := from; i < len(h); i++ {
		if ascii.EqualFold(h[i].Name, name) {
			return i
		}
	}
	return -1
}

// Lookup returns the value of the first field named name (without regard to
// ASCII case) and whether there is one. It does not allocate.
func (h Headers) Lookup(name string) (value []byte, ok bool) {
	if i := h.Index(name, 0); i >= 0 {
		return h[i].Value, true
	}
	return nil, false
}

// Get returns the value of the first field named name (without regard to
// ASCII case), or nil if there is none. It does not allocate.
func (h Headers) Get(name string) []byte {
	v, _ := h.Lookup(name)
	return v
}

// text is a string or a byte slice: the checks and appenders below take
// either, so that bytes need no conversion.
type text interface{ ~string | ~[]byte }

// ValidFieldName reports whether name is a valid field name (a token).
// Serializers use it to refuse names that would corrupt a head.
func ValidFieldName[T text](name T) bool {
	if len(name) == 0 {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !isTchar(name[i]) {
			return false
		}
	}
	return true
}

// ValidFieldValue reports whether v is a valid field value: visible ASCII,
// obs-text, SP and HTAB, without control characters.
func ValidFieldValue[T text](v T) bool {
	for i := 0; i < len(v); i++ {
		if !isValue(v[i]) {
			return false
		}
	}
	return true
}

// fieldRules selects the leniencies parseFields allows.
type fieldRules uint8

const (
	strictFields fieldRules = 0
	allowBareLF  fieldRules = 1 << iota // a line may end in LF alone
	allowObsFold                        // obs-fold is replaced by SP
	// responseHead is what a response head allows.
	responseHead = allowBareLF | allowObsFold
)

// lineEnd checks the line terminator at b[i] and returns the offset just
// past it: CR LF, or with bareLF set also a bare LF. bad is the error for
// any other byte.
func lineEnd(b []byte, i int, bareLF bool, bad error) (int, error) {
	if i >= len(b) {
		return i, ErrNeedMore
	}
	switch b[i] {
	case '\r':
		if i+1 < len(b) && b[i+1] == '\n' {
			return i + 2, nil
		}
		if i+1 >= len(b) {
			return i, ErrNeedMore
		}
		return i, ErrBareCR
	case '\n':
		if bareLF {
			return i + 1, nil
		}
		return i, ErrBareLF
	}
	return i, bad
}

// parseFields parses the field lines of b starting at offset i, up to and
// including the empty line that ends the section, and appends them to hs.
// It returns the offset just past the empty line. The caller has checked
// that b holds a complete section (see findHeadEnd); ErrNeedMore is returned
// only if it has not.
//
// rules may allow a line to end in a bare LF, and obsolete line folding,
// which is then replaced in place by SP bytes, as RFC 9112 §5.2 tells a user
// agent to do: b is modified.
func parseFields(b []byte, i int, hs Headers, max int, rules fieldRules) (Headers, int, error) {
	bareLF := rules&allowBareLF != 0
	lastStart, lastEnd := -1, -1 // offsets of the last field's value
	for {
		if i >= len(b) {
			return hs, i, ErrNeedMore
		}
		switch c := b[i]; {
		case c == '\r' || c == '\n':
			n, err := lineEnd(b, i, bareLF, nil)
			return hs, n, err
		case isWS(c):
			if rules&allowObsFold == 0 || len(hs) == 0 {
				return hs, i, ErrObsFold
			}
			// A continuation of the last field's value.
			for i < len(b) && isWS(b[i]) {
				i++
			}
			cs := i
			for i < len(b) && isValue(b[i]) {
				i++
			}
			ce := i
			for ce > cs && isWS(b[ce-1]) {
				ce--
			}
			n, err := lineEnd(b, i, bareLF, ErrHeaderValue)
			if err != nil {
				return hs, n, err
			}
			if ce > cs {
				if lastEnd == lastStart {
					lastStart = cs
				} else {
					for j := lastEnd; j < cs; j++ {
						b[j] = ' '
					}
				}
				lastEnd = ce
				hs[len(hs)-1].Value = b[lastStart:lastEnd:lastEnd]
			}
			i = n
			continue
		}
		ns := i
		for i < len(b) && isTchar(b[i]) {
			i++
		}
		ne := i
		if i >= len(b) {
			return hs, i, ErrNeedMore
		}
		if b[i] != ':' {
			if isWS(b[i]) && ne > ns {
				for i < len(b) && isWS(b[i]) {
					i++
				}
				if i < len(b) && b[i] == ':' {
					return hs, i, ErrSpaceBeforeColon
				}
			}
			return hs, i, ErrHeaderName
		}
		if ne == ns {
			return hs, i, ErrHeaderName
		}
		i++
		for i < len(b) && isWS(b[i]) {
			i++
		}
		vs := i
		for i < len(b) && isValue(b[i]) {
			i++
		}
		ve := i
		for ve > vs && isWS(b[ve-1]) {
			ve--
		}
		n, err := lineEnd(b, i, bareLF, ErrHeaderValue)
		if err != nil {
			return hs, n, err
		}
		if len(hs) >= max {
			return hs, i, ErrTooManyHeaders
		}
		hs = append(hs, Header{Name: b[ns:ne:ne], Value: b[vs:ve:ve]})
		lastStart, lastEnd = vs, ve
		i = n
	}
}

// findHeadEnd searches b from offset from for the empty line that ends a
// head: an LF followed by LF or by CR LF. It returns the offset just past
// that empty line, or -1 and the offset to resume from once more bytes have
// been appended to b. from must be at the start of a line's LF or later, so
// that an empty line at from is not mistaken for the end.
func findHeadEnd(b []byte, from int) (end, resume int) {
	i := from
	for i < len(b) {
		j := indexLF(b[i:])
		if j < 0 {
			return -1, len(b)
		}
		i += j
		if i+1 >= len(b) {
			return -1, i
		}
		switch b[i+1] {
		case '\n':
			return i + 2, 0
		case '\r':
			if i+2 >= len(b) {
				return -1, i
			}
			if b[i+2] == '\n' {
				return i + 3, 0
			}
		}
		i++
	}
	return -1, len(b)
}
