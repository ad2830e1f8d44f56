package evws_test

import (
	"fmt"
	"testing"

	"github.com/eddyloop/eddy/evws"
)

// TestHub: messages broadcast while a fan-out is under way reach every
// member in order, exactly once, several in one write; members removed
// during a pass (behind the cursor, just behind it, ahead of it) get
// nothing more and the others lose nothing; a member added during a pass
// gets only the messages broadcast after it joined; compressed frames go
// to the members that negotiated permessage-deflate.
func TestHub(t *testing.T) {
	const n = 41
	s, subs, clients := subscribers(t, &evws.Config{Deflate: true}, n)
	msgs := make([]*evws.Prepared, 4)
	for i := range msgs {
		var err error
		if msgs[i], err = evws.NewPrepared(evws.Text, fmt.Appendf(nil, "message %d, %0100d", i, i), true); err != nil {
			t.Fatal(err)
		}
	}
	removed := map[int]bool{2: true, 6: true, 30: true}
	var stats evws.HubStats
	done := make(chan struct{})
	s.rl.Do(func() {
		h := evws.NewHub(s.rl.Loop, &evws.HubConfig{Slice: 7})
		for _, c := range subs[:n-1] {
			h.Add(c)
		}
		h.Add(subs[0]) // again: nothing
		h.Broadcast(msgs[0])
		h.Broadcast(msgs[1]) // the first slice has had message 0: it joins the pass
		for i := range removed {
			h.Remove(subs[i])
		}
		h.Remove(subs[n-1]) // not a member: nothing
		h.Add(subs[n-1])
		h.Broadcast(msgs[2])
		if h.Len() != n-len(removed) || h.Pending() != 3 {
			t.Errorf("Len %d, Pending %d", h.Len(), h.Pending())
		}
		var wait func()
		wait = func() {
			if h.Pending() > 0 {
				s.rl.Loop.Post(wait)
				return
			}
			stats = h.Stats()
			close(done)
		}
		wait()
		go func() {
			<-done
			s.rl.Loop.Post(func() {
				for _, c := range subs {
					c.WritePrepared(msgs[3]) // the end marker
				}
			})
		}()
	})
	for i, rc := range clients {
		var want []int
		switch {
		case i == n-1:
			want = []int{2, 3}
		case removed[i] && i < 7:
			want = []int{0, 3} // in the first slice, written to at once
		case removed[i]:
			want = []int{3}
		default:
			want = []int{0, 1, 2, 3}
		}
		for _, j := range want {
			b0, p, err := rc.read()
			if err != nil {
				t.Fatalf("client %d: %v", i, err)
			}
			if compressed := b0&0x40 != 0; compressed != (i%2 == 0) {
				t.Fatalf("client %d: compressed %v", i, compressed)
			}
			if b0&0x40 != 0 {
				out, _ := inflate(p)
				p = []byte(out)
			}
			if w := fmt.Sprintf("message %d, %0100d", j, j); string(p) != w {
				t.Fatalf("client %d: got %q, want %q", i, trunc(p), trunc([]byte(w)))
			}
		}
	}
	<-done
	// The first slice's 7 members had message 0 alone, and the 5 of them
	// still members then had 1 and 2 together; the other 32 of the 40
	// first members had all three at once; the last member one.
	want := evws.HubStats{Messages: 3, Deliveries: 7 + 2*5 + 3*32 + 1, Writes: 7 + 5 + 32 + 1}
	if stats != want {
		t.Errorf("stats %+v, want %+v", stats, want)
	}
}

// TestHubAllocs: a broadcast that the Hub writes at once to its members
// (fewer than a slice) allocates nothing.
func TestHubAllocs(t *testing.T) {
	if raceOn {
		t.Skip("the race detector allocates")
	}
	s, subs, _ := subscribers(t, nil, 20)
	m, _ := evws.NewPrepared(evws.Binary, make([]byte, 64), false)
	s.rl.Do(func() {
		h := evws.NewHub(s.rl.Loop, nil)
		for _, c := range subs {
			h.Add(c)
		}
		h.Broadcast(m)
		if a := testing.AllocsPerRun(50, func() { h.Broadcast(m) }); a != 0 {
			t.Errorf("%v allocations per broadcast to %d members, want 0", a, len(subs))
		}
		if h.Pending() != 0 {
			t.Errorf("%d messages pending after broadcasts to fewer members than a slice", h.Pending())
		}
	})
}
