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
	l, err := eddy.NewLoop(eddy.Config{})
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
