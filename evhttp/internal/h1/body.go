package h1

// Message bodies: the incremental decoder (Body) of bodies delimited by a
// length, chunked, or by the close, and of the trailer section.

// Body decodes a message body in place: it finds the payload in the bytes
// a connection has buffered, without copying them. The zero value is a
// finished empty body; Reset, ResetRequest or ResetResponse starts a new
// one. A connection reuses one Body for all its messages, so that the
// Trailers keep their backing array.
//
// Call Decode with the buffered bytes, drop the bytes it consumed, use the
// payload it returns, and call it again with what is left, until it reports
// done or returns ErrNeedMore; after ErrNeedMore, call it again once more
// bytes have arrived, with the unconsumed bytes followed by the new ones.
// Every split of the input gives the same payload bytes in the same order.
// When the connection reaches its end, call EOF.
type Body struct {
	// Limits bounds the body: MaxBodyBytes (0 means unlimited),
	// MaxChunkLine, and MaxHeaderBytes and MaxHeaders for the trailer
	// section. Set it before Reset; the zero value means the defaults.
	Limits Limits
	// Trailers are the trailer fields of a chunked body, valid once Decode
	// has reported done. Like a head's fields, they are sub-slices of the
	// input given to the last Decode call, and the caller must copy what it
	// keeps before it discards those bytes. The package does not filter
	// fields that RFC 9110 §6.5.1 forbids in trailers (Content-Length,
	// Transfer-Encoding, Host, ...); callers must not merge those into the
	// head.
	Trailers Headers

	mode  uint8
	state uint8 // chunked: what comes next
	fold  bool  // obs-fold in trailers is replaced (responses)
	err   error // the fault found, reported again by every later call
	left  int64 // bytes left in the body (length mode) or chunk (chunked mode)
	total int64 // payload bytes so far
	scan  int   // bytes of the pending line or trailer section already searched
}

// Body modes.
const (
	modeDone uint8 = iota
	modeLength
	modeChunked
	modeEOF
)

// Chunked states.
const (
	stSize    uint8 = iota // a chunk-size line
	stData                 // chunk data, left bytes of it
	stDataEnd              // the CR LF after chunk data
	stTrailer              // the trailer section and the final CR LF
)

// Reset starts a new body. A chunked body uses the chunked coding; else a
// contentLength of zero or more gives the body's length, and a negative one
// means the body is delimited by the end of the connection (a response's
// UntilEOF). The trailer section, if any, is parsed with the request rules.
func (b *Body) Reset(contentLength int64, chunked bool) {
	b.Trailers = b.Trailers[:0]
	b.state, b.fold, b.err, b.total, b.scan = stSize, false, nil, 0, 0
	b.left = contentLength
	switch {
	case chunked:
		b.mode, b.left = modeChunked, 0
	case contentLength < 0:
		b.mode = modeEOF
	case contentLength == 0:
		b.mode = modeDone
	default:
		b.mode = modeLength
		if max := b.Limits.MaxBodyBytes; max > 0 && contentLength > max {
			b.err = ErrBodyTooLarge
		}
	}
}

// ResetRequest starts the body of the request r: chunked, of
// r.ContentLength bytes, or empty.
func (b *Body) ResetRequest(r *Request) {
	b.Reset(max(r.ContentLength, 0), r.Chunked)
}

// ResetResponse starts the body of the response r: none if r.NoBody, else
// chunked, of r.ContentLength bytes, or until the end of the connection.
// In the trailer section, if any, obsolete line folding is replaced by SP
// as in a response head; lines must end in CR LF, as net/http requires at
// the end of a chunked body.
func (b *Body) ResetResponse(r *Response) {
	switch {
	case r.NoBody:
		b.Reset(0, false)
	case r.Chunked:
		b.Reset(-1, true)
	case r.UntilEOF:
		b.Reset(-1, false)
	default:
		b.Reset(r.ContentLength, false)
	}
	b.fold = true
}

// Done reports whether the whole body has been decoded.
func (b *Body) Done() bool { return b.mode == modeDone && b.err == nil }

// Decode decodes the start of in, the bytes of the body that are buffered.
// It returns how many bytes of in it consumed, the payload found among
// them (a sub-slice of in, possibly empty), and whether the body is now
// complete; the bytes after it belong to the next message. It returns
// ErrNeedMore, having consumed nothing, if in holds nothing it can consume;
// any other error is an *Error and the connection must be closed.
//
// One call returns at most one piece of payload: a chunked body with
// several chunks in one buffer takes several calls.
func (b *Body) Decode(in []byte) (n int, payload []byte, done bool, err error) {
	if b.err != nil {
		return 0, nil, false, b.err
	}
	switch b.mode {
	case modeDone:
		return 0, nil, true, nil
	case modeLength:
		if len(in) == 0 {
			return 0, nil, false, ErrNeedMore
		}
		k := int(min(b.left, int64(len(in))))
		b.left -= int64(k)
		if b.left == 0 {
			b.mode = modeDone
		}
		return k, in[:k:k], b.left == 0, nil
	case modeEOF:
		if len(in) == 0 {
			return 0, nil, false, ErrNeedMore
		}
		k := len(in)
		if max := b.Limits.MaxBodyBytes; max > 0 && int64(k) > max-b.total {
			// Deliver what fits; the next call reports the fault, so
			// that every split delivers the same payload.
			k = int(max - b.total)
			if k == 0 {
				b.err = ErrBodyTooLarge
				return 0, nil, false, b.err
			}
		}
		b.total += int64(k)
		return k, in[:k:k], false, nil
	}
	n, payload, err = b.chunked(in)
	if err != nil && err != ErrNeedMore {
		b.err = err
	}
	return n, payload, b.mode == modeDone && err == nil, err
}

// need returns what Decode returns when in ends at i before the next element.
func need(i int) (int, []byte, error) {
	if i == 0 {
		return 0, nil, ErrNeedMore
	}
	return i, nil, nil
}

// chunked decodes the chunked coding (RFC 9112 §7.1).
func (b *Body) chunked(in []byte) (int, []byte, error) {
	if b.scan > len(in) {
		b.scan = 0
	}
	i := 0
	for {
		switch b.state {
		case stSize:
			max := b.Limits.maxChunkLine()
			j := indexLF(in[i+b.scan:])
			if j < 0 {
				if len(in)-i >= max {
					return 0, nil, ErrChunkLineTooLong
				}
				b.scan = len(in) - i
				return need(i)
			}
			lf := i + b.scan + j
			b.scan = 0
			if lf+1-i > max {
				return 0, nil, ErrChunkLineTooLong
			}
			size, err := chunkLine(in[i:lf])
			if err != nil {
				return 0, nil, err
			}
			i = lf + 1
			if size == 0 {
				b.state = stTrailer
				continue
			}
			if max := b.Limits.MaxBodyBytes; max > 0 && size > max-b.total {
				return 0, nil, ErrBodyTooLarge
			}
			b.state, b.left = stData, size
		case stData:
			if i == len(in) {
				return need(i)
			}
			k := int(min(b.left, int64(len(in)-i)))
			p := in[i : i+k : i+k]
			i += k
			b.left -= int64(k)
			b.total += int64(k)
			if b.left == 0 {
				// Take the CR LF now if it is there; a fault in it is
				// reported by the next call, so that the payload before a
				// fault is delivered however the input was split.
				b.state = stDataEnd
				if len(in)-i >= 2 && in[i] == '\r' && in[i+1] == '\n' {
					i += 2
					b.state = stSize
				}
			}
			return i, p, nil
		case stDataEnd:
			if len(in)-i < 2 {
				if len(in)-i == 1 && in[i] != '\r' {
					return 0, nil, ErrChunkCRLF
				}
				return need(i)
			}
			if in[i] != '\r' || in[i+1] != '\n' {
				return 0, nil, ErrChunkCRLF
			}
			i += 2
			b.state = stSize
		case stTrailer:
			return b.trailer(in, i)
		}
	}
}

// trailer parses the trailer section that starts at in[i] and ends with an
// empty line (RFC 9112 §7.1.2).
func (b *Body) trailer(in []byte, i int) (int, []byte, error) {
	if i == len(in) {
		return need(i)
	}
	// The section is empty: the empty line is at i.
	switch in[i] {
	case '\r':
		if i+1 == len(in) {
			return need(i)
		}
		if in[i+1] != '\n' {
			return 0, nil, ErrBareCR
		}
		b.mode, b.Trailers = modeDone, b.Trailers[:0]
		return i + 2, nil, nil
	case '\n':
		return 0, nil, ErrBareLF
	}
	maxBytes := b.Limits.maxHeaderBytes()
	end, resume := findHeadEnd(in, i+b.scan)
	if end < 0 {
		if len(in)-i >= maxBytes {
			return 0, nil, ErrHeaderTooLarge
		}
		b.scan = resume - i
		return need(i)
	}
	b.scan = 0
	if end-i > maxBytes {
		return 0, nil, ErrHeaderTooLarge
	}
	rules := strictFields
	if b.fold {
		rules = allowObsFold
	}
	hs, _, err := parseFields(in[:end], i, b.Trailers[:0], b.Limits.maxHeaders(), rules)
	b.Trailers = hs
	if err != nil {
		return 0, nil, err
	}
	b.mode = modeDone
	return end, nil, nil
}

// chunkLine parses a chunk header line without its LF:
//
//	chunk-size [ chunk-ext ] CR
//	chunk-ext  = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-val = token / quoted-string
//
// and returns the size.
func chunkLine(line []byte) (int64, error) {
	if len(line) == 0 || line[len(line)-1] != '\r' {
		return 0, ErrBareLF
	}
	line = line[:len(line)-1]
	var size int64
	i := 0
	for ; i < len(line) && class[line[i]]&cHex != 0; i++ {
		if size > (1<<63-1)>>4 {
			return 0, ErrChunkSize
		}
		size = size<<4 | int64(unhex(line[i]))
	}
	if i == 0 {
		return 0, chunkFault(line, ErrChunkSize)
	}
	if i == len(line) {
		return size, nil
	}
	// Only an extension may follow the size.
	j := skipWS(line, i)
	if j == len(line) || line[j] != ';' {
		return 0, chunkFault(line, ErrChunkSize)
	}
	for i = j; i < len(line); {
		// i is at ";"
		i = skipWS(line, i+1)
		k := i
		for i < len(line) && isTchar(line[i]) {
			i++
		}
		if i == k {
			return 0, chunkFault(line, ErrChunkExtension)
		}
		i = skipWS(line, i)
		if i < len(line) && line[i] == '=' {
			i = skipWS(line, i+1)
			if i < len(line) && line[i] == '"' {
				if i = quotedString(line, i); i < 0 {
					return 0, chunkFault(line, ErrChunkExtension)
				}
			} else {
				k := i
				for i < len(line) && isTchar(line[i]) {
					i++
				}
				if i == k {
					return 0, chunkFault(line, ErrChunkExtension)
				}
			}
			i = skipWS(line, i)
		}
		if i < len(line) && line[i] != ';' {
			return 0, chunkFault(line, ErrChunkExtension)
		}
	}
	return size, nil
}

// chunkFault returns ErrBareCR if line holds a CR, and err otherwise.
func chunkFault(line []byte, err error) error {
	for _, c := range line {
		if c == '\r' {
			return ErrBareCR
		}
	}
	return err
}

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// quotedString returns the offset just past the quoted-string that starts
// at b[i] (RFC 9110 §5.6.4), or -1 if it is malformed.
func quotedString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			i++
			if i == len(b) || !(b[i] == '\t' || b[i] >= 0x20 && b[i] != 0x7f) {
				return -1
			}
		case !(c == '\t' || c >= 0x20 && c != 0x7f):
			return -1
		}
	}
	return -1
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// EOF tells the body that the connection has ended, and reports whether
// that is a valid end: nil for a body delimited by the end of the
// connection (which is then done) or one already complete, and
// ErrTruncatedBody for a body that needed more bytes.
func (b *Body) EOF() error {
	switch {
	case b.err != nil:
		return b.err
	case b.mode == modeEOF:
		b.mode = modeDone
		return nil
	case b.mode == modeDone:
		return nil
	}
	return ErrTruncatedBody
}
