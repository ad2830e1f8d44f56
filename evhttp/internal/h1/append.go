package h1

// Serialization: status and request lines, header fields, chunks and the
// Date, appended to a caller's slice.

import (
	"strconv"
	"time"
)

// The serializers append to a caller's slice and allocate only when it
// lacks capacity, so a connection that reuses its output buffer writes
// heads without allocating. They write what they are given: the caller
// checks names with ValidFieldName, and values are made safe by replacing
// CR and LF (see AppendHeader).

// AppendStatusLine appends a status line, "HTTP/1.1 200 OK" and CR LF, for
// the minor version (0 or 1) and status code (100 to 999). Registered codes
// get their reason phrase (see StatusText) from a table built once; others
// get an empty one, as RFC 9112 §4 allows.
func AppendStatusLine(dst []byte, minor, status int) []byte {
	if 0 <= status && status < len(statusLines) && statusLines[status] != "" {
		s := statusLines[status]
		if minor == 0 {
			return append(append(dst, "HTTP/1.0"...), s[8:]...)
		}
		return append(dst, s...)
	}
	dst = appendVersion(dst, minor)
	dst = append(dst, ' ')
	if 100 <= status && status <= 999 {
		dst = append(dst, byte('0'+status/100), byte('0'+status/10%10), byte('0'+status%10))
	} else {
		dst = strconv.AppendInt(dst, int64(status), 10)
	}
	return append(dst, " \r\n"...)
}

// AppendStatusLineReason appends a status line with the given reason
// phrase, in which CR and LF are replaced by SP.
func AppendStatusLineReason(dst []byte, minor, status int, reason string) []byte {
	dst = appendVersion(dst, minor)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(status), 10)
	dst = append(dst, ' ')
	dst = appendSafe(dst, reason)
	return append(dst, "\r\n"...)
}

func appendVersion(dst []byte, minor int) []byte {
	if minor == 0 {
		return append(dst, "HTTP/1.0"...)
	}
	return append(dst, "HTTP/1.1"...)
}

// AppendRequestLine appends a request line, "GET /path HTTP/1.1" and CR LF.
// method must be a token and target free of whitespace and controls; the
// caller checks them.
func AppendRequestLine(dst []byte, method, target string, minor int) []byte {
	dst = append(dst, method...)
	dst = append(dst, ' ')
	dst = append(dst, target...)
	dst = append(dst, ' ')
	dst = appendVersion(dst, minor)
	return append(dst, "\r\n"...)
}

// AppendHeader appends the field line "name: value" and CR LF. CR, LF and
// NUL bytes in value are replaced by SP, as net/http does, so that a value
// taken from elsewhere cannot end the line early and inject fields or a
// body (response splitting). name is written as given: check it with
// ValidFieldName.
func AppendHeader[N, V text](dst []byte, name N, value V) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = appendSafe(dst, value)
	return append(dst, "\r\n"...)
}

// AppendHeaderInt appends the field line "name: v" and CR LF, for
// numeric fields such as Content-Length.
func AppendHeaderInt(dst []byte, name string, v int64) []byte {
	dst = append(dst, name...)
	dst = append(dst, ": "...)
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, "\r\n"...)
}

// AppendDateHeader appends "Date: " and t in IMF-fixdate, and CR LF.
func AppendDateHeader(dst []byte, t time.Time) []byte {
	dst = append(dst, "Date: "...)
	dst = AppendDate(dst, t)
	return append(dst, "\r\n"...)
}

// appendSafe appends s with CR, LF and NUL replaced by SP.
func appendSafe[T text](dst []byte, s T) []byte {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\r', '\n', 0:
			// Slow path: copy what is clean, then byte by byte.
			dst = append(dst, s[:i]...)
			for ; i < len(s); i++ {
				c := s[i]
				if c == '\r' || c == '\n' || c == 0 {
					c = ' '
				}
				dst = append(dst, c)
			}
			return dst
		}
	}
	return append(dst, s...)
}

// AppendChunkHeader appends the header line of a chunk of size bytes, the
// size in hexadecimal and CR LF. The chunk data and a CR LF must follow
// (AppendChunk writes all three). size must be above zero: a zero-size
// chunk is the last chunk (AppendLastChunk).
func AppendChunkHeader(dst []byte, size int) []byte {
	dst = strconv.AppendUint(dst, uint64(size), 16)
	return append(dst, "\r\n"...)
}

// AppendChunk appends data as one chunk: its size line, the data and CR LF.
// Empty data appends nothing, since an empty chunk would end the body.
func AppendChunk(dst, data []byte) []byte {
	if len(data) == 0 {
		return dst
	}
	dst = AppendChunkHeader(dst, len(data))
	dst = append(dst, data...)
	return append(dst, "\r\n"...)
}

// AppendLastChunk appends the end of a chunked body: the last chunk "0" CR
// LF, the trailer fields (values made safe as by AppendHeader), and the
// final CR LF.
func AppendLastChunk(dst []byte, trailers Headers) []byte {
	dst = append(dst, "0\r\n"...)
	for _, h := range trailers {
		dst = append(dst, h.Name...)
		dst = append(dst, ": "...)
		dst = appendSafe(dst, string(h.Value))
		dst = append(dst, "\r\n"...)
	}
	return append(dst, "\r\n"...)
}

// AppendDate appends t in the IMF-fixdate format of RFC 9110 §5.6.7, the
// format of the Date header and of http.TimeFormat:
// "Sun, 06 Nov 1994 08:49:37 GMT". t is converted to UTC. Years outside
// 0 to 9999 are written with as many digits as they need.
func AppendDate(dst []byte, t time.Time) []byte {
	const days = "SunMonTueWedThuFriSat"
	const months = "JanFebMarAprMayJunJulAugSepOctNovDec"
	t = t.UTC()
	year, month, day := t.Date()
	hour, min, sec := t.Clock()
	wd := int(t.Weekday()) * 3
	mo := (int(month) - 1) * 3
	dst = append(dst, days[wd:wd+3]...)
	dst = append(dst, ", "...)
	dst = append2(dst, day)
	dst = append(dst, ' ')
	dst = append(dst, months[mo:mo+3]...)
	dst = append(dst, ' ')
	if 0 <= year && year <= 9999 {
		dst = append(dst, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10))
	} else {
		dst = strconv.AppendInt(dst, int64(year), 10)
	}
	dst = append(dst, ' ')
	dst = append2(dst, hour)
	dst = append(dst, ':')
	dst = append2(dst, min)
	dst = append(dst, ':')
	dst = append2(dst, sec)
	return append(dst, " GMT"...)
}

func append2(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/10), byte('0'+v%10))
}
