// Package h1 parses and serializes HTTP/1.1 messages: bytes in, results
// out, no I/O, no loop, no goroutines, and nothing but the standard
// library and the module's ASCII case folding (internal/ascii). It is
// the wire layer under evhttp's server and client, which run on an event
// loop: a connection hands the parser the bytes it has buffered, keeps
// whatever was not consumed, and hands that back together with the next
// bytes that arrive.
//
// # Parsing
//
// A Parser parses heads: ParseRequest for a server, ParseResponse for a
// client. Either returns the length of the head once the whole head is in
// the buffer, and ErrNeedMore until then; the caller consumes that many
// bytes. A Body then decodes the body, if any, in place: Decode reports how
// many bytes it consumed, which sub-slice of them is payload, and when the
// body is done; for a chunked body it also parses the trailer section.
// Nothing is copied: a Request, Response, Header and the payload are
// sub-slices of the caller's buffer, valid until the caller consumes, moves
// or overwrites those bytes. A connection reuses one Parser, one Request
// (or Response) and one Body, and then parsing allocates nothing.
//
//	for {
//		n, err := p.ParseRequest(buf, &req)
//		if err == h1.ErrNeedMore { break }            // wait for more bytes
//		if err != nil { answer(h1.Status(err)); close() }
//		buf = buf[n:]
//		body.ResetRequest(&req)
//		for !body.Done() {
//			n, payload, _, err := body.Decode(buf)
//			if err == h1.ErrNeedMore { ... wait, then continue here ... }
//			if err != nil { answer(h1.Status(err)); close() }
//			buf = buf[n:]
//			use(payload)
//		}
//	}
//
// Input may arrive split at any byte: every split gives the same result as
// the whole input (the tests check every split point of a set of messages).
// While a head is incomplete the Parser remembers how far it has searched
// for its end, so a head that arrives a byte at a time costs linear time.
//
// ParseRequest checks and splits a complete head of the ordinary shape (a
// request line, then field lines of a token, a colon and a plain value,
// each ended by CR LF) in one pass (fast.go). Any other input, and the rest
// of a head that was incomplete at the last call, goes to the full parser.
// The two give the same results on the same input; the tests compare them
// on every prefix of their inputs, and a fuzz target on its own.
//
// # Strictness
//
// Requests follow RFC 9112 strictly, because a lenient server behind or in
// front of another implementation lets an attacker smuggle a request past
// one of them. Each rule below is an *Error with the status to answer:
//
//   - Transfer-Encoding together with Content-Length: 400.
//   - Content-Length values that differ: 400. Identical values, on several
//     lines or in one list ("42, 42"), are accepted and collapsed
//     (RFC 9110 §8.6). A value that is not all digits or overflows an
//     int64: 400.
//   - Transfer-Encoding must be exactly one chunked, last: a coding other
//     than chunked is 501, chunked not last or repeated is 400, and
//     Transfer-Encoding in an HTTP/1.0 request is 400 (RFC 9112 §6.1).
//   - Lines end in CR LF. RFC 9112 §2.2 allows a recipient to accept a bare
//     LF; we do not, in requests (400), nor in chunk framing, as net/http.
//     A CR not followed by LF is 400 everywhere.
//   - Obsolete line folding, and whitespace before the first field: 400.
//   - Field names are tokens, with no whitespace before the colon; field
//     values hold no control characters but HTAB: 400.
//   - Method is a token; request-target is visible ASCII in one of the
//     four forms, authority-form only and always for CONNECT, asterisk-form
//     only for OPTIONS: 400.
//   - HTTP/1.1 without Host, several Host lines, or a Host value with bytes
//     an authority cannot hold: 400 (RFC 9112 §3.2).
//   - HTTP-version is "HTTP/" DIGIT "." DIGIT (400); a version 1.x above
//     1.1 is taken as 1.1, any other major version is 505.
//   - Chunk sizes are hexadecimal and fit an int64, extensions follow
//     the grammar, and chunk data is followed by CR LF: 400.
//   - Expect other than 100-continue in HTTP/1.1: 417.
//   - Limits (see Limits): request line 414, head 431, field count 431,
//     body 413.
//
// Empty lines (CR LF) before a request line are skipped, as RFC 9112 §2.2
// recommends.
//
// Responses are parsed as leniently as net/http where RFC 9112 allows: in
// the head a bare LF ends a line, the SP before an empty reason phrase may
// be missing, Transfer-Encoding overrides Content-Length, and obsolete line
// folding is replaced in place by SP bytes, as RFC 9112 §5.2 tells a user
// agent to do (so ParseResponse, and Body.Decode in trailers, may write to
// the buffer). Chunk framing and trailer lines end in CR LF, as net/http
// requires at the end of a chunked body. The body length follows RFC 9112
// §6.3, which is why ParseResponse takes the request method.
//
// DIFFERENCES.md beside this file lists where the package and net/http
// disagree, and why.
//
// # Serializing
//
// The Append functions write status lines, request lines, field lines,
// chunk framing and dates (AppendDate, in IMF-fixdate) to the end of a
// caller's slice without allocating beyond its growth.
//
// # Errors
//
// Every fault is one of the exported Err variables, an *Error carrying the
// status a server answers with; Status(err) returns it. ErrNeedMore is not
// a fault. Errors are shared values and never allocate.
package h1
