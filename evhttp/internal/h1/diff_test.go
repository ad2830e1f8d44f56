package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/eddyloop/eddy/internal/ascii"
)

// The checks net/http's server makes after ReadRequest, with the byte sets
// of golang.org/x/net/http/httpguts (ValidHostHeader, ValidHeaderFieldName,
// ValidHeaderFieldValue), which net/http vendors. They are written out here
// because the module's go.sum does not cover httpguts' own dependencies.
const (
	gutsTokenBytes = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	gutsHostBytes  = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!$%&()*+,-.:;=['~]_"
)

func gutsValidHeaderFieldName(v string) bool {
	if v == "" {
		return false
	}
	for i := 0; i < len(v); i++ {
		if !strings.Contains(gutsTokenBytes, v[i:i+1]) {
			return false
		}
	}
	return true
}

func gutsValidHostHeader(h string) bool {
	for i := 0; i < len(h); i++ {
		if !strings.Contains(gutsHostBytes, h[i:i+1]) {
			return false
		}
	}
	return true
}

func gutsValidHeaderFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' || b == 0x7f) && b != ' ' && b != '\t' {
			return false
		}
	}
	return true
}

// Differential fuzzing against net/http. Both sides read the first message
// of the input and its whole body; they must agree on accepting it and, when
// both accept, on what it says. Where they legitimately disagree the input
// belongs to one of the classes below, each written down with its reason in
// DIFFERENCES.md; such inputs are not compared further (the test returns
// early and logs the class, it does not fail).

// view is one side's reading of a message.
type view struct {
	err      error
	method   string // requests
	target   string // requests
	status   int    // responses
	reason   string // responses
	minor    int
	close    bool
	length   int64 // the effective body length: -1 for chunked or until EOF
	headers  map[string][]string
	body     string
	trailers map[string][]string
	chunked  bool
}

func (v view) String() string {
	return fmt.Sprintf("err=%v %s %q %d %q 1.%d close=%v length=%d chunked=%v\n  headers=%v\n  body=%q\n  trailers=%v",
		v.err, v.method, v.target, v.status, v.reason, v.minor, v.close, v.length, v.chunked, v.headers, v.body, v.trailers)
}

// canonical turns fields into net/http's map form.
func canonical(hs Headers) map[string][]string {
	m := map[string][]string{}
	for _, h := range hs {
		k := textproto.CanonicalMIMEHeaderKey(string(h.Name))
		m[k] = append(m[k], string(h.Value))
	}
	return m
}

// comparable removes from a header map what net/http rewrites while it
// reads a message: the framing fields, whose effect is compared through the
// body and length instead, Trailer when the body is chunked, and the
// Cache-Control it adds for Pragma: no-cache. Values have their runs of
// whitespace collapsed, since obs-fold is replaced by one SP in net/http
// and by as many SP as it had bytes here.
func comparable(m map[string][]string, chunked bool) map[string][]string {
	out := map[string][]string{}
	for k, vv := range m {
		switch {
		case k == "Content-Length" || k == "Transfer-Encoding" || k == "Cache-Control":
			continue
		case k == "Trailer" && chunked:
			continue
		case vv == nil:
			continue // a declared trailer net/http did not receive
		}
		for _, v := range vv {
			out[k] = append(out[k], strings.Join(strings.Fields(v), " "))
		}
	}
	return out
}

// readBody decodes the body after a head at in[n:], as a connection that
// reaches the end of its input would.
func readBody(b *Body, in []byte) (string, error) {
	var payload []byte
	for !b.Done() {
		n, p, _, err := b.Decode(in)
		if err == ErrNeedMore {
			if err := b.EOF(); err != nil {
				return string(payload), err
			}
			break
		}
		if err != nil {
			return string(payload), err
		}
		payload = append(payload, p...)
		in = in[n:]
	}
	return string(payload), nil
}

func oursRequest(data []byte) (v view, r *Request) {
	var p Parser
	r = new(Request)
	buf := append([]byte(nil), data...)
	n, err := p.ParseRequest(buf, r)
	if err != nil {
		v.err = err
		return v, r
	}
	var b Body
	b.ResetRequest(r)
	v.body, v.err = readBody(&b, buf[n:])
	v.method, v.target, v.minor, v.close, v.chunked = string(r.Method), string(r.Target), r.Minor, r.Close, r.Chunked
	v.length = max(r.ContentLength, 0)
	if r.Chunked {
		v.length = -1
	}
	v.headers = comparable(canonical(r.Headers), r.Chunked)
	delete(v.headers, "Host") // net/http's ReadRequest moves it to Request.Host
	v.trailers = comparable(canonical(b.Trailers), false)
	return v, r
}

func theirsRequest(data []byte) (v view) {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(data)))
	if err != nil {
		v.err = err
		return v
	}
	// What net/http's server checks after its internal readRequest
	// (server.go); ReadRequest has removed Host from the map by then, so
	// the field is read from the input.
	host, haveHost := headField(data, "host")
	switch {
	case req.ProtoMajor != 1:
		v.err = errors.New("unsupported protocol version")
	case req.ProtoAtLeast(1, 1) && !haveHost && req.Method != "CONNECT":
		v.err = errors.New("missing required Host header")
	case haveHost && !gutsValidHostHeader(host):
		v.err = errors.New("malformed Host header")
	}
	for k, vv := range req.Header {
		if !gutsValidHeaderFieldName(k) {
			v.err = errors.New("invalid header name")
		}
		for _, s := range vv {
			if !gutsValidHeaderFieldValue(s) {
				v.err = errors.New("invalid header value")
			}
		}
	}
	if v.err != nil {
		return v
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		v.err = err
		return v
	}
	chunked := len(req.TransferEncoding) > 0
	v.method, v.target, v.minor, v.close, v.chunked = req.Method, req.RequestURI, min(req.ProtoMinor, 1), req.Close, chunked
	v.length = req.ContentLength
	v.headers = comparable(req.Header, chunked)
	v.body = string(body)
	v.trailers = comparable(req.Trailer, false)
	return v
}

// requestDifference names the documented class an input belongs to when
// ours and theirs disagree, or returns "".
func requestDifference(data []byte, ours, theirs view) string {
	switch {
	case ours.err != nil && theirs.err == nil:
		// We reject what net/http accepts.
		switch ours.err {
		case ErrBareLF:
			return "bare LF"
		case ErrObsFold:
			return "obs-fold"
		case ErrTEWithContentLength:
			return "Transfer-Encoding with Content-Length"
		case ErrTransferEncodingHTTP10:
			return "Transfer-Encoding in HTTP/1.0"
		case ErrExpectation:
			return "Expect"
		case ErrTarget:
			return "request-target form and bytes"
		case ErrRequestLine:
			if theirs.target == "" {
				return "request-target form and bytes" // net/http takes an empty CONNECT target
			}
		case ErrMissingHost:
			if theirs.method == "CONNECT" {
				return "CONNECT without Host"
			}
		case ErrChunkSize:
			if whitespaceInChunkLine(data) {
				return "whitespace in chunk size line"
			}
		case ErrChunkExtension:
			return "chunk extension grammar"
		case ErrRequestLineTooLong, ErrHeaderTooLarge, ErrTooManyHeaders, ErrChunkLineTooLong:
			return "limits"
		}
	case ours.err == nil && theirs.err != nil:
		// We accept what net/http rejects.
		msg := theirs.err.Error()
		var ue *url.Error
		switch {
		case bytes.HasPrefix(data, []byte("\r\n")):
			return "empty lines before the request line"
		case errors.As(theirs.err, &ue):
			return "request-target checked as a URL"
		case strings.Contains(msg, "bad trailer key"):
			return "Trailer naming a framing field"
		case strings.Contains(msg, "Content-Length"):
			return "Content-Length list"
		case strings.Contains(msg, "unsupported transfer encoding"):
			return "Transfer-Encoding list"
		case strings.Contains(msg, "too much non-data"):
			return "chunk overhead"
		}
	case ours.err == nil && theirs.err == nil:
		// Both accept; a difference in what they read is a bug.
	}
	return ""
}

// headField returns the value of the first field named name in the head
// of data, read line by line as net/textproto reads it.
func headField(data []byte, name string) (string, bool) {
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if i == 0 {
			continue
		}
		if n, v, ok := bytes.Cut(line, []byte(":")); ok && ascii.EqualFold(n, name) {
			return string(bytes.Trim(v, " \t")), true
		}
	}
	return "", false
}

// nameWithSpace reports whether a field line in the head of data has a SP
// in its name, which net/textproto accepts (go.dev/issue/34540).
func nameWithSpace(data []byte) bool {
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if n, _, ok := bytes.Cut(line, []byte(":")); ok && i > 0 && bytes.IndexByte(n, ' ') >= 0 {
			return true
		}
	}
	return false
}

// hasField reports whether the head of data has a field named name.
func hasField(data []byte, name string) bool {
	_, ok := headField(data, name)
	return ok
}

// whitespaceInChunkLine reports whether a chunk size line of data has
// whitespace after the size and no extension, which net/http trims.
func whitespaceInChunkLine(data []byte) bool {
	_, body, _ := bytes.Cut(data, []byte("\r\n\r\n"))
	for _, line := range bytes.Split(body, []byte("\r\n")) {
		t := bytes.TrimRight(line, " \t")
		if len(t) < len(line) && len(t) > 0 && class[t[0]]&cHex != 0 {
			return true
		}
	}
	return false
}

func compareViews(t *testing.T, data []byte, ours, theirs view, class string) {
	t.Helper()
	if class != "" {
		t.Logf("known difference (%s): ours %v, net/http %v", class, ours.err, theirs.err)
		return
	}
	if (ours.err == nil) != (theirs.err == nil) {
		t.Fatalf("accept/reject differs for %q:\n ours    %v\n net/http %v", data, ours, theirs)
	}
	if ours.err != nil {
		return
	}
	o, th := ours, theirs
	o.err, th.err = nil, nil
	if o.headers == nil {
		o.headers = map[string][]string{}
	}
	if th.headers == nil {
		th.headers = map[string][]string{}
	}
	if len(o.trailers) == 0 && len(th.trailers) == 0 {
		o.trailers, th.trailers = nil, nil
	}
	if !reflect.DeepEqual(o, th) {
		t.Fatalf("readings differ for %q:\n ours    %v\n net/http %v", data, ours, theirs)
	}
}

func FuzzRequestVsNetHTTP(f *testing.F) {
	for _, tt := range requestErrorTests {
		if len(tt.in) < 4096 {
			f.Add([]byte(tt.in))
		}
	}
	for _, s := range requestStreams {
		f.Add([]byte(s.in))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ours, _ := oursRequest(data)
		theirs := theirsRequest(data)
		compareViews(t, data, ours, theirs, requestDifference(data, ours, theirs))
	})
}

func oursResponse(data []byte, method string) view {
	var p Parser
	var r Response
	buf := append([]byte(nil), data...)
	n, err := p.ParseResponse(buf, method, &r)
	if err != nil {
		return view{err: err}
	}
	var b Body
	b.ResetResponse(&r)
	// net/http reports a body-less response with a valid Transfer-Encoding
	// as chunked, and drops its Trailer field as for any chunked message.
	_, te := r.Headers.Lookup("Transfer-Encoding")
	chunked := r.Chunked || r.NoBody && r.Minor == 1 && te
	v := view{status: r.Status, reason: string(r.Reason), minor: r.Minor, close: r.Close, chunked: chunked}
	v.body, v.err = readBody(&b, buf[n:])
	v.length = r.ContentLength
	if r.NoBody {
		v.length = 0
		if method == "HEAD" {
			v.length = r.ContentLength
		}
	}
	v.headers = comparable(canonical(r.Headers), chunked)
	v.trailers = comparable(canonical(b.Trailers), false)
	return v
}

func theirsResponse(data []byte, method string) view {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(data)), &http.Request{Method: method})
	if err != nil {
		return view{err: err}
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return view{err: err}
	}
	chunked := len(resp.TransferEncoding) > 0
	reason := ""
	if len(resp.Status) > 4 {
		reason = resp.Status[4:]
	}
	v := view{status: resp.StatusCode, reason: reason, minor: min(resp.ProtoMinor, 1), close: resp.Close, chunked: chunked}
	v.length = resp.ContentLength
	v.headers = comparable(resp.Header, chunked)
	v.body = string(body)
	v.trailers = comparable(resp.Trailer, false)
	return v
}

func responseDifference(data []byte, method string, ours, theirs view) string {
	http10TE := bytes.HasPrefix(data, []byte("HTTP/1.0")) && hasField(data, "transfer-encoding")
	if method == "CONNECT" && (ours.status/100 == 2 || theirs.status/100 == 2) {
		return "2xx answer to CONNECT"
	}
	switch {
	case ours.err != nil && theirs.err == nil:
		switch ours.err {
		case ErrSpaceBeforeColon:
			return "whitespace in a response field name"
		case ErrHeaderName:
			if nameWithSpace(data) {
				return "whitespace in a response field name"
			}
		case ErrStatusLine, ErrBareCR, ErrVersionNotSupported:
			return "status line"
		case ErrChunkSize:
			if whitespaceInChunkLine(data) {
				return "whitespace in chunk size line"
			}
		case ErrChunkExtension:
			return "chunk extension grammar"
		case ErrRequestLineTooLong, ErrHeaderTooLarge, ErrTooManyHeaders, ErrChunkLineTooLong:
			return "limits"
		case ErrBareLF, ErrObsFold:
			return "trailer syntax"
		}
		if http10TE {
			return "Transfer-Encoding in HTTP/1.0"
		}
	case ours.err == nil && theirs.err != nil:
		msg := theirs.err.Error()
		switch {
		case strings.Contains(msg, "bad trailer key"):
			return "Trailer naming a framing field"
		case strings.Contains(msg, "Content-Length"):
			return "Content-Length list"
		case strings.Contains(msg, "unsupported transfer encoding"):
			return "Transfer-Encoding list"
		case strings.Contains(msg, "too much non-data"):
			return "chunk overhead"
		}
	case ours.err == nil && theirs.err == nil:
		if http10TE {
			return "Transfer-Encoding in HTTP/1.0"
		}
	}
	return ""
}

func FuzzResponseVsNetHTTP(f *testing.F) {
	for _, s := range responseStreams {
		f.Add([]byte(s.in), uint8(len(s.name)))
	}
	for _, tt := range responseErrorTests {
		f.Add([]byte(tt.in), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		method := fuzzMethods[int(sel)%len(fuzzMethods)]
		ours := oursResponse(data, method)
		theirs := theirsResponse(data, method)
		compareViews(t, data, ours, theirs, responseDifference(data, method, ours, theirs))
	})
}

// Each documented class, with an input that shows it: the two sides must
// disagree on it, and the classifier must name the class. DIFFERENCES.md
// lists the same classes.
func TestKnownDifferences(t *testing.T) {
	for _, tt := range []struct {
		method, in, class string
	}{
		{"", "GET / HTTP/1.1\nHost: a\n\n", "bare LF"},
		{"", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", "obs-fold"},
		{"", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding with Content-Length"},
		{"", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n", "Transfer-Encoding with Content-Length"},
		{"", "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", "Transfer-Encoding in HTTP/1.0"},
		{"", "PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue, x\r\n\r\n", "Expect"},
		{"", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", "request-target form and bytes"},
		{"", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", "request-target form and bytes"},
		{"", "CONNECT /rpc HTTP/1.1\r\nHost: a\r\n\r\n", "request-target form and bytes"},
		{"", "CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", "request-target form and bytes"},
		{"", "CONNECT  HTTP/1.1\r\nHost: a\r\n\r\n", "request-target form and bytes"},
		{"", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", "CONNECT without Host"},
		{"", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n", "whitespace in chunk size line"},
		{"", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;=\r\nx\r\n0\r\n\r\n", "chunk extension grammar"},
		{"", "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: a\r\n\r\n", "limits"},
		{"", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", "empty lines before the request line"},
		{"", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", "request-target checked as a URL"},
		{"", "GET http://[::1/ HTTP/1.1\r\nHost: a\r\n\r\n", "request-target checked as a URL"},
		{"", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", "Content-Length list"},
		{"", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 01\r\n\r\nx", "Content-Length list"},
		{"", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", "Transfer-Encoding list"},
		{"", "POST / HTTP/1.1\r\nHost: a\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Trailer naming a framing field"},
		{"", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" +
			strings.Repeat("1;"+strings.Repeat("x", 1000)+"\r\nx\r\n", 20) + "0\r\n\r\n", "chunk overhead"},

		{"GET", "HTTP/1.1 200 OK\r\nX : 1\r\nContent-Length: 0\r\n\r\n", "whitespace in a response field name"},
		{"GET", "HTTP/1.1 200 OK\r\nX Y: 1\r\nContent-Length: 0\r\n\r\n", "whitespace in a response field name"},
		{"GET", "HTTP/1.1 +20 OK\r\nContent-Length: 0\r\n\r\n", "status line"},
		{"GET", "HTTP/1.1 000 OK\r\nContent-Length: 0\r\n\r\n", "status line"},
		{"GET", "HTTP/1.1  200 OK\r\nContent-Length: 0\r\n\r\n", "status line"},
		{"GET", "HTTP/1.1 200 O\x01K\r\nContent-Length: 0\r\n\r\n", "status line"},
		{"GET", "HTTP/1.1 200 O\rK\r\nContent-Length: 0\r\n\r\n", "status line"},
		{"GET", "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", "status line"},
		{"GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nA: 1\nB: 2\r\n\r\n", "trailer syntax"},
		{"GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n", "whitespace in chunk size line"},
		{"GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\"\r\nx\r\n0\r\n\r\n", "chunk extension grammar"},
		{"GET", "HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 70000) + "\r\n\r\n", "limits"},
		{"GET", "HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx", "Content-Length list"},
		{"GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", "Transfer-Encoding list"},
		{"GET", "HTTP/1.1 200 OK\r\nTrailer: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "Trailer naming a framing field"},
		{"GET", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\nxyz", "Transfer-Encoding in HTTP/1.0"},
		{"CONNECT", "HTTP/1.1 200 OK\r\n\r\ntunnel", "2xx answer to CONNECT"},
	} {
		data := []byte(tt.in)
		var ours, theirs view
		var class string
		if tt.method == "" {
			ours, _ = oursRequest(data)
			theirs = theirsRequest(data)
			class = requestDifference(data, ours, theirs)
		} else {
			ours = oursResponse(data, tt.method)
			theirs = theirsResponse(data, tt.method)
			class = responseDifference(data, tt.method, ours, theirs)
		}
		if class != tt.class {
			t.Errorf("%q: class %q, want %q\n ours     %v\n net/http %v", tt.in, class, tt.class, ours, theirs)
			continue
		}
		if (ours.err == nil) == (theirs.err == nil) && ours.err != nil {
			t.Errorf("%q: both reject, not a difference", tt.in)
		}
		if ours.err == nil && theirs.err == nil && ours.body == theirs.body && tt.class != "2xx answer to CONNECT" {
			t.Errorf("%q: both accept with the same body, not a difference", tt.in)
		}
	}
}
