package h1

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
	for i < len(b) && class[b[i]]&cTchar != 0 {
		i++
	}
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return 0, false, nil
	}
	method := b[:i:i]
	i++
	ts := i
	for i < len(b) && class[b[i]]&cTarget != 0 {
		i++
	}
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

	// Field lines: RFC 9112 §5, RFC 9110 §5.5.
	hs := r.Headers[:0]
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
		for i < len(b) && class[b[i]]&cTchar != 0 {
			i++
		}
		if i == ns || i >= len(b) || b[i] != ':' {
			return deferFields(hs)
		}
		ne := i
		i++
		for i < len(b) && isWS(b[i]) {
			i++
		}
		vs := i
		for i < len(b) && class[b[i]]&cValue != 0 {
			i++
		}
		ve := i
		for ve > vs && isWS(b[ve-1]) {
			ve--
		}
		if i+1 >= len(b) || b[i] != '\r' || b[i+1] != '\n' || len(hs) == cap(hs) {
			return deferFields(hs)
		}
		hs = append(hs, Header{Name: b[ns:ne:ne], Value: b[vs:ve:ve]})
		i += 2
	}
	if i > p.Limits.maxHeaderBytes() || len(hs) > p.Limits.maxHeaders() {
		return deferFields(hs)
	}

	// The head is complete and well formed: what remains is what the full
	// parser does after parseFields, and any error is final.
	p.Reset()
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

// deferFields clears the field lines fastRequest has written, so that the
// array does not keep buf alive, and defers to the full parser.
func deferFields(hs Headers) (int, bool, error) {
	clear(hs)
	return 0, false, nil
}
