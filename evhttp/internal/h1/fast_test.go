package h1

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The fast path (fastRequest) must give exactly what the full parser gives,
// or defer to it. These tests put the same bytes through ParseRequest (fast
// path first) and parseRequestFull (never the fast path), whole and as
// every prefix a dribbling connection would present, and compare the
// results, errors, the filled Request and the Parser's state.

// fullState describes everything a ParseRequest call leaves behind: its
// results, the Parser's hint and, unless err is ErrNeedMore, the Request
// (as offsets into buf, so that equal contents at other places differ).
func fullState(buf []byte, n int, err error, p *Parser, r *Request) string {
	s := fmt.Sprintf("n=%d err=%v seen=%d scan=%d line=%d", n, err, p.seen, p.scan, p.line)
	if err == ErrNeedMore {
		return s
	}
	at := func(b []byte) string {
		if b == nil {
			return "nil"
		}
		if len(b) == 0 {
			return "empty"
		}
		for i := range buf {
			if &buf[i] == &b[0] {
				return fmt.Sprintf("%d+%d/%d", i, len(b), cap(b))
			}
		}
		return "outside"
	}
	s += fmt.Sprintf(" method=%s target=%s form=%v minor=%d host=%s cl=%d chunked=%v close=%v expect=%v upgrade=%s headers=",
		at(r.Method), at(r.Target), r.Form, r.Minor, at(r.Host), r.ContentLength, r.Chunked, r.Close, r.Expect100, at(r.Upgrade))
	for _, h := range r.Headers {
		s += at(h.Name) + ":" + at(h.Value) + ","
	}
	return s
}

// newFastRequest returns a Request whose Headers have room for every field
// a head may have under lim, so that the fast path is tried.
func newFastRequest(lim *Limits) *Request {
	return &Request{Headers: make(Headers, 0, lim.maxHeaders()+1)}
}

// checkFastVsFull compares the two paths on in, whole and dribbled a byte
// at a time (for inputs up to dribble bytes). It reports whether the fast
// path accepted the whole input.
func checkFastVsFull(t *testing.T, in []byte, lim Limits, dribble int) (fast bool) {
	t.Helper()
	buf := append([]byte(nil), in...)
	pa, pb := Parser{Limits: &lim}, Parser{Limits: &lim}
	ra, rb := newFastRequest(&lim), newFastRequest(&lim)

	var pf Parser
	pf.Limits = &lim
	_, fast, _ = pf.fastRequest(buf, newFastRequest(&lim))

	na, erra := pa.ParseRequest(buf, ra)
	nb, errb := pb.parseRequestFull(buf, rb)
	if a, b := fullState(buf, na, erra, &pa, ra), fullState(buf, nb, errb, &pb, rb); a != b {
		t.Fatalf("whole %q (fast path took it: %v):\nfast+full %s\n     full %s", in, fast, a, b)
	}
	if len(buf) > dribble {
		return fast
	}
	pa.Reset()
	pb.Reset()
	for i := 0; i <= len(buf); i++ {
		na, erra := pa.ParseRequest(buf[:i], ra)
		nb, errb := pb.parseRequestFull(buf[:i], rb)
		if a, b := fullState(buf, na, erra, &pa, ra), fullState(buf, nb, errb, &pb, rb); a != b {
			t.Fatalf("prefix %d of %q:\nfast+full %s\n     full %s", i, in, a, b)
		}
	}
	return fast
}

// fastInputs are heads the fast path must take.
var fastInputs = []string{
	wrkRequest,
	"GET / HTTP/1.1\r\n" + host + "\r\n",
	"GET / HTTP/1.0\r\n\r\n",
	"HEAD /x?y=z HTTP/1.1\r\nhost:a\r\n\r\n",
	"POST /form HTTP/1.1\r\n" + host + "Content-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world",
	"POST / HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"PUT / HTTP/1.1\r\n" + host + "Expect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
	"GET /chat HTTP/1.1\r\n" + host + "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Empty:\r\nX-Tabs:\t a \t\r\nX-Obs: caf\xc3\xa9\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\n" + host + "\r\n",
	"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
	"GET http://example.com/ HTTP/1.1\r\n" + host + "\r\n",
	"GET / HTTP/1.9\r\n" + host + "\r\n",
	// The quick finish: one valid Host, checked as it is scanned, and no
	// field that requestFields acts on (same lengths as some that are).
	"GET /a HTTP/1.0\r\nHOST: example.com:8080 \r\nAccept: */*\r\nReferer: http://a/\r\nUser-Agent: a long agent string \xff\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: [::1]:80\r\nX-Long-Value: 0123456789abcdef0123456789abcdef\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\"b.example.com\r\n\r\n",
	"GET / HTTP/1.1\r\nHost:\r\n\r\n",
	// Errors after a well-formed head are the fast path's too.
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.1\r\n" + host + host + "\r\n",
	"POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"POST / HTTP/1.1\r\n" + host + "Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
	"GET * HTTP/1.1\r\n" + host + "\r\n",
}

func TestFastPathTaken(t *testing.T) {
	for _, in := range fastInputs {
		if !checkFastVsFull(t, []byte(in), Limits{}, 1<<10) {
			t.Errorf("fast path deferred %q", in)
		}
	}
}

// The table tests, the streams and the fuzz corpora, whole and dribbled.
func TestFastVsFullTables(t *testing.T) {
	for _, tt := range requestErrorTests {
		checkFastVsFull(t, []byte(tt.in), tt.lim, 1<<10)
	}
	for _, s := range requestStreams {
		checkFastVsFull(t, []byte(s.in), s.lim, 1<<10)
	}
	for _, dir := range []string{"FuzzRequest", "FuzzRequestVsNetHTTP"} {
		files, _ := filepath.Glob(filepath.Join("testdata", "fuzz", dir, "*"))
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(data), "\n") {
				if s, ok := strings.CutPrefix(line, "[]byte("); ok {
					in, err := strconv.Unquote(strings.TrimSuffix(s, ")"))
					if err != nil {
						t.Fatalf("%s: %v", f, err)
					}
					checkFastVsFull(t, []byte(in), Limits{}, 1<<10)
					checkFastVsFull(t, []byte(in), fuzzLimits(true), 1<<10)
				}
			}
		}
	}
}

// Every head of fastInputs with each byte replaced by, or preceded by, a
// byte the grammar treats specially, and with each byte removed.
func TestFastVsFullMutations(t *testing.T) {
	special := []byte("\r\n \t:\x00\x7f\x80,;\"\\/*?aA0")
	small := Limits{MaxRequestLine: 24, MaxHeaderBytes: 60, MaxHeaders: 2, MaxBodyBytes: 5}
	for _, in := range fastInputs {
		for i := range len(in) {
			for _, c := range special {
				for _, m := range []string{in[:i] + string(c) + in[i+1:], in[:i] + string(c) + in[i:]} {
					checkFastVsFull(t, []byte(m), Limits{}, 0)
					checkFastVsFull(t, []byte(m), small, 0)
				}
			}
			checkFastVsFull(t, []byte(in[:i]+in[i+1:]), Limits{}, 0)
		}
	}
}

// The Headers of a Request with no room are grown by the full parser; the
// fast path never allocates.
func TestFastPathNoRoom(t *testing.T) {
	var p Parser
	r := &Request{Headers: make(Headers, 0, 1)}
	if _, ok, _ := p.fastRequest([]byte(wrkRequest), r); ok {
		t.Fatal("fast path took a head with more fields than Headers has room for")
	}
	if _, err := p.ParseRequest([]byte(wrkRequest), r); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := p.fastRequest([]byte(wrkRequest), r); !ok {
		t.Fatal("fast path deferred once Headers had grown")
	}
}

func FuzzRequestFastVsFull(f *testing.F) {
	addRequestSeeds(f)
	for _, in := range fastInputs {
		f.Add([]byte(in), uint(0), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint, small bool) {
		lim := fuzzLimits(small)
		checkFastVsFull(t, data, lim, 512)
		// The input from a fuzz-chosen offset on.
		if i := int(cut % uint(len(data)+1)); i > 0 {
			checkFastVsFull(t, data[i:], lim, 0)
		}
	})
}

// A deferral leaves no reference to the input in Headers' backing array.
func TestFastPathDeferralClears(t *testing.T) {
	var p Parser
	r := newFastRequest(&Limits{})
	partial := []byte(wrkRequest[:len(wrkRequest)-1])
	if _, ok, _ := p.fastRequest(partial, r); ok {
		t.Fatal("fast path took a partial head")
	}
	for i, h := range r.Headers[:cap(r.Headers)] {
		if h.Name != nil || h.Value != nil {
			t.Fatalf("element %d of Headers' array holds %q: %q after a deferral", i, h.Name, h.Value)
		}
	}
}
