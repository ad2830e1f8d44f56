package eddy

import (
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
)

// Export guts for testing.

// Verify checks the loop's invariants and panics with a description of the
// first one broken (the check debug mode runs after every iteration).
func (l *Loop) Verify() { l.verify() }

// Refs returns the number of active watchers that keep Run alive.
func (l *Loop) Refs() int { return l.refs }

// Pending returns the number of queued callbacks not yet taken.
func (l *Loop) Pending() int { return l.npending }

// Sleeping reports whether the loop is in, or about to enter, a blocking
// wait. Safe from any goroutine.
func (l *Loop) Sleeping() bool { return l.sleeping.Load() }

// whenAsleep runs f on a new goroutine once l is in (or about to enter) a
// blocking wait: the way to make an event arrive while a loop sleeps,
// without guessing how long it takes to get there. If l is not asleep
// within 5s, the test fails and f runs anyway, so that the test can end.
func whenAsleep(t testing.TB, l *Loop, f func()) {
	go func() {
		if !testutil.Eventually(5*time.Second, l.sleeping.Load) {
			t.Errorf("the loop did not go to sleep")
		}
		f()
	}()
}
