// Package eddy is an event loop in the manner of libev and libuv: one
// goroutine runs a Loop, which sleeps in the kernel's readiness wait (epoll
// on Linux, kqueue on the BSDs and macOS, poll(2) anywhere) and, for each
// event, calls back user code in turn, then sleeps again. It uses no locks
// on its hot paths, only nonblocking descriptors, and no CPU while idle.
//
// # Watchers
//
// A watcher is a struct that asks the loop to call a function when
// something happens. Each kind answers one question:
//
//   - IO: is this file descriptor readable or writable?
//   - Timer: has this much time passed (once, or every so often)?
//   - Periodic: has the wall clock reached this point (every hour on the hour)?
//   - Signal: did the process receive this signal?
//   - Child: did this child process exit?
//   - Stat: did this file change?
//   - Idle: is there nothing else to do?
//   - Prepare and Check: is the loop about to sleep, did it just wake up?
//   - Async: did another goroutine ask the loop to wake up?
//   - Embed: does a loop nested in this one have work?
//
// Every kind works from its zero value and is meant to be embedded in the
// user's own structs; the loop never allocates one. Each has the same verbs:
// Init sets the callback and parameters, Set changes them while stopped,
// Start(l) and Stop start and stop it (both idempotent), IsActive and
// IsPending report its state. A callback reaches its surrounding struct
// through a method value:
//
//	type conn struct {
//		io  eddy.IO
//		buf []byte
//	}
//
//	c.io.Init(c.onReadable, fd, eddy.Read) // c.onReadable is func(*eddy.IO, eddy.Events)
//
// # Watcher states
//
// A watcher is stopped after Init. Start makes it active: the loop watches
// for its event. When the event happens, the watcher becomes pending: its
// callback is queued to run in this iteration. When the callback runs the
// watcher is no longer pending; it is still active, except for watchers that
// by nature fire once (a Timer without repeat, a one-time Periodic, a Child
// whose process exited, an IO watcher with OneShot), which the loop stops
// just before the callback. Stop makes a watcher inactive at once, and a
// watcher stopped while pending never has its callback run. Watchers stay
// active until stopped (libev's semantics, unlike Go's channels and timers),
// and a callback may stop or restart its own watcher or any other.
//
// # An iteration
//
// Run repeats iterations until Break is called or no active watcher keeps
// the loop alive (see Unref); RunOnce runs one, RunNoWait one without
// waiting. An iteration, in order:
//
//  1. Prepare watchers are called.
//  2. The interest changes batched since the last wait (IO Start, Stop,
//     Modify) are applied: one backend call per changed descriptor.
//  3. The wait: not at all if callbacks are pending or an Idle watcher is
//     active; until the nearest Timer otherwise; forever without timers.
//  4. The cached time (Now) is refreshed.
//  5. Expired Timers and Periodics are queued, then ready IO watchers, then
//     posted functions, Async and Signal watchers.
//  6. Idle watchers are queued, only if nothing else is pending.
//  7. Check watchers are queued.
//  8. The pending callbacks run: higher priority first (see SetPriority),
//     in queue order within a priority, including callbacks queued meanwhile.
//
// # Goroutines
//
// A loop belongs to the goroutine running it. Its methods and its watchers'
// methods must be called only from that goroutine (from callbacks, or before
// Run starts), with three exceptions that any goroutine may call: Loop.Post,
// which queues a function to run on the loop, Loop.Wake, and Async.Send.
// Each wakes a sleeping loop with one write to its wake-up descriptor (an
// eventfd on Linux, a pipe or EVFILT_USER elsewhere) per batch, however many
// calls the batch holds. Blocking work belongs on other goroutines, which
// hand their results back with Post. Several cores are used by running
// several loops, one goroutine each, sharing nothing. Loop.Stats, which only
// reads the figures the loop publishes, may be called from any goroutine
// too (package evmetrics exposes them).
//
// # Blocking work
//
// Callbacks must never block. Work that does (file I/O, a system DNS
// lookup, a slow computation) goes to Loop.Queue: it runs on a worker
// goroutine of a Pool, and its done callback then runs on the loop. A pool
// has two lanes, LaneFast for short work and file I/O and LaneSlow for work
// that may block for seconds, each with its own workers and bounded queue,
// so that slow work cannot starve fast work. Queued work keeps Run alive
// and can be canceled until it starts. ReadFile, WriteFile and StatFile are
// built on it. Loops share a default pool, sized by EDDY_POOL_SIZE (4
// workers per lane by default), unless Config.Pool gives them their own.
//
// Debug mode (Config.Debug, or EDDY_DEBUG=1 in the environment) checks the
// goroutine rule and panics when it is broken, verifies the loop's data
// structures after every iteration (the timer heap's order, the fd table
// against the watchers, the change queue and, with the poll backend, the
// backend's registrations and their generations; the pending queues and the
// watcher lists) and panics at the first broken invariant, and logs
// callbacks that block the loop for longer than Config.SlowCallback.
//
// # Foreign loops
//
// A loop can run inside another event loop: Fd returns a descriptor that is
// readable whenever the loop has work, Timeout how long the host may sleep,
// and the host calls RunNoWait when either says so. Embed does this for a
// host that is itself an eddy loop. With Config.GoPoller, Run parks its
// goroutine in Go's own network poller instead of holding an OS thread in
// the backend's wait; the price is one more readiness check per sleeping
// iteration (docs/BENCHMARKS.md has the measured figures).
//
// The loop waits in the system's best readiness backend unless told
// otherwise: Config.BackendName picks one of the built-in backends by name
// (Backends lists them: epoll on Linux, kqueue on the BSDs and macOS, poll(2)
// on every unix), and Config.Backend takes a custom one; package eddytest
// has a fake one with a fake clock, for deterministic tests of code built
// on eddy.
//
// # Configuration
//
// Every package of the module configures things the same way. Settings
// live in a struct named Config, or XConfig where a package has several
// (PoolConfig here; evnet's ConnConfig, ListenConfig, GroupConfig). A
// constructor takes a pointer to it: nil, like the zero value, means every
// default, and each zero field means that field's default; the constructor
// copies the struct, so the caller may change or reuse it afterwards.
// Settings that belong to a layer below are held by value in a field named
// after that layer (evnet.GroupConfig.Loop is an eddy.Config;
// evnet.ListenConfig.Conn an evnet.ConnConfig). The only settings with
// methods are evnet's ListenConfig and Dialer and evdns's Dialer, used as
// values, as net.ListenConfig and net.Dialer are. evdns.Config is
// resolv.conf's content rather than settings of one constructor; it is
// passed by pointer like the others.
//
// # The special problems
//
// Closed and reused descriptors: stop IO watchers before closing their
// descriptor, the last of them with IO.StopForClose, which settles the
// registration while the number still names the descriptor (with no system
// call where the close removes it), instead of in the next iteration, after
// the close. eddy tags each registration with a generation, so a descriptor
// number reused by a new file never receives the old registration's events,
// but a dup'ed descriptor keeps epoll's registration alive after the watched
// copy is closed, unless StopForClose was told it is shared.
//
// Fork: a loop does not survive fork; Go programs rarely fork without exec.
//
// SIGPIPE: Go ignores SIGPIPE for descriptors other than standard output and
// error, so a write to a closed socket returns EPIPE.
//
// Time: timers count from the cached time of the iteration. A callback that
// runs for long makes the cached time stale; UpdateNow refreshes it.
//
// Waits: with the epoll backend (Linux's default), the loop first looks for
// events with a raw epoll_pwait2 that does not sleep and that the Go
// scheduler does not see, and only when nothing is ready blocks in an
// ordinary system call. A busy loop thus finds its next events without
// the scheduler's system call bookkeeping. With GOMAXPROCS=1 the loop
// yields (runtime.Gosched) before it blocks, so that the goroutines it
// has woken run first. With Config.HoldProcessor every wait is such a raw
// epoll_pwait2, which keeps the loop's processor while it sleeps: less CPU
// per wake-up at moderate rates, at the price that other goroutines may
// wait for a processor until the runtime preempts the loop (see
// Config.HoldProcessor). Config.GoPoller, the poll backend and custom
// backends do not do this.
package eddy
