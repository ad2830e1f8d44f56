package evproxy

import (
	"testing"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/evhttp/evclient"
)

// TestRecycle: an exchange goes back to its loop once both sides are
// over and only then, once however often recycle is called (a callback
// still on the stack calls it again after a nested one did), and comes
// back cleared of what was written to it after it went back, with its
// storage; the loop keeps as many as its load needed, maxFree at most,
// and gives back a surplus over time.
func TestRecycle(t *testing.T) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p, err := New(&Config{Upstreams: []string{"http://127.0.0.1:9"}})
	if err != nil {
		t.Fatal(err)
	}
	ls := p.loop(l)
	defer ls.close()

	x := ls.getExchange()
	mem, handler := x.mem, x.handler.OnDone
	x.header = append(x.header, "X: 1\r\n"...)
	x.call = new(evclient.Call) // an attempt in progress
	x.over = true
	x.recycle()
	x.call, x.inDone = nil, true // the client's side ended within onUpstreamDone
	x.recycle()
	x.queued = false
	if len(ls.free) != 0 {
		t.Fatalf("recycled with its upstream side in progress: %d free", len(ls.free))
	}
	x.inDone = false
	x.recycle()
	x.bytes, x.attempts = 7, 2 // a callback still on the stack writes
	x.recycle()                // and calls recycle again
	if len(ls.free) != 1 {
		t.Fatalf("%d exchanges free, want 1", len(ls.free))
	}
	y := ls.getExchange()
	if y != x || y.bytes != 0 || y.attempts != 0 || y.over || y.pooled || len(y.header) != 0 || cap(y.header) == 0 ||
		y.mem != mem || y.handler.OnDone == nil || handler == nil {
		t.Errorf("the exchange taken again: same %v, bytes %d, attempts %d, over %v, pooled %v, header %q (cap %d), mem kept %v",
			y == x, y.bytes, y.attempts, y.over, y.pooled, y.header, cap(y.header), y.mem == mem)
	}

	// The list keeps what the load needed: 200 requests at once, then the
	// same again with no allocation.
	lent := make([]*exchange, 0, maxFree+10)
	lend := func(n int) []*exchange {
		xs := lent[:0]
		for range n {
			xs = append(xs, ls.getExchange())
		}
		return xs
	}
	giveBack := func(xs []*exchange) {
		for _, x := range xs {
			x.over = true
			x.recycle()
		}
	}
	giveBack(lend(200))
	if len(ls.free) != 200 {
		t.Errorf("%d exchanges free after 200 at once, want 200", len(ls.free))
	}
	if allocs := testing.AllocsPerRun(10, func() { giveBack(lend(200)) }); allocs != 0 {
		t.Errorf("200 requests at once again: %v allocations, want 0", allocs)
	}
	// One request at a time for a while: the surplus goes, half of it
	// each span of trimEvery requests.
	ls.trimFree() // a span starts: the one before had none to spare
	for range trimEvery {
		giveBack(lend(1))
	}
	if n := len(ls.free); n >= 200 || n < 100 {
		t.Errorf("%d exchanges free after a span of one request at a time, want half of the 200 or so", n)
	}
	for range 10 * trimEvery {
		giveBack(lend(1))
	}
	if n := len(ls.free); n > 2 || ls.freeCap > minFree+10 {
		t.Errorf("%d exchanges free (bound %d) after ten spans of one request at a time, want 2 at most (bound near minFree, %d)", n, ls.freeCap, minFree)
	}
	// Never more than maxFree.
	giveBack(lend(maxFree + 10))
	if len(ls.free) != maxFree {
		t.Errorf("%d exchanges free, want maxFree (%d)", len(ls.free), maxFree)
	}
	up := ls.getExchange()
	up.over, up.upgrade = true, true
	up.recycle()
	if len(ls.free) != maxFree-1 {
		t.Errorf("an upgraded exchange was recycled")
	}
}
