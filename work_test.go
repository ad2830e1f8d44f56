package eddy_test

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddyloop/eddy"
	"github.com/eddyloop/eddy/internal/testutil"
)

// newWorkLoop returns a loop with its own pool of the given config, both
// closed when the test ends; the pool's Close checks that no worker is left.
func newWorkLoop(t testing.TB, c eddy.PoolConfig) (*eddy.Loop, *eddy.Pool) {
	t.Helper()
	p := eddy.NewPool(&c)
	l, err := eddy.NewLoop(&eddy.Config{Pool: p, Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		l.Close()
		p.Close()
		for _, lane := range []eddy.Lane{eddy.LaneFast, eddy.LaneSlow} {
			if n := p.Workers(lane); n != 0 {
				t.Errorf("after Close: %d %v workers left", n, lane)
			}
		}
	})
	return l, p
}

// guard fails the test and breaks the loop if it still runs after d.
func guard(t *testing.T, l *eddy.Loop, d time.Duration, onExpire func()) *eddy.Timer {
	t.Helper()
	var g eddy.Timer
	g.Init(func(*eddy.Timer) {
		t.Errorf("still running after %v", d)
		if onExpire != nil {
			onExpire()
		}
		l.Break(eddy.BreakAll)
	}, d, 0)
	g.Unref()
	g.Start(l)
	return &g
}

func mustQueue(t *testing.T, l *eddy.Loop, lane eddy.Lane, work func(), done func(error)) *eddy.Work {
	t.Helper()
	w, err := l.Queue(lane, work, done)
	if err != nil {
		t.Fatalf("Queue: %v", err)
	}
	return w
}

// Done callbacks run on the loop after their work, in the order the work
// finished, and see what the work wrote without further synchronisation.
func TestWorkOrder(t *testing.T) {
	l, _ := newWorkLoop(t, eddy.PoolConfig{Size: 1})
	const n = 100
	results := make([]int, n) // written by work, read by done
	var ran []int             // work order, guarded by mu
	var mu sync.Mutex
	var done []int // loop goroutine only
	for i := range n {
		mustQueue(t, l, eddy.LaneFast, func() {
			results[i] = i * i
			mu.Lock()
			ran = append(ran, i)
			mu.Unlock()
		}, func(err error) {
			if err != nil {
				t.Errorf("done %d: %v", i, err)
			}
			if results[i] != i*i {
				t.Errorf("done %d sees %d, want %d", i, results[i], i*i)
			}
			done = append(done, i)
		})
	}
	if !l.Alive() {
		t.Fatal("Alive = false with work queued")
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if len(done) != n {
		t.Fatalf("%d done callbacks ran, want %d", len(done), n)
	}
	for i := range n {
		if ran[i] != i || done[i] != i {
			t.Fatalf("position %d: work %d, done %d; want FIFO order", i, ran[i], done[i])
		}
	}
	if l.Refs() != 0 {
		t.Errorf("Refs = %d after all work, want 0", l.Refs())
	}
}

// Slow-lane work that holds every slow worker does not delay fast-lane work
// (libuv's known problem: slow getaddrinfo blocking file I/O).
func TestWorkLanesIndependent(t *testing.T) {
	const size = 2
	l, p := newWorkLoop(t, eddy.PoolConfig{Size: size})
	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	defer unblock()
	guard(t, l, 10*time.Second, unblock)

	var started atomic.Int32
	slowDone := 0
	for range size + 3 { // every worker busy, and more queued behind them
		mustQueue(t, l, eddy.LaneSlow, func() {
			started.Add(1)
			<-release
		}, func(err error) {
			if err != nil {
				t.Errorf("slow done: %v", err)
			}
			slowDone++
		})
	}
	if !testutil.Eventually(5*time.Second, func() bool { return started.Load() == size }) {
		t.Fatalf("%d slow works started, want %d", started.Load(), size)
	}
	fastDone := 0
	for range 20 {
		mustQueue(t, l, eddy.LaneFast, func() {}, func(err error) {
			if err != nil {
				t.Errorf("fast done: %v", err)
			}
			fastDone++
			if fastDone == 20 {
				if slowDone != 0 || p.Queued(eddy.LaneSlow) != 3 {
					t.Errorf("fast lane finished with %d slow done and %d queued, want 0 and 3", slowDone, p.Queued(eddy.LaneSlow))
				}
				unblock() // only now may the slow lane proceed
			}
		})
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if fastDone != 20 || slowDone != size+3 {
		t.Fatalf("fast done %d, slow done %d; want 20 and %d", fastDone, slowDone, size+3)
	}
	if got := started.Load(); got != size+3 {
		t.Fatalf("%d slow works ran, want %d", got, size+3)
	}
}

// The queue holds QueueLen items waiting (work being run does not count);
// one more is ErrQueueFull, and a canceled item frees its slot.
func TestWorkQueueFull(t *testing.T) {
	l, p := newWorkLoop(t, eddy.PoolConfig{Size: 1, QueueLen: 2})
	release := make(chan struct{})
	started := make(chan struct{})
	ndone := 0
	done := func(err error) {
		if err != nil && !errors.Is(err, eddy.ErrCanceled) {
			t.Errorf("done: %v", err)
		}
		ndone++
	}
	mustQueue(t, l, eddy.LaneFast, func() { close(started); <-release }, done)
	<-started
	b := mustQueue(t, l, eddy.LaneFast, func() {}, done)
	mustQueue(t, l, eddy.LaneFast, func() {}, done)
	if _, err := l.Queue(eddy.LaneFast, func() {}, done); !errors.Is(err, eddy.ErrQueueFull) {
		t.Fatalf("third queued item: err = %v, want ErrQueueFull", err)
	} else if err.Error() != "eddy: work queue full" {
		t.Errorf("ErrQueueFull says %q", err)
	}
	if n := p.Queued(eddy.LaneFast); n != 2 {
		t.Errorf("Queued = %d, want 2", n)
	}
	if _, err := l.Queue(eddy.LaneSlow, func() {}, done); err != nil {
		t.Errorf("slow lane refused work while the fast lane is full: %v", err)
	}
	if !b.Cancel() {
		t.Fatal("Cancel of a queued item = false")
	}
	mustQueue(t, l, eddy.LaneFast, func() {}, done) // the canceled item's slot
	close(release)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if ndone != 5 {
		t.Fatalf("%d done callbacks ran, want 5", ndone)
	}
}

// The queue is a ring: cancel inside its wrapped part, grow it while it is
// wrapped, fill it to a QueueLen that is not a power of two; the remaining
// work still starts in the order it was queued.
func TestWorkQueueRing(t *testing.T) {
	l, p := newWorkLoop(t, eddy.PoolConfig{Size: 1, QueueLen: 20})
	step := make(chan struct{})
	started := make(chan string, 100)
	var mu sync.Mutex
	var ran []string
	canceled := map[string]bool{}
	queue := func(id string) *eddy.Work {
		return mustQueue(t, l, eddy.LaneFast, func() {
			mu.Lock()
			ran = append(ran, id)
			mu.Unlock()
			started <- id
			<-step
		}, func(err error) {
			if errors.Is(err, eddy.ErrCanceled) {
				canceled[id] = true
			} else if err != nil {
				t.Errorf("%s: %v", id, err)
			}
		})
	}
	waitStarted := func(want string) {
		t.Helper()
		for id := range started {
			if id == want {
				return
			}
		}
	}
	queue("X0")
	waitStarted("X0")
	var want []string
	works := map[string]*eddy.Work{}
	for i := 1; i < 16; i++ {
		id := fmt.Sprintf("X%d", i)
		works[id] = queue(id)
	}
	for range 10 {
		step <- struct{}{}
	}
	waitStarted("X10") // the ring now holds X11..X15 at its end
	for i := range 10 {
		id := fmt.Sprintf("Y%d", i)
		works[id] = queue(id) // wrapped to the ring's start
	}
	for _, id := range []string{"X13", "Y3"} {
		if !works[id].Cancel() {
			t.Fatalf("Cancel %s = false", id)
		}
	}
	for i := range 7 {
		queue(fmt.Sprintf("Z%d", i)) // the ring grows while wrapped
	}
	if n := p.Queued(eddy.LaneFast); n != 20 {
		t.Fatalf("Queued = %d, want 20", n)
	}
	if _, err := l.Queue(eddy.LaneFast, func() {}, nil); !errors.Is(err, eddy.ErrQueueFull) {
		t.Fatalf("21st item: %v, want ErrQueueFull", err)
	}
	close(step)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	for i := range 16 {
		if i != 13 {
			want = append(want, fmt.Sprintf("X%d", i))
		}
	}
	for i := range 10 {
		if i != 3 {
			want = append(want, fmt.Sprintf("Y%d", i))
		}
	}
	for i := range 7 {
		want = append(want, fmt.Sprintf("Z%d", i))
	}
	if !slices.Equal(ran, want) {
		t.Errorf("work ran in the order\n%v\nwant\n%v", ran, want)
	}
	if len(canceled) != 2 || !canceled["X13"] || !canceled["Y3"] {
		t.Errorf("canceled: %v, want X13 and Y3", canceled)
	}
}

// Cancel before the work started: done runs with ErrCanceled, from the loop,
// and the work never runs. Cancel after it started: false, done gets nil.
func TestWorkCancel(t *testing.T) {
	l, _ := newWorkLoop(t, eddy.PoolConfig{Size: 1})
	release := make(chan struct{})
	started := make(chan struct{})
	var aErr, bErr error
	aDone, bDone := false, false
	a := mustQueue(t, l, eddy.LaneFast, func() { close(started); <-release }, func(err error) {
		aDone, aErr = true, err
	})
	bRan := false
	b := mustQueue(t, l, eddy.LaneFast, func() { bRan = true }, func(err error) {
		bDone, bErr = true, err
		close(release)
	})
	<-started
	if a.Cancel() {
		t.Error("Cancel of started work = true")
	}
	if !b.Cancel() {
		t.Fatal("Cancel of queued work = false")
	}
	if bDone {
		t.Fatal("done ran inside Cancel")
	}
	if b.Cancel() {
		t.Error("second Cancel = true")
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if !bDone || !errors.Is(bErr, eddy.ErrCanceled) {
		t.Errorf("canceled work: done ran %v with %v, want ErrCanceled", bDone, bErr)
	}
	if bRan {
		t.Error("canceled work ran")
	}
	if !aDone || aErr != nil {
		t.Errorf("started work: done ran %v with %v, want nil", aDone, aErr)
	}
	if a.Cancel() || b.Cancel() {
		t.Error("Cancel after done = true")
	}
}

// Run does not return while work is running, though no watcher is active,
// and returns once done has run. The work ends only once the loop has gone
// to sleep in Run: a Run that returned early would never sleep.
func TestWorkKeepsLoopAlive(t *testing.T) {
	l, _ := newWorkLoop(t, eddy.PoolConfig{})
	finished := false
	mustQueue(t, l, eddy.LaneSlow, func() {
		if !testutil.Eventually(5*time.Second, l.Sleeping) {
			t.Error("the loop never slept in Run while work ran")
		}
	}, func(err error) {
		finished = true
	})
	if !l.Alive() || l.Refs() != 1 {
		t.Fatalf("Alive = %v, Refs = %d with work running; want true, 1", l.Alive(), l.Refs())
	}
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if !finished {
		t.Fatal("Run returned before done ran")
	}
	if l.Alive() {
		t.Fatal("Alive after done ran")
	}
}

// Closing the loop cancels its queued work and forgets the rest: no done
// callback runs, the pool goes on serving other loops.
func TestWorkLoopClose(t *testing.T) {
	p := eddy.NewPool(&eddy.PoolConfig{Size: 1})
	defer p.Close()
	l, err := eddy.NewLoop(&eddy.Config{Pool: p})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	started := make(chan struct{})
	var ran atomic.Bool
	fail := func(err error) { t.Errorf("done ran after Close: %v", err) }
	mustQueue(t, l, eddy.LaneFast, func() { close(started); <-release }, fail)
	mustQueue(t, l, eddy.LaneFast, func() { ran.Store(true) }, fail)
	<-started
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if n := p.Queued(eddy.LaneFast); n != 0 {
		t.Errorf("Queued = %d after the loop closed, want 0", n)
	}
	if _, err := l.Queue(eddy.LaneFast, func() {}, nil); !errors.Is(err, eddy.ErrClosed) {
		t.Errorf("Queue on a closed loop: %v, want ErrClosed", err)
	}
	close(release)

	l2, err := eddy.NewLoop(&eddy.Config{Pool: p})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	ok := false
	if _, err := l2.Queue(eddy.LaneFast, func() {}, func(err error) { ok = err == nil }); err != nil {
		t.Fatal(err)
	}
	if err := l2.Run(); err != nil || !ok {
		t.Fatalf("other loop: Run %v, done ok %v", err, ok)
	}
	if ran.Load() {
		t.Error("work queued by a closed loop ran")
	}
}

// Pool.Close cancels queued work (done gets ErrCanceled), waits for running
// work, and leaves no worker goroutine; Queue then fails with ErrPoolClosed.
func TestPoolClose(t *testing.T) {
	before := runtime.NumGoroutine()
	p := eddy.NewPool(&eddy.PoolConfig{Size: 2})
	l, err := eddy.NewLoop(&eddy.Config{Pool: p})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(4)
	var results []error
	record := func(err error) { results = append(results, err) }
	for _, lane := range []eddy.Lane{eddy.LaneFast, eddy.LaneSlow} {
		for range 2 {
			mustQueue(t, l, lane, func() { started.Done(); <-release }, record)
		}
		mustQueue(t, l, lane, func() { t.Error("queued work ran after Close") }, func(err error) {
			record(err)
			if len(results) == 2 { // both canceled: Close may now finish
				close(release)
			}
		})
	}
	started.Wait()
	if w := p.Workers(eddy.LaneFast) + p.Workers(eddy.LaneSlow); w != 4 {
		t.Errorf("Workers = %d, want 4", w)
	}
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if len(results) != 6 {
		t.Fatalf("%d done callbacks, want 6", len(results))
	}
	for i, err := range results {
		if want := error(nil); i < 2 && !errors.Is(err, eddy.ErrCanceled) || i >= 2 && err != want {
			t.Errorf("done %d: %v", i, err)
		}
	}
	for _, lane := range []eddy.Lane{eddy.LaneFast, eddy.LaneSlow} {
		if n := p.Workers(lane); n != 0 {
			t.Errorf("%v lane: %d workers after Close", lane, n)
		}
	}
	if _, err := l.Queue(eddy.LaneFast, func() {}, nil); !errors.Is(err, eddy.ErrPoolClosed) {
		t.Errorf("Queue after Close: %v, want ErrPoolClosed", err)
	}
	if err := p.Close(); !errors.Is(err, eddy.ErrPoolClosed) {
		t.Errorf("second Close: %v, want ErrPoolClosed", err)
	}
	if !testutil.Eventually(5*time.Second, func() bool { return runtime.NumGoroutine() <= before }) {
		t.Errorf("%d goroutines after Close, %d before", runtime.NumGoroutine(), before)
	}
}

// Workers exit after IdleTimeout without work, and come back for new work.
func TestPoolIdleShutdown(t *testing.T) {
	l, p := newWorkLoop(t, eddy.PoolConfig{Size: 3, IdleTimeout: 10 * time.Millisecond})
	for round := range 2 {
		n := 0
		gate := make(chan struct{}) // holds the work until the workers are counted
		for range 10 {
			mustQueue(t, l, eddy.LaneFast, func() { <-gate }, func(error) { n++ })
		}
		if w := p.Workers(eddy.LaneFast); w < 1 || w > 3 {
			t.Errorf("round %d: %d workers, want 1 to 3", round, w)
		}
		close(gate)
		if err := l.Run(); err != nil {
			t.Fatal(err)
		}
		if n != 10 {
			t.Fatalf("round %d: %d done", round, n)
		}
		if !testutil.Eventually(5*time.Second, func() bool { return p.Workers(eddy.LaneFast) == 0 }) {
			t.Fatalf("round %d: %d workers still running after the idle timeout", round, p.Workers(eddy.LaneFast))
		}
	}
}

// A panic in work reaches done as a *PanicError; the pool keeps serving.
// runtime.Goexit in work is reported too, and its worker replaced.
func TestWorkPanic(t *testing.T) {
	l, p := newWorkLoop(t, eddy.PoolConfig{Size: 1})
	sentinel := errors.New("sentinel")
	var errs []error
	record := func(err error) { errs = append(errs, err) }
	mustQueue(t, l, eddy.LaneFast, func() { panic("boom") }, record)
	mustQueue(t, l, eddy.LaneFast, func() { panic(sentinel) }, record)
	mustQueue(t, l, eddy.LaneFast, func() { runtime.Goexit() }, record)
	mustQueue(t, l, eddy.LaneFast, func() {}, record)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if len(errs) != 4 {
		t.Fatalf("%d done callbacks, want 4", len(errs))
	}
	var pe *eddy.PanicError
	if !errors.As(errs[0], &pe) || pe.Value != "boom" || len(pe.Stack) == 0 {
		t.Errorf("panic(\"boom\"): done got %v, want a *PanicError with the value and a stack", errs[0])
	} else if got := pe.Error(); got != "eddy: work panicked: boom" {
		t.Errorf("PanicError.Error() = %q", got)
	}
	if !errors.Is(errs[1], sentinel) {
		t.Errorf("panic(err): done got %v, want it to wrap err", errs[1])
	}
	if errs[2] == nil {
		t.Error("runtime.Goexit: done got nil")
	}
	if errs[3] != nil {
		t.Errorf("work after the panics: %v", errs[3])
	}
	if w := p.Workers(eddy.LaneFast); w > 1 {
		t.Errorf("%d workers, want at most 1", w)
	}
}

// EDDY_POOL_SIZE sets the size of a pool whose config leaves it zero; an
// explicit Size wins, and a value that is not a positive integer is ignored.
func TestPoolSizeEnv(t *testing.T) {
	for _, tc := range []struct {
		env        string
		size, slow int
		want       int
		wantSlow   int
	}{
		{"", 0, 0, eddy.DefaultPoolSize, eddy.DefaultPoolSize},
		{"3", 0, 0, 3, 3},
		{"3", 2, 0, 2, 2},
		{"3", 0, 16, 3, 16},
		{"zero", 0, 0, eddy.DefaultPoolSize, eddy.DefaultPoolSize},
		{"-1", 0, 0, eddy.DefaultPoolSize, eddy.DefaultPoolSize},
	} {
		t.Setenv("EDDY_POOL_SIZE", tc.env)
		p := eddy.NewPool(&eddy.PoolConfig{Size: tc.size, SlowSize: tc.slow})
		if got, gotSlow := p.Size(eddy.LaneFast), p.Size(eddy.LaneSlow); got != tc.want || gotSlow != tc.wantSlow {
			t.Errorf("EDDY_POOL_SIZE=%q Size %d SlowSize %d: sizes %d, %d; want %d, %d",
				tc.env, tc.size, tc.slow, got, gotSlow, tc.want, tc.wantSlow)
		}
		p.Close()
	}

	// The size bounds the work running at once.
	t.Setenv("EDDY_POOL_SIZE", "3")
	l, p := newWorkLoop(t, eddy.PoolConfig{})
	release := make(chan struct{})
	var running, peak atomic.Int32
	for range 10 {
		mustQueue(t, l, eddy.LaneFast, func() {
			n := running.Add(1)
			for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
			}
			<-release
			running.Add(-1)
		}, nil)
	}
	if !testutil.Eventually(5*time.Second, func() bool { return running.Load() == 3 }) {
		t.Fatalf("%d works running, want 3", running.Load())
	}
	if w := p.Workers(eddy.LaneFast); w != 3 {
		t.Errorf("Workers = %d, want 3", w)
	}
	close(release)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if peak.Load() != 3 {
		t.Errorf("peak of %d works running at once, want 3", peak.Load())
	}
}

// Several loops share a pool whose workers time out almost at once, so that
// workers keep exiting and starting while work arrives: no work is lost,
// none runs twice, and no worker is left.
func TestPoolStress(t *testing.T) {
	p := eddy.NewPool(&eddy.PoolConfig{Size: 3, QueueLen: 64, IdleTimeout: 50 * time.Microsecond})
	const loops, rounds, burst = 4, 200, 10
	var ran atomic.Int64
	var wg sync.WaitGroup
	for range loops {
		l, err := eddy.NewLoop(&eddy.Config{Pool: p})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer l.Close()
			done, round := 0, 0
			var queueBurst func()
			queueBurst = func() {
				for i := range burst {
					lane := eddy.Lane(i % 2)
					if _, err := l.Queue(lane, func() { ran.Add(1) }, func(err error) {
						if err != nil {
							t.Errorf("done: %v", err)
						}
						if done++; done%burst == 0 && round < rounds {
							round++
							queueBurst()
						}
					}); err != nil {
						t.Errorf("Queue: %v", err)
					}
				}
			}
			round++
			queueBurst()
			if err := l.Run(); err != nil {
				t.Error(err)
			}
			if done != rounds*burst {
				t.Errorf("%d done, want %d", done, rounds*burst)
			}
		}()
	}
	wg.Wait()
	if got := ran.Load(); got != loops*rounds*burst {
		t.Errorf("%d works ran, want %d", got, loops*rounds*burst)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := p.Workers(eddy.LaneFast) + p.Workers(eddy.LaneSlow); n != 0 {
		t.Errorf("%d workers after Close", n)
	}
}

func TestLaneString(t *testing.T) {
	for lane, want := range map[eddy.Lane]string{eddy.LaneFast: "fast", eddy.LaneSlow: "slow", 7: "Lane(7)"} {
		if got := lane.String(); got != want {
			t.Errorf("Lane(%d).String() = %q, want %q", lane, got, want)
		}
	}
}

// Queue from work's done callback, and from the default pool: a loop
// without Config.Pool works too.
func TestWorkDefaultPoolChain(t *testing.T) {
	l, err := eddy.NewLoop(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	steps := 0
	var next func(error)
	next = func(err error) {
		if err != nil {
			t.Errorf("step %d: %v", steps, err)
		}
		if steps++; steps < 5 {
			mustQueue(t, l, eddy.LaneFast, func() {}, next)
		}
	}
	mustQueue(t, l, eddy.LaneFast, func() {}, next)
	if err := l.Run(); err != nil {
		t.Fatal(err)
	}
	if steps != 5 {
		t.Fatalf("%d steps, want 5", steps)
	}
}

// BenchmarkQueue measures a round trip: Queue, work on a worker, done on
// the loop, one at a time, so that the worker and the loop are both asleep
// when their turn comes. It reports the median and the 99th percentile.
func BenchmarkQueue(b *testing.B) {
	p := eddy.NewPool(nil)
	defer p.Close()
	l, err := eddy.NewLoop(&eddy.Config{Pool: p})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	work := func() {}
	var lat []time.Duration
	var t0 time.Time
	done := func(error) { lat = append(lat, time.Since(t0)) }
	b.ReportAllocs()
	for b.Loop() {
		t0 = time.Now()
		if _, err := l.Queue(eddy.LaneFast, work, done); err != nil {
			b.Fatal(err)
		}
		l.Run()
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkQueueBatch measures throughput with 64 items in flight.
func BenchmarkQueueBatch(b *testing.B) {
	p := eddy.NewPool(nil)
	defer p.Close()
	l, err := eddy.NewLoop(&eddy.Config{Pool: p})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	work := func() {}
	done := func(error) {}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := l.Queue(eddy.LaneFast, work, done); err != nil {
			b.Fatal(err)
		}
		if i++; i%64 == 0 {
			l.Run()
		}
	}
	l.Run()
}
