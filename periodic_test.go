package eddy_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
)

// firings records the wall times at which a Periodic fired, and stops it
// after n.
func firings(c *eddytest.Clock, n int, at *[]string) func(p *eddy.Periodic) {
	return func(p *eddy.Periodic) {
		*at = append(*at, c.Wall().Format("15:04:05.000"))
		if len(*at) == n {
			p.Stop()
		}
	}
}

func TestPeriodicGrid(t *testing.T) {
	for _, tc := range []struct {
		name     string
		offset   time.Time
		interval time.Duration
		n        int
		want     string
		wantAt   string // At() after the last firing, if still active
	}{
		{"hourly at :45", epoch.Add(15 * time.Minute), time.Hour, 3, "10:45:00.000 11:45:00.000 12:45:00.000", ""},
		{"offset far in the past", epoch.Add(-1000*time.Hour + 15*time.Minute), time.Hour, 2, "10:45:00.000 11:45:00.000", ""},
		{"offset in the future", epoch.Add(100*time.Hour + 5*time.Minute), 10 * time.Minute, 3, "10:35:00.000 10:45:00.000 10:55:00.000", ""},
		{"on a grid point", epoch, 30 * time.Minute, 2, "10:30:00.000 11:00:00.000", ""},
		{"sub-second", epoch.Add(250 * time.Millisecond), 500 * time.Millisecond, 3, "10:30:00.250 10:30:00.750 10:30:01.250", ""},
		{"one-shot", epoch.Add(90 * time.Second), 0, 1, "10:31:30.000", ""},
		{"one-shot in the past", epoch.Add(-time.Hour), 0, 1, "10:30:00.000", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _, c := newFake(t)
			var at []string
			p := eddy.NewPeriodic(firings(c, tc.n, &at), tc.offset, tc.interval)
			p.Start(l)
			must(t, l.Run())
			if got := strings.Join(at, " "); got != tc.want {
				t.Errorf("Periodic(%v, %v) fired at %s, want %s", tc.offset.Format(time.TimeOnly), tc.interval, got, tc.want)
			}
			if p.IsActive() {
				t.Errorf("still active after Run")
			}
		})
	}
}

func TestPeriodicOneShotStopsBeforeCallback(t *testing.T) {
	l, _, _ := newFake(t)
	active := true
	p := eddy.NewPeriodic(func(p *eddy.Periodic) { active = p.IsActive() }, epoch.Add(time.Minute), 0)
	p.Start(l)
	if !p.At().Equal(epoch.Add(time.Minute)) {
		t.Errorf("At() = %v, want %v", p.At(), epoch.Add(time.Minute))
	}
	must(t, l.Run())
	if active {
		t.Errorf("a one-shot Periodic is active in its callback")
	}
}

func TestPeriodicReschedule(t *testing.T) {
	l, _, c := newFake(t)
	var at []string
	var seen []time.Time
	p := new(eddy.Periodic)
	p.Init(firings(c, 3, &at), time.Time{}, 0)
	// Every next multiple of 10 minutes, plus one second.
	p.SetReschedule(func(_ *eddy.Periodic, now time.Time) time.Time {
		seen = append(seen, now)
		return now.Truncate(10 * time.Minute).Add(10*time.Minute + time.Second)
	})
	p.Start(l)
	must(t, l.Run())
	if got, want := strings.Join(at, " "), "10:40:01.000 10:50:01.000 11:00:01.000"; got != want {
		t.Errorf("rescheduled Periodic fired at %s, want %s", got, want)
	}
	// Called at Start and at each firing, before the callback (which
	// stops it the third time).
	if len(seen) != 4 || !seen[0].Equal(epoch) || !seen[1].Equal(epoch.Add(10*time.Minute+time.Second)) {
		t.Errorf("reschedule function called with %v, want 4 calls, with %v first and %v second",
			seen, epoch, epoch.Add(10*time.Minute+time.Second))
	}

	// A reschedule time that is not later fires in the next iteration.
	// Regression: it used to be due again at once, and queueTimers spun
	// forever on it.
	n := 0
	q := new(eddy.Periodic)
	q.Init(func(q *eddy.Periodic) {
		if n++; n == 3 {
			q.Stop()
		}
	}, time.Time{}, 0)
	q.SetReschedule(func(_ *eddy.Periodic, now time.Time) time.Time { return now.Add(-time.Second) })
	q.Start(l)
	before := c.Monotonic()
	must(t, l.Run())
	if d := c.Monotonic() - before; n != 3 || d > time.Microsecond {
		t.Errorf("past reschedule: fired %d times in %v, want 3 in consecutive iterations", n, d)
	}
}

func TestPeriodicSetWhileActive(t *testing.T) {
	l, _, _ := newFake(t)
	p := eddy.NewPeriodic(func(*eddy.Periodic) {}, epoch.Add(time.Hour), 0)
	p.Start(l)
	p.Set(epoch.Add(time.Minute), time.Second)
	p.SetReschedule(func(*eddy.Periodic, time.Time) time.Time { return epoch })
	if !p.At().Equal(epoch.Add(time.Hour)) {
		t.Errorf("Set on an active Periodic changed At() to %v", p.At())
	}
	p.Stop()
	p.Stop()
	l.Verify()
}

// The wall clock jumping forward past a point fires the Periodic at once;
// jumping back delays it until the wall clock reaches the point again.
func TestPeriodicWallClockJumps(t *testing.T) {
	t.Run("forward", func(t *testing.T) {
		l, _, c := newFake(t)
		var at []string
		p := eddy.NewPeriodic(firings(c, 2, &at), epoch.Truncate(time.Hour), time.Hour) // on the hour
		p.Start(l)
		c.JumpWall(45 * time.Minute) // 11:15: the 11:00 point has passed
		must(t, l.RunNoWait())
		if got := strings.Join(at, " "); got != "11:15:00.000" {
			t.Errorf("after a jump past the point: fired at %q, want 11:15:00.000 at once", got)
		}
		if want := epoch.Truncate(time.Hour).Add(2 * time.Hour); !p.At().Equal(want) {
			t.Errorf("At() after the jump = %v, want %v", p.At(), want)
		}
		if c.Monotonic() != 0 {
			t.Errorf("monotonic clock moved to %v", c.Monotonic())
		}
		must(t, l.Run())
		if got, want := strings.Join(at, " "), "11:15:00.000 12:00:00.000"; got != want {
			t.Errorf("fired at %s, want %s", got, want)
		}
	})
	t.Run("back", func(t *testing.T) {
		l, _, c := newFake(t)
		var at []string
		p := eddy.NewPeriodic(firings(c, 1, &at), epoch.Truncate(time.Hour), time.Hour)
		p.Start(l) // next point 11:00, 30 minutes away
		c.JumpWall(-time.Hour)
		must(t, l.Run())
		if got := strings.Join(at, " "); got != "11:00:00.000" {
			t.Errorf("after a jump back: fired at %s, want 11:00:00.000", got)
		}
		if got := c.Monotonic(); got != 90*time.Minute {
			t.Errorf("fired after %v of monotonic time, want 1h30m", got)
		}
	})
	t.Run("back by less than the slack", func(t *testing.T) {
		l, _, c := newFake(t)
		var at []string
		p := eddy.NewPeriodic(firings(c, 1, &at), epoch.Add(2*time.Second), 0)
		p.Start(l)
		c.Advance(time.Second)
		c.JumpWall(-5 * time.Millisecond)
		must(t, l.Run())
		if got := strings.Join(at, " "); got != "10:30:02.000" {
			t.Errorf("after a small jump back: fired at %s, want 10:30:02.000, never early", got)
		}
	})
	t.Run("timers ignore the wall clock", func(t *testing.T) {
		l, _, c := newFake(t)
		var fired time.Duration
		eddy.NewTimer(func(*eddy.Timer) { fired = c.Monotonic() }, 10*time.Minute, 0).Start(l)
		p := eddy.NewPeriodic(func(*eddy.Periodic) {}, epoch.Add(time.Hour), 0)
		p.Start(l)
		p.Unref()
		c.JumpWall(24 * time.Hour)
		c.JumpWall(-48 * time.Hour)
		must(t, l.Run())
		if fired != 10*time.Minute {
			t.Errorf("timer fired at %v of monotonic time, want 10m", fired)
		}
		p.Stop()
	})
}

// Many Periodics and Timers share the heap; a wall jump reorders it.
func TestPeriodicHeapAfterJump(t *testing.T) {
	l, _, c := newFake(t)
	var got []string
	for i := range 20 {
		p := eddy.NewPeriodic(func(p *eddy.Periodic) {
			got = append(got, fmt.Sprintf("p%d@%s", i, c.Wall().Format("15:04")))
		}, epoch.Add(time.Duration(i+1)*time.Minute), 0)
		p.Start(l)
		tm := eddy.NewTimer(func(*eddy.Timer) {}, time.Duration(20-i)*time.Minute, 0)
		tm.Start(l)
	}
	c.JumpWall(10*time.Minute + 30*time.Second) // p0..p9 are due at once
	must(t, l.RunNoWait())
	l.Verify()
	if len(got) != 10 || got[0] != "p0@10:40" || got[9] != "p9@10:40" {
		t.Errorf("after the jump: fired %v, want p0..p9 at 10:40", got)
	}
	must(t, l.Run())
	if len(got) != 20 || got[10] != "p10@10:41" || got[19] != "p19@10:50" {
		t.Errorf("fired %v, want p10@10:41 .. p19@10:50 after the first ten", got)
	}
}
