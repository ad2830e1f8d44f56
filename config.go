package eddy

import (
	"log/slog"
	"time"
)

// Config holds the settings of a new Loop. The zero value (or a nil *Config)
// is the documented default for every field.
type Config struct {
	// Backend is a custom readiness backend (see Backend), owned by the
	// loop, which closes it. A Backend serves one loop: a Config that is
	// copied for several loops (evnet.GroupConfig.Loop) names a built-in one
	// with BackendName instead. Nil means the one BackendName names.
	Backend Backend

	// BackendName picks one of the backends eddy ships, by name: one of
	// Backends(), that is "epoll" on Linux, "kqueue" on the BSDs and macOS,
	// and "poll" (poll(2)) on every unix. Empty or "auto" means the
	// system's default: epoll on Linux, kqueue on the BSDs and macOS,
	// poll(2) elsewhere, or poll(2) everywhere when built with -tags evpoll.
	// NewLoop fails with ErrUnknownBackend, naming the valid choices, for
	// any other name; it also fails when both Backend and BackendName are
	// set.
	BackendName string

	// Clock is the source of time. Nil means the system clocks.
	Clock Clock

	// GoPoller makes Run park its goroutine in Go's own network poller
	// instead of blocking an OS thread in the backend's wait: the backend's
	// descriptor is registered with the runtime, and the loop waits for it to
	// become readable. No OS thread is held while the loop sleeps, at the cost
	// of one more readiness check per sleeping iteration: measured here,
	// about 27% fewer events per second on a busy loop and 1.6µs more
	// wake-up latency (docs/BENCHMARKS.md). It needs a backend with a
	// descriptor (epoll or kqueue); NewLoop returns ErrNotPollable otherwise.
	GoPoller bool

	// HoldProcessor makes the loop wait for events without handing its Go
	// processor (the runtime's P) back: the backend's wait becomes a system
	// call the scheduler does not see, as a C loop's epoll_wait is. It
	// applies to the epoll backend (other backends, and GoPoller, wait as
	// usual).
	//
	// Why: a goroutine blocked in an ordinary system call has its processor
	// taken by the runtime's monitor after 20µs when no other is idle, and
	// must win one back when the wait ends; a loop woken thousands of times
	// a second pays a thread switch or two and the monitor's polling every
	// 20µs for each wake-up. Measured with the shared harness
	// (docs/BENCHMARKS.md, session 14), one loop on one core, against the
	// same build with it off, in one run: 48% less CPU per HTTPS request at
	// 5,000/s, 38% less per TLS handshake at 500/s, 25% less per proxied
	// request at 5,000/s; at 30,000 requests/s, where waits are short, the
	// same within the noise.
	//
	// The price: while the loop waits, no other goroutine runs on its
	// processor. The loop yields it before each wait (runtime.Gosched), so
	// goroutines it woke (TLS handshakes, adapter handlers, work) run
	// first; but one made runnable from outside while the loop sleeps (a
	// timer, a signal's delivery, the garbage collector's workers) waits
	// until another processor is free or the runtime preempts the loop,
	// about 10ms later, when every processor is a loop's. Measured: TLS
	// handshakes at 500/s had a p99 latency of 3.1-4.2ms against 1.2-2.8ms
	// without (docs/BENCHMARKS.md, sessions 14 and 15; a larger GOGC
	// changed it little, so the collector is not the main cause). Use it
	// where the loops are the process's work (the eddy command does, for
	// its servers), not in a program whose other goroutines need their
	// processor at once. Setting the environment variable EDDY_HOLD=1
	// turns it on for every loop (the test script runs the suite so too).
	HoldProcessor bool

	// MaxEvents is the most readiness events taken from the backend in one
	// wait. Zero means 1024.
	MaxEvents int

	// Debug turns on the loop's self-checks: its invariants are verified
	// after every iteration, calls into its API from a goroutine other than
	// the one running it panic, and callbacks that take longer than
	// SlowCallback are logged. Setting the environment variable EDDY_DEBUG=1
	// turns it on for every loop.
	Debug bool

	// SlowCallback is the callback duration above which debug mode logs a
	// warning, and Stats counts a SlowCallback (when callbacks are timed)
	// or a LongIteration. Zero means 100ms.
	SlowCallback time.Duration

	// TimeCallbacks measures the duration of every callback for
	// Stats.LongestCallback and Stats.CallbackTime, at the cost of a clock
	// read per callback. Debug mode implies it.
	TimeCallbacks bool

	// Logger receives debug-mode reports. Nil means slog.Default().
	Logger *slog.Logger

	// Pool is the work pool that runs the loop's Queue work and file
	// helpers (ReadFile, WriteFile, StatFile). Nil means the process-wide
	// default pool, sized by EDDY_POOL_SIZE (see Pool). Closing the loop
	// does not close its pool, which may serve several loops.
	Pool *Pool
}
