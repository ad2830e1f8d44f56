// Package testloop runs an eddy loop on its own goroutine for the tests of
// the packages built on the loop (evnet, evdns, evhttp). Only _test.go
// files import it.
package testloop

import (
	"testing"
	"time"

	"github.com/eddyloop/eddy"
)

// Loop is a loop running on its own goroutine for a test. Do runs code on
// it; it stops and is closed when the test ends.
type Loop struct {
	*eddy.Loop
	done chan error
}

// Start makes a loop with the default configuration and runs it on a new
// goroutine until the test ends. A referenced timer an hour away keeps Run
// from returning while the test has nothing active on the loop.
func Start(t testing.TB) *Loop {
	t.Helper()
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	rl := &Loop{Loop: l, done: make(chan error, 1)}
	keep := eddy.NewTimer(func(*eddy.Timer) {}, time.Hour, time.Hour)
	ready := make(chan struct{})
	go func() {
		l.Post(func() { keep.Start(l); close(ready) })
		rl.done <- l.Run()
	}()
	<-ready
	t.Cleanup(func() {
		rl.Post(func() { keep.Stop(); rl.Break(eddy.BreakAll) })
		select {
		case err := <-rl.done:
			if err != nil {
				t.Errorf("loop: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("loop did not stop")
		}
		rl.Close()
	})
	return rl
}

// Do runs f on the loop and waits for it to return.
func (rl *Loop) Do(f func()) {
	ch := make(chan struct{})
	rl.Post(func() { f(); close(ch) })
	<-ch
}

// Barrier returns once the loop has handled every event that was ready
// when it was called: the way to know that nothing happened, instead of
// sleeping. Bytes written to a loopback socket are in the peer's receive
// queue when the write returns, so after Barrier the loop has read them.
// It makes two Post round trips: events ready in the kernel are handled in
// the iteration whose wait reports them, before that iteration's posted
// functions, and the second trip covers whatever the first iteration's
// callbacks started (a write that the peer's handler answers, a timer due
// now).
func (rl *Loop) Barrier() {
	rl.Do(func() {})
	rl.Do(func() {})
}
