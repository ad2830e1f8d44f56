// Package testutil holds helpers shared by eddy's tests: leak checks and
// descriptor helpers. Only _test.go files import it.
package testutil

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// OpenFds returns the process's open descriptors, from /proc/self/fd (or
// /dev/fd), without the one used to list them.
func OpenFds() []string {
	dir := "/proc/self/fd"
	if _, err := os.Stat(dir); err != nil {
		dir = "/dev/fd"
	}
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	defer f.Close()
	names, _ := f.Readdirnames(-1)
	self := fmt.Sprint(f.Fd())
	var out []string
	for _, n := range names {
		if n == self {
			continue
		}
		target, _ := os.Readlink(dir + "/" + n)
		out = append(out, n+" -> "+target)
	}
	slices.Sort(out)
	return out
}

// Main runs the tests of a package and then fails the run if descriptors
// or goroutines are left over that were not there before: call it from
// TestMain as os.Exit(testutil.Main(m)).
func Main(m *testing.M) int {
	fds := OpenFds()
	goroutines := numGoroutines()
	code := m.Run()
	if code != 0 {
		return code
	}
	// Goroutines and descriptors may take a moment to wind down.
	var extraFds []string
	var extraG int
	for deadline := time.Now().Add(5 * time.Second); ; {
		runtime.GC()
		extraFds = diff(OpenFds(), fds)
		extraG = numGoroutines() - goroutines
		if len(extraFds) == 0 && extraG <= 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(extraFds) > 0 {
		fmt.Fprintf(os.Stderr, "leak check: %d descriptors left open:\n  %s\n", len(extraFds), strings.Join(extraFds, "\n  "))
		code = 1
	}
	if extraG > 0 {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		fmt.Fprintf(os.Stderr, "leak check: %d goroutines left running:\n%s\n", extraG, buf)
		code = 1
	}
	return code
}

// numGoroutines counts the goroutines, less the one os/signal starts on
// the first signal.Notify and never stops: it belongs to the process.
func numGoroutines() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && !strings.Contains(g, "os/signal.loop") {
			count++
		}
	}
	return count
}

func diff(now, before []string) []string {
	var out []string
	for _, s := range now {
		if _, found := slices.BinarySearch(before, s); !found {
			out = append(out, s)
		}
	}
	return out
}

// Pipe returns a nonblocking, close-on-exec pipe. Both ends are closed
// when the test ends unless the test closed them first (see CloseOnCleanup).
func Pipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe(p[:]); err != nil {
		t.Fatalf("pipe: %v", err)
	}
	setup(t, p[0], p[1])
	return p[0], p[1]
}

// Socketpair returns a nonblocking, close-on-exec Unix stream socket pair,
// closed when the test ends unless the test closed it first.
func Socketpair(t testing.TB) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	setup(t, fds[0], fds[1])
	return fds[0], fds[1]
}

func setup(t testing.TB, fds ...int) {
	t.Helper()
	for _, fd := range fds {
		unix.CloseOnExec(fd)
		if err := unix.SetNonblock(fd, true); err != nil {
			t.Fatalf("set nonblock: %v", err)
		}
		CloseOnCleanup(t, fd)
	}
}

// ListenLoopback returns a blocking, close-on-exec TCP socket listening on
// 127.0.0.1 with the given backlog, and its address; it is closed when the
// test ends unless the test closed it first. For tests that drive the
// accept queue themselves (fill it, accept by hand).
func ListenLoopback(t testing.TB, backlog int) (fd int, sa *unix.SockaddrInet4) {
	t.Helper()
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socket: %v", err)
	}
	unix.CloseOnExec(fd)
	CloseOnCleanup(t, fd)
	if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatalf("bind: %v", err)
	}
	if err := unix.Listen(fd, backlog); err != nil {
		t.Fatalf("listen: %v", err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname: %v", err)
	}
	return fd, got.(*unix.SockaddrInet4)
}

// CloseOnCleanup closes fd when the test ends, if it still refers to the
// same open file then: a test may close it early, and the number may have
// been reused by another descriptor meanwhile, which must not be closed.
func CloseOnCleanup(t testing.TB, fd int) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatalf("fstat %d: %v", fd, err)
	}
	t.Cleanup(func() {
		var now unix.Stat_t
		if unix.Fstat(fd, &now) == nil && now.Dev == st.Dev && now.Ino == st.Ino {
			unix.Close(fd)
		}
	})
}

// Eventually polls cond every millisecond until it holds or d has passed,
// and reports whether it held: the way to wait for something another
// goroutine does, instead of sleeping.
func Eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
