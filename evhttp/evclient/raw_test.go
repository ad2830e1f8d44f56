package evclient_test

import (
	"bufio"
	"cmp"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/evclient"
)

// headServer answers every request head with resp (an empty body unless
// resp has one) and sends the head, as received, on the channel.
func headServer(t *testing.T, resp func(n int, head string) string) (*rawServer, chan string) {
	heads := make(chan string, 16)
	s := newRawServer(t, func(_ int, c net.Conn, r *bufio.Reader) {
		for n := 0; ; n++ {
			var head strings.Builder
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				head.WriteString(line)
				if line == "\r\n" {
					break
				}
			}
			heads <- head.String()
			if _, err := c.Write([]byte(resp(n, head.String()))); err != nil {
				return
			}
		}
	})
	return s, heads
}

const emptyOK = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"

// TestRawHeader sends fields given as bytes: they follow Header's, in
// their order, duplicates kept; the Host among them is the one sent, first;
// the fields the client writes itself are dropped; an empty User-Agent
// sends none; the Target replaces the URL's path and query.
func TestRawHeader(t *testing.T) {
	leakCheck(t)
	s, heads := headServer(t, func(int, string) string { return emptyOK })
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	req := &evclient.Request{
		URL:    s.URL() + "/ignored?x=1",
		Header: http.Header{"X-A": {"1"}},
		RawHeader: []byte("X-B: 2\r\nHost: example.org:8080\r\nX-B:3 \r\nContent-Length: 5\r\n" +
			"Transfer-Encoding: chunked\r\nExpect: something\r\nUser-Agent:\r\nX-C:\tc d\n"),
		Target: []byte("/p%20q?q=1#frag"),
	}
	resp, err := doReq(t, rl, c, req)
	if err != nil || resp.Status != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	want := "GET /p%20q?q=1 HTTP/1.1\r\nHost: example.org:8080\r\nX-A: 1\r\nX-B: 2\r\nX-B: 3\r\nX-C: c d\r\n\r\n"
	if got := <-heads; got != want {
		t.Errorf("head:\n%q\nwant\n%q", got, want)
	}
	if resp.URL != req.URL {
		t.Errorf("Response.URL %q, want the URL as given %q", resp.URL, req.URL)
	}

	// Without a Host among them, Request.Host or the URL's; bytes a
	// target cannot hold are escaped; a "?query" target gets its "/".
	for _, tt := range []struct {
		host, target, wantLine, wantHost string
	}{
		{"", "?a=1", "GET /?a=1 HTTP/1.1", strings.TrimPrefix(s.URL(), "http://")},
		{"h.example", "/a b\"", "GET /a%20b%22 HTTP/1.1", "h.example"},
		{"", "", "GET / HTTP/1.1", strings.TrimPrefix(s.URL(), "http://")},
	} {
		req := &evclient.Request{URL: s.URL(), Host: tt.host, RawHeader: []byte("X: y\r\n"), Target: []byte(tt.target)}
		if _, err := doReq(t, rl, c, req); err != nil {
			t.Fatal(err)
		}
		got := <-heads
		if !strings.HasPrefix(got, tt.wantLine+"\r\nHost: "+tt.wantHost+"\r\n") {
			t.Errorf("target %q, host %q: head\n%q", tt.target, tt.host, got)
		}
	}
}

// TestRawHeaderVerbatim: a RawHeader that starts with its Host field and
// holds only "Name: value" CR LF lines the client sends as they are is
// copied whole, and the head is the same as one built field by field: the
// client's User-Agent and Authorization are added only when it has none,
// and any other RawHeader (a Host elsewhere or none, a line with other
// spacing or a bare LF, a field the client does not send, Header fields
// too) is written field by field.
func TestRawHeaderVerbatim(t *testing.T) {
	leakCheck(t)
	s, heads := headServer(t, func(int, string) string { return emptyOK })
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	const ua = "User-Agent: eddy-evclient/1.1\r\n"
	userinfo := strings.Replace(s.URL(), "http://", "http://u:p@", 1)
	for _, tt := range []struct {
		url    string
		header http.Header
		raw    string
		want   string // the head's field lines
	}{
		{"", nil, "Host: h\r\nX-A: 1\r\nUser-Agent: ua\r\n", "Host: h\r\nX-A: 1\r\nUser-Agent: ua\r\n"},
		{"", nil, "Host: h\r\nX-A: 1\r\nX-A: \r\n", "Host: h\r\nX-A: 1\r\nX-A: \r\n" + ua},
		{userinfo, nil, "Host: h\r\nAuthorization: Bearer t\r\n", "Host: h\r\nAuthorization: Bearer t\r\n" + ua},
		{userinfo, nil, "Host: h\r\n", "Host: h\r\n" + ua + "Authorization: Basic dTpw\r\n"},
		{"", nil, "Host: h\r\nUser-Agent: \r\nX: y\r\n", "Host: h\r\nX: y\r\n"},
		{"", nil, "Host: h\r\nX-A:1\r\n", "Host: h\r\nX-A: 1\r\n" + ua},
		{"", nil, "Host: h\r\nX-A: 1 \r\n", "Host: h\r\nX-A: 1\r\n" + ua},
		{"", nil, "Host:  h\r\nX-A: 1\r\n", "Host: h\r\nX-A: 1\r\n" + ua},
		{"", nil, "Host: h\r\nX-A: 1\n", "Host: h\r\nX-A: 1\r\n" + ua},
		{"", nil, "Host: h\r\nX-A: 1", "Host: h\r\nX-A: 1\r\n" + ua},
		{"", nil, "X-A: 1\r\nHost: h\r\n", "Host: h\r\nX-A: 1\r\n" + ua},
		{"", nil, "Host: h\r\nContent-Length: 5\r\nX: y\r\n", "Host: h\r\nX: y\r\n" + ua},
		{"", http.Header{"X-H": {"1"}}, "Host: h\r\nX: y\r\n", "Host: h\r\nX-H: 1\r\nX: y\r\n" + ua},
		{"", nil, "", "Host: " + strings.TrimPrefix(s.URL(), "http://") + "\r\n" + ua},
	} {
		url := cmp.Or(tt.url, s.URL())
		req := &evclient.Request{URL: url, Header: tt.header, RawHeader: []byte(tt.raw)}
		if _, err := doReq(t, rl, c, req); err != nil {
			t.Fatalf("%q: %v", tt.raw, err)
		}
		if got, want := <-heads, "GET / HTTP/1.1\r\n"+tt.want+"\r\n"; got != want {
			t.Errorf("RawHeader %q, Header %v: head\n%q\nwant\n%q", tt.raw, tt.header, got, want)
		}
	}
}

// TestRawHeaderErrors: lines that are not field lines fail the request
// at once with ErrRequest, as a bad Header does, and so does a Target
// that is not in origin form.
func TestRawHeaderErrors(t *testing.T) {
	leakCheck(t)
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for _, tt := range []struct{ raw, target string }{
		{raw: "X: a\r\n b\r\n"},  // obs-fold
		{raw: "X: a\r\n\tb\r\n"}, // obs-fold
		{raw: " X: a\r\n"},       // obs-fold, first line
		{raw: "X a\r\n"},         // no colon
		{raw: "Bad Name: x\r\n"}, // not a token
		{raw: "X : a\r\n"},       // white space before the colon
		{raw: ": a\r\n"},         // empty name
		{raw: "X: a\x01b\r\n"},   // control character
		{raw: "X: a\rb\r\n"},     // a CR in the value
		{raw: "X: a\r\n\r\nY: b\r\n"},
		{raw: "\r\n"},
		{raw: "Host: a\r\nhost: b\r\n"},
		{raw: "Host: a b\r\n"},
		{raw: "Host:\r\n"},
		{raw: "Connection: upgrade\r\n"}, // half of an upgrade
		{target: "http://example.com/"},
		{target: "*"},
	} {
		req := evclient.Request{URL: "http://127.0.0.1:1/", RawHeader: []byte(tt.raw)}
		if tt.target != "" {
			req.Target = []byte(tt.target)
		}
		var got error
		var ran bool
		rl.Do(func() {
			call := c.Do(&req, func(_ *evclient.Response, err error) { got, ran = err, true })
			if call != nil || !ran {
				t.Errorf("%q %q: error not reported at once", tt.raw, tt.target)
			}
		})
		if !errors.Is(got, evclient.ErrRequest) {
			t.Errorf("%q %q: %v, want ErrRequest", tt.raw, tt.target, got)
		}
	}
}

// TestRawHeaderConnection: the Connection and Expect fields of a
// RawHeader count as Header's do: "close" closes the connection after
// the response, 100-continue holds the body back.
func TestRawHeaderConnection(t *testing.T) {
	leakCheck(t)
	s, heads := headServer(t, func(_ int, head string) string {
		if strings.Contains(head, "Expect: 100-continue") {
			return "HTTP/1.1 100 Continue\r\n\r\n" + emptyOK
		}
		return emptyOK
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	for range 2 {
		if _, err := doReq(t, rl, c, &evclient.Request{URL: s.URL(), RawHeader: []byte("Connection: close\r\n")}); err != nil {
			t.Fatal(err)
		}
		if h := <-heads; !strings.Contains(h, "\r\nConnection: close\r\n") {
			t.Errorf("head %q", h)
		}
	}
	if st := stats(rl, c); st.Dials != 2 || st.Reused != 0 {
		t.Errorf("Connection: close in RawHeader: %+v", st)
	}
	req := &evclient.Request{Method: "POST", URL: s.URL(), RawHeader: []byte("Expect: 100-continue\r\n"), Body: []byte("body")}
	if _, err := doReq(t, rl, c, req); err != nil {
		t.Fatal(err)
	}
	if h := <-heads; !strings.Contains(h, "\r\nExpect: 100-continue\r\n") || strings.Count(h, "Expect") != 1 {
		t.Errorf("head %q", h)
	}
}

// TestRawHeaderRedirect: a redirect's next hop has the RawHeader's
// fields (in its Header) and, on the same host, its Host; its Referer and
// Location resolve against the URL with the Target.
func TestRawHeaderRedirect(t *testing.T) {
	leakCheck(t)
	s, heads := headServer(t, func(n int, _ string) string {
		if n == 0 {
			return "HTTP/1.1 302 Found\r\nLocation: next\r\nContent-Length: 0\r\n\r\n"
		}
		return emptyOK
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	req := &evclient.Request{URL: s.URL() + "/ignored/", RawHeader: []byte("Host: v.example\r\nX-B: 2\r\n"), Target: []byte("/dir/first")}
	resp, err := doReq(t, rl, c, req)
	if err != nil || resp.Redirects != 1 {
		t.Fatalf("%v %v", resp, err)
	}
	<-heads
	h := <-heads
	for _, want := range []string{"GET /dir/next HTTP/1.1\r\n", "\r\nHost: v.example\r\n", "\r\nX-B: 2\r\n", "\r\nReferer: " + s.URL() + "/dir/first\r\n"} {
		if !strings.Contains(h, want) {
			t.Errorf("second hop's head lacks %q:\n%s", want, h)
		}
	}
}

// TestTargetError: an error names the URL with the Target in place of its
// path.
func TestTargetError(t *testing.T) {
	leakCheck(t)
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	_, err := doReq(t, rl, c, &evclient.Request{URL: "http://127.0.0.1:1/base", Target: []byte("/t?q")})
	var e *evclient.Error
	if !errors.As(err, &e) || e.URL != "http://127.0.0.1:1/t?q" {
		t.Errorf("error %v, want one for http://127.0.0.1:1/t?q", err)
	}
}

// TestStreamCall reuses one Call for request after request, and refuses
// one in progress.
func TestStreamCall(t *testing.T) {
	leakCheck(t)
	s, heads := headServer(t, func(n int, _ string) string {
		if n%2 == 0 {
			return "HTTP/1.1 200 OK\r\nX-N: even\r\nContent-Length: 2\r\n\r\nok"
		}
		return "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
	})
	rl := startLoop(t)
	c := newClient(t, rl, nil)
	var call evclient.Call
	var statuses []int
	var xn []string
	var errs []error
	done := make(chan struct{})
	var h evclient.Handler
	n := 0
	h = evclient.Handler{
		OnResponse: func(_ *evclient.Call, resp *evclient.Response) {
			statuses = append(statuses, resp.Status)
			xn = append(xn, resp.Header("X-N"))
		},
		OnDone: func(got *evclient.Call, err error) {
			errs = append(errs, err)
			if got != &call {
				t.Errorf("OnDone with %p, want the Call given %p", got, &call)
			}
			if n++; n == 4 {
				close(done)
				return
			}
			// A new request on the same Call, from the callback of the
			// one before; every other one to another URL, which the Call
			// must not take for the one it parsed before.
			url := s.URL()
			if n%2 == 1 {
				url += "/other"
			}
			c.StreamCall(&call, &evclient.Request{URL: url}, h)
		},
	}
	rl.Do(func() {
		if got := c.StreamCall(&call, &evclient.Request{URL: s.URL()}, h); got != &call {
			t.Errorf("StreamCall returned %p, want %p", got, &call)
		}
		func() {
			defer func() {
				if recover() == nil {
					t.Error("StreamCall with a Call in progress did not panic")
				}
			}()
			c.StreamCall(&call, &evclient.Request{URL: s.URL()}, h)
		}()
	})
	<-done
	var lines []string
	for range 4 {
		h := <-heads
		lines = append(lines, h[:strings.Index(h, "\r\n")])
	}
	if got := strings.Join(lines, ","); got != "GET / HTTP/1.1,GET /other HTTP/1.1,GET / HTTP/1.1,GET /other HTTP/1.1" {
		t.Errorf("request lines %s", got)
	}
	rl.Do(func() {})
	if want := []int{200, 201, 200, 201}; !equalInts(statuses, want) {
		t.Errorf("statuses %v, want %v", statuses, want)
	}
	if strings.Join(xn, ",") != "even,,even," {
		t.Errorf("X-N %q", xn)
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	// A canceled call may be reused too.
	var canceled bool
	rl.Do(func() {
		canceled = c.StreamCall(&call, &evclient.Request{URL: "http://127.0.0.1:1/"}, evclient.Handler{}).Cancel()
	})
	errc := make(chan error, 1)
	rl.Do(func() {
		c.StreamCall(&call, &evclient.Request{URL: "ftp://x/"}, evclient.Handler{OnDone: func(_ *evclient.Call, err error) { errc <- err }})
	})
	if err := <-errc; !canceled || !errors.Is(err, evclient.ErrScheme) {
		t.Errorf("after Cancel: canceled %v, %v", canceled, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// streamChain runs n keep-alive GETs one after the other on l with
// StreamCall and one Call, each started from the OnDone of the one
// before, and returns when they are done.
func streamChain(tb testing.TB, l *eddy.Loop, c *evclient.Client, req *evclient.Request, n int) {
	var call evclient.Call
	i := 0
	var h evclient.Handler
	h = evclient.Handler{
		OnDone: func(call *evclient.Call, err error) {
			if err != nil || call.Response().Status != 200 {
				tb.Errorf("request %d: %v", i, err)
				l.Break(eddy.BreakAll)
				return
			}
			if i++; i < n {
				c.StreamCall(call, req, h)
				return
			}
			l.Break(eddy.BreakAll)
		},
	}
	c.StreamCall(&call, req, h)
	if err := l.Run(); err != nil {
		tb.Fatal(err)
	}
}

// proxyFields are the fields of a request as a proxy forwards it, as an
// http.Header and as field lines.
var proxyFields = [][2]string{
	{"Host", "example.com"},
	{"User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:130.0) Gecko/20100101 Firefox/130.0"},
	{"Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
	{"Accept-Language", "en-US,en;q=0.5"},
	{"Accept-Encoding", "gzip, deflate, br"},
	{"X-Forwarded-For", "10.1.2.3, 127.0.0.1"},
	{"X-Forwarded-Proto", "http"},
	{"Via", "1.1 eddy"},
}

// BenchmarkClientRequestHeader measures a keep-alive GET with eight
// fields, as a proxy sends them, on one Call reused (StreamCall): given as
// an http.Header, whose map the program builds for each request (as
// evproxy did), or as field lines with a Target (RawHeader), appended to a
// buffer the program keeps.
func BenchmarkClientRequestHeader(b *testing.B) {
	for _, mode := range []string{"header", "raw"} {
		b.Run(mode, func(b *testing.B) {
			l, c, url := helloClient(b)
			var call evclient.Call
			var raw []byte
			target := []byte("/hello")
			n, i := 0, 0
			var h evclient.Handler
			send := func() {
				req := evclient.Request{URL: url}
				if mode == "header" {
					hd := make(http.Header, len(proxyFields))
					for _, f := range proxyFields {
						hd.Add(f[0], f[1])
					}
					req.Header, req.Host = hd, "example.com"
				} else {
					raw = raw[:0]
					for _, f := range proxyFields {
						raw = append(append(append(append(raw, f[0]...), ": "...), f[1]...), "\r\n"...)
					}
					req.URL, req.RawHeader, req.Target = url[:strings.LastIndexByte(url, '/')], raw, target
				}
				c.StreamCall(&call, &req, h)
			}
			h = evclient.Handler{OnDone: func(_ *evclient.Call, err error) {
				if err != nil {
					b.Error(err)
					l.Break(eddy.BreakAll)
					return
				}
				if i++; i < n {
					send()
					return
				}
				l.Break(eddy.BreakAll)
			}}
			run := func(count int) {
				n, i = count, 0
				send()
				if err := l.Run(); err != nil {
					b.Fatal(err)
				}
			}
			run(100)
			b.ReportAllocs()
			b.ResetTimer()
			run(b.N)
		})
	}
}

// TestStreamCallAllocs is the allocation budget of a keep-alive GET
// streamed on a reused Call with its fields as bytes: none.
func TestStreamCallAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector allocates")
	}
	leakCheck(t)
	l, c, url := helloClient(t)
	req := &evclient.Request{URL: url[:strings.LastIndexByte(url, '/')], Target: []byte("/hello"),
		RawHeader: []byte("Accept: */*\r\nX-Forwarded-For: 10.0.0.1\r\n")}
	streamChain(t, l, c, req, 100)
	// The chain's own few allocations (its Call, its closures) spread
	// over 400 requests.
	// The least of three measures: a loop's warning of a slow callback
	// (EDDY_DEBUG=1 on a loaded machine) allocates too, now and then.
	allocs := 1e9
	for range 3 {
		allocs = min(allocs, testing.AllocsPerRun(3, func() { streamChain(t, l, c, req, 400) })/400)
	}
	t.Logf("%.3f allocations per keep-alive GET", allocs)
	if allocs > 0.02 {
		t.Errorf("%.2f allocations per keep-alive GET on a reused Call, want none", allocs)
	}
}
