package h1

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// Streams of messages as a connection receives them, for the split tests.
var requestStreams = []struct {
	name string
	in   string
	lim  Limits
}{
	{"pipeline", "GET / HTTP/1.1\r\n" + host + "User-Agent: t\r\n\r\n" +
		"POST /form HTTP/1.1\r\n" + host + "Content-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world" +
		"POST /up HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
		"5;name=\"v;1\"\r\nhello\r\n1\r\n \r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 42\r\n\r\n" +
		"\r\nGET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
		"OPTIONS * HTTP/1.1\r\n" + host + "Content-Length: 0\r\n\r\n" +
		"GET http://example.org/abs HTTP/1.1\r\n" + host + "Connection: close\r\n\r\n", Limits{}},
	{"upgrade", "GET /chat HTTP/1.1\r\n" + host + "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello", Limits{}},
	{"expect", "PUT /f HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n" + host + "\r\n", Limits{}},
	{"connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01", Limits{}},
	{"incomplete tail", "GET / HTTP/1.1\r\n" + host + "\r\nGET /next HTTP/1.1\r\nHo", Limits{}},
	{"smuggle after valid", "GET / HTTP/1.1\r\n" + host + "\r\nPOST / HTTP/1.1\r\n" + host +
		"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Limits{}},
	{"chunked fault after payload", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", Limits{}},
	{"body limit in chunks", "POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", Limits{MaxBodyBytes: 5}},
	{"small limits", "GET /0123456789 HTTP/1.1\r\n" + host + "A: 0123456789\r\nB: 0123456789\r\n\r\n", Limits{MaxRequestLine: 30, MaxHeaderBytes: 76}},
	{"small limits pass", "GET /0123456789 HTTP/1.1\r\n" + host + "A: 0123456789\r\n\r\n", Limits{MaxRequestLine: 30, MaxHeaderBytes: 70}},
}

var responseStreams = []struct {
	name, method, in string
}{
	{"pipeline", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n" +
		"HTTP/1.1 304 Not Modified\r\n\r\n" +
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx" +
		"HTTP/1.0 200 OK\r\n\r\nuntil the end\r\n\r\n"},
	{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
	{"connect", "CONNECT", "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01tunnel"},
	{"switch", "GET", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00"},
	{"lenient", "GET", "HTTP/1.1 200\nX: a\n  b\r\n\tc\nContent-Length: 2\n\nokHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n \r\n\r\n"},
	{"truncated", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"},
}

// sampleCuts returns the split points to try: all of them for short inputs,
// about 500 spread over a long one.
func sampleCuts(n int) []int {
	step := max(1, n/500)
	var cuts []int
	for i := 0; i <= n; i += step {
		cuts = append(cuts, i)
	}
	if cuts[len(cuts)-1] != n {
		cuts = append(cuts, n)
	}
	return cuts
}

// checkSplits checks that every split of in gives the outcome of the whole.
func checkSplits(t *testing.T, in, method string, lim Limits) outcome {
	t.Helper()
	want := drive(whole(in), method, lim)
	try := func(how string, chunks [][]byte) {
		t.Helper()
		if got := drive(chunks, method, lim); !sameOutcome(got, want) {
			t.Fatalf("%s split of %q:\n got %v\nwant %v", how, in, got, want)
		}
	}
	for _, i := range sampleCuts(len(in)) {
		try("single", splitAt(in, i))
	}
	if len(in) < 4096 {
		try("bytewise", bytewise(in))
	}
	rnd := rand.New(rand.NewPCG(uint64(len(in)), 7))
	for range 100 {
		try("random", randomSplit(rnd, in))
	}
	return want
}

func TestSplitRequests(t *testing.T) {
	for _, s := range requestStreams {
		t.Run(s.name, func(t *testing.T) {
			o := checkSplits(t, s.in, "", s.lim)
			t.Logf("%v", o)
		})
	}
}

func TestSplitRequestErrors(t *testing.T) {
	for _, tt := range requestErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			if o := checkSplits(t, tt.in, "", tt.lim); o.err != tt.err {
				t.Errorf("err = %v, want %v", o.err, tt.err)
			}
		})
	}
}

func TestSplitResponses(t *testing.T) {
	for _, s := range responseStreams {
		t.Run(s.name, func(t *testing.T) {
			o := checkSplits(t, s.in, s.method, Limits{})
			t.Logf("%v", o)
		})
	}
	for _, tt := range responseErrorTests {
		t.Run(tt.name, func(t *testing.T) {
			method := "GET"
			if tt.name == "te on head" {
				method = "HEAD"
			}
			if o := checkSplits(t, tt.in, method, Limits{}); o.err != tt.err {
				t.Errorf("err = %v, want %v", o.err, tt.err)
			}
		})
	}
}

// The outcomes of a few streams, spelled out, so that the split tests
// compare against something known to be right.
func TestStreamOutcomes(t *testing.T) {
	o := drive(whole(requestStreams[0].in), "", Limits{})
	if o.err != nil || len(o.msgs) != 6 || o.rest != "" {
		t.Fatalf("pipeline: %v", o)
	}
	if o.msgs[1].body != "hello world" || o.msgs[2].body != "hello 0123456789abcdef" ||
		o.msgs[2].trailers != `["X-Sum":"42"]` || !strings.Contains(o.msgs[3].head, "GET /old") {
		t.Errorf("pipeline: %v", o)
	}
	o = drive(whole(requestStreams[1].in), "", Limits{})
	if len(o.msgs) != 1 || o.rest != "\x81\x05hello" {
		t.Errorf("upgrade: %v", o)
	}
	o = drive(whole(requestStreams[5].in), "", Limits{})
	if len(o.msgs) != 1 || o.err != ErrTEWithContentLength {
		t.Errorf("smuggle: %v", o)
	}
	o = drive(whole(requestStreams[6].in), "", Limits{})
	if len(o.msgs) != 1 || o.msgs[0].body != "abc" || o.err != ErrChunkCRLF {
		t.Errorf("chunk fault: %v", o)
	}
	o = drive(whole(requestStreams[7].in), "", Limits{MaxBodyBytes: 5})
	if len(o.msgs) != 1 || o.msgs[0].body != "abc" || o.err != ErrBodyTooLarge {
		t.Errorf("body limit: %v", o)
	}
	o = drive(whole(requestStreams[8].in), "", requestStreams[8].lim)
	if o.err != ErrHeaderTooLarge {
		t.Errorf("small limits: %v", o)
	}
	o = drive(whole(requestStreams[9].in), "", requestStreams[9].lim)
	if o.err != nil || len(o.msgs) != 1 {
		t.Errorf("small limits pass: %v", o)
	}

	o = drive(whole(responseStreams[0].in), "GET", Limits{})
	if o.err != nil || len(o.msgs) != 7 || o.msgs[6].body != "until the end\r\n\r\n" || o.msgs[1].body != "abc" {
		t.Errorf("responses: %v", o)
	}
	o = drive(whole(responseStreams[4].in), "GET", Limits{})
	if o.err != nil || len(o.msgs) != 2 || !strings.Contains(o.msgs[0].head, `"X":"a   b   c"`) ||
		o.msgs[1].trailers != `["T":"1"]` {
		t.Errorf("lenient: %v", o)
	}
	o = drive(whole(responseStreams[5].in), "GET", Limits{})
	if o.err != ErrTruncatedBody {
		t.Errorf("truncated: %v", o)
	}
}

// A head or chunked body arriving a byte at a time is searched once: after
// each call that asks for more, the parser has recorded that it searched
// all but the last two bytes, so each byte is looked at a bounded number of
// times and a dribbled head costs linear time, not quadratic.
func TestDribbleIsLinear(t *testing.T) {
	head := []byte("\r\nGET / HTTP/1.1\r\n" + host + strings.Repeat("X-Field: some value\r\n", 2000) + "\r\n")
	p := Parser{Limits: &Limits{MaxHeaders: 3000}}
	var r Request
	for i := 1; i < len(head); i++ {
		n, err := p.ParseRequest(head[:i], &r)
		if err != ErrNeedMore {
			t.Fatalf("at %d: %d, %v", i, n, err)
		}
		if p.scan < i-2 {
			t.Fatalf("at %d: search resumes at %d", i, p.scan)
		}
	}
	if n, err := p.ParseRequest(head, &r); err != nil || n != len(head) || len(r.Headers) != 2001 {
		t.Fatalf("whole: %d, %v", n, err)
	}

	body := []byte("5;" + strings.Repeat("a=b;", 900) + "c\r\nhello\r\n0\r\n" + strings.Repeat("T: v\r\n", 90) + "\r\n")
	var b Body
	b.Limits.MaxHeaders = 100
	b.Reset(-1, true)
	consumed := 0
	for i := 1; i <= len(body); i++ {
		n, _, done, err := b.Decode(body[consumed:i])
		if err == ErrNeedMore {
			if pending := i - consumed; b.scan < pending-2 {
				t.Fatalf("at %d: search resumes at %d of %d pending bytes", i, b.scan, pending)
			}
			continue
		}
		if err != nil {
			t.Fatalf("at %d: %v", i, err)
		}
		consumed += n
		if done {
			if i != len(body) || len(b.Trailers) != 90 {
				t.Fatalf("done at %d with %d trailers", i, len(b.Trailers))
			}
			return
		}
	}
	t.Fatal("body never done")
}
