package h1

import (
	"net/http"
	"testing"
	"time"
)

func TestAppendStatusLine(t *testing.T) {
	for _, tt := range []struct {
		minor, status int
		want          string
	}{
		{1, 200, "HTTP/1.1 200 OK\r\n"},
		{0, 200, "HTTP/1.0 200 OK\r\n"},
		{1, 404, "HTTP/1.1 404 Not Found\r\n"},
		{1, 431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
		{1, 599, "HTTP/1.1 599 \r\n"},
		{0, 299, "HTTP/1.0 299 \r\n"},
		{1, 999, "HTTP/1.1 999 \r\n"},
		{1, 1000, "HTTP/1.1 1000 \r\n"},
		{1, -1, "HTTP/1.1 -1 \r\n"},
	} {
		if got := string(AppendStatusLine([]byte("x"), tt.minor, tt.status)); got != "x"+tt.want {
			t.Errorf("AppendStatusLine(%d, %d) = %q, want %q", tt.minor, tt.status, got, "x"+tt.want)
		}
	}
	// Every registered code matches net/http's reason phrase and parses back.
	for code := 100; code < 600; code++ {
		if StatusText(code) != http.StatusText(code) {
			t.Errorf("StatusText(%d) = %q, net/http says %q", code, StatusText(code), http.StatusText(code))
		}
		line := AppendStatusLine(nil, 1, code)
		var p Parser
		var r Response
		if _, err := p.ParseResponse(append(line, "\r\n"...), "GET", &r); err != nil || r.Status != code ||
			string(r.Reason) != StatusText(code) {
			t.Errorf("status line %q parses as %d %q, %v", line, r.Status, r.Reason, err)
		}
	}
}

func TestAppendLines(t *testing.T) {
	var b []byte
	b = AppendRequestLine(b, "GET", "/x?y", 1)
	b = AppendHeader(b, "Host", "example.com")
	b = AppendHeader(b, "X-Evil", "a\r\nSet-Cookie: x\x00")
	b = AppendHeaderInt(b, "Content-Length", 12345)
	b = AppendDateHeader(b, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	b = append(b, "\r\n"...)
	want := "GET /x?y HTTP/1.1\r\nHost: example.com\r\nX-Evil: a  Set-Cookie: x \r\nContent-Length: 12345\r\n" +
		"Date: Fri, 02 Jan 2026 03:04:05 GMT\r\n\r\n"
	if string(b) != want {
		t.Errorf("got %q\nwant %q", b, want)
	}
	if got := string(AppendRequestLine(nil, "GET", "/", 0)); got != "GET / HTTP/1.0\r\n" {
		t.Errorf("AppendRequestLine 1.0 = %q", got)
	}
	if got := string(AppendStatusLineReason(nil, 1, 200, "Fine\r\nX: y")); got != "HTTP/1.1 200 Fine  X: y\r\n" {
		t.Errorf("AppendStatusLineReason = %q", got)
	}
	if got := string(AppendStatusLineReason(nil, 0, 599, "")); got != "HTTP/1.0 599 \r\n" {
		t.Errorf("AppendStatusLineReason = %q", got)
	}
	// What the serializers write, the parser reads back.
	var p Parser
	var r Request
	if _, err := p.ParseRequest(b, &r); err != nil || string(r.Headers.Get("x-evil")) != "a  Set-Cookie: x" || len(r.Headers) != 4 {
		t.Errorf("round trip: %v %s", err, summarizeRequest(&r))
	}
}

func TestValidField(t *testing.T) {
	if !ValidFieldName("X-Ok_1") || ValidFieldName("") || ValidFieldName("a b") || ValidFieldName("a:") {
		t.Error("ValidFieldName")
	}
	if !ValidFieldValue("a\tb \x80") || !ValidFieldValue("") || ValidFieldValue("a\r\n") || ValidFieldValue("\x7f") {
		t.Error("ValidFieldValue")
	}
}

func TestAppendChunks(t *testing.T) {
	var b []byte
	b = AppendChunk(b, []byte("hello"))
	b = AppendChunk(b, nil)
	b = AppendChunkHeader(b, 26)
	b = append(b, "abcdefghijklmnopqrstuvwxyz\r\n"...)
	b = AppendLastChunk(b, Headers{{Name: []byte("X-Sum"), Value: []byte("1\r\n2")}})
	want := "5\r\nhello\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-Sum: 1  2\r\n\r\n"
	if string(b) != want {
		t.Errorf("got %q\nwant %q", b, want)
	}
	if got := string(AppendLastChunk(nil, nil)); got != "0\r\n\r\n" {
		t.Errorf("AppendLastChunk(nil) = %q", got)
	}
	var body Body
	body.Reset(-1, true)
	o := decodeBody(&body, whole(want))
	if o.err != nil || o.payload != "helloabcdefghijklmnopqrstuvwxyz" || o.trailers != `["X-Sum":"1  2"]` {
		t.Errorf("decode: %v", o)
	}
}

func TestAppendDate(t *testing.T) {
	times := []time.Time{
		time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC),
		time.Date(2026, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2000, 2, 29, 0, 0, 0, 0, time.FixedZone("X", -7*3600)),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(999, 5, 5, 5, 5, 5, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Unix(0, 0),
		time.Now(),
	}
	for i := range 1000 {
		times = append(times, time.Unix(int64(i)*7919*3607, 0))
	}
	for _, tm := range times {
		want := tm.UTC().Format(http.TimeFormat)
		if got := string(AppendDate(nil, tm)); got != want {
			t.Errorf("AppendDate(%v) = %q, want %q", tm, got, want)
		}
	}
	if got := string(AppendDate(nil, time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC))); got != "Mon, 01 Jan 12345 00:00:00 GMT" {
		t.Errorf("year 12345: %q", got)
	}
}
