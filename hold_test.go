//go:build linux && !evpoll

package eddy_test

import (
	"testing"
	"time"

	"github.com/eddyloop/eddy"
)

// TestHoldProcessor runs a loop that keeps its processor while it waits
// (Config.HoldProcessor) and checks what must still happen: a Post from
// another goroutine wakes it, a timer fires, a goroutine the loop started
// runs and answers (the loop yields before it waits), and a goroutine
// made runnable from outside while the loop sleeps runs too.
func TestHoldProcessor(t *testing.T) {
	l, err := eddy.NewLoop(&eddy.Config{HoldProcessor: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if l.Backend() != "epoll" {
		t.Fatalf("backend %s, want epoll", l.Backend())
	}
	keep := eddy.NewTimer(func(*eddy.Timer) {}, time.Hour, 0)
	done := make(chan error, 1)
	go func() {
		l.Post(func() { keep.Start(l) })
		done <- l.Run()
	}()
	deadline := time.After(10 * time.Second)
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("%s: not within 10s", what)
		}
	}

	posted := make(chan struct{})
	l.Post(func() { close(posted) })
	wait(posted, "a Post")

	fired := make(chan struct{})
	l.Post(func() {
		eddy.NewTimer(func(*eddy.Timer) { close(fired) }, 5*time.Millisecond, 0).Start(l)
	})
	wait(fired, "a timer")

	answered := make(chan struct{})
	l.Post(func() {
		go func() { l.Post(func() { close(answered) }) }()
	})
	wait(answered, "a goroutine the loop started")

	outside := make(chan struct{})
	time.AfterFunc(time.Millisecond, func() { close(outside) })
	wait(outside, "a goroutine woken by a runtime timer")

	l.Post(func() { keep.Stop(); l.Break(eddy.BreakAll) })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the loop did not stop")
	}
}
