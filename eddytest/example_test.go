package eddytest_test

import (
	"fmt"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/eddytest"
)

// A timer test that runs in no time: the fake backend advances the fake
// clock to each deadline instead of sleeping, so the hour-long timer fires
// at once, and the order and the times seen by the callbacks are exact.
func Example() {
	clock := eddytest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	l, err := eddy.NewLoop(&eddy.Config{Backend: eddytest.NewBackend(clock), Clock: clock})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	start := l.Now()
	report := func(name string) func(*eddy.Timer) {
		return func(*eddy.Timer) {
			fmt.Printf("%-6s after %v, at %s\n", name, l.Now().Sub(start), l.Now().UTC().Format(time.TimeOnly))
		}
	}
	hour := eddy.NewTimer(report("hour"), time.Hour, 0)
	second := eddy.NewTimer(report("second"), time.Second, 0)
	tick := eddy.NewTimer(func(t *eddy.Timer) {
		report("tick")(t)
		if l.Now().Sub(start) >= 3*time.Minute {
			t.Stop()
		}
	}, time.Minute, time.Minute)
	hour.Start(l)
	second.Start(l)
	tick.Start(l)

	if err := l.Run(); err != nil { // returns when no timer is left
		fmt.Println(err)
	}
	// Output:
	// second after 1s, at 12:00:01
	// tick   after 1m0s, at 12:01:00
	// tick   after 2m0s, at 12:02:00
	// tick   after 3m0s, at 12:03:00
	// hour   after 1h0m0s, at 13:00:00
}

// Readiness is scripted: Ready makes a descriptor number readable, with no
// real descriptor behind it, and it stays readable, level-triggered, until
// Clear.
func ExampleBackend_Ready() {
	be := eddytest.NewBackend(nil)
	l, err := eddy.NewLoop(&eddy.Config{Backend: be, Clock: be.Clock()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	const fd = 7
	w := eddy.NewIO(func(w *eddy.IO, ev eddy.Events) {
		fmt.Println("fd", w.Fd(), "ready for read:", ev&eddy.Read != 0)
	}, fd, eddy.Read)
	if err := w.Start(l); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("registered:", be.Registered(fd))

	be.Ready(fd, eddy.Read)
	l.RunNoWait() // reported
	l.RunNoWait() // still ready: reported again
	be.Clear(fd, eddy.Read)
	l.RunNoWait() // nothing
	// Output:
	// registered: true
	// fd 7 ready for read: true
	// fd 7 ready for read: true
}
