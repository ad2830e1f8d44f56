package evclient

// Requests given as bytes: Request.RawHeader, field lines the client
// checks once (prepare) and writes without building anything
// (appendHead), and Request.Target, a request target that replaces the
// URL's path and query. A proxy builds both from the bytes of the request
// it forwards, where an http.Header and a URL string would cost an
// allocation or two per field.

import (
	"bytes"
	"fmt"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/internal/ascii"
)

// nextRaw cuts the first field line off raw, field lines each ended by LF
// or CR LF (the last may lack its end), and checks it: it returns the
// line's name and value (without the optional whitespace around it) and
// the rest. ok is false at the end of raw; err is set, wrapping
// ErrRequest, for a line that is not a valid field line: empty, an
// obs-fold (a line starting with SP or HTAB: folding is obsolete and
// refused, RFC 9112 §5.2), no colon, a name that is not a token, or a
// value with a control character. plain reports that the line is
// exactly "name: value" CR LF, as appendFields would write it.
func nextRaw(raw []byte) (name, value, rest []byte, plain, ok bool, err error) {
	if len(raw) == 0 {
		return nil, nil, nil, false, false, nil
	}
	line, rest := cutLine(raw)
	k := bytes.IndexByte(line, ':')
	switch {
	case len(line) == 0:
		return nil, nil, nil, false, false, fmt.Errorf("%w: RawHeader: empty line", ErrRequest)
	case line[0] == ' ' || line[0] == '\t':
		return nil, nil, nil, false, false, fmt.Errorf("%w: RawHeader: obs-fold (a line starting with white space)", ErrRequest)
	case k < 0:
		return nil, nil, nil, false, false, fmt.Errorf("%w: RawHeader: line without a colon: %q", ErrRequest, line)
	}
	name, value = line[:k], h1.TrimOWS(line[k+1:])
	switch {
	case !h1.ValidFieldName(name):
		return nil, nil, nil, false, false, fmt.Errorf("%w: header field name %q", ErrRequest, name)
	case !h1.ValidFieldValue(value):
		return nil, nil, nil, false, false, fmt.Errorf("%w: value of header field %s", ErrRequest, name)
	}
	// "name: value" CR LF: the space after the colon is the only white
	// space trimmed off the value, and the line's end (cutLine took the CR
	// off) is two bytes.
	plain = k+2+len(value) == len(line) && line[k+1] == ' ' && len(raw)-len(rest) == len(line)+2
	return name, value, rest, plain, true, nil
}

// splitRaw cuts the first field line off raw, which nextRaw checked, and
// returns its name and value (ok is false without a colon, or at the end
// of raw), and the rest.
func splitRaw(raw []byte) (name, value, rest []byte, ok bool) {
	line, rest := cutLine(raw)
	k := bytes.IndexByte(line, ':')
	if k < 0 {
		return nil, nil, rest, false
	}
	return line[:k], h1.TrimOWS(line[k+1:]), rest, true
}

// cutLine cuts the first line off h, a line ended by LF or CR LF (or by
// the end of h): it returns the line without its end, and the rest.
func cutLine(h []byte) (line, rest []byte) {
	line = h
	for i, c := range h {
		if c == '\n' {
			line, rest = h[:i], h[i+1:]
			break
		}
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// rawFields iterates over a RawHeader prepare checked: it yields each
// field line's name and value until f returns false.
func rawFields(raw []byte, f func(name, value []byte) bool) {
	for len(raw) > 0 {
		name, value, rest, ok := splitRaw(raw)
		if !ok || !f(name, value) {
			return
		}
		raw = rest
	}
}

// rawHost returns the value of the Host field of a checked RawHeader, or
// nil.
func rawHost(raw []byte) []byte {
	var host []byte
	rawFields(raw, func(name, value []byte) bool {
		if ascii.EqualFold(name, "Host") {
			host = value
			return false
		}
		return true
	})
	return host
}

// checkRaw checks req.RawHeader and takes from it what prepare takes from
// Header: Expect, Connection and Upgrade. It returns the Upgrade
// field's value, or "". It also sets call.rawVerbatim when appendHead may
// copy RawHeader whole: the Host field comes first, and every line is one
// appendFields would write as it is.
func (call *Call) checkRaw(connUpgrade *bool) (offer string, err error) {
	raw := call.req.RawHeader
	hosts := 0
	verbatim, ua, auth := true, false, false
	for first := true; ; first = false {
		name, value, rest, plain, ok, err := nextRaw(raw)
		if err != nil {
			return "", err
		}
		if !ok {
			call.rawVerbatim, call.rawUA, call.rawAuth = verbatim && hosts == 1, ua, auth
			return offer, nil
		}
		raw = rest
		verbatim = verbatim && plain
		switch {
		case ascii.EqualFold(name, "Host"):
			if hosts++; hosts > 1 {
				return "", fmt.Errorf("%w: RawHeader: more than one Host field", ErrRequest)
			}
			if len(value) == 0 || hasSpace(value) {
				return "", fmt.Errorf("%w: Host %q", ErrRequest, value)
			}
			verbatim = verbatim && first && string(name) == "Host" // as appendFields spells it
			continue
		case ascii.EqualFold(name, "Expect"):
			if ascii.EqualFold(value, "100-continue") {
				call.req.ExpectContinue = true
			}
		case ascii.EqualFold(name, "Connection"):
			call.closeReq = call.closeReq || h1.HasToken(value, "close")
			*connUpgrade = *connUpgrade || h1.HasToken(value, "upgrade")
		case ascii.EqualFold(name, "Upgrade"):
			if offer != "" {
				offer += ", "
			}
			offer += string(value)
		}
		if first {
			verbatim = false // the Host written first would come from elsewhere
		}
		if verbatim {
			skip, isUA, isAuth := clientField(name)
			verbatim = !skip && !(isUA && len(value) == 0)
			ua, auth = ua || isUA, auth || isAuth
		}
	}
}

func hasSpace(b []byte) bool {
	for _, c := range b {
		if c == ' ' || c == '\t' {
			return true
		}
	}
	return false
}

// checkTarget checks req.Target: an origin-form target ("/" and what
// follows, or "?query" after an empty path, which gets its "/"), cut at a
// fragment and with the bytes a target cannot hold percent-encoded, as the
// path and query of a URL are. Only a target that needs fixing is copied.
func (call *Call) checkTarget() error {
	t := call.req.Target
	for i, c := range t {
		if c == '#' {
			t = t[:i:i]
			break
		}
	}
	switch {
	case len(t) == 0:
		t = []byte{'/'}
	case t[0] == '?':
		t = append([]byte{'/'}, t...)
	case t[0] != '/':
		return fmt.Errorf("%w: Target %q is not in origin form", ErrRequest, t)
	}
	for _, c := range t {
		if badTargetByte(c) {
			t = []byte(escapeTarget(string(t)))
			break
		}
	}
	call.req.Target = t
	return nil
}

// url returns the URL of the current hop, for errors and redirects: the
// Request's, or with a Target, its scheme and authority with the Target
// after them.
func (call *Call) url() string {
	if call.req.Target == nil {
		return call.req.URL
	}
	scheme := "http://"
	if call.u.tls {
		scheme = "https://"
	}
	return scheme + call.u.authority + string(call.req.Target)
}

// rawIdempotencyKey reports whether a RawHeader has an Idempotency-Key
// (or X-Idempotency-Key) field.
func rawIdempotencyKey(raw []byte) bool {
	found := false
	rawFields(raw, func(name, _ []byte) bool {
		found = ascii.EqualFold(name, "Idempotency-Key") || ascii.EqualFold(name, "X-Idempotency-Key")
		return !found
	})
	return found
}
