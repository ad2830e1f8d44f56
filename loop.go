package eddy

import (
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eddyloop/eddy/internal/poller"
)

// Loop is an event loop: one goroutine runs it, and it calls back the
// watchers started on it as their events arrive. Its methods belong to the
// goroutine that runs it (or, before Run, to whoever owns it), except Post,
// Wake, Async.Send and Stats, which any goroutine may call.
type Loop struct {
	be     poller.Poller
	forget poller.Forgetter // be, if it is one (IO.StopForClose)
	clock  Clock
	base   time.Time // wall time at monotonic zero, for Now

	now    int64     // cached monotonic time of this iteration, ns
	nowAt  int64     // the now of nowT, or -1
	nowT   time.Time // Now's result for nowAt, made once per iteration
	events []poller.Event

	fds     []*fdPage // fdState of fd at fds[fd>>fdPageBits][fd&fdPageMask]
	changes []int32   // fds whose interest changed since the last wait

	timers   timerHeap // Timers and Periodics, by monotonic deadline
	timerSeq uint64    // start order, to break ties between equal deadlines
	nperiod  int       // active Periodics
	wallSkew int64     // wall minus monotonic at the last check, for Periodic

	pend     [numPriority]pendQueue
	pendHigh int // highest priority index that may hold entries, or -1
	npending int // entries queued and not yet taken, cleared ones included

	idles    list[*Idle]
	prepares list[*Prepare]
	checks   list[*Check]
	asyncs   list[*Async]
	sigs     map[syscall.Signal]*list[*Signal] // active Signals by number
	children *childLoop                        // Child registry, created on first use
	statw    *statLoop                         // Stat registry, created on first use
	onClose  []func()                          // subsystem clean-ups, run once by Close
	work     workLoop                          // work pool and outstanding Queue work (work.go)

	refs   int // active watchers that keep Run alive
	depth  int // nested Run calls
	brk    Break
	closed bool

	// Cross-goroutine state: the Post queue and the wake-up protocol.
	mu        sync.Mutex
	posts     []func() // guarded by mu
	shut      bool     // guarded by mu: Close has begun, Post does nothing
	wakeMu    sync.RWMutex
	wakeShut  bool // guarded by wakeMu: the backend is closing, Wake does nothing
	npost     atomic.Int32
	running   []func() // the batch being run; loop goroutine only
	runIdx    int
	postW     postRunner
	sleeping  atomic.Bool // the loop is in, or about to enter, a blocking wait
	wakeSent  atomic.Bool // a Wake was issued for the current sleep
	asyncSent atomic.Bool // some Async has been sent
	sigSent   atomic.Uint64
	nwake     atomic.Uint64 // wake-ups issued, for Stats

	gp     goPoller      // Config.GoPoller state
	holder poller.Holder // the default backend, for short waits; else nil
	hold   bool          // Config.HoldProcessor, with a holder: waits are held
	unheld bool          // the last held wait ended without an event: the next is an ordinary one

	debug     bool
	timeCalls bool
	slow      time.Duration
	logger    *slog.Logger
	owner     atomic.Uint64 // goroutine running the loop, in debug mode
	stats     Stats         // the loop's own figures; Lag aside, published to pub
	pub       loopCounters  // what Stats returns to any goroutine (stats.go)
}

// pendQueue holds the callbacks queued at one priority, in order.
type pendQueue struct {
	items []pendingEntry
	head  int
}

type pendingEntry struct {
	w  Watcher // nil once the watcher was stopped
	ev Events
}

// Break says how far Loop.Break unwinds.
type Break uint8

const (
	// BreakNone cancels an earlier Break that has not taken effect yet.
	BreakNone Break = iota
	// BreakOne makes the innermost Run return after the current iteration.
	BreakOne
	// BreakAll makes every nested Run return.
	BreakAll
)

// NewLoop returns a loop configured by cfg, which it copies; nil (or the
// zero Config) is the best backend for the system, the system clocks and no
// debugging. It fails with ErrUnknownBackend when Config.BackendName names
// no backend built for this system.
func NewLoop(cfg *Config) (*Loop, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	be, err := c.backend()
	if err != nil {
		return nil, err
	}
	clock := c.Clock
	if clock == nil {
		clock = systemClock{origin: time.Now()}
	}
	l := &Loop{
		be:        be,
		clock:     clock,
		pendHigh:  -1,
		debug:     c.Debug || os.Getenv("EDDY_DEBUG") == "1",
		timeCalls: c.TimeCallbacks,
		slow:      c.SlowCallback,
		logger:    c.Logger,
		work:      workLoop{pool: c.Pool},
	}
	l.postW.l = l
	l.forget, _ = be.(poller.Forgetter)
	if h, ok := be.(poller.Holder); ok && c.Backend == nil && !c.GoPoller {
		l.holder = h
		l.hold = c.HoldProcessor || os.Getenv("EDDY_HOLD") == "1"
	}
	n := c.MaxEvents
	if n <= 0 {
		n = 1024
	}
	l.events = make([]poller.Event, n)
	if l.debug {
		l.timeCalls = true
	}
	if l.slow <= 0 {
		l.slow = 100 * time.Millisecond
	}
	if l.logger == nil {
		l.logger = slog.Default()
	}
	l.now = int64(clock.Monotonic())
	l.base = clock.Wall().Add(-time.Duration(l.now))
	l.nowAt = -1
	if c.GoPoller {
		if err := l.gp.open(be); err != nil {
			be.Close()
			return nil, err
		}
	}
	return l, nil
}

// Backend returns the name of the loop's backend: "epoll", "kqueue", "poll",
// or whatever a custom backend calls itself.
func (l *Loop) Backend() string { return l.be.Name() }

// Fd returns the backend's own descriptor, which becomes readable whenever
// the loop has events to process or was woken. A host loop polls it to
// drive this loop with RunNoWait (see Embed and Timeout). It returns
// ErrNotPollable for a backend without one, such as poll(2).
func (l *Loop) Fd() (int, error) {
	if p, ok := l.be.(poller.Pollable); ok {
		return p.Fd(), nil
	}
	return -1, ErrNotPollable
}

// Now returns the loop's cached time: read once per iteration, right after
// the wait, so that every callback of an iteration sees the same time.
// Timers are relative to it. It carries a monotonic reading.
func (l *Loop) Now() time.Time {
	if l.nowAt != l.now {
		l.nowT, l.nowAt = l.base.Add(time.Duration(l.now)), l.now
	}
	return l.nowT
}

// Monotonic returns the loop's cached time (see Now) as a reading of its
// monotonic clock: a duration since an origin fixed for the loop's life.
// It moves with Now and costs less; intervals and deadlines are best
// computed with it.
func (l *Loop) Monotonic() time.Duration { return time.Duration(l.now) }

// Wall reads the wall-clock time of the loop's clock (the system's, or
// Config.Clock's), now, not cached: the time to show people, as in a Date
// header or a log line. It follows changes to the system clock, which Now,
// the loop's start time plus the monotonic time since, does not.
func (l *Loop) Wall() time.Time { return l.clock.Wall() }

// UpdateNow refreshes the cached time, for a callback that ran long enough
// to make it stale before starting a timer.
func (l *Loop) UpdateNow() { l.now = int64(l.clock.Monotonic()) }

// Break makes Run return after the current iteration: the innermost Run
// for BreakOne, every nested Run for BreakAll. BreakNone cancels a Break
// that has not taken effect yet.
func (l *Loop) Break(how Break) { l.brk = how }

// Run runs the loop until Break is called or no active watcher keeps it
// alive (see Unref), and returns nil then. It returns the backend's error if
// the wait fails, and ErrClosed on a closed loop. A callback may call Run
// again (a nested run). A panic in a callback propagates out of Run; the loop
// is left in a state where it can be run again or closed.
func (l *Loop) Run() error { return l.run(runDefault) }

// RunOnce runs one iteration, waiting for events if nothing is pending.
func (l *Loop) RunOnce() error { return l.run(runOnce) }

// RunNoWait runs one iteration without waiting: it processes what is ready
// now. A host loop that embeds this one calls it when Fd is readable or
// Timeout has passed.
func (l *Loop) RunNoWait() error { return l.run(runNoWait) }

type runMode uint8

const (
	runDefault runMode = iota
	runOnce
	runNoWait
)

func (l *Loop) run(mode runMode) error {
	if l.closed {
		return ErrClosed
	}
	if l.debug {
		l.enterGoroutine()
	}
	l.depth++
	defer l.leaveRun()
	l.brk = BreakNone
	for {
		if err := l.iterate(mode != runNoWait); err != nil {
			return err
		}
		if l.brk != BreakNone || mode != runDefault {
			return nil
		}
		if l.refs <= 0 && l.npending == 0 && l.npost.Load() == 0 {
			return nil
		}
	}
}

func (l *Loop) leaveRun() {
	l.depth--
	if l.brk == BreakOne || l.depth == 0 {
		l.brk = BreakNone
	}
	if l.debug && l.depth == 0 {
		l.owner.Store(0)
	}
}

// Alive reports whether Run would keep running: some active watcher keeps
// it alive, or callbacks or posted functions are waiting.
func (l *Loop) Alive() bool {
	return l.refs > 0 || l.npending > 0 || l.npost.Load() > 0
}

// iterate is one loop iteration, one call per phase in the documented order.
func (l *Loop) iterate(mayBlock bool) error {
	if l.prepares.items != nil && len(l.prepares.items) > 0 {
		for _, w := range l.prepares.items {
			l.queue(w, 0)
		}
		l.invokePending()
		if l.closed {
			return ErrClosed
		}
	}
	if l.brk != BreakNone {
		return nil
	}
	l.reify()

	timeout := time.Duration(0)
	if mayBlock && l.refs > 0 { // nothing referenced: poll, never sleep (libev)
		timeout = l.timeout()
	}
	before := int64(l.clock.Monotonic())
	if timeout != 0 {
		l.sleeping.Store(true)
		if l.npost.Load() != 0 || l.asyncSent.Load() || l.sigSent.Load() != 0 {
			timeout = 0
		}
	}
	n, err := l.wait(timeout)
	l.sleeping.Store(false)
	l.wakeSent.Store(false)
	if err != nil {
		return fmt.Errorf("eddy: %s wait: %w", l.be.Name(), err)
	}
	l.now = int64(l.clock.Monotonic())
	l.stats.WaitTime += time.Duration(l.now - before)
	l.stats.Iterations++

	l.queueTimers()
	l.queueIO(n)
	l.queueExternal()
	if l.npending == 0 {
		for _, w := range l.idles.items {
			l.queue(w, 0)
		}
	}
	for _, w := range l.checks.items {
		l.queue(w, 0)
	}
	l.invokePending()
	run := int64(l.clock.Monotonic()) - l.now
	l.stats.RunTime += time.Duration(run)
	if run > int64(l.slow) {
		l.stats.LongIterations++
	}
	l.publish()
	if l.debug && !l.closed {
		l.verify()
	}
	return nil
}

// timeout computes how long the next wait may block: not at all when
// callbacks are pending or idle watchers are active, until the nearest
// timer otherwise, and forever without timers.
func (l *Loop) timeout() time.Duration {
	if l.npending > 0 || len(l.idles.items) > 0 || l.brk != BreakNone {
		return 0
	}
	d := time.Duration(-1)
	if len(l.timers) > 0 {
		d = max(0, time.Duration(l.timers[0].at-int64(l.clock.Monotonic())))
	}
	if l.nperiod > 0 && (d < 0 || d > maxPeriodicSleep) {
		d = maxPeriodicSleep // look at the wall clock now and then
	}
	return d
}

// Timeout returns how long the loop would block in its next wait, and
// false if it would block until an event (no timers). A host loop that
// drives this one with RunNoWait waits at most this long (see Fd).
//
// Timeout also tells the loop that its host is about to sleep, so that Post,
// Wake and Async.Send from other goroutines make Fd readable until the next
// RunNoWait.
func (l *Loop) Timeout() (time.Duration, bool) {
	l.UpdateNow()
	d := l.timeout()
	if d != 0 {
		l.sleeping.Store(true)
	}
	if l.npost.Load() != 0 || l.asyncSent.Load() || l.sigSent.Load() != 0 {
		return 0, true
	}
	return max(d, 0), d >= 0
}

func (l *Loop) wait(timeout time.Duration) (int, error) {
	if l.gp.file != nil && timeout != 0 {
		return l.gp.wait(l.events, timeout)
	}
	if timeout != 0 && l.holder != nil {
		// A look that keeps the processor (see poller.Holder), and never
		// a sleep: a sleeping hold (500µs was tried) measured at 30,000
		// echoes/s 15-19% more CPU per message than this look followed,
		// when nothing is ready, by an ordinary blocking wait; the likely
		// cause is the kernel timer each sleeping raw wait arms.
		n, ready, err := l.holder.HoldWait(l.events, 0)
		if ready {
			return n, err
		}
		if l.hold && !l.unheld {
			// Config.HoldProcessor: the goroutines this iteration woke run
			// first, then the wait keeps the processor, as long as it lasts
			// (timeout < 0: until an event). One that ends without an event
			// (its time ran out, or the runtime preempted a loop idle for
			// about 10ms) makes the next wait an ordinary one, so that an
			// idle loop sleeps in the kernel instead of waking every few
			// milliseconds; an event brings the held waits back.
			runtime.Gosched()
			n, ready, err := l.holder.HoldWait(l.events, timeout)
			l.unheld = !ready
			return n, err
		}
		l.unheld = false
		if runtime.GOMAXPROCS(0) == 1 {
			// The blocking wait keeps the only processor until the
			// runtime's monitor takes it (20µs or more): let the
			// goroutines that are runnable (those this iteration woke,
			// say: handlers given work) run first, or they would wait
			// that long.
			runtime.Gosched()
		}
	}
	return l.be.Wait(l.events, timeout)
}

// queue makes w pending with ev; an already pending watcher gets ev added.
func (l *Loop) queue(w Watcher, ev Events) {
	h := w.hdr()
	p := int(h.priority) - MinPriority
	if h.pending != 0 {
		if h.loop == l {
			l.pend[p].items[h.pending-1].ev |= ev
			return
		}
		h.loop.unqueue(h) // fed to this loop while pending on another
	}
	h.loop = l
	q := &l.pend[p]
	q.items = append(q.items, pendingEntry{w: w, ev: ev})
	h.pending = int32(len(q.items))
	l.npending++
	if p > l.pendHigh {
		l.pendHigh = p
	}
}

// unqueue forgets w's pending callback, if any.
func (l *Loop) unqueue(w *watcher) {
	if w.pending == 0 {
		return
	}
	p := int(w.priority) - MinPriority
	l.pend[p].items[w.pending-1].w = nil
	w.pending = 0
}

// Feed queues w's callback with ev as if its event had happened, whether or
// not w is active (libev's ev_feed_event). The callback runs in the current
// iteration if the loop is invoking callbacks, else in the next one.
func (l *Loop) Feed(w Watcher, ev Events) { l.queue(w, ev) }

// invokePending runs the queued callbacks, highest priority first, in
// queue order within a priority, including those queued meanwhile.
func (l *Loop) invokePending() {
	for p := l.pendHigh; p >= 0; {
		q := &l.pend[p]
		if q.head == len(q.items) {
			q.items, q.head = q.items[:0], 0
			p--
			l.pendHigh = p
			continue
		}
		e := q.items[q.head]
		q.items[q.head] = pendingEntry{}
		q.head++
		l.npending--
		if e.w == nil {
			continue
		}
		e.w.hdr().pending = 0
		l.stats.Callbacks++
		if l.timeCalls {
			l.invokeTimed(e.w, e.ev)
		} else {
			e.w.invoke(e.ev)
		}
		if l.closed {
			return
		}
		if l.pendHigh > p {
			p = l.pendHigh
		}
	}
}

func (l *Loop) invokeTimed(w Watcher, ev Events) {
	start := l.clock.Monotonic()
	w.invoke(ev)
	d := l.clock.Monotonic() - start
	l.stats.CallbackTime += d
	l.stats.LongestCallback = max(l.stats.LongestCallback, d)
	if d > l.slow {
		l.stats.SlowCallbacks++
	}
	if l.debug && d > l.slow {
		l.logger.Warn("eddy: slow callback blocked the loop",
			"watcher", fmt.Sprintf("%T", w), "duration", d)
	}
}

// Post queues f to run on the loop's goroutine, in order with other posted
// functions, and wakes the loop if it is sleeping. It is safe to call from
// any goroutine. A posted function keeps Run from returning until it has
// run; functions posted to a closed loop never run.
func (l *Loop) Post(f func()) {
	l.mu.Lock()
	if l.shut {
		l.mu.Unlock()
		return
	}
	l.posts = append(l.posts, f)
	l.npost.Add(1)
	l.mu.Unlock()
	l.wakeup()
}

// Wake makes a sleeping loop run an iteration. It is safe to call from any
// goroutine, and a no-op on a loop that is not sleeping.
func (l *Loop) Wake() { l.wakeup() }

// wakeup breaks the loop's wait if it is sleeping and no wake-up has been
// issued for this sleep yet: one wake-up write per batch of posts.
//
// The write happens under wakeMu's read lock, not under mu: the woken loop
// goes straight for mu to take the posts, and must not find it held by the
// waker still inside its system call. Close takes wakeMu for writing before
// it closes the backend, so no Wake ever reaches a closed descriptor.
func (l *Loop) wakeup() {
	if l.sleeping.Load() && !l.wakeSent.Swap(true) {
		l.wakeMu.RLock()
		if !l.wakeShut {
			l.nwake.Add(1)
			l.be.Wake()
		}
		l.wakeMu.RUnlock()
	}
}

// queueExternal queues what other goroutines sent: posts, asyncs, signals.
func (l *Loop) queueExternal() {
	if l.npost.Load() != 0 {
		l.mu.Lock()
		l.running = append(l.running, l.posts...)
		clear(l.posts)
		l.posts = l.posts[:0]
		l.npost.Store(0) // under mu: a Post between Unlock and Store would be lost
		l.mu.Unlock()
		l.queue(&l.postW, 0)
	}
	if l.asyncSent.Load() {
		l.asyncSent.Store(false)
		for _, a := range l.asyncs.items {
			if a.sent.Swap(false) {
				l.queue(a, 0)
			}
		}
	}
	if l.sigSent.Load() != 0 {
		l.queueSignals(l.sigSent.Swap(0))
	}
}

// postRunner is the internal watcher that runs the batch of posted functions.
type postRunner struct {
	watcher
	l *Loop
}

func (p *postRunner) Stop() {}

func (p *postRunner) invoke(Events) {
	l := p.l
	defer p.requeue()
	for l.runIdx < len(l.running) {
		f := l.running[l.runIdx]
		l.running[l.runIdx] = nil
		l.runIdx++
		f()
		if l.closed {
			return
		}
	}
	l.running, l.runIdx = l.running[:0], 0
}

// requeue queues the runner again when a posted function panicked, so that
// the functions after it run in the next iteration instead of waiting for
// another Post.
func (p *postRunner) requeue() {
	if l := p.l; l.runIdx < len(l.running) && !l.closed {
		l.queue(p, 0)
	}
}

// Close stops every watcher (their callbacks never run again), releases
// every descriptor the loop owns, and drops functions posted but not yet
// run. It returns ErrRunning from inside Run, and ErrClosed the second time.
func (l *Loop) Close() error {
	if l.closed {
		return ErrClosed
	}
	if l.depth > 0 {
		return ErrRunning
	}
	for fd := range l.fdCap() {
		for w := l.fdst(fd).first; w != nil; w = l.fdst(fd).first {
			w.Stop()
		}
	}
	for len(l.timers) > 0 {
		l.timers[0].n.w.Stop()
	}
	for len(l.idles.items) > 0 {
		l.idles.items[0].Stop()
	}
	for len(l.prepares.items) > 0 {
		l.prepares.items[0].Stop()
	}
	for len(l.checks.items) > 0 {
		l.checks.items[0].Stop()
	}
	for len(l.asyncs.items) > 0 {
		l.asyncs.items[0].Stop()
	}
	// Closed from here on: what the hooks' callbacks try to start (a
	// reconnect in a connection's OnClose, say) is refused.
	l.closed = true
	for _, f := range l.onClose {
		f()
	}
	l.onClose = nil
	for p := range l.pend {
		clear(l.pend[p].items)
		l.pend[p].items, l.pend[p].head = nil, 0
	}
	l.npending, l.pendHigh = 0, -1
	l.mu.Lock()
	l.shut = true
	l.posts = nil
	l.mu.Unlock()
	l.wakeMu.Lock()
	l.wakeShut = true
	l.wakeMu.Unlock()
	l.npost.Store(0)
	l.running = nil
	err := l.gp.close()
	if e := l.be.Close(); err == nil {
		err = e
	}
	return err
}

// OnClose registers f to run when the loop is closed, after its watchers
// have been stopped and before its backend is released, in the order of
// registration. The loop counts as closed while f runs: starting a watcher
// then fails or does nothing, as on any closed loop. Layers built on the
// loop use it to release what they own (evnet closes its sockets). It must
// be called on the loop goroutine; on a closed loop it does nothing.
func (l *Loop) OnClose(f func()) {
	if !l.closed {
		l.onClose = append(l.onClose, f)
	}
}

// IsClosed reports whether Close has been called.
func (l *Loop) IsClosed() bool { return l.closed }
