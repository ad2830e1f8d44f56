package evhttp_test

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evhttp"
)

// TestTrailers: a native response that declares trailers is chunked even
// when short, and carries them after the body, without the fields that
// must not be trailers; an HTTP/1.0 client and HEAD get a Content-Length
// and no trailers.
func TestTrailers(t *testing.T) {
	s := svStart(t, &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Header().Set("Trailer", "X-Sum")
		w.WriteString("hello")
		w.Trailer().Set("X-Sum", "5")
		w.Trailer().Set("Content-Type", "text/evil") // never a trailer
	})})
	resp, body, _ := svDo(t, svClient(t), mustRequest(t, "GET", "http://"+s.addr+"/"))
	if string(body) != "hello" || !slices.Equal(resp.TransferEncoding, []string{"chunked"}) {
		t.Fatalf("body %q, Transfer-Encoding %q", body, resp.TransferEncoding)
	}
	if got := resp.Trailer; len(got) != 1 || got.Get("X-Sum") != "5" {
		t.Errorf("trailers %v, want only X-Sum: 5", got)
	}
	for _, tc := range []struct{ req, method string }{
		{"GET / HTTP/1.0\r\n\r\n", "GET"},
		{"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HEAD"},
	} {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, tc.req)
		resp, body := svRead(t, bufio.NewReader(c), tc.method)
		c.Close()
		if resp.ContentLength != 5 || len(resp.TransferEncoding) != 0 || len(resp.Trailer) != 0 {
			t.Errorf("%q: length %d, Transfer-Encoding %q, trailers %v, body %q",
				tc.req, resp.ContentLength, resp.TransferEncoding, resp.Trailer, body)
		}
	}
}

// TestAdaptTrailers: an http.Handler's trailers, declared in the Trailer
// field or named with http.TrailerPrefix, arrive as net/http's own server
// sends them.
func TestAdaptTrailers(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/declared":
			w.Header().Set("Trailer", "X-Sum")
		case "/prefixed-early":
			w.Header().Set(http.TrailerPrefix+"X-Early", "early")
		}
		io.WriteString(w, "hello")
		if r.URL.Path == "/streamed" {
			w.(http.Flusher).Flush()
		}
		w.Header().Set("X-Sum", "42")
		w.Header().Set(http.TrailerPrefix+"X-Late", "late")
	})
	ref := httptest.NewServer(h)
	defer ref.Close()
	s := adStart(t, h, nil, nil)
	c := svClient(t)
	for _, path := range []string{"/declared", "/prefixed", "/prefixed-early", "/streamed"} {
		var want string
		for i, base := range []string{ref.URL, "http://" + s.addr} {
			resp, body, _ := svDo(t, c, mustRequest(t, "GET", base+path))
			got := describeTrailers(resp, body)
			if i == 0 {
				want = got
			} else if got != want {
				t.Errorf("%s: got %s, net/http %s", path, got, want)
			}
		}
	}
}

func describeTrailers(resp *http.Response, body []byte) string {
	var b strings.Builder
	b.WriteString(string(body))
	b.WriteString(" te=" + strings.Join(resp.TransferEncoding, ","))
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range resp.Trailer {
			if !yield(k) {
				return
			}
		}
	}) {
		b.WriteString(" " + k + "=" + strings.Join(resp.Trailer[k], ","))
	}
	return b.String()
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
