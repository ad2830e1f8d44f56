package evhttp

import "testing"

// TestQueue: the ring of exchanges keeps request order through pushes,
// pops and cuts, counts them, and leaves those it takes out unlinked.
func TestQueue(t *testing.T) {
	var hc conn
	xs := make([]*exchange, 5)
	for i := range xs {
		xs[i] = new(exchange)
	}
	check := func(want ...*exchange) {
		t.Helper()
		var got []*exchange
		for x := hc.head(); x != nil && len(got) <= len(xs); x = hc.after(x) {
			got = append(got, x)
		}
		if len(got) != len(want) || int(hc.queued) != len(want) {
			t.Fatalf("%d queued (count %d), want %d", len(got), hc.queued, len(want))
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("exchange %d out of order", i)
			}
		}
		if len(want) == 0 && hc.q != nil || len(want) > 0 && hc.q != want[len(want)-1] {
			t.Fatal("q is not the last exchange")
		}
	}
	unlinked := func(x ...*exchange) {
		t.Helper()
		for _, y := range x {
			if y.next != nil {
				t.Fatal("an exchange out of the queue is still linked")
			}
		}
	}
	check()
	hc.push(xs[0])
	check(xs[0])
	hc.pop()
	check()
	unlinked(xs[0])
	for _, x := range xs {
		hc.push(x)
	}
	check(xs...)
	hc.pop()
	check(xs[1:]...)
	unlinked(xs[0])
	if hc.cut(xs[4]) != nil {
		t.Fatal("cut after the last took some")
	}
	check(xs[1:]...)
	// Cut after xs[2]: xs[3] and xs[4] come out, linked, the last to nil.
	y := hc.cut(xs[2])
	if y != xs[3] || y.next != xs[4] || xs[4].next != nil {
		t.Fatal("cut did not return xs[3] -> xs[4]")
	}
	xs[3].next = nil
	check(xs[1], xs[2])
	hc.push(xs[3])
	check(xs[1], xs[2], xs[3])
	y = hc.cut(nil)
	if y != xs[1] || y.next != xs[2] || xs[2].next != xs[3] || xs[3].next != nil {
		t.Fatal("cut(nil) did not return the whole queue in order")
	}
	check()
	if hc.cut(nil) != nil {
		t.Fatal("cut of an empty queue returned some")
	}
}
