package eddy

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eddyloop/eddy/internal/testutil"
	"golang.org/x/sys/unix"
)

// init starts os/signal's process-wide delivery goroutine before TestMain
// counts goroutines: it never exits once started, so the first Signal
// watcher (here, the SIGCHLD fallback) would otherwise look like a leak.
// watchLoop returns a debug-mode loop on the default backend, closed when
// the test ends. Child and Stat tests share it.
func watchLoop(t *testing.T) *Loop {
	t.Helper()
	l, err := NewLoop(&Config{Debug: true})
	if err != nil {
		t.Fatalf("NewLoop: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// watchRunUntil runs l one iteration at a time until cond holds, for at
// most d, and reports whether cond held. An unreferenced ticker bounds each
// iteration's wait.
func watchRunUntil(t *testing.T, l *Loop, d time.Duration, cond func() bool) bool {
	t.Helper()
	var tick Timer
	tick.Init(func(*Timer) {}, 5*time.Millisecond, 5*time.Millisecond)
	tick.Unref()
	tick.Start(l)
	defer tick.Stop()
	for deadline := time.Now().Add(d); !cond(); {
		if time.Now().After(deadline) {
			return false
		}
		if err := l.RunOnce(); err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
	}
	return true
}

// watchRunFor runs l for about d, to show that nothing happens meanwhile.
func watchRunFor(t *testing.T, l *Loop, d time.Duration) {
	t.Helper()
	watchRunUntil(t, l, d, func() bool { return false })
}

// childModes runs f once with pidfds (Linux only) and once with the
// SIGCHLD fallback forced through the pidfdOpen seam.
func childModes(t *testing.T, f func(t *testing.T, pidfd bool)) {
	t.Run("pidfd", func(t *testing.T) {
		if runtime.GOOS != "linux" {
			t.Skip("pidfds are Linux only")
		}
		fd, err := openPidfd(os.Getpid())
		if err != nil {
			t.Skipf("no pidfd_open here: %v", err)
		}
		unix.Close(fd)
		f(t, true)
	})
	t.Run("sigchld", func(t *testing.T) {
		saved := pidfdOpen
		pidfdOpen = func(int) (int, error) { return -1, unix.ENOSYS }
		defer func() { pidfdOpen = saved }()
		f(t, false)
	})
}

// startProc starts a command without ever calling Wait on it, and returns
// its pid. When the test ends the process is killed and reaped if no
// watcher reaped it, and Go's handle (maybe a pidfd) is released.
func startProc(t *testing.T, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		var ws unix.WaitStatus
		if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err == nil && got == 0 {
			cmd.Process.Kill() // still ours and running: the pid cannot be someone else's
			unix.Wait4(pid, &ws, 0, nil)
		}
		cmd.Process.Release()
	})
	return pid
}

// awaitZombie waits until pid has exited without reaping it. It needs
// /proc; without it, the test is skipped.
func awaitZombie(t *testing.T, pid int) {
	t.Helper()
	path := fmt.Sprintf("/proc/%d/stat", pid)
	if _, err := os.Stat(path); err != nil {
		t.Skip("no /proc to see zombies without reaping them")
	}
	zombie := func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		return i >= 0 && strings.HasPrefix(s[i:], ") Z")
	}
	if !testutil.Eventually(5*time.Second, zombie) {
		t.Fatalf("process %d did not exit", pid)
	}
}

// checkChildMode checks that c watches the way the mode says.
func checkChildMode(t *testing.T, c *Child, pidfd bool) {
	t.Helper()
	if c.hasFd != pidfd || c.fallback == pidfd {
		t.Fatalf("hasFd=%v fallback=%v, want pidfd=%v", c.hasFd, c.fallback, pidfd)
	}
}

func TestChildExitStatus(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		pid := startProc(t, "/bin/sh", "-c", "exit 3")
		calls := 0
		var c Child
		c.Init(func(c *Child) {
			calls++
			if c.IsActive() {
				t.Error("watcher still active in its callback")
			}
		}, pid)
		if err := c.Start(l); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if !c.IsActive() {
			t.Fatal("not active after Start")
		}
		if !c.reaped {
			checkChildMode(t, &c, pidfd)
		}
		// Run returns by itself: the watcher stops after its callback, and
		// its internal watchers do not keep the loop alive.
		if err := l.Run(); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if calls != 1 {
			t.Fatalf("callback ran %d times, want 1", calls)
		}
		if c.Pid() != pid {
			t.Errorf("Pid() = %d, want %d", c.Pid(), pid)
		}
		if ws := c.Status(); !ws.Exited() || ws.ExitStatus() != 3 {
			t.Errorf("Status() = %#x (exited %v, status %d), want exit 3", ws, ws.Exited(), ws.ExitStatus())
		}
		if c.Err() != nil {
			t.Errorf("Err() = %v", c.Err())
		}
		if c.hasFd || c.fallback || c.IsActive() {
			t.Errorf("after the callback: hasFd=%v fallback=%v active=%v", c.hasFd, c.fallback, c.IsActive())
		}
		if _, err := unix.Wait4(pid, nil, unix.WNOHANG, nil); err != unix.ECHILD {
			t.Errorf("Wait4 after the callback: %v, want ECHILD (already reaped)", err)
		}
		if l.refs != 0 {
			t.Errorf("refs = %d, want 0", l.refs)
		}
	})
}

func TestChildSignaled(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		pid := startProc(t, "sleep", "60")
		done := false
		var c Child
		c.Init(func(c *Child) { done = true }, pid)
		if err := c.Start(l); err != nil {
			t.Fatalf("Start: %v", err)
		}
		checkChildMode(t, &c, pidfd)
		watchRunFor(t, l, 20*time.Millisecond)
		if done {
			t.Fatal("callback ran before the process exited")
		}
		if err := unix.Kill(pid, unix.SIGKILL); err != nil {
			t.Fatalf("kill: %v", err)
		}
		if !watchRunUntil(t, l, 5*time.Second, func() bool { return done }) {
			t.Fatal("no callback after SIGKILL")
		}
		if ws := c.Status(); !ws.Signaled() || ws.Signal() != unix.SIGKILL {
			t.Errorf("Status() = %#x (signaled %v, signal %v), want SIGKILL", ws, ws.Signaled(), ws.Signal())
		}
	})
}

func TestChildExitedBeforeStart(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		pid := startProc(t, "/bin/sh", "-c", "exit 5")
		awaitZombie(t, pid)
		done := false
		var c Child
		c.Init(func(c *Child) { done = true }, pid)
		if err := c.Start(l); err != nil {
			t.Fatalf("Start: %v", err)
		}
		// Reaped by Start's probe: the callback is queued, the kernel
		// resources released already.
		if !c.IsActive() || !c.IsPending() || c.hasFd || c.fallback {
			t.Fatalf("after Start: active=%v pending=%v hasFd=%v fallback=%v",
				c.IsActive(), c.IsPending(), c.hasFd, c.fallback)
		}
		if err := l.RunNoWait(); err != nil {
			t.Fatalf("RunNoWait: %v", err)
		}
		if !done {
			t.Fatal("no callback in the first iteration")
		}
		if ws := c.Status(); !ws.Exited() || ws.ExitStatus() != 5 {
			t.Errorf("Status() = %#x, want exit 5", ws)
		}
	})
}

func TestChildStopBeforeExit(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		pid := startProc(t, "sleep", "60")
		var c Child
		c.Init(func(c *Child) { t.Error("callback of a stopped watcher") }, pid)
		if err := c.Start(l); err != nil {
			t.Fatalf("Start: %v", err)
		}
		c.Stop()
		c.Stop() // idempotent
		if c.IsActive() || c.hasFd || c.fallback {
			t.Fatalf("after Stop: active=%v hasFd=%v fallback=%v", c.IsActive(), c.hasFd, c.fallback)
		}
		if cl := childLoopOf(l); cl.nsig != 0 || cl.sigw.IsActive() || len(cl.all.items) != 0 {
			t.Fatalf("registry after Stop: nsig=%d sigchld active=%v watchers=%d",
				cl.nsig, cl.sigw.IsActive(), len(cl.all.items))
		}
		if l.Alive() {
			t.Fatal("loop still alive with no active watcher")
		}
		unix.Kill(pid, unix.SIGKILL)
		awaitZombie(t, pid)
		watchRunFor(t, l, 50*time.Millisecond)
		// The watcher did not reap it: the test can.
		var ws unix.WaitStatus
		if got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil); err != nil || got != pid {
			t.Fatalf("Wait4 = %d, %v; want the unreaped child", got, err)
		}
	})
}

func TestChildStopWhilePending(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		pid := startProc(t, "/bin/sh", "-c", "exit 0")
		awaitZombie(t, pid)
		var c Child
		c.Init(func(c *Child) { t.Error("callback of a stopped watcher") }, pid)
		if err := c.Start(l); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if !c.IsPending() {
			t.Fatal("not pending after Start on a zombie")
		}
		c.Stop()
		if c.IsPending() {
			t.Fatal("still pending after Stop")
		}
		watchRunFor(t, l, 10*time.Millisecond)
	})
}

func TestChildMany(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		const n = 6
		cs := make([]Child, n)
		got := map[int]int{} // pid -> exit status
		want := map[int]int{}
		for i := range cs {
			// Half exit at once, half after a moment.
			script := fmt.Sprintf("exit %d", 10+i)
			if i%2 == 1 {
				script = fmt.Sprintf("sleep 0.05; exit %d", 10+i)
			}
			pid := startProc(t, "/bin/sh", "-c", script)
			want[pid] = 10 + i
			cs[i].Init(func(c *Child) { got[c.Pid()] = c.Status().ExitStatus() }, pid)
			if err := cs[i].Start(l); err != nil {
				t.Fatalf("Start %d: %v", i, err)
			}
		}
		if !watchRunUntil(t, l, 5*time.Second, func() bool { return len(got) == n }) {
			t.Fatalf("%d of %d callbacks", len(got), n)
		}
		for pid, st := range want {
			if got[pid] != st {
				t.Errorf("pid %d: status %d, want %d", pid, got[pid], st)
			}
		}
		if l.Alive() {
			t.Error("loop alive after every child was reported")
		}
	})
}

func TestChildRestartInCallback(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		first := startProc(t, "/bin/sh", "-c", "exit 1")
		second := startProc(t, "/bin/sh", "-c", "exit 2")
		var statuses []int
		var c Child
		c.Init(func(c *Child) {
			statuses = append(statuses, c.Status().ExitStatus())
			if c.Pid() == first {
				c.Set(second)
				if err := c.Start(c.Loop()); err != nil {
					t.Errorf("restart: %v", err)
				}
			}
		}, first)
		if err := c.Start(l); err != nil {
			t.Fatalf("Start: %v", err)
		}
		if !watchRunUntil(t, l, 5*time.Second, func() bool { return len(statuses) == 2 }) {
			t.Fatalf("statuses %v", statuses)
		}
		if statuses[0] != 1 || statuses[1] != 2 {
			t.Errorf("statuses %v, want [1 2]", statuses)
		}
	})
}

func TestChildErrors(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		var c Child
		c.Init(func(*Child) {}, 0)
		if err := c.Start(l); !errors.Is(err, ErrBadPid) {
			t.Errorf("Start(pid 0) = %v, want ErrBadPid", err)
		}
		c.Set(-5)
		if err := c.Start(l); !errors.Is(err, ErrBadPid) {
			t.Errorf("Start(pid -5) = %v, want ErrBadPid", err)
		}
		// Process 1 exists but is not our child.
		c.Set(1)
		if err := c.Start(l); !errors.Is(err, unix.ECHILD) {
			t.Errorf("Start(pid 1) = %v, want ECHILD", err)
		}
		// Our own pid is no child of ours either.
		c.Set(os.Getpid())
		if err := c.Start(l); !errors.Is(err, unix.ECHILD) {
			t.Errorf("Start(own pid) = %v, want ECHILD", err)
		}
		if c.IsActive() || c.hasFd || c.fallback || l.Alive() {
			t.Errorf("after failed Starts: active=%v hasFd=%v fallback=%v alive=%v",
				c.IsActive(), c.hasFd, c.fallback, l.Alive())
		}
		if cl := childLoopOf(l); cl.nsig != 0 || cl.sigw.IsActive() {
			t.Errorf("SIGCHLD watcher left running: nsig=%d active=%v", cl.nsig, cl.sigw.IsActive())
		}
		// A reaped child is gone too.
		pid := startProc(t, "/bin/sh", "-c", "exit 0")
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
			t.Fatalf("Wait4: %v", err)
		}
		c.Set(pid)
		if err := c.Start(l); err == nil {
			c.Stop()
			t.Errorf("Start on a reaped pid succeeded")
		}
		l.Close()
		c.Set(pid)
		if err := c.Start(l); !errors.Is(err, ErrClosed) {
			t.Errorf("Start on a closed loop = %v, want ErrClosed", err)
		}
	})
}

// TestChildReapedElsewhere: another Wait took the status; the watcher
// reports ECHILD instead of waiting forever.
func TestChildReapedElsewhere(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		pid := startProc(t, "sleep", "60")
		done := false
		var c Child
		c.Init(func(c *Child) { done = true }, pid)
		if err := c.Start(l); err != nil {
			t.Fatalf("Start: %v", err)
		}
		unix.Kill(pid, unix.SIGKILL)
		var ws unix.WaitStatus
		if _, err := unix.Wait4(pid, &ws, 0, nil); err != nil {
			t.Fatalf("Wait4: %v", err)
		}
		if !watchRunUntil(t, l, 5*time.Second, func() bool { return done }) {
			t.Fatal("no callback")
		}
		if !errors.Is(c.Err(), unix.ECHILD) || c.Status() != 0 {
			t.Errorf("Err() = %v, Status() = %#x; want ECHILD and 0", c.Err(), c.Status())
		}
	})
}

// TestChildCloseReleases: Loop.Close stops active Child watchers and closes
// their pidfds and the SIGCHLD watcher.
func TestChildCloseReleases(t *testing.T) {
	childModes(t, func(t *testing.T, pidfd bool) {
		l := watchLoop(t)
		pid := startProc(t, "sleep", "60")
		var c Child
		c.Init(func(c *Child) { t.Error("callback after Close") }, pid)
		if err := c.Start(l); err != nil {
			t.Fatalf("Start: %v", err)
		}
		fd := c.pio.fd
		cl := childLoopOf(l)
		if err := l.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if c.IsActive() || c.hasFd || c.fallback || cl.sigw.IsActive() {
			t.Fatalf("after Close: active=%v hasFd=%v fallback=%v sigchld=%v",
				c.IsActive(), c.hasFd, c.fallback, cl.sigw.IsActive())
		}
		if l.children != nil {
			t.Error("registry of a closed loop kept")
		}
		if pidfd {
			// The number is closed, or already reused by something else.
			if target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd)); err == nil && strings.Contains(target, "pidfd") {
				t.Errorf("fd %d still open: %s", fd, target)
			}
		}
	})
}

// TestChildFedStop: a stopped watcher fed with Loop.Feed and stopped again
// does not run.
func TestChildFedStop(t *testing.T) {
	l := watchLoop(t)
	var c Child
	c.Init(func(*Child) { t.Error("callback of a stopped watcher") }, 1)
	l.Feed(&c, 0)
	c.Stop()
	if c.IsPending() {
		t.Fatal("still pending after Stop")
	}
	watchRunFor(t, l, 10*time.Millisecond)
}
