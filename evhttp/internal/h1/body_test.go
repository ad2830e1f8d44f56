package h1

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// bodyOutcome is what decoding a body from a list of chunks gave.
type bodyOutcome struct {
	payload, trailers, rest string
	err                     error
	done                    bool
}

func (o bodyOutcome) String() string {
	return fmt.Sprintf("payload=%q trailers=%s rest=%q err=%v done=%v", o.payload, o.trailers, o.rest, o.err, o.done)
}

// decodeBody feeds chunks to b as a connection would and calls EOF at the
// end if the body is not done.
func decodeBody(b *Body, chunks [][]byte) bodyOutcome {
	var o bodyOutcome
	var buf []byte
	for _, ch := range chunks {
		buf = append(buf, ch...)
		for !o.done {
			n, p, done, err := b.Decode(buf)
			if err == ErrNeedMore {
				break
			}
			if err != nil {
				o.err = err
				return o
			}
			o.payload += string(p)
			o.done = done
			if done {
				o.trailers = summarizeHeaders(b.Trailers)
			}
			rest := append([]byte(nil), buf[n:]...)
			for i := range buf {
				buf[i] = '#'
			}
			buf = rest
		}
	}
	if !o.done {
		if err := b.EOF(); err != nil {
			o.err = err
			return o
		}
		o.done = true
		o.trailers = summarizeHeaders(b.Trailers)
	}
	o.rest = string(buf)
	return o
}

var chunkedTests = []struct {
	name     string
	in       string
	fold     bool // response trailers: obs-fold replaced
	lim      Limits
	payload  string
	trailers string
	rest     string
	err      error
}{
	{name: "one chunk", in: "5\r\nhello\r\n0\r\n\r\n", payload: "hello", trailers: "[]"},
	{name: "chunks", in: "5\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\n\r\n", payload: "hello 0123456789", trailers: "[]"},
	{name: "hex cases and zeros", in: "00a\r\n0123456789\r\nB\r\nabcdefghijk\r\n000\r\n\r\n", payload: "0123456789abcdefghijk", trailers: "[]"},
	{name: "rest", in: "1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n", payload: "x", trailers: "[]", rest: "GET / HTTP/1.1\r\n"},
	{name: "extensions", in: "5;a=b;c\r\nhello\r\n0;last\r\n\r\n", payload: "hello", trailers: "[]"},
	{name: "extension bws", in: "5 ;\ta = b ; c\t\r\nhello\r\n0\r\n\r\n", payload: "hello", trailers: "[]"},
	{name: "extension quoted", in: "5;a=\"x;y\\\"z\\\\\";b=\"\"\r\nhello\r\n0\r\n\r\n", payload: "hello", trailers: "[]"},
	{name: "trailers", in: "5\r\nhello\r\n0\r\nX-T: 1\r\nchecksum: abc \r\n\r\nNEXT", payload: "hello",
		trailers: `["X-T":"1", "checksum":"abc"]`, rest: "NEXT"},
	{name: "folded trailers", in: "0\r\nX: 1\r\nY: 2\r\n z\r\n\r\n", fold: true, trailers: `["X":"1", "Y":"2   z"]`},
	{name: "folded trailers bare lf", in: "0\r\nX: 1\nY: 2\r\n z\r\n\r\n", fold: true, err: ErrBareLF},
	{name: "folded trailers empty bare lf", in: "0\r\n\n", fold: true, err: ErrBareLF},
	{name: "max size fits", in: "7fffffffffffffff\r\nab", payload: "ab", err: ErrTruncatedBody},
	{name: "body limit exact", in: "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", lim: Limits{MaxBodyBytes: 10}, payload: "helloworld", trailers: "[]"},

	{name: "empty size", in: "\r\nhello\r\n0\r\n\r\n", err: ErrChunkSize},
	{name: "size not hex", in: "g\r\n", err: ErrChunkSize},
	{name: "size 0x", in: "0x5\r\nhello\r\n", err: ErrChunkSize},
	{name: "size negative", in: "-5\r\nhello\r\n", err: ErrChunkSize},
	{name: "size plus", in: "+5\r\nhello\r\n", err: ErrChunkSize},
	{name: "size leading space", in: " 5\r\nhello\r\n", err: ErrChunkSize},
	{name: "size trailing space", in: "5 \r\nhello\r\n", err: ErrChunkSize},
	{name: "size overflow", in: "8000000000000000\r\n", err: ErrChunkSize},
	{name: "size overflow long", in: "000000000000000000000000000000001\r\nx\r\n0\r\n\r\n", payload: "x", trailers: "[]"},
	{name: "size huge", in: "ffffffffffffffffff\r\n", err: ErrChunkSize},
	{name: "size bare lf", in: "5\nhello\r\n0\r\n\r\n", err: ErrBareLF},
	{name: "size bare cr", in: "5\r;a\r\nhello\r\n", err: ErrBareCR},
	{name: "extension empty", in: "5;\r\nhello\r\n", err: ErrChunkExtension},
	{name: "extension no value", in: "5;a=\r\nhello\r\n", err: ErrChunkExtension},
	{name: "extension bad name", in: "5;(a)\r\nhello\r\n", err: ErrChunkExtension},
	{name: "extension two words", in: "5;a b\r\nhello\r\n", err: ErrChunkExtension},
	{name: "extension unterminated", in: "5;a=\"b\r\nhello\r\n", err: ErrChunkExtension},
	{name: "extension ctl", in: "5;a=\"\x01\"\r\nhello\r\n", err: ErrChunkExtension},
	{name: "extension bare cr", in: "5;a=\"\r\"\r\nhello\r\n", err: ErrBareCR},
	{name: "data too long", in: "5\r\nhelloX\r\n0\r\n\r\n", payload: "hello", err: ErrChunkCRLF},
	{name: "data bare lf", in: "5\r\nhello\n0\r\n\r\n", payload: "hello", err: ErrChunkCRLF},
	{name: "data cr only", in: "5\r\nhello\r0\r\n\r\n", payload: "hello", err: ErrChunkCRLF},
	{name: "data lf only", in: "5\r\nhello\n", payload: "hello", err: ErrChunkCRLF},
	{name: "trailer bare lf", in: "0\r\nX: 1\n\r\n", err: ErrBareLF},
	{name: "empty trailer bare lf", in: "0\r\n\n", err: ErrBareLF},
	{name: "empty trailer bare cr", in: "0\r\n\rX", err: ErrBareCR},
	{name: "trailer obs-fold", in: "0\r\nX: 1\r\n 2\r\n\r\n", err: ErrObsFold},
	{name: "trailer bad name", in: "0\r\nX Y: 1\r\n\r\n", err: ErrHeaderName},
	{name: "trailer too large", in: "0\r\nX: 12345678\r\n\r\n", lim: Limits{MaxHeaderBytes: 12}, err: ErrHeaderTooLarge},
	{name: "trailer fits", in: "0\r\nX: 12345678\r\n\r\n", lim: Limits{MaxHeaderBytes: 15}, trailers: `["X":"12345678"]`},
	{name: "too many trailers", in: "0\r\nX: 1\r\nY: 2\r\n\r\n", lim: Limits{MaxHeaders: 1}, err: ErrTooManyHeaders},
	{name: "chunk line too long", in: "5;" + strings.Repeat("a", DefaultMaxChunkLine) + "\r\nhello\r\n", err: ErrChunkLineTooLong},
	{name: "chunk line limit", in: "5;aa\r\nhello\r\n0\r\n\r\n", lim: Limits{MaxChunkLine: 6}, payload: "hello", trailers: "[]"},
	{name: "chunk line limit exceeded", in: "5;aaa\r\nhello\r\n0\r\n\r\n", lim: Limits{MaxChunkLine: 6}, err: ErrChunkLineTooLong},
	{name: "body limit", in: "5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n", lim: Limits{MaxBodyBytes: 10}, payload: "hello", err: ErrBodyTooLarge},
	{name: "truncated data", in: "5\r\nhel", payload: "hel", err: ErrTruncatedBody},
	{name: "truncated size", in: "5", err: ErrTruncatedBody},
	{name: "truncated trailer", in: "5\r\nhello\r\n0\r\nX: 1\r\n", payload: "hello", err: ErrTruncatedBody},
	{name: "empty", in: "", err: ErrTruncatedBody},
}

func TestChunked(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, tt := range chunkedTests {
		t.Run(tt.name, func(t *testing.T) {
			want := bodyOutcome{payload: tt.payload, trailers: tt.trailers, rest: tt.rest, err: tt.err, done: tt.err == nil}
			if tt.err != nil {
				want.trailers, want.rest = "", ""
			}
			check := func(how string, chunks [][]byte) {
				b := Body{Limits: tt.lim}
				b.Reset(-1, true)
				b.fold = tt.fold
				got := decodeBody(&b, chunks)
				if got != want {
					t.Fatalf("%s: decode(%q)\n got %v\nwant %v", how, tt.in, got, want)
				}
			}
			check("whole", whole(tt.in))
			check("bytewise", bytewise(tt.in))
			for i := 0; i <= len(tt.in); i++ {
				check("split", splitAt(tt.in, i))
			}
			for range 50 {
				check("random", randomSplit(rnd, tt.in))
			}
		})
	}
}

func TestContentLengthBody(t *testing.T) {
	for _, tt := range []struct {
		name string
		cl   int64
		lim  Limits
		in   string
		want bodyOutcome
	}{
		{"exact", 5, Limits{}, "hello", bodyOutcome{payload: "hello", trailers: "[]", done: true}},
		{"rest", 5, Limits{}, "hello world", bodyOutcome{payload: "hello", trailers: "[]", rest: " world", done: true}},
		{"empty", 0, Limits{}, "next", bodyOutcome{trailers: "[]", rest: "next", done: true}},
		{"truncated", 5, Limits{}, "hel", bodyOutcome{payload: "hel", err: ErrTruncatedBody}},
		{"limit", 5, Limits{MaxBodyBytes: 4}, "hello", bodyOutcome{err: ErrBodyTooLarge}},
		{"limit exact", 5, Limits{MaxBodyBytes: 5}, "hello", bodyOutcome{payload: "hello", trailers: "[]", done: true}},
		{"until eof", -1, Limits{}, "all of it", bodyOutcome{payload: "all of it", trailers: "[]", done: true}},
		{"until eof empty", -1, Limits{}, "", bodyOutcome{trailers: "[]", done: true}},
		{"until eof limit", -1, Limits{MaxBodyBytes: 3}, "abcd", bodyOutcome{payload: "abc", err: ErrBodyTooLarge}},
		{"until eof limit exact", -1, Limits{MaxBodyBytes: 4}, "abcd", bodyOutcome{payload: "abcd", trailers: "[]", done: true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i <= len(tt.in); i++ {
				b := Body{Limits: tt.lim}
				b.Reset(tt.cl, false)
				chunks := splitAt(tt.in, i)
				if got := decodeBody(&b, chunks); got != tt.want {
					t.Fatalf("split %d: got %v, want %v", i, got, tt.want)
				}
			}
		})
	}
}

func TestBodyAPI(t *testing.T) {
	var b Body
	if !b.Done() {
		t.Error("zero Body is not done")
	}
	if n, p, done, err := b.Decode([]byte("x")); n != 0 || p != nil || !done || err != nil {
		t.Errorf("zero Body Decode = %d, %q, %v, %v", n, p, done, err)
	}
	b.ResetRequest(&Request{ContentLength: -1})
	if !b.Done() || b.EOF() != nil {
		t.Error("request without body is not done")
	}
	b.ResetRequest(&Request{ContentLength: 3})
	if n, _, _, err := b.Decode(nil); n != 0 || err != ErrNeedMore {
		t.Errorf("Decode(nil) = %d, %v", n, err)
	}
	if err := b.EOF(); err != ErrTruncatedBody {
		t.Errorf("EOF = %v", err)
	}
	b.ResetResponse(&Response{NoBody: true, ContentLength: 10})
	if !b.Done() {
		t.Error("NoBody response body is not done")
	}
	b.ResetResponse(&Response{UntilEOF: true, ContentLength: -1})
	if _, _, _, err := b.Decode(nil); err != ErrNeedMore {
		t.Errorf("until-EOF Decode(nil) = %v", err)
	}
	if b.EOF() != nil || !b.Done() {
		t.Error("until-EOF body not done after EOF")
	}
	b.ResetResponse(&Response{ContentLength: 2})
	if n, p, done, err := b.Decode([]byte("abc")); n != 2 || string(p) != "ab" || !done || err != nil {
		t.Errorf("Decode = %d, %q, %v, %v", n, p, done, err)
	}
	// A fault sticks.
	b.Reset(-1, true)
	if _, _, _, err := b.Decode([]byte("z\r\n")); err != ErrChunkSize {
		t.Fatalf("Decode = %v", err)
	}
	if _, _, _, err := b.Decode([]byte("0\r\n\r\n")); err != ErrChunkSize {
		t.Errorf("Decode after fault = %v", err)
	}
	if b.EOF() != ErrChunkSize || b.Done() {
		t.Errorf("EOF after fault = %v", b.EOF())
	}
	// Payload capacity is cut, so appending to it copies.
	b.Reset(-1, true)
	in := []byte("1\r\na\r\n0\r\n\r\n")
	_, p, _, _ := b.Decode(in)
	_ = append(p, 'Z')
	if string(in) != "1\r\na\r\n0\r\n\r\n" {
		t.Errorf("append to payload wrote into the input: %q", in)
	}
}
