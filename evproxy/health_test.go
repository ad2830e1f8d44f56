package evproxy_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy/evproxy"
)

// healthUpstream answers every request with "Connection: close": 200 ok,
// or for /healthz the status in status (none while it is 0: the check
// hangs until the proxy gives up). Each request's path is sent on hits:
// a check's once its answer is written (so in the proxy's receive queue),
// any other before its answer (so on hits before the client has the
// answer, where a test that asserts that none came looks).
func healthUpstream(t *testing.T) (url string, status *atomic.Int32, hits chan string) {
	status, hits = new(atomic.Int32), make(chan string, 64)
	status.Store(200)
	url = rawUpstream(t, func(_ int, c net.Conn) {
		head := readHead(bufio.NewReader(c))
		path := strings.Fields(head + " x x")[1]
		s := int32(200)
		if path == "/healthz" {
			s = status.Load()
		}
		if s == 0 {
			hits <- path
			io.Copy(io.Discard, c)
			return
		}
		if path != "/healthz" {
			hits <- path
		}
		fmt.Fprintf(c, "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", s)
		if path == "/healthz" {
			hits <- path
		}
	})
	return url, status, hits
}

// waitHit waits for a request for path to have been answered.
func waitHit(t *testing.T, hits chan string, path string) {
	t.Helper()
	for {
		select {
		case p := <-hits:
			if p == path {
				return
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no request for %s", path)
		}
	}
}

// TestActiveHealth checks an upstream every 10 s: two failed checks in a
// row (a 503, then one that does not answer within the timeout) mark it
// down, and requests go to the other; a check that passes marks it up.
func TestActiveHealth(t *testing.T) {
	ua, status, hits := healthUpstream(t)
	ub := stdUpstream(t, func(w http.ResponseWriter, r *http.Request) {})
	cp := startClockProxy(t, &evproxy.Config{Upstreams: []string{ua, ub},
		HealthCheck: evproxy.HealthCheck{Path: "/healthz", Interval: 10 * time.Second, Timeout: time.Second, Fails: 2}})
	check := func(when string, healthy bool, downs uint64) {
		t.Helper()
		if a := cp.stats()[0]; a.Healthy != healthy || a.Downs != downs {
			t.Errorf("%s: A's figures %+v, want healthy %v after %d downs", when, a, healthy, downs)
		}
	}
	round := func() { // the next round of checks, answered
		t.Helper()
		cp.Advance(time.Second) // the round before times out
		cp.Advance(9 * time.Second)
		waitHit(t, hits, "/healthz")
		cp.Barrier()
	}
	get(t, "http://"+cp.addr+"/") // the loop's first request starts the checks
	waitHit(t, hits, "/healthz")
	cp.Barrier()
	check("first check", true, 0)

	status.Store(503)
	round()
	check("one failed check", true, 0)
	status.Store(0)
	cp.Advance(time.Second)
	cp.Advance(9 * time.Second)
	waitHit(t, hits, "/healthz") // the check hangs
	cp.Advance(time.Second - time.Millisecond)
	check("a millisecond before the check's timeout", true, 0)
	cp.Advance(time.Millisecond)
	check("two failed checks", false, 1)
	for range 4 {
		if s, _ := get(t, "http://"+cp.addr+"/"); s != 200 {
			t.Errorf("status %d", s)
		}
	}
	select {
	case p := <-hits:
		t.Errorf("the upstream marked down got a request for %s", p)
	default:
	}

	status.Store(200)
	cp.Advance(9 * time.Second)
	waitHit(t, hits, "/healthz")
	cp.Barrier()
	check("a passed check", true, 1)
	get(t, "http://"+cp.addr+"/")
	get(t, "http://"+cp.addr+"/")
	waitHit(t, hits, "/")
}
