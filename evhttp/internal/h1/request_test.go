package h1

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// parseReq parses in with a fresh Parser and the given limits, into a
// Request with room for its fields so that the fast path is tried, and
// checks that the full parser alone gives the same.
func parseReq(in string, lim Limits) (*Request, int, error) {
	p := Parser{Limits: &lim}
	r := newFastRequest(&lim)
	buf := []byte(in)
	n, err := p.ParseRequest(buf, r)
	full := Parser{Limits: &lim}
	rf := newFastRequest(&lim)
	nf, errf := full.parseRequestFull(buf, rf)
	if a, b := fullState(buf, n, err, &p, r), fullState(buf, nf, errf, &full, rf); a != b {
		panic(fmt.Sprintf("fast path and full parser differ on %q:\n%s\n%s", in, a, b))
	}
	return r, n, err
}

// reqWant is what a request test expects; the zero Form is OriginForm and
// the zero ContentLength is replaced by -1 unless cl is set.
type reqWant struct {
	method, target string
	form           TargetForm
	minor          int
	host           string // "" for example.com, "-" for none, "<empty>" for empty
	cl             int64
	clSet          bool
	chunked        bool
	close          bool
	expect100      bool
	upgrade        string
	headers        []string // "Name: Value", checked if non-nil
}

func checkReq(t *testing.T, in string, r *Request, w reqWant) {
	t.Helper()
	cl := int64(-1)
	if w.clSet {
		cl = w.cl
	}
	host := w.host
	switch host {
	case "":
		host = "example.com"
	case "<empty>":
		host = ""
	}
	gotHost := string(r.Host)
	if r.Host == nil {
		gotHost = "-"
	}
	if string(r.Method) != w.method || string(r.Target) != w.target || r.Form != w.form || r.Minor != w.minor ||
		gotHost != host || r.ContentLength != cl || r.Chunked != w.chunked || r.Close != w.close ||
		r.Expect100 != w.expect100 || string(r.Upgrade) != w.upgrade {
		t.Errorf("ParseRequest(%q) = %s\nwant %+v", in, summarizeRequest(r), w)
	}
	if w.upgrade == "" && r.Upgrade != nil {
		t.Errorf("ParseRequest(%q): Upgrade = %q, want nil", in, r.Upgrade)
	}
	if w.headers != nil {
		var got []string
		for _, h := range r.Headers {
			got = append(got, string(h.Name)+": "+string(h.Value))
		}
		if strings.Join(got, "\n") != strings.Join(w.headers, "\n") {
			t.Errorf("ParseRequest(%q) headers = %q, want %q", in, got, w.headers)
		}
	}
}

const host = "Host: example.com\r\n"

func TestParseRequestAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want reqWant
	}{
		{"get", "GET / HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "GET", target: "/", minor: 1, headers: []string{"Host: example.com"}}},
		{"wrk", "GET /index.html HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\n" +
			"Accept-Encoding: gzip\r\nConnection: keep-alive\r\n\r\n",
			reqWant{method: "GET", target: "/index.html", minor: 1, host: "localhost:8080"}},
		{"http/1.0 without host closes", "GET /a?b=c HTTP/1.0\r\n\r\n",
			reqWant{method: "GET", target: "/a?b=c", minor: 0, host: "-", close: true}},
		{"http/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			reqWant{method: "GET", target: "/", host: "-"}},
		{"http/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
			reqWant{method: "GET", target: "/", host: "-", close: true}},
		{"connection close", "GET / HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1, close: true}},
		{"connection list", "GET / HTTP/1.1\r\n" + host + "Connection: foo, ,\tCLOSE , bar\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1, close: true}},
		{"connection repeated", "GET / HTTP/1.1\r\n" + host + "Connection: foo\r\nconnection: close\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1, close: true}},
		{"connection closed is not close", "GET / HTTP/1.1\r\n" + host + "Connection: closed\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1}},
		{"connection close in capitals", "GET / HTTP/1.1\r\n" + host + "CONNECTION: CLOSE\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1, close: true}},
		{"http/1.0 keep-alive lower case", "GET / HTTP/1.0\r\nconnection: keep-alive\r\n\r\n",
			reqWant{method: "GET", target: "/", host: "-"}},
		{"names in other cases", "POST / HTTP/1.1\r\nHOST: example.com\r\ncontent-LENGTH: 0\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, cl: 0, clSet: true}},
		{"absolute form", "GET http://example.org/x?y HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "GET", target: "http://example.org/x?y", form: AbsoluteForm, minor: 1}},
		{"absolute form scheme chars", "GET coap+tcp.v-1://h/ HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "GET", target: "coap+tcp.v-1://h/", form: AbsoluteForm, minor: 1}},
		{"connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
			reqWant{method: "CONNECT", target: "example.com:443", form: AuthorityForm, minor: 1, host: "example.com:443"}},
		{"connect ipv6", "CONNECT [::1]:8080 HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n",
			reqWant{method: "CONNECT", target: "[::1]:8080", form: AuthorityForm, minor: 1, host: "[::1]:8080"}},
		// "example.com:80" is an absolute URI whose scheme is "example.com"
		// (RFC 3986 §3.1 allows dots), so only CONNECT reads it as authority-form.
		{"host:port is absolute form for GET", "GET example.com:80 HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "GET", target: "example.com:80", form: AbsoluteForm, minor: 1}},
		{"options asterisk", "OPTIONS * HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "OPTIONS", target: "*", form: AsteriskForm, minor: 1}},
		{"options origin", "OPTIONS /x HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "OPTIONS", target: "/x", minor: 1}},
		{"http/1.2 is 1.1", "GET / HTTP/1.2\r\n" + host + "\r\n",
			reqWant{method: "GET", target: "/", minor: 1}},
		{"http/1.9 is 1.1", "GET / HTTP/1.9\r\n" + host + "\r\n",
			reqWant{method: "GET", target: "/", minor: 1}},
		{"extension method", "PROPFIND-X! /dav HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "PROPFIND-X!", target: "/dav", minor: 1}},
		{"lower-case method is another method", "get / HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "get", target: "/", minor: 1}},
		{"target bytes", "GET /a/b;c=d?e=f&g=%20|{}\"<>^`[]\\#x HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "GET", target: "/a/b;c=d?e=f&g=%20|{}\"<>^`[]\\#x", minor: 1}},
		{"content-length", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\n\r\nhello",
			reqWant{method: "POST", target: "/", minor: 1, cl: 5, clSet: true}},
		{"content-length zero", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, cl: 0, clSet: true}},
		{"content-length leading zeros", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0005\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, cl: 5, clSet: true}},
		{"content-length max", "POST / HTTP/1.1\r\n" + host + "Content-Length: 9223372036854775807\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, cl: 1<<63 - 1, clSet: true}},
		{"content-length repeated identical", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, cl: 5, clSet: true}},
		{"content-length list identical", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5 , 5\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, cl: 5, clSet: true}},
		{"content-length identical numbers", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 05\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, cl: 5, clSet: true}},
		{"chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, chunked: true}},
		{"chunked case and empty elements", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: , CHUNKED ,\r\n\r\n",
			reqWant{method: "POST", target: "/", minor: 1, chunked: true}},
		{"expect 100-continue", "PUT / HTTP/1.1\r\n" + host + "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n",
			reqWant{method: "PUT", target: "/", minor: 1, cl: 1, clSet: true, expect100: true}},
		{"expect in http/1.0 ignored", "PUT / HTTP/1.0\r\nExpect: 100-continue, foo\r\n\r\n",
			reqWant{method: "PUT", target: "/", host: "-", close: true}},
		{"upgrade", "GET /chat HTTP/1.1\r\n" + host + "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
			reqWant{method: "GET", target: "/chat", minor: 1, upgrade: "websocket"}},
		{"upgrade without connection option", "GET / HTTP/1.1\r\n" + host + "Upgrade: websocket\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1}},
		{"upgrade in http/1.0 ignored", "GET / HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
			reqWant{method: "GET", target: "/", host: "-", close: true}},
		{"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n",
			reqWant{method: "GET", target: "/", minor: 1}},
		{"header values", "GET / HTTP/1.1\r\n" + host + "X-A:   spaced\t \r\nX-B:\r\nX-C: a\tb  c\r\nX-D: caf\xc3\xa9\x80\xff\r\nx-a: again\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1, headers: []string{
				"Host: example.com", "X-A: spaced", "X-B: ", "X-C: a\tb  c", "X-D: caf\xc3\xa9\x80\xff", "x-a: again"}}},
		{"token name bytes", "GET / HTTP/1.1\r\n" + host + "!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1, headers: []string{"Host: example.com", "!#$%&'*+-.^_`|~09azAZ: v"}}},
		{"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1, host: "<empty>"}},
		{"host ipv6 and port", "GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1, host: "[2001:db8::1]:8080"}},
		{"host is case-insensitive", "GET / HTTP/1.1\r\nhOST: example.com\r\n\r\n",
			reqWant{method: "GET", target: "/", minor: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, n, err := parseReq(tt.in, Limits{})
			if err != nil {
				t.Fatalf("ParseRequest(%q) error %v", tt.in, err)
			}
			head := tt.in
			if i := strings.Index(head, "\r\n\r\n"); i >= 0 && strings.HasPrefix(head, "\r\n") {
				head = head[:strings.Index(head[4:], "\r\n\r\n")+8]
			} else if i >= 0 {
				head = head[:i+4]
			}
			if n != len(head) {
				t.Errorf("ParseRequest(%q) n = %d, want %d", tt.in, n, len(head))
			}
			checkReq(t, tt.in, r, tt.want)
		})
	}
}

// requestErrorTests are the requests ParseRequest rejects: each smuggling
// rule of RFC 9112 with the status it is answered with.
var requestErrorTests = []struct {
	name string
	in   string
	err  *Error
	lim  Limits
}{
	// Framing (RFC 9112 §6).
	{"te and cl", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", ErrTEWithContentLength, Limits{}},
	{"cl and te", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTEWithContentLength, Limits{}},
	{"cl differ", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", ErrConflictingContentLength, Limits{}},
	{"cl list differ", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5, 6\r\n\r\n", ErrConflictingContentLength, Limits{}},
	{"cl plus", "POST / HTTP/1.1\r\n" + host + "Content-Length: +5\r\n\r\n", ErrContentLength, Limits{}},
	{"cl minus", "POST / HTTP/1.1\r\n" + host + "Content-Length: -1\r\n\r\n", ErrContentLength, Limits{}},
	{"cl hex", "POST / HTTP/1.1\r\n" + host + "Content-Length: 0x5\r\n\r\n", ErrContentLength, Limits{}},
	{"cl trailing junk", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5a\r\n\r\n", ErrContentLength, Limits{}},
	{"cl inner space", "POST / HTTP/1.1\r\n" + host + "Content-Length: 1 2\r\n\r\n", ErrContentLength, Limits{}},
	{"cl empty", "POST / HTTP/1.1\r\n" + host + "Content-Length:\r\n\r\n", ErrContentLength, Limits{}},
	{"cl empty element", "POST / HTTP/1.1\r\n" + host + "Content-Length: 5,\r\n\r\n", ErrContentLength, Limits{}},
	{"cl overflow", "POST / HTTP/1.1\r\n" + host + "Content-Length: 9223372036854775808\r\n\r\n", ErrContentLength, Limits{}},
	{"cl huge", "POST / HTTP/1.1\r\n" + host + "Content-Length: 99999999999999999999999\r\n\r\n", ErrContentLength, Limits{}},
	{"te gzip", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", ErrUnknownTransferCoding, Limits{}},
	{"te identity", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", ErrUnknownTransferCoding, Limits{}},
	{"te gzip chunked", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip, chunked\r\n\r\n", ErrUnknownTransferCoding, Limits{}},
	{"te gzip then chunked lines", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n", ErrUnknownTransferCoding, Limits{}},
	{"te chunked not last", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n", ErrChunkedNotLast, Limits{}},
	{"te chunked not last lines", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", ErrChunkedNotLast, Limits{}},
	{"te chunked twice", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, chunked\r\n\r\n", ErrChunkedRepeated, Limits{}},
	{"te chunked twice lines", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", ErrChunkedRepeated, Limits{}},
	{"te empty", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding:\r\n\r\n", ErrTransferEncoding, Limits{}},
	{"te chunked with parameter", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked;q=1\r\n\r\n", ErrTransferEncoding, Limits{}},
	{"te not a token", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: \"chunked\"\r\n\r\n", ErrTransferEncoding, Limits{}},
	{"te chunked junk", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\"\r\n\r\n", ErrTransferEncoding, Limits{}},
	{"te unterminated quote", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: x;a=\"b, chunked\r\n\r\n", ErrTransferEncoding, Limits{}},
	{"te vertical tab", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: \vchunked\r\n\r\n", ErrHeaderValue, Limits{}},
	{"te in http/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", ErrTransferEncodingHTTP10, Limits{}},
	{"te name with space", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding : chunked\r\n\r\n", ErrSpaceBeforeColon, Limits{}},

	// Line syntax (RFC 9112 §2.2, §5).
	{"obs-fold", "GET / HTTP/1.1\r\n" + host + "X-A: a\r\n b\r\n\r\n", ErrObsFold, Limits{}},
	{"obs-fold tab", "GET / HTTP/1.1\r\n" + host + "X-A: a\r\n\tb\r\n\r\n", ErrObsFold, Limits{}},
	{"whitespace before first field", "GET / HTTP/1.1\r\n " + host + "\r\n", ErrObsFold, Limits{}},
	{"bare lf request line", "GET / HTTP/1.1\n" + host + "\r\n", ErrBareLF, Limits{}},
	{"bare lf field", "GET / HTTP/1.1\r\nHost: example.com\n\r\n", ErrBareLF, Limits{}},
	{"bare lf end", "GET / HTTP/1.1\r\n" + host + "\n", ErrBareLF, Limits{}},
	{"bare lf only", "GET / HTTP/1.1\nHost: example.com\n\n", ErrBareLF, Limits{}},
	{"leading bare lf", "\nGET / HTTP/1.1\r\n" + host + "\r\n", ErrBareLF, Limits{}},
	{"bare cr in value", "GET / HTTP/1.1\r\n" + host + "X-A: a\rb\r\n\r\n", ErrBareCR, Limits{}},
	{"bare cr at value end", "GET / HTTP/1.1\r\n" + host + "X-A: a\r\r\n\r\n", ErrBareCR, Limits{}},
	{"bare cr in name", "GET / HTTP/1.1\r\n" + host + "X\r-A: a\r\n\r\n", ErrHeaderName, Limits{}},
	{"bare cr end of head", "GET / HTTP/1.1\r\n" + host + "\rX\r\n\r\n", ErrBareCR, Limits{}},
	{"bare cr method", "GE\rT / HTTP/1.1\r\n" + host + "\r\n", ErrBareCR, Limits{}},
	{"bare cr target", "GET /\r HTTP/1.1\r\n" + host + "\r\n", ErrBareCR, Limits{}},
	{"bare cr version", "GET / HTTP/1.1\r\r\n" + host + "\r\n", ErrBareCR, Limits{}},
	{"leading bare cr", "\rGET / HTTP/1.1\r\n" + host + "\r\n", ErrBareCR, Limits{}},
	{"name with paren", "GET / HTTP/1.1\r\n" + host + "X(A): a\r\n\r\n", ErrHeaderName, Limits{}},
	{"name with slash", "GET / HTTP/1.1\r\n" + host + "X/A: a\r\n\r\n", ErrHeaderName, Limits{}},
	{"name non-ascii", "GET / HTTP/1.1\r\n" + host + "X\xc3\xa9: a\r\n\r\n", ErrHeaderName, Limits{}},
	{"name empty", "GET / HTTP/1.1\r\n" + host + ": a\r\n\r\n", ErrHeaderName, Limits{}},
	{"name without colon", "GET / HTTP/1.1\r\n" + host + "X-A\r\n\r\n", ErrHeaderName, Limits{}},
	{"name space inside", "GET / HTTP/1.1\r\n" + host + "X A: a\r\n\r\n", ErrHeaderName, Limits{}},
	{"space before colon", "GET / HTTP/1.1\r\n" + host + "X-A : a\r\n\r\n", ErrSpaceBeforeColon, Limits{}},
	{"tab before colon", "GET / HTTP/1.1\r\n" + host + "Content-Length\t: 5\r\n\r\n", ErrSpaceBeforeColon, Limits{}},
	{"value nul", "GET / HTTP/1.1\r\n" + host + "X-A: a\x00b\r\n\r\n", ErrHeaderValue, Limits{}},
	{"value del", "GET / HTTP/1.1\r\n" + host + "X-A: a\x7fb\r\n\r\n", ErrHeaderValue, Limits{}},
	{"value ctl", "GET / HTTP/1.1\r\n" + host + "X-A: \x01\r\n\r\n", ErrHeaderValue, Limits{}},
	{"value escape", "GET / HTTP/1.1\r\n" + host + "X-A: \x1b[0m\r\n\r\n", ErrHeaderValue, Limits{}},

	// Request line (RFC 9112 §3).
	{"method paren", "GE(T / HTTP/1.1\r\n" + host + "\r\n", ErrMethod, Limits{}},
	{"method first byte", "(GET / HTTP/1.1\r\n" + host + "\r\n", ErrMethod, Limits{}},
	{"leading space", " GET / HTTP/1.1\r\n" + host + "\r\n", ErrMethod, Limits{}},
	{"tls client hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", ErrMethod, Limits{}},
	{"method tab", "GET\t/ HTTP/1.1\r\n" + host + "\r\n", ErrMethod, Limits{}},
	{"double space", "GET  / HTTP/1.1\r\n" + host + "\r\n", ErrRequestLine, Limits{}},
	{"no target", "GET\r\n" + host + "\r\n", ErrRequestLine, Limits{}},
	{"no version", "GET /\r\n" + host + "\r\n", ErrRequestLine, Limits{}},
	{"trailing space", "GET / HTTP/1.1 \r\n" + host + "\r\n", ErrVersion, Limits{}},
	{"target ctl", "GET /a\x01b HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"target del", "GET /a\x7fb HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"target non-ascii", "GET /caf\xc3\xa9 HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"target tab", "GET /a\tb HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"target nul", "GET /\x00 HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"asterisk not options", "GET * HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"asterisk prefix", "OPTIONS *x HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"relative target", "GET a/b HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"scheme digit first", "GET 1http://x/ HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"scheme bad byte", "GET ht_tp://x/ HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"connect origin form", "CONNECT /rpc HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"connect absolute form", "CONNECT http://example.com:80/ HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"connect without port", "CONNECT example.com HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"connect empty port", "CONNECT example.com: HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"connect bad port", "CONNECT example.com:8x HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"connect empty host", "CONNECT :80 HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"connect userinfo", "CONNECT u@example.com:80 HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"connect bad literal", "CONNECT [::1:80 HTTP/1.1\r\n" + host + "\r\n", ErrTarget, Limits{}},
	{"http/2.0", "GET / HTTP/2.0\r\n" + host + "\r\n", ErrVersionNotSupported, Limits{}},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", ErrVersionNotSupported, Limits{}},
	{"http/0.9", "GET / HTTP/0.9\r\n\r\n", ErrVersionNotSupported, Limits{}},
	{"http/3.0", "GET / HTTP/3.0\r\n" + host + "\r\n", ErrVersionNotSupported, Limits{}},
	{"http/1.10", "GET / HTTP/1.10\r\n" + host + "\r\n", ErrVersion, Limits{}},
	{"http/1", "GET / HTTP/1\r\n" + host + "\r\n", ErrVersion, Limits{}},
	{"http/11", "GET / HTTP/11\r\n" + host + "\r\n", ErrVersion, Limits{}},
	{"lower-case http", "GET / http/1.1\r\n" + host + "\r\n", ErrVersion, Limits{}},
	{"version junk", "GET / HTTP/1.1x\r\n" + host + "\r\n", ErrVersion, Limits{}},

	// Host (RFC 9112 §3.2).
	{"missing host", "GET / HTTP/1.1\r\n\r\n", ErrMissingHost, Limits{}},
	{"missing host connect", "CONNECT example.com:443 HTTP/1.1\r\n\r\n", ErrMissingHost, Limits{}},
	{"two hosts", "GET / HTTP/1.1\r\n" + host + host + "\r\n", ErrMultipleHost, Limits{}},
	{"two hosts http/1.0", "GET / HTTP/1.0\r\n" + host + "host: other\r\n\r\n", ErrMultipleHost, Limits{}},
	{"host space", "GET / HTTP/1.1\r\nHost: exa mple.com\r\n\r\n", ErrHost, Limits{}},
	{"host slash", "GET / HTTP/1.1\r\nHost: example.com/x\r\n\r\n", ErrHost, Limits{}},
	{"host userinfo", "GET / HTTP/1.1\r\nHost: u@example.com\r\n\r\n", ErrHost, Limits{}},
	{"host non-ascii", "GET / HTTP/1.1\r\nHost: caf\xc3\xa9\r\n\r\n", ErrHost, Limits{}},

	// Expect (RFC 9110 §10.1.1).
	{"expect other", "PUT / HTTP/1.1\r\n" + host + "Expect: the-unexpected\r\n\r\n", ErrExpectation, Limits{}},
	{"expect list", "PUT / HTTP/1.1\r\n" + host + "Expect: 100-continue, x\r\n\r\n", ErrExpectation, Limits{}},

	// Limits.
	{"request line too long", "GET /" + strings.Repeat("a", DefaultMaxRequestLine) + " HTTP/1.1\r\n" + host + "\r\n", ErrRequestLineTooLong, Limits{}},
	{"request line too long small", "GET /aaaaaaaaa HTTP/1.1\r\n" + host + "\r\n", ErrRequestLineTooLong, Limits{MaxRequestLine: 20}},
	{"empty lines count", "\r\n\r\n\r\nGET / HTTP/1.1\r\n" + host + "\r\n", ErrRequestLineTooLong, Limits{MaxRequestLine: 21}},
	{"head too large", "GET / HTTP/1.1\r\n" + host + "X: " + strings.Repeat("a", DefaultMaxHeaderBytes) + "\r\n\r\n", ErrHeaderTooLarge, Limits{}},
	{"head too large small", "GET / HTTP/1.1\r\n" + host + "\r\n", ErrHeaderTooLarge, Limits{MaxHeaderBytes: 36}},
	{"too many headers", "GET / HTTP/1.1\r\n" + host + strings.Repeat("X: y\r\n", DefaultMaxHeaders) + "\r\n", ErrTooManyHeaders, Limits{}},
	{"too many headers small", "GET / HTTP/1.1\r\n" + host + "X: y\r\n\r\n", ErrTooManyHeaders, Limits{MaxHeaders: 1}},
	{"body too large", "POST / HTTP/1.1\r\n" + host + "Content-Length: 11\r\n\r\n", ErrBodyTooLarge, Limits{MaxBodyBytes: 10}},
}

func TestParseRequestRejects(t *testing.T) {
	for _, tt := range requestErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, n, err := parseReq(tt.in, tt.lim)
			if err != tt.err || n != 0 {
				t.Fatalf("ParseRequest(%q) = %d, %v; want 0, %v", tt.in, n, err, tt.err)
			}
			if !errors.Is(err, tt.err) || Status(err) != tt.err.Status {
				t.Fatalf("errors.Is/Status mismatch for %v", err)
			}
			if !strings.HasPrefix(err.Error(), "h1: ") {
				t.Errorf("error message %q lacks the h1: prefix", err)
			}
		})
	}
}

// The statuses the issue asks for, checked by value.
func TestRequestErrorStatus(t *testing.T) {
	want := map[*Error]int{
		ErrTEWithContentLength: 400, ErrConflictingContentLength: 400, ErrContentLength: 400,
		ErrUnknownTransferCoding: 501, ErrChunkedNotLast: 400, ErrChunkedRepeated: 400,
		ErrObsFold: 400, ErrBareLF: 400, ErrBareCR: 400, ErrHeaderName: 400, ErrHeaderValue: 400,
		ErrSpaceBeforeColon: 400, ErrTarget: 400, ErrMissingHost: 400, ErrChunkSize: 400, ErrChunkCRLF: 400,
		ErrRequestLineTooLong: 414, ErrHeaderTooLarge: 431, ErrTooManyHeaders: 431, ErrBodyTooLarge: 413,
		ErrVersionNotSupported: 505, ErrExpectation: 417, ErrMethod: 400, ErrVersion: 400,
	}
	for e, s := range want {
		if e.Status != s || Status(e) != s {
			t.Errorf("%v: status %d, want %d", e, e.Status, s)
		}
	}
	if Status(nil) != 0 || Status(ErrNeedMore) != 0 || Status(errors.New("x")) != 400 {
		t.Errorf("Status of nil, ErrNeedMore, other = %d, %d, %d", Status(nil), Status(ErrNeedMore), Status(errors.New("x")))
	}
}

func TestParseRequestNeedMore(t *testing.T) {
	full := "GET / HTTP/1.1\r\n" + host + "\r\n"
	var p Parser
	var r Request
	for i := 0; i < len(full); i++ {
		if n, err := p.ParseRequest([]byte(full[:i]), &r); err != ErrNeedMore || n != 0 {
			t.Fatalf("ParseRequest(%q) = %d, %v; want 0, ErrNeedMore", full[:i], n, err)
		}
	}
	if n, err := p.ParseRequest([]byte(full+"GET"), &r); err != nil || n != len(full) {
		t.Fatalf("ParseRequest(full) = %d, %v", n, err)
	}
}

// A head at exactly the limits is accepted; one byte more is not.
func TestLimitBoundaries(t *testing.T) {
	head := "GET / HTTP/1.1\r\n" + host + "\r\n" // request line 16 bytes, head 37
	for _, tt := range []struct {
		lim  Limits
		want error
	}{
		{Limits{MaxRequestLine: 16}, nil},
		{Limits{MaxRequestLine: 15}, ErrRequestLineTooLong},
		{Limits{MaxHeaderBytes: 37}, nil},
		{Limits{MaxHeaderBytes: 36}, ErrHeaderTooLarge},
		{Limits{MaxHeaders: 1}, nil},
		{Limits{MaxRequestLine: -1, MaxHeaderBytes: -1, MaxHeaders: -1}, nil},
	} {
		for _, chunks := range [][][]byte{whole(head), bytewise(head)} {
			o := drive(chunks, "", tt.lim)
			if o.err != tt.want {
				t.Errorf("limits %+v: err %v, want %v", tt.lim, o.err, tt.want)
			}
		}
	}
}

func TestRequestHeadersReuse(t *testing.T) {
	var p Parser
	var r Request
	in := []byte("GET / HTTP/1.1\r\n" + host + "A: 1\r\nB: 2\r\n\r\n")
	if _, err := p.ParseRequest(in, &r); err != nil {
		t.Fatal(err)
	}
	first := &r.Headers[0]
	if _, err := p.ParseRequest(in, &r); err != nil {
		t.Fatal(err)
	}
	if &r.Headers[0] != first {
		t.Errorf("Headers backing array was not reused")
	}
	// Appending to a parsed slice must not write into the buffer.
	v := append(r.Headers[1].Value, 'X')
	_ = v
	if !bytes.Contains(in, []byte("A: 1\r\n")) {
		t.Errorf("append to Value wrote into the buffer: %q", in)
	}
	if got := r.Headers.Get("b"); string(got) != "2" {
		t.Errorf("Get(b) = %q", got)
	}
	if _, ok := r.Headers.Lookup("C"); ok {
		t.Errorf("Lookup(C) found something")
	}
	if i := r.Headers.Index("HOST", 0); i != 0 {
		t.Errorf("Index(HOST) = %d", i)
	}
	if i := r.Headers.Index("host", 1); i != -1 {
		t.Errorf("Index(host, 1) = %d", i)
	}
}

func TestParserResetOnShorterInput(t *testing.T) {
	var p Parser
	var r Request
	if _, err := p.ParseRequest([]byte("GET / HTTP/1.1\r\nHost: a\r\nX-Long-Header: 12345"), &r); err != ErrNeedMore {
		t.Fatal(err)
	}
	// Another, shorter, input: the parser must not trust its hint.
	if n, err := p.ParseRequest([]byte("GET / HTTP/1.0\r\n\r\n"), &r); err != nil || n != 18 {
		t.Fatalf("= %d, %v", n, err)
	}
}

func TestTargetFormString(t *testing.T) {
	for f, s := range map[TargetForm]string{OriginForm: "origin-form", AbsoluteForm: "absolute-form",
		AuthorityForm: "authority-form", AsteriskForm: "asterisk-form", 9: "invalid-form"} {
		if f.String() != s {
			t.Errorf("%d.String() = %q", f, f.String())
		}
	}
}

func TestHasToken(t *testing.T) {
	for _, tt := range []struct {
		v, tok string
		want   bool
	}{
		{"close", "close", true},
		{"Keep-Alive, Upgrade", "upgrade", true},
		{" a , b ,c", "c", true},
		{"closed", "close", false},
		{"", "close", false},
		{`x="a, close", y`, "close", false},
		{",,close,,", "close", true},
	} {
		if got := HasToken([]byte(tt.v), tt.tok); got != tt.want {
			t.Errorf("HasToken(%q, %q) = %v", tt.v, tt.tok, got)
		}
	}
}

func TestRequestHasBody(t *testing.T) {
	for _, tt := range []struct {
		r    Request
		want bool
	}{
		{Request{ContentLength: -1}, false},
		{Request{ContentLength: 0}, false},
		{Request{ContentLength: 1}, true},
		{Request{ContentLength: -1, Chunked: true}, true},
	} {
		if tt.r.HasBody() != tt.want {
			t.Errorf("%+v.HasBody() != %v", tt.r, tt.want)
		}
	}
}
