package evhttp_test

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/testutil"
)

// TestFirstRequestAllocs: the first request on a connection allocates
// nothing for the connection, neither its queue of exchanges nor the
// client's address, which the handler asks for (as a proxy does, for
// X-Forwarded-For). A new TCP connection answered once and closed costs
// as many allocations as one closed unanswered: the exchange and the
// buffers are the loop's, warm.
func TestFirstRequestAllocs(t *testing.T) {
	if svRace {
		t.Skip("the race detector allocates")
	}
	evhttp.UncheckedResets(t)
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var seen netip.AddrPort
	closed := 0
	srv := &evhttp.Server{
		Handler: evhttp.HandlerFunc(func(w *evhttp.ResponseWriter, r *evhttp.Request) {
			seen = r.RemoteAddr()
			w.WriteString("Hello, World!")
		}),
		ConnState: func(c *evnet.Conn, s evhttp.ConnState) {
			if s == evhttp.StateClosed {
				closed++
			}
		},
	}
	// A connection open throughout, so that evnet keeps the loop's read
	// buffer, which it frees with the last connection.
	a, b := testutil.Socketpair(t)
	fd, err := unix.Dup(a)
	if err != nil {
		t.Fatal(err)
	}
	keep, err := evnet.Adopt(l, fd, srv.ConnHandler(), &evnet.ConnConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer keep.Close()
	unix.Close(a)
	_ = b // closed by testutil when the test ends
	lfd, sa := testutil.ListenLoopback(t, 8)
	req := []byte(getReq)
	buf := make([]byte, 4096)
	serve := func(answer bool) {
		cfd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(cfd)
		if err := unix.Connect(cfd, sa); err != nil {
			t.Fatal(err)
		}
		sfd, _, err := unix.Accept4(lfd, unix.SOCK_CLOEXEC)
		if err != nil {
			t.Fatal(err)
		}
		c, err := evnet.Adopt(l, sfd, srv.ConnHandler(), &evnet.ConnConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if answer {
			if err := unix.SetNonblock(cfd, true); err != nil {
				t.Fatal(err)
			}
			if _, err := unix.Write(cfd, req); err != nil {
				t.Fatal(err)
			}
			got := 0
			for !bytes.HasSuffix(buf[:got], []byte("Hello, World!")) {
				if err := l.RunOnce(); err != nil {
					t.Fatal(err)
				}
				n, err := unix.Read(cfd, buf[got:])
				if err == unix.EAGAIN {
					continue
				}
				if err != nil || n == 0 {
					t.Fatalf("read: %d, %v", n, err)
				}
				got += n
			}
		}
		was := closed
		c.Close()
		for i := 0; closed == was; i++ {
			if i == 100 {
				t.Fatal("the connection did not close")
			}
			if err := l.RunNoWait(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 3 { // the loop's exchanges and buffers
		serve(true)
		serve(false)
	}
	if !seen.IsValid() || seen.Addr() != netip.AddrFrom4([4]byte{127, 0, 0, 1}) {
		t.Fatalf("RemoteAddr %v", seen)
	}
	const runs = 50
	idle := testing.AllocsPerRun(runs, func() { serve(false) })
	answered := testing.AllocsPerRun(runs, func() { serve(true) })
	t.Logf("%v allocations per connection unanswered, %v answered once", idle, answered)
	if answered > idle {
		t.Errorf("the first request allocates %v times per connection, want none", answered-idle)
	}
}
