package h1

import (
	"encoding/binary"

	"github.com/eddyloop/eddy/internal/ascii"
)

// The fast path of ParseRequest: a complete, ordinary request head is
// checked and split in one pass, without first searching for its end.

// fastRequest parses the common shape of a request head: a request line
// "method SP target SP HTTP/1.x CRLF" at the very start of buf, field lines
// "name:" OWS value OWS CRLF, and the empty line, all in buf and within the
// Limits. It checks each byte against the same classes as the full parser
// while it finds the line ends, so the head is scanned once instead of
// twice (findHeadEnd, then parseFields).
//
// ok is false when the input is anything else: empty lines before the
// request line, a head that buf does not yet hold entirely, any byte the
// grammar above does not allow (bare CR or LF, obs-fold, whitespace before
// a colon, a control byte), more field lines than Headers has room for, or
// a limit reached. The full parser then decides, so fastRequest needs no
// error paths of its own: it only ever accepts heads on which the full
// parser's syntax checks all pass, at the same offsets, and it shares with
// it the target form check and the rules about the fields a server acts on
// (requestFields), whose errors it returns with ok true. A deferral
// changes nothing in r or p, except that it may have written over the
// elements in r.Headers' backing array: it clears those it wrote, so that
// none keeps a reference to buf.
//
// ParseRequest does not call it for the rest of a head that was incomplete
// at the last call (p.seen is set): the full parser resumes where it
// stopped searching, while a fast path that started over would make a
// dribbled head quadratic.
//
// fastRequest never appends past cap(r.Headers), so it does not allocate:
// the full parser grows Headers on a connection's first long head, and the
// fast path takes over from the next.
func (p *Parser) fastRequest(b []byte, r *Request) (n int, ok bool, err error) {
	// Request line: RFC 9112 §3. The method and target loops stop at the
	// first byte outside their class; only SP may follow each.
	i := 0
	if len(b) >= 4 && string(b[:4]) == "GET " {
		i = 3
	} else {
		i = span(b, 0, cTchar)
		if i == 0 || i >= len(b) || b[i] != ' ' {
			return 0, false, nil
		}
	}
	method := b[:i:i]
	i++
	ts := i
	i = span(b, i, cTarget)
	// SP "HTTP/1." DIGIT CR LF
	if i == ts || len(b)-i < 11 || b[i] != ' ' {
		return 0, false, nil
	}
	target := b[ts:i:i]
	v := b[i+1 : i+11]
	if string(v[:7]) != "HTTP/1." || v[7] < '0' || v[7] > '9' || v[8] != '\r' || v[9] != '\n' {
		return 0, false, nil
	}
	minor := 1
	if v[7] == '0' {
		minor = 0
	}
	i += 11 // just past the LF
	if i > p.Limits.maxRequestLine() {
		return 0, false, nil
	}

	// Field lines: RFC 9112 §5, RFC 9110 §5.5. Host's value is checked
	// (validHost) as it is scanned; any other field that requestFields acts
	// on (actsOn) leaves the rest to it.
	hs := r.Headers[:0]
	var (
		host         []byte
		hosts        int
		hostOK, acts bool
	)
	for {
		if i >= len(b) {
			return deferFields(hs)
		}
		if b[i] == '\r' {
			if i+1 >= len(b) || b[i+1] != '\n' {
				return deferFields(hs)
			}
			i += 2
			break
		}
		ns := i
		i = span(b, i, cTchar)
		if i == ns || i >= len(b) || b[i] != ':' {
			return deferFields(hs)
		}
		ne := i
		name := b[ns:ne:ne]
		isHost := len(name) == 4 && (string(name) == "Host" || ascii.EqualFold(name, "host"))
		if !isHost && !acts {
			acts = actsOn(name)
		}
		i++
		for i < len(b) && isWS(b[i]) {
			i++
		}
		vs := i
		he := i
		if isHost {
			he = span(b, i, cHost)
		}
		i = valueEnd(b, he)
		ve := i
		for ve > vs && isWS(b[ve-1]) {
			ve--
		}
		if i+1 >= len(b) || b[i] != '\r' || b[i+1] != '\n' || len(hs) == cap(hs) {
			return deferFields(hs)
		}
		if isHost {
			hosts++
			host, hostOK = b[vs:ve:ve], he >= ve
		}
		hs = append(hs, Header{Name: name, Value: b[vs:ve:ve]})
		i += 2
	}
	if i > p.Limits.maxHeaderBytes() || len(hs) > p.Limits.maxHeaders() {
		return deferFields(hs)
	}

	// The head is complete and well formed: what remains is what the full
	// parser does after parseFields, and any error is final.
	p.Reset()
	if acts || hosts != 1 || !hostOK || target[0] != '/' || string(method) == "CONNECT" {
		form, err := targetForm(method, target)
		if err != nil {
			return 0, true, err
		}
		r.Headers = hs
		if err := p.requestFields(r, method, target, form, minor); err != nil {
			return 0, true, err
		}
		return i, true, nil
	}
	// One valid Host, an origin-form target, and no field that frames
	// the body or changes the connection: what requestFields would find.
	r.Headers = hs
	r.Method, r.Target, r.Form, r.Minor = method, target, OriginForm, minor
	r.Host, r.ContentLength, r.Upgrade = host, -1, nil
	r.Chunked, r.Close, r.Expect100 = false, minor == 0, false
	return i, true, nil
}

// actsOn reports whether name is one of the fields requestFields acts on,
// other than Host: those that frame the body, change the connection or
// ask for an expectation.
func actsOn(name []byte) bool {
	switch len(name) {
	case 6:
		return ascii.EqualFold(name, "expect")
	case 7:
		return ascii.EqualFold(name, "upgrade")
	case 10:
		return ascii.EqualFold(name, "connection")
	case 14:
		return ascii.EqualFold(name, "content-length")
	case 17:
		return ascii.EqualFold(name, "transfer-encoding")
	}
	return false
}

// valueEnd returns the offset of the first byte at or after i in b that
// may not appear in a field value (cValue): a control byte other than
// HTAB, or DEL. It looks at eight bytes at a time while none of them is
// one of those nor HTAB, then at each byte.
func valueEnd(b []byte, i int) int {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for i+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[i:])
		// A byte below 0x20 (HTAB included) or equal to 0x7F sets its
		// high bit in bad; bytes of 0x80 and above set none.
		bad := (w - 0x20*ones) &^ w
		d := w ^ 0x7f*ones
		bad |= (d - ones) &^ d
		if bad&highs != 0 {
			break
		}
		i += 8
	}
	return span(b, i, cValue)
}

// span returns the offset of the first byte at or after i in b that is
// not in the class cls, or len(b).
func span(b []byte, i int, cls uint8) int {
	for i < len(b) && class[b[i]]&cls != 0 {
		i++
	}
	return i
}

// deferFields clears the field lines fastRequest has written, so that the
// array does not keep buf alive, and defers to the full parser.
func deferFields(hs Headers) (int, bool, error) {
	clear(hs)
	return 0, false, nil
}
