package h1

// Request heads: the request line, the request-target's forms, and the
// fields a server acts on (Host, Expect, Upgrade, framing).

import "github.com/eddyloop/eddy/internal/ascii"

// TargetForm is the form of a request-target (RFC 9112 §3.2).
type TargetForm uint8

// The four request-target forms.
const (
	// OriginForm is an absolute path with an optional query: "/where?q=now".
	OriginForm TargetForm = iota
	// AbsoluteForm is an absolute URI, sent to proxies:
	// "http://www.example.org/pub/WWW/".
	AbsoluteForm
	// AuthorityForm is host and port, used by CONNECT only:
	// "www.example.com:80".
	AuthorityForm
	// AsteriskForm is "*", used by OPTIONS only, for the server as a whole.
	AsteriskForm
)

// String returns the name of the form, as in RFC 9112: "origin-form" and so on.
func (f TargetForm) String() string {
	switch f {
	case OriginForm:
		return "origin-form"
	case AbsoluteForm:
		return "absolute-form"
	case AuthorityForm:
		return "authority-form"
	case AsteriskForm:
		return "asterisk-form"
	}
	return "invalid-form"
}

// Request is a parsed request head. ParseRequest fills it; a connection
// reuses one Request for all its requests, so that its Headers keep their
// backing array.
//
// The byte slices point into the buffer given to ParseRequest. They are
// valid only while the caller keeps those bytes where they are: once the
// caller consumes the head from its buffer, moves the buffer's contents or
// reads new bytes over them, it must have copied what it still needs.
type Request struct {
	// Method is the request method, a token, in its original case.
	Method []byte
	// Target is the request-target as sent.
	Target []byte
	// Form is the form of Target.
	Form TargetForm
	// Minor is the minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1 and
	// any later HTTP/1.x.
	Minor int
	// Headers are the field lines in order, with repeated names kept.
	Headers Headers
	// Host is the value of the Host field, nil if there is none (which is
	// allowed in HTTP/1.0 only). For an absolute-form target RFC 9112 §3.2.2
	// tells servers to use the target's authority instead.
	Host []byte
	// ContentLength is the Content-Length, or -1 if there is none. A
	// request without Content-Length and not chunked has no body.
	ContentLength int64
	// Chunked is whether the body uses the chunked transfer coding.
	Chunked bool
	// Close is whether the connection closes after this request: HTTP/1.1
	// sent Connection: close, or HTTP/1.0 did not send keep-alive.
	Close bool
	// Expect100 is whether an HTTP/1.1 client sent Expect: 100-continue
	// and waits for a 100 Continue before sending the body.
	Expect100 bool
	// Upgrade is the Upgrade value of an HTTP/1.1 request whose Connection
	// lists "upgrade", nil otherwise. The request is parsed like any other:
	// whatever body it declares follows its head, and the caller decides
	// whether to switch protocols after it.
	Upgrade []byte
}

// HasBody reports whether the request declares a body: chunked, or a
// Content-Length above zero.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// ParseRequest parses the request head at the start of buf into r and
// returns its length in bytes, which includes any empty lines that preceded
// the request line. If buf ends before the head does, it returns
// ErrNeedMore: call again with the same bytes followed by more. Any other
// error is an *Error whose Status the server answers with before it closes
// the connection. The body, if any, follows the head in buf; decode it with
// a Body reset by Body.ResetRequest. After an error, ErrNeedMore included,
// what r holds is unspecified: the elements of r.Headers' backing array
// may have been overwritten.
//
// ParseRequest implements the request rules of RFC 9112 strictly; see the
// package documentation for the list.
func (p *Parser) ParseRequest(buf []byte, r *Request) (n int, err error) {
	if p.seen == 0 {
		if n, ok, err := p.fastRequest(buf, r); ok {
			return n, err
		}
	}
	return p.parseRequestFull(buf, r)
}

// parseRequestFull is ParseRequest without the fast path of fastRequest.
func (p *Parser) parseRequestFull(buf []byte, r *Request) (n int, err error) {
	start, lf, end, err := p.head(buf, true)
	if err != nil {
		return 0, err
	}
	if err := p.parseRequest(buf[:end], start, lf, r); err != nil {
		return 0, err
	}
	return end, nil
}

func (p *Parser) parseRequest(b []byte, start, lf int, r *Request) error {
	if b[lf-1] != '\r' {
		return ErrBareLF
	}
	line := b[start : lf-1]
	i := 0
	for i < len(line) && isTchar(line[i]) {
		i++
	}
	method := line[:i:i]
	if i == len(line) {
		return ErrRequestLine
	}
	switch line[i] {
	case ' ':
	case '\r':
		return ErrBareCR
	default:
		return ErrMethod
	}
	i++
	ts := i
	for i < len(line) && class[line[i]]&cTarget != 0 {
		i++
	}
	if i == len(line) {
		return ErrRequestLine
	}
	switch line[i] {
	case ' ':
		if i == ts {
			return ErrRequestLine
		}
	case '\r':
		return ErrBareCR
	default:
		return ErrTarget
	}
	target := line[ts:i:i]
	minor, err := parseVersion(line[i+1:])
	if err != nil {
		return err
	}
	form, err := targetForm(method, target)
	if err != nil {
		return err
	}

	hs, _, err := parseFields(b, lf+1, r.Headers[:0], p.Limits.maxHeaders(), strictFields)
	r.Headers = hs
	if err != nil {
		return err
	}
	return p.requestFields(r, method, target, form, minor)
}

// requestFields fills r from a request line and field lines that are well
// formed, r.Headers already set, and applies the rules about the fields a
// server acts on.
func (p *Parser) requestFields(r *Request, method, target []byte, form TargetForm, minor int) error {
	hs := r.Headers
	r.Method, r.Target, r.Form, r.Minor = method, target, form, minor
	r.Host, r.ContentLength, r.Upgrade = nil, -1, nil
	r.Chunked, r.Close, r.Expect100 = false, false, false

	var (
		hosts   int
		conn    connection
		te      transferEncoding
		upgrade []byte
	)
	// Each name is compared in its usual case before it is folded: most
	// clients send that case, and an exact compare is a few instructions.
	for _, h := range hs {
		switch n := h.Name; len(n) {
		case 4:
			if string(n) == "Host" || ascii.EqualFold(n, "host") {
				hosts++
				r.Host = h.Value
			}
		case 6:
			if (string(n) == "Expect" || ascii.EqualFold(n, "expect")) && minor == 1 {
				// RFC 9110 §10.1.1: an HTTP/1.0 expectation is ignored.
				if err := expect(h.Value, r); err != nil {
					return err
				}
			}
		case 7:
			if (string(n) == "Upgrade" || ascii.EqualFold(n, "upgrade")) && upgrade == nil {
				upgrade = h.Value
			}
		case 10:
			if string(n) == "Connection" || ascii.EqualFold(n, "connection") {
				conn.add(h.Value)
			}
		case 14:
			if string(n) == "Content-Length" || ascii.EqualFold(n, "content-length") {
				cl, err := parseContentLength(h.Value)
				if err != nil {
					return err
				}
				if r.ContentLength >= 0 && cl != r.ContentLength {
					return ErrConflictingContentLength
				}
				r.ContentLength = cl
			}
		case 17:
			if string(n) == "Transfer-Encoding" || ascii.EqualFold(n, "transfer-encoding") {
				te.add(h.Value)
			}
		}
	}

	switch {
	case hosts > 1:
		return ErrMultipleHost
	case hosts == 0 && minor == 1:
		return ErrMissingHost
	case hosts == 1 && !validHost(r.Host):
		return ErrHost
	}
	if te.present {
		if r.ContentLength >= 0 {
			return ErrTEWithContentLength
		}
		if minor == 0 {
			return ErrTransferEncodingHTTP10
		}
		if err := te.result(); err != nil {
			return err
		}
		r.Chunked = true
	}
	if max := p.Limits.maxBody(); max > 0 && r.ContentLength > max {
		return ErrBodyTooLarge
	}
	r.Close = conn.closes(minor)
	if minor == 1 && conn.upgrade && upgrade != nil {
		r.Upgrade = upgrade
	}
	return nil
}

// expect checks an Expect value: 100-continue is the only expectation
// defined (RFC 9110 §10.1.1); any other one is answered with 417.
func expect(v []byte, r *Request) error {
	for i := 0; ; {
		e, next, ok, _ := nextElement(v, i)
		if !ok {
			return nil
		}
		i = next
		switch {
		case len(e) == 0:
		case ascii.EqualFold(e, "100-continue"):
			r.Expect100 = true
		default:
			return ErrExpectation
		}
	}
}

// targetForm checks target against the forms method allows (RFC 9112 §3.2).
func targetForm(method, target []byte) (TargetForm, error) {
	if string(method) == "CONNECT" {
		if validAuthority(target) {
			return AuthorityForm, nil
		}
		return 0, ErrTarget
	}
	switch {
	case target[0] == '/':
		return OriginForm, nil
	case len(target) == 1 && target[0] == '*':
		if string(method) == "OPTIONS" {
			return AsteriskForm, nil
		}
		return 0, ErrTarget
	}
	// absolute-URI = scheme ":" hier-part [ "?" query ]
	c := target[0]
	if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
		return 0, ErrTarget
	}
	for i := 1; i < len(target); i++ {
		switch c := target[i]; {
		case c == ':':
			return AbsoluteForm, nil
		case class[c]&cScheme == 0:
			return 0, ErrTarget
		}
	}
	return 0, ErrTarget
}

// validHost reports whether a Host value holds only bytes of a URI
// authority without userinfo: reg-name or IP-literal, and an optional port.
func validHost(h []byte) bool {
	for _, c := range h {
		if class[c]&cHost == 0 {
			return false
		}
	}
	return true
}

// validAuthority reports whether t is authority-form: uri-host ":" port,
// with a non-empty host and a port of one or more digits.
func validAuthority(t []byte) bool {
	colon := -1
	for i := len(t) - 1; i >= 0; i-- {
		if t[i] == ':' {
			colon = i
			break
		}
	}
	if colon <= 0 || colon == len(t)-1 {
		return false
	}
	for _, c := range t[colon+1:] {
		if c < '0' || c > '9' {
			return false
		}
	}
	host := t[:colon]
	if host[0] == '[' {
		// IP-literal: "[" ( IPv6address / IPvFuture ) "]"
		if host[len(host)-1] != ']' || len(host) < 3 {
			return false
		}
		for _, c := range host[1 : len(host)-1] {
			if class[c]&cHost == 0 || c == '[' || c == ']' {
				return false
			}
		}
		return true
	}
	for _, c := range host {
		if class[c]&cHost == 0 || c == '[' || c == ']' || c == ':' {
			return false
		}
	}
	return true
}
