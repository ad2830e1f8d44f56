package eddy

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Child calls back when a child process exits: "has this child process
// exited?". It reaps the child (wait4 with WNOHANG, for its pid only),
// stores its wait status, stops itself, and then runs the callback, in which
// Status tells how the process ended. A process exits once, so the watcher
// runs at most once per Start.
//
// On Linux the watcher opens a pidfd for the process (pidfd_open, Linux 5.3)
// and waits for it to become readable, which it does when the process exits.
// Where pidfds are missing (older kernels, seccomp filters, other systems)
// all the Child watchers of a loop share one internal Signal watcher on
// SIGCHLD, and each SIGCHLD makes the loop try wait4 on every pid it
// watches. Either way, Start also tries to reap the child at once, so one
// that exited before the watcher started is reported too, in the first
// iteration after Start. The watcher stays active until its callback runs.
// A Child keeps the loop alive while it is active; its internal watchers do
// not. The watcher runs on the loop like every other: eddy starts no
// goroutine for it beyond os/signal's SIGCHLD forwarding in the fallback.
//
// The special problem of os/exec: exec.Cmd.Wait and os.Process.Wait reap the
// process too, and a process can be reaped only once. Each process must be
// reaped by exactly one of them. Choose one of two ways:
//
//   - Start the process with exec.Cmd.Start or os.StartProcess and watch it
//     with a Child, and never call Wait. Go's os.Process may hold a pidfd of
//     its own for the process; call Process.Release once the Child is
//     started (or after its callback) to close it. cmd.ProcessState stays
//     nil; the Child's Status says how the process ended.
//
//   - Keep using os/exec: call cmd.Wait in a goroutine and hand its result
//     to the loop with Loop.Post, without any Child watcher.
//
// The second way looks like this:
//
//	if err := cmd.Start(); err != nil {
//		return err
//	}
//	go func() {
//		err := cmd.Wait() // blocks this goroutine, not the loop
//		l.Post(func() { onExit(cmd.ProcessState, err) })
//	}()
//
// If another Wait reaps a watched process first, the watcher stops and runs
// its callback with Err set (ECHILD) and a zero Status. Watching the same pid
// with two Child watchers is a race of the same kind: one of them gets the
// status, the other ECHILD. A pid is only unique while its process is
// unreaped: watch a process only while it is certainly not reaped yet.
type Child struct {
	watcher
	cb     func(c *Child)
	pid    int
	status unix.WaitStatus
	err    error
	cl     *childLoop // the loop's Child registry, set while active

	reaped   bool // status or err is set; the callback is pending
	hasFd    bool // pio watches an open pidfd
	fallback bool // counted in cl.nsig: watched through SIGCHLD
	pio      IO   // internal watcher on the pidfd, unreferenced
	idx      int32
}

// pidfdOpen opens a pidfd for pid; tests replace it to force the SIGCHLD
// fallback.
var pidfdOpen = openPidfd

// childLoop is a loop's Child registry: every active Child, and the
// internal SIGCHLD watcher shared by those without a pidfd.
type childLoop struct {
	all  list[*Child]
	nsig int    // active Childs that rely on SIGCHLD
	sigw Signal // started while nsig > 0, unreferenced
}

// childLoopOf returns l's Child registry, creating it and registering its
// clean-up with Close the first time.
func childLoopOf(l *Loop) *childLoop {
	if l.children == nil {
		cl := new(childLoop)
		cl.sigw.Init(cl.onSigchld, unix.SIGCHLD)
		cl.sigw.Unref()
		l.children = cl
		l.onClose = append(l.onClose, l.closeChildren)
	}
	return l.children
}

// closeChildren stops the Child watchers of l, which is being closed, and
// forgets its registry.
func (l *Loop) closeChildren() {
	cl := l.children
	l.children = nil
	for len(cl.all.items) > 0 {
		cl.all.items[0].Stop()
	}
}

// NewChild returns a Child initialised with Init.
func NewChild(cb func(c *Child), pid int) *Child {
	c := new(Child)
	c.Init(cb, pid)
	return c
}

// Init sets the callback and the process id to watch. It must not be called
// while the watcher is active.
func (c *Child) Init(cb func(c *Child), pid int) {
	c.cb = cb
	c.Set(pid)
}

// Set changes the process id of a stopped watcher; it has no effect on an
// active one.
func (c *Child) Set(pid int) {
	if !c.active {
		c.pid = pid
	}
}

// Pid returns the watched process id.
func (c *Child) Pid() int { return c.pid }

// Status returns the wait status of the exited process. It is valid in the
// callback and after it, until the watcher is started again; it is zero
// when Err is set.
func (c *Child) Status() unix.WaitStatus { return c.status }

// Err returns the error that ended the watch without a status, or nil: an
// error wrapping unix.ECHILD when some other Wait reaped the process first.
// Like Status, it is valid in the callback.
func (c *Child) Err() error { return c.err }

// Start starts watching the process. Starting an active watcher does
// nothing. It returns ErrBadPid for a pid that is not positive, ErrClosed
// on a closed loop, and an error wrapping unix.ESRCH or unix.ECHILD when
// there is no such process or it is not a child of this process (or has
// already been reaped). On error the watcher stays stopped.
func (c *Child) Start(l *Loop) error {
	if c.active {
		return nil
	}
	if l.closed {
		return ErrClosed
	}
	if c.pid <= 0 {
		return fmt.Errorf("%w: %d", ErrBadPid, c.pid)
	}
	cl := childLoopOf(l)
	c.cl = cl
	c.status, c.err, c.reaped = 0, nil, false

	fd, err := pidfdOpen(c.pid)
	switch {
	case err == nil:
		c.pio.Init(c.onPidfd, fd, Read)
		c.pio.Unref()
		if err := c.pio.Start(l); err == nil {
			c.hasFd = true
		} else {
			unix.Close(fd)
			if err := c.useSigchld(l); err != nil {
				c.cl = nil
				return err
			}
		}
	case errors.Is(err, unix.ESRCH):
		c.cl = nil
		return fmt.Errorf("eddy: child %d: %w", c.pid, err)
	default: // no pidfds here (ENOSYS, EPERM, ...): fall back to SIGCHLD
		if err := c.useSigchld(l); err != nil {
			c.cl = nil
			return err
		}
	}

	// Probe once: the process may have exited already, and it must be ours.
	done, err := c.probe()
	if err != nil {
		c.detach()
		c.cl = nil
		return fmt.Errorf("eddy: child %d: %w", c.pid, err)
	}
	c.activate(l)
	cl.all.add(c)
	if done {
		c.finish(nil)
	}
	return nil
}

// Stop stops watching. A pending callback is forgotten, even one queued by
// Loop.Feed on an inactive watcher; otherwise stopping an inactive watcher
// does nothing. If the watcher had already reaped the process (its callback
// was pending), the status is lost with it.
func (c *Child) Stop() {
	if !c.active {
		c.clearPending() // fed with Loop.Feed while stopped
		return
	}
	c.detach()
	c.cl.all.remove(c)
	c.cl = nil
	c.deactivate()
}

// useSigchld makes c rely on l's shared SIGCHLD watcher, starting it for
// the first such Child. The Signal watcher starts before any probe, so that
// no SIGCHLD sent after the probe can be missed.
func (c *Child) useSigchld(l *Loop) error {
	cl := c.cl
	if cl.nsig == 0 {
		if err := cl.sigw.Start(l); err != nil {
			return fmt.Errorf("eddy: child %d: watch SIGCHLD: %w", c.pid, err)
		}
	}
	cl.nsig++
	c.fallback = true
	return nil
}

// detach releases what c holds in the kernel and in its loop's registry:
// its pidfd and watcher, or its share of the SIGCHLD watcher.
func (c *Child) detach() {
	if c.hasFd {
		c.pio.StopForClose(false) // our own close-on-exec pidfd: the close removes its registration
		unix.Close(c.pio.fd)
		c.hasFd = false
	}
	if c.fallback {
		c.fallback = false
		cl := c.cl
		cl.nsig--
		if cl.nsig == 0 {
			cl.sigw.Stop()
		}
	}
}

// probe tries to reap the process without blocking, and reports whether it
// did (the status is then in c.status).
func (c *Child) probe() (bool, error) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(c.pid, &ws, unix.WNOHANG, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, err
		}
		if pid != c.pid {
			return false, nil // still running
		}
		c.status = ws
		return true, nil
	}
}

// finish ends the watch of a reaped process (err == nil) or of one that
// cannot be waited for: it releases the kernel resources and queues the
// callback. The watcher stays active until the callback runs, which stops it.
func (c *Child) finish(err error) {
	c.detach()
	c.reaped = true
	if err != nil {
		c.status = 0
		c.err = fmt.Errorf("eddy: child %d: %w", c.pid, err)
	}
	c.loop.queue(c, 0)
}

// onPidfd runs when the pidfd is readable: the process has exited.
func (c *Child) onPidfd(_ *IO, _ Events) {
	if !c.active || c.reaped {
		return
	}
	done, err := c.probe()
	switch {
	case err != nil:
		c.finish(err)
	case done:
		c.finish(nil)
	default:
		// Readable, yet nothing to reap: do not spin on a level-triggered
		// descriptor; wait for SIGCHLD instead, and probe once more in case
		// it came already.
		l := c.loop
		c.detach()
		if err := c.useSigchld(l); err != nil {
			c.finish(err)
			return
		}
		if done, err := c.probe(); err != nil {
			c.finish(err)
		} else if done {
			c.finish(nil)
		}
	}
}

// onSigchld runs on SIGCHLD and probes every Child that relies on it.
func (cl *childLoop) onSigchld(_ *Signal) {
	// Backwards: finish never removes from the list, but keep it simple to
	// reason about.
	for i := len(cl.all.items) - 1; i >= 0; i-- {
		c := cl.all.items[i]
		if !c.fallback || c.reaped {
			continue
		}
		done, err := c.probe()
		switch {
		case err != nil:
			c.finish(err)
		case done:
			c.finish(nil)
		}
	}
}

func (c *Child) slot() *int32 { return &c.idx }

// invoke stops a watcher whose process was reaped, then runs the callback.
func (c *Child) invoke(Events) {
	if c.reaped {
		c.Stop()
	}
	c.cb(c)
}
