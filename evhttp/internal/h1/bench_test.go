package h1

import (
	"strings"
	"testing"
	"time"
)

// wrkRequest is the request wrk sends, with a few common fields.
const wrkRequest = "GET /index.html HTTP/1.1\r\n" +
	"Host: localhost:8080\r\n" +
	"User-Agent: wrk/4.2.0\r\n" +
	"Accept: */*\r\n" +
	"Accept-Encoding: gzip, deflate\r\n" +
	"Connection: keep-alive\r\n" +
	"\r\n"

// chunkedInput is a chunked body of eight 1 KiB chunks and a trailer.
func chunkedInput() []byte {
	var b []byte
	data := []byte(strings.Repeat("0123456789abcdef", 64))
	for range 8 {
		b = AppendChunk(b, data)
	}
	return AppendLastChunk(b, Headers{{Name: []byte("X-Checksum"), Value: []byte("deadbeef")}})
}

func BenchmarkParseRequest(b *testing.B) {
	buf := []byte(wrkRequest)
	var p Parser
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := p.ParseRequest(buf, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRequestPipelined16(b *testing.B) {
	buf := []byte(strings.Repeat(wrkRequest, 16))
	var p Parser
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		in := buf
		for len(in) > 0 {
			n, err := p.ParseRequest(in, &r)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
		}
	}
}

// minimalRequest is what wrk sends by default and what evhttp's
// BenchmarkPlaintextPipelined16 sends: a request line and Host.
const minimalRequest = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

func BenchmarkParseRequestMinimalPipelined16(b *testing.B) {
	buf := []byte(strings.Repeat(minimalRequest, 16))
	var p Parser
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		in := buf
		for len(in) > 0 {
			n, err := p.ParseRequest(in, &r)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
		}
	}
}

// A head arriving a byte at a time: linear thanks to the Parser's hint.
func BenchmarkParseRequestDribble(b *testing.B) {
	buf := []byte(wrkRequest)
	var p Parser
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		for i := 1; i <= len(buf); i++ {
			if _, err := p.ParseRequest(buf[:i], &r); err != nil && err != ErrNeedMore {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	buf := []byte("HTTP/1.1 200 OK\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\nContent-Type: text/plain\r\n" +
		"Content-Length: 13\r\nServer: eddy\r\n\r\nHello, World!")
	var p Parser
	var r Response
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := p.ParseResponse(buf, "GET", &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChunkedDecode(b *testing.B) {
	buf := chunkedInput()
	var body Body
	b.ReportAllocs()
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		body.Reset(-1, true)
		in := buf
		for {
			n, _, done, err := body.Decode(in)
			if err != nil {
				b.Fatal(err)
			}
			in = in[n:]
			if done {
				break
			}
		}
	}
}

func BenchmarkAppendResponseHead(b *testing.B) {
	dst := make([]byte, 0, 512)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendStatusLine(dst[:0], 1, 200)
		dst = AppendDateHeader(dst, now)
		dst = AppendHeader(dst, "Content-Type", "text/plain; charset=utf-8")
		dst = AppendHeaderInt(dst, "Content-Length", 13)
		dst = AppendHeader(dst, "Server", "eddy")
		dst = append(dst, "\r\n"...)
	}
}

func BenchmarkAppendDate(b *testing.B) {
	dst := make([]byte, 0, 64)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendDate(dst[:0], now)
	}
}

// The allocation budgets: parsing and serializing allocate nothing in
// steady state.
func TestAllocs(t *testing.T) {
	req := []byte(strings.Repeat(wrkRequest, 4) + "POST / HTTP/1.1\r\n" + host +
		"Transfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nX: y\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nX: a\r\n b\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n")
	chunked := chunkedInput()
	noHost := []byte("GET / HTTP/1.1\r\n\r\n")
	smuggle := []byte("GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
	var (
		p    Parser
		r    Request
		rs   Response
		body Body
		dst  = make([]byte, 0, 1024)
		now  = time.Now()
	)
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"requests", func() {
			in := req
			for len(in) > 0 {
				n, err := p.ParseRequest(in, &r)
				if err != nil {
					t.Fatal(err)
				}
				in = in[n:]
				body.ResetRequest(&r)
				for !body.Done() {
					n, _, _, err := body.Decode(in)
					if err != nil {
						t.Fatal(err)
					}
					in = in[n:]
				}
			}
		}},
		{"dribbled request", func() {
			for i := 1; i <= len(wrkRequest); i++ {
				p.ParseRequest(req[:i], &r)
			}
		}},
		{"response", func() {
			n, err := p.ParseResponse(resp, "GET", &rs)
			if err != nil {
				t.Fatal(err)
			}
			body.ResetResponse(&rs)
			in := resp[n:]
			for !body.Done() {
				n, _, _, err := body.Decode(in)
				if err != nil {
					t.Fatal(err)
				}
				in = in[n:]
			}
		}},
		{"chunked", func() {
			body.Reset(-1, true)
			in := chunked
			for !body.Done() {
				n, _, _, _ := body.Decode(in)
				in = in[n:]
			}
		}},
		{"errors", func() {
			if _, err := p.ParseRequest(noHost, &r); err != ErrMissingHost {
				t.Fatal(err)
			}
			if _, err := p.ParseRequest(smuggle, &r); err != ErrTEWithContentLength {
				t.Fatal(err)
			}
		}},
		{"lookup", func() {
			if r.Headers.Get("user-agent") == nil && r.Headers.Index("HOST", 0) < 0 && HasToken(r.Headers.Get("Connection"), "close") {
				t.Fatal("impossible")
			}
		}},
		{"serialize", func() {
			dst = AppendStatusLine(dst[:0], 1, 404)
			dst = AppendStatusLine(dst, 0, 299)
			dst = AppendDateHeader(dst, now)
			dst = AppendHeader(dst, "Content-Type", "text/plain\r\n")
			dst = AppendHeaderInt(dst, "Content-Length", 1<<40)
			dst = AppendRequestLine(dst, "GET", "/", 1)
			dst = AppendChunk(dst, []byte("hello"))
			dst = AppendLastChunk(dst, rs.Headers)
		}},
	} {
		tt.f() // grow the reused slices first
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", tt.name, n)
		}
	}
}
