package evhttp_test

import (
	"io"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy/evhttp"
)

// fuzzHandler reads bodies in the three ways a handler can: whole,
// streamed, ignored.
var fuzzHandler = evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
	switch p := r.Path(); {
	case len(p) > 1 && p[1] == 's':
		sumHandler(w, r)
	case len(p) > 1 && p[1] == 'e':
		r.OnBody(func(w *evhttp.ResponseWriter, r *evhttp.Request, p []byte, err error) {
			w.Write(p)
			if err == io.EOF {
				w.End()
			}
		})
	case len(p) > 1 && p[1] == 'f':
		w.Flush()
		w.WriteString("flushed")
	default:
		hello(w, r)
	}
})

// FuzzServer feeds a connection arbitrary bytes, in pieces of arbitrary
// sizes: the server must answer or close, never panic or stall the loop.
func FuzzServer(f *testing.F) {
	for _, s := range []string{
		getReq + getReq,
		"POST /s HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello" + getReq,
		"POST /e HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: v\r\n\r\n",
		"POST /i HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
		"HEAD /f HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /f HTTP/1.0\r\n\r\n",
		"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + getReq,
		"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	} {
		f.Add([]byte(s), uint8(7))
	}
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		srv := &evhttp.Server{Handler: fuzzHandler, MaxBodyBytes: 1 << 16, ErrorLog: t.Logf}
		h := newPairHarness(t, srv)
		k := int(step)%64 + 1
		for len(in) > 0 {
			n := min(k, len(in))
			if _, err := unix.Write(h.client, in[:n]); err != nil {
				return // the server closed
			}
			in = in[n:]
			for range 3 {
				if err := h.l.RunNoWait(); err != nil {
					t.Fatal(err)
				}
				for {
					if m, err := unix.Read(h.client, h.buf); m <= 0 || err != nil {
						break
					}
				}
			}
		}
	})
}
