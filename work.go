package eddy

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

// Work pool defaults, used for the zero fields of PoolConfig.
const (
	// DefaultPoolSize is the number of worker goroutines per lane, unless
	// the environment variable EDDY_POOL_SIZE says otherwise.
	DefaultPoolSize = 4
	// DefaultQueueLen is the number of work items that may wait in one
	// lane's queue.
	DefaultQueueLen = 1024
	// DefaultIdleTimeout is how long a worker goroutine waits for work
	// before it exits.
	DefaultIdleTimeout = time.Second
)

var (
	// ErrQueueFull is returned by Loop.Queue when the lane's queue already
	// holds PoolConfig.QueueLen items waiting for a worker.
	ErrQueueFull = errors.New("eddy: work queue full")
	// ErrCanceled is the error a done callback receives when its work was
	// canceled before it started: by Work.Cancel or by Pool.Close.
	ErrCanceled = errors.New("eddy: work canceled")
	// ErrPoolClosed is returned by Loop.Queue when the loop's pool has been
	// closed, and by Pool.Close the second time.
	ErrPoolClosed = errors.New("eddy: work pool closed")
)

// errGoexit is the error done receives when work called runtime.Goexit.
var errGoexit = errors.New("eddy: work called runtime.Goexit")

// Lane selects which of a Pool's independent sets of workers and queues runs
// a piece of work.
type Lane uint8

const (
	// LaneFast is for work that is short or bounded: computations, file
	// system calls on local disks. The file helpers (Loop.ReadFile,
	// Loop.WriteFile, Loop.StatFile) use it.
	LaneFast Lane = iota
	// LaneSlow is for work that may block for seconds: name resolution
	// with the system resolver (getaddrinfo), network file systems, calls
	// to slow services.
	LaneSlow

	numLanes = 2
)

// String returns "fast" or "slow".
func (ln Lane) String() string {
	switch ln {
	case LaneFast:
		return "fast"
	case LaneSlow:
		return "slow"
	}
	return "Lane(" + strconv.Itoa(int(ln)) + ")"
}

// PoolConfig holds the settings of a new Pool. The zero value (or a nil
// *PoolConfig) is the documented default for every field.
type PoolConfig struct {
	// Size is the most worker goroutines of one lane running at once: at
	// most Size pieces of work of a lane run in parallel. Zero means the
	// value of the environment variable EDDY_POOL_SIZE if it holds a
	// positive integer, DefaultPoolSize (4) otherwise.
	Size int
	// SlowSize, when positive, overrides Size for LaneSlow, whose work
	// mostly waits: resolving many names at once may want more workers
	// than the CPU-bound fast lane.
	SlowSize int
	// QueueLen is the most work items of one lane that may wait for a
	// worker; Loop.Queue returns ErrQueueFull beyond it. Work being run
	// does not count. Zero means DefaultQueueLen (1024).
	QueueLen int
	// IdleTimeout is how long a worker goroutine waits for more work
	// before it exits. Zero means DefaultIdleTimeout (1s).
	IdleTimeout time.Duration
}

// poolSize resolves the per-lane size of c: Size, else EDDY_POOL_SIZE, else
// the default.
func (c PoolConfig) poolSize() int {
	if c.Size > 0 {
		return c.Size
	}
	if n, err := strconv.Atoi(os.Getenv("EDDY_POOL_SIZE")); err == nil && n > 0 {
		return n
	}
	return DefaultPoolSize
}

// Pool runs blocking work off the loop (libuv's uv_queue_work): a piece of
// work handed to Loop.Queue runs on one of the pool's worker goroutines,
// and its done callback then runs on the loop's goroutine, brought there by
// Loop.Post. Callbacks must never block the loop; what must block (a file
// read, a system resolver lookup, a compression) goes to the pool.
//
// A Pool has independent lanes, each with its own workers and its own
// bounded queue: LaneFast for short work and file I/O, LaneSlow for work
// that may block for seconds. Slow work therefore cannot starve fast work,
// which is the known problem of libuv's single pool, where four slow
// getaddrinfo calls hold every thread and file reads wait behind them.
//
// Workers are goroutines started on demand, up to PoolConfig.Size per lane,
// and each exits after waiting PoolConfig.IdleTimeout for more work: an
// idle pool holds no goroutine, and starting one again costs about a
// microsecond. Close cancels the work still queued, waits for the work
// being run, and returns once every worker has exited: nothing is left
// running.
//
// Loops use the process-wide default pool (the zero PoolConfig, created on
// first use and never closed; its workers exit when idle) unless
// Config.Pool gives them one. The environment variable EDDY_POOL_SIZE, a
// positive integer, sets the workers per lane of every pool whose
// PoolConfig.Size is zero, the default pool included. A pool may serve any
// number of loops. Its methods are safe for concurrent use.
//
// Work queued by a loop keeps that loop alive until its done callback has
// run, as an active watcher would; closing the loop cancels its work not yet
// started.
type Pool struct {
	lanes [numLanes]lane
	wg    sync.WaitGroup // running workers
	idle  time.Duration  // immutable

	mu     sync.Mutex
	closed bool // guarded by mu
}

// lane is one queue of a Pool with its workers.
type lane struct {
	p    *Pool
	size int           // immutable: the most workers
	qmax int           // immutable: the most queued items
	wake chan struct{} // tokens for idle workers; cap size; closed by Close

	mu      sync.Mutex
	ring    []*Work // guarded by mu: queued work, ring[head..head+n) modulo len
	head    int     // guarded by mu
	n       int     // guarded by mu
	workers int     // guarded by mu: goroutines running
	idle    int     // guarded by mu: workers waiting, less the tokens sent to them
	closed  bool    // guarded by mu
}

// NewPool returns a pool configured by cfg (nil for the defaults), which it
// copies. It starts no goroutine: workers start with the first work queued.
func NewPool(cfg *PoolConfig) *Pool {
	var c PoolConfig
	if cfg != nil {
		c = *cfg
	}
	p := &Pool{idle: c.IdleTimeout}
	if p.idle <= 0 {
		p.idle = DefaultIdleTimeout
	}
	size := c.poolSize()
	qmax := c.QueueLen
	if qmax <= 0 {
		qmax = DefaultQueueLen
	}
	for i := range p.lanes {
		ln := &p.lanes[i]
		ln.p, ln.size, ln.qmax = p, size, qmax
		if Lane(i) == LaneSlow && c.SlowSize > 0 {
			ln.size = c.SlowSize
		}
		ln.wake = make(chan struct{}, ln.size)
	}
	return p
}

var defaultPool struct {
	once sync.Once
	p    *Pool
}

// poolOf returns the pool of loop l: the one of its Config, or the default.
func (l *Loop) poolOf() *Pool {
	if p := l.work.pool; p != nil {
		return p
	}
	defaultPool.once.Do(func() { defaultPool.p = NewPool(nil) })
	return defaultPool.p
}

// lane returns the lane ln of p, and panics for an unknown one.
func (p *Pool) lane(ln Lane) *lane {
	if int(ln) >= numLanes {
		panic(fmt.Sprintf("eddy: unknown work lane %d", ln))
	}
	return &p.lanes[ln]
}

// Size returns the most worker goroutines that run work of lane at once.
func (p *Pool) Size(lane Lane) int { return p.lane(lane).size }

// Workers returns the number of worker goroutines of lane running now,
// whether busy or waiting for work.
func (p *Pool) Workers(lane Lane) int {
	ln := p.lane(lane)
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return ln.workers
}

// Queued returns the number of work items of lane waiting for a worker.
func (p *Pool) Queued(lane Lane) int {
	ln := p.lane(lane)
	ln.mu.Lock()
	defer ln.mu.Unlock()
	return ln.n
}

// Close shuts the pool down: Loop.Queue fails with ErrPoolClosed from then
// on, work still queued is canceled (its done callback runs with
// ErrCanceled), and Close waits for the work being run to return and for
// every worker goroutine to exit. Close must therefore not be called from
// work, nor from a loop's goroutine while some running work waits for that
// loop. Closing a loop does not close its pool. Close returns
// ErrPoolClosed the second time.
func (p *Pool) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return ErrPoolClosed
	}
	p.closed = true
	p.mu.Unlock()
	var canceled []*Work
	for i := range p.lanes {
		ln := &p.lanes[i]
		ln.mu.Lock()
		ln.closed = true
		for ln.n > 0 {
			w := ln.pop()
			w.state = workCanceled
			canceled = append(canceled, w)
		}
		ln.ring = nil
		close(ln.wake)
		ln.mu.Unlock()
	}
	for _, w := range canceled {
		w.err = ErrCanceled
		w.l.Post(w.fin)
	}
	p.wg.Wait()
	return nil
}

// submit queues w, starting or waking a worker for it.
func (ln *lane) submit(w *Work) error {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	if ln.closed {
		return ErrPoolClosed
	}
	if ln.n == len(ln.ring) {
		if ln.n >= ln.qmax {
			return ErrQueueFull
		}
		ln.grow()
	}
	ln.ring[(ln.head+ln.n)%len(ln.ring)] = w
	ln.n++
	w.state = workQueued
	switch {
	case ln.idle > 0:
		ln.idle-- // the token is this worker's: see worker
		ln.wake <- struct{}{}
	case ln.workers < ln.size:
		ln.startLocked()
	}
	return nil
}

// grow enlarges the ring, up to qmax entries. ln.mu must be held.
func (ln *lane) grow() {
	ring := make([]*Work, min(max(2*len(ln.ring), 16), ln.qmax))
	for i := range ln.n {
		ring[i] = ln.ring[(ln.head+i)%len(ln.ring)]
	}
	ln.ring, ln.head = ring, 0
}

// pop takes the oldest queued item. ln.mu must be held and ln.n > 0.
func (ln *lane) pop() *Work {
	w := ln.ring[ln.head]
	ln.ring[ln.head] = nil
	ln.head = (ln.head + 1) % len(ln.ring)
	ln.n--
	return w
}

// removeLocked takes w out of the queue, keeping the order of the rest.
// ln.mu must be held and w queued.
func (ln *lane) removeLocked(w *Work) {
	size := len(ln.ring)
	for i := range ln.n {
		if ln.ring[(ln.head+i)%size] != w {
			continue
		}
		for j := i; j < ln.n-1; j++ {
			ln.ring[(ln.head+j)%size] = ln.ring[(ln.head+j+1)%size]
		}
		ln.ring[(ln.head+ln.n-1)%size] = nil
		ln.n--
		return
	}
}

// startLocked starts a worker goroutine. ln.mu must be held.
func (ln *lane) startLocked() {
	ln.workers++
	ln.p.wg.Add(1)
	go ln.worker()
}

// worker runs queued work until the lane is closed or no work came for the
// idle timeout.
//
// Wake-up protocol: a worker about to wait counts itself in idle; submit
// takes one from idle and sends one token on wake. So idle plus the tokens
// in wake is the number of waiting workers, tokens never exceed the
// channel's capacity, and a worker whose wait timed out knows, by finding
// a token or not, whether some submit counted on it.
func (ln *lane) worker() {
	normal := false
	defer func() { ln.exit(normal) }()
	t := time.NewTimer(ln.p.idle)
	t.Stop()
	ln.mu.Lock()
	for {
		if ln.n > 0 {
			w := ln.pop()
			w.state = workStarted
			ln.mu.Unlock()
			w.run()
			ln.mu.Lock()
			continue
		}
		if ln.closed {
			break
		}
		ln.idle++
		ln.mu.Unlock()
		t.Reset(ln.p.idle)
		select {
		case _, ok := <-ln.wake:
			t.Stop()
			ln.mu.Lock()
			if !ok {
				ln.mu.Unlock()
				normal = true
				return
			}
			continue
		case <-t.C:
		}
		ln.mu.Lock()
		select {
		case _, ok := <-ln.wake: // a submit counted on this worker
			if !ok {
				ln.mu.Unlock()
				normal = true
				return
			}
			continue
		default:
		}
		ln.idle--
		if ln.n == 0 {
			break
		}
	}
	ln.mu.Unlock()
	normal = true
}

// exit accounts for a worker that stops, and replaces one killed by
// runtime.Goexit inside work if work is waiting.
func (ln *lane) exit(normal bool) {
	ln.mu.Lock()
	ln.workers--
	if !normal && !ln.closed && ln.n > 0 {
		ln.startLocked()
	}
	ln.mu.Unlock()
	ln.p.wg.Done()
}

// Work is a piece of work queued by Loop.Queue, the handle to cancel it.
type Work struct {
	l     *Loop
	ln    *lane
	work  func()
	done  func(err error)
	fin   func() // w.finish, made once: what the worker posts
	err   error  // written before fin is posted, read by fin
	state workState
	prev  *Work // the loop's list of its outstanding work; loop goroutine only
	next  *Work
}

// workState is where a Work is; guarded by its lane's mu.
type workState uint8

const (
	workQueued workState = iota
	workStarted
	workCanceled
)

// workLoop is a loop's share of the work pool: its pool and its
// outstanding work. Loop goroutine only.
type workLoop struct {
	pool   *Pool // from Config.Pool; nil means the default pool
	first  *Work // outstanding work: queued, running, or done not yet run
	n      int
	hooked bool // closeWork is registered with OnClose
}

// Queue runs work on a goroutine of the loop's pool, in lane, and then done
// on the loop's goroutine (libuv's uv_queue_work). It must be called on the
// loop goroutine. Work items of one lane start in the order they were
// queued; their done callbacks run in the order the workers finished them,
// each after its work has returned, so that done sees everything work
// wrote.
//
// Done receives nil when work returned, ErrCanceled when the work was
// canceled before it started (Work.Cancel, Pool.Close), and a *PanicError
// when work panicked: the panic is recovered on the worker, which goes on
// serving the pool, and handed to done as an error holding the panic value
// and the worker's stack. Work that calls runtime.Goexit ends its worker
// (another one takes its place) and done receives an error saying so. Done
// may be nil. Done never runs inside Queue or Cancel, always from the loop.
//
// Outstanding work keeps the loop alive: Run does not return while work is
// queued or running or its done callback has not run. Closing the loop
// cancels its work not yet started; work already running runs to the end,
// but done callbacks never run on a closed loop.
//
// Queue returns ErrQueueFull when the lane's queue is full, ErrPoolClosed
// when the pool was closed and ErrClosed on a closed loop; done never runs
// then. It panics if work is nil or lane is not a known Lane.
func (l *Loop) Queue(lane Lane, work func(), done func(err error)) (*Work, error) {
	if work == nil {
		panic("eddy: Queue with nil work")
	}
	l.checkGoroutine()
	if l.closed {
		return nil, ErrClosed
	}
	ln := l.poolOf().lane(lane)
	w := &Work{l: l, ln: ln, work: work, done: done}
	w.fin = w.finish
	if err := ln.submit(w); err != nil {
		return nil, err
	}
	wl := &l.work
	if !wl.hooked {
		wl.hooked = true
		l.onClose = append(l.onClose, l.closeWork)
	}
	if wl.first != nil {
		wl.first.prev = w
	}
	w.next = wl.first
	wl.first = w
	wl.n++
	l.refs++ // as an active watcher would: see finish and closeWork
	return w, nil
}

// Cancel cancels the work if it has not started yet, and reports whether it
// did: done then runs with ErrCanceled, from the loop, and work never runs.
// Once work has started (or was canceled, or done has run) Cancel does
// nothing and returns false; a started work runs to the end and done gets
// its result. It must be called on the loop goroutine.
func (w *Work) Cancel() bool {
	w.l.checkGoroutine()
	ln := w.ln
	ln.mu.Lock()
	if w.state != workQueued {
		ln.mu.Unlock()
		return false
	}
	w.state = workCanceled
	ln.removeLocked(w)
	ln.mu.Unlock()
	w.err = ErrCanceled
	w.l.Post(w.fin)
	return true
}

// run runs the work on a worker and posts the result to the loop. A panic
// is recovered into a PanicError; runtime.Goexit still ends the worker
// (which lane.exit replaces) but done hears of it.
func (w *Work) run() {
	normal := false
	defer func() {
		if !normal {
			if r := recover(); r != nil {
				w.err = &PanicError{Value: r, Stack: debug.Stack()}
			} else {
				w.err = errGoexit
			}
			w.l.Post(w.fin)
		}
	}()
	w.work()
	normal = true
	w.l.Post(w.fin)
}

// finish runs on the loop: the work no longer keeps it alive, done runs.
func (w *Work) finish() {
	l := w.l
	wl := &l.work
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		wl.first = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	}
	w.prev, w.next = nil, nil
	wl.n--
	l.refs--
	if w.done != nil {
		w.done(w.err)
	}
}

// closeWork cancels the loop's work not yet started, when the loop closes,
// and forgets the rest: done callbacks never run on a closed loop.
func (l *Loop) closeWork() {
	wl := &l.work
	for w := wl.first; w != nil; w = w.next {
		ln := w.ln
		ln.mu.Lock()
		if w.state == workQueued {
			w.state = workCanceled
			ln.removeLocked(w)
		}
		ln.mu.Unlock()
	}
	for w := wl.first; w != nil; {
		next := w.next
		w.prev, w.next = nil, nil
		w = next
	}
	l.refs -= wl.n
	wl.first, wl.n = nil, 0
}

// PanicError is the error a done callback receives when its work panicked.
type PanicError struct {
	// Value is the value the work panicked with.
	Value any
	// Stack is the worker goroutine's stack when the panic was recovered,
	// as debug.Stack formats it.
	Stack []byte
}

// Error returns "eddy: work panicked: " followed by the panic value.
func (e *PanicError) Error() string { return fmt.Sprintf("eddy: work panicked: %v", e.Value) }

// Unwrap returns the panic value if it is an error, so that errors.Is and
// errors.As see through the panic; nil otherwise.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}
