package evhttp

// Conditional requests (RFC 9110 §13) and byte ranges (§14) for
// FileServer. Everything here reads the request's views without copying.

import (
	"net/http"
	"time"

	"github.com/eddyloop/eddy/evhttp/internal/h1"
	"github.com/eddyloop/eddy/internal/ascii"
)

// Results of the preconditions.
const (
	condNone        = 0   // serve
	condNotModified = 304 // If-None-Match or If-Modified-Since
	condFailed      = 412 // If-Match or If-Unmodified-Since
)

// preconditions evaluates the conditional header fields of a GET or HEAD
// request for e, in the order of RFC 9110 §13.2.2: If-Match, else
// If-Unmodified-Since (412 when false); then If-None-Match, else
// If-Modified-Since (304 when false).
func preconditions(r *Request, e *fsFile) int {
	hs := r.h.Headers
	if i := hs.Index("If-Match", 0); i >= 0 {
		if !etagListMatch(r, "If-Match", e.etag, true) {
			return condFailed
		}
	} else if v := r.Header("If-Unmodified-Since"); v != nil && e.lastMod != "" {
		if t, ok := parseHTTPDate(v, e); ok && e.mod.After(t) {
			return condFailed
		}
	}
	if i := hs.Index("If-None-Match", 0); i >= 0 {
		if etagListMatch(r, "If-None-Match", e.etag, false) {
			return condNotModified
		}
	} else if v := r.Header("If-Modified-Since"); v != nil && e.lastMod != "" {
		if t, ok := parseHTTPDate(v, e); ok && !e.mod.After(t) {
			return condNotModified
		}
	}
	return condNone
}

// ifRange reports whether the Range of r applies to e (RFC 9110 §13.1.5):
// there is no If-Range, or it holds e's entity tag (compared strongly),
// or e's exact modification date.
func ifRange(r *Request, e *fsFile) bool {
	v := r.Header("If-Range")
	if v == nil {
		return true
	}
	v = h1.TrimOWS(v)
	if len(v) > 0 && (v[0] == '"' || len(v) > 2 && v[0] == 'W' && v[1] == '/') {
		return string(v) == e.etag // a weak tag never matches strongly
	}
	if e.lastMod == "" {
		return false
	}
	t, ok := parseHTTPDate(v, e)
	return ok && t.Equal(e.mod)
}

// etagListMatch reports whether a field named name of r lists etag (or
// is "*"), comparing strongly (both tags strong and equal) or weakly (the
// opaque tags equal). Every field of that name counts.
func etagListMatch(r *Request, name, etag string, strong bool) bool {
	hs := r.h.Headers
	for i := hs.Index(name, 0); i >= 0; i = hs.Index(name, i+1) {
		v := hs[i].Value
		for len(v) > 0 {
			v = h1.TrimOWS(v)
			if len(v) > 0 && v[0] == ',' {
				v = v[1:]
				continue
			}
			if len(v) > 0 && v[0] == '*' {
				return true
			}
			weak := false
			if len(v) > 2 && v[0] == 'W' && v[1] == '/' {
				weak = true
				v = v[2:]
			}
			if len(v) == 0 || v[0] != '"' {
				break // malformed: the rest cannot be trusted
			}
			j := 1
			for j < len(v) && v[j] != '"' {
				j++
			}
			if j == len(v) {
				break
			}
			tag := v[:j+1]
			v = v[j+1:]
			if string(tag) == etag && !(strong && weak) {
				return true
			}
		}
	}
	return false
}

// parseHTTPDate parses an HTTP-date. The value a client most often
// sends, the Last-Modified of e it got, is recognised without parsing.
func parseHTTPDate(v []byte, e *fsFile) (time.Time, bool) {
	v = h1.TrimOWS(v)
	if string(v) == e.lastMod {
		return e.mod, true
	}
	t, err := http.ParseTime(string(v))
	return t, err == nil
}

// byteRange is one range of a Range field, resolved against the size:
// the bytes [start, start+n).
type byteRange struct {
	start, n int64
}

// maxParsedRanges bounds the ranges of one Range field that are looked
// at; a field with more is ignored (the whole representation is sent).
const maxParsedRanges = 256

// parseRange parses the Range field v for a representation of size bytes
// (RFC 9110 §14.1.2), appending the satisfiable ranges to dst. ok is false
// when the field is not a byte range set it understands (another unit,
// bad syntax, too many ranges): the field is to be ignored. ok with no
// range means that none is satisfiable: 416.
func parseRange(dst []byteRange, v []byte, size int64) (_ []byteRange, ok bool) {
	v = h1.TrimOWS(v)
	if len(v) < 6 || !ascii.EqualFold(v[:5], "bytes") || v[5] != '=' {
		return dst, false
	}
	v = v[6:]
	count := 0
	for len(v) > 0 {
		v = h1.TrimOWS(v)
		if len(v) > 0 && v[0] == ',' {
			v = v[1:]
			continue
		}
		if len(v) == 0 {
			break
		}
		j := 0
		for j < len(v) && v[j] != ',' {
			j++
		}
		spec := h1.TrimOWS(v[:j])
		v = v[j:]
		if count++; count > maxParsedRanges {
			return dst, false
		}
		dash := -1
		for k, c := range spec {
			if c == '-' {
				dash = k
				break
			}
		}
		if dash < 0 {
			return dst, false
		}
		if dash == 0 { // suffix-range: the last n bytes
			n, ok := parseLength(spec[1:])
			if !ok {
				return dst, false
			}
			if n > 0 && size > 0 {
				n = min(n, size)
				dst = append(dst, byteRange{start: size - n, n: n})
			}
			continue
		}
		first, ok := parseLength(spec[:dash])
		if !ok {
			return dst, false
		}
		last := int64(-1)
		if rest := spec[dash+1:]; len(rest) > 0 {
			if last, ok = parseLength(rest); !ok || last < first {
				return dst, false
			}
		}
		if first >= size {
			continue // unsatisfiable
		}
		if last < 0 || last >= size {
			last = size - 1
		}
		dst = append(dst, byteRange{start: first, n: last - first + 1})
	}
	if count == 0 {
		return dst, false
	}
	return dst, true
}
