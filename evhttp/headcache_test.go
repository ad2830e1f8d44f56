package evhttp_test

// The response head cache (headcache.go): every response it serves is
// byte for byte the one built without it.

import (
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
)

// headCacheHandler answers by path, with the variations a cached head
// must not hide.
func headCacheHandler(w *evhttp.ResponseWriter, r *evhttp.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/plain")
	switch string(r.Path()) {
	case "/short":
		w.WriteString("Hello!")
		return
	case "/x1", "/x2":
		h.Set("X-Version", string(r.Path()[1:]))
	case "/x1ct":
		h.Set("Content-Type", "text/html")
		h.Set("X-Version", "x1")
	case "/404":
		w.WriteHeader(404)
	case "/204":
		w.WriteHeader(204)
		return
	case "/date":
		h.Set("Date", "Thu, 01 Jan 1970 00:00:00 GMT")
	case "/server":
		h.Set("Server", "me")
	case "/unsafe":
		h.Set("X-Split", "a\r\nInjected: 1")
		h.Set("Bad Name", "dropped")
	case "/length":
		h.Set("Content-Length", "13")
	case "/chunked":
		w.WriteString("Hello, ")
		w.Flush()
		w.WriteString("World!")
		return
	case "/trailer":
		h.Set("Trailer", "X-Sum")
		w.Trailer().Set("X-Sum", "1")
	case "/103":
		h.Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(103)
		h.Del("Link")
	case "/unique":
		h.Set("X-Target", string(r.Target()))
	case "/close":
		h.Set("Connection", "close")
	case "/bytes1", "/bytes2":
		// Copied into the Header's storage, which the next response
		// overwrites: the cache must keep a copy of its own.
		h.AddBytes([]byte("X-Bytes"), r.Path()[1:])
	}
	w.WriteString("Hello, World!")
}

// headCacheRun serves the requests of script, in turn, and returns the
// bytes of each response, one string per line of script. A script line
// "+d" advances the fake clock by d; "dial" starts a new connection; their
// strings are empty.
func headCacheRun(t *testing.T, off bool, script []string) ([]string, uint64) {
	t.Helper()
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(headCacheHandler), IdleTimeout: -1}
	if off {
		evhttp.NoHeadCache(srv)
	}
	s := fkStart(t, srv)
	c := s.dial()
	var out []string
	for _, line := range script {
		switch {
		case line == "dial":
			c = s.dial()
			out = append(out, "")
			continue
		case strings.HasPrefix(line, "+"):
			d, err := time.ParseDuration(line[1:])
			if err != nil {
				t.Fatal(err)
			}
			s.runFor(d)
			out = append(out, "")
			continue
		}
		method, _, _ := strings.Cut(line, " ")
		c.write(line)
		var raw string
		if !s.runUntil(time.Second, func() bool {
			c.pull(true)
			for {
				before := string(c.in)
				resp, _, ok := c.response(method)
				if !ok {
					return false
				}
				raw += before[:len(before)-len(c.in)]
				if resp.StatusCode >= 200 { // after any interim response
					return true
				}
			}
		}) {
			t.Fatalf("no response to %q (%q)", line, c.in)
		}
		out = append(out, raw)
	}
	return out, evhttp.HeadCacheHits(srv)
}

// TestHeadCache: the responses of a connection whose status, fields,
// length, method, version and Date change from one request to the next
// are the same with the head cache as without it, and the cache serves
// the heads that repeat.
func TestHeadCache(t *testing.T) {
	get := func(path string) string { return "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n" }
	script := []string{
		get("/"), get("/"), get("/short"), get("/short"), get("/"),
		get("/x1"), get("/x1"), get("/x2"), get("/x1ct"), get("/x1"),
		get("/404"), get("/404"), get("/204"), get("/204"), get("/"),
		"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", get("/"),
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", get("/"),
		get("/date"), get("/date"), get("/server"), get("/server"), get("/"),
		get("/unsafe"), get("/unsafe"), get("/length"), get("/length"), get("/"),
		get("/chunked"), get("/chunked"), get("/trailer"), get("/trailer"),
		get("/103"), get("/103"), get("/"),
		get("/bytes1"), get("/bytes1"), get("/bytes2"), get("/bytes2"), get("/bytes1"), get("/"),
		// The clock started at 07.25 and has not moved: the second ends
		// at 07.999999999.
		"+749999999ns", get("/"), "+1ns", get("/"), get("/"), get("/date"),
		"+999ms", get("/"), "+1ms", get("/"), get("/"),
		// Heads that differ each time, which the cache stops taking,
		// then the same one again, which it takes again.
		get("/unique?1"), get("/unique?2"), get("/unique?3"), get("/unique?4"), get("/unique?5"),
		get("/unique?6"), get("/unique?7"), get("/unique?8"), get("/unique?8"), get("/unique?9"),
		get("/"), get("/"), get("/"), get("/"), get("/"), get("/"), get("/"), get("/"),
		get("/"), get("/"), get("/"), get("/"), get("/"), get("/"), get("/"), get("/"),
		get("/close"),
		"dial", get("/"), get("/"), // another connection, the same head
		"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
		"dial", "GET / HTTP/1.0\r\n\r\n",
		"dial", get("/"), "HEAD / HTTP/1.0\r\n\r\n",
	}
	want, hits := headCacheRun(t, true, script)
	if hits != 0 {
		t.Fatalf("the cache served %d heads while off", hits)
	}
	got, hits := headCacheRun(t, false, script)
	if len(got) != len(want) {
		t.Fatalf("%d responses with the cache, %d without", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: with the cache\n%q\nwithout\n%q", i, got[i], want[i])
		}
	}
	t.Logf("%d of %d heads served from the cache", hits, len(script))
	if hits < 30 {
		t.Errorf("the cache served %d heads, want at least 30", hits)
	}
	// The Date changes at the second's boundary (as in TestDateLine), so
	// that the comparison above covers a cached head outliving its Date.
	for i, line := range script {
		date := ""
		switch line {
		case "+749999999ns":
			date = "07"
		case "+1ns":
			date = "08"
		case "+1ms":
			date = "09"
		default:
			continue
		}
		if d := "Date: Wed, 04 Mar 2026 05:06:" + date + " GMT\r\n"; !strings.Contains(want[i+1], d) {
			t.Errorf("after %s: %q, want %q", line, want[i+1], d)
		}
	}
}

// TestHeaderAddBytes: fields added from bytes read as those added from
// strings, in order, and stay as they were when the Header's storage
// fills and a new block takes over; Reset empties it for the next
// response.
func TestHeaderAddBytes(t *testing.T) {
	var h evhttp.Header
	name, value := []byte("X-A"), []byte("1")
	h.AddBytes(name, value)
	name[0], value[0] = 'Y', '2' // copied: the caller's bytes are its own
	h.Add("X-B", "2")
	h.AddBytes([]byte("X-A"), nil)
	long := strings.Repeat("v", 300) // past the first block
	h.AddBytes([]byte("X-Long"), []byte(long))
	var got []string
	for k, v := range h.All() {
		got = append(got, k+"="+v)
	}
	if want := "X-A=1 X-B=2 X-A= X-Long=" + long; strings.Join(got, " ") != want {
		t.Errorf("fields %q", got)
	}
	if h.Get("x-a") != "1" || h.Get("X-Long") != long {
		t.Errorf("Get: %q %q", h.Get("x-a"), h.Get("X-Long"))
	}
	h.Reset()
	h.AddBytes([]byte("X-C"), []byte("3"))
	if h.Len() != 1 || h.Get("X-C") != "3" || h.Has("X-A") {
		t.Errorf("after Reset: %d fields, X-C %q", h.Len(), h.Get("X-C"))
	}
}

// BenchmarkHeaderAddBytes copies the six fields of an upstream's response
// head into a Header, as a proxy does, from bytes: with Add and a
// conversion of each name and value, or with AddBytes, whose storage the
// Header keeps from one response to the next.
func BenchmarkHeaderAddBytes(b *testing.B) {
	fields := [][2][]byte{
		{[]byte("Server"), []byte("nginx/1.27.0")},
		{[]byte("Date"), []byte("Wed, 04 Mar 2026 05:06:07 GMT")},
		{[]byte("Content-Type"), []byte("text/html")},
		{[]byte("Last-Modified"), []byte("Tue, 03 Mar 2026 10:00:00 GMT")},
		{[]byte("ETag"), []byte(`"65e4f1a0-267"`)},
		{[]byte("Accept-Ranges"), []byte("bytes")},
	}
	for _, bc := range []struct {
		name string
		add  func(h *evhttp.Header, name, value []byte)
	}{
		{"Add", func(h *evhttp.Header, name, value []byte) { h.Add(string(name), string(value)) }},
		{"AddBytes", (*evhttp.Header).AddBytes},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var h evhttp.Header
			b.ReportAllocs()
			for b.Loop() {
				h.Reset()
				for _, f := range fields {
					bc.add(&h, f[0], f[1])
				}
			}
		})
	}
}
