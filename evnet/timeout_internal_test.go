package evnet

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/internal/testutil"
)

func TestTimingSize(t *testing.T) {
	// Every connection of a server with timeouts has a timing: keep it in
	// the 48-byte size class.
	if n := unsafe.Sizeof(timing{}); n > 48 {
		t.Errorf("timing is %d bytes, want at most 48", n)
	}
}

func TestMsDur(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int32
	}{
		{-time.Second, 0},
		{0, 0},
		{1, 1},
		{time.Millisecond, 1},
		{time.Millisecond + 1, 2},
		{5 * time.Second, 5000},
		{maxTimeout, 1<<30 - 1},
		{100 * 24 * time.Hour, 1<<30 - 1},
		{time.Duration(1<<63 - 1), 1<<30 - 1},
	} {
		if got := msDur(c.d); got != c.want {
			t.Errorf("msDur(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}

// TestRebase: a loop that has run for about 12 days moves the zero of its
// connections' millisecond times forward while they wait; timeouts set
// before the move ring when they should after it.
func TestRebase(t *testing.T) {
	clock := eddytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	be := eddytest.NewBackend(clock)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	s := acquire(l)
	// As if the loop had run 2 s short of the rebase.
	s.msBase = -(rebaseAt - 2000)
	base0 := s.msBase
	start := l.Now()
	since := func() time.Duration { return l.Now().Sub(start) }

	var rang time.Duration
	closed := map[string]time.Duration{}
	var why []error
	aFd, _ := testutil.Socketpair(t)
	cFd, _ := testutil.Socketpair(t)
	var c *Conn
	var all []*Conn
	var guard *eddy.Timer
	a, err := Adopt(l, aFd, Handler{OnTimer: func(*Conn) { rang = since() }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a.SetTimer(3 * time.Second)
	c, err = Adopt(l, cFd, Handler{OnTimer: func(*Conn) { t.Error("a 20-day timer rang") }}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimer(20 * 24 * time.Hour) // counts as maxTimeout
	// b is read from at 1 s, before the rebase, d at 1 s and 2.5 s.
	idler := func(name string, pokes ...time.Duration) {
		fd, peer := testutil.Socketpair(t)
		x, err := Adopt(l, fd, Handler{
			OnData: func(_ *Conn, p []byte) int {
				be.Clear(fd, eddy.Read)
				return len(p)
			},
			OnClose: func(_ *Conn, err error) {
				closed[name] = since()
				why = append(why, err)
				if len(closed) == 2 {
					a.Close()
					c.Close()
					guard.Stop()
				}
			},
		}, &ConnConfig{IdleTimeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, x)
		for _, at := range pokes {
			eddy.NewTimer(func(*eddy.Timer) {
				unix.Write(peer, []byte("x"))
				be.Ready(fd, eddy.Read)
			}, at, 0).Start(l)
		}
	}
	idler("b", time.Second)
	idler("d", time.Second, 2500*time.Millisecond)
	s.release()
	all = append(all, a, c)
	// A bound, should a wrong time leave a deadline far off.
	guard = eddy.NewTimer(func(*eddy.Timer) {
		t.Error("the timeouts did not come by 20 s")
		for _, x := range all {
			x.Close()
		}
	}, 20*time.Second, 0)
	guard.Start(l)

	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if s.msBase <= base0 {
		t.Fatalf("msBase %d: no rebase", s.msBase)
	}
	if rang < 3*time.Second || rang > 3100*time.Millisecond {
		t.Errorf("SetTimer(3s) rang at %v", rang)
	}
	for _, err := range why {
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("closed with %v, want ErrTimeout", err)
		}
	}
	for name, want := range map[string]time.Duration{"b": 6 * time.Second, "d": 7500 * time.Millisecond} {
		if at := closed[name]; at < want || at > want+100*time.Millisecond {
			t.Errorf("%s's idle timeout at %v, want %v", name, at, want)
		}
	}
}

// TestNextTick: the first tick whose slot holds a connection, found in
// the bitmap of used slots, is the one a walk over the slots finds.
func TestNextTick(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var s loopState
	for range 2000 {
		s.used = [wheelSlots / 64]uint64{}
		for range 1 + rng.IntN(4) {
			slot := rng.IntN(wheelSlots)
			s.used[slot/64] |= 1 << (slot % 64)
		}
		s.tick = rng.Int64N(1 << 40)
		want := s.tick
		for s.used[want%wheelSlots/64]&(1<<(want%64)) == 0 {
			want++
		}
		if got := s.nextTick(); got != want {
			t.Fatalf("tick %d, used %x: next %d, want %d", s.tick, s.used, got, want)
		}
	}
}
