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
// value with a control character.
func nextRaw(raw []byte) (name, value, rest []byte, ok bool, err error) {
	if len(raw) == 0 {
		return nil, nil, nil, false, nil
	}
	line, _ := cutLine(raw)
	name, value, rest, colon := splitRaw(raw)
	switch {
	case len(line) == 0:
		return nil, nil, nil, false, fmt.Errorf("%w: RawHeader: empty line", ErrRequest)
	case line[0] == ' ' || line[0] == '\t':
		return nil, nil, nil, false, fmt.Errorf("%w: RawHeader: obs-fold (a line starting with white space)", ErrRequest)
	case !colon:
		return nil, nil, nil, false, fmt.Errorf("%w: RawHeader: line without a colon: %q", ErrRequest, line)
	case !h1.ValidFieldName(name):
		return nil, nil, nil, false, fmt.Errorf("%w: header field name %q", ErrRequest, name)
	case !h1.ValidFieldValue(value):
		return nil, nil, nil, false, fmt.Errorf("%w: value of header field %s", ErrRequest, name)
	}
	return name, value, rest, true, nil
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
// field's value, or "".
func (call *Call) checkRaw(connUpgrade *bool) (offer string, err error) {
	raw := call.req.RawHeader
	hosts := 0
	for {
		name, value, rest, ok, err := nextRaw(raw)
		if err != nil {
			return "", err
		}
		if !ok {
			return offer, nil
		}
		raw = rest
		switch {
		case ascii.EqualFold(name, "Host"):
			if hosts++; hosts > 1 {
				return "", fmt.Errorf("%w: RawHeader: more than one Host field", ErrRequest)
			}
			if len(value) == 0 || hasSpace(value) {
				return "", fmt.Errorf("%w: Host %q", ErrRequest, value)
			}
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
