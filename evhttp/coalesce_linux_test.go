package evhttp_test

import (
	"strings"
	"testing"

	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"golang.org/x/sys/unix"
)

// TestLateHeadAndBodyOneWrite: a response written after its handler
// returned, from another callback (as a proxy writes its upstream's
// answer), leaves in one write, head and first body piece together, as
// one written from the handler does. The connection is a SOCK_SEQPACKET
// pair, where each write is a record of its own and each read takes one.
func TestLateHeadAndBodyOneWrite(t *testing.T) {
	var held *evhttp.ResponseWriter
	srv := &evhttp.Server{Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
		w.Async()
		held = w
	})}
	s := svStart(t, srv)
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	s.do(func() {
		unix.SetNonblock(fds[0], true)
		if _, err := evnet.Adopt(s.l, fds[0], srv.ConnHandler(), nil); err != nil {
			t.Fatal(err)
		}
	})
	if _, err := unix.Write(fds[1], []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	s.barrier()
	s.do(func() {
		if held == nil {
			t.Fatal("the handler did not run")
		}
		held.Header().Set("Content-Type", "text/plain")
		held.SetContentLength(5)
		held.Write([]byte("hello"))
		held.End()
	})
	buf := make([]byte, 4096)
	n, err := unix.Read(fds[1], buf)
	for err == unix.EINTR {
		n, err = unix.Read(fds[1], buf)
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := string(buf[:n]); !strings.HasPrefix(got, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(got, "\r\n\r\nhello") {
		t.Errorf("first record %q, want the whole response", got)
	}
}
