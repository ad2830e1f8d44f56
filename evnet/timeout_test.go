package evnet_test

import (
	"errors"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
	"github.com/eddyloop/eddy/evnet"
	"github.com/eddyloop/eddy/internal/sock"
	"github.com/eddyloop/eddy/internal/testutil"
)

// fakeLoop returns a loop on the fake backend and clock: time advances to
// the next deadline at once whenever the loop would wait.
func fakeLoop(t *testing.T) (*eddy.Loop, *eddytest.Backend) {
	t.Helper()
	clock := eddytest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	be := eddytest.NewBackend(clock)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, be
}

// timedOut checks that the connection closed with ErrTimeout at a time in
// [want, want+2 ticks].
func timedOut(t *testing.T, reason error, after, want time.Duration) {
	t.Helper()
	if !errors.Is(reason, evnet.ErrTimeout) {
		t.Fatalf("reason %v, want ErrTimeout", reason)
	}
	if after < want || after > want+100*time.Millisecond {
		t.Fatalf("timed out after %v, want %v (+ at most 100ms)", after, want)
	}
}

func TestIdleTimeout(t *testing.T) {
	l, be := fakeLoop(t)
	a, b := testutil.Socketpair(t)
	start := l.Now()
	var reason error
	var closedAt time.Duration
	var got []byte
	h := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int {
			got = append(got, p...)
			be.Clear(a, eddy.Read)
			return len(p)
		},
		OnClose: func(c *evnet.Conn, err error) { reason, closedAt = err, l.Now().Sub(start) },
	}
	if _, err := evnet.Adopt(l, a, h, &evnet.ConnConfig{IdleTimeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	// Activity at 3s pushes the deadline to 8s.
	poke := eddy.NewTimer(func(*eddy.Timer) {
		unix.Write(b, []byte("ping"))
		be.Ready(a, eddy.Read)
	}, 3*time.Second, 0)
	poke.Start(l)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if string(got) != "ping" {
		t.Fatalf("got %q", got)
	}
	timedOut(t, reason, closedAt, 8*time.Second)
}

func TestWriteTimeout(t *testing.T) {
	l, _ := fakeLoop(t)
	a, _ := testutil.Socketpair(t)
	start := l.Now()
	var reason error
	var closedAt time.Duration
	h := evnet.Handler{
		OnOpen: func(c *evnet.Conn) {
			c.SetWriteTimeout(2 * time.Second)
			c.Write(make([]byte, 4<<20)) // more than the socket takes
			if c.Buffered() == 0 {
				t.Error("nothing queued")
			}
		},
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, err error) { reason, closedAt = err, l.Now().Sub(start) },
	}
	if _, err := evnet.Adopt(l, a, h, nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	timedOut(t, reason, closedAt, 2*time.Second)
}

// TestTimeoutOff: SetIdleTimeout(0) takes the connection out of the wheel;
// the loop then has only the connection to wait for, and a timer closes
// it.
func TestTimeoutOff(t *testing.T) {
	l, _ := fakeLoop(t)
	a, _ := testutil.Socketpair(t)
	var reason error
	c, err := evnet.Adopt(l, a, evnet.Handler{
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, err error) { reason = err },
	}, &evnet.ConnConfig{IdleTimeout: time.Second})

	if err != nil {
		t.Fatal(err)
	}
	c.SetIdleTimeout(0)
	eddy.NewTimer(func(*eddy.Timer) { c.Close() }, time.Hour, 0).Start(l)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(reason, evnet.ErrLocalClose) {
		t.Fatalf("reason %v", reason)
	}
}

// TestManyTimeouts: 2,000 connections with staggered idle timeouts all
// time out, each within a tick or two of its deadline.
func TestManyTimeouts(t *testing.T) {
	l, _ := fakeLoop(t)
	const n = 2000
	start := l.Now()
	bad := 0
	for i := range n {
		r, w := testutil.Pipe(t)
		unix.Close(w)
		want := time.Duration(i%97+1) * 100 * time.Millisecond
		c, err := evnet.Adopt(l, r, evnet.Handler{
			OnData: func(c *evnet.Conn, p []byte) int { return len(p) },
			OnClose: func(c *evnet.Conn, err error) {
				d := l.Now().Sub(start)
				if !errors.Is(err, evnet.ErrTimeout) || d < want || d > want+100*time.Millisecond {
					bad++
				}
			},
		}, nil)

		if err != nil {
			t.Fatal(err)
		}
		c.SetIdleTimeout(want)
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if bad > 0 {
		t.Fatalf("%d of %d connections timed out wrongly", bad, n)
	}
}

// TestDialTimeout: the connect never completes (the fake backend never
// reports it), so the dial times out: OnClose without OnOpen.
func TestDialTimeout(t *testing.T) {
	l, _ := fakeLoop(t)
	lfd, err := sock.ListenTCP(netipLoopback())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	ap, _ := sock.LocalAddr(lfd)
	start := l.Now()
	var reason error
	var closedAt time.Duration
	opened := false
	_, err = evnet.Dial(l, "tcp", ap.String(), 3*time.Second, evnet.Handler{
		OnOpen:  func(*evnet.Conn) { opened = true },
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, err error) { reason, closedAt = err, l.Now().Sub(start) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if opened {
		t.Error("OnOpen ran")
	}
	timedOut(t, reason, closedAt, 3*time.Second)
}

// TestDialIdleTimeout: a dialled connection's idle timeout counts from
// the end of the connect.
func TestDialIdleTimeout(t *testing.T) {
	l, be := fakeLoop(t)
	lfd, err := sock.ListenTCP(netipLoopback())
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(lfd)
	ap, _ := sock.LocalAddr(lfd)
	start := l.Now()
	var reason error
	var openedAt, closedAt time.Duration
	d := evnet.Dialer{Conn: evnet.ConnConfig{IdleTimeout: 2 * time.Second}}
	c, err := d.Dial(l, "tcp", ap.String(), evnet.Handler{
		OnOpen:  func(*evnet.Conn) { openedAt = l.Now().Sub(start) },
		OnData:  func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, err error) { reason, closedAt = err, l.Now().Sub(start) },
	})
	if err != nil {
		t.Fatal(err)
	}
	fd := c.Fd()
	eddy.NewTimer(func(*eddy.Timer) { be.Ready(fd, eddy.Write) }, time.Second, 0).Start(l)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if openedAt != time.Second {
		t.Fatalf("opened at %v, want 1s", openedAt)
	}
	timedOut(t, reason, closedAt-openedAt, 2*time.Second)
}

// TestSetTimer: OnTimer rings at the time set, never early and within a
// tick; a later SetTimer replaces the time, StopTimer cancels it, a
// SetTimer from OnTimer rings again, and without OnTimer it is a deadline.
func TestSetTimer(t *testing.T) {
	l, _ := fakeLoop(t)
	a, _ := testutil.Socketpair(t)
	start := l.Now()
	var rang []time.Duration
	var reason error
	var closedAt time.Duration
	h := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int { return len(p) },
		OnTimer: func(c *evnet.Conn) {
			rang = append(rang, l.Now().Sub(start))
			switch len(rang) {
			case 1:
				c.SetTimer(0) // rings again at the next tick
			case 2:
				c.SetTimer(2 * time.Second)
			case 3:
				c.Close()
			}
		},
		OnClose: func(c *evnet.Conn, err error) { reason, closedAt = err, l.Now().Sub(start) },
	}
	c, err := evnet.Adopt(l, a, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimer(time.Hour)
	c.SetTimer(3 * time.Second) // replaces the hour
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{3 * time.Second, 3050 * time.Millisecond, 5050 * time.Millisecond}
	if len(rang) != len(want) {
		t.Fatalf("rang at %v, want %v", rang, want)
	}
	for i, at := range rang {
		if at < want[i] || at > want[i]+100*time.Millisecond {
			t.Errorf("ring %d at %v, want %v (+ at most 100ms)", i, at, want[i])
		}
	}
	if !errors.Is(reason, evnet.ErrLocalClose) || closedAt != rang[2] {
		t.Errorf("closed with %v at %v", reason, closedAt)
	}

	// StopTimer cancels; without OnTimer, the time is a deadline.
	b, _ := testutil.Socketpair(t)
	h.OnTimer = nil
	start = l.Now()
	c, err = evnet.Adopt(l, b, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimer(time.Second)
	c.StopTimer()
	c.SetTimer(4 * time.Second)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	timedOut(t, reason, closedAt, 4*time.Second)
}

// TestWheelSleeps: a loop whose connections wait for a far deadline does
// not wake every tick: its timing wheel's ticker is set for the first slot
// that holds a connection, which comes up once a wheel turn (12.8 s) when
// the deadlines are further off. The connections still time out on time.
func TestWheelSleeps(t *testing.T) {
	l, _ := fakeLoop(t)
	start := l.Now()
	var closedAt []time.Duration
	h := evnet.Handler{
		OnData: func(c *evnet.Conn, p []byte) int { return len(p) },
		OnClose: func(c *evnet.Conn, err error) {
			if !errors.Is(err, evnet.ErrTimeout) {
				t.Errorf("closed with %v", err)
			}
			closedAt = append(closedAt, l.Now().Sub(start))
		},
	}
	for i := range 50 {
		a, _ := testutil.Socketpair(t)
		// Two groups of deadlines, 60 s and 61.5 s: two slots.
		d := 60*time.Second + time.Duration(i%2)*1500*time.Millisecond
		if _, err := evnet.Adopt(l, a, h, &evnet.ConnConfig{IdleTimeout: d}); err != nil {
			t.Fatal(err)
		}
	}
	before := l.Stats().Iterations
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if len(closedAt) != 50 {
		t.Fatalf("%d closed, want 50", len(closedAt))
	}
	for i, at := range closedAt {
		want := 60 * time.Second
		if i >= 25 {
			want += 1500 * time.Millisecond
		}
		if at < want || at > want+50*time.Millisecond {
			t.Errorf("connection %d timed out at %v, want %v", i, at, want)
		}
	}
	// 61.5 s is 4.8 turns: each of the two slots comes up 5 times; a
	// ticker firing every tick would have woken the loop 1,230 times.
	if n := l.Stats().Iterations - before; n > 20 {
		t.Errorf("the loop woke %d times in 61.5 s", n)
	}
}
