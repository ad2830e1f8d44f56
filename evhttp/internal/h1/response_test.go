package h1

import (
	"strings"
	"testing"
)

func TestParseResponseAccepts(t *testing.T) {
	tests := []struct {
		name, method, in string
		want             string // summarizeResponse of the result
	}{
		{"content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
			`HTTP/1.1 200 "OK" cl=5 nobody=false chunked=false eof=false close=false headers=["Content-Length":"5"]`},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=-1 nobody=false chunked=true eof=false close=false headers=["Transfer-Encoding":"chunked"]`},
		{"until eof", "GET", "HTTP/1.1 200 OK\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=-1 nobody=false chunked=false eof=true close=true headers=[]`},
		{"te overrides cl", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=-1 nobody=false chunked=true eof=false close=false headers=["Content-Length":"5", "Transfer-Encoding":"chunked"]`},
		{"http/1.0 te is read until close", "GET", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nConnection: keep-alive\r\n\r\n",
			`HTTP/1.0 200 "OK" cl=-1 nobody=false chunked=false eof=true close=true headers=["Transfer-Encoding":"chunked", "Content-Length":"5", "Connection":"keep-alive"]`},
		{"http/1.0 keep-alive", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
			`HTTP/1.0 200 "OK" cl=0 nobody=false chunked=false eof=false close=false headers=["Connection":"keep-alive", "Content-Length":"0"]`},
		{"http/1.0 closes", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n",
			`HTTP/1.0 200 "OK" cl=0 nobody=false chunked=false eof=false close=true headers=["Content-Length":"0"]`},
		{"connection close", "GET", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=0 nobody=false chunked=false eof=false close=true headers=["Connection":"close", "Content-Length":"0"]`},
		{"204 ignores framing", "GET", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
			`HTTP/1.1 204 "No Content" cl=5 nobody=true chunked=false eof=false close=false headers=["Content-Length":"5"]`},
		{"304", "GET", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
			`HTTP/1.1 304 "Not Modified" cl=-1 nobody=true chunked=false eof=false close=false headers=["Transfer-Encoding":"chunked"]`},
		{"100 continue", "POST", "HTTP/1.1 100 Continue\r\n\r\n",
			`HTTP/1.1 100 "Continue" cl=-1 nobody=true chunked=false eof=false close=false headers=[]`},
		{"101", "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
			`HTTP/1.1 101 "Switching Protocols" cl=-1 nobody=true chunked=false eof=false close=false headers=["Upgrade":"websocket", "Connection":"Upgrade"]`},
		{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=100 nobody=true chunked=false eof=false close=false headers=["Content-Length":"100"]`},
		{"head chunked", "HEAD", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=-1 nobody=true chunked=false eof=false close=false headers=["Transfer-Encoding":"chunked"]`},
		{"connect 200", "CONNECT", "HTTP/1.1 200 Connection established\r\n\r\n",
			`HTTP/1.1 200 "Connection established" cl=-1 nobody=true chunked=false eof=false close=false headers=[]`},
		{"connect 407", "CONNECT", "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 3\r\n\r\n",
			`HTTP/1.1 407 "Proxy Authentication Required" cl=3 nobody=false chunked=false eof=false close=false headers=["Content-Length":"3"]`},
		{"bare lf", "GET", "HTTP/1.1 200 OK\nA: 1\nContent-Length: 0\n\n",
			`HTTP/1.1 200 "OK" cl=0 nobody=false chunked=false eof=false close=false headers=["A":"1", "Content-Length":"0"]`},
		{"mixed line ends", "GET", "HTTP/1.1 200 OK\r\nA: 1\nContent-Length: 0\r\n\n",
			`HTTP/1.1 200 "OK" cl=0 nobody=false chunked=false eof=false close=false headers=["A":"1", "Content-Length":"0"]`},
		{"obs-fold", "GET", "HTTP/1.1 200 OK\r\nX: a\r\n  b \r\n\tc\r\nY:\r\n d\r\nContent-Length: 0\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=0 nobody=false chunked=false eof=false close=false headers=["X":"a    b    c", "Y":"d", "Content-Length":"0"]`},
		{"obs-fold empty continuation", "GET", "HTTP/1.1 200 OK\r\nX: a\r\n \r\nContent-Length: 0\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=0 nobody=false chunked=false eof=false close=false headers=["X":"a", "Content-Length":"0"]`},
		{"no reason no space", "GET", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
			`HTTP/1.1 200 "" cl=0 nobody=false chunked=false eof=false close=false headers=["Content-Length":"0"]`},
		{"empty reason", "GET", "HTTP/1.1 404 \r\nContent-Length: 0\r\n\r\n",
			`HTTP/1.1 404 "" cl=0 nobody=false chunked=false eof=false close=false headers=["Content-Length":"0"]`},
		{"reason bytes", "GET", "HTTP/1.1 200 Tr\xe8s\tbien  \r\nContent-Length: 0\r\n\r\n",
			"HTTP/1.1 200 \"Tr\\xe8s\\tbien  \" cl=0 nobody=false chunked=false eof=false close=false headers=[\"Content-Length\":\"0\"]"},
		{"http/1.2", "GET", "HTTP/1.2 599 Odd\r\nContent-Length: 0\r\n\r\n",
			`HTTP/1.1 599 "Odd" cl=0 nobody=false chunked=false eof=false close=false headers=["Content-Length":"0"]`},
		{"cl repeated", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\n",
			`HTTP/1.1 200 "OK" cl=3 nobody=false chunked=false eof=false close=false headers=["Content-Length":"3", "Content-Length":"3, 3"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			var r Response
			buf := []byte(tt.in)
			n, err := p.ParseResponse(buf, tt.method, &r)
			if err != nil {
				t.Fatalf("ParseResponse(%q) error %v", tt.in, err)
			}
			if got := summarizeResponse(&r); got != tt.want {
				t.Errorf("ParseResponse(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
			end := strings.Index(tt.in, "\r\n\r\n") + 4
			if i := strings.Index(tt.in, "\n\n"); i >= 0 && (end < 4 || i+2 < end) {
				end = i + 2
			}
			if n != end {
				t.Errorf("n = %d, want %d", n, end)
			}
		})
	}
}

var responseErrorTests = []struct {
	name, in string
	err      *Error
}{
	{"not http", "ICY 200 OK\r\n\r\n", ErrStatusLine},
	{"lower-case", "http/1.1 200 OK\r\n\r\n", ErrStatusLine},
	{"http/2", "HTTP/2.0 200 OK\r\n\r\n", ErrVersionNotSupported},
	{"http/0.9", "HTTP/0.9 200 OK\r\n\r\n", ErrVersionNotSupported},
	{"version junk", "HTTP/1.x 200 OK\r\n\r\n", ErrVersion},
	{"no status", "HTTP/1.1\r\n\r\n", ErrStatusLine},
	{"short status", "HTTP/1.1 20 OK\r\n\r\n", ErrStatusLine},
	{"long status", "HTTP/1.1 2000 OK\r\n\r\n", ErrStatusLine},
	{"status below 100", "HTTP/1.1 099 OK\r\n\r\n", ErrStatusLine},
	{"status letters", "HTTP/1.1 2x0 OK\r\n\r\n", ErrStatusLine},
	{"double space", "HTTP/1.1  200 OK\r\n\r\n", ErrStatusLine},
	{"reason ctl", "HTTP/1.1 200 O\x01K\r\n\r\n", ErrStatusLine},
	{"reason bare cr", "HTTP/1.1 200 O\rK\r\n\r\n", ErrBareCR},
	{"cl differ", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", ErrConflictingContentLength},
	{"cl junk", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", ErrContentLength},
	{"cl junk on 204", "HTTP/1.1 204 OK\r\nContent-Length: x\r\n\r\n", ErrContentLength},
	{"te gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", ErrUnknownTransferCoding},
	{"te chunked not last", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", ErrChunkedNotLast},
	{"te on head", "HTTP/1.1 200 OK\r\nTransfer-Encoding: x\r\n\r\n", ErrUnknownTransferCoding},
	{"bare cr in value", "HTTP/1.1 200 OK\r\nA: 1\r2\r\n\r\n", ErrBareCR},
	{"name invalid", "HTTP/1.1 200 OK\r\nA@: 1\r\n\r\n", ErrHeaderName},
	{"space before colon", "HTTP/1.1 200 OK\r\nA : 1\r\n\r\n", ErrSpaceBeforeColon},
	{"fold first line", "HTTP/1.1 200 OK\r\n A: 1\r\n\r\n", ErrObsFold},
	{"value nul", "HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n", ErrHeaderValue},
	{"fold ctl", "HTTP/1.1 200 OK\r\nA: 1\r\n \x01\r\n\r\n", ErrHeaderValue},
}

func TestParseResponseRejects(t *testing.T) {
	for _, tt := range responseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			var p Parser
			var r Response
			method := "GET"
			if tt.name == "te on head" {
				method = "HEAD"
			}
			n, err := p.ParseResponse([]byte(tt.in), method, &r)
			if err != tt.err || n != 0 {
				t.Fatalf("ParseResponse(%q) = %d, %v; want 0, %v", tt.in, n, err, tt.err)
			}
		})
	}
}

func TestParseResponseEarlyReject(t *testing.T) {
	var p Parser
	var r Response
	// A status line that cannot start with "HTTP/" is rejected at once.
	if _, err := p.ParseResponse([]byte("<htm"), "GET", &r); err != ErrStatusLine {
		t.Errorf("err = %v", err)
	}
	if _, err := p.ParseResponse([]byte("HTT"), "GET", &r); err != ErrNeedMore {
		t.Errorf("err = %v", err)
	}
	if _, err := p.ParseResponse([]byte("HTTP/1.1 200 OK\r\n"+strings.Repeat("A: b\r\n", 10)), "GET",
		&r); err != ErrNeedMore {
		t.Errorf("err = %v", err)
	}
}
