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
	goroutines := runtime.NumGoroutine()
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
		extraG = runtime.NumGoroutine() - goroutines
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

func diff(now, before []string) []string {
	var out []string
	for _, s := range now {
		if _, found := slices.BinarySearch(before, s); !found {
			out = append(out, s)
		}
	}
	return out
}

// Pipe returns a nonblocking, close-on-exec pipe whose ends are closed when
// the test ends.
func Pipe(t testing.TB) (r, w int) {
	t.Helper()
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC); err != nil {
		t.Fatalf("pipe2: %v", err)
	}
	t.Cleanup(func() { unix.Close(p[0]); unix.Close(p[1]) })
	return p[0], p[1]
}

// Socketpair returns a nonblocking, close-on-exec Unix stream socket pair
// whose ends are closed when the test ends.
func Socketpair(t testing.TB) (a, b int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	t.Cleanup(func() { unix.Close(fds[0]); unix.Close(fds[1]) })
	return fds[0], fds[1]
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
