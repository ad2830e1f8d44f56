package eddy_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"syscall"
	"time"

	"github.com/eddyloop/eddy"
	"golang.org/x/sys/unix"
)

// An IO watcher on the read end of a pipe: the callback runs while data is
// waiting, reads it, and stops the watcher once the writer has closed.
func ExampleIO() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	var p [2]int
	unix.Pipe(p[:])
	unix.SetNonblock(p[0], true)
	defer unix.Close(p[0])
	unix.Write(p[1], []byte("hello"))
	unix.Close(p[1])

	var r eddy.IO
	r.Init(func(w *eddy.IO, ev eddy.Events) {
		var buf [64]byte
		n, err := unix.Read(w.Fd(), buf[:])
		switch {
		case n > 0:
			fmt.Printf("read %q\n", buf[:n])
		case err == unix.EAGAIN:
			// spurious: wait for the next event
		default:
			fmt.Println("end of file")
			w.Stop()
		}
	}, p[0], eddy.Read)
	if err := r.Start(l); err != nil {
		fmt.Println(err)
	}
	l.Run() // returns when no watcher is active
	// Output:
	// read "hello"
	// end of file
}

// A repeating Timer that stops itself after three ticks.
func ExampleTimer() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	ticks := 0
	var t eddy.Timer
	t.Init(func(t *eddy.Timer) {
		ticks++
		fmt.Println("tick", ticks)
		if ticks == 3 {
			t.Stop()
		}
	}, time.Millisecond, 2*time.Millisecond)
	t.Start(l)
	l.Run()
	// Output:
	// tick 1
	// tick 2
	// tick 3
}

// An idle timeout: every bit of activity pushes the deadline forward with
// Again, which only moves the timer in the heap. (The timeout is forty
// times the activity's period so that the output holds on a loaded
// machine, where a tick may come late.)
func ExampleTimer_Again() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	var idle eddy.Timer
	idle.Init(func(t *eddy.Timer) {
		fmt.Println("idle timeout")
		t.Stop()
	}, 200*time.Millisecond, 200*time.Millisecond)
	idle.Start(l)

	activity := 0
	var busy eddy.Timer
	busy.Init(func(t *eddy.Timer) {
		activity++
		idle.Again() // activity: the timeout starts over
		if activity == 5 {
			t.Stop()
			fmt.Println("activity stopped")
		}
	}, 5*time.Millisecond, 5*time.Millisecond)
	busy.Start(l)
	l.Run()
	// Output:
	// activity stopped
	// idle timeout
}

// A Periodic on a 5ms grid of the wall clock, rescheduled by a function
// after the second point.
func ExamplePeriodic() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	n := 0
	var p eddy.Periodic
	p.Init(func(p *eddy.Periodic) {
		n++
		fmt.Println("point", n, "on the grid:", p.At().UnixNano()%int64(5*time.Millisecond) == 0)
		if n == 3 {
			p.Stop()
		}
	}, time.Unix(0, 0), 5*time.Millisecond)
	p.Start(l)
	l.Run()
	// Output:
	// point 1 on the grid: true
	// point 2 on the grid: true
	// point 3 on the grid: true
}

// A Signal watcher: SIGINT and SIGTERM shut a server down cleanly. Here the
// process sends itself SIGUSR1.
func ExampleSignal() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	var s eddy.Signal
	s.Init(func(s *eddy.Signal) {
		fmt.Println("got", s.Signum())
		s.Stop()
	}, syscall.SIGUSR1)
	if err := s.Start(l); err != nil {
		fmt.Println(err)
		return
	}
	unix.Kill(os.Getpid(), unix.SIGUSR1)
	l.Run()
	// Output:
	// got user defined signal 1
}

// Idle watchers run only when nothing else is pending: here the work is
// done in small steps between timer ticks.
func ExampleIdle() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	steps := 0
	var w eddy.Idle
	w.Init(func(w *eddy.Idle) {
		steps++
		if steps == 1000 {
			fmt.Println("background work done")
			w.Stop()
		}
	})
	w.Start(l)
	l.Run()
	// Output:
	// background work done
}

// Prepare and Check bracket the wait: a Prepare callback runs before the
// loop sleeps and a Check callback right after it wakes.
func ExamplePrepare() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	var (
		p eddy.Prepare
		c eddy.Check
		t eddy.Timer
	)
	fired := false
	p.Init(func(*eddy.Prepare) { fmt.Println("prepare: about to wait") })
	c.Init(func(*eddy.Check) {
		if fired { // a wait can end early (a signal): only stop once the timer ran
			fmt.Println("check: woke up after the timer")
			p.Stop()
			c.Stop()
		}
	})
	t.Init(func(*eddy.Timer) {
		fmt.Println("timer")
		fired = true
	}, time.Millisecond, 0)
	p.Start(l)
	c.Start(l)
	t.Start(l)
	l.Run()
	// Output:
	// prepare: about to wait
	// timer
	// check: woke up after the timer
}

// An Async watcher woken by another goroutine. Sends coalesce, so the
// callback looks at shared state to learn what happened.
func ExampleAsync() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	done := make(chan string, 1)
	var a eddy.Async
	a.Init(func(a *eddy.Async) {
		fmt.Println("woken:", <-done)
		a.Stop()
	})
	a.Start(l)
	go func() {
		done <- "work finished"
		a.Send()
	}()
	l.Run()
	// Output:
	// woken: work finished
}

// A worker goroutine does blocking work and hands its result to the loop
// with Post, the goroutine-safe way in.
func ExampleLoop_Post() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	// The timer keeps the loop alive until the result arrives.
	var keepAlive eddy.Timer
	keepAlive.Init(func(*eddy.Timer) {}, time.Hour, 0)
	keepAlive.Start(l)

	go func() {
		sum := 0
		for i := 1; i <= 100; i++ { // stands for blocking work
			sum += i
		}
		l.Post(func() { // runs on the loop's goroutine
			fmt.Println("result:", sum)
			keepAlive.Stop()
		})
	}()
	l.Run()
	// Output:
	// result: 5050
}

// Priorities order the callbacks of one iteration.
func ExampleWatcher_priority() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	var low, high eddy.Idle
	low.Init(func(w *eddy.Idle) { fmt.Println("low"); w.Stop() })
	high.Init(func(w *eddy.Idle) { fmt.Println("high"); w.Stop() })
	low.SetPriority(eddy.MinPriority)
	high.SetPriority(eddy.MaxPriority)
	low.Start(l)
	high.Start(l)
	l.Run()
	// Output:
	// high
	// low
}

// A Check watcher flushes, once per iteration, what the callbacks of that
// iteration produced: here two timers due together write into one batch.
func ExampleCheck() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	var batch []string
	var a, b eddy.Timer
	a.Init(func(*eddy.Timer) { batch = append(batch, "a") }, time.Millisecond, 0)
	b.Init(func(*eddy.Timer) { batch = append(batch, "b") }, time.Millisecond, 0)
	a.Start(l)
	b.Start(l) // same deadline: fires after a, in the same iteration

	var flush eddy.Check
	flush.Init(func(c *eddy.Check) {
		if len(batch) > 0 {
			fmt.Println("flush", batch)
			batch = batch[:0]
		}
		if !a.IsActive() && !b.IsActive() {
			c.Stop()
		}
	})
	flush.Start(l)
	l.Run()
	// Output:
	// flush [a b]
}

// Once waits for a descriptor or a timeout, whichever comes first, with no
// watcher to manage.
func ExampleLoop_Once() {
	l, _ := eddy.NewLoop(nil)
	defer l.Close()

	var p [2]int
	unix.Pipe(p[:])
	defer unix.Close(p[0])
	defer unix.Close(p[1])

	// Nothing is written: the timeout comes first, reported as no events.
	l.Once(p[0], eddy.Read, 5*time.Millisecond, func(ev eddy.Events) {
		fmt.Println("first wait, ready:", ev&eddy.Read != 0)
	})
	l.Run()

	unix.Write(p[1], []byte("x"))
	l.Once(p[0], eddy.Read, time.Second, func(ev eddy.Events) {
		fmt.Println("second wait, ready:", ev&eddy.Read != 0)
	})
	l.Run()
	// Output:
	// first wait, ready: false
	// second wait, ready: true
}

// A loop on a backend chosen by name: poll(2), which every unix has, here.
// Backends lists the choices, the system's default first.
func ExampleBackends() {
	fmt.Println(slices.Contains(eddy.Backends(), "poll"))
	l, err := eddy.NewLoop(&eddy.Config{BackendName: "poll"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println(l.Backend())

	_, err = eddy.NewLoop(&eddy.Config{BackendName: "select"})
	fmt.Println(errors.Is(err, eddy.ErrUnknownBackend))
	// Output:
	// true
	// poll
	// true
}
