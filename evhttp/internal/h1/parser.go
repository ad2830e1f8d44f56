package h1

// The Parser: a head found in a connection's buffered bytes, its HTTP
// version, and the fields requests and responses share (Connection,
// Transfer-Encoding, Content-Length).

import (
	"bytes"

	"github.com/eddyloop/eddy/internal/ascii"
)

// Parser parses request and response heads from a connection's buffered
// bytes. The zero value is ready to use with the default Limits. A Parser
// belongs to one connection: between a call that returned ErrNeedMore and
// the next call, it remembers how far it searched for the end of the head,
// so that a head arriving a few bytes at a time is scanned once, not once
// per arrival. That hint is only valid if the next call is given the same
// bytes again, possibly followed by more, which is what a connection that
// keeps its unconsumed bytes does. Call Reset before giving it other input.
//
// A Parser does not allocate once the Headers slice of the Request or
// Response it fills has grown to the number of fields the peer sends.
type Parser struct {
	// Limits bounds the heads the Parser accepts. Set it before the first
	// call; nil means the defaults. A pointer, so that the many Parsers of
	// a server share one (a Parser lives as long as its connection).
	Limits *Limits

	seen int // len(buf) at the last call that returned ErrNeedMore
	scan int // where the search for the next LF resumes
	line int // offset of the LF that ends the start line, 0 while unknown
}

// Reset forgets the state kept since the last call that returned
// ErrNeedMore. The Limits are kept.
func (p *Parser) Reset() { p.seen, p.scan, p.line = 0, 0, 0 }

func indexLF(b []byte) int { return bytes.IndexByte(b, '\n') }

// head finds a complete head at the start of buf. It returns the offset
// where the start line begins (after any empty lines a request may be
// preceded by), the offset of the LF that ends the start line, and the
// offset just past the empty line that ends the head.
//
// Only a few faults are reported before the head is complete: a first byte
// that cannot begin a request (or a status line that does not begin with
// "HTTP/"), and the two size limits. A complete head is checked in the same
// order, so every split of the input gives the same result.
func (p *Parser) head(buf []byte, request bool) (start, lf, end int, err error) {
	if len(buf) < p.seen {
		p.Reset()
	}
	maxLine := p.Limits.maxRequestLine()
	maxHead := p.Limits.maxHeaderBytes()
	if request {
		// RFC 9112 §2.2: a server SHOULD ignore at least one empty line
		// received before the request-line. We ignore any number, each a
		// CR LF, within MaxRequestLine.
		for start+1 < len(buf) && buf[start] == '\r' && buf[start+1] == '\n' {
			start += 2
		}
		if start >= len(buf) || start+1 == len(buf) && buf[start] == '\r' {
			return p.needMore(buf, start, maxLine)
		}
		if c := buf[start]; !isTchar(c) {
			p.Reset()
			switch c {
			case '\r':
				return 0, 0, 0, ErrBareCR
			case '\n':
				return 0, 0, 0, ErrBareLF
			}
			return 0, 0, 0, ErrMethod
		}
	} else {
		const proto = "HTTP/"
		n := min(len(buf), len(proto))
		if string(buf[:n]) != proto[:n] {
			p.Reset()
			return 0, 0, 0, ErrStatusLine
		}
	}
	from := max(p.scan, start)
	if p.line == 0 {
		j := indexLF(buf[from:])
		if j < 0 {
			return p.needMore(buf, len(buf), maxLine)
		}
		p.line = from + j
		from = p.line
	}
	lf = p.line
	if lf+1 > maxLine {
		p.Reset()
		return 0, 0, 0, ErrRequestLineTooLong
	}
	end, resume := findHeadEnd(buf, from)
	if end < 0 {
		if len(buf) >= maxHead {
			p.Reset()
			return 0, 0, 0, ErrHeaderTooLarge
		}
		p.seen, p.scan = len(buf), resume
		return 0, 0, 0, ErrNeedMore
	}
	p.Reset()
	if end > maxHead {
		return 0, 0, 0, ErrHeaderTooLarge
	}
	return start, lf, end, nil
}

// needMore handles input that ends inside the start line: the line is at
// least len(buf)+1 bytes long once its LF arrives.
func (p *Parser) needMore(buf []byte, scan, maxLine int) (int, int, int, error) {
	if len(buf) >= maxLine {
		p.Reset()
		return 0, 0, 0, ErrRequestLineTooLong
	}
	p.seen, p.scan = len(buf), scan
	return 0, 0, 0, ErrNeedMore
}

// parseVersion parses an HTTP-version (RFC 9112 §2.3) and returns its minor
// number, with any 1.x above 1.1 reported as 1 (RFC 9110 §6.2).
func parseVersion(v []byte) (minor int, err error) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || v[6] != '.' ||
		v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9' {
		if bytes.IndexByte(v, '\r') >= 0 {
			return 0, ErrBareCR
		}
		return 0, ErrVersion
	}
	if v[5] != '1' {
		return 0, ErrVersionNotSupported
	}
	if v[7] == '0' {
		return 0, nil
	}
	return 1, nil
}

// connection collects what the Connection field lines of a head say.
type connection struct {
	close, keepAlive, upgrade bool
}

func (c *connection) add(v []byte) {
	// The usual values, whole: each is a list of one element.
	switch string(v) {
	case "keep-alive":
		c.keepAlive = true
		return
	case "close":
		c.close = true
		return
	}
	for i := 0; ; {
		e, next, ok, _ := nextElement(v, i)
		if !ok {
			return
		}
		switch {
		case ascii.EqualFold(e, "close"):
			c.close = true
		case ascii.EqualFold(e, "keep-alive"):
			c.keepAlive = true
		case ascii.EqualFold(e, "upgrade"):
			c.upgrade = true
		}
		i = next
	}
}

// closes applies the version defaults of RFC 9112 §9.3: HTTP/1.1 persists
// unless "close" is sent, HTTP/1.0 closes unless "keep-alive" is sent, and
// "close" wins over "keep-alive".
func (c *connection) closes(minor int) bool {
	return c.close || minor == 0 && !c.keepAlive
}

// transferEncoding collects the transfer codings of the Transfer-Encoding
// field lines of a head, in order (RFC 9112 §6.1).
type transferEncoding struct {
	present     bool
	codings     int  // number of codings listed
	chunked     bool // chunked was listed
	chunkedLast bool // the last coding listed is chunked
	repeated    bool // chunked was listed more than once
	unknown     bool // a coding other than chunked was listed
	malformed   bool
}

func (t *transferEncoding) add(v []byte) {
	t.present = true
	for i := 0; ; {
		e, next, ok, bad := nextElement(v, i)
		if bad {
			t.malformed = true
		}
		if !ok {
			return
		}
		i = next
		if len(e) == 0 {
			continue // RFC 9110 §5.6.1: empty list elements are ignored
		}
		n := 0
		for n < len(e) && isTchar(e[n]) {
			n++
		}
		name, rest := e[:n], e[n:]
		if n == 0 || len(rest) > 0 && !isWS(rest[0]) && rest[0] != ';' {
			t.malformed = true
			continue
		}
		t.codings++
		if ascii.EqualFold(name, "chunked") {
			if len(rest) > 0 {
				t.malformed = true // chunked has no parameters
			}
			if t.chunked {
				t.repeated = true
			}
			t.chunked, t.chunkedLast = true, true
		} else {
			t.unknown, t.chunkedLast = true, false
		}
	}
}

// result reports whether the codings are exactly one final chunked, or why not.
func (t *transferEncoding) result() error {
	switch {
	case t.malformed || t.codings == 0:
		return ErrTransferEncoding
	case t.repeated:
		return ErrChunkedRepeated
	case t.chunked && !t.chunkedLast:
		return ErrChunkedNotLast
	case t.unknown:
		return ErrUnknownTransferCoding
	}
	return nil
}

// parseContentLength parses a Content-Length value: a list of decimal
// numbers that must all be equal (RFC 9110 §8.6 lets a recipient collapse
// "42, 42" to 42). Empty elements are not allowed.
func parseContentLength(v []byte) (int64, error) {
	n := int64(-1)
	for i := 0; ; {
		e, next, ok, _ := nextElement(v, i)
		if !ok {
			return n, nil
		}
		i = next
		if len(e) == 0 {
			return -1, ErrContentLength
		}
		var x int64
		for _, c := range e {
			if c < '0' || c > '9' {
				return -1, ErrContentLength
			}
			d := int64(c - '0')
			if x > (1<<63-1-d)/10 {
				return -1, ErrContentLength
			}
			x = x*10 + d
		}
		if n >= 0 && x != n {
			return -1, ErrConflictingContentLength
		}
		n = x
	}
}
