package eddy

import "time"

// Clock is where a loop reads the time. The zero Config uses the system
// clocks; package eddytest has a fake clock that tests advance by hand.
type Clock interface {
	// Monotonic returns a reading of a clock that never jumps, as the time
	// since a fixed origin of the clock's choosing.
	Monotonic() time.Duration
	// Wall returns the wall-clock time, which may jump (Periodic uses it).
	Wall() time.Time
}

// systemClock reads the runtime's monotonic clock and the wall clock.
type systemClock struct{ origin time.Time }

func (c systemClock) Monotonic() time.Duration { return time.Since(c.origin) }
func (systemClock) Wall() time.Time            { return time.Now() }
